-- Garbage collection of blobs (internal/registry/gc.go), SQLite dialect.
-- internal/postgres/migrations has the same tables under the same file name.

-- blob_refs is the set of digests that some version refers to: its
-- manifest digest and the digest of each of its files. A version's files
-- are fixed at creation, so the set only grows; the trigger below fills it
-- in the transaction that inserts the version, whichever code inserts it.
-- The collector asks it, by primary key, whether a candidate is still
-- referenced, instead of scanning every manifest.
--
-- SQLite needs no lock beyond this: every write transaction takes the
-- database's write lock at BEGIN (BEGIN IMMEDIATE), so the collector's
-- sweep transaction and a transaction inserting a version never overlap.
CREATE TABLE blob_refs (
    digest TEXT PRIMARY KEY
) WITHOUT ROWID;

INSERT OR IGNORE INTO blob_refs (digest) SELECT digest FROM versions;
INSERT OR IGNORE INTO blob_refs (digest)
    SELECT json_extract(f.value, '$.digest') FROM versions v, json_each(v.files) f
    WHERE json_extract(f.value, '$.digest') IS NOT NULL;

CREATE TRIGGER versions_blob_refs AFTER INSERT ON versions
BEGIN
    INSERT OR IGNORE INTO blob_refs (digest) VALUES (NEW.digest);
    INSERT OR IGNORE INTO blob_refs (digest)
        SELECT json_extract(value, '$.digest') FROM json_each(NEW.files)
        WHERE json_extract(value, '$.digest') IS NOT NULL;
END;

-- leases are named, expiring locks held by one process at a time, such as
-- the right to run garbage collection. A holder renews its lease before it
-- expires; a crashed holder's lease simply runs out.
CREATE TABLE leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
