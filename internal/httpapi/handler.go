package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
)

// handlerFunc is the shape of every handler: it writes a success response
// or returns an error, which the adapter turns into a problem document.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// adapt wraps a route's handler: unknown query parameters are refused, POSTs
// go through idempotency-key handling, and a returned error becomes a
// problem document.
func (s *Server) adapt(rt route) http.Handler {
	h := rt.handler
	if rt.Method == http.MethodPost && !rt.Secret {
		limit := s.maxJSON
		if rt.Manifest {
			limit = s.maxManifest
		}
		h = s.idempotent(h, limit)
	}
	allowed := make([]string, 0, len(rt.Query))
	for _, q := range rt.Query {
		allowed = append(allowed, q.Name)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := checkQuery(r.URL.Query(), allowed)
		if err == nil {
			err = h(w, r)
		}
		if err == nil {
			return
		}
		if hw, ok := w.(headerWriter); ok && hw.headerWritten() {
			// Too late for a problem document: the status is out. Log it,
			// and abort the connection so the client sees a truncated
			// response rather than a short one that looks complete.
			s.log.WarnContext(r.Context(), "request failed after the response started",
				slog.String("request_id", cairn.RequestIDFromContext(r.Context())),
				slog.String("route", rt.Path), slog.Any("error", err))
			panic(http.ErrAbortHandler)
		}
		s.writeError(w, r, err)
	})
}

// checkQuery refuses query parameters a route does not take, so that a
// misspelt ?remove_alias=true fails loudly instead of being ignored.
func checkQuery(q url.Values, allowed []string) error {
	for k := range q {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return cairn.Errorf(cairn.EINVALID, "unknown query parameter %q: this route takes none", k)
			}
			return cairn.Errorf(cairn.EINVALID, "unknown query parameter %q: want one of %s", k, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// decodeJSON decodes a required JSON body into v, strictly: the body is
// size-limited, must be application/json, may hold only v's fields, and
// must hold exactly one JSON value.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return s.decode(w, r, v, false, s.maxJSON)
}

// decodeManifest is decodeJSON for the bodies that carry a manifest (a
// version spec), which may be far larger than other requests: a manifest
// of 100,000 files is about 15 MB of JSON. They are limited by
// Options.MaxManifestBody instead.
func (s *Server) decodeManifest(w http.ResponseWriter, r *http.Request, v any) error {
	return s.decode(w, r, v, false, s.maxManifest)
}

// decodeOptionalJSON is decodeJSON for bodies that may be empty, such as
// the options of POST …/archive; an empty body leaves v as it is.
func (s *Server) decodeOptionalJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return s.decode(w, r, v, true, s.maxJSON)
}

func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any, optional bool, limit int64) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return cairn.Errorf(cairn.EINVALID, "Content-Type %q: the request body must be application/json", ct)
		}
	}
	if r.ContentLength > limit {
		return cairn.Errorf(cairn.ETOOLARGE, "request body is %d bytes; the limit is %d", r.ContentLength, limit)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			if optional {
				return nil
			}
			return cairn.Errorf(cairn.EINVALID, "the request body is empty; want a JSON object")
		}
		return s.jsonError(err, limit)
	}
	// Exactly one value: anything but white space after it is refused.
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return s.jsonError(err, limit)
		}
		return cairn.Errorf(cairn.EINVALID, "the request body must hold a single JSON value; found more after it")
	}
	return nil
}

// jsonError turns a decoding error into a client error that says where the
// body went wrong. Every decoding error is the client's fault.
func (s *Server) jsonError(err error, limit int64) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return cairn.Errorf(cairn.ETOOLARGE, "request body exceeds the %d byte limit", limit)
	case errors.As(err, &syn):
		return cairn.Errorf(cairn.EINVALID, "malformed JSON at byte %d: %s", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return cairn.Errorf(cairn.EINVALID, "malformed JSON: the body ends in the middle of a value")
	case errors.As(err, &typ):
		if typ.Field != "" {
			return cairn.Errorf(cairn.EINVALID, "field %q: want %s, got JSON %s", typ.Field, jsonTypeName(typ.Type.String()), typ.Value)
		}
		return cairn.Errorf(cairn.EINVALID, "want a JSON object, got JSON %s", typ.Value)
	}
	// encoding/json has no typed error for unknown fields; its message is
	// `json: unknown field "x"`.
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return cairn.Errorf(cairn.EINVALID, "invalid request body: %s", msg)
}

func jsonTypeName(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "struct"):
		return "an object"
	case strings.Contains(goType, "int"):
		return "an integer"
	case strings.Contains(goType, "float"):
		return "a number"
	case goType == "bool":
		return "a boolean"
	case strings.Contains(goType, "string"), strings.HasPrefix(goType, "cairn."):
		return "a string"
	}
	return goType
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	return writeBody(w, status, append(b, '\n'))
}

// writeBody answers with b, a JSON document.
func writeBody(w http.ResponseWriter, status int, b []byte) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b) // a failed write means the client left; nothing to report to it
	return nil
}

// noContent answers 204.
func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Query and path parameter helpers. Each returns invalid with the
// parameter's name on a bad value.

func queryInt(r *http.Request, name string, def, min, max int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < min || n > max {
		return 0, cairn.Errorf(cairn.EINVALID, "query parameter %s=%q: want an integer from %d to %d", name, s, min, max)
	}
	return n, nil
}

func queryBool(r *http.Request, name string) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, cairn.Errorf(cairn.EINVALID, "query parameter %s=%q: want true or false", name, s)
	}
	return b, nil
}

func queryTime(r *http.Request, name string) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, cairn.Errorf(cairn.EINVALID, "query parameter %s=%q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", name, s)
	}
	return t, nil
}

// pathVersion parses the {version} path parameter: 3 or v3.
func pathVersion(r *http.Request) (int64, error) {
	return cairn.ParseVersionNumber(r.PathValue("version"))
}

// pathDigest parses the {digest} path parameter.
func pathDigest(r *http.Request) (cairn.Digest, error) {
	return cairn.ParseDigest(r.PathValue("digest"))
}

// escapedPath joins escaped path segments under /api/v1, for Location
// headers.
func escapedPath(segments ...string) string {
	var b strings.Builder
	b.WriteString(apiPrefix)
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}
