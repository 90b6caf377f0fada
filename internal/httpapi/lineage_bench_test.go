package httpapi_test

import (
	"math/rand/v2"
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
// 50th and 99th percentile latency of one request.
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
			var edges int
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				n, dir := layers[depth-1][rng.IntN(width)], cairn.Upstream
				if i%2 == 1 {
					n, dir = layers[0][rng.IntN(width)], cairn.Downstream
				}
				start := time.Now()
				lg, err := e.Client.Lineage(b.Context(), n.String(), dir, depth)
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				edges += len(lg.Edges)
			}
			b.StopTimer()
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(edges)/float64(b.N), "edges/op")
		})
	}
}
