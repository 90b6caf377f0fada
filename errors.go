package cairn

import (
	"errors"
	"fmt"
	"strings"
)

// ErrorCode classifies an error. Codes are stable: they appear as the `code`
// member of problem+json responses and drive CLI exit codes.
type ErrorCode string

// The error codes. Every error that crosses a package boundary carries one.
const (
	EINVALID            ErrorCode = "invalid"
	ENOTFOUND           ErrorCode = "not_found"
	ECONFLICT           ErrorCode = "conflict"
	EUNAUTHENTICATED    ErrorCode = "unauthenticated"
	EPERMISSION         ErrorCode = "permission_denied"
	EFAILEDPRECONDITION ErrorCode = "failed_precondition"
	ETOOLARGE           ErrorCode = "too_large"
	EPENDINGAPPROVAL    ErrorCode = "pending_approval"
	EINTERNAL           ErrorCode = "internal"
)

// ErrorCodes lists every code, for documentation and exhaustive tests.
var ErrorCodes = []ErrorCode{
	EINVALID, ENOTFOUND, ECONFLICT, EUNAUTHENTICATED, EPERMISSION,
	EFAILEDPRECONDITION, ETOOLARGE, EPENDINGAPPROVAL, EINTERNAL,
}

// Error is Cairn's one error type. Message is safe to show to a client; Err,
// if set, is the underlying cause and is never shown to clients for internal
// errors.
type Error struct {
	Code    ErrorCode
	Message string
	Err     error
}

func (e *Error) Error() string {
	switch {
	case e.Message != "" && e.Err != nil:
		return e.Message + ": " + e.Err.Error()
	case e.Message != "":
		return e.Message
	case e.Err != nil:
		return e.Err.Error()
	}
	return string(e.Code)
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with the given code and message whose cause is err.
func WrapError(code ErrorCode, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCodeOf returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error and "" for nil.
func ErrorCodeOf(err error) ErrorCode {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err: the messages of the
// *Error values in its chain, outermost first, joined with ": " — so
// WrapError(EINVALID, digestErr, "file %q") reads `file "a": invalid
// digest …` — or "internal error" if the outermost *Error is internal or
// there is none. Causes that are not *Error (driver errors, I/O errors) are
// never included: they may leak internals.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var parts []string
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			break
		}
		if len(parts) == 0 && e.Code == EINTERNAL {
			return "internal error"
		}
		if e.Message != "" && (len(parts) == 0 || parts[len(parts)-1] != e.Message) {
			parts = append(parts, e.Message)
		}
		err = e.Err
	}
	if len(parts) == 0 {
		var e *Error
		if errors.As(err, &e) {
			return string(e.Code)
		}
		return "internal error"
	}
	return strings.Join(parts, ": ")
}

// IsCode reports whether err carries the given code.
func IsCode(err error, code ErrorCode) bool { return ErrorCodeOf(err) == code }
