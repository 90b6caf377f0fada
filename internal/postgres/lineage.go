package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-registry/cairn"
)

// nodeKey is a lineage node as stored: a version id or a run id.
type nodeKey struct {
	versionID *int64
	runID     *string
}

// resolveNode finds the stored key of n; ENOTFOUND if its version or run
// does not exist.
func resolveNode(ctx context.Context, q querier, n cairn.Node) (nodeKey, error) {
	switch n.Kind {
	case cairn.NodeVersion:
		var id int64
		err := q.QueryRow(ctx, `SELECT v.id FROM versions v JOIN models m ON m.id = v.model_id
			WHERE m.name = $1 AND v.number = $2`, n.Model, n.Version).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nodeKey{}, cairn.Errorf(cairn.ENOTFOUND, "lineage: version %s not found", n)
		}
		if err != nil {
			return nodeKey{}, translate(err, "lineage: find %s", n)
		}
		return nodeKey{versionID: &id}, nil
	case cairn.NodeRun:
		var id string
		err := q.QueryRow(ctx, `SELECT id FROM runs WHERE id = $1`, n.RunID).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nodeKey{}, cairn.Errorf(cairn.ENOTFOUND, "lineage: run %q not found", n.RunID)
		}
		if err != nil {
			return nodeKey{}, translate(err, "lineage: find %s", n)
		}
		return nodeKey{runID: &id}, nil
	}
	return nodeKey{}, cairn.Errorf(cairn.EINVALID, "lineage: invalid node kind %q", n.Kind)
}

// lineageLockKey is the advisory lock that serializes adding lineage
// edges ("cairnl" in ASCII), held until the transaction ends. The registry
// adds edges before it appends to the audit log, so the lock is always
// taken before the audit counter's row lock, never after.
const lineageLockKey int64 = 0x636169726e6c

// refuseCycle returns EINVALID if the edge from → to would close a cycle:
// if from is to, or is reachable downstream from to. One recursive query;
// UNION ends it on the set of reachable nodes, so it ends even on a graph
// that has a cycle already.
func refuseCycle(ctx context.Context, q querier, e cairn.Edge, from, to nodeKey) error {
	var found bool
	err := q.QueryRow(ctx, `WITH RECURSIVE reach (vid, rid) AS (
			SELECT $1::bigint, $2::text COLLATE "C"
		UNION
			SELECT e.to_version_id, e.to_run_id
			FROM reach r JOIN lineage_edges e ON e.from_version_id = r.vid OR e.from_run_id = r.rid
		)
		SELECT EXISTS (SELECT 1 FROM reach
			WHERE vid IS NOT DISTINCT FROM $3::bigint AND rid IS NOT DISTINCT FROM $4::text)`,
		to.versionID, to.runID, from.versionID, from.runID).Scan(&found)
	if err != nil {
		return translate(err, "check lineage edge %s -> %s for a cycle", e.From, e.To)
	}
	if !found {
		return nil
	}
	if e.From == e.To {
		return cairn.Errorf(cairn.EINVALID, "lineage edge %s -> %s: a node cannot lead to itself", e.From, e.To)
	}
	return cairn.Errorf(cairn.EINVALID, "lineage edge %s -%s-> %s would close a cycle: %s already leads to %s", e.From, e.Type, e.To, e.To, e.From)
}

// AddEdges inserts lineage edges; an edge that exists already is kept as it
// is. ENOTFOUND if an end of an edge does not exist.
func (t *tx) AddEdges(ctx context.Context, edges []cairn.Edge) error {
	keys := map[cairn.Node]nodeKey{}
	key := func(n cairn.Node) (nodeKey, error) {
		if k, ok := keys[n]; ok {
			return k, nil
		}
		k, err := resolveNode(ctx, t.q, n)
		if err != nil {
			return nodeKey{}, err
		}
		keys[n] = k
		return k, nil
	}
	if len(edges) > 0 {
		// Edge writers are serialized, so that two transactions cannot
		// each add half of a cycle that neither sees.
		if _, err := t.q.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lineageLockKey); err != nil {
			return translate(err, "take the lineage lock")
		}
	}
	for _, e := range edges {
		from, err := key(e.From)
		if err != nil {
			return err
		}
		to, err := key(e.To)
		if err != nil {
			return err
		}
		if e.Type == "" {
			return cairn.Errorf(cairn.EINVALID, "lineage edge %s -> %s has no type", e.From, e.To)
		}
		if err := refuseCycle(ctx, t.q, e, from, to); err != nil {
			return err
		}
		if _, err := t.q.Exec(ctx, `INSERT INTO lineage_edges
			(from_version_id, from_run_id, to_version_id, to_run_id, type, created_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT DO NOTHING`,
			from.versionID, from.runID, to.versionID, to.runID, string(e.Type), e.CreatedBy, micros(e.CreatedAt)); err != nil {
			return translate(err, "add lineage edge %s -> %s", e.From, e.To)
		}
	}
	return nil
}

// Lineage returns the edges reachable from n in direction dir, up to depth
// hops, in one recursive query over the lineage_edges indexes: the nearest
// first, each edge once. ENOTFOUND if n does not exist.
func (r reader) Lineage(ctx context.Context, n cairn.Node, dir cairn.Direction, depth int) ([]cairn.Edge, error) {
	if depth < 1 {
		return nil, cairn.Errorf(cairn.EINVALID, "lineage depth must be at least 1, not %d", depth)
	}
	// near is the side of an edge that touches the walk so far, far the
	// side the walk continues from.
	var nearV, nearR, farV, farR string
	switch dir {
	case cairn.Downstream:
		nearV, nearR, farV, farR = "from_version_id", "from_run_id", "to_version_id", "to_run_id"
	case cairn.Upstream:
		nearV, nearR, farV, farR = "to_version_id", "to_run_id", "from_version_id", "from_run_id"
	default:
		return nil, cairn.Errorf(cairn.EINVALID, "lineage direction must be %q or %q, not %q", cairn.Upstream, cairn.Downstream, dir)
	}
	edges := []cairn.Edge{}
	err := r.view(ctx, func(q querier) error {
		start, err := resolveNode(ctx, q, n)
		if err != nil {
			return err
		}
		// UNION (not UNION ALL) drops rows already seen at the same depth,
		// and the depth bound ends the walk on cycles.
		rows, err := q.Query(ctx, `WITH RECURSIVE walk (id, vid, rid, depth) AS (
				SELECT e.id, e.`+farV+`, e.`+farR+`, 1
				FROM lineage_edges e
				WHERE e.`+nearV+` = $1 OR e.`+nearR+` = $2
			UNION
				SELECT e.id, e.`+farV+`, e.`+farR+`, w.depth + 1
				FROM walk w JOIN lineage_edges e ON e.`+nearV+` = w.vid OR e.`+nearR+` = w.rid
				WHERE w.depth < $3
			), reached AS (
				SELECT id, MIN(depth) AS depth FROM walk GROUP BY id
			)
			SELECT fm.name, fv.number, e.from_run_id, tm.name, tv.number, e.to_run_id,
			       e.type, e.created_by, e.created_at
			FROM reached
			JOIN lineage_edges e ON e.id = reached.id
			LEFT JOIN versions fv ON fv.id = e.from_version_id
			LEFT JOIN models fm ON fm.id = fv.model_id
			LEFT JOIN versions tv ON tv.id = e.to_version_id
			LEFT JOIN models tm ON tm.id = tv.model_id
			ORDER BY reached.depth, e.id`, start.versionID, start.runID, depth)
		if err != nil {
			return translate(err, "lineage of %s", n)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				fromModel, toModel *string
				fromNum, toNum     *int64
				fromRun, toRun     *string
				typ, createdBy     string
				createdAt          int64
			)
			if err := rows.Scan(&fromModel, &fromNum, &fromRun, &toModel, &toNum, &toRun,
				&typ, &createdBy, &createdAt); err != nil {
				return translate(err, "lineage of %s", n)
			}
			edges = append(edges, cairn.Edge{
				From: node(fromModel, fromNum, fromRun), To: node(toModel, toNum, toRun),
				Type: cairn.EdgeType(typ), CreatedBy: createdBy, CreatedAt: fromMicros(createdAt),
			})
		}
		return translate(rows.Err(), "lineage of %s", n)
	})
	if err != nil {
		return nil, err
	}
	return edges, nil
}

// node builds a lineage node from one side of a stored edge.
func node(model *string, number *int64, run *string) cairn.Node {
	if run != nil {
		return cairn.RunNode(*run)
	}
	if model == nil || number == nil {
		return cairn.Node{}
	}
	return cairn.VersionNode(*model, *number)
}
