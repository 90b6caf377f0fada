package mlflowimport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// mlflow reads a running MLflow tracking server over its REST API
// (MLFLOW.md §2–§3): the registry, runs, and the artifact proxy.
type mlflow struct {
	base  string // scheme://host[:port][/prefix], no trailing slash
	hc    *http.Client
	user  string
	pass  string
	token string
}

type mlflowTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type mlflowAlias struct {
	Alias   string `json:"alias"`
	Version string `json:"version"`
}

type registeredModel struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Tags        []mlflowTag   `json:"tags"`
	Aliases     []mlflowAlias `json:"aliases"`
}

type modelVersion struct {
	Name         string      `json:"name"`
	Version      string      `json:"version"`
	Source       string      `json:"source"`
	RunID        string      `json:"run_id"`
	RunLink      string      `json:"run_link"`
	Description  string      `json:"description"`
	CurrentStage string      `json:"current_stage"`
	Status       string      `json:"status"`
	UserID       string      `json:"user_id"`
	ModelID      string      `json:"model_id"`
	Tags         []mlflowTag `json:"tags"`

	number int64
}

type artifactFile struct {
	Path     string `json:"path"`
	IsDir    bool   `json:"is_dir"`
	FileSize int64  `json:"file_size"`
}

// mlflowError is an error answer of the MLflow server.
type mlflowError struct {
	Status  int
	Code    string `json:"error_code"`
	Message string `json:"message"`
	what    string
}

func (e *mlflowError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("MLflow %s: %d %s: %s", e.what, e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("MLflow %s: %d %s", e.what, e.Status, http.StatusText(e.Status))
}

// notFound reports whether err is MLflow saying something does not exist
// (or, for an endpoint it lacks, that the endpoint does not).
func notFound(err error) bool {
	var e *mlflowError
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

func (m *mlflow) request(ctx context.Context, method, path string, q url.Values) (*http.Response, error) {
	u := m.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	switch {
	case m.token != "":
		req.Header.Set("Authorization", "Bearer "+m.token)
	case m.user != "":
		req.SetBasicAuth(m.user, m.pass)
	}
	res, err := m.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("MLflow %s %s: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		defer res.Body.Close()
		e := &mlflowError{Status: res.StatusCode, what: method + " " + path}
		b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		_ = json.Unmarshal(b, e)
		return nil, e
	}
	return res, nil
}

// get calls a JSON endpoint below /api/2.0/mlflow/ and decodes its answer.
func (m *mlflow) get(ctx context.Context, path string, q url.Values, out any) error {
	res, err := m.request(ctx, http.MethodGet, "/api/2.0/mlflow/"+path, q)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<20)).Decode(out); err != nil {
		return fmt.Errorf("MLflow GET %s: decoding the answer: %w", path, err)
	}
	return nil
}

// models lists every registered model, by name.
func (m *mlflow) models(ctx context.Context) ([]registeredModel, error) {
	var out []registeredModel
	token := ""
	for {
		q := url.Values{"max_results": {"1000"}, "order_by": {"name ASC"}}
		if token != "" {
			q.Set("page_token", token)
		}
		var page struct {
			Models []registeredModel `json:"registered_models"`
			Next   string            `json:"next_page_token"`
		}
		if err := m.get(ctx, "registered-models/search", q, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Models...)
		if page.Next == "" {
			return out, nil
		}
		token = page.Next
	}
}

// model returns one registered model with its aliases.
func (m *mlflow) model(ctx context.Context, name string) (*registeredModel, error) {
	var res struct {
		Model registeredModel `json:"registered_model"`
	}
	if err := m.get(ctx, "registered-models/get", url.Values{"name": {name}}, &res); err != nil {
		return nil, err
	}
	return &res.Model, nil
}

// quote writes a string literal of MLflow's filter grammar.
func quote(s string) string {
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	return `"` + s + `"`
}

// versions lists a model's versions (MLflow never returns deleted ones),
// by number.
func (m *mlflow) versions(ctx context.Context, name string) ([]modelVersion, error) {
	var out []modelVersion
	token := ""
	for {
		q := url.Values{"filter": {"name = " + quote(name)}, "max_results": {"1000"}, "order_by": {"version_number ASC"}}
		if token != "" {
			q.Set("page_token", token)
		}
		var page struct {
			Versions []modelVersion `json:"model_versions"`
			Next     string         `json:"next_page_token"`
		}
		if err := m.get(ctx, "model-versions/search", q, &page); err != nil {
			return nil, err
		}
		for _, v := range page.Versions {
			if v.Name != name {
				continue // a filter MLflow matched loosely
			}
			n, err := strconv.ParseInt(v.Version, 10, 64)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("MLflow model %q has a version numbered %q", name, v.Version)
			}
			v.number = n
			out = append(out, v)
		}
		if page.Next == "" {
			break
		}
		token = page.Next
	}
	sortVersions(out)
	return out, nil
}

func (m *mlflow) downloadURI(ctx context.Context, name string, version int64) (string, error) {
	var res struct {
		URI string `json:"artifact_uri"`
	}
	err := m.get(ctx, "model-versions/get-download-uri", url.Values{"name": {name}, "version": {strconv.FormatInt(version, 10)}}, &res)
	return res.URI, err
}

func (m *mlflow) runArtifactURI(ctx context.Context, runID string) (string, error) {
	var res struct {
		Run struct {
			Info struct {
				ArtifactURI string `json:"artifact_uri"`
			} `json:"info"`
		} `json:"run"`
	}
	err := m.get(ctx, "runs/get", url.Values{"run_id": {runID}}, &res)
	return res.Run.Info.ArtifactURI, err
}

func (m *mlflow) loggedModelArtifactURI(ctx context.Context, id string) (string, error) {
	var res struct {
		Model struct {
			Info struct {
				ArtifactURI string `json:"artifact_uri"`
			} `json:"info"`
		} `json:"model"`
	}
	err := m.get(ctx, "logged-models/"+url.PathEscape(id), nil, &res)
	return res.Model.Info.ArtifactURI, err
}

// list lists a directory of the artifact proxy (path relative to its
// root, no leading '/').
func (m *mlflow) list(ctx context.Context, dir string) ([]artifactFile, error) {
	res, err := m.request(ctx, http.MethodGet, "/api/2.0/mlflow-artifacts/artifacts", url.Values{"path": {dir}})
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var out struct {
		Files []artifactFile `json:"files"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("MLflow artifact listing of %s: %w", dir, err)
	}
	return out.Files, nil
}

// open streams a file of the artifact proxy.
func (m *mlflow) open(ctx context.Context, path string) (io.ReadCloser, error) {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	res, err := m.request(ctx, http.MethodGet, "/api/2.0/mlflow-artifacts/artifacts/"+strings.Join(segs, "/"), nil)
	if err != nil {
		return nil, err
	}
	return res.Body, nil
}
