-- Dataset versions are found again by their digest tag
-- (cairn.DatasetDigestTag), one version per (dataset name, digest), within
-- one model that may hold very many of them: MLflow's default dataset name
-- is "dataset". This index answers Reader.VersionsWithDatasetDigest
-- without reading the model's other versions; only versions carrying the
-- tag are in it.
CREATE INDEX versions_dataset_digest ON versions (model_id, (tags ->> 'mlflow.dataset.digest'))
	WHERE (tags ->> 'mlflow.dataset.digest') IS NOT NULL;
