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
// of one query (p50-ms, p99-ms), the same of the CPU time the benchmark's
// process spent on it (cpu-p50-ms, cpu-p99-ms: on a shared machine a
// steadier measure of the work, but for a server store it leaves out the
// server's), and the edges a query returned on average.
func BenchLineage(b *testing.B, s cairn.Store) {
	benchWalks(b, s, SeedLineageGraph(b, s))
}

// Diamond benchmark graph: 50 layers of 20 versions; every version derives
// from 5 versions of the layer above and takes 2 of the layer above that
// as inputs, so that most versions are reached along a great many paths,
// of different lengths (6,820 edges).
const (
	diamondLayers  = 50
	diamondWidth   = 20
	diamondParents = 5
	diamondSkips   = 2
)

// SeedDiamondGraph writes the diamond benchmark graph into s and returns
// its nodes by layer.
func SeedDiamondGraph(tb testing.TB, s cairn.Store) [][]cairn.Node {
	tb.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	layers := make([][]cairn.Node, diamondLayers)
	err := s.Update(ctx, func(tx cairn.Tx) error {
		if err := tx.CreateModel(ctx, newModel("diamond")); err != nil {
			return err
		}
		for l := range diamondLayers {
			for range diamondWidth {
				n, err := tx.AllocateVersion(ctx, "diamond")
				if err != nil {
					return err
				}
				if err := tx.CreateVersion(ctx, newVersion("diamond", cairn.KindModel, n)); err != nil {
					return err
				}
				layers[l] = append(layers[l], cairn.VersionNode("diamond", n))
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("seed the diamond graph: %v", err)
	}
	for l := 1; l < diamondLayers; l++ {
		var edges []cairn.Edge
		for _, to := range layers[l] {
			for _, p := range rng.Perm(diamondWidth)[:diamondParents] {
				edges = append(edges, cairn.Edge{From: layers[l-1][p], To: to, Type: cairn.EdgeDerivedFrom, CreatedBy: "bench", CreatedAt: base})
			}
			if l >= 2 {
				for _, p := range rng.Perm(diamondWidth)[:diamondSkips] {
					edges = append(edges, cairn.Edge{From: layers[l-2][p], To: to, Type: cairn.EdgeInput, CreatedBy: "bench", CreatedAt: base})
				}
			}
		}
		if err := s.Update(ctx, func(tx cairn.Tx) error { return tx.AddEdges(ctx, edges) }); err != nil {
			tb.Fatalf("seed edges into layer %d: %v", l, err)
		}
	}
	return layers
}

// BenchLineageDiamonds measures Lineage as BenchLineage does, over the
// diamond graph: each walk reaches most of the graph.
func BenchLineageDiamonds(b *testing.B, s cairn.Store) {
	benchWalks(b, s, SeedDiamondGraph(b, s))
}

// benchWalks walks 50 hops up from random versions of the last layer and
// down from random versions of the first, alternately, and reports the
// latency and CPU percentiles.
func benchWalks(b *testing.B, s cairn.Store, layers [][]cairn.Node) {
	ctx := context.Background()
	depth, width := len(layers), len(layers[0])
	rng := rand.New(rand.NewPCG(3, 4))
	lat := make([]time.Duration, 0, b.N)
	cpu := make([]time.Duration, 0, b.N)
	var edges int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n, dir := layers[depth-1][rng.IntN(width)], cairn.Upstream
		if i%2 == 1 {
			n, dir = layers[0][rng.IntN(width)], cairn.Downstream
		}
		start, startCPU := time.Now(), processCPU()
		es, err := s.Lineage(ctx, n, dir, depth)
		lat = append(lat, time.Since(start))
		cpu = append(cpu, processCPU()-startCPU)
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
	slices.Sort(cpu)
	pct := func(ds []time.Duration, p float64) float64 {
		return float64(ds[min(len(ds)-1, int(float64(len(ds))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(lat, 0.50), "p50-ms")
	b.ReportMetric(pct(lat, 0.99), "p99-ms")
	b.ReportMetric(pct(cpu, 0.50), "cpu-p50-ms")
	b.ReportMetric(pct(cpu, 0.99), "cpu-p99-ms")
	b.ReportMetric(float64(edges)/float64(b.N), "edges/op")
}
