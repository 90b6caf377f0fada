package registry

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/cairn-registry/cairn"
)

// principalCache remembers, for a few seconds, whom credentials that just
// authenticated belong to, so that a client sending its token (or, over
// HTTP Basic, its password) on every request costs the database nothing
// on most of them. Without it a request with a token reads the token by
// its hash and the user with its role bindings: on the resolve hot path
// that doubled a request's CPU time (docs/benchmarks.md, "Auth on the read
// path").
//
// Safety:
//   - Only successful authentications are cached: a wrong token or password
//     is checked against the database (and counted by the login limiter)
//     every time, and costs the cache nothing.
//   - Entries are keyed by a SHA-256 of the credentials; the cache holds no
//     secret.
//   - Every change of users, tokens or role bindings made through this
//     Service (Service.update, when it records a user.*, token.* or role.*
//     audit entry) empties the cache once it has committed, so on this
//     replica a revocation, a disabled user or a changed role applies to
//     the next request. A lookup that read the database before such a
//     change committed does not store its answer (a generation counter).
//   - Other replicas learn of a change when their entry ends: the TTL
//     (default DefaultAuthCacheTTL) bounds how long a revoked token or a
//     removed role still works there.
//   - A token's expiry is honoured to the instant: an entry never outlives
//     the token.
//   - The cache is bounded (authCacheSize entries); when full, expired
//     entries are dropped and then arbitrary ones.
type principalCache struct {
	ttl     time.Duration // <= 0: no caching
	max     int
	mu      sync.Mutex
	gen     uint64
	entries map[[32]byte]principalEntry
}

type principalEntry struct {
	p     *cairn.Principal
	user  string // the token's owner, for basic auth with a token as password
	until time.Time
}

// DefaultAuthCacheTTL is how long an authenticated principal is reused
// without reading the database again (Options.AuthCacheTTL).
const DefaultAuthCacheTTL = 5 * time.Second

const authCacheSize = 10_000

func newPrincipalCache(ttl time.Duration, size int) *principalCache {
	return &principalCache{ttl: ttl, max: size, entries: map[[32]byte]principalEntry{}}
}

// principalKey is the cache key of credentials: a token alone (whoever
// names its owner), or a user name with a password.
func principalKey(c Credentials) [32]byte {
	if c.Token != "" {
		return sha256.Sum256([]byte("token\x00" + c.Token))
	}
	return sha256.Sum256([]byte("password\x00" + c.User + "\x00" + c.Password))
}

// get returns the cached principal for credentials, and the generation to
// pass to put on a miss.
func (c *principalCache) get(k [32]byte, user string, now time.Time) (*cairn.Principal, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return nil, c.gen
	}
	if !now.Before(e.until) {
		delete(c.entries, k)
		return nil, c.gen
	}
	if user != "" && user != e.user {
		return nil, c.gen
	}
	p := *e.p // callers get their own copy; the bindings are never changed in place
	return &p, c.gen
}

// put caches a principal authenticated under generation gen, until the
// TTL ends or expires (a token's expiry; zero for none), whichever is
// first. It stores nothing if the cache was emptied since gen.
func (c *principalCache) put(k [32]byte, gen uint64, p *cairn.Principal, user string, now, expires time.Time) {
	if c.ttl <= 0 {
		return
	}
	until := now.Add(c.ttl)
	if !expires.IsZero() && expires.Before(until) {
		until = expires
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.entries) >= c.max {
		for key, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, key)
			}
		}
		for key := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, key)
		}
	}
	cp := *p
	c.entries[k] = principalEntry{p: &cp, user: user, until: until}
}

// invalidate empties the cache: users, tokens or role bindings changed.
func (c *principalCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
}

// len is the number of entries, for tests.
func (c *principalCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
