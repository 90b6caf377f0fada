package registry

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cairn-registry/cairn"
)

// Authorization. With Options.Auth on, every exported operation checks the
// caller's role bindings, which the HTTP middleware resolved when it
// authenticated the request (cairn.PrincipalFromContext), before it reads
// or changes anything:
//
//	reader      read a model, its versions, aliases and history; resolve
//	writer      create models and versions, change descriptions and tags,
//	            upload blobs, create and log runs
//	maintainer  aliases, stages, archive and restore, delete and undelete,
//	            rename (on the old and the new name)
//	admin       garbage collection, users, tokens, roles
//
// each on a scope, "*" or a model-name glob. Lists are filtered in the
// store's query by the scopes the caller may read. A denial is
// EPERMISSION (EUNAUTHENTICATED without a principal), changes nothing and
// is logged with the request id. With Auth off everything is allowed.

// AuthEnabled reports whether the service enforces roles.
func (s *Service) AuthEnabled() bool { return s != nil && s.auth }

// Authorize checks that the caller holds a role granting need on model,
// for front doors that read before they write (to shape their errors) and
// must refuse a caller who may not write before telling it whether the
// target exists. The operation itself checks again.
func (s *Service) Authorize(ctx context.Context, need cairn.Role, model string) error {
	return s.authorize(ctx, need, model)
}

// AuthorizeBlobRead checks that the caller may read a blob, for front
// doors that hand out blob bytes without OpenBlob (presigned redirects to
// the object store).
func (s *Service) AuthorizeBlobRead(ctx context.Context, d cairn.Digest) error {
	return s.authorizeBlob(ctx, d, false)
}

// authorizeBlob checks that the caller may read blob d: it holds reader on
// "*", or a model it may read refers to the blob (one index lookup). With
// orWriter, a writer anywhere may too: a push asks which blobs exist
// before any version of its own refers to them.
func (s *Service) authorizeBlob(ctx context.Context, d cairn.Digest, orWriter bool) error {
	if !s.auth {
		return nil
	}
	p, err := s.principal(ctx)
	if err != nil {
		return err
	}
	if p.AllowsAll(cairn.RoleReader) || orWriter && p.Allows(cairn.RoleWriter, "") {
		return nil
	}
	if scopes := p.Scopes(cairn.RoleReader); len(scopes) > 0 {
		ok, err := s.store.BlobInScopes(ctx, d, scopes)
		if err != nil || ok {
			return err
		}
	}
	return s.deny(ctx, p, cairn.RoleReader, "blob "+string(d), cairn.Errorf(cairn.EPERMISSION, "%s may not read blob %s: no model it may read refers to it", p.Name, d))
}

// authorize checks that the caller holds a role granting need on model.
func (s *Service) authorize(ctx context.Context, need cairn.Role, model string) error {
	if !s.auth {
		return nil
	}
	p, err := s.principal(ctx)
	if err != nil {
		return err
	}
	if p.Allows(need, model) {
		return nil
	}
	return s.deny(ctx, p, need, "model "+model, cairn.Errorf(cairn.EPERMISSION, "%s may not do this on model %q: it needs the %s role on a scope matching it", p.Name, model, need))
}

// authorizeAll checks that the caller holds need on scope "*": operations
// on the whole registry (garbage collection, identities, the audit log).
func (s *Service) authorizeAll(ctx context.Context, need cairn.Role) error {
	if !s.auth {
		return nil
	}
	p, err := s.principal(ctx)
	if err != nil {
		return err
	}
	if p.AllowsAll(need) {
		return nil
	}
	return s.deny(ctx, p, need, "*", cairn.Errorf(cairn.EPERMISSION, "%s may not do this: it needs the %s role on scope *", p.Name, need))
}

// authorizeAny checks that the caller holds need on some scope: for
// records that belong to no model (blobs, upload sessions, runs).
func (s *Service) authorizeAny(ctx context.Context, need cairn.Role) error {
	if !s.auth {
		return nil
	}
	p, err := s.principal(ctx)
	if err != nil {
		return err
	}
	if p.Allows(need, "") {
		return nil
	}
	return s.deny(ctx, p, need, "any scope", cairn.Errorf(cairn.EPERMISSION, "%s may not do this: it needs the %s role", p.Name, need))
}

// readScopes returns the scopes the caller may read, for a list's query:
// nil when it may read everything (or auth is off).
func (s *Service) readScopes(ctx context.Context) ([]string, error) {
	if !s.auth {
		return nil, nil
	}
	p, err := s.principal(ctx)
	if err != nil {
		return nil, err
	}
	return p.Scopes(cairn.RoleReader), nil
}

func (s *Service) principal(ctx context.Context) (*cairn.Principal, error) {
	p := cairn.PrincipalFromContext(ctx)
	if p == nil {
		err := cairn.Errorf(cairn.EUNAUTHENTICATED, "authentication required: send a token (Authorization: Bearer …) or a user name and password")
		s.log.LogAttrs(ctx, slog.LevelWarn, "unauthenticated request refused",
			slog.String("request_id", cairn.RequestIDFromContext(ctx)))
		return nil, err
	}
	return p, nil
}

func (s *Service) deny(ctx context.Context, p *cairn.Principal, need cairn.Role, on string, err error) error {
	s.log.LogAttrs(ctx, slog.LevelWarn, "permission denied",
		slog.String("request_id", cairn.RequestIDFromContext(ctx)),
		slog.String("principal", p.Name), slog.String("needs", string(need)), slog.String("on", on))
	return err
}

// systemContext is the context of the service's own background work
// (scheduled garbage collection, expiry): an admin on every model.
func systemContext(ctx context.Context) context.Context {
	ctx = cairn.NewContextWithActor(ctx, cairn.Actor{Name: "cairn", Verified: true})
	return cairn.NewContextWithPrincipal(ctx, &cairn.Principal{Name: "cairn", Kind: cairn.KindService,
		Roles: []cairn.RoleBinding{{Principal: "cairn", Role: cairn.RoleAdmin, Scope: cairn.ScopeAll}}})
}

// Credentials are what a request presents: a bearer token, or a user name
// with a password or a token in the password's place (HTTP basic auth, as
// MLflow clients send it).
type Credentials struct {
	Token    string
	User     string
	Password string
}

// tokenTouchEvery bounds how often a token's last-used time is written.
const tokenTouchEvery = time.Minute

// Authenticate checks credentials and returns the principal with its role
// bindings. EUNAUTHENTICATED, with one message whatever was wrong (unknown
// user, wrong password, revoked or expired token, disabled user), so that
// a caller learns nothing about which accounts exist. Credentials that
// authenticated within the last Options.AuthCacheTTL are answered from
// memory (authcache.go).
func (s *Service) Authenticate(ctx context.Context, c Credentials) (*cairn.Principal, error) {
	if c.Token == "" && c.User != "" && strings.HasPrefix(c.Password, cairn.TokenPrefix) {
		c = Credentials{Token: c.Password, User: c.User}
	}
	now := s.now()
	key := principalKey(c)
	p, gen := s.principals.get(key, c.User, now)
	if p != nil {
		return p, nil
	}
	p, owner, expires, err := s.authenticate(ctx, c, now)
	if err != nil {
		return nil, err
	}
	s.principals.put(key, gen, p, owner, now, expires)
	return p, nil
}

// authenticate checks credentials against the database. It returns the
// principal, the name it authenticated as, and the token's expiry (zero
// for none or a password).
func (s *Service) authenticate(ctx context.Context, c Credentials, now time.Time) (_ *cairn.Principal, owner string, expires time.Time, _ error) {
	bad := cairn.Errorf(cairn.EUNAUTHENTICATED, "invalid credentials")
	var u *cairn.User
	switch {
	case c.Token != "":
		tk, err := s.store.GetTokenByHash(ctx, cairn.HashToken(c.Token))
		if cairn.IsCode(err, cairn.ENOTFOUND) {
			return nil, "", expires, bad
		}
		if err != nil {
			return nil, "", expires, err
		}
		if !tk.Active(now) || (c.User != "" && c.User != tk.User) {
			return nil, "", expires, bad
		}
		if tk.ExpiresAt != nil {
			expires = *tk.ExpiresAt
		}
		if u, err = s.store.GetUser(ctx, tk.User); err != nil {
			if cairn.IsCode(err, cairn.ENOTFOUND) {
				return nil, "", expires, bad
			}
			return nil, "", expires, err
		}
		// Written in the request, at most once per tokenTouchEvery per
		// token: with the principal cache a token is read from the
		// database once per TTL, so last_used lags by at most
		// tokenTouchEvery plus the TTL, and no write is pending in memory
		// to be lost on shutdown.
		if tk.LastUsedAt == nil || now.Sub(*tk.LastUsedAt) >= tokenTouchEvery {
			if err := s.store.Update(ctx, func(tx cairn.Tx) error {
				return tx.TouchToken(ctx, tk.ID, cairn.Timestamp(now), tokenTouchEvery)
			}); err != nil {
				return nil, "", expires, err
			}
		}
	case c.User != "":
		var err error
		u, err = s.store.GetUser(ctx, c.User)
		if cairn.IsCode(err, cairn.ENOTFOUND) {
			// Spend the time a real check would, so that timing does not
			// tell which names exist.
			cairn.CheckPassword(s.dummyHash(), c.Password)
			return nil, "", expires, bad
		}
		if err != nil {
			return nil, "", expires, err
		}
		if !s.pwCache.check(u.Name, c.Password, u.PasswordHash, now) {
			if !cairn.CheckPassword(u.PasswordHash, c.Password) {
				return nil, "", expires, bad
			}
			s.pwCache.add(u.Name, c.Password, u.PasswordHash, now)
		}
	default:
		return nil, "", expires, bad
	}
	if u.Disabled {
		return nil, "", expires, bad
	}
	return &cairn.Principal{Name: u.Name, Kind: u.Kind, Roles: u.Roles}, u.Name, expires, nil
}

// dummyHash is a valid hash of nothing anyone knows, computed once.
func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() {
		secret, _ := cairn.NewTokenSecret()
		s.dummy, _ = cairn.HashPassword(secret, s.pwIter)
	})
	return s.dummy
}

// passwordCache remembers, for a few minutes, that a password matched a
// stored hash, so that an MLflow client sending basic auth on every
// request pays the slow KDF once, not per request. Entries are keyed by a
// SHA-256 of user, password and stored hash: a changed password (a new
// hash) never matches an old entry, and the cache holds no password.
type passwordCache struct {
	mu      sync.Mutex
	entries map[[32]byte]time.Time
}

const (
	passwordCacheTTL  = 5 * time.Minute
	passwordCacheSize = 4096
)

func passwordCacheKey(user, password, hash string) [32]byte {
	return sha256.Sum256([]byte(user + "\x00" + password + "\x00" + hash))
}

func (c *passwordCache) check(user, password, hash string, now time.Time) bool {
	if hash == "" {
		return false
	}
	k := passwordCacheKey(user, password, hash)
	c.mu.Lock()
	defer c.mu.Unlock()
	until, ok := c.entries[k]
	return ok && now.Before(until)
}

func (c *passwordCache) add(user, password, hash string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= passwordCacheSize {
		c.entries = map[[32]byte]time.Time{} // simplest bound: start over
	}
	c.entries[passwordCacheKey(user, password, hash)] = now.Add(passwordCacheTTL)
}

// BootstrapAdmin is the name of the first administrator.
const BootstrapAdmin = "admin"

// Bootstrap creates the first administrator, BootstrapAdmin with the admin
// role on "*" and one token, if the registry has no users yet, and returns
// the token's secret ("" if there were users already). Two replicas
// starting at once create one admin: the second finds the name taken.
func (s *Service) Bootstrap(ctx context.Context) (secret string, err error) {
	page, err := s.store.ListUsers(ctx, cairn.Page{Size: 1})
	if err != nil || len(page.Items) > 0 {
		return "", err
	}
	ctx = systemContext(ctx)
	err = s.update(ctx, func(m *mutation) error {
		users, err := m.tx.ListUsers(ctx, cairn.Page{Size: 1})
		if err != nil || len(users.Items) > 0 {
			return err
		}
		u := &cairn.User{Name: BootstrapAdmin, Kind: cairn.KindUser, CreatedBy: m.actor.Name, CreatedAt: m.now, UpdatedAt: m.now, Roles: []cairn.RoleBinding{}}
		if err := m.tx.CreateUser(ctx, u); err != nil {
			return err
		}
		m.audit(cairn.AuditUserCreated, "user:"+u.Name, nil, u)
		b := &cairn.RoleBinding{Principal: u.Name, Role: cairn.RoleAdmin, Scope: cairn.ScopeAll, CreatedBy: m.actor.Name, CreatedAt: m.now}
		if err := m.tx.GrantRole(ctx, b); err != nil {
			return err
		}
		m.audit(cairn.AuditRoleGranted, "user:"+u.Name, nil, b)
		tk, sec, err := s.newToken(ctx, m, u.Name, TokenCreate{Name: "bootstrap"})
		if err != nil {
			return err
		}
		_ = tk
		secret = sec
		return nil
	})
	if cairn.IsCode(err, cairn.ECONFLICT) {
		return "", nil // another replica bootstrapped first
	}
	return secret, err
}

// UserCreate is the input of CreateUser.
type UserCreate struct {
	Name     string              `json:"name"`
	Kind     cairn.PrincipalKind `json:"kind,omitempty"`
	Password string              `json:"password,omitempty"`
}

// CreateUser creates a user or service account (admin). A password is
// optional (tokens work without one); service accounts may not have one.
// EINVALID for a bad name, kind or password, ECONFLICT if the name is
// taken.
func (s *Service) CreateUser(ctx context.Context, in UserCreate) (*cairn.User, error) {
	if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
		return nil, err
	}
	if err := cairn.ValidateUserName(in.Name); err != nil {
		return nil, err
	}
	kind, err := cairn.ParsePrincipalKind(string(in.Kind))
	if err != nil {
		return nil, err
	}
	var hash string
	if in.Password != "" {
		if kind == cairn.KindService {
			return nil, cairn.Errorf(cairn.EINVALID, "service accounts authenticate with tokens, not passwords")
		}
		if hash, err = cairn.HashPassword(in.Password, s.pwIter); err != nil {
			return nil, err
		}
	}
	var out *cairn.User
	err = s.update(ctx, func(m *mutation) error {
		u := &cairn.User{Name: in.Name, Kind: kind, PasswordHash: hash, HasPassword: hash != "",
			CreatedBy: m.actor.Name, CreatedAt: m.now, UpdatedAt: m.now, Roles: []cairn.RoleBinding{}}
		if err := m.tx.CreateUser(ctx, u); err != nil {
			if cairn.IsCode(err, cairn.ECONFLICT) {
				return cairn.Errorf(cairn.ECONFLICT, "user %q already exists", in.Name)
			}
			return err
		}
		m.audit(cairn.AuditUserCreated, "user:"+u.Name, nil, u)
		out = u
		return nil
	})
	return out, err
}

// authorizeSelf allows an admin, or the user named acting on itself.
func (s *Service) authorizeSelf(ctx context.Context, user string) error {
	if !s.auth {
		return nil
	}
	if p := cairn.PrincipalFromContext(ctx); p != nil && p.Name == user {
		return nil
	}
	return s.authorizeAll(ctx, cairn.RoleAdmin)
}

// GetUser returns a user with its roles (admin, or the user itself).
func (s *Service) GetUser(ctx context.Context, name string) (*cairn.User, error) {
	if err := s.authorizeSelf(ctx, name); err != nil {
		return nil, err
	}
	if err := cairn.ValidateUserName(name); err != nil {
		return nil, err
	}
	u, err := s.store.GetUser(ctx, name)
	return u, notFound(err, "user %q not found", name)
}

// ListUsers lists users with their roles (admin).
func (s *Service) ListUsers(ctx context.Context, pageSize int, pageToken string) (*cairn.UserPage, error) {
	if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
		return nil, err
	}
	page, err := checkPage(pageSize, pageToken)
	if err != nil {
		return nil, err
	}
	return s.store.ListUsers(ctx, page)
}

// UserUpdate changes a user. Nil fields stay; Password "" removes the
// password.
type UserUpdate struct {
	Password *string `json:"password,omitempty"`
	Disabled *bool   `json:"disabled,omitempty"`
}

// UpdateUser sets or removes a password and disables or enables a user.
// A user may change its own password; everything else needs admin. An
// admin cannot disable itself (the registry would lose its administrator).
func (s *Service) UpdateUser(ctx context.Context, name string, in UserUpdate) (*cairn.User, error) {
	if in.Disabled != nil {
		if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
			return nil, err
		}
		if p := cairn.PrincipalFromContext(ctx); s.auth && p != nil && p.Name == name && *in.Disabled {
			return nil, cairn.Errorf(cairn.EFAILEDPRECONDITION, "you cannot disable yourself")
		}
	} else if err := s.authorizeSelf(ctx, name); err != nil {
		return nil, err
	}
	var hash string
	if in.Password != nil && *in.Password != "" {
		var err error
		if hash, err = cairn.HashPassword(*in.Password, s.pwIter); err != nil {
			return nil, err
		}
	}
	var out *cairn.User
	err := s.update(ctx, func(m *mutation) error {
		u, err := m.tx.GetUser(ctx, name)
		if err != nil {
			return notFound(err, "user %q not found", name)
		}
		before := *u
		if in.Password != nil {
			if hash != "" && u.Kind == cairn.KindService {
				return cairn.Errorf(cairn.EINVALID, "service accounts authenticate with tokens, not passwords")
			}
			u.PasswordHash, u.HasPassword = hash, hash != ""
		}
		if in.Disabled != nil {
			u.Disabled = *in.Disabled
		}
		u.UpdatedAt = m.now
		if err := m.tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		m.audit(cairn.AuditUserUpdated, "user:"+name, &before, u)
		out = u
		return nil
	})
	return out, err
}

// DeleteUser deletes a user with its tokens and role bindings (admin). An
// admin cannot delete itself.
func (s *Service) DeleteUser(ctx context.Context, name string) error {
	if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
		return err
	}
	if p := cairn.PrincipalFromContext(ctx); s.auth && p != nil && p.Name == name {
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "you cannot delete yourself")
	}
	return s.update(ctx, func(m *mutation) error {
		u, err := m.tx.GetUser(ctx, name)
		if err != nil {
			return notFound(err, "user %q not found", name)
		}
		if err := m.tx.DeleteUser(ctx, name); err != nil {
			return err
		}
		m.audit(cairn.AuditUserDeleted, "user:"+name, u, nil)
		return nil
	})
}

// TokenCreate is the input of CreateToken.
type TokenCreate struct {
	Name string `json:"name,omitempty"`
	// ExpiresIn is a Go duration ("720h"); "" never expires.
	ExpiresIn string `json:"expires_in,omitempty"`
}

// NewToken is a created token with its secret, which is shown this once.
type NewToken struct {
	cairn.Token
	Secret string `json:"secret"`
}

// MaxTokenLifetime bounds ExpiresIn.
const MaxTokenLifetime = 10 * 365 * 24 * time.Hour

// CreateToken creates an API token for a user (admin, or the user itself).
// ENOTFOUND for an unknown user, EINVALID for a bad name or lifetime.
func (s *Service) CreateToken(ctx context.Context, user string, in TokenCreate) (*NewToken, error) {
	if err := s.authorizeSelf(ctx, user); err != nil {
		return nil, err
	}
	if err := cairn.ValidateUserName(user); err != nil {
		return nil, err
	}
	var out *NewToken
	err := s.update(ctx, func(m *mutation) error {
		tk, secret, err := s.newToken(ctx, m, user, in)
		if err != nil {
			return err
		}
		out = &NewToken{Token: *tk, Secret: secret}
		return nil
	})
	return out, err
}

func (s *Service) newToken(ctx context.Context, m *mutation, user string, in TokenCreate) (*cairn.Token, string, error) {
	if err := cairn.ValidateText("token name", in.Name); err != nil {
		return nil, "", err
	}
	if len(in.Name) > 200 {
		return nil, "", cairn.Errorf(cairn.EINVALID, "token name is too long: at most 200 bytes")
	}
	secret, id := cairn.NewTokenSecret()
	tk := &cairn.Token{ID: id, User: user, Name: in.Name, Hash: cairn.HashToken(secret), CreatedBy: m.actor.Name, CreatedAt: m.now}
	if in.ExpiresIn != "" {
		d, err := time.ParseDuration(in.ExpiresIn)
		if err != nil || d <= 0 || d > MaxTokenLifetime {
			return nil, "", cairn.Errorf(cairn.EINVALID, "invalid expires_in %q: want a positive duration such as 720h, at most %v", in.ExpiresIn, MaxTokenLifetime)
		}
		t := cairn.Timestamp(m.now.Add(d))
		tk.ExpiresAt = &t
	}
	if err := m.tx.CreateToken(ctx, tk); err != nil {
		return nil, "", notFound(err, "user %q not found", user)
	}
	m.audit(cairn.AuditTokenCreated, "user:"+user, nil, tk)
	return tk, secret, nil
}

// ListTokens lists a user's tokens, without secrets (admin, or the user
// itself).
func (s *Service) ListTokens(ctx context.Context, user string) ([]*cairn.Token, error) {
	if err := s.authorizeSelf(ctx, user); err != nil {
		return nil, err
	}
	if err := cairn.ValidateUserName(user); err != nil {
		return nil, err
	}
	if _, err := s.store.GetUser(ctx, user); err != nil {
		return nil, notFound(err, "user %q not found", user)
	}
	return s.store.ListTokens(ctx, user)
}

// RevokeToken revokes a user's token at once (admin, or the user itself).
// ENOTFOUND if the user has no such token.
func (s *Service) RevokeToken(ctx context.Context, user, id string) error {
	if err := s.authorizeSelf(ctx, user); err != nil {
		return err
	}
	return s.update(ctx, func(m *mutation) error {
		if err := m.tx.RevokeToken(ctx, user, id, m.now); err != nil {
			return notFound(err, "token %q of user %q not found", id, user)
		}
		m.audit(cairn.AuditTokenRevoked, "user:"+user, nil, map[string]string{"token": id})
		return nil
	})
}

// RoleGrant names a binding.
type RoleGrant struct {
	Principal string     `json:"principal"`
	Role      cairn.Role `json:"role"`
	Scope     string     `json:"scope"`
}

func (g RoleGrant) validate() error {
	if err := cairn.ValidateUserName(g.Principal); err != nil {
		return err
	}
	if _, err := cairn.ParseRole(string(g.Role)); err != nil {
		return err
	}
	return cairn.ValidateScope(g.Scope)
}

// GrantRole binds a role on a scope to a principal (admin). ENOTFOUND for
// an unknown principal, ECONFLICT if the binding exists.
func (s *Service) GrantRole(ctx context.Context, g RoleGrant) (*cairn.RoleBinding, error) {
	if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
		return nil, err
	}
	if err := g.validate(); err != nil {
		return nil, err
	}
	var out *cairn.RoleBinding
	err := s.update(ctx, func(m *mutation) error {
		b := &cairn.RoleBinding{Principal: g.Principal, Role: g.Role, Scope: g.Scope, CreatedBy: m.actor.Name, CreatedAt: m.now}
		if err := m.tx.GrantRole(ctx, b); err != nil {
			return notFound(err, "user %q not found", g.Principal)
		}
		m.audit(cairn.AuditRoleGranted, "user:"+g.Principal, nil, b)
		out = b
		return nil
	})
	return out, err
}

// RevokeRole removes a binding (admin). ENOTFOUND if there is none. An
// admin cannot remove its own admin role on "*".
func (s *Service) RevokeRole(ctx context.Context, g RoleGrant) error {
	if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
		return err
	}
	if err := g.validate(); err != nil {
		return err
	}
	if p := cairn.PrincipalFromContext(ctx); s.auth && p != nil && p.Name == g.Principal && g.Role == cairn.RoleAdmin && g.Scope == cairn.ScopeAll {
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "you cannot revoke your own admin role on *; ask another admin")
	}
	return s.update(ctx, func(m *mutation) error {
		if err := m.tx.RevokeRole(ctx, g.Principal, g.Role, g.Scope); err != nil {
			return notFound(err, "%s has no %s role on %q", g.Principal, g.Role, g.Scope)
		}
		m.audit(cairn.AuditRoleRevoked, "user:"+g.Principal, g, nil)
		return nil
	})
}

// ListRoleBindings lists the bindings of a principal, or of everyone for
// "" (admin, or the principal itself).
func (s *Service) ListRoleBindings(ctx context.Context, principal string) ([]cairn.RoleBinding, error) {
	if principal == "" {
		if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
			return nil, err
		}
	} else if err := s.authorizeSelf(ctx, principal); err != nil {
		return nil, err
	}
	return s.store.ListRoleBindings(ctx, principal)
}

// AuthorizeAny checks that the caller holds need on some scope, for front
// doors that look records up before changing them (runs, experiments) and
// must not tell a caller without the role whether they exist.
func (s *Service) AuthorizeAny(ctx context.Context, need cairn.Role) error {
	return s.authorizeAny(ctx, need)
}
