package storetest

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
)

var artifactTests = []test{
	{"PutGetReplace", testArtifactPutGet},
	{"ListRangeAndPages", testArtifactList},
	{"DeleteSubtree", testArtifactDelete},
	{"Referenced", testArtifactReferenced},
}

func newArtifact(path, content string, i int) *cairn.Artifact {
	return &cairn.Artifact{Path: path, Digest: cairn.DigestOf([]byte(content)), Size: int64(len(content)),
		UpdatedBy: "alice", UpdatedAt: at(i)}
}

func putArtifacts(t testing.TB, s cairn.Store, as ...*cairn.Artifact) {
	t.Helper()
	update(t, s, func(tx cairn.Tx) error {
		for _, a := range as {
			if err := tx.PutArtifact(t.Context(), a); err != nil {
				return err
			}
		}
		return nil
	})
}

// An artifact reads back as written; writing its path again replaces every
// field.
func testArtifactPutGet(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	a := newArtifact("1/r1/artifacts/model/MLmodel", "flavors: {}", 1)
	requireAllFieldsSet(t, a)
	putArtifacts(t, s, a)
	got, err := s.GetArtifact(ctx, a.Path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("GetArtifact (-want +got):\n%s", diff)
	}
	b := newArtifact(a.Path, "flavors: {python_function: {}}", 2)
	b.UpdatedBy = "bob"
	putArtifacts(t, s, b)
	got, err = s.GetArtifact(ctx, a.Path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, got); diff != "" {
		t.Errorf("GetArtifact after a replace (-want +got):\n%s", diff)
	}
	_, err = s.GetArtifact(ctx, "1/r1/artifacts/model")
	wantCode(t, err, cairn.ENOTFOUND)
	// Inside a transaction too.
	update(t, s, func(tx cairn.Tx) error {
		got, err := tx.GetArtifact(ctx, a.Path)
		if err == nil && got.Digest != b.Digest {
			t.Errorf("GetArtifact in a transaction = %s, want %s", got.Digest, b.Digest)
		}
		return err
	})
}

// A list is a byte-ordered range: a directory's prefix never matches a
// sibling that merely starts the same ("model" vs "model2", "model-x"),
// and pages continue where the last ended.
func testArtifactList(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	paths := []string{
		"1/r1/artifacts/model", // a file named like a sibling directory
		"1/r1/artifacts/model-x/a",
		"1/r1/artifacts/model/MLmodel",
		"1/r1/artifacts/model/data/weights.bin",
		"1/r1/artifacts/model/requirements.txt",
		"1/r1/artifacts/model/é.txt",
		"1/r1/artifacts/model0",
		"1/r1/artifacts/model2/x",
		"1/r10/artifacts/y",
	}
	var as []*cairn.Artifact
	for i, p := range paths {
		as = append(as, newArtifact(p, p, i))
	}
	putArtifacts(t, s, as...)
	list := func(q cairn.ArtifactQuery) ([]string, string) {
		t.Helper()
		page, err := s.ListArtifacts(ctx, q)
		if err != nil {
			t.Fatalf("ListArtifacts(%+v): %v", q, err)
		}
		var got []string
		for _, a := range page.Items {
			got = append(got, a.Path)
		}
		return got, page.NextToken
	}
	got, next := list(cairn.ArtifactQuery{Prefix: "1/r1/artifacts/model/"})
	want := []string{"1/r1/artifacts/model/MLmodel", "1/r1/artifacts/model/data/weights.bin",
		"1/r1/artifacts/model/requirements.txt", "1/r1/artifacts/model/é.txt"}
	if diff := cmp.Diff(want, got); diff != "" || next != "" {
		t.Errorf("list model/ (-want +got):\n%s next %q", diff, next)
	}
	got, next = list(cairn.ArtifactQuery{Prefix: "1/r1/artifacts/model/", Limit: 2})
	if diff := cmp.Diff(want[:2], got); diff != "" || next != want[2] {
		t.Errorf("first page (-want +got):\n%s next %q, want %q", diff, next, want[2])
	}
	got, next = list(cairn.ArtifactQuery{Prefix: "1/r1/artifacts/model/", From: next, Limit: 2})
	if diff := cmp.Diff(want[2:], got); diff != "" || next != "" {
		t.Errorf("second page (-want +got):\n%s next %q", diff, next)
	}
	// From skips a subtree, as a directory listing does.
	got, _ = list(cairn.ArtifactQuery{Prefix: "1/r1/artifacts/model/", From: "1/r1/artifacts/model/data0"})
	if diff := cmp.Diff(want[2:], got); diff != "" {
		t.Errorf("list from data0 (-want +got):\n%s", diff)
	}
	got, _ = list(cairn.ArtifactQuery{})
	sorted := slices.Clone(paths)
	slices.Sort(sorted)
	if diff := cmp.Diff(sorted, got); diff != "" {
		t.Errorf("list everything (-want +got):\n%s", diff)
	}
	got, _ = list(cairn.ArtifactQuery{Prefix: "nothing/"})
	if len(got) != 0 {
		t.Errorf("list of an empty directory = %q", got)
	}
	for _, q := range []cairn.ArtifactQuery{{Prefix: "1/r1"}, {Limit: -1}, {Limit: cairn.MaxArtifactList + 1}} {
		_, err := s.ListArtifacts(ctx, q)
		wantCode(t, err, cairn.EINVALID)
	}
}

// DeleteArtifacts removes a file, or a directory with everything under it,
// and nothing that merely shares a prefix.
func testArtifactDelete(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	paths := []string{"e/run/a", "e/run/a/b", "e/run/a/c/d", "e/run/a0", "e/run/ab", "e/run/a-b"}
	var as []*cairn.Artifact
	for i, p := range paths {
		as = append(as, newArtifact(p, p, i))
	}
	putArtifacts(t, s, as...)
	var n int64
	update(t, s, func(tx cairn.Tx) (err error) { n, err = tx.DeleteArtifacts(ctx, "e/run/a"); return err })
	if n != 3 {
		t.Errorf("DeleteArtifacts(e/run/a) = %d, want 3", n)
	}
	page, err := s.ListArtifacts(ctx, cairn.ArtifactQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, a := range page.Items {
		left = append(left, a.Path)
	}
	if diff := cmp.Diff([]string{"e/run/a-b", "e/run/a0", "e/run/ab"}, left); diff != "" {
		t.Errorf("left after the delete (-want +got):\n%s", diff)
	}
	update(t, s, func(tx cairn.Tx) (err error) { n, err = tx.DeleteArtifacts(ctx, "e/none"); return err })
	if n != 0 {
		t.Errorf("DeleteArtifacts of nothing = %d", n)
	}
}

// Garbage collection sees an artifact's blob as referenced, and stops
// seeing it once the path points elsewhere or is deleted.
func testArtifactReferenced(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	a := newArtifact("1/r/artifacts/model.pkl", "weights v1", 1)
	putArtifacts(t, s, a)
	old := a.Digest
	referenced := func(d cairn.Digest) bool {
		t.Helper()
		got, err := s.ReferencedAmong(ctx, []cairn.Digest{d})
		if err != nil {
			t.Fatal(err)
		}
		all := false
		if err := s.ReferencedDigests(ctx, func(x cairn.Digest) error {
			all = all || x == d
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if all != (len(got) == 1) {
			t.Errorf("ReferencedAmong says %v for %s, ReferencedDigests %v", got, d, all)
		}
		return len(got) == 1
	}
	if !referenced(old) {
		t.Errorf("the blob of an artifact is not referenced")
	}
	b := newArtifact(a.Path, "weights v2", 2)
	putArtifacts(t, s, b)
	if referenced(old) || !referenced(b.Digest) {
		t.Errorf("after an overwrite: old referenced %v, new %v; want false, true", referenced(old), referenced(b.Digest))
	}
	update(t, s, func(tx cairn.Tx) error { _, err := tx.DeleteArtifacts(ctx, b.Path); return err })
	if referenced(b.Digest) {
		t.Errorf("the blob of a deleted artifact is still referenced")
	}
}
