package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
)

// tokenRE finds an API token in the server's stderr.
var tokenRE = regexp.MustCompile(`cairn_[A-Za-z0-9_-]{43}`)

// The first start with auth on and no users creates the admin and prints
// its token once, on stderr; a restart prints nothing; the token works,
// requests without it are refused, and the CLI manages users, tokens and
// roles with it.
func TestServeAuthBootstrap(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	s := startServe(t, cairnBin, []string{"CAIRN_AUTH=true"}, "--data", data)
	var secret string
	deadline := time.Now().Add(10 * time.Second)
	for secret == "" && time.Now().Before(deadline) {
		secret = tokenRE.FindString(s.stderr.String())
		time.Sleep(20 * time.Millisecond)
	}
	if secret == "" {
		t.Fatalf("no admin token on stderr:\n%s", s.stderr.String())
	}
	if strings.Count(s.stderr.String(), secret) != 1 {
		t.Errorf("the token is printed %d times, want once:\n%s", strings.Count(s.stderr.String(), secret), s.stderr.String())
	}
	if strings.Contains(s.stderr.String(), "NO AUTHENTICATION") {
		t.Error("the no-authentication warning is printed with auth on")
	}
	ctx := t.Context()
	anon := client.New(s.url)
	if _, err := anon.ListModels(ctx, client.ListRequest{}); !cairn.IsCode(err, cairn.EUNAUTHENTICATED) {
		t.Errorf("anonymous list: %v, want unauthenticated", err)
	}
	admin := client.New(s.url, client.WithToken(secret))
	id, err := admin.WhoAmI(ctx)
	if err != nil || id.Name != "admin" || !id.Verified || !id.Auth {
		t.Fatalf("WhoAmI = %+v, %v", id, err)
	}

	// The CLI, through the real binary: a user with a password from
	// stdin, a scoped role, a token for it.
	cli := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(cairnBin, args...)
		cmd.Env = append(os.Environ(), "CAIRN_URL="+s.url, "CAIRN_TOKEN="+secret)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	if _, e, code := cli("alice's password 1\n", "users", "create", "alice", "--password-stdin"); code != 0 {
		t.Fatalf("users create: exit %d: %s", code, e)
	}
	if _, e, code := cli("", "roles", "grant", "alice", "writer", "fraud-*"); code != 0 {
		t.Fatalf("roles grant: exit %d: %s", code, e)
	}
	out, e, code := cli("", "tokens", "create", "--owner", "alice", "--name", "laptop", "--expires-in", "1h")
	aliceToken := strings.TrimSpace(out)
	if code != 0 || !tokenRE.MatchString(aliceToken) || !strings.Contains(e, "only time") {
		t.Fatalf("tokens create: exit %d, stdout %q, stderr %q", code, out, e)
	}
	out, _, code = cli("", "users", "list")
	if code != 0 || !strings.Contains(out, "alice") || !strings.Contains(out, "writer on fraud-*") || !strings.Contains(out, "admin on *") {
		t.Errorf("users list: exit %d:\n%s", code, out)
	}
	// alice may push to fraud-*, not elsewhere (exit code 5).
	file := filepath.Join(t.TempDir(), "m.bin")
	if err := os.WriteFile(file, []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	aliceCLI := func(args ...string) (string, int) {
		cmd := exec.Command(cairnBin, args...)
		cmd.Env = append(os.Environ(), "CAIRN_URL="+s.url, "CAIRN_TOKEN="+aliceToken)
		b, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(b), ee.ExitCode()
		}
		return string(b), 0
	}
	if out, code := aliceCLI("push", "fraud-x", file); code != 0 {
		t.Errorf("alice pushes fraud-x: exit %d: %s", code, out)
	}
	if out, code := aliceCLI("push", "churn", file); code != 5 || !strings.Contains(out, "needs the writer role") {
		t.Errorf("alice pushes churn: exit %d: %s; want 5, permission denied", code, out)
	}
	// MLflow's basic auth with alice's password.
	req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/api/2.0/mlflow/registered-models/search", nil)
	req.SetBasicAuth("alice", "alice's password 1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("MLflow search with basic auth: %d", resp.StatusCode)
	}

	// A restart finds users and prints no token.
	s.stop(t)
	s2 := startServe(t, cairnBin, []string{"CAIRN_AUTH=true"}, "--data", data)
	defer s2.stop(t)
	time.Sleep(200 * time.Millisecond)
	if tokenRE.MatchString(s2.stderr.String()) {
		t.Errorf("a restart printed a token:\n%s", s2.stderr.String())
	}
	if _, err := client.New(s2.url, client.WithToken(secret)).WhoAmI(context.Background()); err != nil {
		t.Errorf("the bootstrap token after a restart: %v", err)
	}
}
