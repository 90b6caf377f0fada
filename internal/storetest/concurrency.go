package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
)

var concurrencyTests = []test{
	{"Writers", testConcurrentWriters},
}

// Register makes, in tx, the writes a registry makes for a push: lock the
// model, allocate a number, create a ready version, append an audit entry
// and an event. who names the writer and must differ between calls (it
// makes the event id). It returns the allocated number. Stores' own tests
// use it, with CheckRegistered, to test writers in several handles or
// processes.
func Register(ctx context.Context, tx cairn.Tx, model, who string) (int64, error) {
	m, err := tx.LockModel(ctx, model)
	if err != nil {
		return 0, err
	}
	n, err := tx.AllocateVersion(ctx, model)
	if err != nil {
		return 0, err
	}
	v := newVersion(model, m.Kind, n)
	v.CreatedBy = who
	if err := tx.CreateVersion(ctx, v); err != nil {
		return 0, err
	}
	ref := v.Ref()
	if err := tx.AppendAudit(ctx, &cairn.AuditEntry{Time: at(int(n)), Actor: who, Action: cairn.EventVersionCreated, Target: ref}); err != nil {
		return 0, err
	}
	if err := tx.AppendEvent(ctx, &cairn.Event{ID: who + "/" + ref, Type: cairn.EventVersionCreated, Time: at(int(n)),
		Actor: who, Model: model, Payload: []byte(`{}`)}); err != nil {
		return 0, err
	}
	return n, nil
}

// Sixteen writers each register several versions of one model through the
// same store, some rolling back: the committed numbers are exactly 1..N,
// and the audit chain and event sequence have no gaps or forks.
func testConcurrentWriters(t *testing.T, s cairn.Store) {
	createModel(t, s, "churn", cairn.KindModel)
	const (
		writers = 16
		each    = 4
	)
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		committed []int64
		errs      []error
	)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				fail := i == 1 // one rollback per writer, in the thick of it
				var n int64
				err := s.Update(t.Context(), func(tx cairn.Tx) error {
					var err error
					if n, err = Register(t.Context(), tx, "churn", fmt.Sprintf("w%d-%d", w, i)); err != nil {
						return err
					}
					if fail {
						return errRollback
					}
					return nil
				})
				mu.Lock()
				switch {
				case fail && errors.Is(err, errRollback):
				case !fail && err == nil:
					committed = append(committed, n)
				default:
					errs = append(errs, fmt.Errorf("writer %d, tx %d: %w", w, i, err))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	CheckRegistered(t, s, "churn", writers*(each-1))
	if len(committed) != writers*(each-1) {
		t.Fatalf("%d commits, want %d", len(committed), writers*(each-1))
	}
}

// CheckRegistered checks the state that n committed Register calls on
// model leave in a store that had nothing else: versions 1..n, n audit
// entries in one unbroken chain, n events numbered 1..n.
func CheckRegistered(t testing.TB, s cairn.Store, model string, n int) {
	t.Helper()
	ctx := t.Context()
	got := listAllVersions(t, s, cairn.VersionQuery{Model: model, Page: cairn.Page{Size: 1000}})
	var want, nums []int64
	for i := n; i >= 1; i-- {
		want = append(want, int64(i))
	}
	for _, v := range got {
		nums = append(nums, v.Number)
	}
	if diff := cmp.Diff(want, nums); diff != "" {
		t.Errorf("version numbers (-want +got):\n%s", diff)
	}
	m, err := s.GetModel(ctx, model)
	if err != nil {
		t.Fatal(err)
	}
	if m.LatestVersion != int64(n) {
		t.Errorf("LatestVersion = %d, want %d", m.LatestVersion, n)
	}
	audit, err := s.ListAudit(ctx, cairn.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != n {
		t.Errorf("%d audit entries, want %d", len(audit), n)
	}
	verifyChain(t, audit)
	events, err := s.ListEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != n {
		t.Errorf("%d events, want %d", len(events), n)
	}
	for i, ev := range events {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: the sequence has a gap", i, ev.Seq)
		}
	}
}
