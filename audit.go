package cairn

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
)

// AuditEntry records one mutation: who did what to which target, with the
// state before and after. Entries are appended in the mutation's transaction
// and hash-chained: Hash covers PrevHash and the entry's content.
type AuditEntry struct {
	Seq           int64           `json:"seq"`
	Time          time.Time       `json:"time"`
	Actor         string          `json:"actor"`
	ActorVerified bool            `json:"actor_verified"`
	Action        string          `json:"action"` // an event type, e.g. version.created
	Target        string          `json:"target"` // e.g. churn, churn@v3, churn@champion
	Before        json.RawMessage `json:"before,omitempty"`
	After         json.RawMessage `json:"after,omitempty"`
	RequestID     string          `json:"request_id,omitempty"`
	PrevHash      string          `json:"prev_hash"`
	Hash          string          `json:"hash"`
}

// ComputeHash returns the chain hash of e given the previous entry's hash.
// Stores call it when appending; verification recomputes it.
func (e *AuditEntry) ComputeHash(prev string) string {
	h := sha256.New()
	field := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	field(prev)
	field(strconv.FormatInt(e.Seq, 10))
	field(e.Time.UTC().Format(time.RFC3339Nano))
	field(e.Actor)
	field(strconv.FormatBool(e.ActorVerified))
	field(e.Action)
	field(e.Target)
	field(string(e.Before))
	field(string(e.After))
	field(e.RequestID)
	return hex.EncodeToString(h.Sum(nil))
}
