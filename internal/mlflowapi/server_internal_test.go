package mlflowapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
)

// TestAdaptErrors checks how handler failures reach the client: a panic
// and an internal error are INTERNAL_ERROR 500 with the request id and
// logged once with the cause, which the client never sees; an error after
// the response started aborts the connection.
func TestAdaptErrors(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	s := New(nil, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	call := func(h handlerFunc) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/2.0/mlflow/x", nil)
		req = req.WithContext(cairn.NewContextWithRequestID(req.Context(), "rid-1"))
		s.adapt(h).ServeHTTP(rec, req)
		return rec
	}
	for name, h := range map[string]handlerFunc{
		"panic":          func(http.ResponseWriter, *http.Request) error { panic("secret panic detail") },
		"internal error": func(http.ResponseWriter, *http.Request) error { return errors.New("secret driver detail") },
	} {
		logs.Reset()
		rec := call(h)
		var body errorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 500 || body.ErrorCode != "INTERNAL_ERROR" ||
			body.Message != "internal error (request id rid-1)" {
			t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
		}
		if !strings.Contains(logs.String(), "secret") || !strings.Contains(logs.String(), "rid-1") {
			t.Errorf("%s: cause not logged with the request id: %s", name, logs.String())
		}
	}
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("error after the response started: recovered %v, want http.ErrAbortHandler", p)
			}
		}()
		call(func(w http.ResponseWriter, _ *http.Request) error {
			_, _ = w.Write([]byte(`{"model_versions":[`))
			return errors.New("page 2 failed")
		})
	}()
}

// TestErrorMapping pins the map from Cairn's codes to MLflow's codes and
// statuses, for every code Cairn has.
func TestErrorMapping(t *testing.T) {
	t.Parallel()
	want := map[cairn.ErrorCode]struct {
		status int
		code   string
	}{
		cairn.EINVALID:            {400, "INVALID_PARAMETER_VALUE"},
		cairn.ETOOLARGE:           {400, "INVALID_PARAMETER_VALUE"},
		cairn.ENOTFOUND:           {404, "RESOURCE_DOES_NOT_EXIST"},
		cairn.ECONFLICT:           {400, "RESOURCE_ALREADY_EXISTS"},
		cairn.EFAILEDPRECONDITION: {409, "RESOURCE_CONFLICT"},
		cairn.EPENDINGAPPROVAL:    {403, "PERMISSION_DENIED"}, // names the request; see mlflowError
		cairn.EUNAUTHENTICATED:    {401, "UNAUTHENTICATED"},
		cairn.EPERMISSION:         {403, "PERMISSION_DENIED"},
		cairn.EINTERNAL:           {500, "INTERNAL_ERROR"},
	}
	for _, c := range cairn.ErrorCodes {
		w, ok := want[c]
		if !ok {
			t.Errorf("no MLflow mapping pinned for %s", c)
			continue
		}
		status, code, msg := mlflowError(cairn.Errorf(c, "detail"))
		if status != w.status || code != w.code {
			t.Errorf("%s: %d %s, want %d %s", c, status, code, w.status, w.code)
		}
		if c == cairn.EINTERNAL && msg != "internal error" {
			t.Errorf("internal error shows %q", msg)
		}
	}
}
