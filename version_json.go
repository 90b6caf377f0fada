package cairn

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// A ready version's fixed fields (kind through created_at in the version
// record) never change, so stores keep them pre-encoded: EncodeFixed is
// written once, when the version becomes ready, and reads that only render
// versions as JSON (the native API's resolve, get and list) splice it
// between the mutable parts instead of decoding the JSON columns into a
// Version and encoding them again. AppendVersionJSON writes the same bytes
// as json.Marshal either way.

// zeroFixed is how json.Marshal writes the fixed fields of a zero Version:
// EncodeFixed finds where the fixed fields end by it, and fails if the
// version record's layout no longer fits (TestZeroFixed).
const zeroFixed = `"kind":"","files":null,"digest":"","size":0,"metrics":null,"params":null,` +
	`"derived_from":null,"inputs":null,"evaluates":null,"created_by":"",` +
	`"created_by_verified":false,"created_at":"0001-01-01T00:00:00Z"`

// EncodeFixed returns the JSON of v's fixed fields, kind through created_at,
// exactly as json.Marshal(v) writes them (without the enclosing braces and
// separating commas): what a store keeps of a ready version in its
// FixedJSON. Stores call it on the version as they read it back, so that
// the bytes are what a read would render.
func (v *Version) EncodeFixed() (json.RawMessage, error) {
	f := *v
	f.Model, f.Number, f.FixedJSON = "", 0, nil
	clearMutable(&f)
	b, err := json.Marshal(&f)
	if err != nil {
		return nil, WrapError(EINTERNAL, err, "encode the fixed fields of %s", v.Ref())
	}
	tail, err := json.Marshal(&Version{})
	if err != nil {
		return nil, WrapError(EINTERNAL, err, "encode an empty version")
	}
	const head = `{"model":"","version":0,`
	tailStart := bytes.Index(tail, []byte(zeroFixed)) + len(zeroFixed)
	if !bytes.HasPrefix(b, []byte(head)) || !bytes.HasPrefix(tail, []byte(head+zeroFixed)) ||
		!bytes.HasSuffix(b, tail[tailStart:]) {
		return nil, Errorf(EINTERNAL, "encode the fixed fields of %s: the version record's layout changed", v.Ref())
	}
	return bytes.Clone(b[len(head) : len(b)-len(tail)+tailStart]), nil
}

// clearMutable zeroes what EncodeFixed leaves out: every field after
// created_at.
func clearMutable(v *Version) {
	v.UpdatedAt = time.Time{}
	v.Tags, v.Description, v.Aliases = nil, "", nil
	v.Status, v.StatusMessage, v.Archived, v.Stage, v.DeletedAt = "", "", false, "", nil
	v.Flagged, v.Flag, v.ApprovalStatus = false, nil, ""
}

// AppendVersionJSON appends v's JSON to dst: the bytes json.Marshal(v)
// writes. A version read for rendering (FixedJSON set, its fixed fields
// zero) is written field by field around its FixedJSON, without
// reflection; TestAppendVersionJSONMatchesMarshal holds the two to the
// same bytes.
func AppendVersionJSON(dst []byte, v *Version) ([]byte, error) {
	if v.FixedJSON == nil {
		b, err := json.Marshal(v)
		if err != nil {
			return dst, fmt.Errorf("encode version %s: %w", v.Ref(), err)
		}
		return append(dst, b...), nil
	}
	if v.Kind != "" || v.Files != nil || v.Digest != "" || !v.CreatedAt.IsZero() {
		return dst, Errorf(EINTERNAL, "encode version %s: read for rendering but its fixed fields are set", v.Ref())
	}
	var err error
	dst = append(dst, `{"model":`...)
	dst = AppendJSONString(dst, v.Model)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendInt(dst, v.Number, 10)
	dst = append(dst, ',')
	dst = append(dst, v.FixedJSON...)
	dst = append(dst, `,"updated_at":`...)
	if dst, err = appendJSONTime(dst, v.UpdatedAt); err != nil {
		return dst, fmt.Errorf("encode version %s: %w", v.Ref(), err)
	}
	dst = append(dst, `,"tags":`...)
	dst = appendJSONStringMap(dst, v.Tags)
	dst = append(dst, `,"description":`...)
	dst = AppendJSONString(dst, v.Description)
	dst = append(dst, `,"aliases":`...)
	if v.Aliases == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i, a := range v.Aliases {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONString(dst, a)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"status":`...)
	dst = AppendJSONString(dst, string(v.Status))
	if v.StatusMessage != "" {
		dst = append(dst, `,"status_message":`...)
		dst = AppendJSONString(dst, v.StatusMessage)
	}
	dst = append(dst, `,"archived":`...)
	dst = strconv.AppendBool(dst, v.Archived)
	dst = append(dst, `,"stage":`...)
	dst = AppendJSONString(dst, string(v.Stage))
	if v.DeletedAt != nil {
		dst = append(dst, `,"deleted_at":`...)
		if dst, err = appendJSONTime(dst, *v.DeletedAt); err != nil {
			return dst, fmt.Errorf("encode version %s: %w", v.Ref(), err)
		}
	}
	dst = append(dst, `,"flagged":`...)
	dst = strconv.AppendBool(dst, v.Flagged)
	if v.Flag != nil {
		b, err := json.Marshal(v.Flag)
		if err != nil {
			return dst, fmt.Errorf("encode version %s: %w", v.Ref(), err)
		}
		dst = append(dst, `,"flag":`...)
		dst = append(dst, b...)
	}
	dst = append(dst, `,"approval_status":`...)
	dst = AppendJSONString(dst, v.ApprovalStatus)
	return append(dst, '}'), nil
}

// AppendJSONString appends s as encoding/json writes a string (the
// hand-written encoders here and in the MLflow API share it). Strings of
// printable ASCII that need no escape (the usual names, tags and states)
// are copied; anything else goes through json.Marshal, which escapes
// quotes, control characters, HTML's <, > and &, U+2028 and U+2029, and
// replaces invalid UTF-8.
func AppendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always encodes
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// appendJSONStringMap appends m as encoding/json writes a map[string]string:
// keys sorted, nil as null.
func appendJSONStringMap(dst []byte, m map[string]string) []byte {
	if m == nil {
		return append(dst, "null"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, k)
		dst = append(dst, ':')
		dst = AppendJSONString(dst, m[k])
	}
	return append(dst, '}')
}

// appendJSONTime appends t as time.Time's MarshalJSON writes it.
func appendJSONTime(dst []byte, t time.Time) ([]byte, error) {
	dst = append(dst, '"')
	dst, err := t.AppendText(dst)
	if err != nil {
		return dst, err
	}
	return append(dst, '"'), nil
}

// NewContextWithFixedJSON returns a context under which a store may read
// ready versions for rendering only: with FixedJSON set and the fixed
// fields (Kind, Files, Digest, Size, RunID … CreatedAt) left zero, which
// saves decoding them. Only a call whose versions nothing reads but
// AppendVersionJSON may run under it: the native API's resolve, get and
// list handlers, around Service.Resolve, GetVersion and ListVersions (not
// ResolveAt, which compares created_at).
func NewContextWithFixedJSON(ctx context.Context) context.Context {
	return context.WithValue(ctx, fixedJSONKey, true)
}

// FixedJSONFromContext reports whether ctx came from NewContextWithFixedJSON.
func FixedJSONFromContext(ctx context.Context) bool {
	b, _ := ctx.Value(fixedJSONKey).(bool)
	return b
}

// NewContextWithSummary returns a context under which a store may read a
// version as a summary: only the fields LatestPerStage sets (Model, Kind,
// Number, Status, StatusMessage, Source, RunID, Tags, Description,
// CreatedBy, CreatedAt, UpdatedAt, Stage, Aliases) and DeletedAt, which
// saves reading and decoding the rest (files, metrics, params, lineage).
// Only GetVersion, AliasedVersion and ListVersions heed it, and only a
// call that reads nothing else of the versions may run under it: MLflow's
// get, get-by-alias and search of versions, around Service.GetVersion,
// Resolve and ListVersions.
func NewContextWithSummary(ctx context.Context) context.Context {
	return context.WithValue(ctx, summaryKey, true)
}

// SummaryFromContext reports whether ctx came from NewContextWithSummary.
func SummaryFromContext(ctx context.Context) bool {
	b, _ := ctx.Value(summaryKey).(bool)
	return b
}
