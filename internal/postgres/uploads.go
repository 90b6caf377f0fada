package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-registry/cairn"
)

// uploadColumns are the columns scanUpload reads, from uploads u. The parts
// come along as one JSON array in the same statement.
const uploadColumns = `u.id, u.digest, u.size, u.backend_key, u.created_by, u.created_at, u.expires_at,
	(SELECT COALESCE(jsonb_agg(jsonb_build_object(
			'number', p.number, 'size', p.size, 'etag', p.etag, 'digest', p.digest) ORDER BY p.number), '[]')
		FROM upload_parts p WHERE p.upload_id = u.id)`

func scanUpload(row pgx.Row) (*cairn.Upload, error) {
	var (
		u                cairn.Upload
		digest           string
		created, expires int64
		parts            []byte
	)
	if err := row.Scan(&u.ID, &digest, &u.Size, &u.BackendKey, &u.CreatedBy, &created, &expires, &parts); err != nil {
		return nil, err
	}
	u.Digest, u.CreatedAt, u.ExpiresAt = cairn.Digest(digest), fromMicros(created), fromMicros(expires)
	u.Parts = []cairn.Part{}
	if err := decodeJSON("upload_parts", parts, &u.Parts); err != nil {
		return nil, err
	}
	return &u, nil
}

func (r reader) listUploads(ctx context.Context, what, sql string, args ...any) ([]*cairn.Upload, error) {
	rows, err := r.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err, "%s", what)
	}
	defer rows.Close()
	us := []*cairn.Upload{}
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, translate(err, "%s", what)
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "%s", what)
	}
	return us, nil
}

// GetUpload returns an upload session with its parts; ENOTFOUND if there is
// none.
func (r reader) GetUpload(ctx context.Context, id string) (*cairn.Upload, error) {
	u, err := scanUpload(r.q.QueryRow(ctx, `SELECT `+uploadColumns+` FROM uploads u WHERE u.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "upload %q not found", id)
	}
	if err != nil {
		return nil, translate(err, "get upload %q", id)
	}
	return u, nil
}

// FindUploads returns the sessions for digest d that have not expired at
// now, newest first, with their parts.
func (r reader) FindUploads(ctx context.Context, d cairn.Digest, now time.Time) ([]*cairn.Upload, error) {
	return r.listUploads(ctx, "find uploads", `SELECT `+uploadColumns+` FROM uploads u
		WHERE u.digest = $1 AND u.expires_at > $2
		ORDER BY u.created_at DESC, u.id DESC`, string(d), micros(now))
}

// ExpiredUploads returns up to n sessions that expired before t, the
// longest expired first.
func (r reader) ExpiredUploads(ctx context.Context, t time.Time, n int) ([]*cairn.Upload, error) {
	return r.listUploads(ctx, "list expired uploads", `SELECT `+uploadColumns+` FROM uploads u
		WHERE u.expires_at < $1
		ORDER BY u.expires_at, u.id
		LIMIT $2`, micros(t), limit(n))
}

// CreateUpload inserts an upload session and any parts it already has;
// ECONFLICT if the id is taken.
func (t *tx) CreateUpload(ctx context.Context, u *cairn.Upload) error {
	var id string
	err := t.q.QueryRow(ctx, `INSERT INTO uploads (id, digest, size, backend_key, created_by, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO NOTHING
		RETURNING id`,
		u.ID, string(u.Digest), u.Size, u.BackendKey, u.CreatedBy, micros(u.CreatedAt), micros(u.ExpiresAt)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return cairn.Errorf(cairn.ECONFLICT, "upload %q already exists", u.ID)
	}
	if err != nil {
		return translate(err, "create upload %q", u.ID)
	}
	for _, p := range u.Parts {
		if err := t.PutPart(ctx, u.ID, p); err != nil {
			return err
		}
	}
	return nil
}

// PutPart records a received part, replacing one with the same number;
// ENOTFOUND if the upload does not exist.
func (t *tx) PutPart(ctx context.Context, uploadID string, p cairn.Part) error {
	var n int
	err := t.q.QueryRow(ctx, `INSERT INTO upload_parts (upload_id, number, size, etag, digest)
		SELECT u.id, $2, $3, $4, $5 FROM uploads u WHERE u.id = $1
		ON CONFLICT (upload_id, number) DO UPDATE
		SET size = excluded.size, etag = excluded.etag, digest = excluded.digest
		RETURNING number`,
		uploadID, p.Number, p.Size, p.ETag, string(p.Digest)).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return cairn.Errorf(cairn.ENOTFOUND, "upload %q not found", uploadID)
	}
	return translate(err, "upload %q: record part %d", uploadID, p.Number)
}

// DeleteUpload deletes an upload session and its parts; ENOTFOUND if there
// is none.
func (t *tx) DeleteUpload(ctx context.Context, id string) error {
	tag, err := t.q.Exec(ctx, `DELETE FROM uploads WHERE id = $1`, id)
	if err != nil {
		return translate(err, "delete upload %q", id)
	}
	if tag.RowsAffected() == 0 {
		return cairn.Errorf(cairn.ENOTFOUND, "upload %q not found", id)
	}
	return nil
}

// GetIdempotency returns the response stored under key; ENOTFOUND if there
// is none.
func (r reader) GetIdempotency(ctx context.Context, key string) (*cairn.IdempotentResponse, error) {
	resp := cairn.IdempotentResponse{Key: key}
	var created int64
	err := r.q.QueryRow(ctx, `SELECT request_hash, status, body, created_at FROM idempotency_keys WHERE key = $1`, key).
		Scan(&resp.RequestHash, &resp.Status, &resp.Body, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "idempotency key %q not found", key)
	}
	if err != nil {
		return nil, translate(err, "get idempotency key %q", key)
	}
	resp.CreatedAt = fromMicros(created)
	if resp.Body == nil {
		resp.Body = []byte{}
	}
	return &resp, nil
}

// PutIdempotency stores a response under its key; ECONFLICT if the key
// exists.
func (t *tx) PutIdempotency(ctx context.Context, resp *cairn.IdempotentResponse) error {
	body := resp.Body
	if body == nil {
		body = []byte{}
	}
	var key string
	err := t.q.QueryRow(ctx, `INSERT INTO idempotency_keys (key, request_hash, status, body, created_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (key) DO NOTHING
		RETURNING key`,
		resp.Key, resp.RequestHash, resp.Status, body, micros(resp.CreatedAt)).Scan(&key)
	if errors.Is(err, pgx.ErrNoRows) {
		return cairn.Errorf(cairn.ECONFLICT, "idempotency key %q already exists", resp.Key)
	}
	return translate(err, "store idempotency key %q", resp.Key)
}
