package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// Request and answer types of the identity routes.
type (
	// UserCreate creates a user or service account.
	UserCreate = registry.UserCreate
	// UserUpdate sets or removes a password, or disables a user.
	UserUpdate = registry.UserUpdate
	// TokenCreate names a new token and its lifetime.
	TokenCreate = registry.TokenCreate
	// NewToken is a created token with its secret, shown once.
	NewToken = registry.NewToken
	// RoleGrant names a role binding.
	RoleGrant = registry.RoleGrant
)

// Identity is who the server authenticated the client as.
type Identity struct {
	Name     string              `json:"name"`
	Kind     cairn.PrincipalKind `json:"kind,omitempty"`
	Verified bool                `json:"verified"`
	Auth     bool                `json:"auth"`
	Roles    []cairn.RoleBinding `json:"roles"`
}

// WhoAmI returns the identity the server sees, with its roles.
// unauthenticated without valid credentials on a server with auth on.
func (c *Client) WhoAmI(ctx context.Context) (*Identity, error) {
	var id Identity
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("whoami"), out: &id})
	return &id, err
}

// ListUsers lists one page of users with their roles (admin).
func (c *Client) ListUsers(ctx context.Context, pageSize int, pageToken string) (*cairn.UserPage, error) {
	q := url.Values{}
	if pageSize > 0 {
		q.Set("page_size", strconv.Itoa(pageSize))
	}
	if pageToken != "" {
		q.Set("page_token", pageToken)
	}
	var page cairn.UserPage
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("users"), query: q, out: &page})
	return &page, err
}

// CreateUser creates a user or service account (admin). conflict if the
// name is taken.
func (c *Client) CreateUser(ctx context.Context, in UserCreate) (*cairn.User, error) {
	var u cairn.User
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("users"), in: in, out: &u})
	return &u, err
}

// GetUser returns a user with its roles (admin, or the user itself).
func (c *Client) GetUser(ctx context.Context, name string) (*cairn.User, error) {
	var u cairn.User
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("users", name), out: &u})
	return &u, err
}

// UpdateUser changes a user's password or disabled flag.
func (c *Client) UpdateUser(ctx context.Context, name string, in UserUpdate) (*cairn.User, error) {
	var u cairn.User
	_, err := c.do(ctx, request{method: http.MethodPatch, path: apiPath("users", name), in: in, out: &u})
	return &u, err
}

// DeleteUser deletes a user with its tokens and roles (admin).
func (c *Client) DeleteUser(ctx context.Context, name string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: apiPath("users", name)})
	return err
}

// ListTokens lists a user's tokens, without secrets.
func (c *Client) ListTokens(ctx context.Context, user string) ([]*cairn.Token, error) {
	var out struct {
		Items []*cairn.Token `json:"items"`
	}
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("users", user, "tokens"), out: &out})
	return out.Items, err
}

// CreateToken creates an API token for a user; the answer's Secret is
// shown this once.
func (c *Client) CreateToken(ctx context.Context, user string, in TokenCreate) (*NewToken, error) {
	var tk NewToken
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("users", user, "tokens"), in: in, out: &tk})
	return &tk, err
}

// RevokeToken revokes a user's token at once.
func (c *Client) RevokeToken(ctx context.Context, user, id string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: apiPath("users", user, "tokens", id)})
	return err
}

// ListRoles lists role bindings: a principal's, or everyone's for "".
func (c *Client) ListRoles(ctx context.Context, principal string) ([]cairn.RoleBinding, error) {
	q := url.Values{}
	if principal != "" {
		q.Set("principal", principal)
	}
	var out struct {
		Items []cairn.RoleBinding `json:"items"`
	}
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("roles"), query: q, out: &out})
	return out.Items, err
}

// GrantRole grants a role on a scope (admin). conflict if it is held
// already.
func (c *Client) GrantRole(ctx context.Context, g RoleGrant) (*cairn.RoleBinding, error) {
	var b cairn.RoleBinding
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("roles"), in: g, out: &b})
	return &b, err
}

// RevokeRole removes a role binding (admin).
func (c *Client) RevokeRole(ctx context.Context, g RoleGrant) error {
	q := url.Values{"principal": {g.Principal}, "role": {string(g.Role)}, "scope": {g.Scope}}
	_, err := c.do(ctx, request{method: http.MethodDelete, path: apiPath("roles"), query: q})
	return err
}
