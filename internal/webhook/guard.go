package webhook

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// refused lists the destinations a webhook may not reach unless allowed:
// everything that is not the public internet. IPv4-mapped IPv6 addresses
// are unmapped before the check, so ::ffff:127.0.0.1 is 127.0.0.1.
var refused = []netip.Prefix{
	// IPv4
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network", unspecified
	netip.MustParsePrefix("10.0.0.0/8"),      // private
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT (Alibaba's metadata 100.100.100.200)
	netip.MustParsePrefix("127.0.0.0/8"),     // loopback
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local (cloud metadata 169.254.169.254)
	netip.MustParsePrefix("172.16.0.0/12"),   // private
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast
	netip.MustParsePrefix("192.168.0.0/16"),  // private
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	// IPv6
	netip.MustParsePrefix("::/96"),          // unspecified, loopback, IPv4-compatible
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64: reaches any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("100::/64"),       // discard
	netip.MustParsePrefix("2001::/32"),      // Teredo: tunnels to IPv4
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("2002::/16"),      // 6to4: embeds any IPv4 address
	netip.MustParsePrefix("fc00::/7"),       // unique local (AWS metadata fd00:ec2::254)
	netip.MustParsePrefix("fe80::/10"),      // link-local
	netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated)
	netip.MustParsePrefix("ff00::/8"),       // multicast
}

// Guard keeps deliveries off private networks (SSRF): it refuses to dial
// loopback, private, link-local, carrier-grade NAT, multicast, unspecified,
// reserved and cloud metadata addresses, IPv4 and IPv6, unless an
// administrator allowed them. It checks the address actually dialled, after
// name resolution, so neither a hostname that resolves to 127.0.0.1 nor
// DNS rebinding gets through.
type Guard struct {
	allow    []netip.Prefix
	resolver *net.Resolver
}

// NewGuard returns a Guard that lets through the addresses in allow, which
// it would otherwise refuse.
func NewGuard(allow []netip.Prefix) *Guard {
	g := &Guard{}
	for _, p := range allow {
		g.allow = append(g.allow, p.Masked())
	}
	return g
}

// WithResolver returns a copy of g whose clients resolve names with r
// instead of the system's resolver; the check stays on the addresses
// dialled, whatever r answers.
func (g *Guard) WithResolver(r *net.Resolver) *Guard {
	c := *g
	c.resolver = r
	return &c
}

// Check returns an error if a delivery may not reach addr.
func (g *Guard) Check(addr netip.Addr) error {
	a := addr.Unmap().WithZone("")
	for _, p := range g.allow {
		if p.Contains(a) {
			return nil
		}
	}
	for _, p := range refused {
		if p.Contains(a) {
			return fmt.Errorf("webhook: destination %s is in %s, which deliveries may not reach (allow it with --webhook-allow-cidr)", addr, p)
		}
	}
	return nil
}

// control is a net.Dialer Control function: it runs after resolution,
// before connecting, on every address tried.
func (g *Guard) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook: refusing to dial %s %q: %w", network, address, err)
	}
	return g.Check(ap.Addr())
}

// Client returns an HTTP client whose every connection passes the guard.
// It uses no proxy (a proxy would dial on our behalf, unchecked) and
// follows no redirect: a 3xx answer is a failed delivery, so a receiver
// cannot bounce a delivery into a private network either.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: g.control, Resolver: g.resolver}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
