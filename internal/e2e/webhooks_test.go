package e2e

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
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/testenv"
)

// hookReceiver is a webhook endpoint that checks each delivery's
// signature from the Standard Webhooks specification alone and records
// the events it acknowledged, in arrival order. hold, if set, is called
// before answering and may block.
type hookReceiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	seqs   []int64
	ids    map[int64]string
	hold   func(seq int64)
}

func newHookReceiver(t *testing.T) *hookReceiver {
	rc := &hookReceiver{t: t, ids: map[int64]string{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		rc.mu.Lock()
		secret, hold := rc.secret, rc.hold
		rc.mu.Unlock()
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(r.Header.Get("webhook-id") + "." + r.Header.Get("webhook-timestamp") + "."))
		mac.Write(body)
		want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		if !slices.Contains(strings.Fields(r.Header.Get("webhook-signature")), want) {
			t.Errorf("receiver: bad signature %q", r.Header.Get("webhook-signature"))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var p struct{ Data cairn.Event }
		if err := json.Unmarshal(body, &p); err != nil || p.Data.ID != r.Header.Get("webhook-id") {
			t.Errorf("receiver: body %s (%v)", body, err)
			return
		}
		if hold != nil {
			hold(p.Data.Seq)
		}
		rc.mu.Lock()
		rc.seqs = append(rc.seqs, p.Data.Seq)
		rc.ids[p.Data.Seq] = p.Data.ID
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *hookReceiver) got() []int64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.seqs)
}

// subscribe creates a subscription to every event and tells rc its secret.
func (rc *hookReceiver) subscribe(t *testing.T, c context.Context, cl *client.Client) *client.WebhookCreated {
	t.Helper()
	w, err := cl.CreateWebhook(c, client.WebhookCreate{URL: rc.srv.URL + "/hook"})
	if err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.secret = w.Secret
	rc.mu.Unlock()
	return w
}

// feedEvents reads the whole feed after `after`.
func feedEvents(t *testing.T, c context.Context, cl *client.Client, after int64) []*cairn.Event {
	t.Helper()
	var out []*cairn.Event
	for {
		p, err := cl.ListEvents(c, after, 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Items...)
		if len(p.Items) == 0 {
			return out
		}
		after = p.Items[len(p.Items)-1].Seq
	}
}

// consecutive reports whether seqs are from+1, from+2, … to, each once.
func consecutive(seqs []int64, from, to int64) error {
	if int64(len(seqs)) != to-from {
		return fmt.Errorf("%d events, want %d (%d..%d)", len(seqs), to-from, from+1, to)
	}
	for i, s := range seqs {
		if s != from+1+int64(i) {
			return fmt.Errorf("event #%d is %d, want %d", i, s, from+1+int64(i))
		}
	}
	return nil
}

// waitUntil polls cond until it holds or c ends.
func waitUntil(t *testing.T, c context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-c.Done():
			t.Fatalf("gave up waiting for %s: %v", what, c.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// A server killed (SIGKILL) in the middle of a delivery and started again
// on the same data directory resumes delivery: once the dead process's
// lease on the subscription runs out (40 s), the new one sends the
// interrupted event again and then every later one, in order. The
// interrupted event is the only one the receiver sees twice.
func TestWebhookDeliveryResumesAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a dead server's lease to run out (40 s); skipped with -short")
	}
	c := ctx(t, 5*time.Minute)
	data := filepath.Join(t.TempDir(), "data")
	args := []string{"--data", data, "--webhook-allow-cidr", "127.0.0.1/32"}
	srv := startServer(t, args...)
	cl := client.New(srv.URL)
	rc := newHookReceiver(t)
	sub := rc.subscribe(t, c, cl)
	first := feedEvents(t, c, cl, 0)
	// The subscription receives the events after `from`, starting with
	// its own webhook.created.
	from := first[len(first)-1].Seq - 1

	// Hold the delivery of the 5th event after the subscription until the
	// server is dead.
	holding, killed := make(chan int64, 1), make(chan struct{})
	var once sync.Once
	rc.mu.Lock()
	rc.hold = func(seq int64) {
		if seq == from+5 {
			once.Do(func() {
				holding <- seq
				<-killed
			})
		}
	}
	rc.mu.Unlock()
	for i := range 10 {
		if _, err := cl.CreateModel(c, client.ModelCreate{Name: fmt.Sprintf("m-%02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var held int64
	select {
	case held = <-holding:
	case <-c.Done():
		t.Fatalf("the 5th delivery never came; got %v", rc.got())
	}
	srv.kill(t)
	close(killed)
	// The held request now completes against a dead client: the receiver
	// records it (before the restarted server can send it again, so the
	// order of rc.got() is the order of deliveries), the dead server
	// recorded nothing.
	waitUntil(t, c, "the receiver to finish the held request", func() bool {
		return slices.Contains(rc.got(), held)
	})

	srv2 := startServer(t, args...)
	cl2 := client.New(srv2.URL)
	last := feedEvents(t, c, cl2, 0)
	to := last[len(last)-1].Seq
	// Wait for the cursor, not for the receiver: the receiver records an
	// event before it answers, and the dispatcher moves the cursor only
	// after the answer, so a receiver that has the last event says
	// nothing yet about the cursor. Once the cursor is at the last event,
	// every event has been answered, and the receiver has recorded it.
	var st *client.WebhookStatus
	waitUntil(t, c, "the cursor to reach the last event after the restart", func() bool {
		var err error
		if st, err = cl2.GetWebhook(c, sub.ID); err != nil {
			t.Fatal(err)
		}
		return st.Delivery.Cursor >= to
	})
	if st.Delivery.Cursor != to {
		t.Errorf("after the restart the cursor is %d, want %d", st.Delivery.Cursor, to)
	}
	got := rc.got()
	var distinct []int64
	for i, s := range got {
		if i > 0 && s == got[i-1] {
			if s != held {
				t.Errorf("event %d delivered twice in a row; only the interrupted %d may be", s, held)
			}
			continue
		}
		distinct = append(distinct, s)
	}
	if err := consecutive(distinct, from, to); err != nil {
		t.Errorf("deliveries %v: %v", got, err)
	}
}

// 32 writers on two replicas sharing one PostgreSQL database: a feed
// reader following the feed and a webhook receiver each see every event
// exactly once, in sequence order, with the same ids.
func TestWebhooksAndFeedOnReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two servers on PostgreSQL and S3; skipped with -short")
	}
	pgURL := testenv.PostgresURL(t)
	s3cfg := testenv.S3(t)
	c := ctx(t, 5*time.Minute)
	blobsURL := "s3://" + s3cfg.Bucket + "/registry?" + url.Values{
		"endpoint": {s3cfg.Endpoint}, "region": {s3cfg.Region},
	}.Encode()
	env := []string{
		"AWS_ACCESS_KEY_ID=" + s3cfg.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3cfg.SecretKey, "AWS_EC2_METADATA_DISABLED=true",
		"CAIRN_DB=" + pgURL, "CAIRN_BLOBS=" + blobsURL, "CAIRN_WEBHOOK_ALLOW_CIDRS=127.0.0.1/32",
	}
	cairnBinary(t)
	var replicas [2]*server
	var errs [2]error
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replicas[i], errs[i] = startReplica(t, env, "--pg-max-conns", "8")
		}()
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		t.Fatal(err)
	}
	a, b := client.New(replicas[0].URL), client.New(replicas[1].URL)
	for _, cl := range []*client.Client{a, b} {
		if err := waitReady(c, cl); err != nil {
			t.Fatal(err)
		}
	}
	rc := newHookReceiver(t)
	rc.subscribe(t, c, a)
	start := feedEvents(t, c, b, 0)
	from := start[len(start)-1].Seq - 1 // before the subscription's own webhook.created

	// The feed reader long-polls replica B until it has seen `stop`.
	var feedMu sync.Mutex
	var feed []*cairn.Event
	stopAt := make(chan int64, 1)
	readerDone := make(chan error, 1)
	go func() {
		after, stop := from, int64(-1)
		for {
			select {
			case stop = <-stopAt:
			default:
			}
			if stop >= 0 && after >= stop {
				readerDone <- nil
				return
			}
			p, err := b.ListEvents(c, after, 100, 2*time.Second)
			if err != nil {
				readerDone <- err
				return
			}
			feedMu.Lock()
			feed = append(feed, p.Items...)
			feedMu.Unlock()
			if len(p.Items) > 0 {
				after = p.Items[len(p.Items)-1].Seq
			}
		}
	}()

	// 32 writers, alternating replicas: each creates a model and sets
	// three tags on it, one request at a time.
	const writers = 32
	werrs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := []*client.Client{a, b}[i%2]
			name := fmt.Sprintf("w-%02d", i)
			if _, err := cl.CreateModel(c, client.ModelCreate{Name: name}); err != nil {
				werrs[i] = err
				return
			}
			for k := range 3 {
				if _, err := cl.UpdateModel(c, name, client.ModelUpdate{SetTags: map[string]string{fmt.Sprint("k", k): "v"}}); err != nil {
					werrs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(werrs...); err != nil {
		t.Fatal(err)
	}
	all := feedEvents(t, c, a, from)
	to := from + int64(len(all))
	// Per writer: model.created, and model.updated + tag.set per tag.
	if len(all) != writers*7+1 {
		t.Errorf("%d events after the subscription, want %d", len(all), writers*7+1)
	}
	stopAt <- to
	if err := <-readerDone; err != nil {
		t.Fatal(err)
	}
	waitUntil(t, c, "the receiver to get every event", func() bool { return len(rc.got()) >= len(all) })

	var feedSeqs []int64
	for _, ev := range feed {
		feedSeqs = append(feedSeqs, ev.Seq)
	}
	if err := consecutive(feedSeqs, from, to); err != nil {
		t.Errorf("feed reader: %v", err)
	}
	if err := consecutive(rc.got(), from, to); err != nil {
		t.Errorf("webhook receiver: %v (got %v)", err, rc.got())
	}
	for _, ev := range all {
		if id := rc.ids[ev.Seq]; id != ev.ID {
			t.Errorf("event %d: the receiver got id %q, the feed has %q", ev.Seq, id, ev.ID)
		}
	}
}
