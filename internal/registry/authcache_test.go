package registry_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/fsblob"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/sqlite"
)

// The principal cache (authcache.go) never outlives a change made on the
// same replica: each check authenticates once (filling the cache), changes
// something through the service, and expects the very next authentication
// to see it.
func TestAuthCacheSeesChangesAtOnce(t *testing.T) {
	svc, admin := authService(t)
	ctx := t.Context()
	if _, err := svc.CreateUser(admin, registry.UserCreate{Name: "ann", Password: "ann's long password"}); err != nil {
		t.Fatal(err)
	}
	tok, err := svc.CreateToken(admin, "ann", registry.TokenCreate{})
	if err != nil {
		t.Fatal(err)
	}
	byToken := registry.Credentials{Token: tok.Secret}
	byPassword := registry.Credentials{User: "ann", Password: "ann's long password"}
	roles := func(c registry.Credentials) []cairn.RoleBinding {
		t.Helper()
		p, err := svc.Authenticate(ctx, c)
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		return p.Roles
	}

	// A role granted, then revoked, shows in the next authentication.
	for _, c := range []registry.Credentials{byToken, byPassword} {
		if r := roles(c); len(r) != 0 {
			t.Fatalf("roles before the grant: %v", r)
		}
	}
	if _, err := svc.GrantRole(admin, registry.RoleGrant{Principal: "ann", Role: cairn.RoleWriter, Scope: "team-*"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []registry.Credentials{byToken, byPassword} {
		if r := roles(c); len(r) != 1 || r[0].Role != cairn.RoleWriter {
			t.Fatalf("roles after the grant: %v", r)
		}
	}
	if err := svc.RevokeRole(admin, registry.RoleGrant{Principal: "ann", Role: cairn.RoleWriter, Scope: "team-*"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []registry.Credentials{byToken, byPassword} {
		if r := roles(c); len(r) != 0 {
			t.Fatalf("roles after the revocation: %v", r)
		}
	}

	// A changed password: the old one stops working at once.
	if _, err := svc.UpdateUser(admin, "ann", registry.UserUpdate{Password: ptr("ann's new long password")}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, byPassword); !cairn.IsCode(err, cairn.EUNAUTHENTICATED) {
		t.Fatalf("old password after the change: %v, want unauthenticated", err)
	}
	byPassword.Password = "ann's new long password"
	roles(byPassword)

	// A disabled user: neither its token nor its password.
	if _, err := svc.UpdateUser(admin, "ann", registry.UserUpdate{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []registry.Credentials{byToken, byPassword} {
		if _, err := svc.Authenticate(ctx, c); !cairn.IsCode(err, cairn.EUNAUTHENTICATED) {
			t.Fatalf("disabled user: %v, want unauthenticated", err)
		}
	}
	if _, err := svc.UpdateUser(admin, "ann", registry.UserUpdate{Disabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}

	// A revoked token, also when sent as a basic-auth password.
	roles(byToken)
	roles(registry.Credentials{User: "ann", Password: tok.Secret})
	if err := svc.RevokeToken(admin, "ann", tok.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []registry.Credentials{byToken, {User: "ann", Password: tok.Secret}} {
		if _, err := svc.Authenticate(ctx, c); !cairn.IsCode(err, cairn.EUNAUTHENTICATED) {
			t.Fatalf("revoked token: %v, want unauthenticated", err)
		}
	}

	// A deleted user.
	roles(byPassword)
	if err := svc.DeleteUser(admin, "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, byPassword); !cairn.IsCode(err, cairn.EUNAUTHENTICATED) {
		t.Fatalf("deleted user: %v, want unauthenticated", err)
	}
}

// A cached token stops working the instant it expires, however long the
// cache's TTL.
func TestAuthCacheHonoursExpiry(t *testing.T) {
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "cairn.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		clock = time.Now()
	)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	svc := registry.New(db, blobs, registry.Options{Auth: true, PasswordIterations: 1000, Now: now, AuthCacheTTL: time.Hour})
	secret, err := svc.Bootstrap(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	admin := as(t, svc, registry.Credentials{Token: secret})
	tok, err := svc.CreateToken(admin, registry.BootstrapAdmin, registry.TokenCreate{ExpiresIn: "10m"})
	if err != nil {
		t.Fatal(err)
	}
	as(t, svc, registry.Credentials{Token: tok.Secret}) // cached, for an hour at most
	mu.Lock()
	clock = clock.Add(10*time.Minute - time.Second)
	mu.Unlock()
	as(t, svc, registry.Credentials{Token: tok.Secret})
	mu.Lock()
	clock = clock.Add(time.Second)
	mu.Unlock()
	if _, err := svc.Authenticate(t.Context(), registry.Credentials{Token: tok.Secret}); !cairn.IsCode(err, cairn.EUNAUTHENTICATED) {
		t.Fatalf("expired token: %v, want unauthenticated", err)
	}
}

// Two replicas on one database: a token revoked on one stops working on
// the other within the other's cache TTL (here a short one), without any
// message between them.
func TestAuthCacheRevocationReachesOtherReplicas(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cairn.db")
	replica := func() *registry.Service {
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		return registry.New(db, blobs, registry.Options{Auth: true, PasswordIterations: 1000, AuthCacheTTL: 50 * time.Millisecond})
	}
	a, b := replica(), replica()
	secret, err := a.Bootstrap(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	admin := as(t, a, registry.Credentials{Token: secret})
	tok, err := a.CreateToken(admin, registry.BootstrapAdmin, registry.TokenCreate{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	as(t, b, registry.Credentials{Token: tok.Secret}) // b caches it
	if err := a.RevokeToken(admin, registry.BootstrapAdmin, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(t.Context(), registry.Credentials{Token: tok.Secret}); !cairn.IsCode(err, cairn.EUNAUTHENTICATED) {
		t.Fatalf("revoked token on the replica that revoked it: %v, want unauthenticated", err)
	}
	deadline := time.Now().Add(30 * time.Second) // far beyond the TTL: only a broken cache reaches it
	for {
		_, err := b.Authenticate(t.Context(), registry.Credentials{Token: tok.Secret})
		if cairn.IsCode(err, cairn.EUNAUTHENTICATED) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the other replica still accepts the revoked token")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
