package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/cli"
)

// TestWebhooksCommands drives cairn webhooks and cairn events tail against
// cairn serve, whose dispatcher delivers to a receiver on 127.0.0.1 that
// --webhook-allow-cidr lets through.
func TestWebhooksCommands(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var types []string
	fail := false
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p struct {
			Type string `json:"type"`
		}
		json.Unmarshal(body, &p)
		mu.Lock()
		defer mu.Unlock()
		if fail {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get("webhook-signature") == "" {
			http.Error(w, "unsigned", http.StatusUnauthorized)
			return
		}
		types = append(types, p.Type)
		w.Write([]byte("thanks"))
	}))
	t.Cleanup(rcv.Close)
	received := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), types...)
	}

	s := serveInProcess(t, t.TempDir(), map[string]string{"CAIRN_WEBHOOK_RETRY_WINDOW": "1m"},
		"--addr", "127.0.0.1:0", "--webhook-allow-cidr", "127.0.0.1/32")
	ctx := context.Background()
	run := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := cli.Run(ctx, append(args, "--url", s.first), cli.Env{
			Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" },
		})
		return code, out.String(), errb.String()
	}

	code, out, errOut := run("webhooks", "create", rcv.URL+"/hook", "--event", "model.*", "--json")
	var created client.WebhookCreated
	if err := json.Unmarshal([]byte(out), &created); code != 0 || err != nil || !strings.HasPrefix(created.Secret, "whsec_") {
		t.Fatalf("webhooks create = %d, %+v\nstdout: %s\nstderr: %s", code, created, out, errOut)
	}
	id := created.ID
	code, out, _ = run("webhooks", "show", id)
	if code != 0 || !strings.Contains(out, rcv.URL) || strings.Contains(out, created.Secret) || !strings.Contains(out, "delivered up to") {
		t.Errorf("webhooks show = %d (must not show the secret):\n%s", code, out)
	}
	code, out, _ = run("webhooks", "list")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "model.*") {
		t.Errorf("webhooks list = %d:\n%s", code, out)
	}

	code, out, errOut = run("webhooks", "test", id)
	if code != 0 || !strings.Contains(out, "200") || !strings.Contains(out, "thanks") {
		t.Errorf("webhooks test = %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	if code, _, errOut := run("models", "create", "churn"); code != 0 {
		t.Fatalf("models create: %s", errOut)
	}
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(strings.Join(received(), " "), "model.created") {
		if time.Now().After(deadline) {
			t.Fatalf("the receiver got %v, no model.created", received())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := received(); got[0] != "webhook.test" || len(got) != 2 {
		t.Errorf("received %v, want the test ping then model.created", got)
	}

	// The attempt is recorded once the receiver has answered.
	for {
		code, out, _ = run("webhooks", "deliveries", id)
		if code != 0 || strings.Contains(out, "model.created") || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code != 0 || !strings.Contains(out, "model.created") || !strings.Contains(out, "delivered") || !strings.Contains(out, "webhook.test") {
		t.Errorf("webhooks deliveries = %d:\n%s", code, out)
	}

	metrics, err := client.New(s.first).Metrics(ctx)
	if err != nil || !strings.Contains(metrics, `cairn_webhook_attempts_total{outcome="delivered"} 1`) ||
		!strings.Contains(metrics, `cairn_webhook_attempts_total{outcome="test"} 1`) {
		t.Errorf("metrics (%v):\n%s", err, metrics)
	}

	// A failing receiver: the test command says so and exits 1.
	mu.Lock()
	fail = true
	mu.Unlock()
	code, out, errOut = run("webhooks", "test", id)
	if code != 1 || !strings.Contains(out, "503") || !strings.Contains(out, "down for maintenance") || !strings.Contains(errOut, "test delivery failed") {
		t.Errorf("webhooks test of a failing receiver = %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	code, out, _ = run("webhooks", "update", id, "--active=false", "--event", "alias.*", "--event", "model.created", "--webhook-url", rcv.URL+"/v2")
	if code != 0 || !strings.Contains(out, "alias.*,model.created") || !strings.Contains(out, "no") || !strings.Contains(out, "/v2") {
		t.Errorf("webhooks update = %d:\n%s", code, out)
	}
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte("whsec_"+strings.Repeat("QUJD", 8)+"\n"), 0o600)
	if code, _, errOut := run("webhooks", "update", id, "--secret-file", secretFile); code != 0 {
		t.Errorf("webhooks update --secret-file = %d: %s", code, errOut)
	}
	if code, _, errOut := run("webhooks", "update", id); code != 2 || !strings.Contains(errOut, "nothing to change") {
		t.Errorf("webhooks update without flags = %d: %s", code, errOut)
	}

	code, out, _ = run("webhooks", "deliveries", id, "--dead")
	if code != 0 || !strings.Contains(out, "SEQ") {
		t.Errorf("webhooks deliveries --dead = %d:\n%s", code, out)
	}
	code, _, errOut = run("webhooks", "redeliver", id)
	if code != 0 || !strings.Contains(errOut, "no dead letters") {
		t.Errorf("webhooks redeliver = %d: %s", code, errOut)
	}
	if code, _, errOut := run("webhooks", "redeliver", id, "1"); code != 3 {
		t.Errorf("webhooks redeliver of no dead letter = %d, want 3: %s", code, errOut)
	}

	// The feed, followed and filtered.
	if code, _, errOut := run("models", "create", "fraud"); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut = run("events", "tail", "--type", "model.*", "--max", "2", "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("events tail = %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	for i, name := range []string{"churn", "fraud"} {
		var ev cairn.Event
		if err := json.Unmarshal([]byte(lines[i]), &ev); err != nil || ev.Type != cairn.EventModelCreated || ev.Model != name {
			t.Errorf("events tail line %d: %s (%v)", i, lines[i], err)
		}
	}
	code, out, _ = run("events", "tail", "--model", "fr*", "--type", "model.created", "--max", "1")
	if code != 0 || !strings.Contains(out, "model.created") || !strings.Contains(out, "fraud") {
		t.Errorf("events tail --model = %d:\n%s", code, out)
	}

	if code, _, errOut := run("webhooks", "delete", id); code != 0 {
		t.Errorf("webhooks delete: %s", errOut)
	}
	if code, _, _ := run("webhooks", "show", id); code != 3 {
		t.Errorf("webhooks show after delete = %d, want 3", code)
	}
	if code, _, errOut := run("webhooks", "create", "http://example.com/", "--event", "a.["); code != 1 || !strings.Contains(errOut, "glob") {
		t.Errorf("create with a bad glob = %d: %s", code, errOut)
	}
}

// TestServeWebhookSettingsRefused: malformed allow-lists and retry windows
// are usage errors.
func TestServeWebhookSettingsRefused(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--webhook-allow-cidr", "10.0.0.0/33"},
		{"--webhook-allow-cidr", "localhost"},
		{"--webhook-retry-window", "5s"},
	} {
		var out, errb bytes.Buffer
		code := cli.Run(context.Background(), append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), cli.Env{
			Stdout: &out, Stderr: &errb, Dir: t.TempDir(), Getenv: func(string) string { return "" },
		})
		if code != 2 {
			t.Errorf("serve %v = %d, want 2\nstderr: %s", args, code, errb.String())
		}
	}
}

// TestWebhookHeaderFlags: --header and --header-file put custom headers
// on every delivery; the CLI shows only their names, update replaces
// and deletes them, and a transport or signature header is refused.
func TestWebhookHeaderFlags(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []http.Header
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
	}))
	t.Cleanup(rcv.Close)
	last := func() http.Header {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 {
			return nil
		}
		return seen[len(seen)-1]
	}
	s := serveInProcess(t, t.TempDir(), nil, "--addr", "127.0.0.1:0", "--webhook-allow-cidr", "127.0.0.1/32")
	tmp := t.TempDir()
	run := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := cli.Run(context.Background(), append(args, "--url", s.first), cli.Env{
			Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }, Dir: tmp,
		})
		return code, out.String(), errb.String()
	}
	if err := os.WriteFile(filepath.Join(tmp, "headers.txt"), []byte("# GitHub\nX-Api-Key: key-from-file\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run("webhooks", "create", rcv.URL+"/hook", "--event", "model.created",
		"--header", "Authorization: Bearer tok-1", "--header-file", "headers.txt", "--json")
	var created client.WebhookCreated
	if err := json.Unmarshal([]byte(out), &created); code != 0 || err != nil ||
		strings.Join(created.HeaderNames, ",") != "Authorization,X-Api-Key" || strings.Contains(out, "tok-1") || strings.Contains(out, "key-from-file") {
		t.Fatalf("webhooks create --header = %d, %+v\nstdout: %s\nstderr: %s", code, created, out, errOut)
	}
	code, out, _ = run("webhooks", "show", created.ID)
	if code != 0 || !strings.Contains(out, "Authorization, X-Api-Key (values hidden)") || strings.Contains(out, "tok-1") {
		t.Errorf("webhooks show = %d:\n%s", code, out)
	}
	if code, _, errOut := run("models", "create", "first"); code != 0 {
		t.Fatalf("models create: %s", errOut)
	}
	waitFor(t, "the first delivery", func() bool { return last() != nil })
	if h := last(); h.Get("Authorization") != "Bearer tok-1" || h.Get("X-Api-Key") != "key-from-file" {
		t.Errorf("delivery headers: %v", h)
	}

	code, out, errOut = run("webhooks", "update", created.ID, "--header", "authorization: Bearer tok-2", "--delete-header", "x-api-key", "--json")
	if code != 0 || !strings.Contains(out, `"header_names": [`) || strings.Contains(out, "tok-2") || strings.Contains(out, "X-Api-Key") {
		t.Errorf("webhooks update = %d:\n%s%s", code, out, errOut)
	}
	mu.Lock()
	n := len(seen)
	mu.Unlock()
	if code, _, errOut := run("models", "create", "second"); code != 0 {
		t.Fatalf("models create: %s", errOut)
	}
	waitFor(t, "the second delivery", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) > n })
	if h := last(); h.Get("Authorization") != "Bearer tok-2" || h.Get("X-Api-Key") != "" {
		t.Errorf("delivery headers after the update: %v", h)
	}

	if code, _, errOut := run("webhooks", "create", rcv.URL, "--header", "Host: evil.example"); code != 1 ||
		!strings.Contains(errOut, "cairn: webhook header Host cannot be set") {
		t.Errorf("--header Host = %d: %s", code, errOut)
	}
	if code, _, errOut := run("webhooks", "create", rcv.URL, "--header", "Bearer secret-token"); code != 2 ||
		!strings.Contains(errOut, "'Name: value'") || strings.Contains(errOut, "secret-token") {
		t.Errorf("--header without a name = %d: %s", code, errOut)
	}
	if code, _, errOut := run("webhooks", "update", created.ID, "--delete-header", "X-Nope"); code != 1 ||
		!strings.Contains(errOut, `no header "X-Nope"`) {
		t.Errorf("--delete-header of a missing header = %d: %s", code, errOut)
	}
}

// waitFor waits until cond holds, failing after a minute: a bound
// against hanging, not a timing assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
