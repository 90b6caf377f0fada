package httpapi

import "github.com/cairn-registry/cairn"

// Request and response bodies of the native API that are not domain or
// registry types. The client package declares the same shapes.

// emptyRequest is the body of action routes that take no options: empty,
// or {}.
type emptyRequest struct{}

type renameRequest struct {
	NewName string `json:"new_name"`
}

type finalizeRequest struct {
	Aliases []string `json:"aliases,omitempty"`
}

type archiveRequest struct {
	RemoveAliases bool `json:"remove_aliases,omitempty"`
}

type aliasSetRequest struct {
	Version int64 `json:"version"`
	// IfCurrent makes the move a compare-and-swap: it happens only if the
	// alias points at this version now (0: only if it does not exist).
	IfCurrent *int64 `json:"if_current,omitempty"`
	// Origin is kept with the move in the alias history: where an
	// imported move was first made (system, ref, actor, at).
	Origin *cairn.MoveOrigin `json:"origin,omitempty"`
}

type uploadRequest struct {
	Digest cairn.Digest `json:"digest"`
	Size   *int64       `json:"size"`
}

// blobInfo answers a blob upload.
type blobInfo struct {
	Digest cairn.Digest `json:"digest"`
	Size   int64        `json:"size"`
}

type metricHistory struct {
	Items []cairn.MetricPoint `json:"items"`
}

// auditPage and eventPage are cursor reads: pass next_after as after to
// read on. next_after is the last item's sequence number, or the after
// that was asked for if there were no items.
type auditPage struct {
	Items     []*cairn.AuditEntry `json:"items"`
	NextAfter int64               `json:"next_after"`
}

// checkpointPage is a cursor read of audit checkpoints, like auditPage.
type checkpointPage struct {
	Items     []*cairn.AuditCheckpoint `json:"items"`
	NextAfter int64                    `json:"next_after"`
}

type eventPage struct {
	Items     []*cairn.Event `json:"items"`
	NextAfter int64          `json:"next_after"`
}

type healthStatus struct {
	Status string `json:"status"`
}
