package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
)

// step runs the built cairn binary as a pipeline step would: with
// CAIRN_URL and CAIRN_TOKEN in its environment, in dir.
type step struct {
	t     *testing.T
	bin   string
	url   string
	token string
	dir   string
}

// run runs cairn with args and returns its stdout; stderr goes into the
// failure message when want is not the exit code.
func (c step) run(want int, args ...string) string {
	c.t.Helper()
	stdout, _ := c.run2(want, args...)
	return stdout
}

// run2 is run that returns stderr too, for the steps that read the
// CLI's error report (the approval request a pending move opened).
func (c step) run2(want int, args ...string) (string, string) {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "CAIRN_URL="+c.url, "CAIRN_TOKEN="+c.token)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		c.t.Fatalf("cairn %s: %v", strings.Join(args, " "), err)
	}
	if code != want {
		c.t.Fatalf("cairn %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

// json runs cairn with --json and decodes its answer into v.
func (c step) json(v any, args ...string) {
	c.t.Helper()
	out := c.run(0, append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("cairn %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// as returns the same CLI acting with another token.
func (c step) as(token string) step { c.token = token; return c }

// delivery is the part of a webhook delivery (the Standard Webhooks
// envelope of docs/webhooks.md) that the CI system acts on.
type delivery struct {
	Type string `json:"type"`
	Data struct {
		Seq     int64  `json:"seq"`
		Model   string `json:"model"`
		Alias   string `json:"alias"`
		Payload struct {
			Version int64 `json:"version"` // of an alias.set and of a version record alike
		} `json:"payload"`
	} `json:"data"`
}

// receiver is the CI system's webhook endpoint: it checks each delivery's
// signature and queues it as a job; the test plays the CI runner and
// takes the jobs in order.
type receiver struct {
	t      *testing.T
	secret string
	jobs   chan delivery
	seen   map[string]bool // webhook-id: deliveries are at least once
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := verifySignature(rc.secret, r.Header, body); err != nil {
		rc.t.Errorf("receiver: %v", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var d delivery
	if err := json.Unmarshal(body, &d); err != nil {
		rc.t.Errorf("receiver: %v: %s", err, body)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := r.Header.Get("webhook-id")
	if !rc.seen[id] { // one delivery at a time per subscription: no lock needed
		rc.seen[id] = true
		rc.jobs <- d
	}
	w.WriteHeader(http.StatusNoContent)
}

func verifySignature(secret string, h http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if v, b64, ok := strings.Cut(sig, ","); ok && v == "v1" {
			if got, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return fmt.Errorf("no valid signature on delivery %s", h.Get("webhook-id"))
}

// next waits for the CI system's next job. The wait is bounded so that a
// lost delivery fails the test instead of hanging it.
func (rc *receiver) next(t *testing.T, what string) delivery {
	t.Helper()
	select {
	case d := <-rc.jobs:
		return d
	case <-time.After(60 * time.Second):
		t.Fatalf("no webhook delivery for %s within 60 s", what)
		return delivery{}
	}
}

var (
	tokenLine = regexp.MustCompile(`(?m)^\s+(cairn_\S+)\s*$`)
	// pendingHint is the hint line of a move that opened an approval
	// request (exit 6), naming the request.
	pendingHint = regexp.MustCompile(`(?m)^hint: .*'cairn approvals show (\S+)'`)
)

// TestMLOpsLoop is the CI/CD recipe of docs/cicd.md run end to end
// against the built binary: a training pipeline registers versions and
// moves staging; the webhook turns that into a CI job which pulls and
// validates the candidate, registers an evaluation and asks to promote it
// to production; production is protected by a policy gate (a condition
// over the version's metrics and its linked fairness evaluation, and one
// approval by someone other than the requester), so the move waits until
// a person approves it; a deploy step resolves production and verifies
// every byte; a monitoring signal flags the deployed version, the webhook
// turns the flag into a retraining job, and the retrained version goes
// through the same gate into production. Every step is a `cairn` command,
// as in a shell pipeline.
func TestMLOpsLoop(t *testing.T) {
	tmp := t.TempDir()

	secretKey := make([]byte, 32)
	if _, err := rand.Read(secretKey); err != nil {
		t.Fatal(err)
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString(secretKey)
	rc := &receiver{t: t, secret: secret, jobs: make(chan delivery, 16), seen: map[string]bool{}}
	ci := httptest.NewServer(rc)
	t.Cleanup(ci.Close)

	srv := startServer(t, "--data", filepath.Join(tmp, "data"), "--auth", "--webhook-allow-cidr", "127.0.0.1/32")
	m := tokenLine.FindStringSubmatch(srv.stderr.String())
	if m == nil {
		t.Fatalf("no bootstrap admin token on stderr:\n%s", srv.stderr)
	}
	admin := step{t: t, bin: cairnBinary(t), url: srv.URL, token: m[1], dir: tmp}

	// Identities: the training pipeline and the CI system share a service
	// account; monitoring has its own; a person approves promotions.
	tokenOf := func(user string) string {
		var nt struct {
			Secret string `json:"secret"`
		}
		admin.json(&nt, "tokens", "create", "--owner", user, "--name", "loop")
		if nt.Secret == "" {
			t.Fatalf("no token for %s", user)
		}
		return nt.Secret
	}
	admin.run(0, "users", "create", "ci-bot", "--service")
	admin.run(0, "users", "create", "monitor", "--service")
	admin.run(0, "users", "create", "alice")
	admin.run(0, "roles", "grant", "ci-bot", "maintainer", "churn*")
	admin.run(0, "roles", "grant", "monitor", "writer", "churn")
	admin.run(0, "roles", "grant", "alice", "approver", "churn")
	pipeline := admin.as(tokenOf("ci-bot"))
	monitor := admin.as(tokenOf("monitor"))
	approver := admin.as(tokenOf("alice"))

	// Policy: production is protected by a gate: the version's AUC, a
	// fairness evaluation linked to it, and one approval by someone other
	// than the requester. Drift above 0.2 flags a version.
	writeFile(t, filepath.Join(tmp, "policy.json"), `{
  "scope": "churn",
  "protected_aliases": [{"alias": "production", "approvals": 1, "conditions": [
    {"name": "auc", "expr": "version.metrics.auc >= 0.9"},
    {"name": "fairness", "expr": "\"fairness\" in evaluations && evaluations.fairness.metrics.demographic_parity <= 0.05"}
  ]}],
  "signals": {"drift": 0.2}
}`)
	admin.run(0, "policy", "create", "churn-prod", "-f", "policy.json")

	// The CI system subscribes to alias moves and flags of churn.
	writeFile(t, filepath.Join(tmp, "secret"), secret)
	admin.run(0, "webhooks", "create", ci.URL+"/cairn", "--model", "churn",
		"--event", "alias.set", "--event", "version.flagged",
		"--secret-file", "secret", "--description", "CI: validate, promote, retrain")

	// 1. The training pipeline registers two versions and stages the second.
	begin := time.Now()
	train := func(n int, auc string, extra ...string) {
		dir := filepath.Join(tmp, "train", strconv.Itoa(n))
		writeFile(t, filepath.Join(dir, "model.pkl"), fmt.Sprintf("weights of run %d", n))
		writeFile(t, filepath.Join(dir, "requirements.txt"), "scikit-learn==1.5.2\n")
		args := append([]string{"push", "churn", dir, "--metric", "auc=" + auc, "--deps", "requirements.txt",
			"--framework", "sklearn", "--run-id", "train-" + strconv.Itoa(n)}, extra...)
		if got := strings.TrimSpace(pipeline.run(0, args...)); got != fmt.Sprintf("churn@v%d", n) {
			t.Fatalf("push %d printed %q", n, got)
		}
	}
	train(1, "0.86")
	train(2, "0.91")
	pipeline.run(0, "alias", "set", "churn", "staging", "2")

	// No approval can make a failing condition pass: v1 (AUC 0.86, no
	// fairness evaluation) is refused outright and no request is opened.
	if _, stderr := pipeline.run2(1, "alias", "set", "churn", "production", "1"); !strings.Contains(stderr, "churn-prod/auc") || !strings.Contains(stderr, "churn-prod/fairness") {
		t.Fatalf("promoting churn@v1 past the gate: stderr %q, want both failing conditions named", stderr)
	}

	// 2. The CI job for a staged version: pull it with its record, check
	// it, register the evaluation, ask to promote it. Production is
	// protected, so the move opens an approval request (exit 6) instead.
	promote := func(job delivery) (int64, string) {
		t.Helper()
		if job.Type != cairn.EventAliasSet || job.Data.Alias != "staging" {
			t.Fatalf("CI job %+v, want an alias.set of staging", job)
		}
		ref := fmt.Sprintf("churn@v%d", job.Data.Payload.Version)
		dir := filepath.Join(tmp, "ci", ref)
		pipeline.run(0, "pull", ref, "-o", dir)
		v := verifyPulled(t, dir)
		if v.Metrics["auc"] < 0.9 || v.Dependencies != "requirements.txt" {
			t.Fatalf("CI validation of %s: auc %v, dependencies %q", ref, v.Metrics["auc"], v.Dependencies)
		}
		report := filepath.Join(tmp, "reports", ref)
		writeFile(t, filepath.Join(report, "fairness.html"), "<p>demographic parity 0.03 on "+ref+"</p>")
		pipeline.run(0, "push", "churn-eval", report, "--kind", "evaluation", "--evaluates", ref, "--tag", "evaluation=fairness",
			"--metric", "demographic_parity=0.03", "--metric", "auc_holdout="+strconv.FormatFloat(v.Metrics["auc"]-0.01, 'f', 2, 64))
		_, stderr := pipeline.run2(6, "alias", "set", "churn", "production", strconv.FormatInt(v.Number, 10))
		m := pendingHint.FindStringSubmatch(stderr)
		if m == nil {
			t.Fatalf("alias set production of %s exited 6 without naming the approval request:\n%s", ref, stderr)
		}
		return v.Number, m[1]
	}

	// The approver: finds the pending request, checks it, approves it; the
	// move applies itself. The requester cannot approve its own request.
	approve := func(id string, n, from int64) {
		t.Helper()
		var pending struct {
			Items []cairn.ApprovalRequest `json:"items"`
		}
		approver.json(&pending, "approvals", "list", "--model", "churn")
		if len(pending.Items) != 1 {
			t.Fatalf("pending requests on churn: %+v, want 1", pending.Items)
		}
		r := pending.Items[0]
		if r.ID != id || r.Alias != "production" || r.Version != n || r.FromVersion != from ||
			r.RequestedBy != "ci-bot" || r.Required != 1 || r.Status != cairn.RequestPending {
			t.Fatalf("pending request %+v, want %s: production → v%d from v%d, by ci-bot, 1 approval", r, id, n, from)
		}
		// Nothing moved yet: production still points where it did.
		if from == 0 {
			pipeline.run(3, "alias", "show", "churn", "production")
		} else {
			var al cairn.Alias
			pipeline.json(&al, "alias", "show", "churn", "production")
			if al.Version != from {
				t.Fatalf("production moved to v%d before the approval; want v%d", al.Version, from)
			}
		}
		pipeline.run(5, "approvals", "approve", id, "--comment", "looks good to me")
		var done cairn.ApprovalRequest
		approver.json(&done, "approvals", "approve", id, "--comment", "fairness report reviewed")
		if done.Status != cairn.RequestApplied || len(done.Approvals) != 1 || done.Approvals[0].Actor != "alice" {
			t.Fatalf("approved request %+v, want applied with alice's approval", done)
		}
	}

	n, id := promote(rc.next(t, "staging churn@v2"))
	if n != 2 {
		t.Fatalf("asked to promote v%d, want v2", n)
	}
	approve(id, 2, 0)
	// The approved move is an alias.set like any other; the deployment
	// follows it.
	if job := rc.next(t, "production churn@v2"); job.Data.Alias != "production" || job.Data.Payload.Version != 2 {
		t.Fatalf("unexpected job %+v, want production → v2", job)
	}

	// 3. The deploy step resolves production and verifies what it fetched.
	deploy := func(want int64) {
		t.Helper()
		dir := filepath.Join(tmp, "deploy", strconv.FormatInt(want, 10))
		pipeline.run(0, "pull", "churn@production", "-o", dir)
		if v := verifyPulled(t, dir); v.Number != want {
			t.Fatalf("production is v%d, want v%d", v.Number, want)
		}
	}
	deploy(2)
	var evals struct {
		Items []cairn.Version `json:"items"`
	}
	pipeline.json(&evals, "evaluations", "list", "churn@production")
	if len(evals.Items) != 1 || evals.Items[0].Metrics["demographic_parity"] != 0.03 {
		t.Fatalf("evaluations of production: %+v", evals.Items)
	}

	// 4. Monitoring reports drift above the policy's threshold: the
	// version is flagged and the CI system is told.
	var sig cairn.Signal
	monitor.json(&sig, "signal", "churn@production", "--kind", "drift", "--value", "0.31", "--detail", "PSI on tenure, last 7 days")
	if !sig.Flagged || sig.Version != 2 || sig.Threshold == nil || *sig.Threshold != 0.2 {
		t.Fatalf("signal = %+v, want churn@v2 flagged at threshold 0.2", sig)
	}
	job := rc.next(t, "version.flagged")
	if job.Type != cairn.EventVersionFlagged || job.Data.Payload.Version != 2 {
		t.Fatalf("retraining trigger = %+v, want version.flagged of churn@v2", job)
	}

	// 5. The retraining job registers v3 as retrained from the flagged
	// version and stages it; the same CI job and the same gate promote it;
	// deployment follows.
	train(3, "0.93", "--retrained-from", fmt.Sprintf("churn@v%d", job.Data.Payload.Version))
	pipeline.run(0, "alias", "set", "churn", "staging", "3")
	n, id = promote(rc.next(t, "staging churn@v3"))
	if n != 3 {
		t.Fatalf("asked to promote v%d, want v3", n)
	}
	approve(id, 3, 2)
	if job := rc.next(t, "production churn@v3"); job.Data.Alias != "production" || job.Data.Payload.Version != 3 {
		t.Fatalf("unexpected job %+v, want production → v3", job)
	}
	deploy(3)
	elapsed := time.Since(begin)

	var g struct {
		Edges []cairn.Edge `json:"edges"`
	}
	pipeline.json(&g, "lineage", "churn@v3", "--depth", "1")
	found := false
	for _, e := range g.Edges {
		if e.Type == cairn.EdgeRetrainedFrom && e.From.String() == "churn@v2" {
			found = true
		}
	}
	if !found {
		t.Errorf("churn@v3 has no retrained_from edge from churn@v2: %+v", g.Edges)
	}
	var flagged cairn.Version
	pipeline.json(&flagged, "show", "churn@v2")
	if !flagged.Flagged || flagged.Flag == nil || flagged.Flag.Signal != sig.ID {
		t.Errorf("churn@v2 after the loop: flagged %v, flag %+v", flagged.Flagged, flagged.Flag)
	}
	// Both promotions are on record: the version says approved, and the
	// alias history shows both moves.
	var v3 cairn.Version
	pipeline.json(&v3, "show", "churn@v3")
	if v3.ApprovalStatus != cairn.ApprovalApproved {
		t.Errorf("churn@v3 approval_status %q, want approved", v3.ApprovalStatus)
	}
	var hist struct {
		Items []cairn.AliasMove `json:"items"`
	}
	pipeline.json(&hist, "alias", "history", "churn", "production")
	var moves []string
	for _, mv := range hist.Items {
		moves = append(moves, fmt.Sprintf("v%d→v%d", mv.From, mv.To))
	}
	if got := strings.Join(moves, " "); got != "v2→v3 v0→v2" {
		t.Errorf("production's history (newest first): %s, want v2→v3 v0→v2", got)
	}
	t.Logf("the loop (2 trainings, 2 CI validations with evaluations, 2 gated promotions approved by a person, 2 deployments, a drift signal, a retraining) took %v",
		elapsed.Round(time.Millisecond))
}

// verifyPulled checks every file of a pulled directory against the
// version record pull wrote beside them, independently of the client's
// own checks, and returns the record.
func verifyPulled(t *testing.T, dir string) *cairn.Version {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ".cairn-version.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v cairn.Version
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	for _, f := range v.Files {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if got := cairn.Digest("sha256:" + hex.EncodeToString(sum[:])); got != f.Digest || int64(len(data)) != f.Size {
			t.Fatalf("%s/%s: %d bytes with %s; the record says %d with %s", dir, f.Path, len(data), got, f.Size, f.Digest)
		}
	}
	return &v
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
