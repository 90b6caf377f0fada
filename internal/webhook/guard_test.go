package webhook_test

import (
	"context"
	"encoding/binary"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/webhook"
)

func TestGuardCheck(t *testing.T) {
	t.Parallel()
	g := webhook.NewGuard(nil)
	for _, a := range []string{
		"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "10.1.2.3", "172.16.0.1",
		"172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "100.100.100.200", "0.0.0.0", "::",
		"224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "ff02::1", "fe80::1", "fd00:ec2::254",
		"fc00::1", "64:ff9b::a00:1", "2002:a00:1::", "2001:0:4136:e378::1", "198.18.0.1", "::127.0.0.1",
	} {
		if err := g.Check(netip.MustParseAddr(a)); err == nil {
			t.Errorf("Check(%s) = nil, want refused", a)
		}
	}
	for _, a := range []string{"8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "100.128.0.1", "172.32.0.1"} {
		if err := g.Check(netip.MustParseAddr(a)); err != nil {
			t.Errorf("Check(%s) = %v, want allowed", a, err)
		}
	}
	allowed := webhook.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.9.0.0/16")})
	for a, ok := range map[string]bool{"127.0.0.1": true, "::ffff:127.0.0.1": true, "10.9.1.1": true, "127.0.0.2": false, "10.8.0.1": false, "::1": false} {
		if err := allowed.Check(netip.MustParseAddr(a)); (err == nil) != ok {
			t.Errorf("with an allow-list, Check(%s) = %v, want allowed %v", a, err, ok)
		}
	}
}

// TestGuardRefusesDials sends through the dispatcher's real client, guard
// on and nothing allowed: every private destination is refused before a
// connection is made, whatever the URL names.
func TestGuardRefusesDials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	d := webhook.New(e.store, webhook.Options{}) // no allow-list
	for _, url := range []string{
		srv.URL,                              // 127.0.0.1
		"http://localhost:" + port,           // a name that resolves to loopback
		"http://[::1]:" + port,               // IPv6 loopback
		"http://[::ffff:127.0.0.1]:" + port,  // IPv4-mapped
		"http://10.255.255.1:" + port,        // private
		"http://169.254.169.254/latest/meta", // cloud metadata
		"http://[fd00:ec2::254]/",            // cloud metadata, IPv6
		"http://0.0.0.0:" + port,             // unspecified
	} {
		w, err := e.svc.CreateWebhook(t.Context(), registry.WebhookCreate{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		del, err := d.Test(t.Context(), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if del.StatusCode != 0 || !strings.Contains(del.Error, "deliveries may not reach") {
			t.Errorf("%s: delivered with status %d, error %q; want refused by the guard", url, del.StatusCode, del.Error)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback receiver got %d requests", n)
	}
}

// TestRedirectsAreNotFollowed: an allowed receiver that redirects cannot
// bounce a delivery anywhere, to a refused address least of all.
func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(target.Close)
	for _, to := range []string{target.URL, "http://169.254.169.254/latest/meta-data/", "http://[::1]/"} {
		redirector := httptest.NewServer(http.RedirectHandler(to, http.StatusTemporaryRedirect))
		t.Cleanup(redirector.Close)
		w, err := e.svc.CreateWebhook(t.Context(), registry.WebhookCreate{URL: redirector.URL})
		if err != nil {
			t.Fatal(err)
		}
		d := webhook.New(e.store, webhook.Options{AllowCIDRs: loopback})
		del, err := d.Test(t.Context(), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if del.StatusCode != http.StatusTemporaryRedirect || !strings.Contains(del.Error, "not followed") {
			t.Errorf("redirect to %s: %+v; want the 307 recorded as a failure", to, del)
		}
		ds, err := e.svc.ListDeliveries(t.Context(), cairn.DeliveryQuery{WebhookID: w.ID})
		if err != nil || len(ds) != 1 || ds[0].Outcome != cairn.DeliveryTest {
			t.Errorf("recorded %+v, %v", ds, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests", n)
	}
}

// fakeDNS is a DNS server on 127.0.0.1 that answers every A query with
// the next address of answers (the last one once they run out) and every
// other query with no records, counting the A queries.
type fakeDNS struct {
	conn    net.PacketConn
	mu      sync.Mutex
	answers []netip.Addr
	queries int
}

func newFakeDNS(t *testing.T, answers ...string) *fakeDNS {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDNS{conn: conn}
	for _, a := range answers {
		f.answers = append(f.answers, netip.MustParseAddr(a))
	}
	t.Cleanup(func() { conn.Close() })
	go f.serve()
	return f
}

func (f *fakeDNS) serve() {
	buf := make([]byte, 512)
	for {
		n, from, err := f.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		q := buf[:n]
		if len(q) < 12 {
			continue
		}
		// The question: labels up to a zero byte, then type and class.
		end := 12
		for end < len(q) && q[end] != 0 {
			end += int(q[end]) + 1
		}
		if end+5 > len(q) {
			continue
		}
		question := q[12 : end+5]
		qtype := binary.BigEndian.Uint16(q[end+1:])
		resp := append([]byte{}, q[0:2]...)                     // id
		resp = append(resp, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0) // response, recursion; 1 question
		resp = append(resp, question...)
		if qtype == 1 { // A
			f.mu.Lock()
			a := f.answers[min(f.queries, len(f.answers)-1)]
			f.queries++
			f.mu.Unlock()
			resp[7] = 1 // one answer
			ip := a.As4()
			resp = append(resp, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4)
			resp = append(resp, ip[:]...)
		}
		_, _ = f.conn.WriteTo(resp, from)
	}
}

func (f *fakeDNS) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", f.conn.LocalAddr().String())
	}}
}

// TestGuardChecksEveryAnswer: the guard checks the address each
// connection dials, after resolution, so a name whose DNS answer changes
// between one delivery and the next (DNS rebinding) is refused as soon as
// it points somewhere refused, even after it pointed somewhere allowed,
// and before any byte is sent.
func TestGuardChecksEveryAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Connection", "close") // the next delivery dials, and resolves, again
	}))
	t.Cleanup(srv.Close)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	// Allowed at first (the receiver, 127.0.0.1 is allowed here), then
	// the cloud metadata address, then another loopback address.
	dns := newFakeDNS(t, "127.0.0.1", "169.254.169.254", "127.0.0.2", "127.0.0.1")
	guard := webhook.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}).WithResolver(dns.resolver())
	d := webhook.New(e.store, webhook.Options{Client: guard.Client(5 * time.Second)})
	w, err := e.svc.CreateWebhook(t.Context(), registry.WebhookCreate{URL: "http://rebind.test:" + port + "/hook"})
	if err != nil {
		t.Fatal(err) // creating resolves nothing: the name is checked when dialled
	}
	for i, want := range []string{"", "169.254.169.254", "127.0.0.2", ""} {
		del, err := d.Test(t.Context(), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case want == "" && del.StatusCode != http.StatusOK:
			t.Errorf("delivery %d: %+v; want it delivered to the allowed 127.0.0.1", i, del)
		case want != "" && (del.StatusCode != 0 || !strings.Contains(del.Error, want) || !strings.Contains(del.Error, "deliveries may not reach")):
			t.Errorf("delivery %d: %+v; want it refused at %s", i, del, want)
		}
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("the receiver got %d requests, want the 2 allowed", n)
	}
	dns.mu.Lock()
	defer dns.mu.Unlock()
	if dns.queries < 4 {
		t.Errorf("%d A queries for 4 deliveries: a delivery reused an answer", dns.queries)
	}
}
