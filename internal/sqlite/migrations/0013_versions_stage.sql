-- The newest ready version per legacy stage of a model (MLflow's
-- latest_versions, four per registered model in a search page) is one
-- descent of this index per stage instead of a scan of the model's versions.
CREATE INDEX versions_stage ON versions (model_id, stage, status, number) WHERE deleted_at IS NULL;
