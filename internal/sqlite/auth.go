package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/sqlfilter"
)

const userColumns = `name, kind, password_hash, disabled, created_by, created_at, updated_at`

func scanUser(s scanner) (*cairn.User, error) {
	var (
		u                    cairn.User
		disabled             bool
		createdAt, updatedAt int64
	)
	if err := s.Scan(&u.Name, &u.Kind, &u.PasswordHash, &disabled, &u.CreatedBy, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	u.HasPassword = u.PasswordHash != ""
	u.Disabled = disabled
	u.CreatedAt, u.UpdatedAt = fromMicros(createdAt), fromMicros(updatedAt)
	u.Roles = []cairn.RoleBinding{}
	return &u, nil
}

// GetUser returns a user with its role bindings; ENOTFOUND if none.
func (db *DB) GetUser(ctx context.Context, name string) (*cairn.User, error) {
	return view(ctx, db, func(t *tx) (*cairn.User, error) { return t.GetUser(ctx, name) })
}

func (t *tx) GetUser(ctx context.Context, name string) (*cairn.User, error) {
	u, err := scanUser(t.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "user %q not found", name)
	}
	if err != nil {
		return nil, translate(err, "get user %q", name)
	}
	if u.Roles, err = t.ListRoleBindings(ctx, name); err != nil {
		return nil, err
	}
	return u, nil
}

// ListUsers lists users by name with their role bindings.
func (db *DB) ListUsers(ctx context.Context, p cairn.Page) (*cairn.UserPage, error) {
	return view(ctx, db, func(t *tx) (*cairn.UserPage, error) { return t.ListUsers(ctx, p) })
}

func (t *tx) ListUsers(ctx context.Context, p cairn.Page) (*cairn.UserPage, error) {
	size, err := pageSize(p.Size)
	if err != nil {
		return nil, err
	}
	offset, err := decodeOffset(p.Token)
	if err != nil {
		return nil, err
	}
	rows, err := t.query(ctx, `SELECT `+userColumns+` FROM users ORDER BY name LIMIT ? OFFSET ?`, size+1, offset)
	if err != nil {
		return nil, translate(err, "list users")
	}
	defer rows.Close()
	page := &cairn.UserPage{Items: []*cairn.User{}}
	byName := map[string]*cairn.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, translate(err, "list users")
		}
		if len(page.Items) == size {
			page.NextToken = encodeOffset(offset + size)
			break
		}
		page.Items = append(page.Items, u)
		byName[u.Name] = u
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list users")
	}
	rows.Close()
	if len(byName) == 0 {
		return page, nil
	}
	args := make([]any, 0, len(byName))
	for n := range byName {
		args = append(args, n)
	}
	bs, err := t.roleBindings(ctx, `WHERE principal IN (`+placeholders(len(args))+`)`, args...)
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		byName[b.Principal].Roles = append(byName[b.Principal].Roles, b)
	}
	return page, nil
}

// CreateUser inserts u; ECONFLICT if the name is taken.
func (t *tx) CreateUser(ctx context.Context, u *cairn.User) error {
	_, err := t.exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.Name, string(u.Kind), u.PasswordHash, boolInt(u.Disabled), u.CreatedBy, micros(u.CreatedAt), micros(u.UpdatedAt))
	if isUnique(err) {
		return cairn.WrapError(cairn.ECONFLICT, err, "user %q already exists", u.Name)
	}
	return translate(err, "create user %q", u.Name)
}

// UpdateUser writes u's kind, password hash, disabled flag and updated_at.
func (t *tx) UpdateUser(ctx context.Context, u *cairn.User) error {
	res, err := t.exec(ctx, `UPDATE users SET kind = ?, password_hash = ?, disabled = ?, updated_at = ? WHERE name = ?`,
		string(u.Kind), u.PasswordHash, boolInt(u.Disabled), micros(u.UpdatedAt), u.Name)
	return expectOne(res, err, "user %q", u.Name)
}

// DeleteUser deletes a user; its tokens and bindings go with it (ON
// DELETE CASCADE).
func (t *tx) DeleteUser(ctx context.Context, name string) error {
	res, err := t.exec(ctx, `DELETE FROM users WHERE name = ?`, name)
	return expectOne(res, err, "user %q", name)
}

const tokenColumns = `id, user_name, name, hash, created_by, created_at, expires_at, last_used_at, revoked_at`

func scanToken(s scanner) (*cairn.Token, error) {
	var (
		tk                        cairn.Token
		createdAt                 int64
		expires, lastUsed, revoke sql.NullInt64
	)
	if err := s.Scan(&tk.ID, &tk.User, &tk.Name, &tk.Hash, &tk.CreatedBy, &createdAt, &expires, &lastUsed, &revoke); err != nil {
		return nil, err
	}
	tk.CreatedAt = fromMicros(createdAt)
	tk.ExpiresAt, tk.LastUsedAt, tk.RevokedAt = fromNullMicros(expires), fromNullMicros(lastUsed), fromNullMicros(revoke)
	return &tk, nil
}

// GetTokenByHash returns the token with the given secret hash.
func (db *DB) GetTokenByHash(ctx context.Context, hash string) (*cairn.Token, error) {
	return view(ctx, db, func(t *tx) (*cairn.Token, error) { return t.GetTokenByHash(ctx, hash) })
}

func (t *tx) GetTokenByHash(ctx context.Context, hash string) (*cairn.Token, error) {
	tk, err := scanToken(t.queryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "token not found")
	}
	if err != nil {
		return nil, translate(err, "get token")
	}
	return tk, nil
}

// ListTokens lists a user's tokens ("" for all), oldest first.
func (db *DB) ListTokens(ctx context.Context, user string) ([]*cairn.Token, error) {
	return view(ctx, db, func(t *tx) ([]*cairn.Token, error) { return t.ListTokens(ctx, user) })
}

func (t *tx) ListTokens(ctx context.Context, user string) ([]*cairn.Token, error) {
	q, args := `SELECT `+tokenColumns+` FROM tokens ORDER BY created_at, id`, []any(nil)
	if user != "" {
		q, args = `SELECT `+tokenColumns+` FROM tokens WHERE user_name = ? ORDER BY created_at, id`, []any{user}
	}
	rows, err := t.query(ctx, q, args...)
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

// CreateToken inserts tk as given.
func (t *tx) CreateToken(ctx context.Context, tk *cairn.Token) error {
	_, err := t.exec(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tk.ID, tk.User, tk.Name, tk.Hash, tk.CreatedBy, micros(tk.CreatedAt),
		nullMicros(tk.ExpiresAt), nullMicros(tk.LastUsedAt), nullMicros(tk.RevokedAt))
	switch {
	case isUnique(err):
		return cairn.WrapError(cairn.ECONFLICT, err, "token %q already exists", tk.ID)
	case isForeignKey(err):
		return cairn.WrapError(cairn.ENOTFOUND, err, "user %q not found", tk.User)
	}
	return translate(err, "create token")
}

// RevokeToken marks a user's token revoked, keeping an earlier revocation.
func (t *tx) RevokeToken(ctx context.Context, user, id string, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? AND user_name = ?`,
		micros(at), id, user)
	return expectOne(res, err, "token %q of user %q", id, user)
}

// TouchToken records a use of a token at most once per interval.
func (t *tx) TouchToken(ctx context.Context, id string, at time.Time, every time.Duration) error {
	_, err := t.exec(ctx, `UPDATE tokens SET last_used_at = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`,
		micros(at), id, micros(at.Add(-every)))
	return translate(err, "touch token %q", id)
}

// ListRoleBindings lists a principal's bindings ("" for all).
func (db *DB) ListRoleBindings(ctx context.Context, principal string) ([]cairn.RoleBinding, error) {
	return view(ctx, db, func(t *tx) ([]cairn.RoleBinding, error) { return t.ListRoleBindings(ctx, principal) })
}

func (t *tx) ListRoleBindings(ctx context.Context, principal string) ([]cairn.RoleBinding, error) {
	if principal == "" {
		return t.roleBindings(ctx, "")
	}
	return t.roleBindings(ctx, `WHERE principal = ?`, principal)
}

func (t *tx) roleBindings(ctx context.Context, where string, args ...any) ([]cairn.RoleBinding, error) {
	rows, err := t.query(ctx, `SELECT principal, role, scope, created_by, created_at FROM role_bindings `+
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

// GrantRole inserts a binding as given.
func (t *tx) GrantRole(ctx context.Context, b *cairn.RoleBinding) error {
	_, err := t.exec(ctx, `INSERT INTO role_bindings (principal, role, scope, created_by, created_at) VALUES (?, ?, ?, ?, ?)`,
		b.Principal, string(b.Role), b.Scope, b.CreatedBy, micros(b.CreatedAt))
	switch {
	case isUnique(err):
		return cairn.WrapError(cairn.ECONFLICT, err, "%s already holds %s on %q", b.Principal, b.Role, b.Scope)
	case isForeignKey(err):
		return cairn.WrapError(cairn.ENOTFOUND, err, "user %q not found", b.Principal)
	}
	return translate(err, "grant role")
}

// RevokeRole deletes a binding.
func (t *tx) RevokeRole(ctx context.Context, principal string, role cairn.Role, scope string) error {
	res, err := t.exec(ctx, `DELETE FROM role_bindings WHERE principal = ? AND role = ? AND scope = ?`,
		principal, string(role), scope)
	return expectOne(res, err, "%s binding of %q on %q", role, principal, scope)
}

// BlobInScopes looks the digest up in blob_models (migration 0005).
func (db *DB) BlobInScopes(ctx context.Context, d cairn.Digest, scopes []string) (bool, error) {
	return view(ctx, db, func(t *tx) (bool, error) { return t.BlobInScopes(ctx, d, scopes) })
}

func (t *tx) BlobInScopes(ctx context.Context, d cairn.Digest, scopes []string) (bool, error) {
	if scopes != nil && len(scopes) == 0 {
		return false, nil
	}
	q := `SELECT EXISTS (SELECT 1 FROM blob_models b JOIN models m ON m.id = b.model_id
		WHERE b.digest = ? AND m.deleted_at IS NULL`
	args := []any{string(d)}
	if f := cairn.ScopeFilter(scopes); f != nil {
		c, err := sqlfilter.Models(f, nil, sqlfilter.SQLite, 2)
		if err != nil {
			return false, err
		}
		q += ` AND (` + c.Where + `)`
		args = append(args, c.Args[:c.WhereArgs]...)
	}
	var ok bool
	err := t.queryRow(ctx, q+`)`, args...).Scan(&ok)
	return ok, translate(err, "look up the models of blob %s", d)
}
