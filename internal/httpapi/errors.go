package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/cairn-registry/cairn"
)

// This file is the only place that maps errors to HTTP statuses.
//
// Decisions worth writing down:
//
//   - failed_precondition is 409 Conflict, not 412. RFC 9110 reserves 412
//     for conditional request headers (If-Match, If-Unmodified-Since) that
//     the client sent and that evaluated to false. Our failed_precondition
//     means the resource is in the wrong state for the request (the model
//     is archived, blobs are missing, aliases still point at a version);
//     that is 409's "conflict with the current state of the target
//     resource". Clients branch on the problem's code member, which keeps
//     conflict and failed_precondition apart.
//   - pending_approval is 409 Conflict as well, not 202 Accepted. A 2xx
//     tells generic clients (curl -f, MLflow's SDK, CI scripts) that the
//     alias moved, which it has not: the request opened an approval and the
//     state the caller asked for does not hold yet. The code member
//     pending_approval lets aware clients (the CLI's exit code 6) tell it
//     apart.

// statusOf returns the HTTP status for an error code.
func statusOf(code cairn.ErrorCode) int {
	switch code {
	case cairn.EINVALID:
		return http.StatusBadRequest
	case cairn.ENOTFOUND:
		return http.StatusNotFound
	case cairn.ECONFLICT, cairn.EFAILEDPRECONDITION, cairn.EPENDINGAPPROVAL:
		return http.StatusConflict
	case cairn.EUNAUTHENTICATED:
		return http.StatusUnauthorized
	case cairn.EPERMISSION:
		return http.StatusForbidden
	case cairn.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// statusClientClosed is recorded when the client left before the answer.
const statusClientClosed = 499

// methodNotAllowedError is what the mux's 405 becomes: a client error with
// its own status and the invalid code.
type methodNotAllowedError struct{ method, path string }

func (e *methodNotAllowedError) Error() string {
	return "method " + e.method + " is not allowed on " + e.path
}

// unavailableError is a failed readiness check: 503, so that load
// balancers take the replica out, with the failing component named. The
// cause is logged, not shown.
type unavailableError struct {
	component string
	err       error
}

func (e *unavailableError) Error() string { return e.component + " is not ready: " + e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

// Problem is an RFC 9457 problem document, the body of every error
// response. Code is one of cairn.ErrorCodes and is what clients branch on.
type Problem struct {
	Type      string          `json:"type"`
	Title     string          `json:"title"`
	Status    int             `json:"status"`
	Detail    string          `json:"detail"`
	Code      cairn.ErrorCode `json:"code"`
	RequestID string          `json:"request_id"`
	// ApprovalRequest is the id of the approval request a pending_approval
	// answer opened (or found open).
	ApprovalRequest string `json:"approval_request,omitempty"`
}

// problemTypePrefix prefixes the code in a problem's type URI. A URN
// rather than a URL: nothing needs to be served there.
const problemTypePrefix = "urn:cairn:problem:"

// problemFor builds the problem document for err.
func problemFor(err error, requestID string) Problem {
	var mna *methodNotAllowedError
	if errors.As(err, &mna) {
		return Problem{
			Type: problemTypePrefix + string(cairn.EINVALID), Title: http.StatusText(http.StatusMethodNotAllowed),
			Status: http.StatusMethodNotAllowed, Detail: mna.Error(), Code: cairn.EINVALID, RequestID: requestID,
		}
	}
	var rl *rateLimitedError
	if errors.As(err, &rl) {
		return Problem{
			Type: problemTypePrefix + string(cairn.EUNAUTHENTICATED), Title: http.StatusText(http.StatusTooManyRequests),
			Status: http.StatusTooManyRequests, Detail: rl.Error(), Code: cairn.EUNAUTHENTICATED, RequestID: requestID,
		}
	}
	var un *unavailableError
	if errors.As(err, &un) {
		return Problem{
			Type: problemTypePrefix + string(cairn.EINTERNAL), Title: http.StatusText(http.StatusServiceUnavailable),
			Status: http.StatusServiceUnavailable, Detail: un.component + " is not ready", Code: cairn.EINTERNAL, RequestID: requestID,
		}
	}
	code := cairn.ErrorCodeOf(err)
	status := statusOf(code)
	if status == http.StatusInternalServerError {
		code = cairn.EINTERNAL
	}
	p := Problem{
		Type:      problemTypePrefix + string(code),
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    cairn.ErrorMessage(err),
		Code:      code,
		RequestID: requestID,
	}
	var pa *cairn.PendingApprovalError
	if code == cairn.EPENDINGAPPROVAL && errors.As(err, &pa) {
		p.ApprovalRequest = pa.Request.ID
	}
	return p
}

// writeError answers with a problem document. Internal errors are logged
// here, once, with the request id; the client sees only "internal error"
// and the id to quote.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	reqID := cairn.RequestIDFromContext(r.Context())
	if r.Context().Err() != nil && errors.Is(err, r.Context().Err()) {
		// The client went away (or the server is shutting down): nobody
		// reads this answer, and it is not a server fault. 499 is nginx's
		// "client closed request", kept for logs and metrics.
		s.log.InfoContext(r.Context(), "request canceled", slog.String("request_id", reqID), slog.Any("error", err))
		writeProblem(w, Problem{
			Type: problemTypePrefix + string(cairn.EINTERNAL), Title: "Client Closed Request",
			Status: statusClientClosed, Detail: "request canceled", Code: cairn.EINTERNAL, RequestID: reqID,
		})
		return
	}
	p := problemFor(err, reqID)
	switch p.Status {
	case http.StatusUnauthorized:
		w.Header().Add("WWW-Authenticate", `Bearer realm="cairn"`)
		w.Header().Add("WWW-Authenticate", `Basic realm="cairn", charset="UTF-8"`)
	case http.StatusTooManyRequests:
		var rl *rateLimitedError
		if errors.As(err, &rl) {
			w.Header().Set("Retry-After", retryAfterSeconds(rl.retryAfter))
		}
	}
	if p.Status >= 500 {
		s.log.ErrorContext(r.Context(), "internal error",
			slog.String("request_id", reqID), slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Any("error", err))
	}
	writeProblem(w, p)
}

func writeProblem(w http.ResponseWriter, p Problem) {
	h := w.Header()
	h.Del("Content-Length")
	h.Del("ETag")
	h.Del("Content-Range")
	h.Set("Content-Type", "application/problem+json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
