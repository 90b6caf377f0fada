package sqlite

import (
	"context"
	"database/sql"
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

// lineageQueries walk the graph from a start node with one recursive query.
// walk holds (edge, node reached, hops); the two recursive members follow
// edges out of a reached version and out of a reached run, each through
// its partial index. UNION drops repeated rows, and the depth bound ends
// the walk even on a cycle. An edge reached at several depths is reported
// once. The start condition's column is chosen from the fixed pair below,
// never from input.
func lineageQuery(dir cairn.Direction, start string) string {
	near, far := "from", "to" // downstream: follow edges out of a node
	if dir == cairn.Upstream {
		near, far = "to", "from"
	}
	return `WITH RECURSIVE walk(edge_id, vid, rid, depth) AS (
		SELECT e.id, e.` + far + `_version_id, e.` + far + `_run_id, 1
			FROM lineage_edges e WHERE e.` + near + `_` + start + ` = ?
		UNION
		SELECT e.id, e.` + far + `_version_id, e.` + far + `_run_id, w.depth + 1
			FROM walk w JOIN lineage_edges e ON e.` + near + `_version_id = w.vid
			WHERE w.depth < ?
		UNION
		SELECT e.id, e.` + far + `_version_id, e.` + far + `_run_id, w.depth + 1
			FROM walk w JOIN lineage_edges e ON e.` + near + `_run_id = w.rid
			WHERE w.depth < ?
	)
	SELECT fm.name, fv.number, e.from_run_id, tm.name, tv.number, e.to_run_id,
		e.type, e.created_by, e.created_at
	FROM (SELECT edge_id, MIN(depth) AS depth FROM walk GROUP BY edge_id) w
	JOIN lineage_edges e ON e.id = w.edge_id
	LEFT JOIN versions fv ON fv.id = e.from_version_id
	LEFT JOIN models fm ON fm.id = fv.model_id
	LEFT JOIN versions tv ON tv.id = e.to_version_id
	LEFT JOIN models tm ON tm.id = tv.model_id
	ORDER BY w.depth, e.id`
}

// Lineage returns the edges reachable from n in the direction dir, up to
// depth hops (at most maxLineageDepth), nearest first. Edges keep their own
// direction (From was used to make To) whichever way the walk goes.
// EINVALID if depth < 1, ENOTFOUND if n does not exist.
func (db *DB) Lineage(ctx context.Context, n cairn.Node, dir cairn.Direction, depth int) ([]cairn.Edge, error) {
	return view(ctx, db, func(t *tx) ([]cairn.Edge, error) { return t.Lineage(ctx, n, dir, depth) })
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
	var (
		query string
		start any
	)
	if key.versionID.Valid {
		query, start = lineageQuery(dir, "version_id"), key.versionID.Int64
	} else {
		query, start = lineageQuery(dir, "run_id"), key.runID.String
	}
	rows, err := t.query(ctx, query, start, depth, depth)
	if err != nil {
		return nil, translate(err, "query lineage of %s", n)
	}
	defer rows.Close()
	out := []cairn.Edge{}
	for rows.Next() {
		var (
			fromModel, fromRun, toModel, toRun sql.NullString
			fromNum, toNum                     sql.NullInt64
			e                                  cairn.Edge
			at                                 int64
		)
		if err := rows.Scan(&fromModel, &fromNum, &fromRun, &toModel, &toNum, &toRun,
			&e.Type, &e.CreatedBy, &at); err != nil {
			return nil, translate(err, "query lineage of %s", n)
		}
		e.From = edgeNode(fromModel, fromNum, fromRun)
		e.To = edgeNode(toModel, toNum, toRun)
		e.CreatedAt = fromMicros(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "query lineage of %s", n)
	}
	return out, nil
}

func edgeNode(model sql.NullString, number sql.NullInt64, run sql.NullString) cairn.Node {
	if run.Valid {
		return cairn.RunNode(run.String)
	}
	return cairn.VersionNode(model.String, number.Int64)
}
