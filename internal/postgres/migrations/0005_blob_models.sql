-- Which models refer to which blobs (internal/registry/auth.go),
-- PostgreSQL dialect. internal/sqlite/migrations has the same table under
-- the same file name.

-- blob_models pairs each digest a version refers to (its manifest digest
-- and its files' digests) with the version's model, so that a principal
-- may be allowed to read a blob because a model it may read refers to it:
-- one primary-key lookup per download, not a scan of manifests. Versions
-- are never removed and their files are fixed, so the pairs only grow; the
-- trigger fills them in the transaction that inserts the version, whoever
-- inserts it (the registry, a migration). A model keeps its row id across
-- renames, so the pairs follow.
CREATE TABLE blob_models (
    digest   TEXT   COLLATE "C" NOT NULL,
    model_id BIGINT NOT NULL REFERENCES models(id),
    PRIMARY KEY (digest, model_id)
);

INSERT INTO blob_models (digest, model_id)
    SELECT digest, model_id FROM versions
    UNION
    SELECT f.digest, v.model_id FROM versions v, jsonb_to_recordset(v.files) AS f(digest TEXT)
    WHERE f.digest IS NOT NULL
ON CONFLICT DO NOTHING;

CREATE FUNCTION cairn_record_blob_models() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO blob_models (digest, model_id)
        SELECT NEW.digest, NEW.model_id
        UNION
        SELECT f.digest, NEW.model_id FROM jsonb_to_recordset(NEW.files) AS f(digest TEXT) WHERE f.digest IS NOT NULL
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER versions_blob_models AFTER INSERT ON versions
    FOR EACH ROW EXECUTE FUNCTION cairn_record_blob_models();
