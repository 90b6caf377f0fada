// Package httpapi is Cairn's native REST API under /api/v1, plus the
// operational endpoints /healthz, /readyz and /metrics. Every route is
// declared once, in routes.go; the mux and the OpenAPI document are both
// built from that table so they cannot drift. Handlers are methods that
// return an error; errors.go is the only place that turns errors into HTTP
// statuses, as RFC 9457 problem documents.
package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cairn-registry/cairn/internal/registry"
)

// Options tune a Server. Zero values mean the defaults.
type Options struct {
	// Logger receives one line per request and every internal error.
	// Default: slog.Default().
	Logger *slog.Logger
	// MaxJSONBody bounds every JSON request body, in bytes. Larger bodies
	// are refused with too_large. Default: DefaultMaxJSONBody.
	MaxJSONBody int64
	// MaxManifestBody bounds the JSON body of a version's creation, which
	// carries its manifest. Default: DefaultMaxManifestBody.
	MaxManifestBody int64
	// Metrics collects the HTTP metrics served at /metrics. Pass one to
	// share it with other components; default: a new one.
	Metrics *Metrics
	// ExtraMetrics, if set, is called on every scrape of /metrics after the
	// HTTP metrics, to append other components' metrics in the Prometheus
	// text format.
	ExtraMetrics func(w io.Writer)
	// MaxEventWait bounds the long-poll of GET /api/v1/events?wait=.
	// Default: 60 seconds.
	MaxEventWait int
	// Version is the server version shown in the OpenAPI document.
	Version string
	// PresignDownloads, if positive, answers blob downloads with a
	// redirect to a URL of the blob store valid this long (when the store
	// can presign; see redirectBlob), so that bytes bypass the server.
	PresignDownloads time.Duration
	// Webhooks sends test deliveries (POST /api/v1/webhooks/{id}/test);
	// nil answers that route with failed_precondition.
	Webhooks WebhookTester
}

// DefaultMaxJSONBody is the default limit on JSON request bodies; bulk
// data goes through /blobs and /uploads, which stream.
const DefaultMaxJSONBody = 4 << 20

// DefaultMaxManifestBody is the default limit on the body that creates a
// version: a manifest of cairn.MaxManifestFiles (1,000,000) files with
// paths of ~60 bytes fits.
const DefaultMaxManifestBody = 160 << 20

// Server serves the native API over a registry Service.
type Server struct {
	svc          *registry.Service
	log          *slog.Logger
	maxJSON      int64
	maxManifest  int64
	metrics      *Metrics
	extraMetrics func(io.Writer)
	maxEventWait int
	version      string
	presignTTL   time.Duration
	webhooks     WebhookTester
	limiter      *loginLimiter

	routes   []route
	mux      *http.ServeMux
	prefixes []mounted // Mount's path prefixes, matched before mux
	patterns []string  // every pattern handed to mux, in order
	openapi  []byte

	// Set by MountPublic: paths served without credentials.
	publicExact    []string
	publicPrefixes []string
	capabilities   []string // "METHOD /prefix/": see AllowCapability
}

// New returns a Server for svc.
func New(svc *registry.Service, opts Options) *Server {
	s := &Server{
		svc: svc, log: opts.Logger, maxJSON: opts.MaxJSONBody, maxManifest: opts.MaxManifestBody, metrics: opts.Metrics,
		extraMetrics: opts.ExtraMetrics, maxEventWait: opts.MaxEventWait, version: opts.Version,
		presignTTL: opts.PresignDownloads, webhooks: opts.Webhooks, limiter: newLoginLimiter(loginBurst, loginRefill),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxManifest <= 0 {
		s.maxManifest = DefaultMaxManifestBody
	}
	s.maxManifest = max(s.maxManifest, s.maxJSON)
	if s.maxJSON <= 0 {
		s.maxJSON = DefaultMaxJSONBody
	}
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}
	if s.maxEventWait <= 0 {
		s.maxEventWait = 60
	}
	if s.version == "" {
		s.version = "dev"
	}
	s.routes = s.routeTable()
	s.mux = http.NewServeMux()
	for _, rt := range s.routes {
		pattern := rt.Method + " " + rt.Path
		s.mux.Handle(pattern, s.adapt(rt))
		s.patterns = append(s.patterns, pattern)
	}
	s.openapi = buildOpenAPI(s.routes, s.version)
	return s
}

// Handler returns the server's root handler, middleware included.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Mount serves h at pattern (a ServeMux pattern such as "/api/2.0/mlflow/")
// behind the server's middleware: request id, actor, panic recovery, the
// access log and metrics. h answers everything under the pattern, its own
// unknown paths included; if it serves the request through a ServeMux of
// its own, that mux's pattern becomes the route label of logs and metrics.
// Mounted handlers are not part of the OpenAPI document. Call Mount before
// serving.
//
// A pattern that is a bare path prefix ("/api/2.0/mlflow/") matches the
// request's path as sent: such requests reach h without the mux's path
// cleaning, whose answer to a path with "..", "." or "//" segments is a
// redirect to the cleaned path. A front door that takes file paths in the
// URL (the MLflow artifact proxy) must see those forms to refuse them; h
// owns every path under its prefix, dot segments included.
func (s *Server) Mount(pattern string, h http.Handler) {
	if strings.HasPrefix(pattern, "/") && strings.HasSuffix(pattern, "/") {
		s.prefixes = append(s.prefixes, mounted{prefix: pattern, h: h})
	}
	s.mux.Handle(pattern, h)
}

// mounted is a handler mounted at a path prefix.
type mounted struct {
	prefix string
	h      http.Handler
}

// mountedFor returns the mount at the longest prefix of path, or nil.
func (s *Server) mountedFor(path string) *mounted {
	var best *mounted
	for i, m := range s.prefixes {
		if strings.HasPrefix(path, m.prefix) && (best == nil || len(m.prefix) > len(best.prefix)) {
			best = &s.prefixes[i]
		}
	}
	return best
}

// MountPublic is Mount for a GET pattern whose responses hold nothing
// private (the web UI's static files): with authentication on, its GET
// and HEAD requests are served without credentials. A pattern ending in
// "/" makes its whole subtree public, one ending in "{$}" only its exact
// path. Requests that do carry credentials are still authenticated.
func (s *Server) MountPublic(pattern string, h http.Handler) {
	method, p, ok := strings.Cut(pattern, " ")
	if !ok || method != http.MethodGet {
		panic("httpapi: MountPublic needs a GET pattern, not " + pattern)
	}
	if exact, ok := strings.CutSuffix(p, "{$}"); ok {
		s.publicExact = append(s.publicExact, exact)
	} else if strings.HasSuffix(p, "/") {
		s.publicPrefixes = append(s.publicPrefixes, p)
	} else {
		s.publicExact = append(s.publicExact, p)
	}
	s.mux.Handle(pattern, h)
}

// AllowCapability lets requests of method under prefix (a mounted path
// prefix) through without credentials, as the anonymous actor, for
// handlers that authorize them by a capability in the URL instead: an
// unguessable id that only an authenticated, authorized caller was given
// (the MLflow artifact proxy's multipart part URLs, which the client
// calls as it would a presigned object-store URL). Requests that do carry
// credentials are still authenticated.
func (s *Server) AllowCapability(method, prefix string) {
	s.capabilities = append(s.capabilities, method+" "+prefix)
}

// isCapability reports whether a request without credentials may go
// through to a handler that checks a capability.
func (s *Server) isCapability(r *http.Request) bool {
	for _, c := range s.capabilities {
		method, prefix, _ := strings.Cut(c, " ")
		if r.Method == method && strings.HasPrefix(r.URL.Path, prefix) {
			return true
		}
	}
	return false
}

// isPublic reports whether a request for path may go without credentials.
func (s *Server) isPublic(path string) bool {
	if publicPaths[path] || slices.Contains(s.publicExact, path) {
		return true
	}
	for _, p := range s.publicPrefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// Routes returns the patterns of the route table ("GET /api/v1/models"),
// in table order; mounted handlers are not included.
func (s *Server) Routes() []string { return append([]string(nil), s.patterns...) }

// Metrics returns the server's metrics collector.
func (s *Server) Metrics() *Metrics { return s.metrics }

// routeLabel turns a matched pattern ("GET /api/v1/models/{name}") into
// the route label of logs and metrics; "" (no route) becomes "unmatched".
func routeLabel(pattern string) string {
	if pattern == "" {
		return "unmatched"
	}
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return path
	}
	return pattern
}
