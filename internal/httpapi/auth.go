package httpapi

import (
	"encoding/base64"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// With auth on, every request except the public operational endpoints
// must authenticate: "Authorization: Bearer <token>", or HTTP Basic with a
// user name and a password or a token (what MLflow clients send from
// MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD; MLFLOW_TRACKING_TOKEN
// arrives as Bearer). A request without credentials, or with wrong ones,
// is answered 401 with a WWW-Authenticate challenge before any handler
// runs. What an authenticated principal may do is decided by the registry
// service, for every front door alike.

// publicPaths answer without credentials: probes, scrapers and the API
// description.
var publicPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true, apiPrefix + "/openapi.json": true}

// Cost: credentials that authenticated within the last few seconds are
// answered from the registry service's principal cache
// (registry/authcache.go), without a query; otherwise a token costs an
// indexed lookup by hash and the user row with its bindings (and a write
// at most once a minute per token), a password the same lookups plus
// PBKDF2 the first time in five minutes.

// authenticate establishes the request's principal. It returns the request
// to serve, or an error to answer with.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
	creds, ok, err := credentialsFrom(r.Header.Get("Authorization"))
	if err != nil {
		return nil, err
	}
	if !ok {
		if s.isPublic(r.URL.Path) && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			return r, nil
		}
		if s.isCapability(r) {
			return r, nil
		}
		return nil, cairn.Errorf(cairn.EUNAUTHENTICATED, "authentication required: send Authorization: Bearer <token>, or a user name and password (HTTP Basic)")
	}
	ip := clientIP(r)
	if wait := s.limiter.wait(ip, creds.User, time.Now()); wait > 0 {
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "login attempts rate-limited",
			slog.String("request_id", cairn.RequestIDFromContext(r.Context())),
			slog.String("ip", ip), slog.String("user", creds.User))
		return nil, &rateLimitedError{retryAfter: wait}
	}
	p, err := s.svc.Authenticate(r.Context(), creds)
	if err != nil {
		if cairn.IsCode(err, cairn.EUNAUTHENTICATED) {
			s.limiter.fail(ip, creds.User, time.Now())
			s.log.LogAttrs(r.Context(), slog.LevelWarn, "authentication failed",
				slog.String("request_id", cairn.RequestIDFromContext(r.Context())),
				slog.String("ip", ip), slog.String("user", creds.User))
		}
		return nil, err
	}
	ctx := cairn.NewContextWithPrincipal(r.Context(), p)
	ctx = cairn.NewContextWithActor(ctx, cairn.Actor{Name: p.Name, Verified: true})
	return r.WithContext(ctx), nil
}

// credentialsFrom parses an Authorization header. ok is false if there is
// none; a header in a scheme other than Bearer or Basic, or malformed, is
// EUNAUTHENTICATED.
func credentialsFrom(h string) (c registry.Credentials, ok bool, err error) {
	if h == "" {
		return c, false, nil
	}
	bad := cairn.Errorf(cairn.EUNAUTHENTICATED, "malformed Authorization header: want Bearer <token> or Basic <base64 user:password>")
	scheme, rest, found := strings.Cut(h, " ")
	if !found || len(h) > 4096 {
		return c, false, bad
	}
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "bearer":
		if rest == "" {
			return c, false, bad
		}
		return registry.Credentials{Token: rest}, true, nil
	case "basic":
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return c, false, bad
		}
		user, pass, found := strings.Cut(string(b), ":")
		if !found || user == "" {
			return c, false, bad
		}
		return registry.Credentials{User: user, Password: pass}, true, nil
	}
	return c, false, bad
}

// clientIP is the address the connection came from. X-Forwarded-For is
// not trusted: behind a proxy every client shares the proxy's bucket (see
// docs/security.md).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// rateLimitedError answers 429 with Retry-After.
type rateLimitedError struct{ retryAfter time.Duration }

func (e *rateLimitedError) Error() string {
	return "too many failed login attempts; retry in " + e.retryAfter.Round(time.Second).String()
}

// loginLimiter limits failed authentications per source IP and per user
// name with token buckets: each failure takes a token, tokens come back at
// a steady rate, and while a bucket is empty every attempt from that IP or
// for that user is refused without checking the credentials, so a
// password cannot be guessed faster than the refill rate. Successful
// logins take nothing, so a busy client with valid credentials is never
// slowed down.
//
// The buckets live in this process: with N replicas an attacker gets N
// times the rate. A shared limiter (in the database or a proxy) is the
// follow-up for multi-replica deployments.
type loginLimiter struct {
	mu      sync.Mutex
	burst   float64
	every   time.Duration // one token back per every
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// Limits: 10 failures in a row, then one attempt every 6 seconds (per IP
// and per user name).
const (
	loginBurst      = 10
	loginRefill     = 6 * time.Second
	maxLoginBuckets = 100_000
)

func newLoginLimiter(burst int, every time.Duration) *loginLimiter {
	return &loginLimiter{burst: float64(burst), every: every, buckets: map[string]*bucket{}}
}

func (l *loginLimiter) level(key string, now time.Time) *bucket {
	b, ok := l.buckets[key]
	if !ok {
		return nil
	}
	b.tokens = math.Min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.every))
	b.at = now
	return b
}

// wait returns how long the IP or the user must wait before another
// attempt, 0 if it may try now.
func (l *loginLimiter) wait(ip, user string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var d time.Duration
	for _, k := range limiterKeys(ip, user) {
		if b := l.level(k, now); b != nil && b.tokens < 1 {
			d = max(d, time.Duration((1-b.tokens)*float64(l.every)))
		}
	}
	return d
}

// fail takes a token from the IP's and the user's buckets.
func (l *loginLimiter) fail(ip, user string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) >= maxLoginBuckets {
		// Drop buckets that have refilled: they hold no state worth keeping.
		for k := range l.buckets {
			if b := l.level(k, now); b.tokens >= l.burst {
				delete(l.buckets, k)
			}
		}
	}
	for _, k := range limiterKeys(ip, user) {
		b := l.level(k, now)
		if b == nil {
			b = &bucket{tokens: l.burst, at: now}
			l.buckets[k] = b
		}
		b.tokens = math.Max(0, b.tokens-1)
	}
}

func limiterKeys(ip, user string) []string {
	if user == "" {
		return []string{"ip:" + ip}
	}
	return []string{"ip:" + ip, "user:" + user}
}

// retryAfterSeconds rounds a wait up to whole seconds for Retry-After.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}
