package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/sqlite"
	"github.com/cairn-registry/cairn/internal/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t testing.TB) cairn.Store {
		return open(t, filepath.Join(t.TempDir(), "cairn.db"))
	})
}

// open opens a database at path; the caller closes it.
func open(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return db
}

// createModel creates model "churn" in db unless some other handle or
// process did first.
func createModel(t testing.TB, db cairn.Store) {
	t.Helper()
	ctx := context.Background()
	err := db.Update(ctx, func(tx cairn.Tx) error {
		return tx.CreateModel(ctx, &cairn.Model{Name: "churn", Kind: cairn.KindModel, CreatedBy: "test"})
	})
	if err != nil && !cairn.IsCode(err, cairn.ECONFLICT) {
		t.Fatal(err)
	}
}

// register registers n versions of churn through db, as writer who.
func register(db cairn.Store, who string, n int) error {
	ctx := context.Background()
	for i := 0; i < n; i++ {
		if err := db.Update(ctx, func(tx cairn.Tx) error {
			_, err := storetest.Register(ctx, tx, "churn", fmt.Sprintf("%s-%d", who, i))
			return err
		}); err != nil {
			return fmt.Errorf("%s: %w", who, err)
		}
	}
	return nil
}

// Several handles on one file, opened at the same moment on a new file
// (so their migrations race) and then writing at the same time, share one
// version sequence, one audit chain and one event sequence: the database
// serializes them, not a lock in this process.
func TestHandlesShareOneFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cairn.db")
	const handles, writersPerHandle, each = 3, 2, 4
	dbs := make([]*sqlite.DB, handles)
	errs := make(chan error, handles*writersPerHandle)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			db, err := sqlite.Open(context.Background(), path)
			if err != nil {
				errs <- err
				return
			}
			dbs[i] = db
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Open: %v", err)
	}
	for _, db := range dbs {
		t.Cleanup(func() { db.Close() })
	}
	createModel(t, dbs[0])

	errs = make(chan error, handles*writersPerHandle)
	for i, db := range dbs {
		for w := 0; w < writersPerHandle; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- register(db, fmt.Sprintf("h%d-w%d", i, w), each)
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, db := range dbs {
		storetest.CheckRegistered(t, db, "churn", handles*writersPerHandle*each)
	}
}

// helperEnv, when set, makes TestHelperProcess act as a second `cairn serve`
// process: it opens the database named by the variable and registers
// versions.
const helperEnv = "CAIRN_SQLITE_TEST_HELPER_DB"

// Two processes on one file, started together on a database that does
// not exist yet: both migrate it (once), both register versions, and the
// numbers, audit chain and events come out gap-free.
func TestTwoProcesses(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cairn.db")
	const procs, each = 2, 10
	cmds := make([]*exec.Cmd, procs)
	outs := make([]*bytes.Buffer, procs)
	for i := range cmds {
		cmds[i] = exec.CommandContext(t.Context(), exe, "-test.run=^TestHelperProcess$", "-test.count=1")
		cmds[i].Env = append(os.Environ(), helperEnv+"="+path, fmt.Sprintf("CAIRN_SQLITE_TEST_HELPER_WHO=p%d", i),
			fmt.Sprintf("CAIRN_SQLITE_TEST_HELPER_N=%d", each))
		outs[i] = new(bytes.Buffer)
		cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
	}
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i])
		}
		if !strings.Contains(outs[i].String(), "registered") {
			t.Fatalf("process %d did not run the helper:\n%s", i, outs[i])
		}
	}
	db := open(t, path)
	defer db.Close()
	storetest.CheckRegistered(t, db, "churn", procs*each)
}

// TestHelperProcess is the body of TestTwoProcesses's subprocesses; run
// directly, it does nothing.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		return
	}
	n, err := strconv.Atoi(os.Getenv("CAIRN_SQLITE_TEST_HELPER_N"))
	if err != nil {
		t.Fatal(err)
	}
	who := os.Getenv("CAIRN_SQLITE_TEST_HELPER_WHO")
	db := open(t, path)
	defer db.Close()
	createModel(t, db)
	if err := register(db, who, n); err != nil {
		t.Fatal(err)
	}
	fmt.Println("registered", n)
}

// A transaction whose context ends before it commits is rolled back, and
// Update says so.
func TestUpdateContextCanceled(t *testing.T) {
	t.Parallel()
	db := open(t, filepath.Join(t.TempDir(), "cairn.db"))
	defer db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	err := db.Update(ctx, func(tx cairn.Tx) error {
		if err := tx.CreateModel(ctx, &cairn.Model{Name: "churn", Kind: cairn.KindModel, CreatedBy: "a"}); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update with a canceled context = %v, want context.Canceled", err)
	}
	if _, err := db.GetModel(context.Background(), "churn"); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Fatalf("GetModel after the canceled Update: %v, want not_found", err)
	}
	// The write connection is usable again.
	createModel(t, db)
	if _, err := db.GetModel(context.Background(), "churn"); err != nil {
		t.Fatal(err)
	}
}

// A panic in fn rolls the transaction back, propagates, and leaves the
// write connection usable.
func TestUpdatePanic(t *testing.T) {
	t.Parallel()
	db := open(t, filepath.Join(t.TempDir(), "cairn.db"))
	defer db.Close()
	ctx := context.Background()
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the panic from fn", r)
			}
		}()
		db.Update(ctx, func(tx cairn.Tx) error {
			if err := tx.CreateModel(ctx, &cairn.Model{Name: "churn", Kind: cairn.KindModel, CreatedBy: "a"}); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	if _, err := db.GetModel(ctx, "churn"); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Fatalf("GetModel after a panicking Update: %v, want not_found", err)
	}
	createModel(t, db)
}

// TestAuditTamper edits the audit log in the database file directly and
// checks that verification names the damage.
func TestAuditTamper(t *testing.T) {
	t.Parallel()
	storetest.RunTamper(t, func(t testing.TB) (cairn.Store, storetest.Exec) {
		path := filepath.Join(t.TempDir(), "cairn.db")
		db := open(t, path)
		return db, func(t testing.TB, stmt string) {
			t.Helper()
			raw, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if _, err := raw.ExecContext(t.Context(), stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
	})
}

// BenchmarkLineage: a 10,000-version graph 50 layers deep, walked 50 hops
// (see storetest.BenchLineage).
func BenchmarkLineage(b *testing.B) {
	db := open(b, filepath.Join(b.TempDir(), "cairn.db"))
	defer db.Close()
	storetest.BenchLineage(b, db)
}

// BenchmarkLineageDiamonds: the same walks over a graph of diamonds
// (see storetest.BenchLineageDiamonds).
func BenchmarkLineageDiamonds(b *testing.B) {
	db := open(b, filepath.Join(b.TempDir(), "cairn.db"))
	defer db.Close()
	storetest.BenchLineageDiamonds(b, db)
}
