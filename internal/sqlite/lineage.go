package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/cairn-registry/cairn"
)

// maxLineageDepth bounds Lineage's depth. The graph is acyclic in practice,
// but nothing in the schema forbids a cycle, and the walk must end anyway.
const maxLineageDepth = 1000

// nodeKey is a lineage node as stored: a version row id or a run id.
type nodeKey struct {
	versionID sql.NullInt64
	runID     sql.NullString
}

// resolveNode finds the row behind a node; ENOTFOUND if there is none,
// EINVALID if the node is malformed.
func (t *tx) resolveNode(ctx context.Context, n cairn.Node) (nodeKey, error) {
	switch n.Kind {
	case cairn.NodeVersion:
		id, err := t.versionID(ctx, n.Model, n.Version)
		if err != nil {
			return nodeKey{}, err
		}
		return nodeKey{versionID: sql.NullInt64{Int64: id, Valid: true}}, nil
	case cairn.NodeRun:
		var one int
		err := t.queryRow(ctx, `SELECT 1 FROM runs WHERE id = ?`, n.RunID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nodeKey{}, cairn.Errorf(cairn.ENOTFOUND, "run %q not found", n.RunID)
		}
		if err != nil {
			return nodeKey{}, translate(err, "look up run %q", n.RunID)
		}
		return nodeKey{runID: sql.NullString{String: n.RunID, Valid: true}}, nil
	}
	return nodeKey{}, cairn.Errorf(cairn.EINVALID, "invalid lineage node kind %q", n.Kind)
}

// AddEdges inserts lineage edges; an edge that exists already (same ends
// and type) is kept as it was. ENOTFOUND if a node does not exist.
func (t *tx) AddEdges(ctx context.Context, edges []cairn.Edge) error {
	for _, e := range edges {
		from, err := t.resolveNode(ctx, e.From)
		if err != nil {
			return err
		}
		to, err := t.resolveNode(ctx, e.To)
		if err != nil {
			return err
		}
		if e.Type == "" {
			return cairn.Errorf(cairn.EINVALID, "lineage edge %s -> %s has no type", e.From, e.To)
		}
		if err := t.refuseCycle(ctx, e, from, to); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO lineage_edges
			(from_version_id, from_run_id, to_version_id, to_run_id, type, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			from.versionID, from.runID, to.versionID, to.runID, string(e.Type), e.CreatedBy, micros(e.CreatedAt)); err != nil {
			return translate(err, "add lineage edge %s -> %s", e.From, e.To)
		}
	}
	return nil
}

// refuseCycle returns EINVALID if the edge from → to would close a cycle:
// if from is to, or is reachable downstream from to. One recursive query
// over the edge indexes; UNION ends it on the set of reachable nodes, so
// it ends even on a graph that has a cycle already. SQLite serializes
// writers, so no edge can be added between this check and the insert.
func (t *tx) refuseCycle(ctx context.Context, e cairn.Edge, from, to nodeKey) error {
	var one int
	err := t.queryRow(ctx, `WITH RECURSIVE reach(vid, rid) AS (
		SELECT ?, ?
		UNION
		SELECT e.to_version_id, e.to_run_id FROM reach r JOIN lineage_edges e ON e.from_version_id = r.vid
		UNION
		SELECT e.to_version_id, e.to_run_id FROM reach r JOIN lineage_edges e ON e.from_run_id = r.rid
	)
	SELECT 1 FROM reach WHERE vid IS ? AND rid IS ? LIMIT 1`,
		to.versionID, to.runID, from.versionID, from.runID).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return translate(err, "check lineage edge %s -> %s for a cycle", e.From, e.To)
	}
	return cycleError(e)
}

// cycleError is the error for an edge that would close a cycle.
func cycleError(e cairn.Edge) error {
	if e.From == e.To {
		return cairn.Errorf(cairn.EINVALID, "lineage edge %s -> %s: a node cannot lead to itself", e.From, e.To)
	}
	return cairn.Errorf(cairn.EINVALID, "lineage edge %s -%s-> %s would close a cycle: %s already leads to %s", e.From, e.Type, e.To, e.To, e.From)
}

// lineageStep reads one level of a walk: the edges out of a set of
// nodes (version row ids and run ids, each a JSON array), through the edge
// indexes, in the order they were added. The near and far columns come
// from a fixed pair, never from input.
func lineageStep(dir cairn.Direction) string {
	near := "from" // downstream: follow edges out of a node
	if dir == cairn.Upstream {
		near = "to"
	}
	const cols = `e.id, e.from_version_id, e.from_run_id, e.to_version_id, e.to_run_id, e.type, e.created_by, e.created_at`
	return `SELECT ` + cols + ` FROM lineage_edges e WHERE e.` + near + `_version_id IN (SELECT value FROM json_each(?1))
		UNION ALL
		SELECT ` + cols + ` FROM lineage_edges e WHERE e.` + near + `_run_id IN (SELECT value FROM json_each(?2))
		ORDER BY 1`
}

// Lineage returns the edges reachable from n in the direction dir, up to
// depth hops (at most maxLineageDepth), nearest first and, at one depth,
// in the order they were added. Edges keep their own direction (From was
// used to make To) whichever way the walk goes. EINVALID if depth < 1,
// ENOTFOUND if n does not exist.
//
// The walk is breadth first, one query a level in one read transaction
// (queries cost no round trip here), and keeps the nodes it has reached:
// each node is expanded once, at the least depth it is reached at, and
// each edge read once. A recursive query cannot keep such a set, and on a
// graph of diamonds — nodes reached along many paths of different lengths
// — it expands a node once for every depth it is reached at. The versions
// among the ends are named in one query at the end.
func (db *DB) Lineage(ctx context.Context, n cairn.Node, dir cairn.Direction, depth int) ([]cairn.Edge, error) {
	return view(ctx, db, func(t *tx) ([]cairn.Edge, error) { return t.Lineage(ctx, n, dir, depth) })
}

// lineageEdge is an edge as the walk reads it: its ends as row ids.
type lineageEdge struct {
	fromV, toV     sql.NullInt64
	fromR, toR     sql.NullString
	typ, createdBy string
	createdAt      int64
}

func (t *tx) Lineage(ctx context.Context, n cairn.Node, dir cairn.Direction, depth int) ([]cairn.Edge, error) {
	if depth < 1 {
		return nil, cairn.Errorf(cairn.EINVALID, "lineage depth must be at least 1, got %d", depth)
	}
	depth = min(depth, maxLineageDepth)
	if dir != cairn.Upstream && dir != cairn.Downstream {
		return nil, cairn.Errorf(cairn.EINVALID, "invalid lineage direction %q: want up or down", dir)
	}
	key, err := t.resolveNode(ctx, n)
	if err != nil {
		return nil, err
	}
	step := lineageStep(dir)
	var (
		walked     []lineageEdge
		ids        []int64 // versions at the ends of the edges, once each
		named      = map[int64]bool{}
		seenV      = map[int64]bool{}
		seenR      = map[string]bool{}
		versions   []int64  // the level's nodes: versions
		runs       []string // and runs
		nextV      []int64
		nextRuns   []string
		addVersion = func(v sql.NullInt64) {
			if v.Valid && !named[v.Int64] {
				named[v.Int64] = true
				ids = append(ids, v.Int64)
			}
		}
	)
	if key.versionID.Valid {
		versions, seenV[key.versionID.Int64] = []int64{key.versionID.Int64}, true
	} else {
		runs, seenR[key.runID.String] = []string{key.runID.String}, true
	}
	for level := 1; level <= depth && len(versions)+len(runs) > 0; level++ {
		vs, err := json.Marshal(versions)
		if err != nil {
			return nil, err
		}
		rs, err := json.Marshal(runs)
		if err != nil {
			return nil, err
		}
		if versions == nil {
			vs = []byte("[]")
		}
		if runs == nil {
			rs = []byte("[]")
		}
		rows, err := t.query(ctx, step, string(vs), string(rs))
		if err != nil {
			return nil, translate(err, "query lineage of %s", n)
		}
		for rows.Next() {
			var (
				e  lineageEdge
				id int64
			)
			if err := rows.Scan(&id, &e.fromV, &e.fromR, &e.toV, &e.toR, &e.typ, &e.createdBy, &e.createdAt); err != nil {
				rows.Close()
				return nil, translate(err, "query lineage of %s", n)
			}
			addVersion(e.fromV)
			addVersion(e.toV)
			farV, farR := e.toV, e.toR
			if dir == cairn.Upstream {
				farV, farR = e.fromV, e.fromR
			}
			switch {
			case farV.Valid && !seenV[farV.Int64]:
				seenV[farV.Int64] = true
				nextV = append(nextV, farV.Int64)
			case farR.Valid && !seenR[farR.String]:
				seenR[farR.String] = true
				nextRuns = append(nextRuns, farR.String)
			}
			walked = append(walked, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, translate(err, "query lineage of %s", n)
		}
		versions, runs, nextV, nextRuns = nextV, nextRuns, nil, nil
	}
	nodes, err := t.lineageNodes(ctx, ids)
	if err != nil {
		return nil, translate(err, "query lineage of %s", n)
	}
	out := make([]cairn.Edge, len(walked))
	for i, e := range walked {
		out[i] = cairn.Edge{From: edgeEnd(nodes, e.fromV, e.fromR), To: edgeEnd(nodes, e.toV, e.toR),
			Type: cairn.EdgeType(e.typ), CreatedBy: e.createdBy, CreatedAt: fromMicros(e.createdAt)}
	}
	return out, nil
}

// lineageNodes names the versions with the given row ids, in one query.
func (t *tx) lineageNodes(ctx context.Context, ids []int64) (map[int64]cairn.Node, error) {
	nodes := make(map[int64]cairn.Node, len(ids))
	if len(ids) == 0 {
		return nodes, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := t.query(ctx, `SELECT v.id, m.name, v.number FROM versions v JOIN models m ON m.id = v.model_id
		WHERE v.id IN (SELECT value FROM json_each(?))`, string(list))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, number int64
			model      string
		)
		if err := rows.Scan(&id, &model, &number); err != nil {
			return nil, err
		}
		nodes[id] = cairn.VersionNode(model, number)
	}
	return nodes, rows.Err()
}

func edgeEnd(nodes map[int64]cairn.Node, v sql.NullInt64, run sql.NullString) cairn.Node {
	if run.Valid {
		return cairn.RunNode(run.String)
	}
	return nodes[v.Int64]
}

func edgeNode(model sql.NullString, number sql.NullInt64, run sql.NullString) cairn.Node {
	if run.Valid {
		return cairn.RunNode(run.String)
	}
	return cairn.VersionNode(model.String, number.Int64)
}
