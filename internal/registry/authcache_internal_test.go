package registry

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/sqlite"
)

// The cache never holds more than its bound, whatever is put in it.
func TestPrincipalCacheBounded(t *testing.T) {
	c := newPrincipalCache(time.Minute, 8)
	now := time.Now()
	for i := range 100 {
		k := principalKey(Credentials{User: fmt.Sprint("u", i), Password: "p"})
		_, gen := c.get(k, "", now)
		c.put(k, gen, &cairn.Principal{Name: fmt.Sprint("u", i)}, fmt.Sprint("u", i), now, time.Time{})
		if n := c.len(); n > 8 {
			t.Fatalf("after %d entries the cache holds %d, want at most 8", i+1, n)
		}
	}
	// An answer read before an invalidation is not stored after it.
	k := principalKey(Credentials{Token: "cairn_x"})
	_, gen := c.get(k, "", now)
	c.invalidate()
	c.put(k, gen, &cairn.Principal{Name: "stale"}, "stale", now, time.Time{})
	if p, _ := c.get(k, "", now); p != nil {
		t.Fatalf("a principal read before the invalidation was cached: %v", p)
	}
}

// Failed authentications take no room: only principals that authenticated
// are cached, so wrong tokens and passwords cannot fill memory.
func TestFailedAuthenticationsAreNotCached(t *testing.T) {
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "cairn.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := New(db, nil, Options{Auth: true, PasswordIterations: 1000})
	secret, err := svc.Bootstrap(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		for _, c := range []Credentials{
			{Token: fmt.Sprint(cairn.TokenPrefix, "wrong", i)},
			{User: BootstrapAdmin, Password: fmt.Sprint("wrong", i)},
			{User: fmt.Sprint("nobody", i), Password: "x"},
			{User: "someone-else", Password: secret},
		} {
			if _, err := svc.Authenticate(t.Context(), c); !cairn.IsCode(err, cairn.EUNAUTHENTICATED) {
				t.Fatalf("Authenticate(%+v) = %v, want unauthenticated", c, err)
			}
		}
	}
	if n := svc.principals.len(); n != 0 {
		t.Fatalf("cache holds %d entries after failures only", n)
	}
	if _, err := svc.Authenticate(t.Context(), Credentials{Token: secret}); err != nil {
		t.Fatal(err)
	}
	if n := svc.principals.len(); n != 1 {
		t.Fatalf("cache holds %d entries after one success, want 1", n)
	}
}

// BenchmarkAuthenticate measures what authenticating one request with a
// token costs the service, from the principal cache and without it
// (reading the token and the user with its roles from SQLite).
func BenchmarkAuthenticate(b *testing.B) {
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "cairn.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", 0}, {"uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			svc := New(db, nil, Options{Auth: true, AuthCacheTTL: bc.ttl})
			secret, err := svc.Bootstrap(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			if secret == "" {
				p := systemContext(b.Context())
				tk, err := svc.CreateToken(p, BootstrapAdmin, TokenCreate{})
				if err != nil {
					b.Fatal(err)
				}
				secret = tk.Secret
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.Authenticate(b.Context(), Credentials{Token: secret}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
