package cairn

import "time"

// Alias is a mutable named pointer from a model to one of its versions.
type Alias struct {
	Model     string    `json:"model"`
	Name      string    `json:"alias"`
	Version   int64     `json:"version"`
	UpdatedBy string    `json:"updated_by"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AliasMove is one entry of an alias's history. From is 0 when the alias was
// created by the move; To is 0 when the move deleted it.
type AliasMove struct {
	Seq       int64     `json:"seq"`
	Model     string    `json:"model"`
	Alias     string    `json:"alias"`
	From      int64     `json:"from_version,omitempty"`
	To        int64     `json:"to_version,omitempty"`
	Actor     string    `json:"actor"`
	At        time.Time `json:"at"`
	RequestID string    `json:"request_id,omitempty"`
}
