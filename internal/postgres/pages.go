package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/sqlfilter"
)

// The paged reads: every list asks its query for one row more than the page
// size, so that a full page knows whether another follows. queryPage holds
// the scanning; exportByID and offsetPage hold the two kinds of page token.

// queryPage runs query, whose LIMIT is size+1, and scans up to size rows
// with scan; more reports whether the extra row came. what names the read
// in errors.
func queryPage[T any](ctx context.Context, q querier, size int, what, query string,
	scan func(pgx.Row) (T, error), args ...any) (items []T, more bool, err error) {
	rows, err := q.Query(ctx, query, args...)
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
func exportByID[T any](ctx context.Context, q querier, pg cairn.Page, what, query string,
	scan func(pgx.Row) (T, error), id func(T) string) ([]T, string, error) {
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
	items, more, err := queryPage(ctx, q, size, what, query, scan, after, size+1)
	if err != nil || !more {
		return items, "", err
	}
	return items, cursor{s: id(items[size-1])}.encode(), nil
}

// offsetPage reads the page at offset of a list paged by offset tokens:
// query's arguments end with its LIMIT (size+1) and OFFSET. It returns the
// items and the token of the next page ("" at the end).
func offsetPage[T any](ctx context.Context, q querier, size, offset int, what, query string,
	scan func(pgx.Row) (T, error), args ...any) ([]T, string, error) {
	items, more, err := queryPage(ctx, q, size, what, query, scan, args...)
	if err != nil || !more {
		return items, "", err
	}
	return items, sqlfilter.EncodePageToken(offset + size), nil
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
	scan    func(pgx.Row) (T, error)
}

// page reads the page pg of the records of experiments ids (none: an empty
// page) that match the compiled filter, in its order.
func (s experimentSearch[T]) page(ctx context.Context, q querier, ids []string, pg cairn.Page) ([]T, string, error) {
	size, err := pageSize(pg.Size)
	if err != nil {
		return nil, "", err
	}
	offset, err := sqlfilter.DecodePageToken(pg.Token)
	if err != nil {
		return nil, "", err
	}
	if len(ids) == 0 {
		return []T{}, "", nil
	}
	c, err := s.compile(sqlfilter.Postgres, 1)
	if err != nil {
		return nil, "", err
	}
	a := args(append([]any(nil), c.Args...))
	query := `SELECT ` + s.columns + ` FROM ` + s.table + ` WHERE ` + s.where +
		` AND ` + s.alias + `.experiment_id = ANY(` + a.add(ids) + `::text[])`
	if c.Where != "" {
		query += ` AND (` + c.Where + `)`
	}
	query += ` ORDER BY ` + c.OrderBy + ` LIMIT ` + a.add(size+1) + ` OFFSET ` + a.add(offset)
	return offsetPage(ctx, q, size, offset, s.what, query, s.scan, a...)
}
