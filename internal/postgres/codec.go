package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairn-registry/cairn"
)

// querier is what the helpers run SQL on: the pool (a single statement,
// its own snapshot) or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Times are stored as unix microseconds, the precision cairn.Timestamp
// keeps, and read back in UTC.

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullMicros stores a nil time as NULL.
func nullMicros(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	us := t.UnixMicro()
	return &us
}

func fromNullMicros(us *int64) *time.Time {
	if us == nil {
		return nil
	}
	t := fromMicros(*us)
	return &t
}

// nullInt64 stores 0 as NULL (alias history: no version on that side).
func nullInt64(n int64) *int64 {
	if n == 0 {
		return nil
	}
	return &n
}

func fromNullInt64(n *int64) int64 {
	if n == nil {
		return 0
	}
	return *n
}

// rawText stores raw JSON byte for byte in a TEXT or json column; empty is
// NULL.
func rawText(b []byte) *string {
	if len(b) == 0 {
		return nil
	}
	s := string(b)
	return &s
}

// fromRawText returns the stored bytes of a nullable raw-JSON column; NULL
// and empty are nil.
func fromRawText(s *string) json.RawMessage {
	if s == nil || *s == "" {
		return nil
	}
	return json.RawMessage(*s)
}

// encodeJSON marshals a map or slice for a JSONB column. Callers pass
// non-nil values (see the *0 helpers) so that the column holds {} or [],
// never null.
func encodeJSON(column string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", cairn.WrapError(cairn.EINVALID, err, "encode %s", column)
	}
	return string(b), nil
}

// decodeJSON unmarshals a JSONB column into dst, a pointer to a map or a
// slice.
func decodeJSON(column string, b []byte, dst any) error {
	if len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return cairn.WrapError(cairn.EINTERNAL, err, "decode column %s", column)
	}
	return nil
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

// cursor is an opaque page token for keyset pagination: the sort key of the
// last row of the previous page. URL-safe base64, so that it travels in a
// query string unescaped.
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

func itoa(n int) string { return strconv.Itoa(n) }

// args collects the arguments of a query built piece by piece; add returns
// the placeholder of the value it appends.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return placeholder(len(*a))
}
