// Package mlflowapi is Cairn's MLflow-compatible REST API: the Model
// Registry endpoints of MLflow's ModelRegistryService and the tracking
// endpoints of its MlflowService (experiments, runs, metrics) under
// /api/2.0/mlflow/ and /ajax-api/2.0/mlflow/ (the prefix MLflow's UI uses),
// mapped onto the same registry.Service as the native API, so that every
// change writes its audit entry and event the same way and is visible
// through /api/v1 and the CLI. The wire contract is MLFLOW.md: protobuf
// JSON with snake_case names and int64 as numbers, GET parameters in the
// query string, DELETE parameters in a JSON body or the query string, and
// errors as {"error_code", "message"} with MLflow's codes and statuses.
//
// The artifact proxy (/api/2.0/mlflow-artifacts/, artifacts.go) stores
// run and logged-model files in Cairn's artifact store. MLflow 3's webhook
// endpoints (webhooks.go) are served too, mapped onto the registry's
// subscriptions with format "mlflow".
//
// MLflow 3's logged models (loggedmodels.go) are Cairn records too.
//
// Not served yet: the basic-auth permission endpoints. Every path under
// the mounted prefixes that is not served answers 404 ENDPOINT_NOT_FOUND, which MLflow's
// client understands.
package mlflowapi

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// Prefixes are the path prefixes the API answers under: the REST clients'
// and the MLflow UI's.
var Prefixes = []string{"/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"}

// reservedPrefixes are MLflow API prefixes with nothing served yet:
// MLflow 3's /3.0 routes. Mounting them makes every
// request there answer ENDPOINT_NOT_FOUND in MLflow's shape, which the
// MLflow 3 client takes as the cue to fall back to a 2.0 endpoint.
var reservedPrefixes = []string{"/api/3.0/mlflow/", "/ajax-api/3.0/mlflow/"}

// Options tune a Server. Zero values mean the defaults.
type Options struct {
	// Logger receives internal errors and panics, with the request id.
	// Default: slog.Default().
	Logger *slog.Logger
	// MaxJSONBody bounds a JSON request body, in bytes. Default: 4 MiB.
	MaxJSONBody int64
	// Webhooks sends test deliveries for POST webhooks/{id}/test; without
	// it that endpoint answers NOT_IMPLEMENTED.
	Webhooks WebhookTester
}

// DefaultMaxJSONBody is the default limit on request bodies.
const DefaultMaxJSONBody = 4 << 20

// Server serves the MLflow Model Registry API over a registry Service.
type Server struct {
	svc      *registry.Service
	log      *slog.Logger
	maxJSON  int64
	webhooks WebhookTester
	// runArtifactPage is the page size of artifacts/list.
	runArtifactPage int
	// bodies recycles the buffers of large responses.
	bodies bodyPool

	mux     *http.ServeMux
	methods map[string][]string // path → methods served there, for 405s
}

// handlerFunc is the shape of every handler: it writes a success response
// or returns an error, which ServeHTTP turns into MLflow's error body.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

type route struct {
	method, path string // path below a prefix, e.g. "registered-models/create"
	h            handlerFunc
}

// New returns a Server for svc.
func New(svc *registry.Service, opts Options) *Server {
	s := &Server{svc: svc, log: opts.Logger, maxJSON: opts.MaxJSONBody, webhooks: opts.Webhooks, runArtifactPage: runArtifactPage, mux: http.NewServeMux(), methods: map[string][]string{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxJSON <= 0 {
		s.maxJSON = DefaultMaxJSONBody
	}
	for _, rt := range s.routes() {
		for _, p := range Prefixes {
			path := p + rt.path
			s.mux.Handle(rt.method+" "+path, s.adapt(rt.h))
			s.methods[path] = append(s.methods[path], rt.method)
		}
	}
	return s
}

// routes lists the 21 ModelRegistryService endpoints of MLFLOW.md §2 (the
// alias path serves three methods, get-latest-versions two) and the six of
// MLflow 3's WebhookService.
func (s *Server) routes() []route {
	return []route{
		{"POST", "registered-models/create", s.createRegisteredModel},
		{"POST", "registered-models/rename", s.renameRegisteredModel},
		{"PATCH", "registered-models/update", s.updateRegisteredModel},
		{"DELETE", "registered-models/delete", s.deleteRegisteredModel},
		{"GET", "registered-models/get", s.getRegisteredModel},
		{"GET", "registered-models/search", s.searchRegisteredModels},
		{"POST", "registered-models/get-latest-versions", s.getLatestVersions},
		{"GET", "registered-models/get-latest-versions", s.getLatestVersions},
		{"POST", "registered-models/set-tag", s.setRegisteredModelTag},
		{"DELETE", "registered-models/delete-tag", s.deleteRegisteredModelTag},
		{"POST", "registered-models/alias", s.setAlias},
		{"DELETE", "registered-models/alias", s.deleteAlias},
		{"GET", "registered-models/alias", s.getModelVersionByAlias},

		{"POST", "model-versions/create", s.createModelVersion},
		{"GET", "model-versions/get", s.getModelVersion},
		{"PATCH", "model-versions/update", s.updateModelVersion},
		{"POST", "model-versions/transition-stage", s.transitionStage},
		{"DELETE", "model-versions/delete", s.deleteModelVersion},
		{"GET", "model-versions/search", s.searchModelVersions},
		{"GET", "model-versions/get-download-uri", s.getDownloadURI},
		{"POST", "model-versions/set-tag", s.setModelVersionTag},
		{"DELETE", "model-versions/delete-tag", s.deleteModelVersionTag},

		{"POST", "webhooks", s.createWebhook},
		{"GET", "webhooks", s.listWebhooks},
		{"GET", "webhooks/{webhook_id}", s.getWebhook},
		{"PATCH", "webhooks/{webhook_id}", s.updateWebhook},
		{"DELETE", "webhooks/{webhook_id}", s.deleteWebhook},
		{"POST", "webhooks/{webhook_id}/test", s.testWebhook},

		// Tracking: experiments, runs, metrics (MLFLOW.md §3).
		{"POST", "experiments/create", s.createExperiment},
		{"GET", "experiments/get", s.getExperimentHandler},
		{"GET", "experiments/get-by-name", s.getExperimentByName},
		{"POST", "experiments/search", s.searchExperiments},
		{"GET", "experiments/search", s.searchExperiments},
		{"POST", "experiments/update", s.updateExperiment},
		{"POST", "experiments/delete", s.deleteExperiment},
		{"POST", "experiments/restore", s.restoreExperiment},
		{"POST", "experiments/set-experiment-tag", s.setExperimentTag},

		{"POST", "runs/create", s.createRun},
		{"GET", "runs/get", s.getRunHandler},
		{"POST", "runs/update", s.updateRun},
		{"POST", "runs/delete", s.deleteRun},
		{"POST", "runs/restore", s.restoreRun},
		{"POST", "runs/search", s.searchRuns},
		{"POST", "runs/log-batch", s.logBatch},
		{"POST", "runs/log-metric", s.logMetric},
		{"POST", "runs/log-parameter", s.logParam},
		{"POST", "runs/set-tag", s.setRunTag},
		{"POST", "runs/delete-tag", s.deleteRunTag},
		{"GET", "metrics/get-history", s.getMetricHistory},
		{"POST", "runs/log-inputs", s.logInputs},
		{"POST", "runs/outputs", s.logOutputs},
		{"POST", "runs/log-model", s.logModel},
		{"GET", "artifacts/list", s.listRunArtifacts},

		// MLflow 3's logged models (loggedmodels.go).
		{"POST", "logged-models", s.createLoggedModel},
		{"POST", "logged-models/search", s.searchLoggedModels},
		{"GET", "logged-models/{model_id}", s.getLoggedModelHandler},
		{"PATCH", "logged-models/{model_id}", s.finalizeLoggedModel},
		{"DELETE", "logged-models/{model_id}", s.deleteLoggedModel},
		{"PATCH", "logged-models/{model_id}/tags", s.setLoggedModelTags},
		{"DELETE", "logged-models/{model_id}/tags/{tag_key}", s.deleteLoggedModelTag},
		{"POST", "logged-models/{model_id}/params", s.logLoggedModelParams},
		// What MLflow 3's UI calls around them.
		{"GET", "logged-models:batchGet", s.batchGetLoggedModels},
		{"GET", "logged-models/{model_id}/artifacts/directories", s.listLoggedModelArtifacts},
		{"GET", "logged-models/{model_id}/artifacts/files", s.getLoggedModelArtifact},
	}
}

// Routes returns the patterns the API serves ("POST
// /api/2.0/mlflow/registered-models/create"), under each of Prefixes, and
// the artifact proxy's under each of ArtifactPrefixes ("{path...}" stands
// for an artifact path).
func (s *Server) Routes() []string {
	var out []string
	for _, rt := range s.routes() {
		for _, p := range Prefixes {
			out = append(out, rt.method+" "+p+rt.path)
		}
	}
	for _, rt := range artifactRoutes {
		for _, p := range ArtifactPrefixes {
			out = append(out, rt.method+" "+p+rt.path)
		}
	}
	return append(out, "GET "+getArtifactPath)
}

// Register mounts the API at each of Prefixes, and at the MLflow prefixes
// it does not serve yet (which answer ENDPOINT_NOT_FOUND), with mount:
// typically httpapi.Server.Mount, so that the native API's middleware
// (request ids, actor, access log, metrics) wraps it.
func (s *Server) Register(mount func(pattern string, h http.Handler)) {
	for _, p := range Prefixes {
		mount(p, s)
	}
	for _, p := range ArtifactPrefixes {
		mount(p, s)
	}
	for _, p := range reservedPrefixes {
		mount(p, s)
	}
	mount(getArtifactPath, s.adapt(s.getVersionArtifact))
}

// getArtifactPath is MLflow's UI route for a file of a version, outside
// the API prefixes.
const getArtifactPath = "/model-versions/get-artifact"

// ServeHTTP serves a request under one of Prefixes. The request is handed
// to the inner mux unchanged, so that the mux records its route pattern on
// the request the outer middleware logs.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if prefix, ok := artifactPrefix(r.URL.Path); ok {
		outer := r
		s.adapt(func(w http.ResponseWriter, r *http.Request) error {
			return s.serveArtifacts(w, r, prefix, outer)
		}).ServeHTTP(w, r)
		return
	}
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	path := r.URL.Path
	if methods, ok := s.methods[path]; ok {
		w.Header().Set("Allow", strings.Join(methods, ", "))
		s.writeError(w, r, &apiError{status: http.StatusMethodNotAllowed, code: codeBadRequest,
			msg: "The method " + r.Method + " is not allowed for " + path + "; allowed: " + strings.Join(methods, ", ")})
		return
	}
	s.writeError(w, r, &apiError{status: http.StatusNotFound, code: codeEndpointNotFound,
		msg: "No API endpoint " + r.Method + " " + path + " on this server: Cairn serves MLflow's Model Registry API, its artifact proxy and part of its tracking API (see docs/mlflow.md)"})
}

// adapt runs a handler with the request's actor in its context, turns a
// returned error into MLflow's error body, and answers a panic with
// INTERNAL_ERROR instead of dropping the connection.
func (s *Server) adapt(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &statusWriter{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.ErrorContext(r.Context(), "panic serving MLflow request",
				slog.String("request_id", cairn.RequestIDFromContext(r.Context())), slog.String("method", r.Method),
				slog.String("path", r.URL.Path), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			if rw.wrote {
				panic(http.ErrAbortHandler)
			}
			s.writeError(rw, r, &apiError{status: http.StatusInternalServerError, code: codeInternal, msg: "internal error"})
		}()
		r = r.WithContext(withBasicAuthActor(r.Context(), r))
		if err := h(rw, r); err != nil {
			if rw.wrote {
				s.log.WarnContext(r.Context(), "MLflow request failed after the response started",
					slog.String("request_id", cairn.RequestIDFromContext(r.Context())),
					slog.String("path", r.URL.Path), slog.Any("error", err))
				panic(http.ErrAbortHandler)
			}
			s.writeError(rw, r, err)
		}
	})
}

// withBasicAuthActor makes the HTTP basic-auth user name the actor when the
// request declares no other (X-Cairn-User): MLflow clients identify
// themselves with MLFLOW_TRACKING_USERNAME. This applies with auth off
// only: the name is recorded unverified and the password is ignored. With
// auth on the middleware has checked the credentials and set the actor,
// so this changes nothing.
func withBasicAuthActor(ctx context.Context, r *http.Request) context.Context {
	if cairn.ActorFromContext(ctx) != cairn.AnonymousActor {
		return ctx
	}
	user, _, ok := r.BasicAuth()
	if !ok || user == "" || len(user) > cairn.MaxNameLength || cairn.ValidateText("user", user) != nil {
		return ctx
	}
	return cairn.NewContextWithActor(ctx, cairn.Actor{Name: user})
}

// statusWriter notes whether the response has started.
type statusWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if code >= 200 {
		w.wrote = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
