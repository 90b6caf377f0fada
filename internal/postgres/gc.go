package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-registry/cairn"
)

// blobRefsLockKey is the advisory lock that serializes garbage collection
// with the insertion of versions ("cairnb" in ASCII). The trigger of
// migration 0002 takes it in shared mode for every version inserted;
// LockBlobRefs takes it exclusively. Keep the two in step.
const blobRefsLockKey int64 = 0x636169726e62

// ReferencedAmong returns those of ds that a version, an upload session or
// an artifact refers to: one statement, an index lookup per digest in
// blob_refs (filled by a trigger on versions, migration 0002), uploads and
// artifacts.
//
// blob_refs only grows, because versions are never removed (a deleted
// version is a tombstone and keeps its blobs). Whatever comes to remove
// version rows must also remove the digests no remaining version refers
// to; until it does, a stale entry only keeps a blob, never loses one.
func (r reader) ReferencedAmong(ctx context.Context, ds []cairn.Digest) ([]cairn.Digest, error) {
	in := make([]string, len(ds))
	for i, d := range ds {
		in[i] = string(d)
	}
	rows, err := r.q.Query(ctx, `SELECT c.d FROM unnest($1::text[]) AS c(d)
		WHERE EXISTS (SELECT 1 FROM blob_refs b WHERE b.digest = c.d COLLATE "C")
		   OR EXISTS (SELECT 1 FROM uploads u WHERE u.digest = c.d COLLATE "C")
		   OR EXISTS (SELECT 1 FROM artifacts a WHERE a.digest = c.d COLLATE "C")`, in)
	if err != nil {
		return nil, translate(err, "look up blob references")
	}
	defer rows.Close()
	out := []cairn.Digest{}
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, translate(err, "look up blob references")
		}
		out = append(out, cairn.Digest(d))
	}
	return out, translate(rows.Err(), "look up blob references")
}

// LockBlobRefs takes the blob-references advisory lock exclusively until
// the transaction ends. It waits for the transactions that inserted a
// version (shared holders) to end, and holds up new ones until this one
// ends.
func (t *tx) LockBlobRefs(ctx context.Context) error {
	if _, err := t.q.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, blobRefsLockKey); err != nil {
		return translate(err, "take the blob references lock")
	}
	return nil
}

// AcquireLease takes or renews a lease with one upsert that only overwrites
// an expired lease or the holder's own. Concurrent callers serialize on the
// lease's row, and the loser sees the winner's lease as unexpired.
func (t *tx) AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	var got string
	err := t.q.QueryRow(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= $4
		RETURNING holder`, name, holder, micros(until), micros(now)).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, translate(err, "acquire lease %q", name)
	}
	return true, nil
}

func (t *tx) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := t.q.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return translate(err, "release lease %q", name)
	}
	return nil
}
