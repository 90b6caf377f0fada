package cairn

import "time"

// Upload is a session for sending one large blob in parts. Sessions live in
// the metadata store, so a client may resume through any replica.
type Upload struct {
	ID         string    `json:"id"`
	Digest     Digest    `json:"digest"` // the digest the finished blob must have
	Size       int64     `json:"size"`   // the size the finished blob must have
	BackendKey string    `json:"-"`      // the blob store's handle for the staged parts
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Parts      []Part    `json:"parts"` // received so far, by number
}

// Part is one received part of an upload.
type Part struct {
	Number int    `json:"number"` // 1-based
	Size   int64  `json:"size"`
	ETag   string `json:"etag,omitempty"` // the blob store's tag for the part
	Digest Digest `json:"digest"`         // sha256 of the part's bytes
}

// Limits on upload sessions. S3 needs parts of at least 5 MiB but the last.
const (
	MinPartSize = 5 << 20
	MaxPartSize = 5 << 30
	MaxParts    = 10000
)
