package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/spf13/cobra"
)

// Exit codes, the CLI's contract with scripts.
const (
	exitOK              = 0
	exitError           = 1
	exitUsage           = 2
	exitNotFound        = 3
	exitConflict        = 4
	exitDenied          = 5
	exitPendingApproval = 6
)

// exitCode is the one place that maps an error to an exit code.
func exitCode(err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	switch cairn.ErrorCodeOf(err) {
	case "":
		return exitOK
	case cairn.ENOTFOUND:
		return exitNotFound
	case cairn.ECONFLICT:
		return exitConflict
	case cairn.EUNAUTHENTICATED, cairn.EPERMISSION:
		return exitDenied
	case cairn.EPENDINGAPPROVAL:
		return exitPendingApproval
	}
	return exitError
}

// usageError is a mistake in how the command was called: an unknown
// command or flag, a wrong number of arguments, an argument that does not
// parse. It exits 2 and points at the command's help.
type usageError struct {
	cmd string // the command path, for the hint
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErr(c *cobra.Command, format string, args ...any) error {
	return &usageError{cmd: c.CommandPath(), err: fmt.Errorf(format, args...)}
}

// asUsage marks err, typically from parsing an argument, as a usage error.
func asUsage(c *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	return &usageError{cmd: c.CommandPath(), err: err}
}

// hinted attaches a hint line to an error.
type hinted struct {
	err  error
	hint string
}

func (e *hinted) Error() string { return e.err.Error() }
func (e *hinted) Unwrap() error { return e.err }

func withHint(err error, format string, args ...any) error {
	return &hinted{err: err, hint: fmt.Sprintf(format, args...)}
}

// report prints err on stderr in the CLI's format and returns its exit code.
func (a *app) report(err error) int {
	code := exitCode(err)
	msg := a.errorMessage(err)
	fmt.Fprintf(a.env.Stderr, "cairn: %s\n", msg)
	if h := a.hint(err); h != "" {
		fmt.Fprintf(a.env.Stderr, "hint: %s\n", h)
	}
	return code
}

// errorMessage is the first line of an error report.
func (a *app) errorMessage(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case isConnRefused(err):
		// The transport's message repeats the URL twice; say it once.
		return "cannot connect to " + a.serverURL() + ": connection refused"
	}
	msg := strings.TrimSpace(err.Error())
	var se *client.StatusError
	if errors.As(err, &se) {
		// The server's message says what went wrong; the HTTP status is
		// noise to people, and the request id matters only when the
		// server failed, to find its log line.
		msg = strings.Replace(msg, ": "+se.Error(), "", 1)
		if se.StatusCode >= 500 && se.RequestID != "" {
			msg += " (request id " + se.RequestID + ")"
		}
	}
	return msg
}

// hint returns what the user might do about err, or "".
func (a *app) hint(err error) string {
	var h *hinted
	if errors.As(err, &h) {
		return h.hint
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return fmt.Sprintf("run '%s --help' for usage", ue.cmd)
	}
	if isConnRefused(err) {
		return "is the server running? start it with `cairn serve` or set --url/CAIRN_URL (now " + a.serverURL() + ")"
	}
	switch cairn.ErrorCodeOf(err) {
	case cairn.EUNAUTHENTICATED:
		return "pass a token with --token or CAIRN_TOKEN"
	case cairn.EPERMISSION:
		return "ask an admin for a role that allows this"
	case cairn.EPENDINGAPPROVAL:
		if id := pendingRequestID(err); id != "" {
			return "it applies itself once approved; see 'cairn approvals show " + id + "'"
		}
		return "the request was opened; it applies itself once approved"
	}
	return ""
}

// pendingRequestID returns the approval request a pending_approval answer
// names, or "".
func pendingRequestID(err error) string {
	var se *client.StatusError
	if errors.As(err, &se) {
		return se.ApprovalRequest
	}
	return ""
}

func isConnRefused(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		var se *os.SyscallError
		if errors.As(op.Err, &se) && errors.Is(se.Err, syscall.ECONNREFUSED) {
			return true
		}
	}
	return false
}

// Argument validators. They return usage errors, which cobra's own
// validators do not.

func exactArgs(names ...string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usageErr(c, "%s takes %s; got %d argument%s", c.CommandPath(), argList(names), len(args), plural(len(args)))
		}
		return nil
	}
}

func rangeArgs(min int, names ...string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) < min || len(args) > len(names) {
			return usageErr(c, "%s takes %s; got %d argument%s", c.CommandPath(), argList(names), len(args), plural(len(args)))
		}
		return nil
	}
}

func minArgs(min int, names ...string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) < min {
			return usageErr(c, "%s takes %s; got %d argument%s", c.CommandPath(), argList(names), len(args), plural(len(args)))
		}
		return nil
	}
}

// noSubcommand is the Args of a command that only groups others: any
// argument is a subcommand it does not know.
func noSubcommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2
	}
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return &usageError{cmd: c.CommandPath(), err: errors.New(msg)}
}

func argList(names []string) string {
	if len(names) == 0 {
		return "no arguments"
	}
	return strings.Join(names, " ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
