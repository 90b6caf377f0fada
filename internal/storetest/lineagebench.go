package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
)

// Lineage benchmark graph: Layers layers of Width versions each (10,000
// nodes at 50 × 200). Every version of layer i+1 derives from one random
// version of layer i, and one in ten from a second one, so a walk from the
// last layer up (or from the first down) goes 50 hops deep.
const (
	benchLayers = 50
	benchWidth  = 200
)

// SeedLineageGraph writes the benchmark graph into s through the store, in
// a few large transactions: one model per layer, its versions, then the
// edges. It returns the nodes by layer.
func SeedLineageGraph(tb testing.TB, s cairn.Store) [][]cairn.Node {
	tb.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	layers := make([][]cairn.Node, benchLayers)
	for l := range benchLayers {
		model := fmt.Sprintf("layer-%02d", l)
		m := newModel(model)
		err := s.Update(ctx, func(tx cairn.Tx) error {
			if err := tx.CreateModel(ctx, m); err != nil {
				return err
			}
			for range benchWidth {
				n, err := tx.AllocateVersion(ctx, model)
				if err != nil {
					return err
				}
				if err := tx.CreateVersion(ctx, newVersion(model, cairn.KindModel, n)); err != nil {
					return err
				}
				layers[l] = append(layers[l], cairn.VersionNode(model, n))
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("seed layer %d: %v", l, err)
		}
	}
	for l := 1; l < benchLayers; l++ {
		var edges []cairn.Edge
		for _, to := range layers[l] {
			parents := []cairn.Node{layers[l-1][rng.IntN(benchWidth)]}
			if rng.IntN(10) == 0 {
				if p := layers[l-1][rng.IntN(benchWidth)]; p != parents[0] {
					parents = append(parents, p)
				}
			}
			for _, from := range parents {
				edges = append(edges, cairn.Edge{From: from, To: to, Type: cairn.EdgeDerivedFrom, CreatedBy: "bench", CreatedAt: base})
			}
		}
		if err := s.Update(ctx, func(tx cairn.Tx) error { return tx.AddEdges(ctx, edges) }); err != nil {
			tb.Fatalf("seed edges into layer %d: %v", l, err)
		}
	}
	return layers
}

// BenchLineage measures Lineage over the seeded graph, 50 hops deep: up
// from random versions of the last layer and down from random versions of
// the first, alternately. It reports the 50th and 99th percentile latency
// of one query (p50-ms, p99-ms) and the edges a query returned on average.
func BenchLineage(b *testing.B, s cairn.Store) {
	layers := SeedLineageGraph(b, s)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	lat := make([]time.Duration, 0, b.N)
	var edges int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n, dir := layers[benchLayers-1][rng.IntN(benchWidth)], cairn.Upstream
		if i%2 == 1 {
			n, dir = layers[0][rng.IntN(benchWidth)], cairn.Downstream
		}
		start := time.Now()
		es, err := s.Lineage(ctx, n, dir, benchLayers)
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		edges += len(es)
		if testing.Verbose() && i < 20 {
			b.Logf("%s %s: %d edges in %v", dir, n, len(es), lat[len(lat)-1])
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(edges)/float64(b.N), "edges/op")
}
