package cli

import (
	"errors"
	"fmt"
	"io"
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
history, runs with their metric history, lineage edges, policies with every
version, approval requests in their state (pending ones with their approvals
so far and their expiry; decided ones with their decisions), every audit entry
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

	opts.Progress = a.phasePrinter()
	rep, err := migrate.Copy(ctx, src, dst, opts)
	if err != nil {
		if errors.Is(err, ctx.Err()) || !cairn.IsCode(err, cairn.EFAILEDPRECONDITION) {
			return withHint(fmt.Errorf("migrate-store stopped while copying %s: %w", rep.Phase, err),
				"run the same command again: it resumes, skipping what the target has")
		}
		return err
	}
	return a.printReport(rep)
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
	case migrate.KindPolicies:
		line += fmt.Sprintf(" (%d versions copied, %d already there)",
			r.Copied[migrate.KindPolicyVersions], r.Skipped[migrate.KindPolicyVersions])
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

func (a *app) exportCommand() *cobra.Command {
	var (
		from   migrateSide
		output string
		opts   migrate.Options
	)
	c := &cobra.Command{
		Use:   "export -o FILE",
		Short: "Write a whole registry to one archive file (tar)",
		Long: `Write a whole registry — models, versions and their blobs, aliases and
their history, runs with metric histories, lineage, policies with every
version, approval requests, the audit log and the events, each with its
identity — to one tar archive, for 'cairn import' to
read into other storage or to keep as a copy. The registry is named as
'cairn serve' takes it: --data DIR, or --db and --blobs.

Stop every server on the registry first. The archive ends with a record of
where the registry ended, written only if it did not change during the
export; 'cairn import' refuses to finish an archive without it. The file is
written as FILE.partial and renamed when complete; -o - writes the archive
to stdout (and the report to stderr).

The archive is a tar of JSON-lines chunks (audit_entries/, events/,
models/, versions/, aliases/, alias_moves/, runs/, lineage_edges/,
policies/, approval_requests/, …) and the
blobs (blobs/sha256/<hex>), streamed: memory stays flat whatever the
registry's size. Upload sessions in progress and idempotency keys are not
exported.`,
		Example: `  cairn export --data ./cairn-data -o registry.tar
  cairn export --db postgres://cairn@db/cairn --blobs 's3://models/cairn?region=eu-west-1' -o - | gzip > registry.tar.gz`,
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return a.export(c, from, output, opts)
		},
	}
	f := c.Flags()
	f.StringVar(&from.data, "data", "", "data directory: its cairn.db and blobs/, unless --db/--blobs say otherwise")
	f.StringVar(&from.db, "db", "", "metadata database: a SQLite file path or a postgres:// URL")
	f.StringVar(&from.blobs, "blobs", "", "blob store: a directory or an s3:// URL")
	f.StringVarP(&output, "output", "o", "", "archive file to write, or - for stdout (required)")
	f.IntVar(&opts.Batch, "batch", 500, "records per chunk (1 to 1000)")
	c.AddCommand(a.exportGTOCommand())
	return c
}

func (a *app) export(c *cobra.Command, from migrateSide, output string, opts migrate.Options) error {
	if from.data == "" && (from.db == "" || from.blobs == "") {
		return usageErr(c, "say where the registry is: --data DIR, or --db and --blobs")
	}
	if output == "" {
		return usageErr(c, "say where to write the archive: -o FILE, or -o - for stdout")
	}
	if opts.Batch < 1 || opts.Batch > 1000 {
		return usageErr(c, "--batch %d: want 1 to 1000", opts.Batch)
	}
	toStdout := output == "-"
	if !toStdout {
		output = a.path(output)
		if _, err := os.Stat(output); err == nil {
			return withHint(cairn.Errorf(cairn.ECONFLICT, "%s already exists", output), "remove it or choose another file")
		}
	}
	if err := a.sourceExists(from); err != nil {
		return err
	}
	src, desc, err := a.openSide(c, from)
	if err != nil {
		return err
	}
	defer closeSide(src)
	a.infof("exporting the registry in %s and %s", desc[0], desc[1])
	opts.Progress = a.phasePrinter()

	var rep *migrate.Report
	if toStdout {
		rep, err = migrate.Export(c.Context(), src, a.stdout(), opts)
		if err != nil {
			return err
		}
	} else {
		partial := output + ".partial"
		f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
		if err != nil {
			return fmt.Errorf("create archive: %w", err)
		}
		rep, err = migrate.Export(c.Context(), src, f, opts)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(partial)
			return err
		}
		if err := os.Rename(partial, output); err != nil {
			return fmt.Errorf("finish archive: %w", err)
		}
	}
	a.infof("wrote %d audit entries, %d versions and %d blobs (%s) to %s",
		rep.Copied[migrate.KindAudit], rep.Copied[migrate.KindVersions], rep.Copied[migrate.KindBlobs], formatBytes(rep.BlobBytes), output)
	if a.json && !toStdout {
		return a.printJSON(rep)
	}
	return nil
}

func (a *app) importCommand() *cobra.Command {
	var (
		to   migrateSide
		opts migrate.Options
	)
	c := &cobra.Command{
		Use:   "import ARCHIVE",
		Short: "Read an archive from 'cairn export' into a registry's storage",
		Long: `Read an archive written by 'cairn export' (a file, or - for stdin) into
a registry's storage, named as 'cairn serve' takes it: --data DIR, or --db
and --blobs. Everything keeps its identity, as with 'cairn migrate-store':
numbers, aliases and their history, the audit chain byte for byte, the
event sequence; new writes continue after them.

The target must be empty, or hold what an interrupted import of the same
archive left: run the same command again and it skips what is there and
imports the rest. Every blob is checked against its digest and every audit
entry against the chain as it is written, and at the end the target must
end where the archive says its source did; an archive that was cut off is
refused at its end. Stop servers on the target while importing, and start
them once the command has finished.`,
		Example: `  cairn import registry.tar --db postgres://cairn@db/cairn --blobs 's3://models/cairn?region=eu-west-1'
  gunzip -c registry.tar.gz | cairn import - --data ./cairn-data`,
		Args: exactArgs("ARCHIVE"),
		RunE: func(c *cobra.Command, args []string) error {
			return a.importArchive(c, args[0], to, opts)
		},
	}
	f := c.Flags()
	f.StringVar(&to.data, "data", "", "data directory: its cairn.db and blobs/, unless --db/--blobs say otherwise")
	f.StringVar(&to.db, "db", "", "metadata database: a SQLite file path or a postgres:// URL")
	f.StringVar(&to.blobs, "blobs", "", "blob store: a directory or an s3:// URL")
	f.IntVar(&opts.Batch, "batch", 500, "records per target transaction (1 to 1000)")
	c.AddCommand(a.importMLflowCommand(), a.importGTOCommand())
	return c
}

func (a *app) importArchive(c *cobra.Command, archive string, to migrateSide, opts migrate.Options) error {
	if to.data == "" && (to.db == "" || to.blobs == "") {
		return usageErr(c, "say where to import: --data DIR, or --db and --blobs")
	}
	if opts.Batch < 1 || opts.Batch > 1000 {
		return usageErr(c, "--batch %d: want 1 to 1000", opts.Batch)
	}
	var r io.Reader = a.env.Stdin
	if archive != "-" {
		f, err := os.Open(a.path(archive))
		if err != nil {
			return cairn.WrapError(cairn.ENOTFOUND, err, "open archive")
		}
		defer f.Close()
		r = f
	}
	dst, desc, err := a.openSide(c, to)
	if err != nil {
		return err
	}
	defer closeSide(dst)
	a.infof("importing %s into %s and %s", archive, desc[0], desc[1])
	opts.Progress = a.phasePrinter()
	rep, err := migrate.Import(c.Context(), r, dst, opts)
	if err != nil {
		if !cairn.IsCode(err, cairn.EFAILEDPRECONDITION) && !cairn.IsCode(err, cairn.EINVALID) {
			return withHint(fmt.Errorf("import stopped while importing %s: %w", rep.Phase, err),
				"run the same command again: it resumes, skipping what the target has")
		}
		return err
	}
	return a.printReport(rep)
}

// phasePrinter returns a Progress function that reports each phase on
// stderr once it has finished. Counts are totals so far, so when a phase
// starts the previous one's are final.
func (a *app) phasePrinter() func(migrate.Report) {
	last := ""
	return func(r migrate.Report) {
		if r.Phase != last && last != "" && last != "verify" {
			a.printPhase(last, r)
		}
		last = r.Phase
	}
}

// printReport prints what a copy or an import did: a table, or the report
// as JSON.
func (a *app) printReport(rep *migrate.Report) error {
	if a.json {
		return a.printJSON(rep)
	}
	t := newTable(a.stdout(), "RECORDS", "COPIED", "ALREADY THERE")
	for _, k := range []string{migrate.KindAudit, migrate.KindEvents, migrate.KindModels, migrate.KindVersions,
		migrate.KindBlobs, migrate.KindAliases, migrate.KindAliasMoves, migrate.KindRuns, migrate.KindEdges,
		migrate.KindPolicies, migrate.KindPolicyVersions, migrate.KindApprovals} {
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
