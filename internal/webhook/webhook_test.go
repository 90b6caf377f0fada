package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/fsblob"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/sqlite"
	"github.com/cairn-registry/cairn/internal/webhook"
)

// loopback is the allow-list the tests' receivers need: they listen on
// 127.0.0.1, which the guard refuses by default.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

// verify checks a delivery's signature the way a receiver would, written
// from the Standard Webhooks specification alone: the key is the base64
// after "whsec_"; the signed content is "<webhook-id>.<webhook-timestamp>.<body>";
// webhook-signature is a space-separated list of "v1,<base64 HMAC-SHA256>".
func verify(secret string, h http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body)))
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		version, enc, _ := strings.Cut(sig, ",")
		got, err := base64.StdEncoding.DecodeString(enc)
		if version == "v1" && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no valid signature in %q", h.Get("webhook-signature"))
}

// receiver is a webhook endpoint that verifies every request and records
// the events it accepted, in arrival order.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	seqs   []int64 // accepted, in arrival order
	hits   int
	// answer, if set, decides the status of the n-th request (1-based)
	// for event seq; 0 means 200.
	answer func(n int, seq int64, w http.ResponseWriter, r *http.Request) int
	notify chan struct{}
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{t: t, notify: make(chan struct{}, 1)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	rc.mu.Lock()
	secret := rc.secret
	rc.hits++
	n := rc.hits
	answer := rc.answer
	rc.mu.Unlock()
	if err := verify(secret, r.Header, body); err != nil {
		rc.t.Errorf("receiver: %v", err)
		http.Error(w, err.Error(), 401)
		return
	}
	var p struct {
		Type string      `json:"type"`
		Data cairn.Event `json:"data"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		rc.t.Errorf("receiver: body %s: %v", body, err)
		return
	}
	if p.Data.ID != r.Header.Get("webhook-id") || p.Type != p.Data.Type {
		rc.t.Errorf("receiver: webhook-id %q, type %q for event %+v", r.Header.Get("webhook-id"), p.Type, p.Data)
	}
	if answer != nil {
		status := answer(n, p.Data.Seq, w, r)
		if status < 0 {
			return // answered already
		}
		if status != 0 {
			w.WriteHeader(status)
			fmt.Fprintf(w, "refused %d", p.Data.Seq)
			return
		}
	}
	rc.mu.Lock()
	rc.seqs = append(rc.seqs, p.Data.Seq)
	rc.mu.Unlock()
	select {
	case rc.notify <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) got() []int64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.seqs)
}

// waitFor waits until cond holds, failing the test after a minute: a
// bound against hanging, not a timing assertion.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitCursor waits until the dispatcher has recorded everything up to seq.
func waitCursor(t testing.TB, st cairn.Store, id string, seq int64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the cursor at %d", seq), func() bool {
		s, err := st.GetWebhookState(t.Context(), id)
		return err == nil && s.Cursor >= seq
	})
}

// clock is a settable clock for the dispatcher.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	store cairn.Store
	svc   *registry.Service
}

func newEnv(t testing.TB) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "cairn.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newEnvOn(t, st)
}

func newEnvOn(t testing.TB, st cairn.Store) *env {
	t.Helper()
	blobs, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &env{store: st, svc: registry.New(st, blobs, registry.Options{})}
}

// subscribe creates a subscription to rc and tells rc its secret.
func (e *env) subscribe(t testing.TB, rc *receiver, req registry.WebhookCreate) *registry.WebhookCreated {
	t.Helper()
	req.URL = rc.srv.URL + "/hook"
	w, err := e.svc.CreateWebhook(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.secret = w.Secret
	rc.mu.Unlock()
	return w
}

// models creates n models, each an event.
func (e *env) models(t testing.TB, prefix string, n int) {
	t.Helper()
	for i := range n {
		if _, err := e.svc.CreateModel(t.Context(), registry.ModelCreate{Name: fmt.Sprintf("%s-%d", prefix, i)}); err != nil {
			t.Fatal(err)
		}
	}
}

// expected lists the sequence numbers of the events w should receive.
func (e *env) expected(t testing.TB, w *cairn.Webhook, after int64) []int64 {
	t.Helper()
	var out []int64
	for {
		evs, err := e.store.ListEvents(t.Context(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if w.Match(ev) {
				out = append(out, ev.Seq)
			}
			after = ev.Seq
		}
		if len(evs) < 1000 {
			return out
		}
	}
}

func start(t testing.TB, st cairn.Store, opts webhook.Options) (stop func()) {
	t.Helper()
	if opts.PollInterval == 0 {
		opts.PollInterval = 5 * time.Millisecond
	}
	if opts.AllowCIDRs == nil {
		opts.AllowCIDRs = loopback
	}
	if opts.Backoff == nil {
		opts.Backoff = func(int) time.Duration { return 0 }
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := webhook.New(st, opts)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestReceiverDownThenBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t)
	// Down for the first 25 requests: 503s, some asking to retry later,
	// and a few dropped connections.
	rc.answer = func(n int, seq int64, w http.ResponseWriter, r *http.Request) int {
		switch {
		case n > 25:
			return 0
		case n%5 == 0:
			w.Header().Set("Retry-After", "0")
			return http.StatusTooManyRequests
		case n%7 == 0:
			panic(http.ErrAbortHandler)
		}
		return http.StatusServiceUnavailable
	}
	w := e.subscribe(t, rc, registry.WebhookCreate{})
	e.models(t, "churn", 10)
	start(t, e.store, webhook.Options{})
	e.models(t, "fraud", 10)
	want := e.expected(t, &w.Webhook, 0)
	if len(want) != 21 { // webhook.created and 20 model.created
		t.Fatalf("want 21 events, got %v", want)
	}
	waitFor(t, "every event", func() bool { return len(rc.got()) >= len(want) })
	if got := rc.got(); !slices.Equal(got, want) {
		t.Errorf("received %v\nwant      %v (in order, each once)", got, want)
	}
	waitCursor(t, e.store, w.ID, want[len(want)-1])
	ds, err := e.svc.ListDeliveries(t.Context(), cairn.DeliveryQuery{WebhookID: w.ID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var retries, delivered int
	for _, d := range ds {
		switch d.Outcome {
		case cairn.DeliveryRetry:
			retries++
			if d.StatusCode == 0 && d.Error == "" {
				t.Errorf("failed attempt without status or error: %+v", d)
			}
		case cairn.DeliveryDelivered:
			delivered++
			if d.StatusCode != http.StatusNoContent {
				t.Errorf("delivered with status %d", d.StatusCode)
			}
		}
	}
	if retries != 25 || delivered != len(want) {
		t.Errorf("recorded %d retries and %d deliveries; want 25 and %d", retries, delivered, len(want))
	}
	if ds[len(ds)-1].Attempt != 1 || ds[0].Attempt != 1 {
		t.Errorf("attempt numbers: first %d, last %d", ds[len(ds)-1].Attempt, ds[0].Attempt)
	}
	if !slices.ContainsFunc(ds, func(d *cairn.Delivery) bool { return d.Attempt == 26 }) {
		t.Errorf("the first event's 26th attempt is not recorded")
	}
}

func TestFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t)
	w := e.subscribe(t, rc, registry.WebhookCreate{EventTypes: []string{"alias.*", "model.c*"}, Model: "churn*"})
	e.models(t, "churn", 3)
	e.models(t, "fraud", 3)
	start(t, e.store, webhook.Options{})
	want := e.expected(t, &w.Webhook, 0)
	if len(want) != 3 {
		t.Fatalf("expected %v: want the 3 churn models", want)
	}
	waitFor(t, "the churn models", func() bool { return len(rc.got()) >= 3 })
	if got := rc.got(); !slices.Equal(got, want) {
		t.Errorf("received %v, want %v", got, want)
	}
	// The cursor moves past events the filter skips.
	e.models(t, "other", 2)
	last := e.expected(t, &cairn.Webhook{}, 0)
	waitCursor(t, e.store, w.ID, last[len(last)-1])
}

func TestStoppedMidDeliveryResumes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t)
	inFlight := make(chan struct{})
	var blockOnce sync.Once
	w := e.subscribe(t, rc, registry.WebhookCreate{EventTypes: []string{"model.created"}})
	e.models(t, "m", 8)
	want := e.expected(t, &w.Webhook, 0)
	blocked := want[3]
	rc.answer = func(n int, seq int64, w http.ResponseWriter, r *http.Request) int {
		if seq == blocked {
			block := false
			blockOnce.Do(func() { block = true })
			if block {
				close(inFlight)
				<-r.Context().Done() // until the dispatcher goes away
				return http.StatusServiceUnavailable
			}
		}
		return 0
	}
	stop := start(t, e.store, webhook.Options{Holder: "first"})
	<-inFlight
	stop()
	if got := rc.got(); !slices.Equal(got, want[:3]) {
		t.Fatalf("before the stop: received %v, want %v", got, want[:3])
	}
	start(t, e.store, webhook.Options{Holder: "second"})
	waitFor(t, "the rest", func() bool { return len(rc.got()) >= len(want) })
	if got := rc.got(); !slices.Equal(got, want) {
		t.Errorf("received %v, want %v", got, want)
	}
}

func TestCrashedHolderIsTakenOver(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t)
	clk := newClock()
	w := e.subscribe(t, rc, registry.WebhookCreate{})
	e.models(t, "m", 3)
	// A dispatcher that died mid-delivery: its lease is still held.
	err := e.store.Update(t.Context(), func(tx cairn.Tx) error {
		ok, err := tx.AcquireLease(t.Context(), "webhook:"+w.ID, "crashed", clk.Now(), clk.Now().Add(time.Minute))
		if !ok {
			return errors.New("lease not acquired")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	start(t, e.store, webhook.Options{Now: clk.Now, Holder: "restarted"})
	clk.Add(2 * time.Minute) // the crashed holder's lease runs out
	want := e.expected(t, &w.Webhook, 0)
	waitFor(t, "every event", func() bool { return len(rc.got()) >= len(want) })
	if got := rc.got(); !slices.Equal(got, want) {
		t.Errorf("received %v, want %v", got, want)
	}
}

func TestDeadLetterAndRedelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t)
	clk := newClock()
	w := e.subscribe(t, rc, registry.WebhookCreate{EventTypes: []string{"model.created"}})
	e.models(t, "m", 4)
	want := e.expected(t, &w.Webhook, 0)
	poisoned := want[1]
	var mu sync.Mutex
	refuse := true
	rc.answer = func(n int, seq int64, w http.ResponseWriter, r *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		if seq == poisoned && refuse {
			return http.StatusInternalServerError
		}
		return 0
	}
	start(t, e.store, webhook.Options{Now: clk.Now, RetryWindow: time.Hour})
	attempts := func() int {
		ds, err := e.svc.ListDeliveries(t.Context(), cairn.DeliveryQuery{WebhookID: w.ID})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, d := range ds {
			if d.EventSeq == poisoned {
				n++
			}
		}
		return n
	}
	waitFor(t, "retries of the poisoned event", func() bool { return attempts() >= 3 })
	if got := rc.got(); !slices.Equal(got, want[:1]) {
		t.Fatalf("while retrying: received %v, want only %v (ordered: nothing overtakes)", got, want[:1])
	}
	status, err := e.svc.WebhookStatus(t.Context(), w.ID)
	if err != nil || status.Delivery.HeadSeq != poisoned || status.Delivery.Attempts < 3 || status.Delivery.Cursor != want[0] ||
		!status.Delivery.FirstAttempt.Equal(clk.Now()) {
		t.Errorf("while retrying: status %+v, %v; want retrying %d after %d", status.Delivery, err, poisoned, want[0])
	}
	clk.Add(2 * time.Hour) // the retry window is over
	waitFor(t, "the later events", func() bool { return len(rc.got()) >= len(want)-1 })
	rest := append([]int64{want[0]}, want[2:]...)
	if got := rc.got(); !slices.Equal(got, rest) {
		t.Fatalf("after the dead letter: received %v, want %v", got, rest)
	}
	dls, err := e.svc.ListDeadLetters(t.Context(), w.ID, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 || dls[0].EventSeq != poisoned || dls[0].Status != cairn.DeadLetterDead || dls[0].Attempts < 4 ||
		!strings.Contains(dls[0].LastError, "500") {
		t.Fatalf("dead letters: %+v", dls)
	}

	mu.Lock()
	refuse = false
	mu.Unlock()
	res, err := e.svc.Redeliver(t.Context(), w.ID, registry.RedeliverRequest{})
	if err != nil || !slices.Equal(res.Queued, []int64{poisoned}) {
		t.Fatalf("Redeliver: %+v, %v", res, err)
	}
	waitFor(t, "the redelivery", func() bool { return len(rc.got()) >= len(want) })
	if got := rc.got(); !slices.Equal(got, append(rest, poisoned)) {
		t.Errorf("received %v, want %v", got, append(rest, poisoned))
	}
	waitFor(t, "the dead letter marked delivered", func() bool {
		dls, err := e.svc.ListDeadLetters(t.Context(), w.ID, cairn.DeadLetterDelivered, 0)
		return err == nil && len(dls) == 1
	})
	ds, err := e.svc.ListDeliveries(t.Context(), cairn.DeliveryQuery{WebhookID: w.ID, Limit: 1})
	if err != nil || len(ds) != 1 || !ds[0].Redelivery || ds[0].Outcome != cairn.DeliveryDelivered || ds[0].EventSeq != poisoned {
		t.Errorf("last delivery: %+v, %v", ds, err)
	}
	// Redelivering an event that is no dead letter is refused.
	if _, err := e.svc.Redeliver(t.Context(), w.ID, registry.RedeliverRequest{Seqs: []int64{want[0]}}); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("Redeliver of a delivered event: %v, want not_found", err)
	}
}

func TestResponseSnippetIsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t)
	rc.answer = func(n int, seq int64, w http.ResponseWriter, r *http.Request) int {
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte(strings.Repeat("x", 5000)))
		return -1 // already answered
	}
	w := e.subscribe(t, rc, registry.WebhookCreate{})
	d := webhook.New(e.store, webhook.Options{AllowCIDRs: loopback})
	del, err := d.Test(t.Context(), w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if del.StatusCode != http.StatusBadGateway || len(del.Response) != cairn.MaxDeliveryResponse || del.Outcome != cairn.DeliveryTest {
		t.Errorf("test delivery: status %d, %d bytes of response, outcome %q", del.StatusCode, len(del.Response), del.Outcome)
	}
}

// countingStore counts polls (ListWebhooks) and write transactions.
type countingStore struct {
	cairn.Store
	polls, updates atomic.Int64
}

func (s *countingStore) ListWebhooks(ctx context.Context) ([]*cairn.Webhook, error) {
	s.polls.Add(1)
	return s.Store.ListWebhooks(ctx)
}

func (s *countingStore) Update(ctx context.Context, fn func(cairn.Tx) error) error {
	s.updates.Add(1)
	return s.Store.Update(ctx, fn)
}

// TestIdleSubscriptionsCostNoWrites: once a subscription is caught up, or
// while it waits to retry, polls read and never write (no lease taken).
func TestIdleSubscriptionsCostNoWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t)
	clk := newClock()
	w := e.subscribe(t, rc, registry.WebhookCreate{})
	refused, err := e.svc.CreateWebhook(t.Context(), registry.WebhookCreate{URL: "http://127.0.0.1:1/"}) // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	e.models(t, "m", 2)
	st := &countingStore{Store: e.store}
	start(t, st, webhook.Options{Now: clk.Now, Backoff: func(int) time.Duration { return time.Hour }})
	want := e.expected(t, &w.Webhook, 0)
	waitCursor(t, e.store, w.ID, want[len(want)-1])
	waitFor(t, "the refused subscription to wait for its retry", func() bool {
		s, err := e.store.GetWebhookState(t.Context(), refused.ID)
		return err == nil && s.HeadSeq != 0
	})
	// The workers that just recorded give their leases back (a write) as
	// they finish; after that, five polls in a row must write nothing.
	for try := 0; ; try++ {
		updates, polls := st.updates.Load(), st.polls.Load()
		waitFor(t, "five more polls", func() bool { return st.polls.Load() >= polls+5 })
		n := st.updates.Load() - updates
		if n == 0 {
			break
		}
		if try == 20 {
			t.Fatalf("still %d write transactions in five polls while idle", n)
		}
	}
}
