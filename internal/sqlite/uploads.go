package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/cairn-registry/cairn"
)

const uploadColumns = `id, digest, size, backend_key, created_by, created_at, expires_at`

// queryUploads runs a query selecting uploadColumns and fills the uploads'
// parts with one more query for all of them.
func (t *tx) queryUploads(ctx context.Context, what, query string, args ...any) ([]*cairn.Upload, error) {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, translate(err, "%s", what)
	}
	defer rows.Close()
	out := []*cairn.Upload{}
	byID := map[string]*cairn.Upload{}
	for rows.Next() {
		var (
			u                    cairn.Upload
			createdAt, expiresAt int64
		)
		if err := rows.Scan(&u.ID, &u.Digest, &u.Size, &u.BackendKey, &u.CreatedBy, &createdAt, &expiresAt); err != nil {
			return nil, translate(err, "%s", what)
		}
		u.CreatedAt, u.ExpiresAt = fromMicros(createdAt), fromMicros(expiresAt)
		u.Parts = []cairn.Part{}
		out = append(out, &u)
		byID[u.ID] = &u
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "%s", what)
	}
	rows.Close()
	if len(out) == 0 {
		return out, nil
	}
	ids := make([]any, len(out))
	for i, u := range out {
		ids[i] = u.ID
	}
	prows, err := t.query(ctx, `SELECT upload_id, number, size, etag, digest FROM upload_parts
		WHERE upload_id IN (`+placeholders(len(ids))+`) ORDER BY upload_id, number`, ids...)
	if err != nil {
		return nil, translate(err, "%s: parts", what)
	}
	defer prows.Close()
	for prows.Next() {
		var (
			id string
			p  cairn.Part
		)
		if err := prows.Scan(&id, &p.Number, &p.Size, &p.ETag, &p.Digest); err != nil {
			return nil, translate(err, "%s: parts", what)
		}
		if u := byID[id]; u != nil {
			u.Parts = append(u.Parts, p)
		}
	}
	if err := prows.Err(); err != nil {
		return nil, translate(err, "%s: parts", what)
	}
	return out, nil
}

// GetUpload returns an upload session with its parts by number; ENOTFOUND
// if there is none.
func (db *DB) GetUpload(ctx context.Context, id string) (*cairn.Upload, error) {
	return view(ctx, db, func(t *tx) (*cairn.Upload, error) { return t.GetUpload(ctx, id) })
}

func (t *tx) GetUpload(ctx context.Context, id string) (*cairn.Upload, error) {
	us, err := t.queryUploads(ctx, "get upload",
		`SELECT `+uploadColumns+` FROM uploads WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(us) == 0 {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "upload %q not found", id)
	}
	return us[0], nil
}

// FindUploads returns the sessions for digest d that expire after now,
// newest first, with their parts.
func (db *DB) FindUploads(ctx context.Context, d cairn.Digest, now time.Time) ([]*cairn.Upload, error) {
	return view(ctx, db, func(t *tx) ([]*cairn.Upload, error) { return t.FindUploads(ctx, d, now) })
}

func (t *tx) FindUploads(ctx context.Context, d cairn.Digest, now time.Time) ([]*cairn.Upload, error) {
	return t.queryUploads(ctx, "find uploads", `SELECT `+uploadColumns+` FROM uploads
		WHERE digest = ? AND expires_at > ? ORDER BY created_at DESC, id`, string(d), micros(now))
}

// ExpiredUploads returns up to limit sessions that expired before before,
// soonest expired first, with their parts.
func (db *DB) ExpiredUploads(ctx context.Context, before time.Time, n int) ([]*cairn.Upload, error) {
	return view(ctx, db, func(t *tx) ([]*cairn.Upload, error) { return t.ExpiredUploads(ctx, before, n) })
}

func (t *tx) ExpiredUploads(ctx context.Context, before time.Time, n int) ([]*cairn.Upload, error) {
	return t.queryUploads(ctx, "list expired uploads", `SELECT `+uploadColumns+` FROM uploads
		WHERE expires_at < ? ORDER BY expires_at, id LIMIT ?`, micros(before), limit(n))
}

// CreateUpload inserts u and any parts it already has; ECONFLICT if a
// session with its id exists.
func (t *tx) CreateUpload(ctx context.Context, u *cairn.Upload) error {
	_, err := t.exec(ctx, `INSERT INTO uploads (`+uploadColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.ID, string(u.Digest), u.Size, u.BackendKey, u.CreatedBy, micros(u.CreatedAt), micros(u.ExpiresAt))
	if isUnique(err) {
		return cairn.WrapError(cairn.ECONFLICT, err, "upload %q already exists", u.ID)
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
	_, err := t.exec(ctx, `INSERT INTO upload_parts (upload_id, number, size, etag, digest)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (upload_id, number) DO UPDATE
		SET size = excluded.size, etag = excluded.etag, digest = excluded.digest`,
		uploadID, p.Number, p.Size, p.ETag, string(p.Digest))
	if isForeignKey(err) {
		return cairn.WrapError(cairn.ENOTFOUND, err, "upload %q not found", uploadID)
	}
	return translate(err, "record part %d of upload %q", p.Number, uploadID)
}

// DeleteUpload deletes a session and, by cascade, its parts; ENOTFOUND if
// there is none.
func (t *tx) DeleteUpload(ctx context.Context, id string) error {
	res, err := t.exec(ctx, `DELETE FROM uploads WHERE id = ?`, id)
	return expectOne(res, err, "upload %q", id)
}

// ReferencedDigests calls fn once for every distinct blob digest that a
// version (deleted ones included), an upload session or an artifact
// refers to: each version's manifest digest and file digests, each
// session's target digest and each artifact's blob. It stops at and
// returns fn's first error. The rows stream, so memory stays flat however
// many versions there are; fn runs while the read snapshot is open and may
// itself read the store.
func (db *DB) ReferencedDigests(ctx context.Context, fn func(cairn.Digest) error) error {
	_, err := view(ctx, db, func(t *tx) (struct{}, error) { return struct{}{}, t.ReferencedDigests(ctx, fn) })
	return err
}

func (t *tx) ReferencedDigests(ctx context.Context, fn func(cairn.Digest) error) error {
	rows, err := t.query(ctx, `
		SELECT digest FROM versions
		UNION
		SELECT json_extract(f.value, '$.digest') FROM versions v, json_each(v.files) f
		UNION
		SELECT digest FROM uploads
		UNION
		SELECT digest FROM artifacts`)
	if err != nil {
		return translate(err, "list referenced digests")
	}
	defer rows.Close()
	for rows.Next() {
		var d sql.NullString
		if err := rows.Scan(&d); err != nil {
			return translate(err, "list referenced digests")
		}
		if !d.Valid || d.String == "" {
			continue
		}
		if err := fn(cairn.Digest(d.String)); err != nil {
			return err
		}
	}
	return translate(rows.Err(), "list referenced digests")
}

// GetIdempotency returns the response stored under key; ENOTFOUND if none.
func (db *DB) GetIdempotency(ctx context.Context, key string) (*cairn.IdempotentResponse, error) {
	return view(ctx, db, func(t *tx) (*cairn.IdempotentResponse, error) { return t.GetIdempotency(ctx, key) })
}

func (t *tx) GetIdempotency(ctx context.Context, key string) (*cairn.IdempotentResponse, error) {
	var (
		r  cairn.IdempotentResponse
		at int64
	)
	err := t.queryRow(ctx, `SELECT key, request_hash, status, body, created_at
		FROM idempotency_keys WHERE key = ?`, key).Scan(&r.Key, &r.RequestHash, &r.Status, &r.Body, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "idempotency key %q not found", key)
	}
	if err != nil {
		return nil, translate(err, "get idempotency key %q", key)
	}
	if r.Body == nil {
		r.Body = []byte{}
	}
	r.CreatedAt = fromMicros(at)
	return &r, nil
}

// PutIdempotency stores a response under its key; ECONFLICT if the key is
// taken.
func (t *tx) PutIdempotency(ctx context.Context, r *cairn.IdempotentResponse) error {
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	_, err := t.exec(ctx, `INSERT INTO idempotency_keys (key, request_hash, status, body, created_at)
		VALUES (?, ?, ?, ?, ?)`, r.Key, r.RequestHash, r.Status, body, micros(r.CreatedAt))
	if isUnique(err) {
		return cairn.WrapError(cairn.ECONFLICT, err, "idempotency key %q already used", r.Key)
	}
	return translate(err, "store idempotency key %q", r.Key)
}
