package httpapi_test

import (
	"encoding/base64"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
	"github.com/cairn-registry/cairn/internal/registry"
)

// clock is a settable time for the registry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newAuthEnv starts a server with auth on and returns it with a client
// for the bootstrap admin.
func newAuthEnv(t *testing.T, clk *clock) (*apitest.Env, *client.Client) {
	t.Helper()
	opts := registry.Options{Auth: true, PasswordIterations: 1000}
	if clk != nil {
		opts.Now = clk.now
	}
	e := apitest.New(t, apitest.Options{Registry: opts})
	secret, err := e.Service.Bootstrap(t.Context())
	if err != nil || !strings.HasPrefix(secret, cairn.TokenPrefix) {
		t.Fatalf("Bootstrap = %q, %v", secret, err)
	}
	// A second bootstrap does nothing: there are users.
	if again, err := e.Service.Bootstrap(t.Context()); err != nil || again != "" {
		t.Fatalf("second Bootstrap = %q, %v; want nothing", again, err)
	}
	return e, client.New(e.Server.URL, client.WithToken(secret), client.WithHTTPClient(e.Server.Client()))
}

func as(e *apitest.Env, token string) *client.Client {
	return client.New(e.Server.URL, client.WithToken(token), client.WithHTTPClient(e.Server.Client()))
}

func TestTokenExpiryAndRevocation(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e, admin := newAuthEnv(t, clk)
	ctx := t.Context()
	if _, err := admin.CreateUser(ctx, client.UserCreate{Name: "ci", Kind: cairn.KindService}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.GrantRole(ctx, client.RoleGrant{Principal: "ci", Role: cairn.RoleWriter, Scope: "*"}); err != nil {
		t.Fatal(err)
	}
	short, err := admin.CreateToken(ctx, "ci", client.TokenCreate{Name: "short", ExpiresIn: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	long, err := admin.CreateToken(ctx, "ci", client.TokenCreate{Name: "long"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(short.Secret, cairn.TokenPrefix) || short.ExpiresAt == nil || !short.ExpiresAt.Equal(clk.now().Add(time.Hour)) {
		t.Fatalf("short token = %+v", short)
	}
	for _, tk := range []*client.NewToken{short, long} {
		id, err := as(e, tk.Secret).WhoAmI(ctx)
		if err != nil || id.Name != "ci" || !id.Verified || id.Kind != cairn.KindService {
			t.Fatalf("WhoAmI with %s = %+v, %v", tk.Name, id, err)
		}
	}
	// The store keeps a hash, never the secret.
	stored, err := e.Store.ListTokens(ctx, "ci")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stored {
		if s.Hash == short.Secret || s.Hash == long.Secret || s.Hash != cairn.HashToken(map[string]string{short.ID: short.Secret, long.ID: long.Secret}[s.ID]) {
			t.Errorf("token %s stored as %q", s.ID, s.Hash)
		}
	}

	clk.add(2 * time.Hour)
	if _, err := as(e, short.Secret).WhoAmI(ctx); !cairn.IsCode(err, cairn.EUNAUTHENTICATED) {
		t.Errorf("expired token: %v, want unauthenticated", err)
	}
	if _, err := as(e, long.Secret).WhoAmI(ctx); err != nil {
		t.Errorf("unexpired token: %v", err)
	}
	if err := admin.RevokeToken(ctx, "ci", long.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := as(e, long.Secret).WhoAmI(ctx); !cairn.IsCode(err, cairn.EUNAUTHENTICATED) {
		t.Errorf("revoked token: %v, want unauthenticated", err)
	}
	list, err := admin.ListTokens(ctx, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("%d tokens listed, want 2", len(list))
	}
	for _, tk := range list {
		if tk.ID == long.ID && (tk.RevokedAt == nil || tk.LastUsedAt == nil) || tk.ID == short.ID && tk.RevokedAt != nil {
			t.Errorf("token %s (%s) listed revoked at %v, last used %v", tk.ID, tk.Name, tk.RevokedAt, tk.LastUsedAt)
		}
	}
	// Lists never carry secrets or hashes.
	resp, body := raw(t, e, "GET", "/api/v1/users/ci/tokens", "", "Authorization: Bearer "+adminSecret(t, e, admin))
	if resp.StatusCode != 200 || strings.Contains(string(body), long.Secret) || strings.Contains(string(body), cairn.HashToken(long.Secret)) || strings.Contains(string(body), "hash") {
		t.Errorf("token list: %d %s", resp.StatusCode, body)
	}
	// Revoking is for admins and the owner only; an unknown token is not found.
	if err := admin.RevokeToken(ctx, "ci", "nope"); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("revoke unknown token: %v, want not_found", err)
	}
}

// adminSecret creates a fresh admin token for raw requests.
func adminSecret(t *testing.T, e *apitest.Env, admin *client.Client) string {
	t.Helper()
	tk, err := admin.CreateToken(t.Context(), registry.BootstrapAdmin, client.TokenCreate{Name: "raw"})
	if err != nil {
		t.Fatal(err)
	}
	return tk.Secret
}

func TestLastUsedWrittenAtMostOncePerMinute(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e, admin := newAuthEnv(t, clk)
	ctx := t.Context()
	tk, err := admin.CreateToken(ctx, registry.BootstrapAdmin, client.TokenCreate{})
	if err != nil {
		t.Fatal(err)
	}
	lastUsed := func() time.Time {
		got, err := e.Store.GetTokenByHash(ctx, cairn.HashToken(tk.Secret))
		if err != nil || got.LastUsedAt == nil {
			t.Fatalf("token: %+v, %v", got, err)
		}
		return *got.LastUsedAt
	}
	c := as(e, tk.Secret)
	if _, err := c.WhoAmI(ctx); err != nil {
		t.Fatal(err)
	}
	first := lastUsed()
	clk.add(30 * time.Second)
	if _, err := c.WhoAmI(ctx); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); !got.Equal(first) {
		t.Errorf("last used moved to %v after 30s, want it kept at %v", got, first)
	}
	clk.add(31 * time.Second)
	if _, err := c.WhoAmI(ctx); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); !got.Equal(clk.now()) {
		t.Errorf("last used %v after 61s, want %v", got, clk.now())
	}
}

func TestPasswordsAndSelfService(t *testing.T) {
	e, admin := newAuthEnv(t, nil)
	ctx := t.Context()
	if _, err := admin.CreateUser(ctx, client.UserCreate{Name: "ann", Password: "short"}); !cairn.IsCode(err, cairn.EINVALID) {
		t.Errorf("short password: %v, want invalid", err)
	}
	if _, err := admin.CreateUser(ctx, client.UserCreate{Name: "bot", Kind: cairn.KindService, Password: "long enough password"}); !cairn.IsCode(err, cairn.EINVALID) {
		t.Errorf("service account with a password: %v, want invalid", err)
	}
	u, err := admin.CreateUser(ctx, client.UserCreate{Name: "ann", Password: "correct horse battery"})
	if err != nil || !u.HasPassword {
		t.Fatalf("CreateUser = %+v, %v", u, err)
	}
	if _, err := admin.CreateUser(ctx, client.UserCreate{Name: "ann"}); !cairn.IsCode(err, cairn.ECONFLICT) {
		t.Errorf("duplicate user: %v, want conflict", err)
	}
	stored, err := e.Store.GetUser(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored.PasswordHash, "pbkdf2-sha256$") || strings.Contains(stored.PasswordHash, "correct horse") {
		t.Errorf("stored password hash %q", stored.PasswordHash)
	}
	basic := func(user, pass string) string {
		return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	resp, body := raw(t, e, "GET", "/api/v1/whoami", "", basic("ann", "correct horse battery"))
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"name":"ann"`) {
		t.Fatalf("whoami with ann's password: %d %s", resp.StatusCode, body)
	}
	// ann has no role: she may read herself and make her own tokens, nothing else.
	resp, body = raw(t, e, "POST", "/api/v1/users/ann/tokens", `{"name":"mine"}`, basic("ann", "correct horse battery"))
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("ann creates her token: %d %s", resp.StatusCode, body)
	}
	resp, body = raw(t, e, "GET", "/api/v1/users/admin", "", basic("ann", "correct horse battery"))
	wantProblem(t, resp, body, http.StatusForbidden, cairn.EPERMISSION)
	resp, body = raw(t, e, "GET", "/api/v1/models", "", basic("ann", "correct horse battery"))
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"items":[]`) {
		t.Errorf("ann lists models with no role: %d %s, want an empty list", resp.StatusCode, body)
	}
	// ann changes her password; the old one stops working (despite the
	// verification cache), the new one works.
	resp, body = raw(t, e, "PATCH", "/api/v1/users/ann", `{"password":"a brand new password"}`, basic("ann", "correct horse battery"))
	if resp.StatusCode != 200 {
		t.Fatalf("ann changes her password: %d %s", resp.StatusCode, body)
	}
	resp, body = raw(t, e, "GET", "/api/v1/whoami", "", basic("ann", "correct horse battery"))
	wantProblem(t, resp, body, http.StatusUnauthorized, cairn.EUNAUTHENTICATED)
	resp, _ = raw(t, e, "GET", "/api/v1/whoami", "", basic("ann", "a brand new password"))
	if resp.StatusCode != 200 {
		t.Errorf("new password: %d", resp.StatusCode)
	}
	// ann cannot disable herself or anyone (admin only); an admin can.
	resp, body = raw(t, e, "PATCH", "/api/v1/users/ann", `{"disabled":true}`, basic("ann", "a brand new password"))
	wantProblem(t, resp, body, http.StatusForbidden, cairn.EPERMISSION)
	if _, err := admin.UpdateUser(ctx, "ann", client.UserUpdate{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	resp, body = raw(t, e, "GET", "/api/v1/whoami", "", basic("ann", "a brand new password"))
	wantProblem(t, resp, body, http.StatusUnauthorized, cairn.EUNAUTHENTICATED)
	// The admin cannot lock itself out.
	if err := admin.DeleteUser(ctx, registry.BootstrapAdmin); !cairn.IsCode(err, cairn.EFAILEDPRECONDITION) {
		t.Errorf("admin deletes itself: %v, want failed_precondition", err)
	}
	if err := admin.RevokeRole(ctx, client.RoleGrant{Principal: registry.BootstrapAdmin, Role: cairn.RoleAdmin, Scope: "*"}); !cairn.IsCode(err, cairn.EFAILEDPRECONDITION) {
		t.Errorf("admin revokes its own admin role: %v, want failed_precondition", err)
	}
	// Identity changes are audited, and kept out of the event feed.
	entries, err := e.Store.ListAudit(ctx, cairn.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, a := range entries {
		actions[a.Action]++
		if strings.Contains(string(a.After), "correct horse") || strings.Contains(string(a.After), "pbkdf2") {
			t.Errorf("audit entry %s holds a password or hash: %s", a.Action, a.After)
		}
	}
	for _, want := range []string{cairn.AuditUserCreated, cairn.AuditUserUpdated, cairn.AuditTokenCreated, cairn.AuditRoleGranted} {
		if actions[want] == 0 {
			t.Errorf("no %s audit entry; got %v", want, actions)
		}
	}
	evs, err := e.Store.ListEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if strings.HasPrefix(ev.Type, "user.") || strings.HasPrefix(ev.Type, "token.") || strings.HasPrefix(ev.Type, "role.") {
			t.Errorf("event %s in the feed", ev.Type)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestLoginRateLimit(t *testing.T) {
	e, admin := newAuthEnv(t, nil)
	valid := "Authorization: Bearer " + adminSecret(t, e, admin)
	wrong := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("admin:wrong password!"))
	for i := range 10 {
		resp, body := raw(t, e, "GET", "/api/v1/whoami", "", wrong)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %s, want 401", i+1, resp.StatusCode, body)
		}
	}
	resp, body := raw(t, e, "GET", "/api/v1/whoami", "", wrong)
	p := wantProblem(t, resp, body, http.StatusTooManyRequests, cairn.EUNAUTHENTICATED)
	if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q", ra)
	}
	if !strings.Contains(e.Logs.String(), `"msg":"login attempts rate-limited"`) || !strings.Contains(e.Logs.String(), p.RequestID) {
		t.Error("the refusal is not logged with its request id")
	}
	// While the IP's bucket is empty even valid credentials are refused:
	// they are not checked at all, so guessing gains nothing.
	resp, body = raw(t, e, "GET", "/api/v1/whoami", "", valid)
	wantProblem(t, resp, body, http.StatusTooManyRequests, cairn.EUNAUTHENTICATED)
}

func TestUnauthenticatedChallenges(t *testing.T) {
	e, _ := newAuthEnv(t, nil)
	for _, path := range []string{"/healthz", "/readyz", "/api/v1/openapi.json", "/metrics"} {
		resp, _ := raw(t, e, "GET", path, "")
		if resp.StatusCode != 200 {
			t.Errorf("GET %s without credentials: %d, want 200 (public)", path, resp.StatusCode)
		}
	}
	for _, h := range []string{"", "Authorization: Bearer", "Authorization: Basic !!!", "Authorization: Token abc", "Authorization: Bearer cairn_nope"} {
		var hdr []string
		if h != "" {
			hdr = []string{h}
		}
		resp, body := raw(t, e, "GET", "/api/v1/models", "", hdr...)
		wantProblem(t, resp, body, http.StatusUnauthorized, cairn.EUNAUTHENTICATED)
		if got := resp.Header.Values("WWW-Authenticate"); len(got) != 2 || !strings.HasPrefix(got[0], "Bearer") || !strings.HasPrefix(got[1], "Basic") {
			t.Errorf("%q: WWW-Authenticate = %q", h, got)
		}
	}
	// X-Cairn-User is no credential when auth is on.
	resp, body := raw(t, e, "GET", "/api/v1/models", "", "X-Cairn-User: admin")
	wantProblem(t, resp, body, http.StatusUnauthorized, cairn.EUNAUTHENTICATED)
}

// A reader of fraud-* downloads the blobs of fraud-* models and no other:
// blob reads are checked against the models that refer to the blob.
func TestBlobReadsFollowScopes(t *testing.T) {
	e, admin := newAuthEnv(t, nil)
	ctx := t.Context()
	dir := t.TempDir()
	push := func(model, content string) cairn.Digest {
		t.Helper()
		path := dir + "/" + model
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Push(ctx, model, []string{path}, cairn.VersionSpec{}, client.PushOptions{}); err != nil {
			t.Fatal(err)
		}
		return cairn.DigestOf([]byte(content))
	}
	mine, theirs := push("fraud-1", "fraud weights"), push("churn", "churn weights")
	user := func(name string, role cairn.Role) string {
		t.Helper()
		if _, err := admin.CreateUser(ctx, client.UserCreate{Name: name}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.GrantRole(ctx, client.RoleGrant{Principal: name, Role: role, Scope: "fraud-*"}); err != nil {
			t.Fatal(err)
		}
		tk, err := admin.CreateToken(ctx, name, client.TokenCreate{})
		if err != nil {
			t.Fatal(err)
		}
		return "Authorization: Bearer " + tk.Secret
	}
	reader, writer := user("fraud-reader", cairn.RoleReader), user("fraud-writer", cairn.RoleWriter)
	for _, tc := range []struct {
		who, method string
		d           cairn.Digest
		status      int
	}{
		{reader, "GET", mine, 200},
		{reader, "HEAD", mine, 200},
		{reader, "GET", theirs, 403},
		{reader, "HEAD", theirs, 403},
		{writer, "GET", theirs, 403},
		{writer, "HEAD", theirs, 200}, // a push asks which blobs exist before referring to them
		{reader, "GET", cairn.DigestOf([]byte("nowhere")), 403},
	} {
		resp, body := raw(t, e, tc.method, "/api/v1/blobs/"+string(tc.d), "", tc.who)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s as %s: %d %s, want %d", tc.method, tc.d, strings.Fields(tc.who)[2][:12], resp.StatusCode, body, tc.status)
		}
	}
}
