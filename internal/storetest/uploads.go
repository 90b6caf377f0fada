package storetest

import (
	"errors"
	"fmt"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
)

var uploadTests = []test{
	{"Lifecycle", testUploadLifecycle},
	{"FindAndExpire", testUploadFindExpired},
	{"ReferencedDigests", testReferencedDigests},
}

var idempotencyTests = []test{
	{"PutGet", testIdempotency},
}

func newUpload(id string, d cairn.Digest, created, expires int) *cairn.Upload {
	return &cairn.Upload{
		ID:         id,
		Digest:     d,
		Size:       12 << 20,
		BackendKey: "staging/" + id,
		CreatedBy:  "alice",
		CreatedAt:  at(created),
		ExpiresAt:  at(expires),
		Parts:      []cairn.Part{},
	}
}

func part(n int, seed string) cairn.Part {
	return cairn.Part{Number: n, Size: int64(n) << 20, ETag: "etag-" + seed, Digest: cairn.DigestOf([]byte(seed))}
}

func testUploadLifecycle(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	u := newUpload("u1", cairn.DigestOf([]byte("big")), 0, 100)
	update(t, s, func(tx cairn.Tx) error { return tx.CreateUpload(ctx, u) })
	got, err := s.GetUpload(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(u, got); diff != "" {
		t.Errorf("GetUpload (-want +got):\n%s", diff)
	}
	if got.Parts == nil {
		t.Error("Parts is nil, want an empty slice")
	}

	// Parts arrive out of order and may be re-sent; they come back by
	// number, the last one sent for each number winning.
	update(t, s, func(tx cairn.Tx) error {
		for _, p := range []cairn.Part{part(3, "c"), part(1, "a"), part(2, "b")} {
			if err := tx.PutPart(ctx, "u1", p); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx cairn.Tx) error { return tx.PutPart(ctx, "u1", part(2, "b-again")) })
	u.Parts = []cairn.Part{part(1, "a"), part(2, "b-again"), part(3, "c")}
	got, err = s.GetUpload(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(u, got); diff != "" {
		t.Errorf("GetUpload after parts (-want +got):\n%s", diff)
	}
	update(t, s, func(tx cairn.Tx) error {
		got, err := tx.GetUpload(ctx, "u1")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(u, got); diff != "" {
			return fmt.Errorf("tx.GetUpload (-want +got):\n%s", diff)
		}
		return nil
	})

	wantCode(t, s.Update(ctx, func(tx cairn.Tx) error { return tx.CreateUpload(ctx, newUpload("u1", u.Digest, 1, 2)) }), cairn.ECONFLICT)
	wantCode(t, s.Update(ctx, func(tx cairn.Tx) error { return tx.PutPart(ctx, "nope", part(1, "x")) }), cairn.ENOTFOUND)

	// Deleting an upload deletes its parts: a new session under the same
	// id starts with none.
	update(t, s, func(tx cairn.Tx) error { return tx.DeleteUpload(ctx, "u1") })
	_, err = s.GetUpload(ctx, "u1")
	wantCode(t, err, cairn.ENOTFOUND)
	wantCode(t, s.Update(ctx, func(tx cairn.Tx) error { return tx.DeleteUpload(ctx, "u1") }), cairn.ENOTFOUND)
	update(t, s, func(tx cairn.Tx) error { return tx.CreateUpload(ctx, newUpload("u1", u.Digest, 5, 100)) })
	got, err = s.GetUpload(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Parts) != 0 {
		t.Errorf("re-created upload has parts %v, want none", got.Parts)
	}
}

func uploadIDs(us []*cairn.Upload) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

func testUploadFindExpired(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	d := cairn.DigestOf([]byte("big"))
	other := cairn.DigestOf([]byte("other"))
	update(t, s, func(tx cairn.Tx) error {
		for _, u := range []*cairn.Upload{
			newUpload("old", d, 0, 10),   // expired by 50
			newUpload("mid", d, 20, 100), // live
			newUpload("new", d, 30, 100), // live, newer
			newUpload("elsewhere", other, 40, 60),
		} {
			if err := tx.CreateUpload(ctx, u); err != nil {
				return err
			}
		}
		return tx.PutPart(ctx, "mid", part(1, "m1"))
	})
	got, err := s.FindUploads(ctx, d, at(50))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"new", "mid"}, uploadIDs(got)); diff != "" {
		t.Errorf("FindUploads, newest first (-want +got):\n%s", diff)
	}
	if len(got) == 2 && (len(got[1].Parts) != 1 || got[1].Parts[0] != part(1, "m1") || got[0].Parts == nil) {
		t.Errorf("FindUploads parts: %v / %v", got[0].Parts, got[1].Parts)
	}
	got, err = s.FindUploads(ctx, cairn.DigestOf([]byte("none")), at(0))
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || len(got) != 0 {
		t.Errorf("FindUploads of an unknown digest = %#v, want an empty slice", got)
	}

	for _, tc := range []struct {
		before int
		limit  int
		want   []string
	}{
		{5, 10, []string{}},
		{11, 10, []string{"old"}},
		{61, 10, []string{"old", "elsewhere"}},
		{101, 10, []string{"old", "elsewhere", "mid", "new"}},
		{101, 2, []string{"old", "elsewhere"}},
	} {
		got, err := s.ExpiredUploads(ctx, at(tc.before), tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		// The soonest expired come first, so a limit leaves out the most
		// recently expired; the order within the result is not checked.
		ids := uploadIDs(got)
		sort.Strings(ids)
		want := append([]string{}, tc.want...)
		sort.Strings(want)
		if diff := cmp.Diff(want, ids); diff != "" {
			t.Errorf("ExpiredUploads(at(%d), %d) (-want +got):\n%s", tc.before, tc.limit, diff)
		}
	}
	got, err = s.ExpiredUploads(ctx, at(101), 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range got {
		if u.ID == "mid" && len(u.Parts) != 1 {
			t.Errorf("ExpiredUploads: mid has parts %v, want its one part", u.Parts)
		}
	}
}

// ReferencedDigests reports every blob a version (deleted or not) or an
// upload session refers to, and nothing else.
func testReferencedDigests(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	v1 := createVersion(t, s, "churn", nil)
	v2 := createVersion(t, s, "churn", func(v *cairn.Version) { v.DeletedAt = ptr(at(3)) })
	// v3 shares a file with v1: reported once or more, but reported.
	v3 := createVersion(t, s, "churn", func(v *cairn.Version) {
		v.Files = append([]cairn.File{v1.Files[0]}, cairn.File{Path: "z.txt", Size: 1, Digest: cairn.DigestOf([]byte("z"))})
		v.Digest = cairn.ManifestDigest(v.Files)
	})
	u := newUpload("u1", cairn.DigestOf([]byte("uploading")), 0, 100)
	update(t, s, func(tx cairn.Tx) error {
		if err := tx.CreateUpload(ctx, u); err != nil {
			return err
		}
		// A part's digest is not a blob: it is not reported.
		return tx.PutPart(ctx, "u1", part(1, "part-only"))
	})

	want := map[cairn.Digest]bool{u.Digest: true}
	for _, v := range []*cairn.Version{v1, v2, v3} {
		want[v.Digest] = true
		for _, f := range v.Files {
			want[f.Digest] = true
		}
	}
	got := map[cairn.Digest]bool{}
	if err := s.ReferencedDigests(ctx, func(d cairn.Digest) error {
		got[d] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReferencedDigests (-want +got):\n%s", diff)
	}

	// fn's error stops the walk and comes back.
	stop := errors.New("stop")
	calls := 0
	err := s.ReferencedDigests(ctx, func(cairn.Digest) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("ReferencedDigests with a failing fn = %v after %d calls, want fn's error after 1", err, calls)
	}
}

func testIdempotency(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	r := &cairn.IdempotentResponse{
		Key:         "key-1",
		RequestHash: "POST /api/v1/models sha256:abc",
		Status:      201,
		Body:        []byte("{\"name\":\"churn\"}\n\x00\xff"),
		CreatedAt:   at(1),
	}
	update(t, s, func(tx cairn.Tx) error { return tx.PutIdempotency(ctx, r) })
	got, err := s.GetIdempotency(ctx, "key-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("GetIdempotency (-want +got):\n%s", diff)
	}
	dup := *r
	dup.Status = 500
	wantCode(t, s.Update(ctx, func(tx cairn.Tx) error { return tx.PutIdempotency(ctx, &dup) }), cairn.ECONFLICT)
	if got, err := s.GetIdempotency(ctx, "key-1"); err != nil || got.Status != 201 {
		t.Errorf("after a conflicting put: %+v, %v", got, err)
	}
	_, err = s.GetIdempotency(ctx, "nope")
	wantCode(t, err, cairn.ENOTFOUND)

	empty := &cairn.IdempotentResponse{Key: "key-2", RequestHash: "h", Status: 204, CreatedAt: at(2)}
	update(t, s, func(tx cairn.Tx) error { return tx.PutIdempotency(ctx, empty) })
	got, err = s.GetIdempotency(ctx, "key-2")
	if err != nil {
		t.Fatal(err)
	}
	if got.Body == nil || len(got.Body) != 0 {
		t.Errorf("empty body read back as %#v, want an empty slice", got.Body)
	}
	update(t, s, func(tx cairn.Tx) error {
		got, err := tx.GetIdempotency(ctx, "key-1")
		if err != nil {
			return err
		}
		if got.Status != 201 {
			return fmt.Errorf("tx.GetIdempotency = %+v", got)
		}
		return nil
	})
}
