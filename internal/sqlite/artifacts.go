package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/cairn-registry/cairn"
)

const artifactColumns = `path, digest, size, updated_by, updated_at`

func scanArtifact(s scanner) (*cairn.Artifact, error) {
	var (
		a  cairn.Artifact
		d  string
		at int64
	)
	if err := s.Scan(&a.Path, &d, &a.Size, &a.UpdatedBy, &at); err != nil {
		return nil, err
	}
	a.Digest, a.UpdatedAt = cairn.Digest(d), fromMicros(at)
	return &a, nil
}

// GetArtifact returns the artifact at path; ENOTFOUND if there is none.
func (db *DB) GetArtifact(ctx context.Context, path string) (*cairn.Artifact, error) {
	return view(ctx, db, func(t *tx) (*cairn.Artifact, error) { return t.GetArtifact(ctx, path) })
}

func (t *tx) GetArtifact(ctx context.Context, path string) (*cairn.Artifact, error) {
	a, err := scanArtifact(t.queryRow(ctx, `SELECT `+artifactColumns+` FROM artifacts WHERE path = ?`, path))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "artifact %q not found", path)
	}
	return a, translate(err, "get artifact %q", path)
}

// ListArtifacts lists artifacts in path order: a range scan of the primary
// key, [max(prefix, from), end of prefix).
func (db *DB) ListArtifacts(ctx context.Context, q cairn.ArtifactQuery) (*cairn.ArtifactPage, error) {
	return view(ctx, db, func(t *tx) (*cairn.ArtifactPage, error) { return t.ListArtifacts(ctx, q) })
}

func (t *tx) ListArtifacts(ctx context.Context, q cairn.ArtifactQuery) (*cairn.ArtifactPage, error) {
	n, err := artifactLimit(q.Limit)
	if err != nil {
		return nil, err
	}
	if q.Prefix != "" && !strings.HasSuffix(q.Prefix, "/") {
		return nil, cairn.Errorf(cairn.EINVALID, "artifact list prefix %q does not end with '/'", q.Prefix)
	}
	query := `SELECT ` + artifactColumns + ` FROM artifacts WHERE path >= ?`
	args := []any{q.From}
	if q.Prefix != "" {
		query += ` AND path >= ? AND path < ?`
		args = append(args, q.Prefix, prefixEnd(q.Prefix))
	}
	query += ` ORDER BY path LIMIT ?`
	args = append(args, n+1)
	rows, err := t.query(ctx, query, args...)
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

// PutArtifact inserts or replaces the artifact at a.Path. SQLite needs no
// lock beyond the write transaction's (see LockBlobRefs).
func (t *tx) PutArtifact(ctx context.Context, a *cairn.Artifact) error {
	_, err := t.exec(ctx, `INSERT INTO artifacts (`+artifactColumns+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (path) DO UPDATE SET digest = excluded.digest, size = excluded.size,
			updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		a.Path, string(a.Digest), a.Size, a.UpdatedBy, micros(a.UpdatedAt))
	return translate(err, "put artifact %q", a.Path)
}

// DeleteArtifacts deletes the artifact at path and those under path/.
func (t *tx) DeleteArtifacts(ctx context.Context, path string) (int64, error) {
	dir := path + "/"
	res, err := t.exec(ctx, `DELETE FROM artifacts WHERE path = ? OR (path >= ? AND path < ?)`, path, dir, prefixEnd(dir))
	if err != nil {
		return 0, translate(err, "delete artifacts %q", path)
	}
	n, err := res.RowsAffected()
	return n, translate(err, "delete artifacts %q", path)
}
