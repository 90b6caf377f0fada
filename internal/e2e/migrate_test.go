package e2e

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/testenv"
)

// apiDump is everything the REST API shows of a registry, read through the
// client.
type apiDump struct {
	Models       []*cairn.Model
	Versions     map[string][]*cairn.Version
	Aliases      map[string]*cairn.Alias
	AliasHistory map[string][]*cairn.AliasMove
	Runs         []*cairn.Run
	Metrics      map[string][]cairn.MetricPoint
	Lineage      map[string]*registry.LineageGraph
	Audit        []*cairn.AuditEntry
	Events       []*cairn.Event
	Files        map[string]string // ref/path → sha256 of the bytes downloaded
	Policies     [][]*cairn.Policy // every policy, deleted ones too, with all its versions
	Approvals    []*cairn.ApprovalRequest
}

func takeAPIDump(t *testing.T, ctx context.Context, cl *client.Client) *apiDump {
	t.Helper()
	d := &apiDump{Versions: map[string][]*cairn.Version{}, Aliases: map[string]*cairn.Alias{},
		AliasHistory: map[string][]*cairn.AliasMove{}, Metrics: map[string][]cairn.MetricPoint{},
		Lineage: map[string]*registry.LineageGraph{}, Files: map[string]string{}}
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for token := ""; ; {
		p, err := cl.ListModels(ctx, client.ListRequest{PageSize: 2, PageToken: token})
		check(err)
		d.Models = append(d.Models, p.Items...)
		if token = p.NextToken; token == "" {
			break
		}
	}
	for _, m := range d.Models {
		for token := ""; ; {
			p, err := cl.ListVersions(ctx, m.Name, client.ListRequest{PageSize: 2, PageToken: token})
			check(err)
			d.Versions[m.Name] = append(d.Versions[m.Name], p.Items...)
			if token = p.NextToken; token == "" {
				break
			}
		}
		for a := range m.Aliases {
			al, err := cl.GetAlias(ctx, m.Name, a)
			check(err)
			d.Aliases[m.Name+"@"+a] = al
		}
		h, err := cl.AliasHistory(ctx, m.Name, "", 1000, "")
		check(err)
		d.AliasHistory[m.Name] = h.Items
		for _, v := range d.Versions[m.Name] {
			for _, dir := range []cairn.Direction{cairn.Upstream, cairn.Downstream} {
				g, err := cl.Lineage(ctx, v.Ref(), dir, 10)
				check(err)
				d.Lineage[v.Ref()+" "+string(dir)] = g
			}
			for _, f := range v.Files {
				r, _, err := cl.OpenBlob(ctx, f.Digest)
				check(err)
				h := sha256.New()
				_, err = io.Copy(h, r)
				r.Close()
				check(err)
				d.Files[v.Ref()+"/"+f.Path] = fmt.Sprintf("sha256:%x", h.Sum(nil))
			}
		}
	}
	runs, err := cl.ListRuns(ctx, "", 1000, "")
	check(err)
	d.Runs = runs.Items
	for _, r := range d.Runs {
		for k := range r.Metrics {
			h, err := cl.MetricHistory(ctx, r.ID, k)
			check(err)
			d.Metrics[r.ID+"/"+k] = h
		}
	}
	for after := int64(0); ; {
		p, err := cl.ListAudit(ctx, cairn.AuditQuery{AfterSeq: after, Limit: 5})
		check(err)
		if len(p.Items) == 0 {
			break
		}
		d.Audit = append(d.Audit, p.Items...)
		after = p.NextAfter
	}
	for after := int64(0); ; {
		p, err := cl.ListEvents(ctx, after, 5, 0)
		check(err)
		if len(p.Items) == 0 {
			break
		}
		d.Events = append(d.Events, p.Items...)
		after = p.NextAfter
	}
	ps, err := cl.ListPolicies(ctx, true)
	check(err)
	for _, p := range ps {
		vs, err := cl.ListPolicyVersions(ctx, p.Name)
		check(err)
		d.Policies = append(d.Policies, vs)
	}
	for token := ""; ; {
		p, err := cl.ListApprovals(ctx, client.ApprovalList{PageSize: 1, PageToken: token})
		check(err)
		d.Approvals = append(d.Approvals, p.Items...)
		if token = p.NextToken; token == "" {
			break
		}
	}
	return d
}

// verifyAudit runs what `cairn audit verify` runs against a server.
func verifyAudit(t *testing.T, ctx context.Context, cl *client.Client) {
	t.Helper()
	rep, err := cl.VerifyAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Problem != nil || rep.Entries == 0 || rep.Entries != rep.Head {
		t.Fatalf("audit verify = %+v, problem %+v; want an intact chain", rep, rep.Problem)
	}
}

// pendingRequest returns the approval request a pending_approval answer
// names.
func pendingRequest(t *testing.T, err error) string {
	t.Helper()
	var se *client.StatusError
	if !cairn.IsCode(err, cairn.EPENDINGAPPROVAL) || !errors.As(err, &se) || se.ApprovalRequest == "" {
		t.Fatalf("moving a protected alias: %v, want pending_approval naming a request", err)
	}
	return se.ApprovalRequest
}

// migrateStore runs `cairn migrate-store` as its own process.
func migrateStore(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(cairnBinary(t), append([]string{"migrate-store"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cairn migrate-store %v: %v\nstderr:\n%s", args, err, stderr.String())
	}
	return string(out)
}

// TestMigrateStore: a registry served from a data directory is copied to
// PostgreSQL + S3 by `cairn migrate-store`; a server on the copy shows
// through the API exactly what the first showed, its audit chain verifies,
// and pushes continue its numbering; copied back into a new data
// directory, a third server shows the same again, and a fourth, on a data
// directory imported from an archive of the third's.
func TestMigrateStore(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three servers and two copies on PostgreSQL and S3; skipped with -short")
	}
	pgURL := testenv.PostgresURL(t)
	s3cfg := testenv.S3(t)
	c := ctx(t, 5*time.Minute)
	blobsURL := "s3://" + s3cfg.Bucket + "/migrated?" + url.Values{
		"endpoint": {s3cfg.Endpoint}, "region": {s3cfg.Region},
	}.Encode()
	awsEnv := []string{
		"AWS_ACCESS_KEY_ID=" + s3cfg.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s3cfg.SecretKey,
		"AWS_EC2_METADATA_DISABLED=true",
	}

	// A registry on a data directory, built through the API.
	dataA := t.TempDir()
	srvA := startServer(t, "--data", dataA)
	cl := client.New(srvA.URL, client.WithUser("alice"))
	src := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pushed := func(model string, spec cairn.VersionSpec, paths ...string) *cairn.Version {
		t.Helper()
		res, err := cl.Push(c, model, paths, spec, client.PushOptions{})
		if err != nil {
			t.Fatalf("push %s: %v", model, err)
		}
		return res.Version
	}
	pushed("data", cairn.VersionSpec{Kind: cairn.KindDataset}, write("d1/train.csv", "a,b\n1,2\n"))
	pushed("churn", cairn.VersionSpec{TrainingDataset: "data@v1", Metrics: map[string]float64{"auc": 0.8}, Aliases: []string{"champion"}},
		write("c1/model.bin", "weights 1"), write("c1/requirements.txt", "numpy"))
	pushed("churn", cairn.VersionSpec{DerivedFrom: []string{"churn@v1"}, Metrics: map[string]float64{"auc": 0.9}},
		write("c2/model.bin", strings.Repeat("weights 2\n", 100000)), write("c2/requirements.txt", "numpy"))
	pushed("churn", cairn.VersionSpec{}, write("c3/model.bin", "weights 3"))
	if _, err := cl.SetAlias(c, "churn", "champion", 2, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.SetAlias(c, "churn", "staging", 3, nil); err != nil {
		t.Fatal(err)
	}
	if err := cl.DeleteVersion(c, "churn", 3, true); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.RenameModel(c, "data", "transactions"); err != nil {
		t.Fatal(err)
	}
	run, err := cl.CreateRun(c, registry.RunCreate{Name: "train"})
	if err != nil {
		t.Fatal(err)
	}
	for step := range int64(3) {
		if err := cl.LogRun(c, run.ID, registry.RunLog{Metrics: []cairn.MetricPoint{
			{Key: "loss", Value: 1 / float64(step+1), Timestamp: time.Date(2026, 1, 1, 0, 0, int(step), 0, time.UTC), Step: step}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.LinkRun(c, run.ID, registry.RunLinks{Inputs: []string{"transactions@v1"}}); err != nil {
		t.Fatal(err)
	}
	// Governance: a policy (two versions) protecting churn@production,
	// a request bob approved (applied) and one still pending.
	gate := cairn.PolicySpec{Scope: "churn", ProtectedAliases: []cairn.Gate{{Alias: "production", Approvals: 1,
		Conditions: []cairn.Condition{{Name: "auc", Expr: "version.metrics.auc >= 0.8"}}}}}
	if _, err := cl.CreatePolicy(c, client.PolicyCreate{Name: "prod-gate", PolicySpec: gate}); err != nil {
		t.Fatal(err)
	}
	gate.Description = "one approval and a good AUC"
	if _, err := cl.UpdatePolicy(c, "prod-gate", gate); err != nil {
		t.Fatal(err)
	}
	bobA := client.New(srvA.URL, client.WithUser("bob"))
	_, err = cl.SetAlias(c, "churn", "production", 1, nil)
	if _, err := bobA.Approve(c, pendingRequest(t, err), client.Decision{Comment: "ok"}); err != nil {
		t.Fatal(err)
	}
	_, err = cl.SetAlias(c, "churn", "production", 2, nil)
	pendingID := pendingRequest(t, err)
	want := takeAPIDump(t, c, cl)
	srvA.stop(t)

	// To PostgreSQL + S3.
	out := migrateStore(t, awsEnv, "--from-data", dataA, "--to-db", pgURL, "--to-blobs", blobsURL)
	if !strings.Contains(out, "versions") {
		t.Errorf("migrate-store printed:\n%s", out)
	}
	srvB, err := startReplica(t, append(awsEnv, "CAIRN_DB="+pgURL, "CAIRN_BLOBS="+blobsURL))
	if err != nil {
		t.Fatal(err)
	}
	clB := client.New(srvB.URL, client.WithUser("bob"))
	if diff := cmp.Diff(want, takeAPIDump(t, c, clB)); diff != "" {
		t.Fatalf("the API on PostgreSQL + S3 differs (-data directory +copy):\n%s", diff)
	}
	checkAuditChain(t, c, clB)
	verifyAudit(t, c, clB)

	// The request pending on the source applies itself on the copy once
	// approved there.
	if _, err := clB.Approve(c, pendingID, client.Decision{}); err != nil {
		t.Fatal(err)
	}
	if a, err := clB.GetAlias(c, "churn", "production"); err != nil || a.Version != 2 {
		t.Fatalf("churn@production on the copy after the approval = %+v, %v; want v2", a, err)
	}

	// Writing on the copy continues every sequence.
	res, err := clB.Push(c, "churn", []string{write("c4/model.bin", "weights 4")}, cairn.VersionSpec{Aliases: []string{"champion"}}, client.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Version.Number != 4 {
		t.Errorf("the first push on the copy made churn@v%d, want v4", res.Version.Number)
	}
	audit := checkAuditChain(t, c, clB)
	events := checkEventSequence(t, c, clB)
	if len(audit) <= len(want.Audit) || len(events) <= len(want.Events) {
		t.Errorf("the push on the copy added no audit entries (%d → %d) or events (%d → %d)",
			len(want.Audit), len(audit), len(want.Events), len(events))
	}
	wantB := takeAPIDump(t, c, clB)
	srvB.stop(t)

	// And back to a new data directory.
	dataC := filepath.Join(t.TempDir(), "copy")
	migrateStore(t, awsEnv, "--from-db", pgURL, "--from-blobs", blobsURL, "--to-data", dataC)
	srvC := startServer(t, "--data", dataC)
	clC := client.New(srvC.URL)
	if diff := cmp.Diff(wantB, takeAPIDump(t, c, clC)); diff != "" {
		t.Fatalf("the API on the data directory copied back differs (-PostgreSQL + S3 +copy):\n%s", diff)
	}
	checkAuditChain(t, c, clC)
	verifyAudit(t, c, clC)
	srvC.stop(t)

	// Through an archive: export the copy, import it into a fourth data
	// directory, serve that.
	archive := filepath.Join(t.TempDir(), "registry.tar")
	exp := exec.Command(cairnBinary(t), "export", "--data", dataC, "-o", archive)
	if out, err := exp.CombinedOutput(); err != nil {
		t.Fatalf("cairn export: %v\n%s", err, out)
	}
	dataD := filepath.Join(t.TempDir(), "imported")
	imp := exec.Command(cairnBinary(t), "import", archive, "--data", dataD)
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("cairn import: %v\n%s", err, out)
	}
	srvD := startServer(t, "--data", dataD)
	clD := client.New(srvD.URL)
	if diff := cmp.Diff(wantB, takeAPIDump(t, c, clD)); diff != "" {
		t.Fatalf("the API on the imported archive differs (-PostgreSQL + S3 +imported):\n%s", diff)
	}
	checkAuditChain(t, c, clD)
	verifyAudit(t, c, clD)
}
