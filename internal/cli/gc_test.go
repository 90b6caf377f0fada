package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/cli"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
)

// cairn gc reports by default, deletes with --delete, prints JSON with
// --json and exits 4 while another collection runs.
func TestGCCommand(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	orphan := []byte("an orphaned blob")
	d := cairn.DigestOf(orphan)
	if err := e.Client.PutBlob(ctx, d, int64(len(orphan)), bytes.NewReader(orphan)); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (code int, stdout, stderr string) {
		t.Helper()
		var out, errb bytes.Buffer
		code = cli.Run(ctx, append(args, "--url", e.Server.URL), cli.Env{
			Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" },
		})
		return code, out.String(), errb.String()
	}
	exists := func() bool { _, err := e.Blobs.Stat(ctx, d); return err == nil }

	// The blob is seconds old: the default grace (24h) keeps it.
	code, out, errOut := run("gc")
	if code != 0 || !strings.Contains(out, "dry run") || !strings.Contains(out, "1 (unreferenced, younger than 24h0m0s: kept)") {
		t.Errorf("cairn gc = %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// A grace of a nanosecond makes it a candidate; still a dry run.
	code, out, errOut = run("gc", "--grace", "1ns")
	if code != 0 || !strings.Contains(out, string(d)) || !strings.Contains(errOut, "run 'cairn gc --delete --grace 1ns' to free 16 B") || !exists() {
		t.Errorf("cairn gc --grace 1ns = %d (blob exists %v)\nstdout:\n%s\nstderr:\n%s", code, exists(), out, errOut)
	}

	code, out, errOut = run("gc", "--grace", "1ns", "--delete", "--json")
	var rep struct {
		DryRun     bool           `json:"dry_run"`
		Deleted    int            `json:"deleted"`
		BytesFreed int64          `json:"bytes_freed"`
		Digests    []cairn.Digest `json:"digests"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("cairn gc --json = %d: %v\nstdout:\n%s\nstderr:\n%s", code, err, out, errOut)
	}
	if code != 0 || rep.DryRun || rep.Deleted != 1 || rep.BytesFreed != int64(len(orphan)) || len(rep.Digests) != 1 || rep.Digests[0] != d || exists() {
		t.Errorf("cairn gc --delete = %d, %+v (blob exists %v)", code, rep, exists())
	}

	if code, _, errOut := run("gc", "--grace", "-1h"); code != 2 {
		t.Errorf("cairn gc --grace -1h = %d, want 2 (usage)\n%s", code, errOut)
	}

	now := time.Now()
	if err := e.Store.Update(ctx, func(tx cairn.Tx) error {
		_, err := tx.AcquireLease(ctx, "gc", "another replica", now, now.Add(time.Hour))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run("gc"); code != 4 || !strings.Contains(errOut, "another garbage collection") {
		t.Errorf("cairn gc while another runs = %d, want 4\n%s", code, errOut)
	}
}
