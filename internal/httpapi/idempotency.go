package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/cairn-registry/cairn"
)

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 255

// maxStoredResponse bounds a response kept for replay. Larger answers (a
// version with a huge manifest) are not stored; a retry then executes
// again, which for version creation is harmless thanks to checksum
// versioning.
const maxStoredResponse = 1 << 20

// idempotent wraps a POST handler with Idempotency-Key handling. A request
// that carries the header has its body read (POST bodies are JSON, so
// bounded by MaxJSONBody: never an unbounded buffer) and hashed together
// with its method, path, query and actor. If the key was seen with the
// same hash, the stored response is replayed without executing anything;
// with a different hash the request is refused with conflict. Otherwise
// the handler runs and a successful (2xx) response is stored under the key.
//
// Two concurrent requests with the same new key may both execute: the
// lookup and the store are not one transaction with the handler's
// mutation. That is acceptable for now: the window is a retry racing its
// own original, and pushes are covered anyway by checksum versioning (an
// identical push returns the existing version).
func (s *Server) idempotent(next handlerFunc, limit int64) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		key := r.Header.Get(headerIdempotencyKey)
		if key == "" {
			return next(w, r)
		}
		if err := validIdempotencyKey(key); err != nil {
			return err
		}
		if r.ContentLength > limit {
			return cairn.Errorf(cairn.ETOOLARGE, "request body is %d bytes; the limit is %d", r.ContentLength, limit)
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return cairn.Errorf(cairn.ETOOLARGE, "request body exceeds the %d byte limit", limit)
			}
			return cairn.WrapError(cairn.EINVALID, err, "reading the request body")
		}
		hash := requestHash(r, body)
		ctx := r.Context()
		if p := cairn.PrincipalFromContext(ctx); p != nil {
			// Keys are per principal: another principal's key must not
			// replay (or even reveal) a response it was never given.
			key = p.Name + ":" + key
		}
		prev, err := s.svc.Store().GetIdempotency(ctx, key)
		switch {
		case err == nil:
			if prev.RequestHash != hash {
				return cairn.Errorf(cairn.ECONFLICT, "Idempotency-Key %q was already used for a different request", key)
			}
			h := w.Header()
			h.Set(headerReplayed, "true")
			if len(prev.Body) > 0 {
				h.Set("Content-Type", "application/json")
				h.Set("Content-Length", strconv.Itoa(len(prev.Body)))
			}
			w.WriteHeader(prev.Status)
			_, _ = w.Write(prev.Body)
			return nil
		case !cairn.IsCode(err, cairn.ENOTFOUND):
			return err
		}

		r.Body = io.NopCloser(bytes.NewReader(body))
		cw := &captureWriter{ResponseWriter: w}
		if err := next(cw, r); err != nil {
			return err
		}
		if cw.status < 200 || cw.status > 299 || cw.overflow {
			return nil
		}
		rec := &cairn.IdempotentResponse{
			Key: key, RequestHash: hash, Status: cw.status, Body: cw.buf.Bytes(),
			CreatedAt: cairn.Timestamp(time.Now()),
		}
		err = s.svc.Store().Update(ctx, func(tx cairn.Tx) error { return tx.PutIdempotency(ctx, rec) })
		if err != nil && !cairn.IsCode(err, cairn.ECONFLICT) {
			// The mutation happened and the client has its answer; only a
			// retry's replay is lost. Not worth failing the request.
			s.log.WarnContext(ctx, "storing idempotent response failed",
				slog.String("request_id", cairn.RequestIDFromContext(ctx)), slog.Any("error", err))
		}
		return nil
	}
}

func validIdempotencyKey(k string) error {
	if len(k) > maxIdempotencyKey {
		return cairn.Errorf(cairn.EINVALID, "%s is %d bytes long; the limit is %d", headerIdempotencyKey, len(k), maxIdempotencyKey)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return cairn.Errorf(cairn.EINVALID, "%s must be printable ASCII without spaces", headerIdempotencyKey)
		}
	}
	return nil
}

// requestHash identifies a request for idempotency: the same key with a
// different method, path, query, actor or body is a different request. The
// actor is part of it so that one user's key never replays another user's
// response.
func requestHash(r *http.Request, body []byte) string {
	h := sha256.New()
	for _, s := range []string{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, cairn.ActorFromContext(r.Context()).Name} {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	bh := sha256.Sum256(body)
	h.Write(bh[:])
	return hex.EncodeToString(h.Sum(nil))
}

// captureWriter passes a response through and keeps a copy of it, up to
// maxStoredResponse bytes, for replay.
type captureWriter struct {
	http.ResponseWriter
	status   int
	buf      bytes.Buffer
	overflow bool
}

func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if !c.overflow {
		if c.buf.Len()+len(b) > maxStoredResponse {
			c.overflow = true
			c.buf = bytes.Buffer{}
		} else {
			c.buf.Write(b)
		}
	}
	return c.ResponseWriter.Write(b)
}

func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
