package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/migrate"
)

// migrateSide is one side of `cairn migrate-store`, given as serve takes
// its stores: a data directory, and/or a database and a blob store.
type migrateSide struct {
	data, db, blobs string
}

func (a *app) migrateStoreCommand() *cobra.Command {
	var (
		from, to migrateSide
		opts     migrate.Options
	)
	c := &cobra.Command{
		Use:   "migrate-store",
		Short: "Copy a whole registry to other storage (SQLite + disk ⇄ PostgreSQL + S3)",
		Long: `Copy a whole registry from one metadata database and blob store to
another: from the SQLite database and blob directory of a data directory to
PostgreSQL and S3 as a registry grows, or back. Each side is given as
'cairn serve' takes it: --from-data DIR (DIR/cairn.db and DIR/blobs), or
--from-db (a SQLite file path or a postgres:// URL) and --from-blobs (a
directory or an s3://bucket/prefix?endpoint=…&region=… URL), which override
the data directory's; likewise --to-data, --to-db and --to-blobs. S3
credentials come from the standard AWS variables (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY), a profile or an instance role.

Everything keeps its identity: model and version numbers, times, tags,
lifecycle state (archived, deleted, pending, stage), aliases and their full
history, runs with their metric history, lineage edges, every audit entry
byte for byte with its sequence number and hashes (so the audit chain
verifies on the copy), and every event with its sequence number and id
(webhook consumers reading the feed by cursor continue where they were).
Every blob a version refers to is streamed across and verified against its
digest. New writes on the copy continue every number and sequence.

Not copied: upload sessions in progress and idempotency keys (both
short-lived: a client whose upload was cut off starts it again), and blobs
no version refers to (garbage that 'cairn gc' would remove).

Stop every server on the source first. The target must be empty, or be
the target of an earlier, interrupted run of this same copy: the command is
resumable. Run it again and it checks that the target's audit log is a
prefix of the source's, then skips what the target has (blobs by digest,
records by their keys, each compared with the source's) and copies the
rest. A target that holds anything else is refused, unchanged. The copy
ends by checking that source and target end at the same audit entry and
event and hold as many models and runs; if the source was written to
meanwhile, the command fails and says so. Start servers on the target once
the command has finished.

Progress goes to stderr; a table of what was copied (with --json, the
report as JSON) to stdout.`,
		Example: `  # SQLite + local disk to PostgreSQL + S3:
  cairn migrate-store --from-data ./cairn-data \
      --to-db postgres://cairn@db.internal/cairn \
      --to-blobs 's3://models/cairn?endpoint=https://s3.example.com&region=us-east-1'

  # and back, into a new data directory:
  cairn migrate-store --from-db postgres://cairn@db.internal/cairn \
      --from-blobs 's3://models/cairn?region=us-east-1' --to-data ./cairn-copy`,
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return a.migrateStore(c, from, to, opts)
		},
	}
	f := c.Flags()
	f.StringVar(&from.data, "from-data", "", "source data directory: its cairn.db and blobs/, unless --from-db/--from-blobs say otherwise")
	f.StringVar(&from.db, "from-db", "", "source metadata database: a SQLite file path or a postgres:// URL")
	f.StringVar(&from.blobs, "from-blobs", "", "source blob store: a directory or an s3:// URL")
	f.StringVar(&to.data, "to-data", "", "target data directory: its cairn.db and blobs/, unless --to-db/--to-blobs say otherwise")
	f.StringVar(&to.db, "to-db", "", "target metadata database: a SQLite file path or a postgres:// URL")
	f.StringVar(&to.blobs, "to-blobs", "", "target blob store: a directory or an s3:// URL")
	f.IntVar(&opts.Batch, "batch", 500, "records per target transaction (1 to 1000)")
	f.IntVar(&opts.BlobWorkers, "blob-workers", 4, "blobs copied at once")
	return c
}

// check says what is missing from one side's settings.
func (s migrateSide) check(c *cobra.Command, side string) error {
	if s.data == "" && (s.db == "" || s.blobs == "") {
		return usageErr(c, "say where the %s registry is: --%s-data DIR, or --%s-db and --%s-blobs", side, side, side, side)
	}
	return nil
}

// settings returns the side as serve's settings, so that the stores open
// exactly as `cairn serve` opens them.
func (s migrateSide) settings() *serveSettings {
	return &serveSettings{data: s.data, db: s.db, blobs: s.blobs}
}

func (a *app) migrateStore(c *cobra.Command, from, to migrateSide, opts migrate.Options) error {
	if err := from.check(c, "from"); err != nil {
		return err
	}
	if err := to.check(c, "to"); err != nil {
		return err
	}
	if opts.Batch < 1 || opts.Batch > 1000 {
		return usageErr(c, "--batch %d: want 1 to 1000", opts.Batch)
	}
	if opts.BlobWorkers < 1 || opts.BlobWorkers > 64 {
		return usageErr(c, "--blob-workers %d: want 1 to 64", opts.BlobWorkers)
	}
	// Opening a SQLite database or a blob directory creates it: a source
	// named by mistake must not be created empty and "copied".
	if err := a.sourceExists(from); err != nil {
		return err
	}
	ctx := c.Context()
	src, srcDesc, err := a.openSide(c, from)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer closeSide(src)
	dst, dstDesc, err := a.openSide(c, to)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer closeSide(dst)
	if srcDesc[0] == dstDesc[0] || srcDesc[1] == dstDesc[1] {
		return usageErr(c, "the source and the target share a database or a blob store; copy to other storage")
	}
	a.infof("copying the registry in %s and %s to %s and %s", srcDesc[0], srcDesc[1], dstDesc[0], dstDesc[1])

	// Counts are totals so far, so when a phase starts the previous one's
	// are final.
	last := ""
	opts.Progress = func(r migrate.Report) {
		if r.Phase != last && last != "" {
			a.printPhase(last, r)
		}
		last = r.Phase
	}
	rep, err := migrate.Copy(ctx, src, dst, opts)
	if err != nil {
		if errors.Is(err, ctx.Err()) || !cairn.IsCode(err, cairn.EFAILEDPRECONDITION) {
			return withHint(fmt.Errorf("migrate-store stopped while copying %s: %w", rep.Phase, err),
				"run the same command again: it resumes, skipping what the target has")
		}
		return err
	}
	if a.json {
		return a.printJSON(rep)
	}
	t := newTable(a.stdout(), "RECORDS", "COPIED", "ALREADY THERE")
	for _, k := range []string{migrate.KindAudit, migrate.KindEvents, migrate.KindModels, migrate.KindVersions,
		migrate.KindBlobs, migrate.KindAliases, migrate.KindAliasMoves, migrate.KindRuns, migrate.KindEdges} {
		t.row(strings.ReplaceAll(k, "_", " "), rep.Copied[k], rep.Skipped[k])
	}
	if err := t.flush(); err != nil {
		return err
	}
	a.infof("done: %s of blobs copied", formatBytes(rep.BlobBytes))
	if rep.AbsentBlobs > 0 {
		a.infof("%d file(s) of pending or failed versions were never uploaded to the source; the versions were copied as they are", rep.AbsentBlobs)
	}
	return nil
}

// printPhase reports a finished phase on stderr.
func (a *app) printPhase(phase string, r migrate.Report) {
	line := fmt.Sprintf("%s: %d copied, %d already there", strings.ReplaceAll(phase, "_", " "), r.Copied[phase], r.Skipped[phase])
	switch phase {
	case migrate.KindVersions:
		line += fmt.Sprintf("; blobs: %d copied (%s), %d already there",
			r.Copied[migrate.KindBlobs], formatBytes(r.BlobBytes), r.Skipped[migrate.KindBlobs])
	case migrate.KindAliases:
		line += fmt.Sprintf("; alias moves: %d copied, %d already there",
			r.Copied[migrate.KindAliasMoves], r.Skipped[migrate.KindAliasMoves])
	}
	a.infof("%s", line)
}

// openSide opens one side's stores as serve does, and describes them.
func (a *app) openSide(c *cobra.Command, s migrateSide) (migrate.Stores, [2]string, error) {
	ctx := c.Context()
	meta, metaDesc, err := a.openStore(ctx, s.settings(), 0)
	if err != nil {
		return migrate.Stores{}, [2]string{}, err
	}
	blobs, blobsDesc, err := a.openBlobs(ctx, s.settings())
	if err != nil {
		meta.Close()
		return migrate.Stores{}, [2]string{}, err
	}
	return migrate.Stores{Meta: meta, Blobs: blobs}, [2]string{metaDesc, blobsDesc}, nil
}

func closeSide(s migrate.Stores) {
	s.Meta.Close()
	if cl, ok := s.Blobs.(interface{ Close() error }); ok {
		cl.Close()
	}
}

// sourceExists checks that the source's local database file and blob
// directory exist. URLs are checked by connecting.
func (a *app) sourceExists(s migrateSide) error {
	local := func(setting string, prefixes ...string) (string, bool) {
		for _, p := range prefixes {
			setting = strings.TrimPrefix(setting, p)
		}
		return setting, !strings.Contains(setting, "://")
	}
	db, blobs := s.db, s.blobs
	if db == "" {
		db = filepath.Join(s.data, "cairn.db")
	}
	if blobs == "" {
		blobs = filepath.Join(s.data, "blobs")
	}
	if p, ok := local(db, "sqlite://", "sqlite:"); ok {
		if fi, err := os.Stat(a.path(p)); err != nil || !fi.Mode().IsRegular() {
			return withHint(cairn.Errorf(cairn.ENOTFOUND, "source database %s does not exist", p),
				"name the data directory 'cairn serve' used with --from-data, or its database with --from-db")
		}
	}
	if p, ok := local(blobs, "file://", "file:"); ok {
		if fi, err := os.Stat(a.path(p)); err != nil || !fi.IsDir() {
			return withHint(cairn.Errorf(cairn.ENOTFOUND, "source blob directory %s does not exist", p),
				"name the data directory 'cairn serve' used with --from-data, or its blob store with --from-blobs")
		}
	}
	return nil
}
