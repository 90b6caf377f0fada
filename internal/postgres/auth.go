package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/sqlfilter"
)

const userColumns = `name, kind, password_hash, disabled, created_by, created_at, updated_at`

func scanUser(row pgx.Row) (*cairn.User, error) {
	var (
		u                    cairn.User
		createdAt, updatedAt int64
	)
	if err := row.Scan(&u.Name, &u.Kind, &u.PasswordHash, &u.Disabled, &u.CreatedBy, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	u.HasPassword = u.PasswordHash != ""
	u.CreatedAt, u.UpdatedAt = fromMicros(createdAt), fromMicros(updatedAt)
	u.Roles = []cairn.RoleBinding{}
	return &u, nil
}

// GetUser returns a user with its role bindings; ENOTFOUND if none.
func (r reader) GetUser(ctx context.Context, name string) (*cairn.User, error) {
	var u *cairn.User
	err := r.view(ctx, func(q querier) error {
		var err error
		u, err = scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE name = $1`, name))
		if errors.Is(err, pgx.ErrNoRows) {
			return cairn.Errorf(cairn.ENOTFOUND, "user %q not found", name)
		}
		if err != nil {
			return translate(err, "get user %q", name)
		}
		u.Roles, err = roleBindings(ctx, q, `WHERE principal = $1`, name)
		return err
	})
	return u, err
}

// ListUsers lists users by name with their role bindings.
func (r reader) ListUsers(ctx context.Context, p cairn.Page) (*cairn.UserPage, error) {
	size, err := pageSize(p.Size)
	if err != nil {
		return nil, err
	}
	offset, err := decodeOffset(p.Token)
	if err != nil {
		return nil, err
	}
	page := &cairn.UserPage{Items: []*cairn.User{}}
	err = r.view(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY name LIMIT $1 OFFSET $2`, size+1, offset)
		if err != nil {
			return translate(err, "list users")
		}
		defer rows.Close()
		byName := map[string]*cairn.User{}
		names := []string{}
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				return translate(err, "list users")
			}
			if len(page.Items) == size {
				page.NextToken = encodeOffset(offset + size)
				break
			}
			page.Items = append(page.Items, u)
			byName[u.Name] = u
			names = append(names, u.Name)
		}
		if err := rows.Err(); err != nil {
			return translate(err, "list users")
		}
		rows.Close()
		if len(names) == 0 {
			return nil
		}
		bs, err := roleBindings(ctx, q, `WHERE principal = ANY($1)`, names)
		if err != nil {
			return err
		}
		for _, b := range bs {
			byName[b.Principal].Roles = append(byName[b.Principal].Roles, b)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// CreateUser inserts u; ECONFLICT if the name is taken (detected with ON
// CONFLICT DO NOTHING, so the transaction stays usable).
func (t *tx) CreateUser(ctx context.Context, u *cairn.User) error {
	tag, err := t.q.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (name) DO NOTHING`,
		u.Name, string(u.Kind), u.PasswordHash, u.Disabled, u.CreatedBy, micros(u.CreatedAt), micros(u.UpdatedAt))
	if err != nil {
		return translate(err, "create user %q", u.Name)
	}
	if tag.RowsAffected() == 0 {
		return cairn.Errorf(cairn.ECONFLICT, "user %q already exists", u.Name)
	}
	return nil
}

// UpdateUser writes u's kind, password hash, disabled flag and updated_at.
func (t *tx) UpdateUser(ctx context.Context, u *cairn.User) error {
	tag, err := t.q.Exec(ctx, `UPDATE users SET kind = $1, password_hash = $2, disabled = $3, updated_at = $4 WHERE name = $5`,
		string(u.Kind), u.PasswordHash, u.Disabled, micros(u.UpdatedAt), u.Name)
	if err != nil {
		return translate(err, "update user %q", u.Name)
	}
	if tag.RowsAffected() == 0 {
		return cairn.Errorf(cairn.ENOTFOUND, "user %q not found", u.Name)
	}
	return nil
}

// DeleteUser deletes a user; tokens and bindings go with it (ON DELETE
// CASCADE).
func (t *tx) DeleteUser(ctx context.Context, name string) error {
	tag, err := t.q.Exec(ctx, `DELETE FROM users WHERE name = $1`, name)
	if err != nil {
		return translate(err, "delete user %q", name)
	}
	if tag.RowsAffected() == 0 {
		return cairn.Errorf(cairn.ENOTFOUND, "user %q not found", name)
	}
	return nil
}

const tokenColumns = `id, user_name, name, hash, created_by, created_at, expires_at, last_used_at, revoked_at`

func scanToken(row pgx.Row) (*cairn.Token, error) {
	var (
		tk                        cairn.Token
		createdAt                 int64
		expires, lastUsed, revoke *int64
	)
	if err := row.Scan(&tk.ID, &tk.User, &tk.Name, &tk.Hash, &tk.CreatedBy, &createdAt, &expires, &lastUsed, &revoke); err != nil {
		return nil, err
	}
	tk.CreatedAt = fromMicros(createdAt)
	tk.ExpiresAt, tk.LastUsedAt, tk.RevokedAt = fromNullMicros(expires), fromNullMicros(lastUsed), fromNullMicros(revoke)
	return &tk, nil
}

// GetTokenByHash returns the token with the given secret hash.
func (r reader) GetTokenByHash(ctx context.Context, hash string) (*cairn.Token, error) {
	tk, err := scanToken(r.q.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "token not found")
	}
	if err != nil {
		return nil, translate(err, "get token")
	}
	return tk, nil
}

// ListTokens lists a user's tokens ("" for all), oldest first.
func (r reader) ListTokens(ctx context.Context, user string) ([]*cairn.Token, error) {
	sql, args := `SELECT `+tokenColumns+` FROM tokens ORDER BY created_at, id`, []any(nil)
	if user != "" {
		sql, args = `SELECT `+tokenColumns+` FROM tokens WHERE user_name = $1 ORDER BY created_at, id`, []any{user}
	}
	rows, err := r.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err, "list tokens")
	}
	defer rows.Close()
	out := []*cairn.Token{}
	for rows.Next() {
		tk, err := scanToken(rows)
		if err != nil {
			return nil, translate(err, "list tokens")
		}
		out = append(out, tk)
	}
	return out, translate(rows.Err(), "list tokens")
}

// userExists distinguishes "no such user" from a conflict after an insert
// that inserted nothing.
func userExists(ctx context.Context, q querier, name string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE name = $1)`, name).Scan(&ok)
	return ok, translate(err, "look up user %q", name)
}

// CreateToken inserts tk as given. The insert selects the user row, so a
// missing user inserts nothing instead of aborting the transaction with a
// foreign-key violation.
func (t *tx) CreateToken(ctx context.Context, tk *cairn.Token) error {
	tag, err := t.q.Exec(ctx, `INSERT INTO tokens (`+tokenColumns+`)
		SELECT $1, name, $3, $4, $5, $6, $7, $8, $9 FROM users WHERE name = $2
		ON CONFLICT DO NOTHING`,
		tk.ID, tk.User, tk.Name, tk.Hash, tk.CreatedBy, micros(tk.CreatedAt),
		nullMicros(tk.ExpiresAt), nullMicros(tk.LastUsedAt), nullMicros(tk.RevokedAt))
	if err != nil {
		return translate(err, "create token")
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	ok, err := userExists(ctx, t.q, tk.User)
	switch {
	case err != nil:
		return err
	case !ok:
		return cairn.Errorf(cairn.ENOTFOUND, "user %q not found", tk.User)
	}
	return cairn.Errorf(cairn.ECONFLICT, "token %q already exists", tk.ID)
}

// RevokeToken marks a user's token revoked, keeping an earlier revocation.
func (t *tx) RevokeToken(ctx context.Context, user, id string, at time.Time) error {
	tag, err := t.q.Exec(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND user_name = $3`,
		micros(at), id, user)
	if err != nil {
		return translate(err, "revoke token %q", id)
	}
	if tag.RowsAffected() == 0 {
		return cairn.Errorf(cairn.ENOTFOUND, "token %q of user %q not found", id, user)
	}
	return nil
}

// TouchToken records a use of a token at most once per interval.
func (t *tx) TouchToken(ctx context.Context, id string, at time.Time, every time.Duration) error {
	_, err := t.q.Exec(ctx, `UPDATE tokens SET last_used_at = $1
		WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)`,
		micros(at), id, micros(at.Add(-every)))
	return translate(err, "touch token %q", id)
}

// ListRoleBindings lists a principal's bindings ("" for all).
func (r reader) ListRoleBindings(ctx context.Context, principal string) ([]cairn.RoleBinding, error) {
	if principal == "" {
		return roleBindings(ctx, r.q, "")
	}
	return roleBindings(ctx, r.q, `WHERE principal = $1`, principal)
}

func roleBindings(ctx context.Context, q querier, where string, args ...any) ([]cairn.RoleBinding, error) {
	rows, err := q.Query(ctx, `SELECT principal, role, scope, created_by, created_at FROM role_bindings `+
		where+` ORDER BY principal, role, scope`, args...)
	if err != nil {
		return nil, translate(err, "list role bindings")
	}
	defer rows.Close()
	out := []cairn.RoleBinding{}
	for rows.Next() {
		var (
			b  cairn.RoleBinding
			at int64
		)
		if err := rows.Scan(&b.Principal, &b.Role, &b.Scope, &b.CreatedBy, &at); err != nil {
			return nil, translate(err, "list role bindings")
		}
		b.CreatedAt = fromMicros(at)
		out = append(out, b)
	}
	return out, translate(rows.Err(), "list role bindings")
}

// GrantRole inserts a binding as given, selecting the user row so that a
// missing user inserts nothing instead of aborting the transaction.
func (t *tx) GrantRole(ctx context.Context, b *cairn.RoleBinding) error {
	tag, err := t.q.Exec(ctx, `INSERT INTO role_bindings (principal, role, scope, created_by, created_at)
		SELECT name, $2, $3, $4, $5 FROM users WHERE name = $1
		ON CONFLICT DO NOTHING`,
		b.Principal, string(b.Role), b.Scope, b.CreatedBy, micros(b.CreatedAt))
	if err != nil {
		return translate(err, "grant role")
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	ok, err := userExists(ctx, t.q, b.Principal)
	switch {
	case err != nil:
		return err
	case !ok:
		return cairn.Errorf(cairn.ENOTFOUND, "user %q not found", b.Principal)
	}
	return cairn.Errorf(cairn.ECONFLICT, "%s already holds %s on %q", b.Principal, b.Role, b.Scope)
}

// RevokeRole deletes a binding.
func (t *tx) RevokeRole(ctx context.Context, principal string, role cairn.Role, scope string) error {
	tag, err := t.q.Exec(ctx, `DELETE FROM role_bindings WHERE principal = $1 AND role = $2 AND scope = $3`,
		principal, string(role), scope)
	if err != nil {
		return translate(err, "revoke role")
	}
	if tag.RowsAffected() == 0 {
		return cairn.Errorf(cairn.ENOTFOUND, "%s binding of %q on %q not found", role, principal, scope)
	}
	return nil
}

func encodeOffset(n int) string { return sqlfilter.EncodePageToken(n) }

func decodeOffset(s string) (int, error) { return sqlfilter.DecodePageToken(s) }

// BlobInScopes looks the digest up in blob_models (migration 0005).
func (r reader) BlobInScopes(ctx context.Context, d cairn.Digest, scopes []string) (bool, error) {
	if scopes != nil && len(scopes) == 0 {
		return false, nil
	}
	q := `SELECT EXISTS (SELECT 1 FROM blob_models b JOIN models m ON m.id = b.model_id
		WHERE b.digest = $1 AND m.deleted_at IS NULL`
	args := []any{string(d)}
	if f := cairn.ScopeFilter(scopes); f != nil {
		c, err := sqlfilter.Models(f, nil, sqlfilter.Postgres, 2)
		if err != nil {
			return false, err
		}
		q += ` AND (` + c.Where + `)`
		args = append(args, c.Args[:c.WhereArgs]...)
	}
	var ok bool
	err := r.q.QueryRow(ctx, q+`)`, args...).Scan(&ok)
	return ok, translate(err, "look up the models of blob %s", d)
}
