package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-registry/cairn"
)

const artifactColumns = `path, digest, size, updated_by, updated_at`

func scanArtifact(row pgx.Row) (*cairn.Artifact, error) {
	var (
		a  cairn.Artifact
		d  string
		at int64
	)
	if err := row.Scan(&a.Path, &d, &a.Size, &a.UpdatedBy, &at); err != nil {
		return nil, err
	}
	a.Digest, a.UpdatedAt = cairn.Digest(d), fromMicros(at)
	return &a, nil
}

// GetArtifact returns the artifact at path; ENOTFOUND if there is none.
func (r reader) GetArtifact(ctx context.Context, path string) (*cairn.Artifact, error) {
	a, err := scanArtifact(r.q.QueryRow(ctx, `SELECT `+artifactColumns+` FROM artifacts WHERE path = $1`, path))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "artifact %q not found", path)
	}
	if err != nil {
		return nil, translate(err, "get artifact %q", path)
	}
	return a, nil
}

// ListArtifacts lists artifacts in path order: a range scan of the primary
// key (COLLATE "C", byte order), [max(prefix, from), end of prefix).
func (r reader) ListArtifacts(ctx context.Context, q cairn.ArtifactQuery) (*cairn.ArtifactPage, error) {
	n, err := artifactLimit(q.Limit)
	if err != nil {
		return nil, err
	}
	if q.Prefix != "" && !strings.HasSuffix(q.Prefix, "/") {
		return nil, cairn.Errorf(cairn.EINVALID, "artifact list prefix %q does not end with '/'", q.Prefix)
	}
	query := `SELECT ` + artifactColumns + ` FROM artifacts WHERE path >= $1`
	args := []any{q.From}
	if q.Prefix != "" {
		query += ` AND path >= $2 AND path < $3`
		args = append(args, q.Prefix, prefixEnd(q.Prefix))
	}
	query += ` ORDER BY path LIMIT ` + strconv.Itoa(n+1)
	rows, err := r.q.Query(ctx, query, args...)
	if err != nil {
		return nil, translate(err, "list artifacts")
	}
	defer rows.Close()
	page := &cairn.ArtifactPage{Items: []*cairn.Artifact{}}
	for rows.Next() {
		a, err := scanArtifact(rows)
		if err != nil {
			return nil, translate(err, "list artifacts")
		}
		if len(page.Items) == n {
			page.NextToken = a.Path
			break
		}
		page.Items = append(page.Items, a)
	}
	return page, translate(rows.Err(), "list artifacts")
}

// artifactLimit applies ArtifactQuery's default and bound.
func artifactLimit(n int) (int, error) {
	switch {
	case n == 0:
		return 1000, nil
	case n < 0 || n > cairn.MaxArtifactList:
		return 0, cairn.Errorf(cairn.EINVALID, "artifact list limit %d out of range 1..%d", n, cairn.MaxArtifactList)
	}
	return n, nil
}

// prefixEnd returns the exclusive upper bound of a directory's range in
// byte order: dir ends with '/', and '0' is the byte after '/'.
func prefixEnd(dir string) string { return dir[:len(dir)-1] + "0" }

// PutArtifact inserts or replaces the artifact at a.Path, holding the
// blob-references lock in shared mode until the transaction ends, as the
// trigger of migration 0002 does for versions: a collection's sweep,
// which takes it exclusively, then cannot delete the blob between the
// caller's check that it exists and the commit that makes it referenced.
func (t *tx) PutArtifact(ctx context.Context, a *cairn.Artifact) error {
	if _, err := t.q.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, blobRefsLockKey); err != nil {
		return translate(err, "take the blob references lock")
	}
	_, err := t.q.Exec(ctx, `INSERT INTO artifacts (`+artifactColumns+`) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (path) DO UPDATE SET digest = excluded.digest, size = excluded.size,
			updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		a.Path, string(a.Digest), a.Size, a.UpdatedBy, micros(a.UpdatedAt))
	return translate(err, "put artifact %q", a.Path)
}

// DeleteArtifacts deletes the artifact at path and those under path/.
func (t *tx) DeleteArtifacts(ctx context.Context, path string) (int64, error) {
	dir := path + "/"
	tag, err := t.q.Exec(ctx, `DELETE FROM artifacts WHERE path = $1 OR (path >= $2 AND path < $3)`, path, dir, prefixEnd(dir))
	if err != nil {
		return 0, translate(err, "delete artifacts %q", path)
	}
	return tag.RowsAffected(), nil
}
