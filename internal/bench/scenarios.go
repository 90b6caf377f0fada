package bench

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
)

// Scenario names, in the order a full run measures them.
const (
	ScenarioResolve = "resolve"
	ScenarioGet     = "get"
	ScenarioList    = "list"
	ScenarioSearch  = "search"
	ScenarioCreate  = "create"
	ScenarioPush    = "push"
	ScenarioPull    = "pull"
)

// Scenarios lists every scenario name in run order.
var Scenarios = []string{ScenarioResolve, ScenarioGet, ScenarioList, ScenarioSearch, ScenarioCreate, ScenarioPush, ScenarioPull}

// PageSize is the page the list and search scenarios ask for.
const PageSize = 100

// model is what the read scenarios know of one model on the server.
type model struct {
	name    string
	latest  int64
	aliases []string
}

// Target is the server under load and what Discover found on it to ask
// for. The read scenarios pick a model (and version) at random for every
// request, so they measure the database's working set, not one hot row.
type Target struct {
	URL    string
	HTTP   *http.Client
	Client *client.Client

	models  []model // models with at least one version
	aliased []model // those with at least one alias
	// Versions is the number of versions the sampled models hold.
	Versions int64
	// Models is the number of models sampled (at most the discovery cap).
	Models int
	// crossModelSearch is set when the server has GET /api/v1/versions.
	crossModelSearch bool
	// mlflowOnly is set when the server answers only MLflow's API (an
	// MLflow server, measured for reference).
	mlflowOnly bool
}

// MaxDiscover bounds how many models Discover lists.
const MaxDiscover = 10_000

// Discover lists the server's models (up to MaxDiscover) to pick targets
// from, and checks in the OpenAPI document which routes exist. hc is the
// client the load goes through.
func Discover(ctx context.Context, baseURL string, hc *http.Client) (*Target, error) {
	baseURL = strings.TrimRight(baseURL, "/")
	t := &Target{URL: baseURL, HTTP: hc, Client: client.New(baseURL, client.WithHTTPClient(hc),
		client.WithUser("cairn-bench"), client.WithUserAgent("cairn-bench"), client.WithRetries(0))}
	token := ""
	for len(t.models) < MaxDiscover {
		page, err := t.Client.ListModels(ctx, client.ListRequest{PageSize: 1000, PageToken: token})
		if err != nil && token == "" && (cairn.IsCode(err, cairn.ENOTFOUND) || cairn.IsCode(err, cairn.EINVALID)) {
			// No native API: an MLflow server.
			if merr := t.discoverMLflow(ctx); merr != nil {
				return nil, fmt.Errorf("bench: list the server's models: %w (and as an MLflow server: %v)", err, merr)
			}
			return t, nil
		}
		if err != nil {
			return nil, fmt.Errorf("bench: list the server's models: %w", err)
		}
		for _, m := range page.Items {
			t.Models++
			if m.LatestVersion == 0 || m.Archived {
				continue
			}
			mi := model{name: m.Name, latest: m.LatestVersion}
			for a := range m.Aliases {
				mi.aliases = append(mi.aliases, a)
			}
			t.models = append(t.models, mi)
			t.Versions += m.LatestVersion
			if len(mi.aliases) > 0 {
				t.aliased = append(t.aliased, mi)
			}
		}
		if token = page.NextToken; token == "" {
			break
		}
	}
	raw, err := t.Client.OpenAPI(ctx)
	if err != nil {
		return nil, fmt.Errorf("bench: read the server's OpenAPI document: %w", err)
	}
	var doc struct {
		Paths map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("bench: decode the server's OpenAPI document: %w", err)
	}
	_, t.crossModelSearch = doc.Paths["/api/v1/versions"]
	return t, nil
}

// Op returns the operation of a read or write scenario and a note saying
// what exactly it does. Push and pull are not load scenarios; see
// Transfer.
func (t *Target) Op(name string) (Op, string, error) {
	needModels := func() error {
		if len(t.models) == 0 {
			return fmt.Errorf("bench: %s: the server has no versions to read; seed it first (cairn bench seed)", name)
		}
		return nil
	}
	if slices.Contains(MLflowScenarios, name) {
		return t.mlflowOp(name)
	}
	if t.mlflowOnly {
		return nil, "", fmt.Errorf("bench: %s: the server answers only MLflow's API; run the mlflow-* scenarios", name)
	}
	api := t.URL + "/api/v1"
	switch name {
	case ScenarioResolve:
		if len(t.aliased) == 0 {
			return nil, "", fmt.Errorf("bench: resolve: no model on the server has an alias; seed it first (cairn bench seed)")
		}
		return func(ctx context.Context, w *Worker) error {
			m := t.aliased[w.Rand.IntN(len(t.aliased))]
			a := m.aliases[w.Rand.IntN(len(m.aliases))]
			return getOK(ctx, t.HTTP, api+"/resolve/"+url.PathEscape(m.name+"@"+a), nil)
		}, fmt.Sprintf("GET /api/v1/resolve/{model}@{alias}, %d aliased models", len(t.aliased)), nil
	case ScenarioGet:
		if err := needModels(); err != nil {
			return nil, "", err
		}
		return func(ctx context.Context, w *Worker) error {
			m := t.models[w.Rand.IntN(len(t.models))]
			n := 1 + w.Rand.Int64N(m.latest)
			return getOK(ctx, t.HTTP, api+"/models/"+url.PathEscape(m.name)+"/versions/"+strconv.FormatInt(n, 10), nil)
		}, fmt.Sprintf("GET /api/v1/models/{model}/versions/{n}, random of %d versions", t.Versions), nil
	case ScenarioList:
		if err := needModels(); err != nil {
			return nil, "", err
		}
		q := "?page_size=" + strconv.Itoa(PageSize)
		return func(ctx context.Context, w *Worker) error {
			m := t.models[w.Rand.IntN(len(t.models))]
			return getOK(ctx, t.HTTP, api+"/models/"+url.PathEscape(m.name)+"/versions"+q, nil)
		}, fmt.Sprintf("GET /api/v1/models/{model}/versions?page_size=%d", PageSize), nil
	case ScenarioSearch:
		if err := needModels(); err != nil {
			return nil, "", err
		}
		q := "?" + url.Values{"filter": {SearchFilter}, "page_size": {strconv.Itoa(PageSize)}}.Encode()
		if t.crossModelSearch {
			return func(ctx context.Context, w *Worker) error {
				return getOK(ctx, t.HTTP, api+"/versions"+q, nil)
			}, fmt.Sprintf("GET /api/v1/versions?filter=%s&page_size=%d, across all models", SearchFilter, PageSize), nil
		}
		return func(ctx context.Context, w *Worker) error {
			m := t.models[w.Rand.IntN(len(t.models))]
			return getOK(ctx, t.HTTP, api+"/models/"+url.PathEscape(m.name)+"/versions"+q, nil)
		}, fmt.Sprintf("GET /api/v1/models/{model}/versions?filter=%s&page_size=%d, within one model (the server has no cross-model search route)", SearchFilter, PageSize), nil
	case ScenarioCreate:
		// Each worker pushes to its own model, as independent pipelines
		// would; on PostgreSQL writers to different models do not wait for
		// each other's row lock.
		prefix := "bench-create-" + randomHex(4) + "-"
		return func(ctx context.Context, w *Worker) error {
			return t.createFinalize(ctx, prefix+strconv.Itoa(w.ID), w)
		}, "POST version (one 64-byte file), PUT blob, POST finalize; one model per worker", nil
	}
	return nil, "", fmt.Errorf("bench: unknown scenario %q", name)
}

// createFinalize registers one small version the way a client pushes:
// create with the manifest, upload the blob the server lacks, finalize.
func (t *Target) createFinalize(ctx context.Context, model string, w *Worker) error {
	body := make([]byte, 64)
	for i := range body {
		body[i] = byte(w.Rand.Uint32())
	}
	d := cairn.DigestOf(body)
	spec := cairn.VersionSpec{
		Files:   []cairn.File{{Path: "model.bin", Size: int64(len(body)), Digest: d}},
		Metrics: map[string]float64{"auc": round4(0.4 + 0.6*w.Rand.Float64())},
		Tags:    map[string]string{"team": seedTeams[w.Rand.IntN(len(seedTeams))]},
	}
	cr, err := t.Client.CreateVersion(ctx, model, spec)
	if err != nil {
		return err
	}
	for _, m := range cr.Missing {
		if m != d {
			return fmt.Errorf("server asked for blob %s, not in the manifest", m)
		}
		if err := t.Client.PutBlob(ctx, d, int64(len(body)), bytesReader(body)); err != nil {
			return err
		}
	}
	_, err = t.Client.FinalizeVersion(ctx, model, cr.Version.Number, nil)
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
