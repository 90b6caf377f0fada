package sqlite

import (
	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/sqlfilter"
)

// Filters and orders compile to SQL in internal/sqlfilter, shared with the
// PostgreSQL store, over the table aliases m (models) and v (versions).
// Pages of models and versions are offsets in sqlfilter's opaque tokens.

func compileModels(f *cairn.Filter, order []cairn.OrderBy) (*sqlfilter.Compiled, error) {
	return sqlfilter.Models(f, order, sqlfilter.SQLite, 1)
}

func compileVersions(f *cairn.Filter, order []cairn.OrderBy) (*sqlfilter.Compiled, error) {
	return sqlfilter.Versions(f, order, sqlfilter.SQLite, 1)
}

func encodeOffset(n int) string { return sqlfilter.EncodePageToken(n) }

func decodeOffset(s string) (int, error) { return sqlfilter.DecodePageToken(s) }
