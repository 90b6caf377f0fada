package storetest

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
)

var lineageTests = []test{
	{"Walk", testLineageWalk},
	{"Errors", testLineageErrors},
	{"Cycles", testLineageCycles},
	{"Diamonds", testLineageDiamonds},
}

// edgeSummary describes edges as "from -type-> to", sorted: Lineage's order
// is the store's to choose.
func edgeSummary(es []cairn.Edge) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.From.String() + " -" + string(e.Type) + "-> " + e.To.String()
	}
	sort.Strings(out)
	return out
}

// The graph
//
//	transactions@v1 -consumed_by-> run:r1 -produced-> churn@v1 -derived_from-> churn-small@v1
//	                                                  churn@v1 -evaluates-> churn-eval@v1
//	transactions@v1 -trained_on-> legacy@v1
//
// walked up and down from several nodes to several depths.
func testLineageWalk(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "transactions", cairn.KindDataset)
	createModel(t, s, "churn", cairn.KindModel)
	createModel(t, s, "churn-small", cairn.KindModel)
	createModel(t, s, "churn-eval", cairn.KindEvaluation)
	createModel(t, s, "legacy", cairn.KindModel)
	for _, m := range []string{"transactions", "churn", "churn-small", "churn-eval", "legacy"} {
		createVersion(t, s, m, nil)
	}
	// A deleted version stays in the graph.
	createVersion(t, s, "churn-small", func(v *cairn.Version) { v.DeletedAt = ptr(at(9)) })
	createRun(t, s, newRun("r1", "0", 0))

	ds := cairn.VersionNode("transactions", 1)
	run := cairn.RunNode("r1")
	churn := cairn.VersionNode("churn", 1)
	small := cairn.VersionNode("churn-small", 1)
	small2 := cairn.VersionNode("churn-small", 2)
	eval := cairn.VersionNode("churn-eval", 1)
	legacy := cairn.VersionNode("legacy", 1)
	edge := func(from, to cairn.Node, typ cairn.EdgeType) cairn.Edge {
		return cairn.Edge{From: from, To: to, Type: typ, CreatedBy: "alice", CreatedAt: at(20)}
	}
	edges := []cairn.Edge{
		edge(ds, run, cairn.EdgeConsumedBy),
		edge(run, churn, cairn.EdgeProduced),
		edge(churn, small, cairn.EdgeDerivedFrom),
		edge(churn, eval, cairn.EdgeEvaluates),
		edge(ds, legacy, cairn.EdgeTrainedOn),
		edge(small, small2, cairn.EdgeDerivedFrom),
	}
	update(t, s, func(tx cairn.Tx) error { return tx.AddEdges(ctx, edges) })

	// Adding edges again keeps the originals (and their creator and time).
	again := append([]cairn.Edge(nil), edges[:2]...)
	for i := range again {
		again[i].CreatedBy, again[i].CreatedAt = "mallory", at(99)
	}
	update(t, s, func(tx cairn.Tx) error { return tx.AddEdges(ctx, again) })

	const (
		eDsRun     = "transactions@v1 -consumed_by-> run:r1"
		eRunChurn  = "run:r1 -produced-> churn@v1"
		eChurnSm   = "churn@v1 -derived_from-> churn-small@v1"
		eChurnEval = "churn@v1 -evaluates-> churn-eval@v1"
		eDsLegacy  = "transactions@v1 -trained_on-> legacy@v1"
		eSmSm2     = "churn-small@v1 -derived_from-> churn-small@v2"
	)
	sorted := func(s ...string) []string { sort.Strings(s); return s }
	for _, tc := range []struct {
		name  string
		node  cairn.Node
		dir   cairn.Direction
		depth int
		want  []string
	}{
		{"dataset down 1", ds, cairn.Downstream, 1, sorted(eDsRun, eDsLegacy)},
		{"dataset down 2", ds, cairn.Downstream, 2, sorted(eDsRun, eDsLegacy, eRunChurn)},
		{"dataset down 3", ds, cairn.Downstream, 3, sorted(eDsRun, eDsLegacy, eRunChurn, eChurnSm, eChurnEval)},
		{"dataset down far", ds, cairn.Downstream, 50, sorted(eDsRun, eDsLegacy, eRunChurn, eChurnSm, eChurnEval, eSmSm2)},
		{"dataset up", ds, cairn.Upstream, 5, []string{}},
		{"small up 1", small, cairn.Upstream, 1, sorted(eChurnSm)},
		{"small up 2", small, cairn.Upstream, 2, sorted(eChurnSm, eRunChurn)},
		{"small up 3", small, cairn.Upstream, 3, sorted(eChurnSm, eRunChurn, eDsRun)},
		{"small2 up far", small2, cairn.Upstream, 10, sorted(eSmSm2, eChurnSm, eRunChurn, eDsRun)},
		{"run up", run, cairn.Upstream, 1, sorted(eDsRun)},
		{"run down 1", run, cairn.Downstream, 1, sorted(eRunChurn)},
		{"run down 2", run, cairn.Downstream, 2, sorted(eRunChurn, eChurnSm, eChurnEval)},
		{"eval down", eval, cairn.Downstream, 3, []string{}},
		{"legacy up", legacy, cairn.Upstream, 1, sorted(eDsLegacy)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Lineage(ctx, tc.node, tc.dir, tc.depth)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Error("Lineage returned nil, want an empty slice")
			}
			if diff := cmp.Diff(tc.want, edgeSummary(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			for _, e := range got {
				if e.CreatedBy != "alice" || !e.CreatedAt.Equal(at(20)) {
					t.Errorf("edge %s: created by %q at %v, want alice at %v", e.From, e.CreatedBy, e.CreatedAt, at(20))
				}
			}
		})
	}
	// Inside a transaction too, and whole edges compare equal.
	update(t, s, func(tx cairn.Tx) error {
		got, err := tx.Lineage(ctx, run, cairn.Downstream, 1)
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]cairn.Edge{edges[1]}, got); diff != "" {
			t.Errorf("tx.Lineage (-want +got):\n%s", diff)
		}
		return nil
	})
}

func testLineageErrors(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	createVersion(t, s, "churn", nil)
	createRun(t, s, newRun("r1", "0", 0))
	v1 := cairn.VersionNode("churn", 1)
	for name, e := range map[string]cairn.Edge{
		"missing version": {From: v1, To: cairn.VersionNode("churn", 2), Type: cairn.EdgeDerivedFrom, CreatedBy: "a", CreatedAt: at(1)},
		"missing model":   {From: cairn.VersionNode("nope", 1), To: v1, Type: cairn.EdgeInput, CreatedBy: "a", CreatedAt: at(1)},
		"missing run":     {From: cairn.RunNode("nope"), To: v1, Type: cairn.EdgeProduced, CreatedBy: "a", CreatedAt: at(1)},
	} {
		t.Run(name, func(t *testing.T) {
			err := s.Update(ctx, func(tx cairn.Tx) error { return tx.AddEdges(ctx, []cairn.Edge{e}) })
			wantCode(t, err, cairn.ENOTFOUND)
		})
	}
	_, err := s.Lineage(ctx, cairn.VersionNode("churn", 9), cairn.Upstream, 1)
	wantCode(t, err, cairn.ENOTFOUND)
	_, err = s.Lineage(ctx, cairn.RunNode("nope"), cairn.Upstream, 1)
	wantCode(t, err, cairn.ENOTFOUND)
	_, err = s.Lineage(ctx, v1, cairn.Upstream, 0)
	wantCode(t, err, cairn.EINVALID)
}

// Edges that would close a cycle are refused, in any shape (a self-loop,
// through a run, three versions around), also within one batch, and the
// transaction goes on; edges that merely join two paths (a diamond) are
// not cycles.
func testLineageCycles(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	for range 4 {
		createVersion(t, s, "churn", nil)
	}
	createRun(t, s, newRun("r1", "0", 0))
	v := func(n int64) cairn.Node { return cairn.VersionNode("churn", n) }
	run := cairn.RunNode("r1")
	edge := func(from, to cairn.Node, typ cairn.EdgeType) cairn.Edge {
		return cairn.Edge{From: from, To: to, Type: typ, CreatedBy: "alice", CreatedAt: at(1)}
	}
	update(t, s, func(tx cairn.Tx) error {
		return tx.AddEdges(ctx, []cairn.Edge{
			edge(v(1), run, cairn.EdgeConsumedBy),
			edge(run, v(2), cairn.EdgeProduced),
			edge(v(2), v(3), cairn.EdgeDerivedFrom),
			edge(v(1), v(3), cairn.EdgeInput), // a diamond, not a cycle
		})
	})
	for name, e := range map[string]cairn.Edge{
		"self-loop":         edge(v(1), v(1), cairn.EdgeDerivedFrom),
		"back into the run": edge(v(2), run, cairn.EdgeConsumedBy),
		"around three":      edge(v(3), v(1), cairn.EdgeDerivedFrom),
		"run to its input":  edge(run, v(1), cairn.EdgeProduced),
	} {
		t.Run(name, func(t *testing.T) {
			err := s.Update(ctx, func(tx cairn.Tx) error {
				err := tx.AddEdges(ctx, []cairn.Edge{e})
				wantCode(t, err, cairn.EINVALID)
				// The transaction is still usable.
				return tx.AddEdges(ctx, []cairn.Edge{edge(v(3), v(4), cairn.EdgeDerivedFrom)})
			})
			if err != nil {
				t.Fatalf("after a refused edge: %v", err)
			}
		})
	}
	// Within one batch: the second edge closes the cycle the first opens.
	err := s.Update(ctx, func(tx cairn.Tx) error {
		return tx.AddEdges(ctx, []cairn.Edge{edge(v(4), run, cairn.EdgeConsumedBy), edge(run, v(4), cairn.EdgeProduced)})
	})
	wantCode(t, err, cairn.EINVALID)
	got, err := s.Lineage(ctx, v(1), cairn.Downstream, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"churn@v1 -consumed_by-> run:r1", "churn@v1 -input-> churn@v3",
		"churn@v2 -derived_from-> churn@v3", "churn@v3 -derived_from-> churn@v4",
		"run:r1 -produced-> churn@v2",
	}
	if diff := cmp.Diff(want, edgeSummary(got)); diff != "" {
		t.Errorf("graph after the refusals (-want +got):\n%s", diff)
	}
}

// A lattice of diamonds: 8 layers of 3 versions, each derived from every
// version of the layer above, with skip edges two layers down and a run
// in the middle, so that most nodes are reached along many paths of
// different lengths. Lineage reports each reachable edge once, nearest
// first (at the least depth it is reached at) and, at one depth, in the
// order the edges were added; a reference walk computes what that is.
func testLineageDiamonds(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	const layers, width = 8, 3
	createModel(t, s, "lattice", cairn.KindModel)
	grid := make([][]cairn.Node, layers)
	for l := range layers {
		for range width {
			v := createVersion(t, s, "lattice", nil)
			grid[l] = append(grid[l], cairn.VersionNode("lattice", v.Number))
		}
	}
	createRun(t, s, newRun("mid", "0", 0))
	run := cairn.RunNode("mid")
	var edges []cairn.Edge // in the order added
	add := func(from, to cairn.Node, typ cairn.EdgeType) {
		edges = append(edges, cairn.Edge{From: from, To: to, Type: typ, CreatedBy: "alice", CreatedAt: at(len(edges))})
	}
	for l := layers - 1; l > 0; l-- { // added bottom up, so ids do not follow depth
		for _, to := range grid[l] {
			for _, from := range grid[l-1] {
				add(from, to, cairn.EdgeDerivedFrom)
			}
			if l >= 2 {
				add(grid[l-2][0], to, cairn.EdgeInput)
			}
		}
	}
	add(grid[3][1], run, cairn.EdgeConsumedBy)
	add(run, grid[6][2], cairn.EdgeProduced)
	update(t, s, func(tx cairn.Tx) error { return tx.AddEdges(ctx, edges) })

	// reference walks breadth first: an edge's depth is one more than the
	// least depth of its near end.
	reference := func(start cairn.Node, dir cairn.Direction, depth int) []string {
		dist := map[cairn.Node]int{start: 0}
		frontier := []cairn.Node{start}
		type found struct{ depth, order int }
		reached := map[int]found{}
		for d := 1; d <= depth && len(frontier) > 0; d++ {
			var next []cairn.Node
			for _, n := range frontier {
				for i, e := range edges {
					near, far := e.From, e.To
					if dir == cairn.Upstream {
						near, far = e.To, e.From
					}
					if near != n {
						continue
					}
					reached[i] = found{d, i}
					if _, ok := dist[far]; !ok {
						dist[far] = d
						next = append(next, far)
					}
				}
			}
			frontier = next
		}
		idx := make([]int, 0, len(reached))
		for i := range reached {
			idx = append(idx, i)
		}
		sort.Slice(idx, func(a, b int) bool {
			if reached[idx[a]].depth != reached[idx[b]].depth {
				return reached[idx[a]].depth < reached[idx[b]].depth
			}
			return idx[a] < idx[b]
		})
		out := make([]string, len(idx))
		for k, i := range idx {
			out[k] = fmt.Sprintf("%d %s -%s-> %s", reached[i].depth, edges[i].From, edges[i].Type, edges[i].To)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		start cairn.Node
		dir   cairn.Direction
		depth int
	}{
		{"down from the top, all the way", grid[0][0], cairn.Downstream, 20},
		{"down from the top, 3 hops", grid[0][1], cairn.Downstream, 3},
		{"up from the bottom, all the way", grid[layers-1][2], cairn.Upstream, 20},
		{"up from the bottom, 2 hops", grid[layers-1][0], cairn.Upstream, 2},
		{"down from the run", run, cairn.Downstream, 5},
		{"up from the run", run, cairn.Upstream, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Lineage(ctx, tc.start, tc.dir, tc.depth)
			if err != nil {
				t.Fatal(err)
			}
			want := reference(tc.start, tc.dir, tc.depth)
			if len(want) == 0 {
				t.Fatal("the reference walk found nothing: the fixture is wrong")
			}
			// Depths are not part of an edge: check the order by
			// comparing the edges, and the depths through the reference.
			gotS := make([]string, len(got))
			wantS := make([]string, len(want))
			for i, e := range got {
				gotS[i] = e.From.String() + " -" + string(e.Type) + "-> " + e.To.String()
			}
			for i, w := range want {
				_, wantS[i], _ = strings.Cut(w, " ")
			}
			if diff := cmp.Diff(wantS, gotS); diff != "" {
				t.Errorf("edges in order (-want +got):\n%s\nwith depths: %v", diff, want)
			}
			for _, e := range got {
				if e.CreatedBy != "alice" {
					t.Errorf("edge %s -> %s: created by %q", e.From, e.To, e.CreatedBy)
				}
			}
		})
	}
}
