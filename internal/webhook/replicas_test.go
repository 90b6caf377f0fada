package webhook_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/postgres"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/sqlite"
	"github.com/cairn-registry/cairn/internal/testenv"
	"github.com/cairn-registry/cairn/internal/webhook"
)

// TestTwoDispatchersOnePostgres runs two replicas' dispatchers over one
// PostgreSQL database while writers on both replicas commit events: the
// receivers get every event exactly once, in sequence.
func TestTwoDispatchersOnePostgres(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresURL(t)
	testTwoDispatchers(t, func() cairn.Store {
		st, err := postgres.Open(t.Context(), url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}

// TestTwoDispatchersOneSQLiteFile is the same with two handles on one
// SQLite file, as two cairn serve processes sharing a data directory.
func TestTwoDispatchersOneSQLiteFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cairn.db")
	testTwoDispatchers(t, func() cairn.Store {
		st, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}

func testTwoDispatchers(t *testing.T, open func() cairn.Store) {
	a, b := newEnvOn(t, open()), newEnvOn(t, open())
	rc := newReceiver(t)
	all := a.subscribe(t, rc, registry.WebhookCreate{})
	// A second subscription with a filter, served by the same dispatchers.
	rc2 := newReceiver(t)
	tagged := b.subscribe(t, rc2, registry.WebhookCreate{EventTypes: []string{"model.updated"}, Model: "w1-*"})

	start(t, a.store, webhook.Options{Holder: "replica-a"})
	start(t, b.store, webhook.Options{Holder: "replica-b"})

	var wg sync.WaitGroup
	for i, e := range []*env{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for j := range 15 {
				name := fmt.Sprintf("w%d-%d", i, j)
				if _, err := e.svc.CreateModel(ctx, registry.ModelCreate{Name: name}); err != nil {
					t.Error(err)
					return
				}
				if _, err := e.svc.UpdateModel(ctx, name, registry.ModelUpdate{SetTags: map[string]string{"k": "v"}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	want := a.expected(t, &all.Webhook, 0)
	if len(want) < 2+4*15*2 { // two webhook.created, then per iteration model.created, model.updated, tag.set
		t.Fatalf("%d events, want at least %d", len(want), 2+4*15*2)
	}
	want2 := a.expected(t, &tagged.Webhook, 0)
	if len(want2) != 15 {
		t.Fatalf("filtered: %d events, want 15", len(want2))
	}
	waitFor(t, "every event", func() bool { return len(rc.got()) >= len(want) && len(rc2.got()) >= len(want2) })
	waitCursor(t, a.store, all.ID, want[len(want)-1])
	waitCursor(t, a.store, tagged.ID, want2[len(want2)-1])
	if got := rc.got(); !slices.Equal(got, want) {
		t.Errorf("received %v\nwant     %v (in order, each once)", got, want)
	}
	if got := rc2.got(); !slices.Equal(got, want2) {
		t.Errorf("filtered: received %v\nwant     %v", got, want2)
	}
}
