package webhook_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

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
