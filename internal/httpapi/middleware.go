package httpapi

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/cairn-registry/cairn"
)

// Request headers the server reads.
const (
	headerRequestID      = "X-Request-Id"
	headerUser           = "X-Cairn-User"
	headerIdempotencyKey = "Idempotency-Key"
	headerDigest         = "X-Cairn-Digest"
	headerReplayed       = "Idempotent-Replayed"
)

// serveHTTP is the middleware around the mux, in one function so that the
// order is visible: request id, byte counting, actor, panic recovery, the
// route itself, then one log line and the metrics.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := requestIDFrom(r.Header.Get(headerRequestID))
	w.Header().Set(headerRequestID, reqID)

	ctx := cairn.NewContextWithRequestID(r.Context(), reqID)
	rw := &responseWriter{ResponseWriter: w}
	body := &countingReader{r: r.Body}
	r = r.WithContext(ctx)
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = body
	}
	s.metrics.inFlight.Add(1)

	defer func() {
		p := recover()
		if p != nil && p != http.ErrAbortHandler {
			s.log.ErrorContext(ctx, "panic serving request",
				slog.String("request_id", reqID), slog.String("method", r.Method),
				slog.String("path", r.URL.Path), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			if !rw.wroteHeader {
				writeProblem(rw, problemFor(errors.New("panic"), reqID))
			}
		}
		route := routeLabel(r.Pattern)
		status := rw.statusCode()
		dur := time.Since(start)
		s.metrics.observe(route, r.Method, status, dur, body.n, rw.n)
		// Leave the in-flight gauge only once the request is counted, so a
		// scrape that sees no request in flight sees every count.
		s.metrics.inFlight.Add(-1)
		// Info even for 5xx: the cause of an internal error is logged once,
		// at error level, by writeError; this line is the access log.
		s.log.LogAttrs(ctx, slog.LevelInfo, "http request",
			slog.String("request_id", reqID),
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Duration("duration", dur),
			slog.Int64("bytes_in", body.n),
			slog.Int64("bytes_out", rw.n),
			slog.String("actor", cairn.ActorFromContext(r.Context()).Name),
		)
		if p == http.ErrAbortHandler {
			panic(p)
		}
	}()

	if s.svc.AuthEnabled() {
		// X-Cairn-User is ignored: the actor is who authenticated.
		ar, err := s.authenticate(rw, r)
		if err != nil {
			s.writeError(rw, r, err)
			return
		}
		r = ar
	} else {
		actor, err := actorFrom(r.Header.Get(headerUser))
		if err != nil {
			s.writeError(rw, r, err)
			return
		}
		if actor.Name != "" {
			r = r.WithContext(cairn.NewContextWithActor(r.Context(), actor))
		}
	}

	if m := s.mountedFor(r.URL.Path); m != nil {
		// The route label, unless the mounted handler's own mux sets a
		// finer one, as the mux would have.
		r.Pattern = m.prefix
		m.h.ServeHTTP(rw, r)
		return
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.noRoute(rw, r)
		return
	}
	s.mux.ServeHTTP(rw, r)
}

// noRoute answers a request no pattern matches with a problem document
// instead of the mux's plain text: 405 with the mux's Allow header if the
// path exists under another method, else 404.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	h, _ := s.mux.Handler(r)
	probe := &probeWriter{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		if allow := probe.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		s.writeError(w, r, &methodNotAllowedError{method: r.Method, path: r.URL.Path})
		return
	}
	s.writeError(w, r, cairn.Errorf(cairn.ENOTFOUND, "no route for %s %s", r.Method, r.URL.Path))
}

// probeWriter records what the mux's fallback handler would answer.
type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header { return p.header }
func (p *probeWriter) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	return len(b), nil
}
func (p *probeWriter) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}

// maxRequestIDLength bounds a client-supplied request id.
const maxRequestIDLength = 128

// requestIDFrom returns the client's request id if it is a sane token,
// else a new random one. A bad id is replaced rather than refused: the id
// exists to correlate logs, and a client should not fail for sending one.
func requestIDFrom(h string) string {
	if h != "" && len(h) <= maxRequestIDLength {
		ok := true
		for i := 0; i < len(h); i++ {
			c := h[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
				ok = false
				break
			}
		}
		if ok {
			return h
		}
	}
	return newRequestID()
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// actorFrom turns the X-Cairn-User header into the request's actor when
// auth is off: the name is whatever the client declares, marked
// unverified. An empty header is the anonymous actor (Name "").
func actorFrom(h string) (cairn.Actor, error) {
	if h == "" {
		return cairn.Actor{}, nil
	}
	if len(h) > cairn.MaxNameLength {
		return cairn.Actor{}, cairn.Errorf(cairn.EINVALID, "%s is %d bytes long; the limit is %d", headerUser, len(h), cairn.MaxNameLength)
	}
	if err := cairn.ValidateText(headerUser, h); err != nil {
		return cairn.Actor{}, err
	}
	return cairn.Actor{Name: h, Verified: false}, nil
}

// countingReader counts the request body bytes a handler reads.
type countingReader struct {
	r io.ReadCloser
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }

// headerWriter is implemented by the response writers of this package:
// once headers are out, an error can no longer become a problem document.
type headerWriter interface{ headerWritten() bool }

// responseWriter records the status and counts body bytes. It forwards
// ReadFrom so that blob downloads keep using sendfile, and exposes the
// wrapped writer to http.ResponseController.
type responseWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	n           int64
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, src)
	}
	w.n += n
	return n, err
}

func (w *responseWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, fmt.Errorf("hijacking is not supported")
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseWriter) headerWritten() bool { return w.wroteHeader }

func (w *responseWriter) statusCode() int {
	if !w.wroteHeader {
		// A handler that wrote nothing answered 200 with an empty body.
		return http.StatusOK
	}
	return w.status
}
