package mlflowapi_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/registry"
)

// logDatasets logs dataset inputs on a run: each as name, digest, source
// URI and context.
func (e *env) logDatasets(runID string, ds ...[4]string) {
	e.t.Helper()
	var list []map[string]any
	for _, d := range ds {
		list = append(list, map[string]any{
			"dataset": map[string]string{"name": d[0], "digest": d[1], "source_type": "s3", "source": `{"uri": "` + d[2] + `"}`,
				"schema": `{"mlflow_colspec": [{"type": "double", "name": "x"}]}`, "profile": `{"num_rows": 10}`},
			"tags": []map[string]string{{"key": "mlflow.data.context", "value": d[3]}},
		})
	}
	e.ok("POST", "runs/log-inputs", jsonBody(e.t, map[string]any{"run_id": runID, "datasets": list}), "")
}

// register registers runs:/RUN/model as a new version of model and
// returns its number.
func (e *env) register(model, runID string) int64 {
	e.t.Helper()
	r := e.ok("POST", "model-versions/create", jsonBody(e.t, map[string]string{"name": model, "source": "runs:/" + runID + "/model", "run_id": runID}), "")
	n, err := strconv.ParseInt(str(r, "model_version", "version"), 10, 64)
	if err != nil {
		e.t.Fatalf("registered version: %s", r.Raw)
	}
	return n
}

// edgeStrings renders a graph's edges as "FROM -type-> TO", sorted.
func edgeStrings(g *client.LineageGraph) []string {
	var out []string
	for _, e := range g.Edges {
		out = append(out, e.From.String()+" -"+string(e.Type)+"-> "+e.To.String())
	}
	sort.Strings(out)
	return out
}

// A version registered from a run gets the run's dataset inputs as
// lineage: each dataset is a version of kind dataset (one per name and
// digest) consumed by the run, named in the version's record (training,
// validation, other inputs), so that the lineage upstream of the version
// reads dataset -> run -> model. On both stores.
func TestDatasetInputsBecomeLineage(t *testing.T) {
	for _, st := range storeEnvs {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := st.open(t)
			ctx := t.Context()
			runID, root := e.newRun("datasets", "")
			e.put(root+"/model/MLmodel", "flavors: {}\n")
			e.logDatasets(runID,
				[4]string{"churn-train", "d1a2b3c4", "s3://data/train.parquet", "training"},
				[4]string{"churn-val", "e5f6a7b8", "s3://data/val.parquet", "validation"},
				[4]string{"churn-holdout", "0badc0de", "s3://data/holdout.parquet", "testing"},
			)
			e.ok("POST", "registered-models/create", `{"name": "churn"}`, "")
			n := e.register("churn", runID)

			v, err := e.Client.GetVersion(ctx, "churn", n)
			if err != nil {
				t.Fatal(err)
			}
			if v.TrainingDataset != "churn-train@v1" || v.ValidationDataset != "churn-val@v1" || !slices.Equal(v.Inputs, []string{"churn-holdout@v1"}) {
				t.Errorf("record: training %q, validation %q, inputs %v", v.TrainingDataset, v.ValidationDataset, v.Inputs)
			}
			ds, err := e.Client.GetVersion(ctx, "churn-train", 1)
			if err != nil {
				t.Fatal(err)
			}
			if ds.Kind != cairn.KindDataset || ds.Source != "s3://data/train.parquet" || len(ds.Files) != 0 || ds.Status != cairn.StatusReady ||
				ds.Tags[registry.DatasetDigestTag] != "d1a2b3c4" || ds.Tags[registry.DatasetSourceTypeTag] != "s3" ||
				ds.Tags[registry.DatasetProfileTag] != `{"num_rows": 10}` || !strings.Contains(ds.Tags[registry.DatasetSchemaTag], "mlflow_colspec") {
				t.Errorf("dataset version: %+v", ds)
			}

			g, err := e.Client.Lineage(ctx, "churn@v"+fmt.Sprint(n), cairn.Upstream, 5)
			if err != nil {
				t.Fatal(err)
			}
			run := "run:" + runID
			want := []string{
				"churn-holdout@v1 -consumed_by-> " + run, "churn-holdout@v1 -input-> churn@v1",
				"churn-train@v1 -consumed_by-> " + run, "churn-train@v1 -trained_on-> churn@v1",
				"churn-val@v1 -consumed_by-> " + run, "churn-val@v1 -validated_on-> churn@v1",
				run + " -produced-> churn@v1",
			}
			sort.Strings(want)
			if got := edgeStrings(g); !slices.Equal(got, want) {
				t.Errorf("lineage up from churn@v1:\n got %q\nwant %q", got, want)
			}
			// Downstream from the dataset: the run, then the model.
			g, err = e.Client.Lineage(ctx, "churn-train@v1", cairn.Downstream, 5)
			if err != nil {
				t.Fatal(err)
			}
			if got := edgeStrings(g); !slices.Contains(got, "churn-train@v1 -consumed_by-> "+run) || !slices.Contains(got, run+" -produced-> churn@v1") {
				t.Errorf("lineage down from the dataset: %q", got)
			}

			// Registering from the run again reuses the dataset versions;
			// a new digest of a dataset is its next version.
			n2 := e.register("churn", runID)
			run2, root2 := e.newRun("datasets-2", "")
			e.put(root2+"/model/MLmodel", "flavors: {}\n")
			e.logDatasets(run2, [4]string{"churn-train", "ffff0000", "s3://data/train-v2.parquet", "training"})
			n3 := e.register("churn", run2)
			page, err := e.Client.ListVersions(ctx, "churn-train", client.ListRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) != 2 {
				t.Errorf("churn-train has %d versions, want 2 (one per digest)", len(page.Items))
			}
			for num, want := range map[int64]string{n2: "churn-train@v1", n3: "churn-train@v2"} {
				if v, err := e.Client.GetVersion(ctx, "churn", num); err != nil || v.TrainingDataset != want {
					t.Errorf("churn@v%d trained on %q (%v), want %s", num, v.TrainingDataset, err, want)
				}
			}

			// A dataset named like a model of another kind cannot be a
			// version there: the record names its location, with no edge,
			// and the registration goes through.
			run3, root3 := e.newRun("datasets-3", "")
			e.put(root3+"/model/MLmodel", "flavors: {}\n")
			e.logDatasets(run3, [4]string{"churn", "12345678", "s3://data/self.parquet", "training"})
			n4 := e.register("churn", run3)
			if v, err := e.Client.GetVersion(ctx, "churn", n4); err != nil || v.TrainingDataset != "s3://data/self.parquet" {
				t.Errorf("churn@v%d trained on %q (%v), want the dataset's URI", n4, v.TrainingDataset, err)
			}

			// Each dataset version was created through the service: audited
			// and evented like any version.
			audit, err := e.Client.ListAudit(ctx, cairn.AuditQuery{Target: "churn-train@v2", Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, a := range audit.Items {
				actions = append(actions, a.Action)
			}
			if !slices.Contains(actions, cairn.EventVersionCreated) || !slices.Contains(actions, cairn.EventVersionReady) {
				t.Errorf("audit of churn-train@v2: %v", actions)
			}
		})
	}
}

// Registrations from runs that read the same new dataset, at once, make
// one version of it. On both stores.
func TestDatasetVersionOncePerDigest(t *testing.T) {
	for _, st := range storeEnvs {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := st.open(t)
			e.ok("POST", "registered-models/create", `{"name": "m"}`, "")
			const n = 6
			runs := make([]string, n)
			for i := range runs {
				id, root := e.newRun(fmt.Sprintf("race-%d", i), "")
				e.put(root+"/model/MLmodel", "flavors: {}\n")
				e.logDatasets(id, [4]string{"shared", "abcdef01", "s3://data/shared", "training"})
				runs[i] = id
			}
			var wg sync.WaitGroup
			for _, id := range runs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := e.do("POST", "model-versions/create", jsonBody(t, map[string]string{"name": "m", "source": "runs:/" + id + "/model"}), "")
					if r.Status != 200 {
						t.Errorf("register from %s: %d %s", id, r.Status, r.Raw)
					}
				}()
			}
			wg.Wait()
			page, err := e.Client.ListVersions(context.Background(), "shared", client.ListRequest{})
			if err != nil || len(page.Items) != 1 {
				t.Fatalf("dataset shared has %v versions (%v), want 1", len(page.Items), err)
			}
			g, err := e.Client.Lineage(t.Context(), "shared@v1", cairn.Downstream, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Edges) != 2*n { // consumed_by each run, trained_on each version
				t.Errorf("shared@v1 has %d edges out, want %d: %q", len(g.Edges), 2*n, edgeStrings(g))
			}
		})
	}
}

// A run that read more datasets than a record names: the training dataset
// still fills training_dataset, the first cairn.MaxRefs others fill
// inputs, and the rest get no version at all.
func TestDatasetInputsBeyondTheRecord(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	runID, root := e.newRun("many", "")
	e.put(root+"/model/MLmodel", "flavors: {}\n")
	var ds [][4]string
	for i := range cairn.MaxRefs + 2 {
		ds = append(ds, [4]string{fmt.Sprintf("part-%03d", i), fmt.Sprintf("%08x", i), "s3://data/part", ""})
	}
	ds = append(ds, [4]string{"all", "0000ffff", "s3://data/all", "training"})
	e.logDatasets(runID, ds...)
	e.ok("POST", "registered-models/create", `{"name": "wide"}`, "")
	v, err := e.Client.GetVersion(ctx, "wide", e.register("wide", runID))
	if err != nil {
		t.Fatal(err)
	}
	if v.TrainingDataset != "all@v1" || len(v.Inputs) != cairn.MaxRefs || v.Inputs[0] != "part-000@v1" || v.Inputs[cairn.MaxRefs-1] != fmt.Sprintf("part-%03d@v1", cairn.MaxRefs-1) {
		t.Errorf("record: training %q, %d inputs %v", v.TrainingDataset, len(v.Inputs), v.Inputs)
	}
	if _, err := e.Client.GetModel(ctx, fmt.Sprintf("part-%03d", cairn.MaxRefs)); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("a dataset left out of the record got a model: %v", err)
	}
	if !strings.Contains(e.Logs.String(), "dataset inputs left out") {
		t.Errorf("no warning logged about the datasets left out")
	}
}
