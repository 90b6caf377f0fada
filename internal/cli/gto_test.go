package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/cli"
	"github.com/cairn-registry/cairn/internal/gto"
)

// TestGTOAndWebhookFormatCommands drives cairn import gto, cairn export
// gto, and cairn webhooks create --template / --format mlflow against
// cairn serve.
func TestGTOAndWebhookFormatCommands(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	s := serveInProcess(t, t.TempDir(), nil, "--addr", "127.0.0.1:0")
	tmp := t.TempDir()
	run := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := cli.Run(context.Background(), append(args, "--url", s.first), cli.Env{
			Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }, Dir: tmp,
		})
		return code, out.String(), errb.String()
	}

	// A GTO repository: one artifact, one registered version, in prod.
	repo := filepath.Join(tmp, "repo")
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@x", "GIT_COMMITTER_NAME=a",
			"GIT_COMMITTER_EMAIL=a@x", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	if err := os.MkdirAll(filepath.Join(repo, "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(repo, "artifacts.yaml"), []byte("churn:\n  type: model\n  path: m\n"), 0o644)
	os.WriteFile(filepath.Join(repo, "m", "w.bin"), []byte("weights"), 0o644)
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "c1")
	git("tag", "-a", "churn@v0.1.0#1", "-m", "first")
	git("tag", "-a", "churn#prod#2", "-m", "to prod")

	code, out, errOut := run("import", "gto", "repo", "--json")
	var rep gto.ImportReport
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || rep.VersionsCreated != 1 || rep.AliasesSet != 1 {
		t.Fatalf("import gto = %d %+v\nstdout: %s\nstderr: %s", code, rep, out, errOut)
	}
	code, out, _ = run("import", "gto", "repo")
	if code != 0 || !strings.Contains(out, "versions already there") {
		t.Errorf("import gto again = %d:\n%s", code, out)
	}
	// The stage's history shows the move with its GTO tag and tagger.
	code, out, errOut = run("alias", "history", "churn", "prod")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 2 ||
		!strings.Contains(lines[0], "ORIGIN") || !strings.Contains(lines[1], "gto churn#prod#2 by a <a@x> at ") {
		t.Errorf("alias history churn prod = %d:\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := run("import", "gto", "nowhere"); code != 1 || !strings.Contains(errOut, "cairn: ") {
		t.Errorf("import gto of a missing directory = %d: %s", code, errOut)
	}
	code, out, errOut = run("export", "gto", "out", "--json")
	var exp gto.ExportReport
	if err := json.Unmarshal([]byte(out), &exp); code != 0 || err != nil || exp.Tags != 2 {
		t.Fatalf("export gto = %d %+v\nstdout: %s\nstderr: %s", code, exp, out, errOut)
	}

	// Webhooks with a template file and in MLflow's format.
	os.WriteFile(filepath.Join(tmp, "t.json"), []byte(`{"text": "{{model}} moved"}`), 0o644)
	code, out, errOut = run("webhooks", "create", "https://example.com/h", "--template", "t.json", "--json")
	var w client.WebhookCreated
	var compact bytes.Buffer
	if err := json.Unmarshal([]byte(out), &w); code != 0 || err != nil || json.Compact(&compact, w.Template) != nil || compact.String() != `{"text":"{{model}} moved"}` {
		t.Fatalf("webhooks create --template = %d %s %s", code, out, errOut)
	}
	os.WriteFile(filepath.Join(tmp, "bad.json"), []byte(`{"text": "{{secret}}"}`), 0o644)
	if code, _, errOut := run("webhooks", "create", "https://example.com/h", "--template", "bad.json"); code != 1 || !strings.Contains(errOut, `template field "secret"`) {
		t.Errorf("a bad template = %d: %s", code, errOut)
	}
	if code, out, errOut := run("webhooks", "update", w.ID, "--no-template", "--json"); code != 0 || strings.Contains(out, "template") {
		t.Errorf("update --no-template = %d %s %s", code, out, errOut)
	}
	code, out, errOut = run("webhooks", "create", "https://example.com/m", "--format", "mlflow", "--name", "cd", "--event", "model_version.created")
	if code != 0 || !strings.Contains(out, "mlflow") {
		t.Errorf("webhooks create --format mlflow = %d %s %s", code, out, errOut)
	}
	if code, _, errOut := run("webhooks", "create", "https://example.com/m", "--format", "mlflow", "--event", "model_version.created"); code != 1 || !strings.Contains(errOut, "needs a name") {
		t.Errorf("mlflow format without a name = %d: %s", code, errOut)
	}
}
