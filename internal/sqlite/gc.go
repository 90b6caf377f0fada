package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/cairn-registry/cairn"
)

// ReferencedAmong returns those of ds that a version, an upload session or
// an artifact refers to. blob_refs (migration 0002) holds every digest a version refers
// to, filled by a trigger on versions.
//
// blob_refs only grows, because versions are never removed (a deleted
// version is a tombstone and keeps its blobs). Whatever comes to remove
// version rows must also remove the digests no remaining version refers
// to; until it does, a stale entry only keeps a blob, never loses one.
func (db *DB) ReferencedAmong(ctx context.Context, ds []cairn.Digest) ([]cairn.Digest, error) {
	return view(ctx, db, func(t *tx) ([]cairn.Digest, error) { return t.ReferencedAmong(ctx, ds) })
}

// referencedChunk bounds the digests of one query (each is bound three
// times), well under SQLite's limit of 32766 bound parameters.
const referencedChunk = 500

func (t *tx) ReferencedAmong(ctx context.Context, ds []cairn.Digest) ([]cairn.Digest, error) {
	out := []cairn.Digest{}
	for len(ds) > 0 {
		chunk := ds[:min(len(ds), referencedChunk)]
		ds = ds[len(chunk):]
		args := make([]any, 0, 3*len(chunk))
		for range 3 {
			for _, d := range chunk {
				args = append(args, string(d))
			}
		}
		in := placeholders(len(chunk))
		rows, err := t.query(ctx, `
			SELECT digest FROM blob_refs WHERE digest IN (`+in+`)
			UNION
			SELECT digest FROM uploads WHERE digest IN (`+in+`)
			UNION
			SELECT digest FROM artifacts WHERE digest IN (`+in+`)`, args...)
		if err != nil {
			return nil, translate(err, "look up blob references")
		}
		for rows.Next() {
			var d string
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return nil, translate(err, "look up blob references")
			}
			out = append(out, cairn.Digest(d))
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, translate(err, "look up blob references")
		}
	}
	return out, nil
}

// LockBlobRefs is a no-op on SQLite: a write transaction holds the
// database's write lock from BEGIN (IMMEDIATE) to its end, also against
// other processes, so no transaction inserting a version can overlap it.
func (t *tx) LockBlobRefs(ctx context.Context) error { return ctx.Err() }

// AcquireLease takes or renews a lease with one upsert that only overwrites
// an expired lease or the holder's own.
func (t *tx) AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	var got string
	err := t.queryRow(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= ?
		RETURNING holder`, name, holder, micros(until), micros(now)).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, translate(err, "acquire lease %q", name)
	}
	return true, nil
}

func (t *tx) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := t.exec(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return translate(err, "release lease %q", name)
	}
	return nil
}
