package webhook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/postgres"
	"github.com/cairn-registry/cairn/internal/sqlite"
	"github.com/cairn-registry/cairn/internal/testenv"
)

func TestDefaultBackoff(t *testing.T) {
	t.Parallel()
	for n := 1; n <= 40; n++ {
		full := backoffCap
		if n < 20 {
			full = min(backoffBase<<(n-1), backoffCap)
		}
		for range 50 {
			if d := defaultBackoff(n); d < full/2 || d > full {
				t.Fatalf("defaultBackoff(%d) = %v, want between %v and %v", n, d, full/2, full)
			}
		}
	}
	if defaultBackoff(1) > time.Second || defaultBackoff(100) < backoffCap/2 {
		t.Errorf("backoff bounds: first %v, late %v", defaultBackoff(1), defaultBackoff(100))
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"":         0,
		"0":        0,
		"7":        7 * time.Second,
		"-3":       0,
		"99999999": maxRetryAfter,
		"soon":     0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
		now.Add(48 * time.Hour).Format(http.TimeFormat):   maxRetryAfter,
	} {
		if got := retryAfter(h, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
}

// TestHasWork: a poll takes a subscription's lease (a write) only when
// there is something to do.
func TestHasWork(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "cairn.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := New(st, Options{Now: func() time.Time { return now }})
	w := &cairn.Webhook{ID: "w", URL: "https://example.com/", Secret: cairn.NewWebhookSecret(), Active: true, CreatedAt: now, UpdatedAt: now}
	update := func(fn func(tx cairn.Tx) error) {
		t.Helper()
		if err := st.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	update(func(tx cairn.Tx) error { return tx.CreateWebhook(ctx, w) })
	if d.hasWork(ctx, "w") {
		t.Error("no events: has work")
	}
	update(func(tx cairn.Tx) error {
		return tx.AppendEvent(ctx, &cairn.Event{ID: "e1", Type: "model.created", Time: now, Payload: json.RawMessage(`{}`)})
	})
	if !d.hasWork(ctx, "w") {
		t.Error("an event after the cursor: no work")
	}
	state := &cairn.WebhookState{WebhookID: "w", HeadSeq: 1, Attempts: 2, FirstAttempt: now, NextAttempt: now.Add(time.Minute)}
	update(func(tx cairn.Tx) error { return tx.PutWebhookState(ctx, state) })
	if d.hasWork(ctx, "w") {
		t.Error("waiting to retry: has work")
	}
	update(func(tx cairn.Tx) error {
		return tx.PutDeadLetter(ctx, &cairn.DeadLetter{WebhookID: "w", EventSeq: 1, EventID: "e1", EventType: "t", Status: cairn.DeadLetterQueued, DeadAt: now, UpdatedAt: now})
	})
	if !d.hasWork(ctx, "w") {
		t.Error("a dead letter queued for redelivery while waiting to retry: no work")
	}
	state.NextAttempt = now
	update(func(tx cairn.Tx) error { return tx.PutWebhookState(ctx, state) })
	if !d.hasWork(ctx, "w") {
		t.Error("a retry due: no work")
	}
	state = &cairn.WebhookState{WebhookID: "w", Cursor: 1}
	update(func(tx cairn.Tx) error {
		if err := tx.PutWebhookState(ctx, state); err != nil {
			return err
		}
		return tx.PutDeadLetter(ctx, &cairn.DeadLetter{WebhookID: "w", EventSeq: 1, EventID: "e1", EventType: "t", Status: cairn.DeadLetterDelivered, DeadAt: now, UpdatedAt: now})
	})
	if d.hasWork(ctx, "w") {
		t.Error("caught up: has work")
	}
}

// TestStaleAttemptKeepsCursor: a dispatcher whose lease ran out during a
// slow attempt, while another took the lease, caught up and gave it
// back, records nothing when its attempt ends: renewing the lease
// succeeds (nobody holds it), but the state is no longer the one the
// attempt started from, so the cursor does not move back and no event
// is sent again.
func TestStaleAttemptKeepsCursor(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "cairn.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := &testClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	now := clock.Now()

	var mu sync.Mutex
	var got []int64
	blocked, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p Payload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			t.Errorf("receiver: %v", err)
			return
		}
		mu.Lock()
		got = append(got, p.Data.Seq)
		mu.Unlock()
		if first.CompareAndSwap(false, true) {
			close(blocked)
			<-release
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	w := &cairn.Webhook{ID: "w", URL: srv.URL, Secret: cairn.NewWebhookSecret(), Active: true, CreatedAt: now, UpdatedAt: now}
	if err := st.Update(ctx, func(tx cairn.Tx) error {
		if err := tx.CreateWebhook(ctx, w); err != nil {
			return err
		}
		for i := range 3 {
			if err := tx.AppendEvent(ctx, &cairn.Event{ID: fmt.Sprint("e", i), Type: "model.created", Time: now, Payload: json.RawMessage(`{}`)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, aDone := overtake(t, st, clock, srv.Client(), blocked) // a was sending event 1
	state, err := st.GetWebhookState(ctx, "w")
	if err != nil || state.Cursor != 3 {
		t.Fatalf("after b: state %+v (%v), want the cursor at 3", state, err)
	}
	close(release)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	if state, err = st.GetWebhookState(ctx, "w"); err != nil || state.Cursor != 3 {
		t.Errorf("after a's stale attempt: state %+v (%v), want the cursor still at 3", state, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, []int64{1, 1, 2, 3}) {
		t.Errorf("the receiver got %v, want [1 1 2 3] (a's stale attempt, then b's)", got)
	}
}

// TestStaleRedeliveryKeepsDeadLetter: a dispatcher whose lease ran out
// while it redelivered a dead letter, and which another dispatcher took,
// redelivering the letter successfully and giving the lease back, records
// nothing when its own (failed) attempt ends: renewing the lease succeeds
// (nobody holds it), but the letter is no longer the one the attempt
// read, so it stays delivered instead of being marked dead again.
func TestStaleRedeliveryKeepsDeadLetter(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "cairn.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		testStaleRedelivery(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		st, err := postgres.Open(t.Context(), testenv.PostgresURL(t), postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		testStaleRedelivery(t, st)
	})
}

func testStaleRedelivery(t *testing.T, st cairn.Store) {
	ctx := t.Context()
	clock := &testClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	now := clock.Now()

	// The first request (a's) waits for release, then fails; later ones
	// (b's) succeed.
	blocked, release := make(chan struct{}), make(chan struct{})
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			close(blocked)
			<-release
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	w := &cairn.Webhook{ID: "w", URL: srv.URL, Secret: cairn.NewWebhookSecret(), Active: true, CreatedAt: now, UpdatedAt: now}
	if err := st.Update(ctx, func(tx cairn.Tx) error {
		// The event comes first, so the subscription's cursor is past it:
		// the dead letter is all there is to do.
		if err := tx.AppendEvent(ctx, &cairn.Event{ID: "e1", Type: "model.created", Time: now, Payload: json.RawMessage(`{}`)}); err != nil {
			return err
		}
		if err := tx.CreateWebhook(ctx, w); err != nil {
			return err
		}
		return tx.PutDeadLetter(ctx, &cairn.DeadLetter{WebhookID: "w", EventSeq: 1, EventID: "e1", EventType: "model.created",
			Status: cairn.DeadLetterQueued, Attempts: 4, LastError: "HTTP 500", DeadAt: now, UpdatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}
	a, aDone := overtake(t, st, clock, srv.Client(), blocked) // a was redelivering event 1
	want := []*cairn.DeadLetter{{WebhookID: "w", EventSeq: 1, EventID: "e1", EventType: "model.created",
		Status: cairn.DeadLetterDelivered, Attempts: 5, LastError: "HTTP 500", DeadAt: now, UpdatedAt: now.Add(a.leaseTTL + time.Second)}}
	dls, err := st.ListDeadLetters(ctx, "w", "", 0)
	if err != nil || !slices.EqualFunc(dls, want, sameDeadLetter) {
		t.Fatalf("after b: dead letters %s (%v), want %s", fmtDeadLetters(dls), err, fmtDeadLetters(want))
	}
	close(release)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	if dls, err = st.ListDeadLetters(ctx, "w", "", 0); err != nil || !slices.EqualFunc(dls, want, sameDeadLetter) {
		t.Errorf("after a's stale redelivery: dead letters %s (%v), want still %s", fmtDeadLetters(dls), err, fmtDeadLetters(want))
	}
	ds, err := st.ListDeliveries(ctx, cairn.DeliveryQuery{WebhookID: "w"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Outcome != cairn.DeliveryDelivered || !ds[0].Redelivery {
		t.Errorf("deliveries: %d, want b's redelivery only", len(ds))
		for _, d := range ds {
			t.Logf("  %+v", d)
		}
	}
}

// testClock is a clock the test sets, for dispatchers' Options.Now.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// overtake plays a lease running out under a dispatcher: dispatcher a
// serves subscription "w" until its receiver closes blocked (a is then in
// the middle of a request), the clock moves past a's lease, and dispatcher
// b serves "w" to the end. It returns a and the channel a's serve ends on
// once the receiver lets it go.
func overtake(t *testing.T, st cairn.Store, clock *testClock, client *http.Client, blocked <-chan struct{}) (*Dispatcher, <-chan error) {
	t.Helper()
	a := New(st, Options{Holder: "a", Now: clock.Now, Client: client})
	b := New(st, Options{Holder: "b", Now: clock.Now, Client: client})
	aDone := make(chan error, 1)
	go func() { aDone <- a.serve(t.Context(), "w") }()
	<-blocked
	clock.mu.Lock()
	clock.now = clock.now.Add(a.leaseTTL + time.Second) // a's lease has run out
	clock.mu.Unlock()
	if err := b.serve(t.Context(), "w"); err != nil {
		t.Fatal(err)
	}
	return a, aDone
}

func sameDeadLetter(a, b *cairn.DeadLetter) bool {
	return a.WebhookID == b.WebhookID && a.EventSeq == b.EventSeq && a.EventID == b.EventID && a.EventType == b.EventType &&
		a.Status == b.Status && a.Attempts == b.Attempts && a.LastError == b.LastError &&
		a.DeadAt.Equal(b.DeadAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

func fmtDeadLetters(dls []*cairn.DeadLetter) string {
	var b []byte
	for _, dl := range dls {
		b = fmt.Appendf(b, "[%d %s attempts=%d %q]", dl.EventSeq, dl.Status, dl.Attempts, dl.LastError)
	}
	return string(b)
}
