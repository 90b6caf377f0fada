package webhook

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/cairn-registry/cairn"
)

// metrics counts this process's delivery attempts, for /metrics.
type metrics struct {
	delivered, retry, dead, test atomic.Int64
	latencyMicros                atomic.Int64 // sum over every attempt that got an answer or failed
}

func (m *metrics) observe(outcome string, latency time.Duration) {
	switch outcome {
	case cairn.DeliveryDelivered:
		m.delivered.Add(1)
	case cairn.DeliveryRetry:
		m.retry.Add(1)
	case cairn.DeliveryDead:
		m.dead.Add(1)
	case cairn.DeliveryTest:
		m.test.Add(1)
	}
	m.latencyMicros.Add(latency.Microseconds())
}

// WriteMetrics writes this dispatcher's counters in the Prometheus text
// format: attempts by outcome, and the time they took.
func (d *Dispatcher) WriteMetrics(w io.Writer) {
	m := &d.metrics
	fmt.Fprintf(w, "# HELP cairn_webhook_attempts_total Webhook delivery attempts made by this process, by outcome.\n")
	fmt.Fprintf(w, "# TYPE cairn_webhook_attempts_total counter\n")
	for _, c := range []struct {
		outcome string
		v       int64
	}{
		{cairn.DeliveryDelivered, m.delivered.Load()}, {cairn.DeliveryRetry, m.retry.Load()},
		{cairn.DeliveryDead, m.dead.Load()}, {cairn.DeliveryTest, m.test.Load()},
	} {
		fmt.Fprintf(w, "cairn_webhook_attempts_total{outcome=%q} %d\n", c.outcome, c.v)
	}
	fmt.Fprintf(w, "# HELP cairn_webhook_attempt_seconds_total Time spent in webhook delivery attempts by this process.\n")
	fmt.Fprintf(w, "# TYPE cairn_webhook_attempt_seconds_total counter\n")
	fmt.Fprintf(w, "cairn_webhook_attempt_seconds_total %g\n", float64(m.latencyMicros.Load())/1e6)
}
