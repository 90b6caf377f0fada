package cli_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/cairn-registry/cairn/internal/cli"
	"github.com/cairn-registry/cairn/internal/fsblob"
	"github.com/cairn-registry/cairn/internal/httpapi"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/sqlite"
)

// TestScripts runs the scripts in testdata/script. Each script gets its own
// server (the registry over SQLite and a blob directory, behind
// httptest), CAIRN_URL pointing at it, and two commands:
//
//	cairn ARGS...     runs cli.Run in-process in the script's directory;
//	                  fails on a non-zero exit unless negated with !
//	exitcode N        checks the exit code of the last cairn command
//	grab VAR REGEXP   sets $VAR to the first submatch of REGEXP in the
//	                  last command's stdout (or stderr, with -stderr)
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:   filepath.Join("testdata", "script"),
		Setup: startServer,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"cairn":    runCairn,
			"exitcode": checkExitCode,
			"grab":     grab,
		},
		RequireExplicitExec: true,
	})
}

// startServer starts a real server for one script, with its data outside
// the script's work directory so that listings there see only the script's
// own files.
func startServer(env *testscript.Env) error {
	dir, err := os.MkdirTemp("", "cairn-script-server-")
	if err != nil {
		return err
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "cairn.db"))
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		db.Close()
		os.RemoveAll(dir)
		return err
	}
	svc := registry.New(db, blobs, registry.Options{})
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(httpapi.New(svc, httpapi.Options{Logger: logger}).Handler())
	env.Defer(func() {
		srv.Close()
		db.Close()
		os.RemoveAll(dir)
	})
	env.Setenv("CAIRN_URL", srv.URL)
	env.Setenv("CAIRN_USER", "tester")
	return nil
}

const exitVar = "CAIRN_TEST_EXIT"

func runCairn(ts *testscript.TestScript, neg bool, args []string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := cli.Run(ctx, args, cli.Env{
		Stdout: ts.Stdout(),
		Stderr: ts.Stderr(),
		Getenv: ts.Getenv,
		Dir:    ts.MkAbs("."),
	})
	ts.Setenv(exitVar, strconv.Itoa(code))
	switch {
	case neg && code == 0:
		ts.Fatalf("cairn succeeded unexpectedly")
	case !neg && code != 0:
		ts.Fatalf("cairn exited %d", code)
	}
}

func checkExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: exitcode N")
	}
	if got := ts.Getenv(exitVar); got != args[0] {
		ts.Fatalf("last cairn exit code is %s, want %s", got, args[0])
	}
}

func grab(ts *testscript.TestScript, neg bool, args []string) {
	file := "stdout"
	if len(args) > 0 && args[0] == "-stderr" {
		file, args = "stderr", args[1:]
	}
	if neg || len(args) != 2 {
		ts.Fatalf("usage: grab [-stderr] VAR REGEXP")
	}
	m := regexp.MustCompile(args[1]).FindStringSubmatch(ts.ReadFile(file))
	if len(m) < 2 {
		ts.Fatalf("grab: no match for %s in %s", args[1], file)
	}
	ts.Setenv(args[0], m[1])
}
