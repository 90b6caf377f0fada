package registry

import (
	"context"

	"github.com/cairn-registry/cairn"
)

// LineageGraph is the part of the lineage graph reachable from Root.
type LineageGraph struct {
	Root  cairn.Node   `json:"root"`
	Nodes []cairn.Node `json:"nodes"`
	Edges []cairn.Edge `json:"edges"`
}

// MaxLineageDepth bounds lineage queries.
const MaxLineageDepth = 100

// Lineage returns what a version came from (up) or what used it (down), to
// depth hops. ref is a version reference or run:ID.
func (s *Service) Lineage(ctx context.Context, ref string, dir cairn.Direction, depth int) (*LineageGraph, error) {
	if dir != cairn.Upstream && dir != cairn.Downstream {
		return nil, cairn.Errorf(cairn.EINVALID, "direction must be up or down")
	}
	if depth < 1 || depth > MaxLineageDepth {
		return nil, cairn.Errorf(cairn.EINVALID, "depth must be between 1 and %d", MaxLineageDepth)
	}
	var root cairn.Node
	if n, err := cairn.ParseNode(ref); err == nil && n.Kind == cairn.NodeRun {
		if err := s.authorizeAny(ctx, cairn.RoleReader); err != nil {
			return nil, err
		}
		if _, err := getRun(ctx, s.store, n.RunID); err != nil {
			return nil, err
		}
		root = n
	} else {
		v, err := s.Resolve(ctx, ref)
		if err != nil {
			return nil, err
		}
		root = cairn.VersionNode(v.Model, v.Number)
	}
	edges, err := s.store.Lineage(ctx, root, dir, depth)
	if err != nil {
		return nil, err
	}
	g := &LineageGraph{Root: root, Nodes: []cairn.Node{root}, Edges: edges}
	if g.Edges == nil {
		g.Edges = []cairn.Edge{}
	}
	seen := map[cairn.Node]bool{root: true}
	for _, e := range edges {
		for _, n := range []cairn.Node{e.From, e.To} {
			if !seen[n] {
				seen[n] = true
				g.Nodes = append(g.Nodes, n)
			}
		}
	}
	return g, nil
}

// ListAudit lists audit entries in sequence order.
func (s *Service) ListAudit(ctx context.Context, q cairn.AuditQuery) ([]*cairn.AuditEntry, error) {
	if err := s.authorizeAll(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	if q.Limit < 0 || q.Limit > MaxPageSize {
		return nil, cairn.Errorf(cairn.EINVALID, "limit must be between 1 and %d", MaxPageSize)
	}
	return s.store.ListAudit(ctx, q)
}

// ListEvents lists outbox events with a sequence number above after.
func (s *Service) ListEvents(ctx context.Context, after int64, limit int) ([]*cairn.Event, error) {
	if err := s.authorizeAll(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	if limit < 0 || limit > MaxPageSize {
		return nil, cairn.Errorf(cairn.EINVALID, "limit must be between 1 and %d", MaxPageSize)
	}
	if limit == 0 {
		limit = 100
	}
	return s.store.ListEvents(ctx, after, limit)
}

// AppendJSON appends g's JSON to dst: the bytes json.Marshal(g) writes,
// without reflection (the native API's lineage handler answers with it;
// TestAppendLineageJSONMatchesMarshal holds the two to the same bytes).
func (g *LineageGraph) AppendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"root":`...)
	dst = cairn.AppendNodeJSON(dst, g.Root)
	dst = append(dst, `,"nodes":`...)
	if g.Nodes == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i, n := range g.Nodes {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = cairn.AppendNodeJSON(dst, n)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"edges":`...)
	if g.Edges == nil {
		return append(dst, "null}"...), nil
	}
	dst = append(dst, '[')
	for i := range g.Edges {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = cairn.AppendEdgeJSON(dst, &g.Edges[i]); err != nil {
			return dst, err
		}
	}
	return append(dst, "]}"...), nil
}
