package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cairn-registry/cairn"
)

// GCOptions tune a garbage collection.
type GCOptions struct {
	// Grace protects blobs younger than this from collection, referenced
	// or not: a client that uploads a blob before registering the version
	// that uses it (the API allows it; Push registers first) has this long
	// to register it. Re-sending bytes the store has already does not make
	// an old blob young; if it is collected meanwhile, CreateVersion lists
	// it as missing and the client sends it again. 0 means DefaultGCGrace.
	Grace time.Duration
	// DryRun reports what would be collected and deletes nothing.
	DryRun bool
}

// GC defaults and limits.
const (
	DefaultGCGrace = 24 * time.Hour
	// MaxGCListed bounds GCReport.Digests.
	MaxGCListed = 1000
	// gcLease names the lease that admits one collection at a time across
	// every process sharing the metadata store.
	gcLease = "gc"
	// gcLeaseTTL is the default of Options.GCLease.
	gcLeaseTTL = time.Minute
	// gcMarkBatch is how many walked blobs are looked up in one query.
	gcMarkBatch = 500
	// gcSweepBatch is how many candidates one sweep transaction re-checks
	// and deletes. New versions wait while it runs, so it stays small.
	gcSweepBatch = 100
	// gcDeleteWorkers bounds the blob deletions in flight in one batch.
	gcDeleteWorkers = 8
)

// GCReport says what a garbage collection found and did.
type GCReport struct {
	DryRun bool   `json:"dry_run"`
	Grace  string `json:"grace"` // e.g. "24h0m0s"
	// Scanned counts the blobs in the blob store.
	Scanned int `json:"scanned"`
	// Referenced counts the scanned blobs that a version or an upload
	// session refers to; they are kept.
	Referenced int `json:"referenced"`
	// Young counts unreferenced blobs kept because they are younger than
	// the grace period.
	Young int `json:"young"`
	// Candidates counts unreferenced blobs older than the grace period,
	// of BytesFreeable bytes in all: what a run deletes, unless a push
	// refers to them in the meantime.
	Candidates    int   `json:"candidates"`
	BytesFreeable int64 `json:"bytes_freeable"`
	// Deleted and BytesFreed count what was deleted (0 in a dry run);
	// Rescued counts candidates a push referred to before they could be
	// deleted, which were kept.
	Deleted    int   `json:"deleted"`
	BytesFreed int64 `json:"bytes_freed"`
	Rescued    int   `json:"rescued"`
	// Digests lists the candidates (dry run) or the deleted blobs, at most
	// MaxGCListed of them; Truncated says there were more.
	Digests   []cairn.Digest `json:"digests"`
	Truncated bool           `json:"truncated"`
}

// gcCollected is the audit state (and event payload) of one sweep batch.
type gcCollected struct {
	Digests    []cairn.Digest `json:"digests"`
	BytesFreed int64          `json:"bytes_freed"`
}

type gcBlob struct {
	digest cairn.Digest
	size   int64
	young  bool // written after the grace period's cutoff
}

// GC deletes blobs that nothing refers to and that are older than the
// grace period: mark (every blob of the store is looked up among the
// digests versions and upload sessions refer to), then sweep (candidates
// are re-checked and deleted in small batches).
//
// It never deletes a blob a concurrent push is about to use. A version
// refers to its files from the transaction that creates it (pending
// versions count, failed and deleted ones too), and every such
// transaction holds the store's blob-references lock in shared mode; each
// sweep batch takes it exclusively, re-checks its candidates and deletes
// them before releasing it. So a push's version either committed before
// the re-check, and its blobs are kept, or commits after the deletion, and
// the push, which asks which blobs are missing only once its version has
// committed, uploads them again. FinalizeVersion checks that every blob is
// present before a version becomes ready, whatever happened.
//
// One collection runs at a time across every replica sharing the store (a
// lease in the database); another caller gets ECONFLICT. Each sweep batch
// that deletes something writes one audit entry and one blob.collected
// event, in the transaction that holds the lock while it deletes.
// EINVALID for a negative grace.
func (s *Service) GC(ctx context.Context, opts GCOptions) (*GCReport, error) {
	if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
		return nil, err
	}
	if opts.Grace < 0 {
		return nil, cairn.Errorf(cairn.EINVALID, "grace period %v is negative", opts.Grace)
	}
	if opts.Grace == 0 {
		opts.Grace = DefaultGCGrace
	}
	ctx, release, err := s.takeGCLease(ctx)
	if err != nil {
		return nil, err
	}
	defer release()

	rep := &GCReport{DryRun: opts.DryRun, Grace: opts.Grace.String(), Digests: []cairn.Digest{}}
	candidates, err := s.gcMark(ctx, s.now().Add(-opts.Grace), rep)
	if err != nil {
		return nil, fmt.Errorf("gc: mark: %w", leaseCause(ctx, err))
	}
	if opts.DryRun {
		for _, c := range candidates {
			rep.list(c.digest)
		}
		return rep, nil
	}
	for batch := range slices.Chunk(candidates, gcSweepBatch) {
		if err := s.gcSweep(ctx, batch, rep); err != nil {
			return rep, fmt.Errorf("gc: sweep: %w", leaseCause(ctx, err))
		}
	}
	return rep, nil
}

func (r *GCReport) list(d cairn.Digest) {
	if len(r.Digests) < MaxGCListed {
		r.Digests = append(r.Digests, d)
	} else {
		r.Truncated = true
	}
}

// takeGCLease acquires the collection lease and keeps renewing it. The
// returned context ends if the lease is lost (the database could not be
// reached long enough for it to expire), so that a collector that might no
// longer be alone stops; release gives the lease up.
func (s *Service) takeGCLease(ctx context.Context) (context.Context, func(), error) {
	holder := newID()
	var until time.Time // when the lease we hold expires
	acquire := func(ctx context.Context) (bool, error) {
		var ok bool
		now := cairn.Timestamp(s.now())
		err := s.store.Update(ctx, func(tx cairn.Tx) error {
			var err error
			ok, err = tx.AcquireLease(ctx, gcLease, holder, now, now.Add(s.gcLease))
			return err
		})
		if err == nil && ok {
			until = now.Add(s.gcLease)
		}
		return ok, err
	}
	ok, err := acquire(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("gc: take the lease: %w", err)
	}
	if !ok {
		return nil, nil, cairn.Errorf(cairn.ECONFLICT, "another garbage collection is running; try again when it has finished")
	}
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(s.gcLease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			ok, err := acquire(ctx)
			switch {
			case err == nil && !ok:
				cancel(errors.New("gc: lost the lease to another collector"))
				return
			case err != nil && !s.now().Before(until):
				cancel(fmt.Errorf("gc: lost the lease: could not renew it before it expired: %w", err))
				return
			}
			// A failed renewal with time left on the lease is retried at
			// the next tick.
		}
	}()
	release := func() {
		close(done)
		wg.Wait()
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer ccancel()
		_ = s.store.Update(cctx, func(tx cairn.Tx) error { return tx.ReleaseLease(cctx, gcLease, holder) })
		cancel(nil)
	}
	return ctx, release, nil
}

// leaseCause returns why ctx ended, if it did: the lost lease rather
// than a bare "context canceled".
func leaseCause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, ctx.Err()) {
			return fmt.Errorf("%w (%w)", cause, err)
		}
	}
	return err
}

// gcMark walks the blob store and returns the blobs that nothing refers to
// and that were written before cutoff, counting the rest in rep.
func (s *Service) gcMark(ctx context.Context, cutoff time.Time, rep *GCReport) ([]gcBlob, error) {
	var candidates, pending []gcBlob
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		ds := make([]cairn.Digest, len(pending))
		for i, b := range pending {
			ds[i] = b.digest
		}
		refs, err := s.store.ReferencedAmong(ctx, ds)
		if err != nil {
			return err
		}
		referenced := make(map[cairn.Digest]bool, len(refs))
		for _, d := range refs {
			referenced[d] = true
		}
		for _, b := range pending {
			switch {
			case referenced[b.digest]:
				rep.Referenced++
				continue
			case b.young:
				rep.Young++
				continue
			}
			candidates = append(candidates, b)
			rep.Candidates++
			rep.BytesFreeable += b.size
		}
		pending = pending[:0]
		return nil
	}
	err := s.blobs.Walk(ctx, func(d cairn.Digest, size int64, modTime time.Time) error {
		rep.Scanned++
		// A young blob is kept whatever it is; it is looked up anyway, so
		// that the report counts it as referenced or not.
		pending = append(pending, gcBlob{digest: d, size: size, young: !modTime.Before(cutoff)})
		if len(pending) >= gcMarkBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, err
	}
	return candidates, nil
}

// gcSweep re-checks a batch of candidates under the exclusive
// blob-references lock and deletes those still unreferenced, recording
// them in the same transaction. Blobs deleted before an error are still
// recorded; the error comes back after the commit.
func (s *Service) gcSweep(ctx context.Context, batch []gcBlob, rep *GCReport) error {
	var deleteErr error
	err := s.update(ctx, func(m *mutation) error {
		if err := m.tx.LockBlobRefs(ctx); err != nil {
			return err
		}
		ds := make([]cairn.Digest, len(batch))
		for i, b := range batch {
			ds[i] = b.digest
		}
		refs, err := m.tx.ReferencedAmong(ctx, ds)
		if err != nil {
			return err
		}
		referenced := make(map[cairn.Digest]bool, len(refs))
		for _, d := range refs {
			referenced[d] = true
		}
		var victims []gcBlob
		for _, b := range batch {
			if referenced[b.digest] {
				rep.Rescued++
			} else {
				victims = append(victims, b)
			}
		}
		deleted, err := s.deleteBlobs(ctx, victims)
		deleteErr = err
		if len(deleted) == 0 {
			return nil
		}
		state := gcCollected{Digests: make([]cairn.Digest, 0, len(deleted))}
		for _, b := range deleted {
			state.Digests = append(state.Digests, b.digest)
			state.BytesFreed += b.size
		}
		m.record(cairn.EventBlobCollected, "blobs", "", "", nil, state)
		for _, b := range deleted {
			rep.Deleted++
			rep.BytesFreed += b.size
			rep.list(b.digest)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return deleteErr
}

// deleteBlobs deletes blobs, a few at a time, and returns those it
// deleted with the first error.
func (s *Service) deleteBlobs(ctx context.Context, blobs []gcBlob) ([]gcBlob, error) {
	var (
		mu      sync.Mutex
		deleted []gcBlob
		errs    []error
		wg      sync.WaitGroup
		sem     = make(chan struct{}, gcDeleteWorkers)
	)
	for _, b := range blobs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := s.blobs.Delete(ctx, b.digest)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("delete blob %s: %w", b.digest, err))
				return
			}
			deleted = append(deleted, b)
		}()
	}
	wg.Wait()
	// Keep the walk's order, so that reports and audit entries are stable.
	order := make(map[cairn.Digest]int, len(blobs))
	for i, b := range blobs {
		order[b.digest] = i
	}
	slices.SortFunc(deleted, func(a, b gcBlob) int { return order[a.digest] - order[b.digest] })
	return deleted, errors.Join(errs...)
}

// RunGC runs GC every interval until ctx ends, on every replica that is
// asked to: the lease lets one run at a time and the others find it taken
// (ECONFLICT, not passed to onErr). Other errors go to onErr.
func (s *Service) RunGC(ctx context.Context, interval time.Duration, opts GCOptions, onDone func(*GCReport), onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rep, err := s.GC(systemContext(ctx), opts)
		switch {
		case err == nil:
			if onDone != nil {
				onDone(rep)
			}
		case cairn.IsCode(err, cairn.ECONFLICT) || ctx.Err() != nil:
		case onErr != nil:
			onErr(err)
		}
	}
}
