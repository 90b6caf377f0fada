package migrate

import (
	"context"
	"reflect"

	"github.com/cairn-registry/cairn"
)

// Identities are registry state like any other: a registry moved without
// its users, tokens and role bindings would lock its owners out (with auth
// on) or silently drop who may do what. They are copied last, each user
// with its role bindings and tokens. Password hashes and token hashes
// travel as they are (never a secret: the store has none); the domain
// types never serialize them, so the records here carry them explicitly.

// Kinds of identity records a Report counts.
const (
	KindUsers  = "users"
	KindTokens = "tokens"
	KindRoles  = "role_bindings"
)

// identityRecord is one user with its role bindings (User.Roles) and its
// tokens, hashes included.
type identityRecord struct {
	User         *cairn.User   `json:"user"`
	PasswordHash string        `json:"password_hash,omitempty"`
	Tokens       []tokenRecord `json:"tokens"`
}

// tokenRecord is a token with its hash: the outer field carries what the
// embedded one (json:"-") never serializes.
type tokenRecord struct {
	*cairn.Token
	Hash string `json:"hash"`
}

// walkUsers reads every user, by name, with its bindings and tokens.
func (w *walker) walkUsers(ctx context.Context, fn func(context.Context, []identityRecord) error) error {
	page := cairn.Page{Size: w.batch}
	for {
		p, err := w.src.Meta.ListUsers(ctx, page)
		if err != nil {
			return err
		}
		rs := make([]identityRecord, 0, len(p.Items))
		for _, u := range p.Items {
			ts, err := w.src.Meta.ListTokens(ctx, u.Name)
			if err != nil {
				return err
			}
			r := identityRecord{User: u, PasswordHash: u.PasswordHash, Tokens: make([]tokenRecord, len(ts))}
			for i, tk := range ts {
				r.Tokens[i] = tokenRecord{Token: tk, Hash: tk.Hash}
			}
			rs = append(rs, r)
		}
		if len(rs) > 0 {
			if err := fn(ctx, rs); err != nil {
				return err
			}
		}
		if p.NextToken == "" {
			return nil
		}
		page.Token = p.NextToken
	}
}

// importUsers writes users, their bindings and their tokens. A record the
// target has already is skipped if it is the same, and is an error if it
// differs.
func (c *copier) importUsers(ctx context.Context, rs []identityRecord) error {
	return c.importBatch(ctx, func(tx cairn.Tx, _ cairn.Importer) error {
		for _, r := range rs {
			if r.User == nil {
				return cairn.Errorf(cairn.EINVALID, "a user record without a user")
			}
			u := *r.User
			u.PasswordHash, u.HasPassword = r.PasswordHash, r.PasswordHash != ""
			err := tx.CreateUser(ctx, &u)
			if cairn.IsCode(err, cairn.ECONFLICT) {
				err = sameUser(ctx, tx, &u)
			}
			if err := c.count(KindUsers, err); err != nil {
				return err
			}
			for i := range u.Roles {
				b := u.Roles[i]
				if b.Principal != u.Name {
					return cairn.Errorf(cairn.EINVALID, "user %q: a role binding of %q", u.Name, b.Principal)
				}
				if err := c.count(KindRoles, tx.GrantRole(ctx, &b)); err != nil {
					return err
				}
			}
			for _, t := range r.Tokens {
				if t.Token == nil || t.User != u.Name {
					return cairn.Errorf(cairn.EINVALID, "user %q: a token of another user", u.Name)
				}
				tk := *t.Token
				tk.Hash = t.Hash
				err := tx.CreateToken(ctx, &tk)
				if cairn.IsCode(err, cairn.ECONFLICT) {
					err = sameToken(ctx, tx, &tk)
				}
				if err := c.count(KindTokens, err); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func sameUser(ctx context.Context, tx cairn.Tx, u *cairn.User) error {
	got, err := tx.GetUser(ctx, u.Name)
	if err != nil {
		return err
	}
	want := *u
	want.Roles, got.Roles = nil, nil
	if !reflect.DeepEqual(&want, got) {
		return differs("user " + u.Name)
	}
	return cairn.Errorf(cairn.ECONFLICT, "user %q exists", u.Name)
}

func sameToken(ctx context.Context, tx cairn.Tx, t *cairn.Token) error {
	got, err := tx.GetTokenByHash(ctx, t.Hash)
	if cairn.IsCode(err, cairn.ENOTFOUND) {
		return differs("token " + t.ID)
	}
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(t, got) {
		return differs("token " + t.ID)
	}
	return cairn.Errorf(cairn.ECONFLICT, "token %q exists", t.ID)
}
