package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

func TestRunAndLineageRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.Client

	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	exp, err := e.Service.CreateExperiment(ctx, registry.ExperimentCreate{Name: "seven"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateRun(ctx, registry.RunCreate{ExperimentID: "7"})
	wantCode(t, err, cairn.ENOTFOUND)
	run, err := c.CreateRun(ctx, registry.RunCreate{ExperimentID: exp.ID, Name: "train", Tags: map[string]string{"k": "v"}, StartTime: &start})
	if err != nil || run.ID == "" || run.Status != cairn.RunRunning || !run.StartTime.Equal(start) || run.CreatedBy != "tester" {
		t.Fatalf("CreateRun = %+v, %v", run, err)
	}
	if _, err := c.CreateRun(ctx, registry.RunCreate{}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRun(ctx, run.ID)
	if err != nil || got.Name != "train" {
		t.Fatalf("GetRun = %+v, %v", got, err)
	}
	_, err = c.GetRun(ctx, "0123456789abcdef0123456789abcdef")
	wantCode(t, err, cairn.ENOTFOUND)

	page, err := c.ListRuns(ctx, exp.ID, 0, "")
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != run.ID {
		t.Fatalf("ListRuns(%s) = %+v, %v", exp.ID, page, err)
	}
	all, err := c.ListRuns(ctx, "", 1, "")
	if err != nil || len(all.Items) != 1 || all.NextToken == "" {
		t.Fatalf("ListRuns page = %+v, %v", all, err)
	}

	t1 := time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)
	err = c.LogRun(ctx, run.ID, registry.RunLog{
		Metrics: []cairn.MetricPoint{{Key: "loss", Value: 0.9, Step: 1, Timestamp: t1}, {Key: "loss", Value: 0.5, Step: 2, Timestamp: t1.Add(time.Minute)}},
		Params:  map[string]string{"lr": "0.01"},
		Tags:    map[string]string{"phase": "fit"},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = c.LogRun(ctx, run.ID, registry.RunLog{Params: map[string]string{"lr": "0.02"}})
	wantCode(t, err, cairn.ECONFLICT)
	hist, err := c.MetricHistory(ctx, run.ID, "loss")
	if err != nil || len(hist) != 2 || hist[0].Value != 0.9 || hist[1].Step != 2 {
		t.Fatalf("MetricHistory = %+v, %v", hist, err)
	}
	hist, err = c.MetricHistory(ctx, run.ID, "never/logged")
	if err != nil || hist == nil || len(hist) != 0 {
		t.Fatalf("MetricHistory of an unlogged key = %#v, %v", hist, err)
	}

	finished := cairn.RunFinished
	end := t1.Add(time.Hour)
	name := "train-1"
	up, err := c.UpdateRun(ctx, run.ID, registry.RunUpdate{Name: &name, Status: &finished, EndTime: &end, SetTags: map[string]string{"done": "yes"}})
	if err != nil || up.Status != cairn.RunFinished || up.EndTime == nil || !up.EndTime.Equal(end) || up.Name != name ||
		up.Tags["done"] != "yes" || up.Params["lr"] != "0.01" || up.Metrics["loss"] != 0.5 {
		t.Fatalf("UpdateRun = %+v, %v", up, err)
	}
	bad := cairn.RunStatus("DONE")
	_, err = c.UpdateRun(ctx, run.ID, registry.RunUpdate{Status: &bad})
	wantCode(t, err, cairn.EINVALID)

	// Lineage: data@v1 → run → model@v1, and model@v2 derived from model@v1.
	pushBytes(t, e, "data", map[string]string{"d.csv": "x,y"}, cairn.VersionSpec{Kind: cairn.KindDataset})
	pushBytes(t, e, "model", map[string]string{"w": "1"}, cairn.VersionSpec{RunID: run.ID})
	if err := c.LinkRun(ctx, run.ID, registry.RunLinks{Inputs: []string{"data@latest"}, Outputs: []string{"model@v1"}}); err != nil {
		t.Fatal(err)
	}
	// Edges into a version are fixed at finalize: a run its record does
	// not name cannot become its producer later, and the run's own output
	// cannot become its input (a cycle).
	other := must[*cairn.Run](t)(c.CreateRun(ctx, registry.RunCreate{Name: "other"}))
	err = c.LinkRun(ctx, other.ID, registry.RunLinks{Outputs: []string{"model@v1"}})
	wantCode(t, err, cairn.EFAILEDPRECONDITION)
	err = c.LinkRun(ctx, run.ID, registry.RunLinks{Inputs: []string{"model@v1"}})
	wantCode(t, err, cairn.EINVALID)
	pushBytes(t, e, "model", map[string]string{"w": "2"}, cairn.VersionSpec{DerivedFrom: []string{"model@v1"}})
	err = c.LinkRun(ctx, run.ID, registry.RunLinks{Inputs: []string{"nope@v1"}})
	wantCode(t, err, cairn.ENOTFOUND)

	g, err := c.Lineage(ctx, "model@v2", cairn.Upstream, 0)
	if err != nil {
		t.Fatal(err)
	}
	if g.Root != cairn.VersionNode("model", 2) || len(g.Edges) != 3 || len(g.Nodes) != 4 {
		t.Fatalf("upstream of model@v2 = %+v", g)
	}
	g, err = c.Lineage(ctx, "model@v2", cairn.Upstream, 1)
	if err != nil || len(g.Edges) != 1 || g.Edges[0].Type != cairn.EdgeDerivedFrom {
		t.Fatalf("upstream depth 1 = %+v, %v", g, err)
	}
	g, err = c.Lineage(ctx, "data@v1", cairn.Downstream, 5)
	if err != nil || len(g.Edges) != 3 {
		t.Fatalf("downstream of data@v1 = %+v, %v", g, err)
	}
	g, err = c.Lineage(ctx, "run:"+run.ID, cairn.Downstream, 1)
	if err != nil || g.Root != cairn.RunNode(run.ID) || len(g.Edges) != 1 {
		t.Fatalf("downstream of the run = %+v, %v", g, err)
	}
	for _, q := range []string{"?direction=sideways", "?depth=0", "?depth=101", "?depth=x"} {
		resp, body := raw(t, e, "GET", "/api/v1/lineage/model@v2"+q, "")
		wantProblem(t, resp, body, http.StatusBadRequest, cairn.EINVALID)
	}
}

func TestAuditAndEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.Client
	must[*cairn.Model](t)(c.CreateModel(ctx, registry.ModelCreate{Name: "a"}))
	must[*cairn.Model](t)(c.CreateModel(ctx, registry.ModelCreate{Name: "b"}))

	page, err := c.ListAudit(ctx, cairn.AuditQuery{})
	if err != nil || len(page.Items) != 2 || page.NextAfter != page.Items[1].Seq {
		t.Fatalf("ListAudit = %+v, %v", page, err)
	}
	first := page.Items[0]
	if first.Action != cairn.EventModelCreated || first.Target != "a" || first.Actor != "tester" || first.ActorVerified || first.RequestID == "" || first.Hash == "" {
		t.Fatalf("audit entry = %+v", first)
	}
	page, err = c.ListAudit(ctx, cairn.AuditQuery{AfterSeq: first.Seq})
	if err != nil || len(page.Items) != 1 || page.Items[0].Target != "b" {
		t.Fatalf("ListAudit after = %+v, %v", page, err)
	}
	page, err = c.ListAudit(ctx, cairn.AuditQuery{Target: "b", Action: cairn.EventModelCreated, Actor: "tester"})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("ListAudit filtered = %+v, %v", page, err)
	}
	page, err = c.ListAudit(ctx, cairn.AuditQuery{Since: first.Time.Add(time.Hour)})
	if err != nil || len(page.Items) != 0 || page.NextAfter != 0 {
		t.Fatalf("ListAudit since = %+v, %v", page, err)
	}
	page, err = c.ListAudit(ctx, cairn.AuditQuery{Limit: 1})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("ListAudit limit = %+v, %v", page, err)
	}
	for _, q := range []string{"?since=yesterday", "?limit=0", "?limit=1001", "?after=-1", "?target=a&bogus=1"} {
		resp, body := raw(t, e, "GET", "/api/v1/audit"+q, "")
		wantProblem(t, resp, body, http.StatusBadRequest, cairn.EINVALID)
	}

	ev, err := c.ListEvents(ctx, 0, 0, 0)
	if err != nil || len(ev.Items) != 2 || ev.Items[0].Type != cairn.EventModelCreated || ev.Items[0].Model != "a" {
		t.Fatalf("ListEvents = %+v, %v", ev, err)
	}
	last := ev.NextAfter
	ev, err = c.ListEvents(ctx, last, 0, 0)
	if err != nil || len(ev.Items) != 0 || ev.NextAfter != last {
		t.Fatalf("ListEvents at the head = %+v, %v", ev, err)
	}

	// Long-poll: the request waits until an event is committed.
	go func() {
		time.Sleep(400 * time.Millisecond)
		_, _ = c.CreateModel(ctx, registry.ModelCreate{Name: "late"})
	}()
	start := time.Now()
	ev, err = c.ListEvents(ctx, last, 10, 10*time.Second)
	waited := time.Since(start)
	if err != nil || len(ev.Items) != 1 || ev.Items[0].Model != "late" {
		t.Fatalf("long-poll = %+v, %v", ev, err)
	}
	if waited < 300*time.Millisecond || waited > 5*time.Second {
		t.Fatalf("long-poll returned after %v; want it to wait for the event, then return promptly", waited)
	}
	// And with nothing happening, it returns empty after the wait.
	start = time.Now()
	ev, err = c.ListEvents(ctx, ev.NextAfter, 10, time.Second)
	if err != nil || len(ev.Items) != 0 || time.Since(start) < 900*time.Millisecond {
		t.Fatalf("idle long-poll = %+v, %v after %v", ev, err, time.Since(start))
	}
	resp, body := raw(t, e, "GET", "/api/v1/events?wait=61", "")
	wantProblem(t, resp, body, http.StatusBadRequest, cairn.EINVALID)
}
