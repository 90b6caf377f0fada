package sqlite

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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

// decodeTags decodes a tags column, a JSON object of strings. The common
// case, a compact object whose strings have no escapes (what encodeJSON
// writes for plain keys and values), is split by hand, several times
// cheaper than encoding/json; anything else goes through encoding/json,
// so the result is always what json.Unmarshal gives. Never nil.
func decodeTags(column, s string) (map[string]string, error) {
	if m, ok := splitFlatObject(s); ok {
		return m, nil
	}
	m := map[string]string{}
	if err := decodeJSON(column, s, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// splitFlatObject decodes s if it is a compact JSON object of strings
// without escapes, control characters or invalid UTF-8; ok is false for
// anything else, which encoding/json then decodes (or rejects).
func splitFlatObject(s string) (map[string]string, bool) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, false
	}
	if len(s) == 2 {
		return map[string]string{}, true
	}
	m := make(map[string]string, strings.Count(s, `":"`))
	i := 1
	for {
		key, next, ok := plainString(s, i)
		if !ok || next >= len(s) || s[next] != ':' {
			return nil, false
		}
		val, next, ok := plainString(s, next+1)
		if !ok || next >= len(s) {
			return nil, false
		}
		m[key] = val
		switch {
		case s[next] == '}' && next == len(s)-1:
			return m, true
		case s[next] == ',':
			i = next + 1
		default:
			return nil, false
		}
	}
}

// plainString reads the JSON string starting at s[i] if it has no escape,
// no control character and valid UTF-8, returning its text and the index
// after its closing quote.
func plainString(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			text := s[i+1 : j]
			return text, j + 1, utf8.ValidString(text)
		case c == '\\' || c < 0x20:
			return "", 0, false
		}
	}
	return "", 0, false
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
