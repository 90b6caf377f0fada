package sqlite

import (
	"database/sql"
	"errors"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/cairn-registry/cairn"
)

// sqliteCode returns the extended result code of a driver error, or 0. The
// driver enables extended result codes on every connection, so a unique
// violation is SQLITE_CONSTRAINT_UNIQUE, not just SQLITE_CONSTRAINT.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

// isForeignKey reports whether err is a FOREIGN KEY violation.
func isForeignKey(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// translate turns an error from database/sql or the driver into a
// *cairn.Error, by result code: unique violations are ECONFLICT, foreign
// key violations and sql.ErrNoRows ENOTFOUND, CHECK and NOT NULL violations
// EINVALID, anything else EINTERNAL. The message says what was being done;
// the driver error stays reachable with errors.As. Errors that are already
// *cairn.Error pass through unchanged. Call sites that expect a particular
// violation test for it first (isUnique) and say what conflicted.
func translate(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var ce *cairn.Error
	if errors.As(err, &ce) {
		return err
	}
	code := cairn.EINTERNAL
	switch c := sqliteCode(err); {
	case errors.Is(err, sql.ErrNoRows):
		code = cairn.ENOTFOUND
	case c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		code = cairn.ECONFLICT
	case c == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		code = cairn.ENOTFOUND
	case c == sqlite3.SQLITE_CONSTRAINT_CHECK || c == sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		code = cairn.EINVALID
	}
	return cairn.WrapError(code, err, format, args...)
}
