package client

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/cairn-registry/cairn"
)

// decodeLineage reads a lineage answer of length bytes (-1: unknown) into
// g. A large walk is tens of thousands of nodes and edges, and
// encoding/json spends most of a client's time on it in reflection, so the
// JSON the server writes (registry.LineageGraph.AppendJSON) is parsed by
// hand here. Anything that parser does not take (other spellings of the
// keys, unknown or repeated keys, nulls, numbers written otherwise, bytes
// after the value, bad JSON) goes to encoding/json instead, so the result,
// error included, is always what json.Decoder.Decode gives.
//
// The answer is read whole first; encoding/json buffers the whole value
// too, so this holds no more memory than it did.
func decodeLineage(body io.Reader, length int64, g *LineageGraph) error {
	var buf bytes.Buffer
	if length > 0 && length <= maxLengthHint {
		buf.Grow(int(length) + bytes.MinRead) // room for the read that sees EOF
	}
	if _, err := buf.ReadFrom(body); err != nil {
		return err
	}
	data := buf.Bytes()
	d := lineageDecoder{data: data, strs: map[string]string{}}
	// Size the lists up front rather than grow them: in the server's JSON
	// an edge has one "created_at" and two "kind"s (its nodes'), the root
	// and each listed node one (in other JSON a guess, and only a
	// capacity).
	d.edges = bytes.Count(data, []byte(`"created_at"`))
	d.nodes = max(bytes.Count(data, []byte(`"kind"`))-2*d.edges, 0)
	if d.graph(g) {
		return nil
	}
	*g = LineageGraph{}
	return json.NewDecoder(bytes.NewReader(data)).Decode(g)
}

// maxLengthHint bounds the buffer a Content-Length makes decodeLineage
// allocate before reading; a longer answer grows the buffer as it comes.
const maxLengthHint = 64 << 20

// lineageDecoder walks data; every method reports whether what it read has
// the expected shape, and the first false gives up on the whole document.
type lineageDecoder struct {
	data         []byte
	i            int
	nodes, edges int // expected lengths of the lists
	// strs holds each string read so far: model names, run ids and
	// users recur across nodes and edges, and share one allocation.
	strs map[string]string
}

func (d *lineageDecoder) graph(g *LineageGraph) bool {
	var seen uint8
	ok := d.object(func(key []byte) bool {
		switch string(key) {
		case "root":
			return once(&seen, 1) && d.node(&g.Root)
		case "nodes":
			if !once(&seen, 2) || !d.next('[') {
				return false
			}
			g.Nodes = make([]cairn.Node, 0, d.nodes)
			return d.elements(func() bool {
				g.Nodes = append(g.Nodes, cairn.Node{})
				return d.node(&g.Nodes[len(g.Nodes)-1])
			})
		case "edges":
			if !once(&seen, 4) || !d.next('[') {
				return false
			}
			g.Edges = make([]cairn.Edge, 0, d.edges)
			return d.elements(func() bool {
				g.Edges = append(g.Edges, cairn.Edge{})
				return d.edge(&g.Edges[len(g.Edges)-1])
			})
		}
		return false
	})
	d.space()
	return ok && d.i == len(d.data)
}

func (d *lineageDecoder) node(n *cairn.Node) bool {
	var seen uint8
	return d.object(func(key []byte) bool {
		switch string(key) {
		case "kind":
			s, ok := d.str()
			n.Kind = cairn.NodeKind(s)
			return once(&seen, 1) && ok
		case "model":
			s, ok := d.str()
			n.Model = s
			return once(&seen, 2) && ok
		case "version":
			v, ok := d.int()
			n.Version = v
			return once(&seen, 4) && ok
		case "run_id":
			s, ok := d.str()
			n.RunID = s
			return once(&seen, 8) && ok
		}
		return false
	})
}

func (d *lineageDecoder) edge(e *cairn.Edge) bool {
	var seen uint8
	return d.object(func(key []byte) bool {
		switch string(key) {
		case "from":
			return once(&seen, 1) && d.node(&e.From)
		case "to":
			return once(&seen, 2) && d.node(&e.To)
		case "type":
			s, ok := d.str()
			e.Type = cairn.EdgeType(s)
			return once(&seen, 4) && ok
		case "created_by":
			s, ok := d.str()
			e.CreatedBy = s
			return once(&seen, 8) && ok
		case "created_at":
			// What encoding/json does: hand the quoted text to
			// time.Time's UnmarshalJSON.
			start := d.i
			if _, _, ok := d.strBytes(); !ok || !once(&seen, 16) {
				return false
			}
			return e.CreatedAt.UnmarshalJSON(d.data[start:d.i]) == nil
		}
		return false
	})
}

// once marks bit in seen and reports whether it was clear: a repeated key
// goes to encoding/json, which merges repeats in ways not worth copying.
func once(seen *uint8, bit uint8) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

// object reads {"key": value, …}, calling member with the cursor on each
// value. Keys with escapes are refused.
func (d *lineageDecoder) object(member func(key []byte) bool) bool {
	if !d.next('{') {
		return false
	}
	if d.next('}') {
		return true
	}
	for {
		key, escaped, ok := d.strBytes()
		if !ok || escaped || !d.next(':') {
			return false
		}
		d.space()
		if !member(key[1 : len(key)-1]) {
			return false
		}
		if d.next('}') {
			return true
		}
		if !d.next(',') {
			return false
		}
	}
}

// elements reads the rest of an array whose '[' is read, calling elem with
// the cursor on each element.
func (d *lineageDecoder) elements(elem func() bool) bool {
	if d.next(']') {
		return true
	}
	for {
		d.space()
		if !elem() {
			return false
		}
		if d.next(']') {
			return true
		}
		if !d.next(',') {
			return false
		}
	}
}

// next skips white space and reads c if it comes next.
func (d *lineageDecoder) next(c byte) bool {
	d.space()
	if d.i < len(d.data) && d.data[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *lineageDecoder) space() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// strBytes reads a string literal and returns it, quotes included, and
// whether it holds escapes. Control characters and invalid UTF-8 (which
// encoding/json would replace) are refused.
func (d *lineageDecoder) strBytes() (lit []byte, escaped, ok bool) {
	d.space()
	start := d.i
	if d.i >= len(d.data) || d.data[d.i] != '"' {
		return nil, false, false
	}
	ascii := true
	for d.i++; d.i < len(d.data); d.i++ {
		switch c := d.data[d.i]; {
		case c == '"':
			d.i++
			lit = d.data[start:d.i]
			if !ascii && !utf8.Valid(lit) {
				return nil, false, false
			}
			return lit, escaped, true
		case c == '\\':
			escaped = true
			d.i++ // the escaped byte is never the closing quote
		case c < 0x20:
			return nil, false, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false, false
}

// str reads a string value.
func (d *lineageDecoder) str() (string, bool) {
	lit, escaped, ok := d.strBytes()
	if !ok {
		return "", false
	}
	if escaped {
		var s string
		if json.Unmarshal(lit, &s) != nil {
			return "", false
		}
		return s, true
	}
	b := lit[1 : len(lit)-1]
	if s, ok := d.strs[string(b)]; ok {
		return s, true
	}
	s := string(b)
	d.strs[s] = s
	return s, true
}

// int reads an integer written as encoding/json writes one: an optional
// minus and digits without leading zeros. Fractions, exponents and values
// out of int64's range are refused.
func (d *lineageDecoder) int() (int64, bool) {
	d.space()
	start := d.i
	if d.i < len(d.data) && d.data[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.data) && '0' <= d.data[d.i] && d.data[d.i] <= '9' {
		d.i++
	}
	n := d.i - digits
	if n == 0 || (n > 1 && d.data[digits] == '0') {
		return 0, false
	}
	if d.i < len(d.data) {
		switch d.data[d.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	if n > 18 { // might not fit: let strconv say
		v, err := strconv.ParseInt(string(d.data[start:d.i]), 10, 64)
		return v, err == nil
	}
	var v int64
	for _, c := range d.data[digits:d.i] {
		v = v*10 + int64(c-'0')
	}
	if digits > start {
		v = -v
	}
	return v, true
}
