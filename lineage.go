package cairn

import (
	"strings"
	"time"
)

// NodeKind says whether a lineage node is a version or a run.
type NodeKind string

// Node kinds.
const (
	NodeVersion NodeKind = "version"
	NodeRun     NodeKind = "run"
)

// Node is a vertex of the lineage graph: a model version or a run.
type Node struct {
	Kind    NodeKind `json:"kind"`
	Model   string   `json:"model,omitempty"`   // for versions
	Version int64    `json:"version,omitempty"` // for versions
	RunID   string   `json:"run_id,omitempty"`  // for runs
}

// VersionNode returns the node of a version.
func VersionNode(model string, number int64) Node {
	return Node{Kind: NodeVersion, Model: model, Version: number}
}

// RunNode returns the node of a run.
func RunNode(id string) Node { return Node{Kind: NodeRun, RunID: id} }

// String is NAME@vN for versions and run:ID for runs.
func (n Node) String() string {
	if n.Kind == NodeRun {
		return "run:" + n.RunID
	}
	return VersionRef(n.Model, n.Version)
}

// ParseNode parses the output of Node.String.
func ParseNode(s string) (Node, error) {
	if id, ok := strings.CutPrefix(s, "run:"); ok {
		if id == "" {
			return Node{}, Errorf(EINVALID, "invalid lineage node %q", truncate(s, 80))
		}
		return RunNode(id), nil
	}
	r, err := ParseRef(s)
	if err != nil || r.Kind != RefVersion {
		return Node{}, Errorf(EINVALID, "invalid lineage node %q: want NAME@vN or run:ID", truncate(s, 80))
	}
	return VersionNode(r.Model, r.Version), nil
}

// EdgeType names how two nodes are related. An edge points downstream:
// From was used to make To.
type EdgeType string

// Edge types.
const (
	EdgeTrainedOn   EdgeType = "trained_on"   // dataset version → model version
	EdgeValidatedOn EdgeType = "validated_on" // dataset version → model version
	EdgeInput       EdgeType = "input"        // any version → version
	EdgeDerivedFrom EdgeType = "derived_from" // base version → derived version
	EdgeConsumedBy  EdgeType = "consumed_by"  // version → run
	EdgeProduced    EdgeType = "produced"     // run → version
	EdgeEvaluates   EdgeType = "evaluates"    // evaluated version → evaluation version
	EdgeLinkedFrom  EdgeType = "linked_from"  // source version → linked copy
	// EdgeRetrainedFrom links a version that monitoring flagged to the
	// version retrained to replace it.
	EdgeRetrainedFrom EdgeType = "retrained_from" // flagged version → retrained version
)

// Edge is a directed lineage edge.
type Edge struct {
	From      Node      `json:"from"`
	To        Node      `json:"to"`
	Type      EdgeType  `json:"type"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// Direction selects upstream (what a node came from) or downstream (what
// used it) in lineage queries.
type Direction string

// Directions.
const (
	Upstream   Direction = "up"
	Downstream Direction = "down"
)
