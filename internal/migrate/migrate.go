// Package migrate copies a whole registry from one pair of stores to
// another — SQLite and a blob directory to PostgreSQL and S3, or back —
// keeping every identity: model and version numbers, times, aliases and
// their full history, runs with their metric history, lineage edges,
// policies with every version and approval requests in their state (see
// governance.go), every audit entry byte for byte (so the hash chain
// verifies on the target) and every event with its sequence number and
// id. Copy goes store to store (`cairn migrate-store`); Export and Import
// go through one tar archive (`cairn export`, `cairn import`; see
// archive.go).
//
// A walker (walk.go) reads the source through cairn.Exporter and the
// ordinary lists; the import side (sink.go) writes through cairn.Importer
// in batches, one target transaction per batch, and is resumable: run it
// again after an interruption and it skips what the target has already
// (blobs by digest, records by their keys) and copies the rest. Counters
// end where the source's are, so writes on the target continue gap-free.
//
// Not copied: upload sessions in progress and idempotency keys (both
// short-lived; a client whose upload was cut off starts it again), blobs
// no version refers to (garbage a collection would remove), and webhook
// delivery logs (see webhooks.go; subscriptions, cursors and pending dead
// letters are copied).
//
// The source must not change during the copy: stop its servers first. A
// change is detected (see verify.go) and fails the copy rather than
// leaving a target that quietly differs.
package migrate

import (
	"context"
	"fmt"

	"github.com/cairn-registry/cairn"
)

// Stores is one side of a copy: a metadata store and its blob store.
type Stores struct {
	Meta  cairn.Store
	Blobs cairn.BlobStore
}

// Options tune Copy. The zero value is usable.
type Options struct {
	// Batch is how many records go into one target transaction; 0 means
	// 500. A bigger batch commits less often; an interrupted copy redoes
	// at most one batch.
	Batch int
	// BlobWorkers is how many blobs are copied at once; 0 means 4. Blobs
	// stream through (never held whole in memory), so each worker holds
	// one buffer.
	BlobWorkers int
	// Progress, if set, is called after every batch with the totals so
	// far. It is called from one goroutine at a time.
	Progress func(Report)
}

// Report counts what a copy did. Copied counts records written to the
// target now; Skipped counts records the target had already (from an
// earlier, interrupted copy).
type Report struct {
	Phase   string           `json:"phase"` // the phase running, or "done"
	Copied  map[string]int64 `json:"copied"`
	Skipped map[string]int64 `json:"skipped"`
	// BlobBytes is the number of bytes of the blobs copied now.
	BlobBytes int64 `json:"blob_bytes"`
	// AbsentBlobs counts files of pending or failed versions that the
	// source never received (an upload that did not finish): there is
	// nothing to copy, and the version is copied as it is.
	AbsentBlobs int64 `json:"absent_blobs"`
}

// The kinds of records a Report counts.
const (
	KindAudit      = "audit_entries"
	KindEvents     = "events"
	KindModels     = "models"
	KindVersions   = "versions"
	KindBlobs      = "blobs"
	KindAliases    = "aliases"
	KindAliasMoves = "alias_moves"
	KindRuns       = "runs"
	KindEdges      = "lineage_edges"
	KindSignals    = "signals"
	// KindCheckpoints are the signed audit checkpoints, copied as they
	// are: they sign (seq, hash) pairs the copied chain keeps.
	KindCheckpoints = "audit_checkpoints"
	KindExperiments = "experiments"
	// KindLoggedModels are MLflow 3's logged models, deleted ones too.
	KindLoggedModels = "logged_models"
)

// Copy copies the registry in src to dst. dst must be empty, or hold what
// an interrupted Copy from the same src left: its audit log must be a
// prefix of src's (checked by hash) and its events a prefix of src's
// (checked by id); otherwise Copy returns EFAILEDPRECONDITION and writes
// nothing. Both metadata stores must implement cairn.Exporter and their
// transactions cairn.Importer (SQLite and PostgreSQL do).
//
// Copy returns what it did so far even when it fails; running it again
// resumes. Once everything is copied it verifies the result (phase
// "verify") and returns EFAILEDPRECONDITION if the source changed during
// the copy or since an interrupted one.
func Copy(ctx context.Context, src, dst Stores, opts Options) (*Report, error) {
	c := newCopier(opts)
	c.src, c.dst = src, dst
	var ok bool
	if c.srcExp, ok = src.Meta.(cairn.Exporter); !ok {
		return c.rep, cairn.Errorf(cairn.EINVALID, "the source metadata store (%T) cannot export records", src.Meta)
	}
	if c.dstExp, ok = dst.Meta.(cairn.Exporter); !ok {
		return c.rep, cairn.Errorf(cairn.EINVALID, "the target metadata store (%T) cannot list records", dst.Meta)
	}
	if err := c.preflight(ctx); err != nil {
		return c.rep, err
	}
	c.rep.Skipped[KindAudit] += c.auditHead
	c.rep.Skipped[KindEvents] += c.eventHead
	w := &walker{src: src, exp: c.srcExp, batch: c.opts.Batch}
	err := w.walk(ctx, c.auditHead, c.eventHead, visitor{
		phase:       c.setPhase,
		audit:       c.importAudit,
		checkpoints: c.importCheckpoints,
		events:      c.importEvents,
		models:      c.importModels,
		versions: func(ctx context.Context, vs []*cairn.Version) error {
			// The blobs first, so that the target never has a ready
			// version whose bytes it lacks.
			if err := c.copyBlobs(ctx, vs); err != nil {
				return err
			}
			c.progress()
			return c.importVersions(ctx, vs)
		},
		artifacts: func(ctx context.Context, as []*cairn.Artifact) error {
			if err := c.copyBlobJobs(ctx, artifactBlobJobs(as)); err != nil {
				return err
			}
			c.progress()
			return c.importArtifacts(ctx, as)
		},
		aliases:      c.importAliases,
		aliasMoves:   c.importAliasMoves,
		runs:         c.importRuns,
		edges:        c.importEdges,
		signals:      c.importSignals,
		policies:     c.importPolicies,
		approvals:    c.importApprovals,
		users:        c.importUsers,
		webhooks:     c.importWebhooks,
		experiments:  c.importExperiments,
		loggedModels: c.importLoggedModels,
	})
	if err == nil {
		c.setPhase("verify")
		if err = c.verify(ctx); err != nil {
			err = fmt.Errorf("verify: %w", err)
		}
	}
	if err != nil {
		return c.rep, fmt.Errorf("copy %w", err)
	}
	c.rep.Phase = "done"
	c.progress()
	return c.rep, nil
}

func newCopier(opts Options) *copier {
	c := &copier{opts: opts,
		rep:  &Report{Copied: map[string]int64{}, Skipped: map[string]int64{}},
		done: map[cairn.Digest]bool{}}
	if c.opts.Batch <= 0 {
		c.opts.Batch = 500
	}
	c.opts.Batch = min(c.opts.Batch, 1000) // the stores' largest page
	if c.opts.BlobWorkers <= 0 {
		c.opts.BlobWorkers = 4
	}
	return c
}

// copier is the state of one Copy, Export or Import.
type copier struct {
	src, dst       Stores
	srcExp, dstExp cairn.Exporter
	opts           Options
	rep            *Report
	// done holds the digests copied or found on the target in this run,
	// so that a blob shared by many versions is looked at once.
	done map[cairn.Digest]bool
	// auditHead and eventHead are where the target's log and feed end.
	auditHead, eventHead int64
	// srcAudit is where the source's audit log ended when the copy began.
	srcAudit head
	// eventAt is the target's last event when an Import began, which the
	// archive's event of the same number must match.
	eventAt head
	// batch counts the records of the transaction under way.
	batch Report
}

// setPhase records the phase starting and reports progress.
func (c *copier) setPhase(name string) {
	c.rep.Phase = name
	c.progress()
}

func (c *copier) progress() {
	if c.opts.Progress != nil {
		r := *c.rep
		r.Copied, r.Skipped = maps(c.rep.Copied), maps(c.rep.Skipped)
		c.opts.Progress(r)
	}
}

func maps(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// count records the outcome of one import in the batch under way:
// ECONFLICT means the target has the record already.
func (c *copier) count(kind string, err error) error {
	switch {
	case err == nil:
		c.batch.Copied[kind]++
	case cairn.IsCode(err, cairn.ECONFLICT):
		c.batch.Skipped[kind]++
	default:
		return err
	}
	return nil
}

// importBatch runs fn in one target transaction with its Importer. What fn
// counts joins the report once the transaction commits.
func (c *copier) importBatch(ctx context.Context, fn func(tx cairn.Tx, imp cairn.Importer) error) error {
	err := c.dst.Meta.Update(ctx, func(tx cairn.Tx) error {
		c.batch = Report{Copied: map[string]int64{}, Skipped: map[string]int64{}}
		imp, ok := tx.(cairn.Importer)
		if !ok {
			return cairn.Errorf(cairn.EINVALID, "the target metadata store's transactions (%T) cannot import records", tx)
		}
		return fn(tx, imp)
	})
	if err != nil {
		return err
	}
	for k, n := range c.batch.Copied {
		c.rep.Copied[k] += n
	}
	for k, n := range c.batch.Skipped {
		c.rep.Skipped[k] += n
	}
	c.progress()
	return nil
}

// preflight decides whether dst may receive src: it must be empty, or an
// interrupted copy of src. It finds where the target's audit log and event
// feed end, which is where the copy of each resumes, and where the
// source's audit log ends, to tell at the end whether the source changed.
func (c *copier) preflight(ctx context.Context) error {
	var err error
	if c.srcAudit, err = auditHead(ctx, c.src.Meta); err != nil {
		return err
	}
	dstAudit, err := auditHead(ctx, c.dst.Meta)
	if err != nil {
		return err
	}
	dstEvents, err := eventHead(ctx, c.dst.Meta)
	if err != nil {
		return err
	}
	c.auditHead, c.eventHead = dstAudit.Seq, dstEvents.Seq
	const hint = "copy into an empty database (and bucket or directory), or into the target of an interrupted copy from this same source"
	if dstAudit.Seq > 0 {
		src, err := c.src.Meta.ListAudit(ctx, cairn.AuditQuery{AfterSeq: dstAudit.Seq - 1, Limit: 1})
		if err != nil {
			return err
		}
		if len(src) == 0 || src[0].Seq != dstAudit.Seq || src[0].Hash != dstAudit.ID {
			return cairn.Errorf(cairn.EFAILEDPRECONDITION,
				"the target is not empty and its audit log (%d entries) is not a copy of the source's: %s", dstAudit.Seq, hint)
		}
	}
	if dstEvents.Seq > 0 {
		src, err := c.src.Meta.ListEvents(ctx, dstEvents.Seq-1, 1)
		if err != nil {
			return err
		}
		if len(src) == 0 || src[0].Seq != dstEvents.Seq || src[0].ID != dstEvents.ID {
			return cairn.Errorf(cairn.EFAILEDPRECONDITION,
				"the target is not empty and its events (%d) are not a copy of the source's: %s", dstEvents.Seq, hint)
		}
	}
	if dstAudit.Seq == 0 && c.srcAudit.Seq > 0 {
		// An interrupted copy writes the audit log first, so a target with
		// records but no audit log is someone else's registry (unless the
		// source has no audit log either).
		empty, err := c.targetEmpty(ctx)
		if err != nil {
			return err
		}
		if !empty {
			return cairn.Errorf(cairn.EFAILEDPRECONDITION, "the target is not empty: %s", hint)
		}
	}
	return nil
}

// targetEmpty reports whether the target has no models, runs or events.
func (c *copier) targetEmpty(ctx context.Context) (bool, error) {
	ms, err := c.dst.Meta.ListModels(ctx, cairn.ModelQuery{IncludeDeleted: true, Page: cairn.Page{Size: 1}})
	if err != nil {
		return false, err
	}
	rs, err := c.dstExp.ExportRuns(ctx, cairn.Page{Size: 1})
	if err != nil {
		return false, err
	}
	return len(ms.Items) == 0 && len(rs.Items) == 0 && c.eventHead == 0, nil
}

// lastSeq finds the highest sequence number of a gap-free sequence that
// starts at 1, given exists(n-1) telling whether entry n exists, in
// O(log n) probes.
func lastSeq(ctx context.Context, exists func(after int64) (bool, error)) (int64, error) {
	has := func(n int64) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		return exists(n - 1)
	}
	lo, hi := int64(0), int64(1) // entry lo exists (or lo is 0); find hi that does not
	for {
		ok, err := has(hi)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		ok, err := has(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}
