package storetest

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
)

var gcTests = []test{
	{"ReferencedAmong", testReferencedAmong},
	{"LockBlobRefs", testLockBlobRefs},
	{"Lease", testLease},
}

// ReferencedAmong picks out of a list the digests a version (deleted or
// not; manifest or file) or an upload session refers to, agreeing with
// ReferencedDigests, inside and outside a transaction.
func testReferencedAmong(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	v1 := createVersion(t, s, "churn", nil)
	v2 := createVersion(t, s, "churn", func(v *cairn.Version) {
		v.Files = []cairn.File{{Path: "only-deleted.bin", Size: 2, Digest: cairn.DigestOf([]byte("d2"))}}
		v.Digest = cairn.ManifestDigest(v.Files)
		v.DeletedAt = ptr(at(3))
	})
	u := newUpload("u1", cairn.DigestOf([]byte("uploading")), 0, 100)
	update(t, s, func(tx cairn.Tx) error {
		if err := tx.CreateUpload(ctx, u); err != nil {
			return err
		}
		return tx.PutPart(ctx, "u1", part(1, "part-only"))
	})

	var want []cairn.Digest
	for _, v := range []*cairn.Version{v1, v2} {
		want = append(want, v.Digest)
		for _, f := range v.Files {
			want = append(want, f.Digest)
		}
	}
	want = append(want, u.Digest)
	unreferenced := []cairn.Digest{
		cairn.DigestOf([]byte("orphan")),
		part(1, "part-only").Digest, // a part is not a blob
	}
	// More digests than one query of some stores takes.
	for i := range 1200 {
		unreferenced = append(unreferenced, cairn.DigestOf([]byte{byte(i), byte(i >> 8), 'x'}))
	}
	ask := slices.Concat(unreferenced[:600], want, unreferenced[600:], want[:1])

	sortDigests := cmp.Transformer("sort", func(ds []cairn.Digest) []cairn.Digest {
		out := slices.Clone(ds)
		slices.Sort(out)
		return slices.Compact(out)
	})
	got, err := s.ReferencedAmong(ctx, ask)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, sortDigests); diff != "" {
		t.Errorf("ReferencedAmong (-want +got):\n%s", diff)
	}
	update(t, s, func(tx cairn.Tx) error {
		if err := tx.LockBlobRefs(ctx); err != nil {
			return err
		}
		got, err := tx.ReferencedAmong(ctx, ask)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(want, got, sortDigests); diff != "" {
			t.Errorf("ReferencedAmong in a transaction (-want +got):\n%s", diff)
		}
		return nil
	})
	if got, err := s.ReferencedAmong(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("ReferencedAmong(nil) = %v, %v; want nothing", got, err)
	}

	// Every digest ReferencedDigests reports is referenced here too.
	var all []cairn.Digest
	if err := s.ReferencedDigests(ctx, func(d cairn.Digest) error { all = append(all, d); return nil }); err != nil {
		t.Fatal(err)
	}
	got, err = s.ReferencedAmong(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(all, got, sortDigests); diff != "" {
		t.Errorf("ReferencedAmong(ReferencedDigests) (-want +got):\n%s", diff)
	}
}

// A version created in the transaction that holds LockBlobRefs counts as
// referenced in it, and the lock does not outlive the transaction: later
// writers proceed.
func testLockBlobRefs(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	var v *cairn.Version
	update(t, s, func(tx cairn.Tx) error {
		if err := tx.LockBlobRefs(ctx); err != nil {
			return err
		}
		if _, err := tx.LockModel(ctx, "churn"); err != nil {
			return err
		}
		n, err := tx.AllocateVersion(ctx, "churn")
		if err != nil {
			return err
		}
		v = newVersion("churn", cairn.KindModel, n)
		if err := tx.CreateVersion(ctx, v); err != nil {
			return err
		}
		got, err := tx.ReferencedAmong(ctx, []cairn.Digest{v.Files[0].Digest})
		if err != nil {
			return err
		}
		if len(got) != 1 {
			t.Errorf("a file of a version created in the transaction: ReferencedAmong = %v, want it", got)
		}
		return nil
	})
	// Taken twice in one transaction, and again by the next ones.
	for range 2 {
		update(t, s, func(tx cairn.Tx) error {
			if err := tx.LockBlobRefs(ctx); err != nil {
				return err
			}
			return tx.LockBlobRefs(ctx)
		})
	}
	createVersion(t, s, "churn", nil)
}

// A lease is held by one holder until it expires or is released; its
// holder renews it; anyone takes it once it has expired.
func testLease(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	acquire := func(name, holder string, now, until int) bool {
		t.Helper()
		var ok bool
		update(t, s, func(tx cairn.Tx) error {
			var err error
			ok, err = tx.AcquireLease(ctx, name, holder, at(now), at(until))
			return err
		})
		return ok
	}
	release := func(name, holder string) {
		t.Helper()
		update(t, s, func(tx cairn.Tx) error { return tx.ReleaseLease(ctx, name, holder) })
	}
	steps := []struct {
		desc               string
		name, holder       string
		now, until         int
		want               bool
		releaseFirst, whom string
	}{
		{desc: "free lease", name: "gc", holder: "a", now: 0, until: 10, want: true},
		{desc: "held by another", name: "gc", holder: "b", now: 5, until: 15, want: false},
		{desc: "renewed by its holder", name: "gc", holder: "a", now: 6, until: 20, want: true},
		{desc: "still held after the first expiry", name: "gc", holder: "b", now: 12, until: 30, want: false},
		{desc: "another lease is separate", name: "other", holder: "b", now: 12, until: 30, want: true},
		{desc: "expired: taken over", name: "gc", holder: "b", now: 20, until: 40, want: true},
		{desc: "the old holder lost it", name: "gc", holder: "a", now: 21, until: 50, want: false},
		{desc: "released by a non-holder: no change", name: "gc", holder: "a", now: 22, until: 50, want: false, releaseFirst: "gc", whom: "a"},
		{desc: "released by its holder: free", name: "gc", holder: "a", now: 23, until: 50, want: true, releaseFirst: "gc", whom: "b"},
	}
	for _, st := range steps {
		if st.releaseFirst != "" {
			release(st.releaseFirst, st.whom)
		}
		if got := acquire(st.name, st.holder, st.now, st.until); got != st.want {
			t.Errorf("%s: AcquireLease(%q, %q) = %v, want %v", st.desc, st.name, st.holder, got, st.want)
		}
	}
	release("nothing", "nobody")

	// A refused acquisition does not disturb the transaction.
	update(t, s, func(tx cairn.Tx) error {
		ok, err := tx.AcquireLease(ctx, "gc", "c", at(24), at(60))
		if err != nil || ok {
			t.Errorf("AcquireLease of a held lease = %v, %v; want false", ok, err)
		}
		ok, err = tx.AcquireLease(ctx, "third", "c", at(24), at(60))
		if err != nil || !ok {
			t.Errorf("AcquireLease after a refusal in the same transaction = %v, %v; want true", ok, err)
		}
		return nil
	})
}
