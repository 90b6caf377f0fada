package cli

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/webhook"
)

// joinValue is a repeatable string flag whose values join with commas
// into one setting, as its environment variable and config key spell it.
type joinValue struct{ p *string }

func (v joinValue) String() string { return *v.p }
func (v joinValue) Type() string   { return "strings" }
func (v joinValue) Set(s string) error {
	if *v.p != "" {
		s = *v.p + "," + s
	}
	*v.p = s
	return nil
}

// webhookSettings parses the webhook settings of cairn serve: CIDRs the
// SSRF guard lets deliveries reach (comma-separated) and the retry window.
func webhookSettings(allow, window string) ([]netip.Prefix, time.Duration, error) {
	var prefixes []netip.Prefix
	for _, s := range strings.Split(allow, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, 0, cairn.Errorf(cairn.EINVALID, "webhook-allow-cidr %q: want a CIDR such as 10.1.0.0/16 or an address", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		prefixes = append(prefixes, p)
	}
	var d time.Duration
	if window != "" {
		var err error
		if d, err = time.ParseDuration(window); err != nil || d < time.Minute {
			return nil, 0, cairn.Errorf(cairn.EINVALID, "webhook-retry-window %q: want a duration of at least 1m, such as 24h", window)
		}
	}
	return prefixes, d, nil
}

// startWebhooks runs the webhook dispatcher until the returned stop is
// called; stop waits for deliveries in flight to end.
func startWebhooks(ctx context.Context, d *webhook.Dispatcher, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.Run(ctx); err != nil {
			logger.Error("webhook dispatcher", "err", err)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
