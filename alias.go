package cairn

import (
	"regexp"
	"time"
)

// Alias is a mutable named pointer from a model to one of its versions.
type Alias struct {
	Model     string    `json:"model"`
	Name      string    `json:"alias"`
	Version   int64     `json:"version"`
	UpdatedBy string    `json:"updated_by"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AliasMove is one entry of an alias's history. From is 0 when the alias was
// created by the move; To is 0 when the move deleted it. Actor and At are
// always who made the move in Cairn and when; a move imported from another
// registry also carries its Origin there.
type AliasMove struct {
	Seq       int64       `json:"seq"`
	Model     string      `json:"model"`
	Alias     string      `json:"alias"`
	From      int64       `json:"from_version,omitempty"`
	To        int64       `json:"to_version,omitempty"`
	Actor     string      `json:"actor"`
	At        time.Time   `json:"at"`
	RequestID string      `json:"request_id,omitempty"`
	Origin    *MoveOrigin `json:"origin,omitempty"`
}

// MoveOrigin records where an imported alias move was first made: the
// registry it comes from (System, "gto"), the move's name there (Ref, a
// git tag such as churn#prod#2, which also makes a repeated import find
// what it imported before), and who made it there and when, as that
// registry recorded it. It is the importer's account, kept beside the
// move; it never replaces the move's own Actor and At.
type MoveOrigin struct {
	System string    `json:"system"`
	Ref    string    `json:"ref,omitempty"`
	Actor  string    `json:"actor,omitempty"`
	At     time.Time `json:"at"`
}

// Limits of a move's origin.
const (
	MaxOriginRef   = 512
	MaxOriginActor = 512
)

var originSystemRE = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,31}$`)

// Validate checks an origin: a system name of lower-case letters, digits
// and _ . - (at most 32, starting with a letter), a ref and an actor of at
// most 512 bytes of text, and a time; EINVALID naming the member at fault.
// It truncates At to the microsecond stores keep.
func (o *MoveOrigin) Validate() error {
	if !originSystemRE.MatchString(o.System) {
		return Errorf(EINVALID, "origin.system %q: want 1 to 32 lower-case letters, digits and _ . -, starting with a letter", truncate(o.System, 40))
	}
	if len(o.Ref) > MaxOriginRef {
		return Errorf(EINVALID, "origin.ref is %d bytes long; the limit is %d", len(o.Ref), MaxOriginRef)
	}
	if err := ValidateText("origin.ref", o.Ref); err != nil {
		return err
	}
	if len(o.Actor) > MaxOriginActor {
		return Errorf(EINVALID, "origin.actor is %d bytes long; the limit is %d", len(o.Actor), MaxOriginActor)
	}
	if err := ValidateText("origin.actor", o.Actor); err != nil {
		return err
	}
	if o.At.IsZero() {
		return Errorf(EINVALID, "origin.at is missing: when was the move made in %s?", o.System)
	}
	if o.At.Year() < 1 || o.At.Year() > 9999 {
		return Errorf(EINVALID, "origin.at %s is out of range", o.At.Format(time.RFC3339))
	}
	o.At = Timestamp(o.At)
	return nil
}
