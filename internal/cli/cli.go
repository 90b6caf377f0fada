// Package cli is the `cairn` command: one cobra command tree, built by a
// function from its dependencies, so that Main runs in-process in tests
// exactly as it does in the binary. Every command but serve talks to the
// server through the client package only.
//
// The contract every command keeps (STYLE.md, "CLI"): data and only data
// on stdout (tables for people, the API's JSON with --json); messages,
// progress and errors on stderr, errors as "cairn: …" with an optional
// "hint: …" line; exit codes from one table (see exitCode).
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"

	"github.com/spf13/cobra"
)

// Env is what a run of the command sees of the outside world. Tests build
// one per script; Main builds it from the process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads an environment variable; nil means os.Getenv.
	Getenv func(string) string
	// Dir is the directory relative paths are resolved against; "" means
	// the process's working directory.
	Dir string
}

// Main runs the cairn command with args (without the program name) and
// returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return Run(ctx, args, Env{Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

// Run is Main with an explicit environment.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Stdin == nil {
		env.Stdin = eofReader{}
	}
	a := &app{env: env}
	root := a.rootCommand()
	root.SetArgs(args)
	if _, err := root.ExecuteContextC(ctx); err != nil {
		return a.report(err)
	}
	return exitOK
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// app holds the global flags and the environment; commands are methods or
// closures over it, so nothing lives in package variables.
type app struct {
	env Env

	url   string
	token string
	user  string
	json  bool
}

// DefaultURL is where the CLI looks for a server unless told otherwise.
const DefaultURL = "http://127.0.0.1:8080"

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "cairn",
		Short: "Cairn is a model registry: push, pull and manage versioned models",
		Long: `Cairn is a model registry: the system of record for trained models,
datasets, prompts and evaluations, their versions, aliases and lineage.

Start a server with 'cairn serve', then push and pull versions by reference:
  NAME           the latest ready version (same as NAME@latest)
  NAME@v3        version 3
  NAME@champion  whatever the alias champion points at

Every command prints data on stdout (a table, or the API's JSON with --json)
and messages on stderr.

Exit codes: 0 success, 1 error, 2 usage, 3 not found, 4 conflict (already
exists, compare-and-swap lost), 5 unauthenticated or permission denied,
6 pending approval.`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		Args:              noSubcommand,
		RunE:              showHelp,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
	}
	root.SetIn(a.env.Stdin)
	root.SetOut(a.env.Stdout)
	root.SetErr(a.env.Stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr(c, "%v", err)
	})

	pf := root.PersistentFlags()
	pf.StringVar(&a.url, "url", "", "server URL (env CAIRN_URL; default "+DefaultURL+")")
	pf.StringVar(&a.token, "token", "", "API token (env CAIRN_TOKEN)")
	pf.StringVar(&a.user, "user", "", "user name to declare to a server without auth (env CAIRN_USER; default your OS user name)")
	pf.BoolVar(&a.json, "json", false, "print the API's JSON instead of a table")

	root.AddGroup(
		&cobra.Group{ID: "everyday", Title: "Everyday commands:"},
		&cobra.Group{ID: "manage", Title: "Registry commands:"},
		&cobra.Group{ID: "server", Title: "Server commands:"},
	)
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("everyday", a.pushCommand(), a.pullCommand(), a.showCommand(), a.signalCommand())
	add("manage",
		a.modelsCommand(), a.versionsCommand(), a.aliasCommand(),
		a.runsCommand(), a.lineageCommand(), a.linkCommand(), a.auditCommand(), a.eventsCommand(), a.webhooksCommand(),
		a.signalsCommand(), a.evaluationsCommand(),
		a.policyCommand(), a.approvalsCommand(),
	)
	add("server", a.serveCommand(), a.benchCommand(), a.migrateStoreCommand(), a.exportCommand(), a.importCommand())
	// Commands written later (bench, policy, approvals, …) are added here,
	// each a method returning its *cobra.Command.
	add("server", a.gcCommand(), a.usersCommand(), a.tokensCommand(), a.rolesCommand())
	return root
}

// getenv reads a CAIRN_* variable.
func (a *app) getenv(key string) string { return a.env.Getenv(key) }

// serverURL returns --url, else CAIRN_URL, else the default.
func (a *app) serverURL() string {
	if a.url != "" {
		return a.url
	}
	if u := a.getenv("CAIRN_URL"); u != "" {
		return u
	}
	return DefaultURL
}

func (a *app) authToken() string {
	if a.token != "" {
		return a.token
	}
	return a.getenv("CAIRN_TOKEN")
}

// userName is the name declared to a server running without auth.
func (a *app) userName() string {
	if a.user != "" {
		return a.user
	}
	if u := a.getenv("CAIRN_USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := a.getenv("USER"); u != "" {
		return u
	}
	return ""
}

// path resolves a user-supplied file path against the working directory.
func (a *app) path(p string) string {
	if p == "" || filepath.IsAbs(p) || a.env.Dir == "" {
		return p
	}
	return filepath.Join(a.env.Dir, p)
}

// stdout and stderr are the command's output streams.
func (a *app) stdout() io.Writer { return a.env.Stdout }
func (a *app) stderr() io.Writer { return a.env.Stderr }

// infof prints a message for people on stderr.
func (a *app) infof(format string, args ...any) {
	fmt.Fprintf(a.env.Stderr, format+"\n", args...)
}

// showHelp is the RunE of commands that only group subcommands: the bare
// group prints its help.
func showHelp(c *cobra.Command, _ []string) error { return c.Help() }
