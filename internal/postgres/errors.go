package postgres

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairn-registry/cairn"
)

// SQLSTATE codes the store reacts to. See
// https://www.postgresql.org/docs/current/errcodes-appendix.html.
const (
	sqlstateUniqueViolation     = "23505"
	sqlstateForeignKeyViolation = "23503"
	sqlstateNotNullViolation    = "23502"
	sqlstateCheckViolation      = "23514"
	sqlstateDataExceptionClass  = "22" // bad input: NUL in text, invalid JSON, out of range, …
	sqlstateSerialization       = "40001"
	sqlstateDeadlock            = "40P01"
)

// translate turns an error from pgx or the server into a *cairn.Error, once,
// by SQLSTATE and never by message text: unique violations are ECONFLICT,
// foreign-key violations and pgx.ErrNoRows ENOTFOUND (something referred to
// does not exist), check, not-null and data exceptions EINVALID, anything
// else EINTERNAL. format and args say what was being done. The cause stays
// reachable with errors.As and errors.Is (context.Canceled included).
// Errors that already are *cairn.Error pass through unchanged.
func translate(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var ce *cairn.Error
	if errors.As(err, &ce) {
		return err
	}
	code := cairn.EINTERNAL
	var pe *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		code = cairn.ENOTFOUND
	case errors.As(err, &pe):
		switch {
		case pe.Code == sqlstateUniqueViolation:
			code = cairn.ECONFLICT
		case pe.Code == sqlstateForeignKeyViolation:
			code = cairn.ENOTFOUND
		case pe.Code == sqlstateCheckViolation, pe.Code == sqlstateNotNullViolation,
			strings.HasPrefix(pe.Code, sqlstateDataExceptionClass):
			code = cairn.EINVALID
		case pe.Code == sqlstateSerialization, pe.Code == sqlstateDeadlock:
			// Transient: the transaction lost a race and was rolled back by
			// the server. Update does not retry (fn may have side effects
			// beyond the database); the caller may.
			return cairn.WrapError(cairn.EINTERNAL, err, format+" (transaction aborted by a concurrent one; retry)", args...)
		}
	}
	return cairn.WrapError(code, err, format, args...)
}
