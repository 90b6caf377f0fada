package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn/internal/cli"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
	"github.com/cairn-registry/cairn/internal/registry"
)

// The identity commands against a server with auth on: the admin creates
// a user with a password from stdin, grants it a scoped role and a token;
// the user sees itself, may not list users, revokes its own token.
func TestUsersTokensRoles(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{Registry: registry.Options{Auth: true, PasswordIterations: 1000}})
	adminToken, err := e.Service.Bootstrap(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	run := func(token, stdin string, args ...string) (string, string, int) {
		t.Helper()
		var out, errb bytes.Buffer
		env := map[string]string{"CAIRN_URL": e.Server.URL, "CAIRN_TOKEN": token}
		code := cli.Run(context.Background(), args, cli.Env{
			Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
			Getenv: func(k string) string { return env[k] },
		})
		return out.String(), errb.String(), code
	}
	admin := func(stdin string, args ...string) (string, string, int) { return run(adminToken, stdin, args...) }
	want := func(what string, code, wantCode int, stderr string) {
		t.Helper()
		if code != wantCode {
			t.Fatalf("%s: exit %d, want %d; stderr %s", what, code, wantCode, stderr)
		}
	}

	out, errs, code := admin("a long enough password\nignored\n", "users", "create", "alice", "--password-stdin")
	want("users create", code, 0, errs)
	if !regexp.MustCompile(`(?m)^password:\s+yes$`).MatchString(out) || !regexp.MustCompile(`(?m)^roles:\s+-$`).MatchString(out) {
		t.Errorf("users create printed:\n%s", out)
	}
	_, errs, code = admin("", "users", "create", "alice")
	want("duplicate user", code, 4, errs)
	_, errs, code = admin("pw pw pw pw pw\n", "users", "create", "bot", "--service", "--password-stdin")
	want("service account with a password", code, 2, errs)
	_, errs, code = admin("", "users", "create", "bob", "--password-stdin")
	want("empty stdin", code, 2, errs)
	_, errs, code = admin("", "roles", "grant", "alice", "overlord")
	want("unknown role", code, 2, errs)
	_, errs, code = admin("", "roles", "grant", "nobody", "reader")
	want("grant to an unknown user", code, 3, errs)
	_, errs, code = admin("", "roles", "grant", "alice", "writer", "fraud-*")
	want("roles grant", code, 0, errs)
	out, errs, code = admin("", "roles", "list", "alice")
	want("roles list", code, 0, errs)
	if !regexp.MustCompile(`(?m)^alice\s+writer\s+fraud-\*\s+`).MatchString(out) {
		t.Errorf("roles list alice:\n%s", out)
	}

	out, errs, code = admin("", "tokens", "create", "--owner", "alice", "--name", "laptop", "--expires-in", "1h")
	want("tokens create", code, 0, errs)
	secret := strings.TrimSpace(out)
	if !regexp.MustCompile(`^cairn_[A-Za-z0-9_-]{43}$`).MatchString(secret) || !strings.Contains(errs, "only time its secret is shown") {
		t.Fatalf("tokens create: stdout %q, stderr %q", out, errs)
	}

	out, errs, code = run(secret, "", "users", "whoami")
	want("whoami", code, 0, errs)
	if !regexp.MustCompile(`(?m)^name:\s+alice$`).MatchString(out) || !strings.Contains(out, "writer on fraud-*") {
		t.Errorf("whoami:\n%s", out)
	}
	_, errs, code = run(secret, "", "users", "list")
	want("users list as alice", code, 5, errs)
	out, errs, code = run(secret, "", "tokens", "list", "--json")
	want("tokens list as alice", code, 0, errs)
	var list struct {
		Items []struct {
			ID, Name string
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Items) != 1 || list.Items[0].Name != "laptop" || strings.Contains(out, secret) {
		t.Fatalf("tokens list --json: %v\n%s", err, out)
	}
	_, errs, code = run(secret, "", "tokens", "revoke", list.Items[0].ID)
	want("tokens revoke", code, 0, errs)
	_, errs, code = run(secret, "", "users", "whoami")
	want("whoami with a revoked token", code, 5, errs)

	out, errs, code = admin("", "users", "list")
	want("users list", code, 0, errs)
	if !regexp.MustCompile(`(?m)^admin\s+user\s+no\s+no\s+admin on \*$`).MatchString(out) || !strings.Contains(out, "alice") {
		t.Errorf("users list:\n%s", out)
	}
	_, errs, code = admin("", "users", "update", "alice", "--disable")
	want("users update --disable", code, 0, errs)
	_, errs, code = admin("", "users", "update", "alice")
	want("users update with nothing to change", code, 2, errs)
	_, errs, code = admin("", "roles", "revoke", "alice", "writer", "fraud-*")
	want("roles revoke", code, 0, errs)
	_, errs, code = admin("", "users", "delete", "alice")
	want("users delete", code, 0, errs)
	_, errs, code = admin("", "users", "show", "alice")
	want("users show a deleted user", code, 3, errs)
}
