package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/cli"
)

// cairnIn runs the CLI in-process in dir and returns its exit code and
// output.
func cairnIn(t *testing.T, dir string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Run(t.Context(), args, cli.Env{Stdout: &stdout, Stderr: &stderr, Dir: dir,
		Getenv: func(k string) string { return env[k] }})
	return code, stdout.String(), stderr.String()
}

// A server given a key (by environment variable) signs checkpoints as the
// log grows; `cairn audit verify --public-key` checks them with the public
// half, and refuses them under another key.
func TestServeAuditCheckpoints(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errOut := cairnIn(t, dir, nil, "audit", "keygen", "--out", "audit-key", "--json")
	if code != 0 || !strings.Contains(out, `"key_id"`) {
		t.Fatalf("keygen exited %d: %s%s", code, out, errOut)
	}
	if fi, err := os.Stat(filepath.Join(dir, "audit-key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v, %v; want mode 0600", fi, err)
	}
	if code, _, errOut := cairnIn(t, dir, nil, "audit", "keygen", "--out", "audit-key"); code != 4 || !strings.Contains(errOut, "never overwrites") {
		t.Fatalf("keygen over an existing key exited %d: %s", code, errOut)
	}
	if code, _, _ := cairnIn(t, dir, nil, "audit", "keygen", "--out", "other-key"); code != 0 {
		t.Fatal("keygen other-key failed")
	}

	s := serveInProcess(t, dir, map[string]string{"CAIRN_AUDIT_KEY": "audit-key"},
		"--addr", "127.0.0.1:0", "--data", "data", "--audit-checkpoint-every", "2", "--audit-checkpoint-interval", "1s")
	ctx := t.Context()
	cl := client.New(s.first, client.WithUser("alice"))
	for _, name := range []string{"churn", "fraud", "spam"} {
		if _, err := cl.CreateModel(ctx, client.ModelCreate{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	// The checkpoint loop runs in the background: wait for it to cover
	// the three entries.
	deadline := time.Now().Add(time.Minute)
	for {
		page, err := cl.ListAuditCheckpoints(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(page.Items); n > 0 && page.Items[n-1].Seq == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of entry 3 within a minute: %+v; stderr:\n%s", page.Items, s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	env := map[string]string{"CAIRN_URL": s.first}
	code, out, errOut = cairnIn(t, dir, env, "audit", "verify", "--public-key", "audit-key.pub", "--json")
	if code != 0 {
		t.Fatalf("verify exited %d: %s%s", code, out, errOut)
	}
	var rep cairn.AuditReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Entries != 3 || rep.Checkpoints < 1 || rep.SignaturesChecked != rep.Checkpoints || rep.LastCheckpoint.Seq != 3 {
		t.Fatalf("verify = %+v", rep)
	}
	code, out, _ = cairnIn(t, dir, env, "audit", "verify", "--public-key", "audit-key.pub")
	if code != 0 || !strings.Contains(out, "intact") || !strings.Contains(out, "verified with key") {
		t.Fatalf("verify (table) exited %d:\n%s", code, out)
	}
	code, out, errOut = cairnIn(t, dir, env, "audit", "verify", "--public-key", "other-key.pub")
	if code != 1 || !strings.Contains(out, "BROKEN") || !strings.Contains(errOut, "forged or altered checkpoint") {
		t.Fatalf("verify with another key exited %d:\n%s%s", code, out, errOut)
	}
	code, _, errOut = cairnIn(t, dir, env, "audit", "verify", "--public-key", "audit-key")
	if code != 2 || !strings.Contains(errOut, "PUBLIC KEY") {
		t.Fatalf("verify with the private key file exited %d: %s", code, errOut)
	}
	code, out, _ = cairnIn(t, dir, env, "audit", "checkpoints")
	if code != 0 || !strings.Contains(out, "SEQ") {
		t.Fatalf("checkpoints exited %d:\n%s", code, out)
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d; stderr:\n%s", code, s.stderr.String())
	}
	// A bad key file stops serve before it listens.
	code, _, errOut = cairnIn(t, dir, nil, "serve", "--addr", "127.0.0.1:0", "--data", "data", "--audit-key", "audit-key.pub")
	if code != 2 || !strings.Contains(errOut, "PRIVATE KEY") {
		t.Fatalf("serve with a public key as --audit-key exited %d: %s", code, errOut)
	}
}
