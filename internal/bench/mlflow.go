package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
)

// The MLflow front door's scenarios, each beside its native equivalent:
//
//	mlflow-alias   GET registered-models/alias       ~ resolve
//	mlflow-get     GET model-versions/get            ~ get
//	mlflow-search  GET registered-models/search, 100 ~ models (GET /api/v1/models, 100)
//	mlflow-versions GET model-versions/search, 100  ~ search-tag (GET /api/v1/versions, 100)
//	mlflow-create  POST model-versions/create        ~ create
//
// mlflow-versions and search-tag ask for the same first page of versions:
// the same filter, TagFilter (MLflow's version search has no metrics), in
// the same order, the native API's default (model name, then newest
// version first), which mlflow-versions asks for with order_by=name.
// MLflow's default order, most recently updated first, costs what the
// data makes it: the page ends after as many recently updated versions as
// it takes to find 100 that match.
//
// They speak only MLflow's REST API, so they also measure an MLflow server
// itself (Discover falls back to MLflow's API when the native one is not
// there).
const (
	ScenarioModels         = "models"
	ScenarioSearchTag      = "search-tag"
	ScenarioMLflowVersions = "mlflow-versions"
	ScenarioMLflowAlias    = "mlflow-alias"
	ScenarioMLflowGet      = "mlflow-get"
	ScenarioMLflowSearch   = "mlflow-search"
	ScenarioMLflowCreate   = "mlflow-create"
)

// MLflowScenarios are the MLflow scenarios and the native "models" and
// "search-tag", which
// a default run leaves out: name them with --scenarios.
var MLflowScenarios = []string{ScenarioModels, ScenarioMLflowAlias, ScenarioMLflowGet, ScenarioMLflowSearch,
	ScenarioSearchTag, ScenarioMLflowVersions, ScenarioMLflowCreate}

// AllScenarios lists every scenario in run order, each MLflow scenario
// after its native equivalent.
var AllScenarios = []string{
	ScenarioResolve, ScenarioMLflowAlias, ScenarioGet, ScenarioMLflowGet, ScenarioList, ScenarioSearch,
	ScenarioModels, ScenarioMLflowSearch, ScenarioSearchTag, ScenarioMLflowVersions, ScenarioCreate, ScenarioMLflowCreate,
	ScenarioPush, ScenarioPull,
}

// discoverMLflow fills t from MLflow's registry API, for a server without
// Cairn's native API (MLflow itself).
func (t *Target) discoverMLflow(ctx context.Context) error {
	token := ""
	for len(t.models) < MaxDiscover {
		q := url.Values{"max_results": {"1000"}}
		if token != "" {
			q.Set("page_token", token)
		}
		var page struct {
			Models []struct {
				Name           string `json:"name"`
				LatestVersions []struct {
					Version string `json:"version"`
				} `json:"latest_versions"`
				Aliases []struct {
					Alias string `json:"alias"`
				} `json:"aliases"`
			} `json:"registered_models"`
			Next string `json:"next_page_token"`
		}
		if err := t.getJSON(ctx, t.URL+"/api/2.0/mlflow/registered-models/search?"+q.Encode(), &page); err != nil {
			return fmt.Errorf("bench: list the server's registered models: %w", err)
		}
		for _, m := range page.Models {
			t.Models++
			mi := model{name: m.Name}
			for _, v := range m.LatestVersions {
				if n, err := strconv.ParseInt(v.Version, 10, 64); err == nil && n > mi.latest {
					mi.latest = n
				}
			}
			for _, a := range m.Aliases {
				mi.aliases = append(mi.aliases, a.Alias)
			}
			if mi.latest == 0 {
				continue
			}
			t.models = append(t.models, mi)
			t.Versions += mi.latest
			if len(mi.aliases) > 0 {
				t.aliased = append(t.aliased, mi)
			}
		}
		if token = page.Next; token == "" {
			break
		}
	}
	t.mlflowOnly = true
	return nil
}

func (t *Target) getJSON(ctx context.Context, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := t.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(out)
}

// postOK posts a JSON body and drains the answer; ok lists the statuses
// that count as success (200 if none).
func postOK(ctx context.Context, hc *http.Client, u string, body []byte, ok ...int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode == http.StatusOK {
		return nil
	}
	for _, s := range ok {
		if res.StatusCode == s {
			return nil
		}
	}
	return fmt.Errorf("POST %s: %s", u, res.Status)
}

// mlflowOp returns the operation of an MLflow scenario (or "models").
func (t *Target) mlflowOp(name string) (Op, string, error) {
	api := t.URL + "/api/2.0/mlflow/"
	needModels := func() error {
		if len(t.models) == 0 {
			return fmt.Errorf("bench: %s: the server has no versions to read; seed it first (cairn bench seed)", name)
		}
		return nil
	}
	q := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	switch name {
	case ScenarioModels:
		if t.mlflowOnly {
			return nil, "", fmt.Errorf("bench: models: the server has no native API")
		}
		u := t.URL + "/api/v1/models?page_size=" + strconv.Itoa(PageSize)
		return func(ctx context.Context, w *Worker) error {
			return getOK(ctx, t.HTTP, u, nil)
		}, fmt.Sprintf("GET /api/v1/models?page_size=%d, first page", PageSize), nil
	case ScenarioMLflowAlias:
		if len(t.aliased) == 0 {
			return nil, "", fmt.Errorf("bench: %s: no model on the server has an alias; seed it first (cairn bench seed)", name)
		}
		return func(ctx context.Context, w *Worker) error {
			m := t.aliased[w.Rand.IntN(len(t.aliased))]
			a := m.aliases[w.Rand.IntN(len(m.aliases))]
			return getOK(ctx, t.HTTP, api+"registered-models/alias?"+q("name", m.name, "alias", a), nil)
		}, fmt.Sprintf("GET /api/2.0/mlflow/registered-models/alias, %d aliased models", len(t.aliased)), nil
	case ScenarioMLflowGet:
		if err := needModels(); err != nil {
			return nil, "", err
		}
		return func(ctx context.Context, w *Worker) error {
			m := t.models[w.Rand.IntN(len(t.models))]
			n := 1 + w.Rand.Int64N(m.latest)
			return getOK(ctx, t.HTTP, api+"model-versions/get?"+q("name", m.name, "version", strconv.FormatInt(n, 10)), nil)
		}, fmt.Sprintf("GET /api/2.0/mlflow/model-versions/get, random of %d versions", t.Versions), nil
	case ScenarioMLflowSearch:
		u := api + "registered-models/search?" + q("max_results", strconv.Itoa(PageSize))
		return func(ctx context.Context, w *Worker) error {
			return getOK(ctx, t.HTTP, u, nil)
		}, fmt.Sprintf("GET /api/2.0/mlflow/registered-models/search?max_results=%d, first page (with latest_versions)", PageSize), nil
	case ScenarioSearchTag:
		if t.mlflowOnly {
			return nil, "", fmt.Errorf("bench: %s: the server has no native API", name)
		}
		u := t.URL + "/api/v1/versions?" + url.Values{"filter": {TagFilter}, "page_size": {strconv.Itoa(PageSize)}}.Encode()
		return func(ctx context.Context, w *Worker) error {
			return getOK(ctx, t.HTTP, u, nil)
		}, fmt.Sprintf("GET /api/v1/versions?filter=%s&page_size=%d, first page, across all models", TagFilter, PageSize), nil
	case ScenarioMLflowVersions:
		u := api + "model-versions/search?" + q("filter", TagFilter, "max_results", strconv.Itoa(PageSize), "order_by", "name")
		return func(ctx context.Context, w *Worker) error {
			return getOK(ctx, t.HTTP, u, nil)
		}, fmt.Sprintf("GET /api/2.0/mlflow/model-versions/search?filter=%s&max_results=%d&order_by=name, first page (the native order)", TagFilter, PageSize), nil
	case ScenarioMLflowCreate:
		prefix := "bench-mlflow-create-" + randomHex(4) + "-"
		var created sync.Map
		return func(ctx context.Context, w *Worker) error {
			model := prefix + strconv.Itoa(w.ID)
			if _, ok := created.Load(model); !ok {
				body, _ := json.Marshal(map[string]string{"name": model})
				if err := postOK(ctx, t.HTTP, api+"registered-models/create", body, http.StatusBadRequest); err != nil {
					return err
				}
				created.Store(model, true)
			}
			body, _ := json.Marshal(map[string]string{"name": model, "source": "s3://bench/" + randomHex(8), "run_id": randomHex(16)})
			return postOK(ctx, t.HTTP, api+"model-versions/create", body)
		}, "POST /api/2.0/mlflow/model-versions/create (an s3:// source, no files: READY at once); one model per worker", nil
	}
	return nil, "", fmt.Errorf("bench: unknown scenario %q", name)
}
