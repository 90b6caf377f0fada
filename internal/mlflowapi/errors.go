package mlflowapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/cairn-registry/cairn"
)

// MLflow error codes (the ErrorCode names of databricks.proto) this API
// answers with.
const (
	codeInvalidParameter = "INVALID_PARAMETER_VALUE"
	codeDoesNotExist     = "RESOURCE_DOES_NOT_EXIST"
	codeAlreadyExists    = "RESOURCE_ALREADY_EXISTS"
	codeConflict         = "RESOURCE_CONFLICT"
	codePermissionDenied = "PERMISSION_DENIED"
	codeUnauthenticated  = "UNAUTHENTICATED"
	codeEndpointNotFound = "ENDPOINT_NOT_FOUND"
	codeBadRequest       = "BAD_REQUEST"
	codeNotImplemented   = "NOT_IMPLEMENTED"
	codeInternal         = "INTERNAL_ERROR"
)

// apiError is an error with an MLflow code, status and message chosen by a
// handler, for the cases where MLflow's wording differs from the
// registry's (a model or version not found, a name taken).
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func invalidParam(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, code: codeInvalidParameter, msg: sprintf(format, args...)}
}

// mlflowError maps an error from the registry to MLflow's code and status.
//
// MLflow's own map (mlflow/exceptions.py) is followed code for code, with
// one decision worth writing down: Cairn's failed_precondition (the model
// is archived, a version is pending, an approval is pending) becomes
// RESOURCE_CONFLICT 409, not INVALID_STATE. MLflow maps INVALID_STATE to
// 500, and its client retries 500s with backoff for minutes; a state
// conflict is not transient, so a 4xx the client does not retry is right.
func mlflowError(err error) (status int, code, msg string) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status, ae.code, ae.msg
	}
	msg = cairn.ErrorMessage(err)
	switch cairn.ErrorCodeOf(err) {
	case cairn.EINVALID, cairn.ETOOLARGE:
		return http.StatusBadRequest, codeInvalidParameter, msg
	case cairn.ENOTFOUND:
		return http.StatusNotFound, codeDoesNotExist, msg
	case cairn.ECONFLICT:
		return http.StatusBadRequest, codeAlreadyExists, msg
	case cairn.EFAILEDPRECONDITION:
		return http.StatusConflict, codeConflict, msg
	case cairn.EPENDINGAPPROVAL:
		// The move waits for approvals: MLflow clients have no code for
		// that, and must not read it as done or retry it. The message
		// names the request (docs/governance.md).
		return http.StatusForbidden, codePermissionDenied, msg
	case cairn.EUNAUTHENTICATED:
		return http.StatusUnauthorized, codeUnauthenticated, msg
	case cairn.EPERMISSION:
		return http.StatusForbidden, codePermissionDenied, msg
	}
	return http.StatusInternalServerError, codeInternal, "internal error"
}

// statusClientClosed answers a request whose client went away.
const statusClientClosed = 499

// errorBody is MLflow's error response.
type errorBody struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

// writeError answers with MLflow's error body. Internal errors are logged
// here, once, with the request id, which the client's message quotes.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	reqID := cairn.RequestIDFromContext(r.Context())
	status, code, msg := mlflowError(err)
	if status >= 500 {
		if r.Context().Err() != nil && errors.Is(err, r.Context().Err()) {
			// The client left; nobody reads the answer, and it is not a
			// server fault: 499, nginx's "client closed request", as on
			// the native API, for logs and metrics.
			s.log.InfoContext(r.Context(), "request canceled", slog.String("request_id", reqID), slog.Any("error", err))
			status = statusClientClosed
		} else {
			s.log.ErrorContext(r.Context(), "internal error",
				slog.String("request_id", reqID), slog.String("method", r.Method),
				slog.String("path", r.URL.Path), slog.Any("error", err))
		}
		if reqID != "" {
			msg += " (request id " + reqID + ")"
		}
	}
	b, _ := json.Marshal(errorBody{ErrorCode: code, Message: msg})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
