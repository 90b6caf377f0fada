package webhook_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/webhook"
)

// BenchmarkDispatch measures delivery throughput to a local receiver that
// answers 204 at once: b.N events are committed first, then one
// subscription's dispatcher delivers them all, in order, each attempt
// recorded (SQLite in a temporary directory).
func BenchmarkDispatch(b *testing.B) {
	e := newEnv(b)
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	if _, err := e.svc.CreateWebhook(b.Context(), registry.WebhookCreate{URL: srv.URL, EventTypes: []string{"model.created"}}); err != nil {
		b.Fatal(err)
	}
	for i := range b.N {
		if _, err := e.svc.CreateModel(b.Context(), registry.ModelCreate{Name: fmt.Sprintf("m-%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	stop := start1(b, e.store)
	waitFor(b, "every delivery", func() bool { return got.Load() >= int64(b.N) })
	b.StopTimer()
	stop()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

func start1(b *testing.B, st cairn.Store) func() {
	ctx, cancel := context.WithCancel(context.Background())
	d := webhook.New(st, webhook.Options{PollInterval: 5 * time.Millisecond, AllowCIDRs: loopback})
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return func() { cancel(); <-done }
}

// BenchmarkOutboxWrite measures what the outbox adds to a mutation: one
// SQLite transaction that creates a version (manifest of one file) with
// and without the event row the registry appends beside it.
func BenchmarkOutboxWrite(b *testing.B) {
	for _, withEvent := range []bool{false, true} {
		b.Run(fmt.Sprintf("event=%v", withEvent), func(b *testing.B) {
			e := newEnv(b)
			ctx := b.Context()
			if _, err := e.svc.CreateModel(ctx, registry.ModelCreate{Name: "m"}); err != nil {
				b.Fatal(err)
			}
			d := cairn.DigestOf([]byte("x"))
			b.ResetTimer()
			for i := range b.N {
				err := e.store.Update(ctx, func(tx cairn.Tx) error {
					n, err := tx.AllocateVersion(ctx, "m")
					if err != nil {
						return err
					}
					now := cairn.Timestamp(time.Now())
					v := &cairn.Version{Model: "m", Number: n, Kind: cairn.KindModel, Files: []cairn.File{{Path: "f", Size: 1, Digest: d}},
						Digest: d, Size: 1, Metrics: map[string]float64{}, Params: map[string]string{}, DerivedFrom: []string{}, Inputs: []string{},
						CreatedBy: "b", CreatedAt: now, UpdatedAt: now, Tags: map[string]string{}, Aliases: []string{},
						Status: cairn.StatusPending, Stage: cairn.StageNone}
					if err := tx.CreateVersion(ctx, v); err != nil {
						return err
					}
					if withEvent {
						return tx.AppendEvent(ctx, &cairn.Event{ID: fmt.Sprintf("%032x", i), Type: cairn.EventVersionCreated, Time: now,
							Actor: "b", Model: "m", Payload: []byte(`{"model":"m","version":1,"files":[{"path":"f"}]}`)})
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
