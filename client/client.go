// Package client is the Go SDK for Cairn's native REST API, and the CLI's
// only way to a server. It has one method per API route, typed with the
// domain types of package cairn and the request types of the registry,
// plus the high-level transfers Push and Pull.
//
// Errors from the server come back as *cairn.Error decoded from the
// problem document: branch with cairn.ErrorCodeOf(err) (not_found,
// conflict, pending_approval, …) and show cairn.ErrorMessage(err). The
// HTTP status and request id are in the wrapped *StatusError. Errors that
// never reached the server (connection refused, timeouts) are plain
// errors, for which cairn.ErrorCodeOf reports internal.
//
// A Client is safe for concurrent use.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
)

// Client talks to one Cairn server.
type Client struct {
	base      string // scheme://host[:port][/prefix], no trailing slash
	hc        *http.Client
	user      string
	token     string
	userAgent string
	retries   int
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client used for every request. The default
// is an http.Client with no overall timeout (transfers may be long); use
// contexts for deadlines.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithUser declares the acting user (header X-Cairn-User). With
// authentication off the server records the name as unverified.
func WithUser(name string) Option { return func(c *Client) { c.user = name } }

// WithToken sends an API token as a bearer token, for servers with
// authentication on.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithRetries sets how many times a request is retried after a transport
// error or a 502, 503 or 504 answer (default 2). Only requests that are
// safe to repeat are retried: every request but POST, and POSTs, which
// the client sends with an Idempotency-Key so the server replays rather
// than repeats them. Streamed uploads are retried by Push itself.
func WithRetries(n int) Option { return func(c *Client) { c.retries = max(n, 0) } }

// New returns a Client for the server at baseURL (e.g.
// http://localhost:8080). An invalid URL makes every call fail.
func New(baseURL string, opts ...Option) *Client {
	c := &Client{
		base:      strings.TrimRight(baseURL, "/"),
		hc:        &http.Client{},
		userAgent: "cairn-go-client",
		retries:   2,
	}
	for _, o := range opts {
		o(c)
	}
	c.hc = withRedirectPolicy(c.hc)
	return c
}

// BaseURL returns the server URL the client talks to.
func (c *Client) BaseURL() string { return c.base }

// StatusError is the HTTP side of an error answer; it is the Err of the
// *cairn.Error the client returns.
type StatusError struct {
	StatusCode int
	RequestID  string
	Type       string // the problem's type URI
	Title      string
	// ApprovalRequest is the id of the approval request a
	// pending_approval answer names.
	ApprovalRequest string
}

func (e *StatusError) Error() string {
	if e.RequestID != "" {
		return fmt.Sprintf("HTTP %d, request id %s", e.StatusCode, e.RequestID)
	}
	return fmt.Sprintf("HTTP %d", e.StatusCode)
}

// problem is the RFC 9457 body of an error answer.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
	// ApprovalRequest names the request a pending_approval answer opened.
	ApprovalRequest string `json:"approval_request"`
}

// maxProblemSize bounds how much of an error body is read.
const maxProblemSize = 64 << 10

// decodeError turns an error answer into a *cairn.Error. Problem documents
// give the code and message; anything else (a proxy's HTML page) gets the
// code its status implies.
func decodeError(resp *http.Response) error {
	se := &StatusError{StatusCode: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxProblemSize))
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var p problem
	if (mt == "application/problem+json" || mt == "application/json") && json.Unmarshal(body, &p) == nil && p.Code != "" {
		se.Type, se.Title, se.ApprovalRequest = p.Type, p.Title, p.ApprovalRequest
		if p.RequestID != "" {
			se.RequestID = p.RequestID
		}
		msg := p.Detail
		if msg == "" {
			msg = p.Title
		}
		return &cairn.Error{Code: cairn.ErrorCode(p.Code), Message: msg, Err: se}
	}
	msg := fmt.Sprintf("server answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	if snippet := strings.TrimSpace(string(body)); snippet != "" && len(snippet) < 200 && mt == "text/plain" {
		msg += ": " + snippet
	}
	return &cairn.Error{Code: codeForStatus(resp.StatusCode), Message: msg, Err: se}
}

func codeForStatus(status int) cairn.ErrorCode {
	switch status {
	case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType:
		return cairn.EINVALID
	case http.StatusNotFound:
		return cairn.ENOTFOUND
	case http.StatusConflict:
		return cairn.ECONFLICT
	case http.StatusPreconditionFailed:
		return cairn.EFAILEDPRECONDITION
	case http.StatusUnauthorized:
		return cairn.EUNAUTHENTICATED
	case http.StatusForbidden:
		return cairn.EPERMISSION
	case http.StatusRequestEntityTooLarge:
		return cairn.ETOOLARGE
	}
	return cairn.EINTERNAL
}

// apiPath builds /api/v1/<segments…>, escaping each segment, so names with
// spaces, '?', '#' or '%' (and references such as models:/x/3) survive.
func apiPath(segments ...string) string {
	var b strings.Builder
	b.WriteString("/api/v1")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// request describes one API call.
type request struct {
	method string
	path   string // escaped, from apiPath
	query  url.Values
	in     any // JSON request body, or nil
	out    any // where to decode a JSON answer, or nil
	// decode, if set, reads the JSON answer (of length bytes, -1 if
	// unknown) instead of encoding/json into out; see decodeLineage.
	decode func(body io.Reader, length int64) error
	status []int // success statuses; default any 2xx

	// body streams a raw request body instead of in; size is its length
	// (-1: unknown, sent chunked). Streamed requests are not retried.
	body io.Reader
	size int64
}

// newIdempotencyKey returns a random key for one logical POST.
func newIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// do performs a request and returns the status of the answer. JSON bodies
// are buffered (they are small, and retries resend them); raw bodies
// stream.
func (c *Client) do(ctx context.Context, rq request) (int, error) {
	resp, err := c.send(ctx, rq)
	if err != nil {
		return 0, err
	}
	defer drainClose(resp.Body)
	if (rq.out != nil || rq.decode != nil) && resp.StatusCode != http.StatusNoContent && rq.method != http.MethodHead {
		var err error
		if rq.decode != nil {
			err = rq.decode(resp.Body, resp.ContentLength)
		} else {
			err = json.NewDecoder(resp.Body).Decode(rq.out)
		}
		if err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decoding the answer: %w", rq.method, rq.path, err)
		}
	}
	return resp.StatusCode, nil
}

// send performs a request, retrying what is safe to retry, and returns a
// successful response whose body the caller must close.
func (c *Client) send(ctx context.Context, rq request) (*http.Response, error) {
	var payload []byte
	if rq.in != nil {
		var err error
		if payload, err = json.Marshal(rq.in); err != nil {
			return nil, fmt.Errorf("encoding the request: %w", err)
		}
	}
	idemKey := ""
	if rq.method == http.MethodPost {
		idemKey = newIdempotencyKey()
	}
	u := c.base + rq.path
	if len(rq.query) > 0 {
		u += "?" + rq.query.Encode()
	}
	attempts := 1 + c.retries
	if rq.body != nil {
		attempts = 1
	}
	var lastErr error
	for attempt := 0; attempt < attempts; attempt++ {
		if attempt > 0 {
			if err := sleepCtx(ctx, backoff(attempt)); err != nil {
				return nil, lastErr
			}
		}
		req, err := http.NewRequestWithContext(ctx, rq.method, u, nil)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", rq.method, rq.path, err)
		}
		switch {
		case rq.body != nil:
			req.Body = io.NopCloser(rq.body)
			req.ContentLength = rq.size
			if rq.size == 0 {
				req.Body = http.NoBody
			}
			req.Header.Set("Content-Type", "application/octet-stream")
		case payload != nil:
			req.Body = io.NopCloser(bytes.NewReader(payload))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(payload)), nil }
			req.ContentLength = int64(len(payload))
			req.Header.Set("Content-Type", "application/json")
		}
		c.setHeaders(req)
		if idemKey != "" {
			req.Header.Set("Idempotency-Key", idemKey)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			lastErr = fmt.Errorf("%s %s%s: %w", rq.method, c.base, rq.path, err)
			continue
		}
		if ok(resp.StatusCode, rq.status) {
			return resp, nil
		}
		err = decodeError(resp)
		drainClose(resp.Body)
		switch resp.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			lastErr = err
			continue
		}
		return nil, err
	}
	return nil, lastErr
}

// setHeaders sets the headers every request carries.
func (c *Client) setHeaders(req *http.Request) {
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.user != "" {
		req.Header.Set("X-Cairn-User", c.user)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
}

func ok(status int, want []int) bool {
	if len(want) == 0 {
		return status >= 200 && status <= 299
	}
	for _, s := range want {
		if s == status {
			return true
		}
	}
	return false
}

// backoff returns the pause before retry number attempt (1-based):
// 100 ms, 200 ms, 400 ms, … capped at 5 s.
func backoff(attempt int) time.Duration {
	d := time.Duration(float64(100*time.Millisecond) * math.Pow(2, float64(attempt-1)))
	return min(d, 5*time.Second)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// drainClose reads a little of what is left of a body, so the connection
// can be reused, and closes it.
func drainClose(rc io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(rc, 64<<10))
	_ = rc.Close()
}

// retryable reports whether a failed transfer may succeed if sent again:
// transport errors and the server's 5xx, 408 and 429, but not a client
// error or a canceled context.
func retryable(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.StatusCode >= 500 || se.StatusCode == http.StatusRequestTimeout || se.StatusCode == http.StatusTooManyRequests
	}
	var ce *cairn.Error
	return !errors.As(err, &ce)
}
