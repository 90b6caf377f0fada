// Package webhook delivers the event feed to webhook subscriptions. Every
// `cairn serve` replica runs a Dispatcher; they coordinate through the
// metadata store only:
//
//   - Each subscription has a cursor (cairn.WebhookState): every event up
//     to it has been delivered, dead-lettered or skipped by the filter. The
//     cursor advances only then, so delivery is ordered per subscription
//     and at least once: a crash between a receiver's answer and the
//     cursor's move means one more delivery of that event, never a lost
//     one.
//   - A dispatcher serves a subscription only while it holds the lease
//     "webhook:<id>" (cairn.Tx.AcquireLease), renewed in the transaction
//     that records each attempt; a result is recorded only if the lease is
//     still held and the delivery state is still the one the attempt
//     started from (a dispatcher whose lease ran out while it waited, and
//     which another took and gave back meanwhile, would otherwise get the
//     lease again and move the cursor back). A redelivery is recorded
//     likewise only if its dead letter is still the one it read, so a
//     stale one never overwrites what another dispatcher (or a new
//     redelivery request) wrote meanwhile. So replicas do not send the
//     same event twice in the normal case, and a crashed replica's
//     subscriptions resume elsewhere once its lease runs out.
//   - A failed attempt is retried with exponential backoff and jitter,
//     honouring Retry-After, until the retry window since the first
//     attempt is over; then the event becomes a dead letter and the cursor
//     moves on. Dead letters queued for redelivery go before new events.
//   - Every attempt is recorded (cairn.Delivery). Requests are signed
//     (Standard Webhooks) and go through Guard, the SSRF check.
package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairn-registry/cairn"
)

// Defaults for Options.
const (
	DefaultPollInterval = time.Second
	DefaultTimeout      = 10 * time.Second
	DefaultRetryWindow  = 24 * time.Hour
	DefaultWorkers      = 8
	// backoffBase and backoffCap bound the default backoff.
	backoffBase = time.Second
	backoffCap  = 5 * time.Minute
	// maxRetryAfter bounds what a receiver's Retry-After can ask for.
	maxRetryAfter = time.Hour
	// batch is how many events a dispatcher reads at a time.
	batch = 100
)

// TestEventType is the type of the ping Test sends.
const TestEventType = "webhook.test"

// Options tune a Dispatcher. Zero values mean the defaults.
type Options struct {
	// Holder names this dispatcher in leases; default a random id.
	Holder string
	// PollInterval is how often the dispatcher looks for new events and
	// for retries that are due.
	PollInterval time.Duration
	// Timeout bounds one delivery request, connection included.
	Timeout time.Duration
	// RetryWindow is how long after its first attempt an event is retried
	// before it becomes a dead letter.
	RetryWindow time.Duration
	// Backoff returns the wait after the n-th failed attempt (n >= 1).
	// Default: 1 s doubling up to 5 min, with jitter (half to all of it).
	// A receiver's Retry-After, if longer, wins.
	Backoff func(n int) time.Duration
	// Now replaces the clock in tests.
	Now func() time.Time
	// AllowCIDRs lets deliveries reach addresses the SSRF guard refuses.
	AllowCIDRs []netip.Prefix
	// Client replaces the guarded HTTP client; tests only.
	Client *http.Client
	// Workers bounds the subscriptions served at once.
	Workers int
	// LeaseTTL is how long a subscription's lease lasts without renewal:
	// how long a crashed dispatcher holds its subscriptions up. It must
	// exceed Timeout; default Timeout + 30 s.
	LeaseTTL time.Duration
	// Logger receives failures of the dispatcher itself (not of
	// deliveries, which are recorded). Default slog.Default().
	Logger *slog.Logger
}

// Dispatcher delivers events to subscriptions. Run it in every replica.
type Dispatcher struct {
	store    cairn.Store
	holder   string
	poll     time.Duration
	timeout  time.Duration
	window   time.Duration
	backoff  func(int) time.Duration
	now      func() time.Time
	client   *http.Client
	workers  int
	leaseTTL time.Duration
	log      *slog.Logger

	mu      sync.Mutex
	running map[string]bool

	metrics metrics
}

// New returns a Dispatcher over store.
func New(store cairn.Store, opts Options) *Dispatcher {
	d := &Dispatcher{
		store: store, holder: opts.Holder, poll: opts.PollInterval, timeout: opts.Timeout,
		window: opts.RetryWindow, backoff: opts.Backoff, now: opts.Now, client: opts.Client,
		workers: opts.Workers, leaseTTL: opts.LeaseTTL, log: opts.Logger, running: map[string]bool{},
	}
	if d.holder == "" {
		d.holder = "dispatcher-" + randomID()
	}
	if d.poll <= 0 {
		d.poll = DefaultPollInterval
	}
	if d.timeout <= 0 {
		d.timeout = DefaultTimeout
	}
	if d.window <= 0 {
		d.window = DefaultRetryWindow
	}
	if d.backoff == nil {
		d.backoff = defaultBackoff
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.client == nil {
		d.client = NewGuard(opts.AllowCIDRs).Client(d.timeout)
	}
	if d.workers <= 0 {
		d.workers = DefaultWorkers
	}
	if d.leaseTTL <= d.timeout {
		d.leaseTTL = d.timeout + 30*time.Second
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	return d
}

// defaultBackoff is 1 s doubling per attempt up to 5 min, with "equal
// jitter": a random wait between half of that and all of it, so that
// subscriptions failing together do not retry together.
func defaultBackoff(n int) time.Duration {
	d := backoffCap
	if n < 20 {
		d = min(backoffBase<<(n-1), backoffCap)
	}
	return d/2 + mrand.N(d/2+1)
}

// Run delivers until ctx is done; then it waits for deliveries in flight
// to stop and returns nil.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, d.workers)
	t := time.NewTicker(d.poll)
	defer t.Stop()
	for {
		ws, err := d.store.ListWebhooks(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Error("webhook: list subscriptions", "err", err)
		}
		for _, w := range ws {
			if !w.Active || !d.hasWork(ctx, w.ID) || !d.claimLocal(w.ID) {
				continue
			}
			select {
			case sem <- struct{}{}:
			default:
				d.releaseLocal(w.ID)
				continue
			}
			wg.Add(1)
			go func(id string) {
				defer wg.Done()
				defer func() { <-sem; d.releaseLocal(id) }()
				if err := d.serve(ctx, id); err != nil && ctx.Err() == nil {
					d.log.Error("webhook: serve subscription", "webhook", id, "err", err)
				}
			}(w.ID)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// hasWork reports, from reads alone, whether a subscription has something
// to do now: a dead letter queued for redelivery, or events after its
// cursor unless it is waiting to retry one. Taking a lease is a write, so
// idle subscriptions cost each replica reads per poll, not writes. On an
// error it says yes, and serve meets the error.
func (d *Dispatcher) hasWork(ctx context.Context, id string) bool {
	st, err := d.store.GetWebhookState(ctx, id)
	if err != nil {
		return true
	}
	if st.HeadSeq != 0 && d.now().Before(st.NextAttempt) {
		queued, err := d.store.ListDeadLetters(ctx, id, cairn.DeadLetterQueued, 1)
		return err != nil || len(queued) > 0
	}
	evs, err := d.store.ListEvents(ctx, st.Cursor, 1)
	if err != nil || len(evs) > 0 {
		return true
	}
	queued, err := d.store.ListDeadLetters(ctx, id, cairn.DeadLetterQueued, 1)
	return err != nil || len(queued) > 0
}

// claimLocal marks a subscription served by this process; false if it is.
func (d *Dispatcher) claimLocal(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running[id] {
		return false
	}
	d.running[id] = true
	return true
}

func (d *Dispatcher) releaseLocal(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.running, id)
}

func leaseName(id string) string { return "webhook:" + id }

// errLeaseLost aborts the recording of an attempt made by a dispatcher
// whose lease another took over meanwhile: the other one will deliver.
var errLeaseLost = errors.New("webhook: lease lost")

// serve takes the subscription's lease and delivers until it is caught up,
// must wait for a retry, or ctx ends.
func (d *Dispatcher) serve(ctx context.Context, id string) error {
	var ok bool
	err := d.store.Update(ctx, func(tx cairn.Tx) error {
		now := d.now()
		var err error
		ok, err = tx.AcquireLease(ctx, leaseName(id), d.holder, now, now.Add(d.leaseTTL))
		return err
	})
	if err != nil || !ok {
		return err
	}
	defer func() {
		// Give the lease back on the way out, even when shutting down, so
		// another replica need not wait for it to run out.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := d.store.Update(rctx, func(tx cairn.Tx) error {
			return tx.ReleaseLease(rctx, leaseName(id), d.holder)
		}); err != nil {
			d.log.Error("webhook: release lease", "webhook", id, "err", err)
		}
	}()
	for ctx.Err() == nil {
		w, err := d.store.GetWebhook(ctx, id)
		if cairn.IsCode(err, cairn.ENOTFOUND) {
			return nil
		}
		if err != nil {
			return err
		}
		if !w.Active {
			return nil
		}
		more, err := d.step(ctx, w)
		if errors.Is(err, errLeaseLost) || cairn.IsCode(err, cairn.ENOTFOUND) {
			return nil
		}
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// step makes at most one delivery attempt and records it. It reports
// whether there may be more to do at once.
func (d *Dispatcher) step(ctx context.Context, w *cairn.Webhook) (bool, error) {
	queued, err := d.store.ListDeadLetters(ctx, w.ID, cairn.DeadLetterQueued, 1)
	if err != nil {
		return false, err
	}
	if len(queued) > 0 {
		return true, d.redeliver(ctx, w, queued[0])
	}

	st, err := d.store.GetWebhookState(ctx, w.ID)
	if err != nil {
		return false, err
	}
	read := *st
	evs, err := d.store.ListEvents(ctx, st.Cursor, batch)
	if err != nil {
		return false, err
	}
	skipped := st.Cursor
	var head *cairn.Event
	for _, ev := range evs {
		if matches(w, ev) {
			head = ev
			break
		}
		skipped = ev.Seq
	}
	moved := skipped != st.Cursor
	st.Cursor = skipped
	if head == nil {
		if moved {
			st.HeadSeq, st.Attempts, st.FirstAttempt, st.NextAttempt = 0, 0, time.Time{}, time.Time{}
			return len(evs) == batch, d.record(ctx, w.ID, &read, st, nil, nil)
		}
		return false, nil
	}
	now := d.now()
	if st.HeadSeq == head.Seq && now.Before(st.NextAttempt) {
		if moved {
			return false, d.record(ctx, w.ID, &read, st, nil, nil)
		}
		return false, nil
	}
	if st.HeadSeq != head.Seq {
		st.HeadSeq, st.Attempts, st.FirstAttempt, st.NextAttempt = head.Seq, 0, now, time.Time{}
	}
	res := d.send(ctx, w, head)
	if ctx.Err() != nil {
		// Shutting down mid-request: record nothing; whoever serves the
		// subscription next sends the event again.
		return false, nil
	}
	st.Attempts++
	del := res.delivery(w.ID, head, st.Attempts)
	now = d.now()
	var dead *cairn.DeadLetter
	switch {
	case res.ok:
		del.Outcome = cairn.DeliveryDelivered
	case res.permanent || now.Sub(st.FirstAttempt) >= d.window:
		del.Outcome = cairn.DeliveryDead
		dead = &cairn.DeadLetter{
			WebhookID: w.ID, EventSeq: head.Seq, EventID: head.ID, EventType: head.Type,
			Status: cairn.DeadLetterDead, Attempts: st.Attempts, LastError: res.summary(), DeadAt: now, UpdatedAt: now,
		}
	default:
		del.Outcome = cairn.DeliveryRetry
		st.NextAttempt = now.Add(max(d.backoff(st.Attempts), res.retryAfter))
	}
	if del.Outcome != cairn.DeliveryRetry {
		st.Cursor = head.Seq
		st.HeadSeq, st.Attempts, st.FirstAttempt, st.NextAttempt = 0, 0, time.Time{}, time.Time{}
	}
	var dlw *deadLetterWrite
	if dead != nil {
		dlw = &deadLetterWrite{dl: dead}
	}
	if err := d.record(ctx, w.ID, &read, st, del, dlw); err != nil {
		return false, err
	}
	d.metrics.observe(del.Outcome, res.latency)
	return del.Outcome != cairn.DeliveryRetry, nil
}

// redeliver makes one more attempt at a dead letter queued for it.
func (d *Dispatcher) redeliver(ctx context.Context, w *cairn.Webhook, dl *cairn.DeadLetter) error {
	evs, err := d.store.ListEvents(ctx, dl.EventSeq-1, 1)
	if err != nil {
		return err
	}
	if len(evs) == 0 || evs[0].Seq != dl.EventSeq {
		return fmt.Errorf("webhook: dead letter %d of %s: event not found", dl.EventSeq, w.ID)
	}
	read := *dl
	res := d.send(ctx, w, evs[0])
	if ctx.Err() != nil {
		return nil
	}
	dl.Attempts++
	del := res.delivery(w.ID, evs[0], dl.Attempts)
	del.Redelivery = true
	dl.UpdatedAt = d.now()
	if res.ok {
		del.Outcome, dl.Status = cairn.DeliveryDelivered, cairn.DeadLetterDelivered
	} else {
		del.Outcome, dl.Status, dl.LastError = cairn.DeliveryDead, cairn.DeadLetterDead, res.summary()
	}
	if err := d.record(ctx, w.ID, nil, nil, del, &deadLetterWrite{dl: dl, read: &read}); err != nil {
		return err
	}
	d.metrics.observe(del.Outcome, res.latency)
	return nil
}

// record writes the outcome of a step in one transaction that first
// renews the lease: if another dispatcher holds it now, nothing is
// written (errLeaseLost). read, if not nil, is the delivery state the
// step started from: if the state is no longer that, another dispatcher
// took the lease while this one's had run out and recorded attempts of
// its own (then maybe gave the lease back, so renewing it succeeded):
// this step's result is stale and nothing is written (errLeaseLost), so
// the cursor never moves back. A dead letter with a read is written the
// same way: only if it is still as read (see deadLetterWrite).
func (d *Dispatcher) record(ctx context.Context, id string, read, st *cairn.WebhookState, del *cairn.Delivery, dl *deadLetterWrite) error {
	return d.store.Update(ctx, func(tx cairn.Tx) error {
		now := d.now()
		ok, err := tx.AcquireLease(ctx, leaseName(id), d.holder, now, now.Add(d.leaseTTL))
		if err != nil {
			return err
		}
		if !ok {
			return errLeaseLost
		}
		if read != nil {
			cur, err := tx.GetWebhookState(ctx, id)
			if err != nil {
				return err
			}
			if !sameState(cur, read) {
				return errLeaseLost
			}
		}
		if dl != nil && dl.read != nil {
			ok, err := tx.SwapDeadLetter(ctx, dl.dl, dl.read)
			if err != nil {
				return err
			}
			if !ok {
				return errLeaseLost
			}
		}
		if del != nil {
			if err := tx.AppendDelivery(ctx, del); err != nil {
				return err
			}
		}
		if dl != nil && dl.read == nil {
			if err := tx.PutDeadLetter(ctx, dl.dl); err != nil {
				return err
			}
		}
		if st != nil {
			return tx.PutWebhookState(ctx, st)
		}
		return nil
	})
}

// deadLetterWrite is the dead letter a step writes. read, if not nil, is
// the letter as the redelivery attempt read it: the write happens only
// if the letter is still that (cairn.Tx.SwapDeadLetter). Otherwise a
// dispatcher whose lease ran out during the attempt, while another
// redelivered the letter (and maybe it was queued again), would
// overwrite the newer status with its stale one: a delivered letter
// marked dead, or a queued redelivery request lost.
type deadLetterWrite struct {
	dl, read *cairn.DeadLetter
}

// sameState reports whether two delivery states are the same.
func sameState(a, b *cairn.WebhookState) bool {
	return a.Cursor == b.Cursor && a.HeadSeq == b.HeadSeq && a.Attempts == b.Attempts &&
		a.FirstAttempt.Equal(b.FirstAttempt) && a.NextAttempt.Equal(b.NextAttempt)
}

// Payload is the body of a delivery: the event as the feed has it, in the
// Standard Webhooks envelope.
type Payload struct {
	Type      string       `json:"type"`
	Timestamp time.Time    `json:"timestamp"`
	Data      *cairn.Event `json:"data"`
}

// result is what one request came to.
type result struct {
	ok         bool
	status     int
	latency    time.Duration
	response   string
	err        string
	retryAfter time.Duration
	at         time.Time
	// permanent says no retry can succeed (the template renders too
	// large a body): the event is dead-lettered at once.
	permanent bool
}

func (r *result) delivery(id string, ev *cairn.Event, attempt int) *cairn.Delivery {
	return &cairn.Delivery{
		WebhookID: id, EventSeq: ev.Seq, EventID: ev.ID, EventType: ev.Type, Attempt: attempt,
		Time: r.at, StatusCode: r.status, LatencyMS: r.latency.Milliseconds(), Response: r.response, Error: r.err,
	}
}

func (r *result) summary() string {
	if r.err != "" {
		return r.err
	}
	return fmt.Sprintf("HTTP %d", r.status)
}

// send POSTs ev to w once.
func (d *Dispatcher) send(ctx context.Context, w *cairn.Webhook, ev *cairn.Event) *result {
	res := &result{at: d.now()}
	body, header, err := buildRequest(w, ev, res.at)
	if err != nil {
		res.err = err.Error()
		res.permanent = cairn.IsCode(err, cairn.ETOOLARGE) || cairn.IsCode(err, cairn.EINVALID)
		return res
	}
	return d.post(ctx, w.URL, body, header, res)
}

// buildRequest returns the body and headers of a delivery of ev to w at
// time at, in w's format.
func buildRequest(w *cairn.Webhook, ev *cairn.Event, at time.Time) ([]byte, http.Header, error) {
	ts := at.Unix()
	h := baseHeader(w)
	if w.Format == cairn.WebhookMLflow {
		body, err := mlflowBody(ev)
		if err != nil {
			return nil, nil, err
		}
		id := mlflowDeliveryID(ev)
		h.Set(MLflowDeliveryIDHeader, id)
		h.Set(MLflowTimestampHeader, strconv.FormatInt(ts, 10))
		if w.Secret != "" {
			h.Set(MLflowSignatureHeader, SignMLflow(w.Secret, id, ts, body))
		}
		return body, h, nil
	}
	key, err := cairn.WebhookKey(w.Secret)
	if err != nil {
		return nil, nil, err
	}
	var body []byte
	if len(w.Template) > 0 {
		t, err := cairn.ParseWebhookTemplate(w.Template)
		if err != nil {
			return nil, nil, err
		}
		if body, err = t.Render(ev); err != nil {
			return nil, nil, err
		}
	} else if body, err = json.Marshal(Payload{Type: ev.Type, Timestamp: ev.Time, Data: ev}); err != nil {
		return nil, nil, err
	}
	h.Set("webhook-id", ev.ID)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", Sign(key, ev.ID, ts, body))
	return body, h, nil
}

// baseHeader returns the headers every delivery to w starts with: the
// content type and user agent, then the subscription's custom headers
// (which may replace those two; the ones that identify and sign a
// delivery are refused when a subscription is written, and set after).
// The custom values are secrets: nothing logs a request's headers.
func baseHeader(w *cairn.Webhook) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Cairn-Webhooks/1")
	for k, v := range w.Headers {
		h.Set(k, v)
	}
	return h
}

// post sends one request and fills res with what came of it.
func (d *Dispatcher) post(ctx context.Context, url string, body []byte, header http.Header, res *result) *result {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		res.err = err.Error()
		return res
	}
	req.Header = header
	start := time.Now()
	resp, err := d.client.Do(req)
	res.latency = time.Since(start)
	if err != nil {
		res.err = err.Error()
		return res
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, cairn.MaxDeliveryResponse))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	res.status, res.response = resp.StatusCode, string(bytes.ToValidUTF8(snippet, []byte("\uFFFD")))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		res.ok = true
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		res.err = fmt.Sprintf("redirect to %q not followed: webhook URLs must answer 2xx themselves", resp.Header.Get("Location"))
	default:
		res.retryAfter = retryAfter(resp.Header.Get("Retry-After"), res.at)
	}
	return res
}

// retryAfter parses a Retry-After header, seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// Test sends a ping to a subscription now, records the attempt and
// returns it; ENOTFOUND if there is no such subscription. A standard
// subscription gets an event of type webhook.test (outside the sequence);
// an MLflow-style one gets MLflow's example payload of its first event,
// as MLflow's test endpoint sends. A failed ping is a recorded delivery,
// not an error.
func (d *Dispatcher) Test(ctx context.Context, id string) (*cairn.Delivery, error) {
	return d.TestEvent(ctx, id, "")
}

// TestEvent is Test with, for an MLflow-style subscription, the MLflow
// event whose example payload to send ("" for its first event); EINVALID
// if that is not an MLflow webhook event.
func (d *Dispatcher) TestEvent(ctx context.Context, id, mlflowEvent string) (*cairn.Delivery, error) {
	w, err := d.store.GetWebhook(ctx, id)
	if err != nil {
		return nil, err
	}
	now := cairn.Timestamp(d.now())
	ev := &cairn.Event{
		ID: "test_" + randomID(), Type: TestEventType, Time: now, Actor: cairn.ActorFromContext(ctx).Name,
	}
	res := &result{at: d.now()}
	var body []byte
	var header http.Header
	if w.Format == cairn.WebhookMLflow {
		if mlflowEvent == "" && len(w.Types) > 0 {
			mlflowEvent = w.Types[0]
		}
		data, err := mlflowExample(mlflowEvent)
		if err != nil {
			return nil, err
		}
		ev.Type = mlflowEvent
		entity, action, _ := strings.Cut(mlflowEvent, ".")
		if body, err = json.Marshal(MLflowPayload{Entity: entity, Action: action, Timestamp: mlflowTime(now), Data: data}); err != nil {
			return nil, err
		}
		deliveryID := mlflowDeliveryID(&cairn.Event{})
		header = baseHeader(w)
		header.Set(MLflowDeliveryIDHeader, deliveryID)
		header.Set(MLflowTimestampHeader, strconv.FormatInt(res.at.Unix(), 10))
		if w.Secret != "" {
			header.Set(MLflowSignatureHeader, SignMLflow(w.Secret, deliveryID, res.at.Unix(), body))
		}
	} else {
		if ev.Payload, err = json.Marshal(map[string]string{"webhook_id": id}); err != nil {
			return nil, err
		}
		if body, header, err = buildRequest(w, ev, res.at); err != nil {
			res.err = err.Error()
		}
	}
	if res.err == "" {
		d.post(ctx, w.URL, body, header, res)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	del := res.delivery(id, ev, 1)
	del.Outcome = cairn.DeliveryTest
	if err := d.store.Update(ctx, func(tx cairn.Tx) error { return tx.AppendDelivery(ctx, del) }); err != nil {
		return nil, err
	}
	d.metrics.observe(del.Outcome, res.latency)
	return del, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return b
}

func randomID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}
