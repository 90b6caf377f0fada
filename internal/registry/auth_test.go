package registry_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/fsblob"
	"github.com/cairn-registry/cairn/internal/postgres"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/sqlite"
	"github.com/cairn-registry/cairn/internal/testenv"
)

// authService is a Service with auth on over SQLite, and a context acting
// as its bootstrap admin.
func authService(t *testing.T) (*registry.Service, context.Context) {
	t.Helper()
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
	svc := registry.New(db, blobs, registry.Options{Auth: true, PasswordIterations: 1000})
	secret, err := svc.Bootstrap(t.Context())
	if err != nil || secret == "" {
		t.Fatalf("Bootstrap = %q, %v", secret, err)
	}
	return svc, as(t, svc, registry.Credentials{Token: secret})
}

// as authenticates and returns a context for the principal, as the HTTP
// middleware does.
func as(t *testing.T, svc *registry.Service, c registry.Credentials) context.Context {
	t.Helper()
	p, err := svc.Authenticate(t.Context(), c)
	if err != nil {
		t.Fatalf("Authenticate(%+v): %v", c.User, err)
	}
	ctx := cairn.NewContextWithPrincipal(t.Context(), p)
	return cairn.NewContextWithActor(ctx, cairn.Actor{Name: p.Name, Verified: true})
}

func TestAuthWithoutPrincipal(t *testing.T) {
	svc, _ := authService(t)
	ctx := cairn.NewContextWithActor(t.Context(), cairn.Actor{Name: "claims-to-be-admin"})
	if _, err := svc.ListModels(ctx, registry.ListRequest{}); !cairn.IsCode(err, cairn.EUNAUTHENTICATED) {
		t.Errorf("ListModels without a principal: %v, want unauthenticated", err)
	}
	if _, err := svc.CreateModel(ctx, registry.ModelCreate{Name: "m"}); !cairn.IsCode(err, cairn.EUNAUTHENTICATED) {
		t.Errorf("CreateModel without a principal: %v, want unauthenticated", err)
	}
}

func TestAuthenticateRefusals(t *testing.T) {
	svc, admin := authService(t)
	ctx := t.Context()
	if _, err := svc.CreateUser(admin, registry.UserCreate{Name: "ann", Password: "ann's long password"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(admin, registry.UserCreate{Name: "bob", Password: "bob's long password"}); err != nil {
		t.Fatal(err)
	}
	annTok, err := svc.CreateToken(admin, "ann", registry.TokenCreate{})
	if err != nil {
		t.Fatal(err)
	}
	as(t, svc, registry.Credentials{User: "ann", Password: "ann's long password"})
	as(t, svc, registry.Credentials{User: "ann", Password: annTok.Secret})
	as(t, svc, registry.Credentials{Token: annTok.Secret})
	for name, c := range map[string]registry.Credentials{
		"wrong password":            {User: "ann", Password: "bob's long password"},
		"unknown user":              {User: "zed", Password: "ann's long password"},
		"another user's token":      {User: "bob", Password: annTok.Secret},
		"unknown token":             {Token: "cairn_nope"},
		"nothing":                   {},
		"user without a password":   {User: "admin", Password: ""},
		"token-shaped wrong secret": {User: "ann", Password: "cairn_" + annTok.Secret[6:10]},
	} {
		if _, err := svc.Authenticate(ctx, c); !cairn.IsCode(err, cairn.EUNAUTHENTICATED) || cairn.ErrorMessage(err) != "invalid credentials" {
			t.Errorf("%s: %v, want unauthenticated \"invalid credentials\"", name, err)
		}
	}
	// Disabling a user stops its password and its tokens; deleting it too.
	if _, err := svc.UpdateUser(admin, "ann", registry.UserUpdate{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []registry.Credentials{{Token: annTok.Secret}, {User: "ann", Password: "ann's long password"}} {
		if _, err := svc.Authenticate(ctx, c); !cairn.IsCode(err, cairn.EUNAUTHENTICATED) {
			t.Errorf("disabled user: %v", err)
		}
	}
	if err := svc.DeleteUser(admin, "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, registry.Credentials{Token: annTok.Secret}); !cairn.IsCode(err, cairn.EUNAUTHENTICATED) {
		t.Errorf("deleted user's token: %v", err)
	}
	// Removing a password stops it at once, whatever was cached.
	as(t, svc, registry.Credentials{User: "bob", Password: "bob's long password"})
	if _, err := svc.UpdateUser(admin, "bob", registry.UserUpdate{Password: ptr("")}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, registry.Credentials{User: "bob", Password: "bob's long password"}); !cairn.IsCode(err, cairn.EUNAUTHENTICATED) {
		t.Errorf("removed password: %v", err)
	}
}

// Scheduled garbage collection runs as the service itself: with auth on
// it is not refused for want of a caller.
func TestRunGCWithAuth(t *testing.T) {
	svc, _ := authService(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	var once sync.Once
	var gotErr error
	go func() {
		svc.RunGC(ctx, 20*time.Millisecond, registry.GCOptions{}, func(*registry.GCReport) { once.Do(func() { close(done) }) },
			func(err error) { gotErr = err; once.Do(func() { close(done) }) })
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RunGC did not run")
	}
	cancel()
	if gotErr != nil {
		t.Errorf("scheduled GC with auth on: %v", gotErr)
	}
}

// Replicas starting at once over one database create one admin.
func TestBootstrapOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresURL(t)
	replicas := make([]*registry.Service, 4)
	for i := range replicas {
		db, err := postgres.Open(t.Context(), url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		blobs, err := fsblob.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		replicas[i] = registry.New(db, blobs, registry.Options{Auth: true, PasswordIterations: 1000})
	}
	secrets := make([]string, len(replicas))
	errs := make([]error, len(replicas))
	var wg sync.WaitGroup
	for i, r := range replicas {
		wg.Go(func() { secrets[i], errs[i] = r.Bootstrap(t.Context()) })
	}
	wg.Wait()
	var n int
	for i := range replicas {
		if errs[i] != nil {
			t.Errorf("replica %d: %v", i, errs[i])
		}
		if secrets[i] != "" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d replicas printed an admin token, want 1", n)
	}
}

func ptr[T any](v T) *T { return &v }
