// Package migrate copies a whole registry from one pair of stores to
// another — SQLite and a blob directory to PostgreSQL and S3, or back —
// keeping every identity: model and version numbers, times, aliases and
// their full history, runs with their metric history, lineage edges, every
// audit entry byte for byte (so the hash chain verifies on the target) and
// every event with its sequence number and id. It is what
// `cairn migrate-store` runs.
//
// The copy goes store to store through cairn.Exporter and cairn.Importer,
// in batches, one target transaction per batch, and is resumable: run it
// again after an interruption and it skips what the target has already
// (blobs by digest, records by their keys) and copies the rest. Counters
// end where the source's are, so writes on the target continue gap-free.
//
// Not copied: upload sessions in progress and idempotency keys (both
// short-lived; a client whose upload was cut off starts it again), and
// blobs no version refers to (garbage a collection would remove).
//
// The source must not change during the copy: stop its servers first. A
// change is detected (see verify.go) and fails the copy rather than
// leaving a target that quietly differs.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"

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
	c := &copier{src: src, dst: dst, opts: opts,
		rep:  &Report{Copied: map[string]int64{}, Skipped: map[string]int64{}},
		done: map[cairn.Digest]bool{}}
	if c.opts.Batch <= 0 {
		c.opts.Batch = 500
	}
	c.opts.Batch = min(c.opts.Batch, 1000) // the stores' largest page
	if c.opts.BlobWorkers <= 0 {
		c.opts.BlobWorkers = 4
	}
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
	for _, p := range []struct {
		name string
		fn   func(context.Context) error
	}{
		// The audit log first: on a resumed copy, the target's log being a
		// prefix of the source's is what proves the target is a partial
		// copy of this source and nothing else.
		{KindAudit, c.copyAudit},
		{KindEvents, c.copyEvents},
		{KindModels, c.copyModels},
		{KindVersions, c.copyVersions},
		{KindAliases, c.copyAliases},
		{KindRuns, c.copyRuns},
		{KindEdges, c.copyEdges},
		{"verify", c.verify},
	} {
		c.rep.Phase = p.name
		c.progress()
		if err := p.fn(ctx); err != nil {
			return c.rep, fmt.Errorf("copy %s: %w", p.name, err)
		}
	}
	c.rep.Phase = "done"
	c.progress()
	return c.rep, nil
}

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
	// batch counts the records of the transaction under way.
	batch Report
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
	c.auditHead, c.eventHead = dstAudit.seq, dstEvents.seq
	const hint = "copy into an empty database (and bucket or directory), or into the target of an interrupted copy from this same source"
	if dstAudit.seq > 0 {
		src, err := c.src.Meta.ListAudit(ctx, cairn.AuditQuery{AfterSeq: dstAudit.seq - 1, Limit: 1})
		if err != nil {
			return err
		}
		if len(src) == 0 || src[0].Seq != dstAudit.seq || src[0].Hash != dstAudit.id {
			return cairn.Errorf(cairn.EFAILEDPRECONDITION,
				"the target is not empty and its audit log (%d entries) is not a copy of the source's: %s", dstAudit.seq, hint)
		}
	}
	if dstEvents.seq > 0 {
		src, err := c.src.Meta.ListEvents(ctx, dstEvents.seq-1, 1)
		if err != nil {
			return err
		}
		if len(src) == 0 || src[0].Seq != dstEvents.seq || src[0].ID != dstEvents.id {
			return cairn.Errorf(cairn.EFAILEDPRECONDITION,
				"the target is not empty and its events (%d) are not a copy of the source's: %s", dstEvents.seq, hint)
		}
	}
	if dstAudit.seq == 0 && c.srcAudit.seq > 0 {
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

// copyAudit copies the audit entries after the target's last, in order.
// The store checks that each continues the chain.
func (c *copier) copyAudit(ctx context.Context) error {
	c.rep.Skipped[KindAudit] += c.auditHead
	after := c.auditHead
	for {
		es, err := c.src.Meta.ListAudit(ctx, cairn.AuditQuery{AfterSeq: after, Limit: c.opts.Batch})
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return nil
		}
		err = c.importBatch(ctx, func(_ cairn.Tx, imp cairn.Importer) error {
			for _, e := range es {
				if err := c.count(KindAudit, imp.ImportAudit(ctx, e)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		after = es[len(es)-1].Seq
	}
}

// copyEvents copies the events after the target's last, in order.
func (c *copier) copyEvents(ctx context.Context) error {
	c.rep.Skipped[KindEvents] += c.eventHead
	after := c.eventHead
	for {
		evs, err := c.src.Meta.ListEvents(ctx, after, c.opts.Batch)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		err = c.importBatch(ctx, func(_ cairn.Tx, imp cairn.Importer) error {
			for _, ev := range evs {
				if err := c.count(KindEvents, imp.ImportEvent(ctx, ev)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		after = evs[len(evs)-1].Seq
	}
}

// eachModelPage calls fn with every page of the source's models, deleted
// ones included, by name.
func (c *copier) eachModelPage(ctx context.Context, fn func([]*cairn.Model) error) error {
	page := cairn.Page{Size: c.opts.Batch}
	for {
		p, err := c.src.Meta.ListModels(ctx, cairn.ModelQuery{IncludeDeleted: true, Page: page})
		if err != nil {
			return err
		}
		if err := fn(p.Items); err != nil {
			return err
		}
		if p.NextToken == "" {
			return nil
		}
		page.Token = p.NextToken
	}
}

func (c *copier) copyModels(ctx context.Context) error {
	return c.eachModelPage(ctx, func(ms []*cairn.Model) error {
		return c.importBatch(ctx, func(tx cairn.Tx, imp cairn.Importer) error {
			for _, m := range ms {
				err := imp.ImportModel(ctx, m)
				if cairn.IsCode(err, cairn.ECONFLICT) {
					err = c.sameModel(ctx, tx, m)
				}
				if err := c.count(KindModels, err); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// copyVersions copies every version, deleted ones included, model by
// model, in batches of versions: first the blobs of the batch's versions,
// then the versions, so that the target never has a ready version whose
// bytes it lacks.
func (c *copier) copyVersions(ctx context.Context) error {
	var batch []*cairn.Version
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := c.copyBlobs(ctx, batch); err != nil {
			return err
		}
		c.progress()
		err := c.importBatch(ctx, func(tx cairn.Tx, _ cairn.Importer) error {
			for _, v := range batch {
				err := tx.CreateVersion(ctx, v)
				if cairn.IsCode(err, cairn.ECONFLICT) {
					err = c.sameVersion(ctx, tx, v)
				}
				if err := c.count(KindVersions, err); err != nil {
					return fmt.Errorf("%s: %w", v.Ref(), err)
				}
			}
			return nil
		})
		batch = batch[:0]
		return err
	}
	err := c.eachModelPage(ctx, func(ms []*cairn.Model) error {
		for _, m := range ms {
			// Model by model, so that a page is found by the model's index
			// whatever the registry's size.
			page := cairn.Page{Size: c.opts.Batch}
			for {
				p, err := c.src.Meta.ListVersions(ctx, cairn.VersionQuery{Model: m.Name, IncludeDeleted: true, Page: page})
				if err != nil {
					return err
				}
				batch = append(batch, p.Items...)
				if len(batch) >= c.opts.Batch {
					if err := flush(); err != nil {
						return err
					}
				}
				if p.NextToken == "" {
					break
				}
				page.Token = p.NextToken
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// blobJob is one digest to copy and whether its absence from the source is
// an error (the blob of a ready version) or expected (a pending or failed
// version's upload that never finished).
type blobJob struct {
	d        cairn.Digest
	size     int64
	required bool
	ref      string
}

// copyBlobs copies the files of vs that the target lacks, BlobWorkers at a
// time, each streaming from the source's Open to the target's Put, which
// verifies the digest.
func (c *copier) copyBlobs(ctx context.Context, vs []*cairn.Version) error {
	var jobs []blobJob
	idx := map[cairn.Digest]int{}
	for _, v := range vs {
		for _, f := range v.Files {
			if c.done[f.Digest] {
				continue
			}
			req := v.Status == cairn.StatusReady
			if i, ok := idx[f.Digest]; ok {
				jobs[i].required = jobs[i].required || req
				continue
			}
			idx[f.Digest] = len(jobs)
			jobs = append(jobs, blobJob{d: f.Digest, size: f.Size, required: req, ref: v.Ref() + "/" + f.Path})
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	type result struct {
		state blobState
		bytes int64
		err   error
	}
	results := make([]result, len(jobs))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(c.opts.BlobWorkers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				state, n, err := c.copyBlob(ctx, jobs[i])
				results[i] = result{state: state, bytes: n, err: err}
				if err != nil {
					cancel()
				}
			}
		}()
	}
feed:
	for i := range jobs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	var errs []error
	for i, r := range results {
		switch {
		case r.err != nil:
			if !errors.Is(r.err, context.Canceled) || len(errs) == 0 {
				errs = append(errs, r.err)
			}
		case r.state == blobCopied:
			c.done[jobs[i].d] = true
			c.rep.Copied[KindBlobs]++
			c.rep.BlobBytes += r.bytes
		case r.state == blobPresent:
			c.done[jobs[i].d] = true
			c.rep.Skipped[KindBlobs]++
		case r.state == blobAbsent:
			c.done[jobs[i].d] = true
			c.rep.AbsentBlobs++
		}
	}
	if len(errs) > 0 {
		// The first real failure, not the cancellations it caused.
		slices.SortStableFunc(errs, func(a, b error) int {
			return boolInt(errors.Is(a, context.Canceled)) - boolInt(errors.Is(b, context.Canceled))
		})
		return errs[0]
	}
	return ctx.Err()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// blobState is what copyBlob found.
type blobState int

const (
	blobFailed  blobState = iota
	blobCopied            // copied now
	blobPresent           // the target had it
	blobAbsent            // neither store has it, and the job allows that
)

// copyBlob copies one blob unless the target has it, and says how many
// bytes it copied. A blob the source lacks is an error if the job
// requires it.
func (c *copier) copyBlob(ctx context.Context, j blobJob) (blobState, int64, error) {
	if _, err := c.dst.Blobs.Stat(ctx, j.d); err == nil {
		return blobPresent, 0, nil
	} else if !cairn.IsCode(err, cairn.ENOTFOUND) {
		return blobFailed, 0, fmt.Errorf("target blob %s: %w", j.d, err)
	}
	r, size, err := c.src.Blobs.Open(ctx, j.d)
	if cairn.IsCode(err, cairn.ENOTFOUND) {
		if j.required {
			return blobFailed, 0, cairn.WrapError(cairn.EFAILEDPRECONDITION, err,
				"the source blob store lacks blob %s of %s, a ready version", j.d, j.ref)
		}
		return blobAbsent, 0, nil
	}
	if err != nil {
		return blobFailed, 0, fmt.Errorf("source blob %s: %w", j.d, err)
	}
	defer r.Close()
	cr := &countingReader{r: r}
	if err := c.dst.Blobs.Put(ctx, j.d, size, cr); err != nil {
		return blobFailed, 0, fmt.Errorf("copy blob %s (%s): %w", j.d, j.ref, err)
	}
	return blobCopied, cr.n, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// copyAliases copies each model's current aliases and then its whole alias
// history, with the history's own sequence numbers.
func (c *copier) copyAliases(ctx context.Context) error {
	return c.eachModelPage(ctx, func(ms []*cairn.Model) error {
		var aliases []*cairn.Alias
		for _, m := range ms {
			names := make([]string, 0, len(m.Aliases))
			for n := range m.Aliases {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				a, err := c.src.Meta.GetAlias(ctx, m.Name, n)
				if err != nil {
					return err
				}
				aliases = append(aliases, a)
			}
		}
		if len(aliases) > 0 {
			err := c.importBatch(ctx, func(tx cairn.Tx, imp cairn.Importer) error {
				for _, a := range aliases {
					err := imp.ImportAlias(ctx, a)
					if cairn.IsCode(err, cairn.ECONFLICT) {
						err = c.sameAlias(ctx, tx, a)
					}
					if err := c.count(KindAliases, err); err != nil {
						return fmt.Errorf("%s@%s: %w", a.Model, a.Name, err)
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		for _, m := range ms {
			if err := c.copyAliasHistory(ctx, m.Name); err != nil {
				return err
			}
		}
		return nil
	})
}

func (c *copier) copyAliasHistory(ctx context.Context, model string) error {
	page := cairn.Page{Size: c.opts.Batch}
	for {
		p, err := c.src.Meta.AliasHistory(ctx, model, "", page)
		if err != nil {
			return err
		}
		if len(p.Items) > 0 {
			err = c.importBatch(ctx, func(_ cairn.Tx, imp cairn.Importer) error {
				for _, m := range p.Items {
					if err := c.count(KindAliasMoves, imp.ImportAliasMove(ctx, m)); err != nil {
						return fmt.Errorf("move %d of %s@%s: %w", m.Seq, m.Model, m.Alias, err)
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if p.NextToken == "" {
			return nil
		}
		page.Token = p.NextToken
	}
}

// copyRuns copies every run, deleted ones included, with the history of
// each of its metrics.
func (c *copier) copyRuns(ctx context.Context) error {
	page := cairn.Page{Size: c.opts.Batch}
	for {
		p, err := c.srcExp.ExportRuns(ctx, page)
		if err != nil {
			return err
		}
		histories := make([][]cairn.MetricPoint, len(p.Items))
		for i, r := range p.Items {
			keys := make([]string, 0, len(r.Metrics))
			for k := range r.Metrics {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				h, err := c.src.Meta.MetricHistory(ctx, r.ID, k)
				if err != nil {
					return err
				}
				histories[i] = append(histories[i], h...)
			}
		}
		if len(p.Items) > 0 {
			err = c.importBatch(ctx, func(tx cairn.Tx, imp cairn.Importer) error {
				for i, r := range p.Items {
					err := imp.ImportRun(ctx, r, histories[i])
					if cairn.IsCode(err, cairn.ECONFLICT) {
						err = c.sameRun(ctx, tx, r)
					}
					if err := c.count(KindRuns, err); err != nil {
						return fmt.Errorf("run %q: %w", r.ID, err)
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if p.NextToken == "" {
			return nil
		}
		page.Token = p.NextToken
	}
}

// copyEdges copies every lineage edge in the order the source added them,
// which keeps the order Lineage lists edges at the same depth in.
// AddEdges keeps an edge that exists, so a resumed copy adds only the
// missing ones; the report counts every edge passed to it as copied.
func (c *copier) copyEdges(ctx context.Context) error {
	page := cairn.Page{Size: c.opts.Batch}
	for {
		p, err := c.srcExp.ExportEdges(ctx, page)
		if err != nil {
			return err
		}
		if len(p.Items) > 0 {
			err = c.importBatch(ctx, func(tx cairn.Tx, _ cairn.Importer) error {
				if err := tx.AddEdges(ctx, p.Items); err != nil {
					return err
				}
				c.batch.Copied[KindEdges] += int64(len(p.Items))
				return nil
			})
			if err != nil {
				return err
			}
		}
		if p.NextToken == "" {
			return nil
		}
		page.Token = p.NextToken
	}
}
