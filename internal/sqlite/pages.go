package sqlite

import (
	"context"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/sqlfilter"
)

// The paged reads: every list asks its query for one row more than the page
// size, so that a full page knows whether another follows. queryPage holds
// the scanning; exportByID and offsetPage hold the two kinds of page token.

// queryPage runs query, whose LIMIT is size+1, and scans up to size rows
// with scan; more reports whether the extra row came. what names the read
// in errors.
func queryPage[T any](ctx context.Context, t *tx, size int, what, query string,
	scan func(scanner) (T, error), args ...any) (items []T, more bool, err error) {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, false, translate(err, "%s", what)
	}
	defer rows.Close()
	items = []T{}
	for rows.Next() {
		if len(items) == size {
			more = true
			break
		}
		item, err := scan(rows)
		if err != nil {
			return nil, false, translate(err, "%s", what)
		}
		items = append(items, item)
	}
	if err := rows.Err(); err != nil {
		return nil, false, translate(err, "%s", what)
	}
	return items, more, nil
}

// exportByID reads one page of an export ordered by a string id: the rows
// of query (which takes the id to start after and a limit) and the token
// of the next page ("" at the end).
func exportByID[T any](ctx context.Context, db *DB, pg cairn.Page, what, query string,
	scan func(scanner) (T, error), id func(T) string) ([]T, string, error) {
	size, err := pageSize(pg.Size)
	if err != nil {
		return nil, "", err
	}
	after := ""
	if pg.Token != "" {
		c, err := decodeCursor(pg.Token)
		if err != nil {
			return nil, "", err
		}
		after = c.s
	}
	type page struct {
		items []T
		more  bool
	}
	p, err := view(ctx, db, func(t *tx) (page, error) {
		items, more, err := queryPage(ctx, t, size, what, query, scan, after, size+1)
		return page{items, more}, err
	})
	if err != nil || !p.more {
		return p.items, "", err
	}
	return p.items, cursor{s: id(p.items[size-1])}.encode(), nil
}

// offsetPage reads the page at offset of a list paged by offset tokens:
// query's arguments end with its LIMIT (size+1) and OFFSET. It returns the
// items and the token of the next page ("" at the end).
func offsetPage[T any](ctx context.Context, t *tx, size, offset int, what, query string,
	scan func(scanner) (T, error), args ...any) ([]T, string, error) {
	items, more, err := queryPage(ctx, t, size, what, query, scan, args...)
	if err != nil || !more {
		return items, "", err
	}
	return items, encodeOffset(offset + size), nil
}

// experimentSearch is what SearchRuns and SearchLoggedModels share: a page
// of the records of some experiments that match a filter, in its order,
// paged by offset tokens.
type experimentSearch[T any] struct {
	what    string // names the search in errors
	columns string // the select list
	table   string // the table and its alias: "runs r"
	alias   string
	where   string // the records' own condition, such as their lifecycle
	// compile compiles the search's filter and order, with placeholders
	// from argStart.
	compile func(d sqlfilter.Dialect, argStart int) (*sqlfilter.Compiled, error)
	scan    func(scanner) (T, error)
}

// page reads the page pg of the records of experiments ids (none: an empty
// page) that match the compiled filter, in its order.
func (s experimentSearch[T]) page(ctx context.Context, t *tx, ids []string, pg cairn.Page) ([]T, string, error) {
	size, err := pageSize(pg.Size)
	if err != nil {
		return nil, "", err
	}
	offset, err := decodeOffset(pg.Token)
	if err != nil {
		return nil, "", err
	}
	if len(ids) == 0 {
		return []T{}, "", nil
	}
	c, err := s.compile(sqlfilter.SQLite, 1)
	if err != nil {
		return nil, "", err
	}
	where := []string{s.where}
	if c.Where != "" {
		where = append(where, c.Where)
	}
	where = append(where, s.alias+`.experiment_id IN (`+placeholders(len(ids))+`)`)
	// The filter's arguments, the ids, then the order's (a metric key).
	args := append([]any(nil), c.Args[:c.WhereArgs]...)
	for _, id := range ids {
		args = append(args, id)
	}
	args = append(args, c.Args[c.WhereArgs:]...)
	args = append(args, size+1, offset)
	return offsetPage(ctx, t, size, offset, s.what,
		`SELECT `+s.columns+` FROM `+s.table+` WHERE `+strings.Join(where, " AND ")+
			` ORDER BY `+c.OrderBy+` LIMIT ? OFFSET ?`, s.scan, args...)
}
