package client

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
)

// lineageGraph builds a downstream walk of depth levels of width nodes
// each below one root: every node of a level comes from one node of the
// level above, and every fourth one is a run.
func lineageGraph(width, depth int) *LineageGraph {
	root := cairn.VersionNode("dataset/base", 1)
	g := &LineageGraph{Root: root, Nodes: []cairn.Node{root}, Edges: []cairn.Edge{}}
	at := time.Date(2026, 11, 26, 14, 0, 0, 123456000, time.UTC)
	prev := []cairn.Node{root}
	for d := 0; d < depth; d++ {
		level := make([]cairn.Node, width)
		for i := range level {
			n := cairn.VersionNode("churn-level-"+strconv.Itoa(d), int64(i+1))
			typ := cairn.EdgeDerivedFrom
			if i%4 == 3 {
				n, typ = cairn.RunNode("run-"+strconv.Itoa(d)+"-"+strconv.Itoa(i)), cairn.EdgeConsumedBy
			}
			level[i] = n
			g.Nodes = append(g.Nodes, n)
			g.Edges = append(g.Edges, cairn.Edge{From: prev[i%len(prev)], To: n, Type: typ,
				CreatedBy: "trainer@example.com", CreatedAt: at.Add(time.Duration(d*width+i) * time.Millisecond)})
		}
		prev = level
	}
	return g
}

func appendLineage(tb testing.TB, g *LineageGraph) []byte {
	tb.Helper()
	b, err := g.AppendJSON(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// checkDecodeLineage holds decodeLineage to what json.Decoder.Decode makes
// of data: the same graph, or the same error.
func checkDecodeLineage(t *testing.T, data []byte) {
	t.Helper()
	var want LineageGraph
	wantErr := json.NewDecoder(bytes.NewReader(data)).Decode(&want)
	var got LineageGraph
	gotErr := decodeLineage(bytes.NewReader(data), int64(len(data)), &got)
	if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
		t.Fatalf("decode %q: error %v, encoding/json says %v", data, gotErr, wantErr)
	}
	if gotErr == nil {
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("decode %q: differs from encoding/json (-json +got):\n%s", data, diff)
		}
	}
}

func TestDecodeLineageMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	big := appendLineage(t, lineageGraph(20, 5))
	odd := &LineageGraph{
		Root:  cairn.RunNode("r<1>&\"x\"\\"),
		Nodes: []cairn.Node{cairn.RunNode("r<1>&\"x\"\\"), cairn.VersionNode("modèle/ünï", -3), {}},
		Edges: []cairn.Edge{{From: cairn.VersionNode("a", 9223372036854775807), To: cairn.RunNode("\u2028\x01"),
			Type: "custom", CreatedBy: "日本 \t tab", CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("", 3600))}},
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, big, "", " \t\r\n"); err != nil {
		t.Fatal(err)
	}
	node := `{"kind":"version","model":"m","version":1}`
	edge := `{"from":` + node + `,"to":` + node + `,"type":"input","created_by":"u","created_at":"2026-11-26T14:00:00Z"}`
	for name, data := range map[string]string{
		"walk":                 string(big),
		"escapes":              string(appendLineage(t, odd)),
		"white space":          indented.String(),
		"empty":                string(appendLineage(t, &LineageGraph{Nodes: []cairn.Node{}, Edges: []cairn.Edge{}})),
		"nulls":                string(appendLineage(t, &LineageGraph{})),
		"empty object":         `{}`,
		"trailing data":        `{"nodes":[]} {"edges":[]}`,
		"trailing garbage":     `{"nodes":[]}x`,
		"unknown key":          `{"nodes":[],"extra":1}`,
		"other case":           `{"Nodes":[` + node + `]}`,
		"escaped key":          `{"node\u0073":[` + node + `]}`,
		"repeated key":         `{"nodes":[` + node + `],"nodes":[{"kind":"run"}]}`,
		"repeated node key":    `{"root":{"kind":"run","kind":"version"}}`,
		"exponent":             `{"root":{"version":1e2}}`,
		"fraction":             `{"root":{"version":1.5}}`,
		"leading zero":         `{"root":{"version":01}}`,
		"negative":             `{"root":{"version":-42}}`,
		"minus zero":           `{"root":{"version":-0}}`,
		"overflow":             `{"root":{"version":9223372036854775808}}`,
		"long":                 `{"root":{"version":-9223372036854775808}}`,
		"string version":       `{"root":{"version":"1"}}`,
		"null string":          `{"root":{"model":null}}`,
		"bad time":             `{"edges":[{"created_at":"yesterday"}]}`,
		"null time":            `{"edges":[{"created_at":null}]}`,
		"time with escape":     `{"edges":[{"created_at":"2026-11-26T14:00:00\u005a"}]}`,
		"edge":                 `{"edges":[` + edge + `,` + edge + `]}`,
		"invalid utf-8":        "{\"root\":{\"model\":\"\xff\"}}",
		"control character":    "{\"root\":{\"model\":\"a\x01\"}}",
		"bad escape":           `{"root":{"model":"\q"}}`,
		"surrogates":           `{"root":{"model":"\ud83d\ude00 \ud800"}}`,
		"truncated":            string(big[:len(big)/2]),
		"missing comma":        `{"nodes":[` + node + node + `]}`,
		"trailing comma":       `{"nodes":[` + node + `,]}`,
		"not an object":        `[]`,
		"nothing":              ``,
		"only white space":     " \n",
		"array of nulls":       `{"nodes":[null]}`,
		"unterminated string":  `{"root":{"model":"abc`,
		"escape at end":        `{"root":{"model":"abc\`,
		"unknown node key":     `{"root":{"kind":"run","x":true}}`,
		"unknown edge key":     `{"edges":[{"weight":1}]}`,
		"nested depth":         `{"root":{"kind":{"a":[1,2,{"b":null}]}}}`,
		"colon missing":        `{"root" {}}`,
		"key not a string":     `{root:{}}`,
		"html escapes written": `{"root":{"model":"\u003c\u003e\u0026"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkDecodeLineage(t, []byte(data))
		})
	}
}

func FuzzDecodeLineage(f *testing.F) {
	f.Add(appendLineage(f, lineageGraph(3, 3)))
	f.Add([]byte(`{"root":{"kind":"run","run_id":"r\u003c1"},"nodes":null,"edges":[{"created_at":"2026-11-26T14:00:00.5+01:00","from":{"version":-0}}]}`))
	f.Add([]byte(`{"nodes":[],"nodes":[]} x`))
	f.Fuzz(checkDecodeLineage)
}

// serveLineage answers every request with body, as the native API's
// lineage handler does (writeBody).
func serveLineage(tb testing.TB, body []byte) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// TestLineageDecodesThroughTheClient reads a graph through Client.Lineage
// from a server that writes it as the native API does.
func TestLineageDecodesThroughTheClient(t *testing.T) {
	t.Parallel()
	want := lineageGraph(10, 4)
	body := appendLineage(t, want)
	srv := serveLineage(t, body)
	got, err := New(srv.URL).Lineage(context.Background(), "dataset/base@v1", cairn.Downstream, 4)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("graph differs (-sent +read):\n%s", diff)
	}
	// A body cut short fails as encoding/json fails on it.
	srv = serveLineage(t, body[:len(body)-1])
	if _, err := New(srv.URL).Lineage(context.Background(), "dataset/base@v1", cairn.Downstream, 4); err == nil ||
		!strings.Contains(err.Error(), "decoding the answer: unexpected EOF") {
		t.Fatalf("truncated answer: err = %v", err)
	}
}

// BenchmarkLineage is Client.Lineage on a 10,000-node, depth-50 graph
// served from memory: the request, the transfer and the client's decoding,
// not the server's walk.
func BenchmarkLineage(b *testing.B) {
	body := appendLineage(b, lineageGraph(200, 50))
	srv := serveLineage(b, body)
	c := New(srv.URL)
	ctx := context.Background()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		g, err := c.Lineage(ctx, "dataset/base@v1", cairn.Downstream, 50)
		if err != nil {
			b.Fatal(err)
		}
		if len(g.Nodes) != 10001 {
			b.Fatalf("%d nodes", len(g.Nodes))
		}
	}
}

// BenchmarkDecodeLineage is the decoding alone, by encoding/json (what the
// client did before) and by decodeLineage.
func BenchmarkDecodeLineage(b *testing.B) {
	body := appendLineage(b, lineageGraph(200, 50))
	for _, bc := range []struct {
		name   string
		decode func(*bytes.Reader, *LineageGraph) error
	}{
		{"encoding-json", func(r *bytes.Reader, g *LineageGraph) error { return json.NewDecoder(r).Decode(g) }},
		{"decodeLineage", func(r *bytes.Reader, g *LineageGraph) error { return decodeLineage(r, r.Size(), g) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var g LineageGraph
				if err := bc.decode(bytes.NewReader(body), &g); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
