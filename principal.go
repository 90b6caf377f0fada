package cairn

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// PrincipalKind says what kind of identity a principal is.
type PrincipalKind string

// Principal kinds: people, and service accounts (CI pipelines, deployment
// systems) that authenticate with tokens only.
const (
	KindUser    PrincipalKind = "user"
	KindService PrincipalKind = "service"
)

// ParsePrincipalKind validates a principal kind; "" means user.
func ParsePrincipalKind(s string) (PrincipalKind, error) {
	switch PrincipalKind(s) {
	case "":
		return KindUser, nil
	case KindUser, KindService:
		return PrincipalKind(s), nil
	}
	return "", Errorf(EINVALID, "invalid principal kind %q: want user or service", truncate(s, 40))
}

// User is an identity that can authenticate: a person or a service
// account. PasswordHash is a slow-KDF hash (never the password) and is
// never serialized; service accounts have none.
type User struct {
	Name         string        `json:"name"`
	Kind         PrincipalKind `json:"kind"`
	HasPassword  bool          `json:"has_password"`
	PasswordHash string        `json:"-"`
	Disabled     bool          `json:"disabled"`
	CreatedBy    string        `json:"created_by"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
	Roles        []RoleBinding `json:"roles"`
}

// UserPage is one page of users.
type UserPage struct {
	Items     []*User `json:"items"`
	NextToken string  `json:"next_page_token"`
}

// Token is an API token. The secret is shown once, when it is created; the
// store keeps only Hash, its SHA-256, which is never serialized.
type Token struct {
	ID         string     `json:"id"`
	User       string     `json:"user"`
	Name       string     `json:"name"`
	Hash       string     `json:"-"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// Active reports whether the token may authenticate at t.
func (t *Token) Active(at time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || at.Before(*t.ExpiresAt))
}

// Role is what a principal may do on a scope. reader < writer <
// maintainer < admin form a ladder, each granting what the ones below it
// grant; approver stands beside them (it grants reader and the right to
// approve promotions) and admin grants it too.
type Role string

// Roles.
const (
	RoleReader     Role = "reader"
	RoleWriter     Role = "writer"
	RoleMaintainer Role = "maintainer"
	RoleAdmin      Role = "admin"
	RoleApprover   Role = "approver"
)

// Roles lists every role, weakest first.
var Roles = []Role{RoleReader, RoleWriter, RoleMaintainer, RoleAdmin, RoleApprover}

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", Errorf(EINVALID, "invalid role %q: want reader, writer, maintainer, approver or admin", truncate(s, 40))
}

func (r Role) rank() int {
	switch r {
	case RoleReader:
		return 1
	case RoleWriter:
		return 2
	case RoleMaintainer:
		return 3
	case RoleAdmin:
		return 4
	}
	return 0
}

// Grants reports whether holding r allows what need requires.
func (r Role) Grants(need Role) bool {
	switch {
	case r == need, r == RoleAdmin:
		return true
	case need == RoleApprover:
		return false
	case r == RoleApprover:
		return need == RoleReader
	}
	return r.rank() >= need.rank() && need.rank() > 0
}

// ScopeAll is the scope of every model.
const ScopeAll = "*"

// ValidateScope checks a scope: "*" or a model-name glob in which '*'
// matches any run of characters (fraud-*, *-prod, churn). Other
// characters match themselves.
func ValidateScope(s string) error {
	if s == "" {
		return Errorf(EINVALID, "scope is empty: want * or a model-name glob such as fraud-*")
	}
	if n := utf8.RuneCountInString(s); n > MaxNameLength {
		return Errorf(EINVALID, "scope is %d characters long; the limit is %d", n, MaxNameLength)
	}
	if err := ValidateModelName(strings.ReplaceAll(s, "*", "x")); err != nil {
		return Errorf(EINVALID, "invalid scope %q: %s", truncate(s, 60), ErrorMessage(err))
	}
	return nil
}

// ScopeMatches reports whether a model name falls under a scope glob.
func ScopeMatches(scope, name string) bool {
	parts := strings.Split(scope, "*")
	if len(parts) == 1 {
		return scope == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(name, p)
		if i < 0 {
			return false
		}
		name = name[i+len(p):]
	}
	return len(name) >= len(last) && strings.HasSuffix(name, last)
}

// ScopeFilter returns a filter matching the models whose name falls under
// one of the scopes, for stores to AND with a list's filter: each glob
// becomes name LIKE with a bound pattern (ScopeLikePattern). Nil if a
// scope is "*" (everything matches) or scopes is empty (the caller handles
// "nothing").
func ScopeFilter(scopes []string) *Filter {
	var root Expr
	for _, s := range scopes {
		if s == ScopeAll {
			return nil
		}
		e := &CmpExpr{Field: Field{Name: "name"}, Op: "LIKE", Value: Value{Kind: ValueString, Str: ScopeLikePattern(s)}}
		if root == nil {
			root = e
		} else {
			root = &OrExpr{L: root, R: e}
		}
	}
	if root == nil {
		return nil
	}
	return &Filter{Root: root}
}

// ScopeLikePattern turns a scope glob into the pattern of an SQL LIKE with
// ESCAPE '\': '*' becomes %, and LIKE's own %, _ and \ are escaped.
func ScopeLikePattern(scope string) string {
	var b strings.Builder
	for _, r := range scope {
		switch r {
		case '*':
			b.WriteByte('%')
		case '%', '_', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// AndFilters returns a AND b; either may be nil.
func AndFilters(a, b *Filter) *Filter {
	switch {
	case a == nil || a.Root == nil:
		return b
	case b == nil || b.Root == nil:
		return a
	}
	return &Filter{Root: &AndExpr{L: a.Root, R: b.Root}}
}

// RoleBinding grants a role on a scope to a principal.
type RoleBinding struct {
	Principal string    `json:"principal"`
	Role      Role      `json:"role"`
	Scope     string    `json:"scope"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// Principal is an authenticated identity with its role bindings, as the
// HTTP middleware established it for one request.
type Principal struct {
	Name  string
	Kind  PrincipalKind
	Roles []RoleBinding
}

// Allows reports whether the principal holds a role granting need on the
// model name (a scope glob matching it). name "" asks for a role granting
// need on some scope ("may this principal do need anywhere?").
func (p *Principal) Allows(need Role, name string) bool {
	for _, b := range p.Roles {
		if b.Role.Grants(need) && (name == "" || ScopeMatches(b.Scope, name)) {
			return true
		}
	}
	return false
}

// AllowsAll reports whether the principal holds a role granting need on
// scope "*".
func (p *Principal) AllowsAll(need Role) bool {
	for _, b := range p.Roles {
		if b.Role.Grants(need) && b.Scope == ScopeAll {
			return true
		}
	}
	return false
}

// Scopes returns the scopes on which the principal holds a role granting
// need, or nil if one of them is "*".
func (p *Principal) Scopes(need Role) []string {
	out := []string{}
	for _, b := range p.Roles {
		if b.Role.Grants(need) {
			if b.Scope == ScopeAll {
				return nil
			}
			out = append(out, b.Scope)
		}
	}
	return out
}

const principalKey ctxKey = 100

// NewContextWithPrincipal returns a context carrying the authenticated
// principal of the request.
func NewContextWithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// PrincipalFromContext returns the authenticated principal, or nil.
func PrincipalFromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey).(*Principal)
	return p
}

// ValidateUserName checks a user or service-account name: 1 to 128
// characters of letters, digits and . _ @ -, starting with a letter or
// digit (e-mail addresses and service-account names fit).
func ValidateUserName(name string) error {
	if name == "" {
		return Errorf(EINVALID, "user name is empty")
	}
	if len(name) > 128 {
		return Errorf(EINVALID, "user name is %d characters long; the limit is 128", len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			i > 0 && (c == '.' || c == '_' || c == '@' || c == '-')
		if !ok {
			return Errorf(EINVALID, "invalid user name %q: use letters, digits and . _ @ -, starting with a letter or digit", truncate(name, 60))
		}
	}
	return nil
}

// Audit actions of identity changes. They are written to the audit log
// only, never to the event feed: webhooks and feed readers see registry
// content, not who holds which credential.
const (
	AuditUserCreated  = "user.created"
	AuditUserUpdated  = "user.updated"
	AuditUserDeleted  = "user.deleted"
	AuditTokenCreated = "token.created"
	AuditTokenRevoked = "token.revoked"
	AuditRoleGranted  = "role.granted"
	AuditRoleRevoked  = "role.revoked"
)
