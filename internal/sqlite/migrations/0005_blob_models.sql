-- Which models refer to which blobs (internal/registry/auth.go), SQLite
-- dialect. internal/postgres/migrations has the same table under the same
-- file name.

-- blob_models pairs each digest a version refers to (its manifest digest
-- and its files' digests) with the version's model, so that a principal
-- may be allowed to read a blob because a model it may read refers to it:
-- one primary-key lookup per download, not a scan of manifests. Versions
-- are never removed and their files are fixed, so the pairs only grow; the
-- trigger fills them in the transaction that inserts the version, whoever
-- inserts it (the registry, a migration). A model keeps its row id across
-- renames, so the pairs follow.
CREATE TABLE blob_models (
    digest   TEXT    NOT NULL,
    model_id INTEGER NOT NULL REFERENCES models(id),
    PRIMARY KEY (digest, model_id)
) WITHOUT ROWID;

INSERT OR IGNORE INTO blob_models (digest, model_id) SELECT digest, model_id FROM versions;
INSERT OR IGNORE INTO blob_models (digest, model_id)
    SELECT json_extract(f.value, '$.digest'), v.model_id FROM versions v, json_each(v.files) f
    WHERE json_extract(f.value, '$.digest') IS NOT NULL;

CREATE TRIGGER versions_blob_models AFTER INSERT ON versions
BEGIN
    INSERT OR IGNORE INTO blob_models (digest, model_id) VALUES (NEW.digest, NEW.model_id);
    INSERT OR IGNORE INTO blob_models (digest, model_id)
        SELECT json_extract(value, '$.digest'), NEW.model_id FROM json_each(NEW.files)
        WHERE json_extract(value, '$.digest') IS NOT NULL;
END;
