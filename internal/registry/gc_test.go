package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/fsblob"
	"github.com/cairn-registry/cairn/internal/postgres"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/s3blob"
	"github.com/cairn-registry/cairn/internal/sqlite"
	"github.com/cairn-registry/cairn/internal/testenv"
)

// gcBackend opens a fresh metadata store and blob store.
type gcBackend struct {
	name string
	open func(t *testing.T) (cairn.Store, cairn.BlobStore)
}

var gcBackends = []gcBackend{
	{"sqlite+fsblob", func(t *testing.T) (cairn.Store, cairn.BlobStore) {
		dir := t.TempDir()
		db, err := sqlite.Open(t.Context(), filepath.Join(dir, "cairn.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		return db, blobs
	}},
	{"postgres+s3", func(t *testing.T) (cairn.Store, cairn.BlobStore) {
		url := testenv.PostgresURL(t)
		s3cfg := testenv.S3(t)
		db, err := postgres.Open(t.Context(), url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		blobs, err := s3blob.New(t.Context(), s3blob.Config{
			Bucket: s3cfg.Bucket, Endpoint: s3cfg.Endpoint, Region: s3cfg.Region,
			AccessKey: s3cfg.AccessKey, SecretKey: s3cfg.SecretKey, PathStyle: true, TempDir: t.TempDir(),
		})
		if err != nil {
			t.Fatal(err)
		}
		return db, blobs
	}},
}

// gcFixture is a registry whose clock the test moves. Blobs carry the real
// time they were written, so the clock starts at the real time.
type gcFixture struct {
	svc   *registry.Service
	store cairn.Store
	blobs cairn.BlobStore
	ctx   context.Context

	mu    sync.Mutex
	clock time.Time
}

func newGCFixture(t *testing.T, b gcBackend) *gcFixture {
	t.Helper()
	store, blobs := b.open(t)
	f := &gcFixture{
		store: store, blobs: blobs, clock: time.Now(),
		ctx: cairn.NewContextWithActor(t.Context(), cairn.Actor{Name: "alice"}),
	}
	f.svc = registry.New(store, blobs, registry.Options{Now: f.now})
	return f
}

func (f *gcFixture) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clock
}

func (f *gcFixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clock = f.clock.Add(d)
}

func (f *gcFixture) putBlob(t testing.TB, content string) cairn.Digest {
	t.Helper()
	d := cairn.DigestOf([]byte(content))
	if err := f.svc.PutBlob(f.ctx, d, int64(len(content)), bytes.NewReader([]byte(content))); err != nil {
		t.Fatalf("PutBlob: %v", err)
	}
	return d
}

// push registers a version of model with one file per content, uploads
// what the registry reports missing and finalizes it.
func (f *gcFixture) push(ctx context.Context, model string, contents ...string) (*cairn.Version, error) {
	byDigest := map[cairn.Digest]string{}
	var spec cairn.VersionSpec
	for i, c := range contents {
		d := cairn.DigestOf([]byte(c))
		byDigest[d] = c
		spec.Files = append(spec.Files, cairn.File{Path: fmt.Sprintf("f%d", i), Size: int64(len(c)), Digest: d})
	}
	res, err := f.svc.CreateVersion(ctx, model, spec)
	if err != nil {
		return nil, fmt.Errorf("CreateVersion: %w", err)
	}
	for _, d := range res.Missing {
		c := byDigest[d]
		if err := f.svc.PutBlob(ctx, d, int64(len(c)), bytes.NewReader([]byte(c))); err != nil {
			return nil, fmt.Errorf("PutBlob: %w", err)
		}
	}
	v, err := f.svc.FinalizeVersion(ctx, model, res.Version.Number, nil)
	if err != nil {
		return nil, fmt.Errorf("FinalizeVersion: %w", err)
	}
	return v, nil
}

func (f *gcFixture) exists(t testing.TB, d cairn.Digest) bool {
	t.Helper()
	_, err := f.blobs.Stat(f.ctx, d)
	if err != nil && !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Fatalf("Stat(%s): %v", d, err)
	}
	return err == nil
}

func (f *gcFixture) gc(t testing.TB, opts registry.GCOptions) *registry.GCReport {
	t.Helper()
	rep, err := f.svc.GC(f.ctx, opts)
	if err != nil {
		t.Fatalf("GC(%+v): %v", opts, err)
	}
	return rep
}

func (f *gcFixture) collectedAudit(t testing.TB) []*cairn.AuditEntry {
	t.Helper()
	entries, err := f.store.ListAudit(f.ctx, cairn.AuditQuery{Action: cairn.EventBlobCollected, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func forEachGCBackend(t *testing.T, fn func(t *testing.T, f *gcFixture)) {
	for _, b := range gcBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, newGCFixture(t, b))
		})
	}
}

// Unreferenced blobs older than the grace period are collected; referenced
// ones (by a ready version, a pending one, a deleted one, an upload
// session) and young ones are kept; a dry run deletes nothing; the
// deletion is audited with an event.
func TestGCCollectsOldUnreferencedBlobs(t *testing.T) {
	t.Parallel()
	forEachGCBackend(t, func(t *testing.T, f *gcFixture) {
		ready, err := f.push(f.ctx, "churn", "weights v1", "config")
		if err != nil {
			t.Fatal(err)
		}
		deleted, err := f.push(f.ctx, "churn", "weights v2")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.DeleteVersion(f.ctx, "churn", deleted.Number, false); err != nil {
			t.Fatal(err)
		}
		// A pending version whose blob is uploaded but not finalized.
		pendingContent := "pending weights"
		res, err := f.svc.CreateVersion(f.ctx, "churn", cairn.VersionSpec{Files: []cairn.File{
			{Path: "w", Size: int64(len(pendingContent)), Digest: cairn.DigestOf([]byte(pendingContent))}}})
		if err != nil {
			t.Fatal(err)
		}
		pending := f.putBlob(t, pendingContent)
		// A blob with an open upload session for the same digest.
		inUpload := f.putBlob(t, "being uploaded again")
		if _, _, err := f.svc.StartUpload(f.ctx, inUpload, int64(len("being uploaded again"))); err != nil {
			t.Fatal(err)
		}
		orphans := []cairn.Digest{f.putBlob(t, "orphan one"), f.putBlob(t, "orphan two!")}
		orphanBytes := int64(len("orphan one") + len("orphan two!"))
		referenced := []cairn.Digest{ready.Files[0].Digest, ready.Files[1].Digest, deleted.Files[0].Digest, pending, inUpload}
		all := slices.Concat(referenced, orphans)
		sortDigests := func(ds []cairn.Digest) []cairn.Digest { ds = slices.Clone(ds); slices.Sort(ds); return ds }

		// Everything is younger than the grace period: nothing goes.
		rep := f.gc(t, registry.GCOptions{Grace: time.Hour})
		if rep.Scanned != len(all) || rep.Referenced != len(referenced) || rep.Young != len(orphans) || rep.Candidates != 0 || rep.Deleted != 0 {
			t.Errorf("young blobs: report %+v; want %d scanned, %d referenced, %d young, nothing deleted", rep, len(all), len(referenced), len(orphans))
		}

		f.advance(2 * time.Hour)
		rep = f.gc(t, registry.GCOptions{Grace: time.Hour, DryRun: true})
		if !rep.DryRun || rep.Candidates != 2 || rep.BytesFreeable != orphanBytes || rep.Deleted != 0 || rep.BytesFreed != 0 {
			t.Errorf("dry run: report %+v; want 2 candidates of %d bytes, nothing deleted", rep, orphanBytes)
		}
		if got, want := sortDigests(rep.Digests), sortDigests(orphans); !slices.Equal(got, want) {
			t.Errorf("dry run lists %v, want the orphans %v", got, want)
		}
		for _, d := range all {
			if !f.exists(t, d) {
				t.Errorf("dry run deleted %s", d)
			}
		}
		if n := len(f.collectedAudit(t)); n != 0 {
			t.Errorf("dry run wrote %d %s audit entries", n, cairn.EventBlobCollected)
		}

		rep = f.gc(t, registry.GCOptions{Grace: time.Hour})
		if rep.Deleted != 2 || rep.BytesFreed != orphanBytes || rep.Referenced != len(referenced) || rep.Rescued != 0 {
			t.Errorf("run: report %+v; want the 2 orphans (%d bytes) deleted", rep, orphanBytes)
		}
		if got, want := sortDigests(rep.Digests), sortDigests(orphans); !slices.Equal(got, want) {
			t.Errorf("run lists %v, want the orphans %v", got, want)
		}
		for _, d := range referenced {
			if !f.exists(t, d) {
				t.Errorf("referenced blob %s was deleted", d)
			}
		}
		for _, d := range orphans {
			if f.exists(t, d) {
				t.Errorf("orphan %s was not deleted", d)
			}
		}
		entries := f.collectedAudit(t)
		if len(entries) != 1 {
			t.Fatalf("%d %s audit entries, want 1", len(entries), cairn.EventBlobCollected)
		}
		var state struct {
			Digests    []cairn.Digest `json:"digests"`
			BytesFreed int64          `json:"bytes_freed"`
		}
		if err := json.Unmarshal(entries[0].After, &state); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sortDigests(state.Digests), sortDigests(orphans)) || state.BytesFreed != orphanBytes || entries[0].Actor != "alice" {
			t.Errorf("audit entry %+v (state %+v); want alice collecting the orphans", entries[0], state)
		}
		evs, err := f.store.ListEvents(f.ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if last := evs[len(evs)-1]; last.Type != cairn.EventBlobCollected {
			t.Errorf("last event is %s, want %s", last.Type, cairn.EventBlobCollected)
		}

		// The pending version still finalizes; a second run finds nothing.
		if _, err := f.svc.FinalizeVersion(f.ctx, "churn", res.Version.Number, nil); err != nil {
			t.Errorf("finalize the pending version after GC: %v", err)
		}
		if rep := f.gc(t, registry.GCOptions{Grace: time.Hour}); rep.Candidates != 0 || rep.Deleted != 0 {
			t.Errorf("second run: %+v; want nothing to do", rep)
		}
		if n := len(f.collectedAudit(t)); n != 1 {
			t.Errorf("a run that deleted nothing wrote an audit entry (%d in all)", n)
		}
	})
}

// pausingStore is a real metadata store that calls a hook after its first
// ReferencedAmong outside a transaction: GC's mark lookup, before its sweep.
type pausingStore struct {
	cairn.Store
	afterMark    func()
	afterMarkCtx func(context.Context) // the same, given GC's context
}

func (p *pausingStore) ReferencedAmong(ctx context.Context, ds []cairn.Digest) ([]cairn.Digest, error) {
	refs, err := p.Store.ReferencedAmong(ctx, ds)
	if hook := p.afterMark; hook != nil && err == nil {
		p.afterMark = nil
		hook()
	}
	if hook := p.afterMarkCtx; hook != nil && err == nil {
		p.afterMarkCtx = nil
		hook(ctx)
	}
	return refs, err
}

// A push that registers a version using an old orphan after GC marked it
// as a candidate keeps it: the sweep re-checks under the lock.
func TestGCRescuesBlobReferencedAfterMark(t *testing.T) {
	t.Parallel()
	for _, b := range gcBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f := newGCFixture(t, b)
			ps := &pausingStore{Store: f.store}
			f.svc = registry.New(ps, f.blobs, registry.Options{Now: f.now})
			orphan := f.putBlob(t, "old weights")
			f.advance(48 * time.Hour)
			var pushed *cairn.Version
			ps.afterMark = func() {
				var err error
				if pushed, err = f.push(f.ctx, "churn", "old weights"); err != nil {
					t.Errorf("push during GC: %v", err)
				}
			}
			rep := f.gc(t, registry.GCOptions{})
			if rep.Candidates != 1 || rep.Rescued != 1 || rep.Deleted != 0 {
				t.Errorf("report %+v; want 1 candidate, rescued", rep)
			}
			if !f.exists(t, orphan) {
				t.Fatalf("GC deleted %s, which a version registered after the mark uses", orphan)
			}
			if pushed == nil || pushed.Status != cairn.StatusReady {
				t.Errorf("push during GC: %+v", pushed)
			}
		})
	}
}

// Pushes that reuse old orphaned blobs race with garbage collections, many
// times over: no push ever fails, and every finalized version's blobs
// exist at the end.
func TestGCConcurrentPushesNeverLoseBlobs(t *testing.T) {
	t.Parallel()
	forEachGCBackend(t, func(t *testing.T, f *gcFixture) {
		const (
			rounds  = 12
			writers = 6
		)
		var versions []*cairn.Version
		for r := range rounds {
			// Old orphans, some of which this round's pushes reuse.
			var contents []string
			for w := range writers * 2 {
				c := fmt.Sprintf("round %d blob %d", r, w)
				f.putBlob(t, c)
				contents = append(contents, c)
			}
			f.advance(48 * time.Hour)

			var (
				wg  sync.WaitGroup
				mu  sync.Mutex
				gcs int
			)
			stop := make(chan struct{})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if _, err := f.svc.GC(f.ctx, registry.GCOptions{}); err != nil {
						t.Errorf("GC: %v", err)
						return
					}
					mu.Lock()
					gcs++
					mu.Unlock()
					select {
					case <-stop:
						return
					default:
					}
				}
			}()
			var pushers sync.WaitGroup
			for w := range writers {
				pushers.Add(1)
				go func() {
					defer pushers.Done()
					// Each writer reuses one orphan and adds a new file.
					v, err := f.push(f.ctx, fmt.Sprintf("m%d", w), contents[w], fmt.Sprintf("round %d new %d", r, w))
					if err != nil {
						t.Errorf("round %d writer %d: %v", r, w, err)
						return
					}
					mu.Lock()
					versions = append(versions, v)
					mu.Unlock()
				}()
			}
			pushers.Wait()
			close(stop)
			wg.Wait()
			if t.Failed() {
				return
			}
		}
		// A last collection with everything old: only orphans go.
		f.advance(48 * time.Hour)
		f.gc(t, registry.GCOptions{})
		for _, v := range versions {
			for _, file := range v.Files {
				if !f.exists(t, file.Digest) {
					t.Errorf("%s: blob %s of %s is gone", v.Ref(), file.Digest, file.Path)
				}
			}
		}
		if len(versions) != rounds*writers {
			t.Errorf("%d versions pushed, want %d", len(versions), rounds*writers)
		}
	})
}

// One collection at a time: while another holder has the lease, GC is
// refused with ECONFLICT; once it is released, GC runs.
func TestGCOneAtATime(t *testing.T) {
	t.Parallel()
	forEachGCBackend(t, func(t *testing.T, f *gcFixture) {
		now := cairn.Timestamp(f.now())
		take := func(until time.Time) {
			err := f.store.Update(f.ctx, func(tx cairn.Tx) error {
				ok, err := tx.AcquireLease(f.ctx, "gc", "another replica", now, until)
				if err == nil && !ok {
					err = fmt.Errorf("lease not free")
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		take(now.Add(time.Minute))
		if _, err := f.svc.GC(f.ctx, registry.GCOptions{}); !cairn.IsCode(err, cairn.ECONFLICT) {
			t.Errorf("GC while another holds the lease = %v, want conflict", err)
		}
		// The other holder crashed: its lease expires and GC proceeds.
		f.advance(2 * time.Minute)
		f.gc(t, registry.GCOptions{})
		// GC released its lease: another can take it at once.
		take(cairn.Timestamp(f.now()).Add(time.Minute))

		if _, err := f.svc.GC(f.ctx, registry.GCOptions{Grace: -time.Second}); !cairn.IsCode(err, cairn.EINVALID) {
			t.Errorf("negative grace = %v, want invalid", err)
		}
	})
}

// RunGC collects on its schedule until its context ends.
func TestRunGC(t *testing.T) {
	t.Parallel()
	f := newGCFixture(t, gcBackends[0])
	orphan := f.putBlob(t, "scheduled orphan")
	f.advance(48 * time.Hour)
	ctx, cancel := context.WithCancel(f.ctx)
	reports := make(chan *registry.GCReport, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.svc.RunGC(ctx, time.Millisecond, registry.GCOptions{}, func(rep *registry.GCReport) {
			select {
			case reports <- rep:
			default:
			}
		}, func(err error) { t.Errorf("RunGC: %v", err) })
	}()
	rep := <-reports
	cancel()
	<-done
	if rep.DryRun || rep.Deleted != 1 || f.exists(t, orphan) {
		t.Errorf("scheduled run: %+v; orphan exists %v", rep, f.exists(t, orphan))
	}
}

// A collector whose lease is taken over (it could not renew it in time,
// so another replica may be collecting) stops before it deletes, and does
// not release the other's lease.
func TestGCStopsWhenItLosesTheLease(t *testing.T) {
	t.Parallel()
	f := newGCFixture(t, gcBackends[0])
	ps := &pausingStore{Store: f.store}
	f.svc = registry.New(ps, f.blobs, registry.Options{Now: f.now, GCLease: 30 * time.Millisecond})
	orphan := f.putBlob(t, "orphan")
	f.advance(48 * time.Hour)
	ps.afterMarkCtx = func(ctx context.Context) {
		now := f.now().Add(time.Hour) // the collector's lease has expired by this clock
		if err := f.store.Update(f.ctx, func(tx cairn.Tx) error {
			ok, err := tx.AcquireLease(f.ctx, "gc", "another replica", now, now.Add(time.Hour))
			if err == nil && !ok {
				err = fmt.Errorf("could not take the lease over")
			}
			return err
		}); err != nil {
			t.Error(err)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Minute):
			t.Error("the collector did not notice it lost its lease within a minute")
		}
	}
	_, err := f.svc.GC(f.ctx, registry.GCOptions{})
	if err == nil || !strings.Contains(err.Error(), "lost the lease") {
		t.Errorf("GC after losing its lease = %v, want an error saying so", err)
	}
	if !f.exists(t, orphan) {
		t.Error("a collector without its lease deleted a blob")
	}
	if _, err := f.svc.GC(f.ctx, registry.GCOptions{}); !cairn.IsCode(err, cairn.ECONFLICT) {
		t.Errorf("GC while the other replica holds the lease = %v, want conflict (the loser must not release it)", err)
	}
}
