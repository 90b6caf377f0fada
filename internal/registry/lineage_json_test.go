package registry_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// TestAppendLineageJSONMatchesMarshal: LineageGraph.AppendJSON writes the
// bytes json.Marshal writes, for hostile strings (quotes, backslashes,
// control characters, HTML's <, > and &, U+2028/U+2029, invalid UTF-8),
// run and version nodes, omitted and negative fields, nil and empty
// slices, and times in other zones, with and without nanoseconds.
func TestAppendLineageJSONMatchesMarshal(t *testing.T) {
	hostile := []string{
		"", "plain", `q"uote`, `back\slash`, "<script>&amp;</script>", "line\u2028sep\u2029",
		"tab\tnl\n\x00\x1f\x7f", "bad\xffutf8\xc3", "é, 日本, 🙂", "\xed\xa0\x80",
	}
	utc := time.Date(2026, 11, 26, 13, 4, 5, 123456789, time.UTC)
	zone := time.FixedZone("", -(3*3600 + 30*60))
	times := []time.Time{utc, utc.Truncate(time.Second), utc.In(zone), {}, time.Date(9999, 12, 31, 23, 59, 59, 1, time.UTC)}
	var nodes []cairn.Node
	var edges []cairn.Edge
	for i, s := range hostile {
		v := cairn.VersionNode(s, int64(i*7-3))
		r := cairn.RunNode(s)
		nodes = append(nodes, v, r, cairn.Node{Kind: cairn.NodeKind(s)})
		edges = append(edges, cairn.Edge{
			From: v, To: r, Type: cairn.EdgeType(s), CreatedBy: s, CreatedAt: times[i%len(times)],
		}, cairn.Edge{
			From: r, To: cairn.Node{Kind: cairn.NodeVersion, Model: s, Version: -1, RunID: s},
			Type: cairn.EdgeProduced, CreatedBy: hostile[len(hostile)-1-i], CreatedAt: times[(i+2)%len(times)],
		})
	}
	graphs := []*registry.LineageGraph{
		{},
		{Root: cairn.VersionNode("m", 1), Nodes: []cairn.Node{}, Edges: []cairn.Edge{}},
		{Root: cairn.VersionNode("m", 1), Nodes: nodes[:1]},
		{Root: cairn.RunNode("r<1>"), Edges: edges[:1]},
		{Root: nodes[len(nodes)-1], Nodes: nodes, Edges: edges},
	}
	for i, g := range graphs {
		want, err := json.Marshal(g)
		if err != nil {
			t.Fatal(err)
		}
		got, err := g.AppendJSON([]byte("prefix"))
		if err != nil {
			t.Fatalf("graph %d: %v", i, err)
		}
		if !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Errorf("graph %d:\n got %s\nwant prefix%s", i, got, want)
		}
	}

	// A time RFC 3339 cannot write fails both ways.
	bad := &registry.LineageGraph{Edges: []cairn.Edge{{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}}
	if _, err := json.Marshal(bad); err == nil {
		t.Fatal("json.Marshal accepted year 10000")
	}
	if _, err := bad.AppendJSON(nil); err == nil {
		t.Error("AppendJSON accepted year 10000")
	}
}

// BenchmarkLineageJSON: encoding a graph of the size of the diamond
// benchmark's answers (6,548 edges) with json.Marshal and with AppendJSON.
func BenchmarkLineageJSON(b *testing.B) {
	g := &registry.LineageGraph{Root: cairn.VersionNode("diamond-model", 1)}
	at := time.Date(2026, 11, 26, 13, 4, 5, 123456789, time.UTC)
	for i := range 6548 {
		from, to := cairn.VersionNode("diamond-model", int64(i+1)), cairn.VersionNode("diamond-model", int64(i+101))
		g.Nodes = append(g.Nodes, to)
		g.Edges = append(g.Edges, cairn.Edge{From: from, To: to, Type: cairn.EdgeDerivedFrom, CreatedBy: "bench-user", CreatedAt: at})
	}
	b.Run("Marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(g); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendJSON", func(b *testing.B) {
		for b.Loop() {
			if _, err := g.AppendJSON(make([]byte, 0, 64+64*len(g.Nodes)+256*len(g.Edges))); err != nil {
				b.Fatal(err)
			}
		}
	})
}
