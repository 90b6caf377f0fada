-- Garbage collection of blobs (internal/registry/gc.go), PostgreSQL
-- dialect. internal/sqlite/migrations has the same tables under the same
-- file name.

-- blob_refs is the set of digests that some version refers to: its
-- manifest digest and the digest of each of its files. A version's files
-- are fixed at creation, so the set only grows; the trigger below fills it
-- in the transaction that inserts the version, whichever code inserts it.
-- The collector asks it, by primary key, whether a candidate is still
-- referenced, instead of scanning every manifest.
CREATE TABLE blob_refs (
    digest TEXT COLLATE "C" PRIMARY KEY
);

INSERT INTO blob_refs (digest)
    SELECT digest FROM versions
    UNION
    SELECT f.digest FROM versions v, jsonb_to_recordset(v.files) AS f(digest TEXT)
    WHERE f.digest IS NOT NULL
ON CONFLICT DO NOTHING;

-- Inserting a version takes the blob-references advisory lock in shared
-- mode (key 0x636169726e62, "cairnb"), held until its transaction ends.
-- The collector takes the same lock exclusively around each sweep batch,
-- between re-checking its candidates here and deleting them from the blob
-- store. So a version that will refer to a candidate either committed
-- before the re-check (and the candidate is kept) or commits after the
-- delete (and its push, which asks the blob store what is missing only
-- after the version committed, uploads the blob again). Shared holders do
-- not wait for each other; the lock is per database and, being
-- transaction-level, cannot outlive a crashed process.
CREATE FUNCTION cairn_record_blob_refs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(109270032084578);
    INSERT INTO blob_refs (digest)
        SELECT NEW.digest
        UNION
        SELECT f.digest FROM jsonb_to_recordset(NEW.files) AS f(digest TEXT) WHERE f.digest IS NOT NULL
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER versions_blob_refs AFTER INSERT ON versions
    FOR EACH ROW EXECUTE FUNCTION cairn_record_blob_refs();

-- leases are named, expiring locks held by one process at a time, such as
-- the right to run garbage collection. A holder renews its lease before it
-- expires; a crashed holder's lease simply runs out.
CREATE TABLE leases (
    name       TEXT   COLLATE "C" PRIMARY KEY,
    holder     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
