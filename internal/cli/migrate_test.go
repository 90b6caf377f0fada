package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/cli"
	"github.com/cairn-registry/cairn/internal/fsblob"
	"github.com/cairn-registry/cairn/internal/migrate"
	"github.com/cairn-registry/cairn/internal/postgres"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/s3blob"
	"github.com/cairn-registry/cairn/internal/sqlite"
	"github.com/cairn-registry/cairn/internal/testenv"
)

// migrateCmd runs the command in-process and returns its exit code, stdout
// and stderr.
func migrateCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(t.Context(), args, nil, &out, &errb)
	return code, out.String(), errb.String()
}

// seedDataDir builds a small registry in dir as `cairn serve --data dir`
// keeps it, through the registry service, and closes it.
func seedDataDir(t *testing.T, dir string) {
	t.Helper()
	ctx := cairn.NewContextWithActor(t.Context(), cairn.Actor{Name: "alice"})
	db, err := sqlite.Open(ctx, filepath.Join(dir, "cairn.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	svc := registry.New(db, blobs, registry.Options{})
	for i, body := range []string{"weights one", "weights two", "weights three"} {
		d := cairn.DigestOf([]byte(body))
		res, err := svc.CreateVersion(ctx, "churn", cairn.VersionSpec{
			Files:   []cairn.File{{Path: "model.bin", Size: int64(len(body)), Digest: d}},
			Metrics: map[string]float64{"auc": 0.8 + float64(i)/100},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Missing) > 0 {
			if err := svc.PutBlob(ctx, d, int64(len(body)), strings.NewReader(body)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.FinalizeVersion(ctx, "churn", res.Version.Number, []string{"champion"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.DeleteVersion(ctx, "churn", 1, false); err != nil {
		t.Fatal(err)
	}
}

// snapshot is what the CLI test compares between the two sides: every
// version (deleted ones too), the alias history and the audit log.
type snapshot struct {
	Versions []*cairn.Version
	History  []*cairn.AliasMove
	Audit    []*cairn.AuditEntry
	Events   []*cairn.Event
	Blob     string
}

func takeSnapshot(t *testing.T, st cairn.Store, blobs cairn.BlobStore) snapshot {
	t.Helper()
	ctx := t.Context()
	var s snapshot
	vs, err := st.ListVersions(ctx, cairn.VersionQuery{IncludeDeleted: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Versions = vs.Items
	h, err := st.AliasHistory(ctx, "churn", "", cairn.Page{})
	if err != nil {
		t.Fatal(err)
	}
	s.History = h.Items
	if s.Audit, err = st.ListAudit(ctx, cairn.AuditQuery{Limit: 1000}); err != nil {
		t.Fatal(err)
	}
	if s.Events, err = st.ListEvents(ctx, 0, 1000); err != nil {
		t.Fatal(err)
	}
	r, _, err := blobs.Open(ctx, cairn.DigestOf([]byte("weights two")))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	s.Blob = b.String()
	return s
}

func sqliteSnapshot(t *testing.T, dir string) snapshot {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "cairn.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return takeSnapshot(t, db, blobs)
}

// TestMigrateStoreCommand drives `cairn migrate-store` from a data
// directory to PostgreSQL + S3 (given as URLs, as serve takes them) and
// back to a new data directory.
func TestMigrateStoreCommand(t *testing.T) {
	pgURL := testenv.PostgresURL(t)
	s3env := testenv.S3(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s3env.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3env.SecretKey)
	s3URL := "s3://" + s3env.Bucket + "/registry?" + url.Values{"endpoint": {s3env.Endpoint}, "region": {s3env.Region}}.Encode()

	src := t.TempDir()
	seedDataDir(t, src)
	want := sqliteSnapshot(t, src)
	if len(want.Versions) != 3 || len(want.History) != 3 || len(want.Audit) == 0 {
		t.Fatalf("seeded registry: %d versions, %d alias moves, %d audit entries", len(want.Versions), len(want.History), len(want.Audit))
	}

	code, stdout, stderr := migrateCmd(t, "migrate-store", "--from-data", src, "--to-db", pgURL, "--to-blobs", s3URL, "--batch", "2")
	if code != 0 {
		t.Fatalf("migrate-store to PostgreSQL + S3: exit %d\n%s", code, stderr)
	}
	for _, row := range []string{"versions", "audit entries", "alias moves", "blobs"} {
		if !strings.Contains(stdout, row) {
			t.Errorf("stdout lacks a %q row:\n%s", row, stdout)
		}
	}
	if !strings.Contains(stderr, "versions: 3 copied, 0 already there; blobs: 3 copied") {
		t.Errorf("stderr does not report the versions phase:\n%s", stderr)
	}
	if strings.Contains(stdout, "copying") {
		t.Errorf("progress on stdout:\n%s", stdout)
	}

	pg, err := postgres.Open(t.Context(), pgURL, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := s3blob.ParseURL(s3URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AccessKey, cfg.SecretKey, cfg.TempDir = s3env.AccessKey, s3env.SecretKey, t.TempDir()
	s3, err := s3blob.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := takeSnapshot(t, pg, s3)
	pg.Close()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("PostgreSQL + S3 after migrate-store (-source +target):\n%s", diff)
	}

	// Again: nothing left to copy; --json prints the report.
	code, stdout, stderr = migrateCmd(t, "migrate-store", "--json", "--from-data", src, "--to-db", pgURL, "--to-blobs", s3URL)
	if code != 0 {
		t.Fatalf("second migrate-store: exit %d\n%s", code, stderr)
	}
	var rep migrate.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json output %q: %v", stdout, err)
	}
	if rep.Phase != "done" || rep.Copied[migrate.KindVersions] != 0 || rep.Skipped[migrate.KindVersions] != 3 ||
		rep.Skipped[migrate.KindAudit] != int64(len(want.Audit)) {
		t.Errorf("second run's report: %+v", rep)
	}
	if !strings.Contains(stderr, fmt.Sprintf("audit entries: 0 copied, %d already there", len(want.Audit))) {
		t.Errorf("second run's stderr does not count the audit log as there:\n%s", stderr)
	}

	// Another registry cannot be copied onto this one.
	other := t.TempDir()
	seedDataDir(t, other)
	code, _, stderr = migrateCmd(t, "migrate-store", "--from-data", other, "--to-db", pgURL, "--to-blobs", s3URL)
	if code != 1 || !strings.Contains(stderr, "is not a copy of the source") {
		t.Errorf("migrate-store onto another registry: exit %d, stderr:\n%s", code, stderr)
	}

	// Back to a new data directory.
	back := filepath.Join(t.TempDir(), "copy")
	code, _, stderr = migrateCmd(t, "migrate-store", "--from-db", pgURL, "--from-blobs", s3URL, "--to-data", back)
	if code != 0 {
		t.Fatalf("migrate-store back to a data directory: exit %d\n%s", code, stderr)
	}
	if diff := cmp.Diff(want, sqliteSnapshot(t, back)); diff != "" {
		t.Fatalf("data directory after migrate-store back (-source +copy):\n%s", diff)
	}
}

// TestMigrateStoreUsage: what the command refuses before touching
// anything.
func TestMigrateStoreUsage(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	seedDataDir(t, src)
	missing := filepath.Join(t.TempDir(), "nope")
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no source", []string{"--to-data", t.TempDir()}, 2, "--from-data DIR, or --from-db and --from-blobs"},
		{"no target", []string{"--from-data", src}, 2, "--to-data DIR, or --to-db and --to-blobs"},
		{"db without blobs", []string{"--from-db", filepath.Join(src, "cairn.db"), "--to-data", t.TempDir()}, 2, "--from-db and --from-blobs"},
		{"missing source", []string{"--from-data", missing, "--to-data", t.TempDir()}, 3, "does not exist"},
		{"same storage", []string{"--from-data", src, "--to-data", src}, 2, "share a database or a blob store"},
		{"bad batch", []string{"--from-data", src, "--to-data", t.TempDir(), "--batch", "0"}, 2, "--batch 0"},
		{"bad database URL", []string{"--from-data", src, "--to-db", "mysql://x", "--to-blobs", t.TempDir()}, 1, "unsupported database URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := migrateCmd(t, append([]string{"migrate-store"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.msg) || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit %d and %q", code, stdout, stderr, tc.code, tc.msg)
			}
		})
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("a missing source was created: %v", err)
	}
}

// TestExportImportCommands drives `cairn export` and `cairn import`
// through a file and through a pipe.
func TestExportImportCommands(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	seedDataDir(t, src)
	want := sqliteSnapshot(t, src)
	archive := filepath.Join(t.TempDir(), "registry.tar")

	code, stdout, stderr := migrateCmd(t, "export", "--data", src, "-o", archive, "--batch", "2")
	if code != 0 || stdout != "" {
		t.Fatalf("export: exit %d, stdout %q\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(archive + ".partial"); !os.IsNotExist(err) {
		t.Errorf("export left %s.partial: %v", archive, err)
	}
	if code, _, stderr := migrateCmd(t, "export", "--data", src, "-o", archive); code != 4 || !strings.Contains(stderr, "already exists") {
		t.Errorf("export over an existing file: exit %d\n%s", code, stderr)
	}

	dst := filepath.Join(t.TempDir(), "imported")
	code, stdout, stderr = migrateCmd(t, "import", archive, "--data", dst)
	if code != 0 || !strings.Contains(stdout, "audit entries") {
		t.Fatalf("import: exit %d, stdout %q\n%s", code, stdout, stderr)
	}
	if diff := cmp.Diff(want, sqliteSnapshot(t, dst)); diff != "" {
		t.Fatalf("after import (-source +imported):\n%s", diff)
	}
	code, stdout, stderr = migrateCmd(t, "import", archive, "--data", dst, "--json")
	var rep migrate.Report
	if code != 0 || json.Unmarshal([]byte(stdout), &rep) != nil || rep.Skipped[migrate.KindVersions] != 3 || rep.Copied[migrate.KindVersions] != 0 {
		t.Fatalf("importing again: exit %d, stdout %s\n%s", code, stdout, stderr)
	}

	// Through a pipe: export to stdout, import from stdin.
	var tarball, errb bytes.Buffer
	if code := cli.Main(t.Context(), []string{"export", "--data", src, "-o", "-"}, nil, &tarball, &errb); code != 0 {
		t.Fatalf("export -o -: exit %d\n%s", code, errb.String())
	}
	piped := filepath.Join(t.TempDir(), "piped")
	var out bytes.Buffer
	errb.Reset()
	if code := cli.Main(t.Context(), []string{"import", "-", "--data", piped}, &tarball, &out, &errb); code != 0 {
		t.Fatalf("import -: exit %d\n%s", code, errb.String())
	}
	if diff := cmp.Diff(want, sqliteSnapshot(t, piped)); diff != "" {
		t.Fatalf("after export | import (-source +imported):\n%s", diff)
	}

	garbage := filepath.Join(t.TempDir(), "garbage.tar")
	if err := os.WriteFile(garbage, []byte("not a tar"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"export without output", []string{"export", "--data", src}, 2, "-o FILE"},
		{"export without source", []string{"export", "-o", filepath.Join(t.TempDir(), "x.tar")}, 2, "--data DIR"},
		{"export of a missing registry", []string{"export", "--data", filepath.Join(t.TempDir(), "nope"), "-o", filepath.Join(t.TempDir(), "x.tar")}, 3, "does not exist"},
		{"import without target", []string{"import", archive}, 2, "--data DIR"},
		{"import of a missing file", []string{"import", filepath.Join(t.TempDir(), "nope.tar"), "--data", t.TempDir()}, 3, "open archive"},
		{"import of garbage", []string{"import", garbage, "--data", t.TempDir()}, 1, "not a Cairn archive"},
		{"import onto another registry", []string{"import", archive, "--data", func() string { d := t.TempDir(); seedDataDir(t, d); return d }()}, 1, "not a copy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := migrateCmd(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.msg) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr, tc.code, tc.msg)
			}
		})
	}
}
