package sqlite

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
)

// Times are stored as unix microseconds, the precision cairn.Timestamp
// keeps, and read back in UTC.

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullMicros stores a nil time as NULL.
func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromNullMicros(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.Int64)
	return &t
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// nullInt64 stores 0 as NULL (alias history: no version on that side).
func nullInt64(n int64) sql.NullInt64 { return sql.NullInt64{Int64: n, Valid: n != 0} }

// nullBytes stores empty JSON as NULL and anything else byte for byte.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// rawOrNil returns the stored bytes of a nullable JSON column.
func rawOrNil(s sql.NullString) json.RawMessage {
	if !s.Valid || s.String == "" {
		return nil
	}
	return json.RawMessage(s.String)
}

// encodeJSON marshals a map or slice for a JSON text column. nil maps
// become {} and nil slices [] through the zero values passed by callers.
func encodeJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", cairn.WrapError(cairn.EINVALID, err, "encode JSON column")
	}
	return string(b), nil
}

func stringMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func floatMap(m map[string]float64) map[string]float64 {
	if m == nil {
		return map[string]float64{}
	}
	return m
}

func strings0(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func files0(f []cairn.File) []cairn.File {
	if f == nil {
		return []cairn.File{}
	}
	return f
}

// decodeJSON unmarshals a JSON text column into dst, which must point at a
// map or slice; the result is never nil.
func decodeJSON(column, s string, dst any) error {
	if err := json.Unmarshal([]byte(s), dst); err != nil {
		return cairn.WrapError(cairn.EINTERNAL, err, "decode column %s", column)
	}
	return nil
}

// cursor is an opaque page token for keyset pagination: the sort key of
// the last row of the previous page. Tokens are URL-safe base64 so that
// they travel in query strings unescaped.
type cursor struct {
	n int64  // a sequence number or a time in microseconds
	s string // a tie-breaker, if the order needs one
}

func (c cursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.n, 10) + ":" + c.s))
}

func decodeCursor(token string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return cursor{}, cairn.Errorf(cairn.EINVALID, "invalid page token")
	}
	num, s, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil {
		return cursor{}, cairn.Errorf(cairn.EINVALID, "invalid page token")
	}
	return cursor{n: n, s: s}, nil
}

// Page sizes: 0 means the default; larger than the maximum is clamped.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

func pageSize(n int) (int, error) {
	switch {
	case n < 0:
		return 0, cairn.Errorf(cairn.EINVALID, "invalid page size %d", n)
	case n == 0:
		return defaultPageSize, nil
	case n > maxPageSize:
		return maxPageSize, nil
	}
	return n, nil
}

// limit is pageSize for the lists that take a limit rather than a Page.
func limit(n int) int {
	switch {
	case n <= 0:
		return defaultPageSize
	case n > maxPageSize:
		return maxPageSize
	}
	return n
}

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	if n == 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }
