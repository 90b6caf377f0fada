package httpapi_test

import (
	"math/rand/v2"
	"net/http/httptrace"
	"slices"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/storetest"
)

// BenchmarkLineageHTTP: GET /api/v1/lineage/{ref}?direction=…&depth=50
// through the real client and server on SQLite, over the 10,000-version
// graph of storetest.SeedLineageGraph (and, as Diamonds, the graph of
// storetest.SeedDiamondGraph): up from random versions of the last layer
// and down from random versions of the first, alternately. It reports the
// 50th and 99th percentile latency of one request as the client sees it
// (p50-ms, p99-ms: request, server, transfer and the client's decoding)
// and of the server's part alone (srv-p50-ms, srv-p99-ms: from the
// request written to the response's first byte, which the server sends
// only once it has walked the graph and encoded the whole body).
func BenchmarkLineageHTTP(b *testing.B) {
	for _, g := range []struct {
		name string
		seed func(testing.TB, cairn.Store) [][]cairn.Node
	}{{"Layers", storetest.SeedLineageGraph}, {"Diamonds", storetest.SeedDiamondGraph}} {
		b.Run(g.name, func(b *testing.B) {
			e := newEnv(b)
			layers := g.seed(b, e.Store)
			depth, width := len(layers), len(layers[0])
			rng := rand.New(rand.NewPCG(3, 4))
			lat := make([]time.Duration, 0, b.N)
			srv := make([]time.Duration, 0, b.N)
			var wrote, first time.Time
			ctx := httptrace.WithClientTrace(b.Context(), &httptrace.ClientTrace{
				WroteRequest:         func(httptrace.WroteRequestInfo) { wrote = time.Now() },
				GotFirstResponseByte: func() { first = time.Now() },
			})
			var edges int
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				n, dir := layers[depth-1][rng.IntN(width)], cairn.Upstream
				if i%2 == 1 {
					n, dir = layers[0][rng.IntN(width)], cairn.Downstream
				}
				start := time.Now()
				lg, err := e.Client.Lineage(ctx, n.String(), dir, depth)
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				srv = append(srv, first.Sub(wrote))
				edges += len(lg.Edges)
			}
			b.StopTimer()
			pct := func(d []time.Duration, p float64) float64 {
				return float64(d[min(len(d)-1, int(float64(len(d))*p))].Microseconds()) / 1000
			}
			slices.Sort(lat)
			slices.Sort(srv)
			b.ReportMetric(pct(lat, 0.50), "p50-ms")
			b.ReportMetric(pct(lat, 0.99), "p99-ms")
			b.ReportMetric(pct(srv, 0.50), "srv-p50-ms")
			b.ReportMetric(pct(srv, 0.99), "srv-p99-ms")
			b.ReportMetric(float64(edges)/float64(b.N), "edges/op")
		})
	}
}
