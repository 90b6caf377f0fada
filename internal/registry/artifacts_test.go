package registry_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// Garbage collection keeps every blob an artifact names, however old, and
// collects an artifact's old blob once the path was overwritten or
// deleted (and no version refers to it). On SQLite with a blob directory
// and on PostgreSQL with S3.
func TestGCKeepsArtifactBlobs(t *testing.T) {
	for _, b := range gcBackends {
		t.Run(b.name, func(t *testing.T) {
			f := newGCFixture(t, b)
			put := func(path, content string) cairn.Digest {
				t.Helper()
				a, err := f.svc.PutArtifact(f.ctx, path, strings.NewReader(content))
				if err != nil {
					t.Fatalf("PutArtifact(%s): %v", path, err)
				}
				return a.Digest
			}
			kept := put("1/r/artifacts/model/model.pkl", "weights that stay")
			overwritten := put("1/r/artifacts/model/MLmodel", "flavors: v1")
			deleted := put("1/r/artifacts/tmp/log.txt", "a log")
			f.advance(48 * time.Hour) // every blob is past the grace period
			put("1/r/artifacts/model/MLmodel", "flavors: v2")
			if err := f.svc.DeleteArtifacts(f.ctx, "1/r/artifacts/tmp"); err != nil {
				t.Fatal(err)
			}
			rep := f.gc(t, registry.GCOptions{})
			if !f.exists(t, kept) {
				t.Errorf("GC deleted the blob of a live artifact (report %+v)", rep)
			}
			if f.exists(t, overwritten) || f.exists(t, deleted) {
				t.Errorf("GC kept the blobs of an overwritten (%v) and a deleted (%v) artifact", f.exists(t, overwritten), f.exists(t, deleted))
			}
			a, rc, err := f.svc.OpenArtifact(f.ctx, "1/r/artifacts/model/model.pkl")
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if b, _ := io.ReadAll(rc); string(b) != "weights that stay" || a.Digest != kept {
				t.Errorf("after GC the artifact reads %q", b)
			}
		})
	}
}

// A blob that existed already (the upload is then a no-op) and that a
// collection deleted before the artifact's row committed is sent again:
// the write never leaves a path naming a missing blob.
func TestPutArtifactResendsCollectedBlob(t *testing.T) {
	f := newGCFixture(t, gcBackends[0])
	d := f.putBlob(t, "shared bytes")
	// The collection runs between the blob upload and the row's commit:
	// simulate it by deleting the blob from the store under the registry.
	blobs := &deleteOnceAfterPut{BlobStore: f.blobs, victim: d}
	svc := registry.New(f.store, blobs, registry.Options{})
	if _, err := svc.PutArtifact(f.ctx, "1/r/artifacts/f", strings.NewReader("shared bytes")); err != nil {
		t.Fatal(err)
	}
	if !f.exists(t, d) {
		t.Fatal("the artifact names a blob the store does not have")
	}
	if blobs.puts != 2 {
		t.Errorf("%d uploads of the blob, want 2 (the second after it vanished)", blobs.puts)
	}
}

// deleteOnceAfterPut deletes blob victim right after its first Put, as a
// collection racing with the upload would.
type deleteOnceAfterPut struct {
	cairn.BlobStore
	victim cairn.Digest
	puts   int
}

func (s *deleteOnceAfterPut) Put(ctx context.Context, d cairn.Digest, size int64, r io.Reader) error {
	err := s.BlobStore.Put(ctx, d, size, r)
	if d == s.victim {
		s.puts++
		if s.puts == 1 {
			_ = s.BlobStore.Delete(ctx, d)
		}
	}
	return err
}

// A registration whose blob is collected between the check that it is
// present and the version's commit registers nothing and says so
// (ErrBlobVanished), so that the MLflow door snapshots again instead of
// recording a ready version without its bytes.
func TestRegisterExternalBlobVanished(t *testing.T) {
	f := newGCFixture(t, gcBackends[0])
	d := f.putBlob(t, "model bytes")
	blobs := &deleteAfterFirstStat{BlobStore: f.blobs, victim: d}
	svc := registry.New(f.store, blobs, registry.Options{})
	if _, err := svc.CreateModel(f.ctx, registry.ModelCreate{Name: "m"}); err != nil {
		t.Fatal(err)
	}
	_, err := svc.RegisterExternal(f.ctx, "m", cairn.VersionSpec{Files: []cairn.File{{Path: "model.pkl", Size: 11, Digest: d}}})
	if !errors.Is(err, registry.ErrBlobVanished) || !cairn.IsCode(err, cairn.ECONFLICT) {
		t.Fatalf("RegisterExternal = %v, want conflict wrapping ErrBlobVanished", err)
	}
	if _, err := svc.GetVersion(f.ctx, "m", 1); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("a version was registered: %v", err)
	}
	// With the blob back, the same registration takes number 1.
	f.putBlob(t, "model bytes")
	v, err := f.svc.RegisterExternal(f.ctx, "m", cairn.VersionSpec{Files: []cairn.File{{Path: "model.pkl", Size: 11, Digest: d}}})
	if err != nil || v.Number != 1 || v.Status != cairn.StatusReady {
		t.Fatalf("RegisterExternal again = %+v, %v", v, err)
	}
}

// deleteAfterFirstStat deletes blob victim right after the first Stat
// finds it, as a collection racing with a registration would.
type deleteAfterFirstStat struct {
	cairn.BlobStore
	victim cairn.Digest
	done   bool
}

func (s *deleteAfterFirstStat) Stat(ctx context.Context, d cairn.Digest) (int64, error) {
	n, err := s.BlobStore.Stat(ctx, d)
	if d == s.victim && !s.done && err == nil {
		s.done = true
		_ = s.BlobStore.Delete(ctx, d)
	}
	return n, err
}

// A multipart upload's parts are kept by garbage collection while the
// upload lives, however old; an upload not completed within the upload
// TTL is deleted by Expire, and its parts are collected after.
func TestArtifactUploadExpires(t *testing.T) {
	for _, b := range gcBackends {
		t.Run(b.name, func(t *testing.T) {
			f := newGCFixture(t, b)
			up, err := f.svc.StartArtifactUpload(f.ctx, "1/r/artifacts/big.bin")
			if err != nil {
				t.Fatal(err)
			}
			part, err := f.svc.PutArtifactUploadPart(f.ctx, up.ID, 1, strings.NewReader("a staged part"))
			if err != nil {
				t.Fatal(err)
			}
			f.advance(2 * time.Hour)
			f.gc(t, registry.GCOptions{Grace: time.Hour})
			if !f.exists(t, part.Digest) {
				t.Fatal("GC collected a part of a live upload")
			}
			rep, err := f.svc.Expire(f.ctx)
			if err != nil || rep.ArtifactUploads != 0 {
				t.Fatalf("Expire within the TTL = %+v, %v", rep, err)
			}
			f.advance(registry.DefaultUploadTTL)
			rep, err = f.svc.Expire(f.ctx)
			if err != nil || rep.ArtifactUploads != 1 {
				t.Fatalf("Expire after the TTL = %+v, %v; want 1 artifact upload", rep, err)
			}
			if _, err := f.svc.PutArtifactUploadPart(f.ctx, up.ID, 2, strings.NewReader("late")); !cairn.IsCode(err, cairn.ENOTFOUND) {
				t.Errorf("a part of an expired upload: %v, want not found", err)
			}
			if _, err := f.svc.CompleteArtifactUpload(f.ctx, up.Path, up.ID, []registry.CompletedPart{{Number: 1}}); !cairn.IsCode(err, cairn.ENOTFOUND) {
				t.Errorf("completing an expired upload: %v, want not found", err)
			}
			f.gc(t, registry.GCOptions{Grace: time.Hour})
			if f.exists(t, part.Digest) {
				t.Error("GC kept the part of an expired upload")
			}
			page, err := f.store.ListArtifacts(f.ctx, cairn.ArtifactQuery{})
			if err != nil || len(page.Items) != 0 {
				t.Errorf("rows left: %+v %v", page.Items, err)
			}
		})
	}
}

// An upload cut off by its sender is its sender's error (EINVALID), and
// stores nothing.
func TestPutArtifactCutOff(t *testing.T) {
	f := newGCFixture(t, gcBackends[0])
	body := io.MultiReader(strings.NewReader("first bytes"), iotestErr{})
	if _, err := f.svc.PutArtifact(f.ctx, "1/r/artifacts/f", body); !cairn.IsCode(err, cairn.EINVALID) {
		t.Fatalf("PutArtifact of a cut-off body = %v, want invalid", err)
	}
	if _, err := f.svc.GetArtifact(f.ctx, "1/r/artifacts/f"); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("a cut-off upload was stored: %v", err)
	}
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// A directory listed page by page gives the whole listing once, in
// order, whatever the page size: subdirectories are one entry each, and
// a page may end at a directory or a file. On both stores.
func TestListArtifactDirPages(t *testing.T) {
	for _, b := range gcBackends {
		t.Run(b.name, func(t *testing.T) {
			f := newGCFixture(t, b)
			for _, p := range []string{"r/a.txt", "r/b/1", "r/b/2", "r/b-c.txt", "r/c/x/y", "r/d", "r/e/1", "other/z", "r0"} {
				if _, err := f.svc.PutArtifact(f.ctx, p, strings.NewReader(p)); err != nil {
					t.Fatal(err)
				}
			}
			want := []registry.ArtifactEntry{
				{Path: "r/a.txt", Size: 7}, {Path: "r/b-c.txt", Size: 9}, {Path: "r/b", IsDir: true},
				{Path: "r/c", IsDir: true}, {Path: "r/d", Size: 3}, {Path: "r/e", IsDir: true},
			}
			all, err := f.svc.ListArtifactDir(f.ctx, "r")
			if err != nil || !slices.Equal(all, want) {
				t.Fatalf("ListArtifactDir = %v, %v; want %v", all, err, want)
			}
			for size := 1; size <= len(want)+1; size++ {
				var got []registry.ArtifactEntry
				from, pages := "", 0
				for {
					page, next, err := f.svc.ListArtifactDirPage(f.ctx, "r", from, size)
					if err != nil {
						t.Fatalf("size %d, from %q: %v", size, from, err)
					}
					pages++
					got = append(got, page...)
					if next == "" {
						break
					}
					if len(page) != size || pages > len(want)+1 {
						t.Fatalf("size %d: a page of %d with more to come (%q)", size, len(page), next)
					}
					from = next
				}
				if !slices.Equal(got, want) {
					t.Errorf("size %d: pages give %v, want %v", size, got, want)
				}
			}
			for _, bad := range []string{"other/z", "r/", "r"} {
				if _, _, err := f.svc.ListArtifactDirPage(f.ctx, "r", bad, 2); !cairn.IsCode(err, cairn.EINVALID) {
					t.Errorf("from %q outside the directory: %v, want invalid", bad, err)
				}
			}
		})
	}
}
