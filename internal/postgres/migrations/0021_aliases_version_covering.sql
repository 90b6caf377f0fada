-- Same file in internal/sqlite/migrations.
--
-- aliases_version gains the alias name, so that the two reads of a page's
-- aliases are answered from the index alone, without a lookup of each
-- alias's row: a version's aliases (WHERE model_id = ? AND version = ?,
-- one per version listed, and per latest version in an MLflow search page)
-- and a model's aliases with their versions (WHERE model_id = ?, one per
-- model listed). It still serves the foreign key from aliases to
-- versions.
DROP INDEX aliases_version;
CREATE INDEX aliases_version ON aliases (model_id, version, name);
