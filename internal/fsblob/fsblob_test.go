package fsblob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/blobtest"
	"github.com/cairn-registry/cairn/internal/fsblob"
	"github.com/google/go-cmp/cmp"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	blobtest.Run(t, func(t testing.TB) cairn.BlobStore {
		s, _ := newStore(t)
		return s
	})
}

func newStore(t testing.TB) (*fsblob.Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := fsblob.New(dir)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

// files lists the regular files under dir/sub, relative to dir.
func files(t testing.TB, dir, sub string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(dir, sub), func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLayout(t *testing.T) {
	t.Parallel()
	s, dir := newStore(t)
	data := []byte("layout")
	d := cairn.DigestOf(data)
	if err := s.Put(t.Context(), d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	want := []string{"blobs/sha256/" + d.Hex()[:2] + "/" + d.Hex()}
	if diff := cmp.Diff(want, files(t, dir, ".")); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	got, err := os.ReadFile(filepath.Join(dir, want[0]))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("blob file = %q, %v; want %q", got, err, data)
	}
	for _, sub := range []string{"tmp", "uploads"} {
		if info, err := os.Stat(filepath.Join(dir, sub)); err != nil || !info.IsDir() {
			t.Errorf("%s: %v, want a directory", sub, err)
		}
	}
}

func TestOpenReturnsFile(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	data := []byte("an *os.File lets http.ServeContent use sendfile")
	d := cairn.DigestOf(data)
	if err := s.Put(t.Context(), d, -1, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	rc, size, err := s.Open(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, ok := rc.(*os.File); !ok {
		t.Errorf("Open returned %T, want *os.File", rc)
	}
	if size != int64(len(data)) {
		t.Errorf("size = %d, want %d", size, len(data))
	}
}

// TestNoTempFilesLeft checks that every kind of failed write removes its
// temporary file, and so do successful ones.
func TestNoTempFilesLeft(t *testing.T) {
	t.Parallel()
	s, dir := newStore(t)
	ctx := t.Context()
	data := bytes.Repeat([]byte("0123456789"), 100_000)
	d := cairn.DigestOf(data)
	boom := errors.New("boom")

	failures := map[string]func() error{
		"wrong digest": func() error {
			return s.Put(ctx, cairn.DigestOf([]byte("other")), -1, bytes.NewReader(data))
		},
		"short": func() error { return s.Put(ctx, d, int64(len(data))+1, bytes.NewReader(data)) },
		"long":  func() error { return s.Put(ctx, d, int64(len(data))-1, bytes.NewReader(data)) },
		"failing reader": func() error {
			return s.Put(ctx, d, -1, io.MultiReader(bytes.NewReader(data[:5000]), errReader{boom}))
		},
		"canceled": func() error {
			ctx, cancel := context.WithCancel(ctx)
			return s.Put(ctx, d, -1, io.MultiReader(bytes.NewReader(data[:5000]), cancelReader{cancel}, bytes.NewReader(data[5000:])))
		},
		"part failing reader": func() error {
			key, err := s.StartUpload(ctx)
			if err != nil {
				return err
			}
			_, err = s.PutPart(ctx, key, 1, io.MultiReader(bytes.NewReader(data[:5000]), errReader{boom}))
			return err
		},
		"complete wrong digest": func() error {
			key, err := s.StartUpload(ctx)
			if err != nil {
				return err
			}
			p, err := s.PutPart(ctx, key, 1, bytes.NewReader(data))
			if err != nil {
				return err
			}
			return s.CompleteUpload(ctx, key, []cairn.Part{p}, cairn.DigestOf([]byte("other")), int64(len(data)))
		},
	}
	for name, f := range failures {
		if err := f(); err == nil {
			t.Errorf("%s: succeeded, want an error", name)
		}
		if left := files(t, dir, "tmp"); len(left) != 0 {
			t.Errorf("%s: temporary files left behind: %v", name, left)
		}
		if blobs := files(t, dir, "blobs"); len(blobs) != 0 {
			t.Errorf("%s: blob files after a failed write: %v", name, blobs)
		}
	}

	if err := s.Put(ctx, d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if left := files(t, dir, "tmp"); len(left) != 0 {
		t.Errorf("temporary files left after a successful Put: %v", left)
	}
}

func TestCompleteReleasesParts(t *testing.T) {
	t.Parallel()
	s, dir := newStore(t)
	ctx := t.Context()
	key, err := s.StartUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("staged")
	p, err := s.PutPart(ctx, key, 1, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"uploads/" + key + "/1"}, files(t, dir, "uploads")); diff != "" {
		t.Errorf("staged files (-want +got):\n%s", diff)
	}
	if err := s.CompleteUpload(ctx, key, []cairn.Part{p}, cairn.DigestOf(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(filepath.Join(dir, "uploads")); len(left) != 0 {
		t.Errorf("uploads left after completion: %v", left)
	}
}

// TestHostileKeys checks that upload keys never become paths unchecked:
// only keys of the form StartUpload makes are accepted, and nothing is
// created outside the store.
func TestHostileKeys(t *testing.T) {
	t.Parallel()
	s, dir := newStore(t)
	ctx := t.Context()
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(filepath.Join(dir, "uploads"), outside)
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{
		"../x", "..", rel, filepath.Join(rel, "victim"), outside, "../tmp",
		"../blobs/sha256", strings.Repeat("A", 32), strings.Repeat("g", 32),
		strings.Repeat("a", 31), strings.Repeat("a", 33), strings.Repeat("a", 31) + "/",
	}
	for _, key := range keys {
		if _, err := s.PutPart(ctx, key, 1, strings.NewReader("evil")); !cairn.IsCode(err, cairn.EINVALID) {
			t.Errorf("PutPart(%q): %v, want code %s", key, err, cairn.EINVALID)
		}
		if err := s.AbortUpload(ctx, key); !cairn.IsCode(err, cairn.EINVALID) {
			t.Errorf("AbortUpload(%q): %v, want code %s", key, err, cairn.EINVALID)
		}
		if err := s.CompleteUpload(ctx, key, []cairn.Part{{Number: 1, Size: 4}}, cairn.DigestOf([]byte("evil")), 4); !cairn.IsCode(err, cairn.EINVALID) {
			t.Errorf("CompleteUpload(%q): %v, want code %s", key, err, cairn.EINVALID)
		}
	}
	if got, err := os.ReadFile(victim); err != nil || string(got) != "keep" {
		t.Errorf("file outside the store: %q, %v", got, err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("files created outside the store: %v", entries)
	}
}

// TestSymlinkEscape plants a symlink where an upload's directory would be:
// os.Root refuses to follow it out of the store.
func TestSymlinkEscape(t *testing.T) {
	t.Parallel()
	s, dir := newStore(t)
	ctx := t.Context()
	outside := t.TempDir()
	key, err := s.StartUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	updir := filepath.Join(dir, "uploads", key)
	if err := os.Remove(updir); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, updir); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutPart(ctx, key, 1, strings.NewReader("evil")); err == nil {
		t.Error("PutPart through a symlink out of the store succeeded")
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("files written outside the store: %v", entries)
	}
	if err := s.AbortUpload(ctx, key); err != nil {
		t.Errorf("AbortUpload: %v", err)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("AbortUpload removed the symlink's target: %v", err)
	}
}

func TestStaleTempFilesRemoved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := fsblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	old := time.Now().Add(-fsblob.StaleAfter - time.Minute)
	for name, mod := range map[string]time.Time{"stale": old, "fresh": time.Now()} {
		p := filepath.Join(dir, "tmp", name)
		if err := os.WriteFile(p, []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	// An upload in progress is the session's to expire, whatever its age.
	up := filepath.Join(dir, "uploads", strings.Repeat("ab", 16))
	if err := os.MkdirAll(up, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(up, old, old); err != nil {
		t.Fatal(err)
	}

	s, err = fsblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if diff := cmp.Diff([]string{"tmp/fresh"}, files(t, dir, "tmp")); diff != "" {
		t.Errorf("tmp after New (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(up); err != nil {
		t.Errorf("New removed an upload in progress: %v", err)
	}
}

// TestWalkSkipsForeignFiles checks that files which are not blobs, in the
// blob tree, are neither reported nor a reason to fail.
func TestWalkSkipsForeignFiles(t *testing.T) {
	t.Parallel()
	s, dir := newStore(t)
	data := []byte("real")
	d := cairn.DigestOf(data)
	if err := s.Put(t.Context(), d, 4, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	wrongShard := cairn.DigestOf([]byte("misplaced")).Hex()
	for _, p := range []string{
		"blobs/sha256/README",
		"blobs/sha256/zz/" + strings.Repeat("z", 64),
		"blobs/sha256/" + d.Hex()[:2] + "/" + d.Hex() + ".partial",
		"blobs/sha256/" + flip(wrongShard[:2]) + "/" + wrongShard,
	} {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got := map[cairn.Digest]int64{}
	if err := s.Walk(t.Context(), func(d cairn.Digest, size int64, _ time.Time) error {
		got[d] = size
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[cairn.Digest]int64{d: 4}, got); diff != "" {
		t.Errorf("Walk (-want +got):\n%s", diff)
	}
}

func flip(s string) string {
	if s[0] == '0' {
		return "1" + s[1:]
	}
	return "0" + s[1:]
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// cancelReader cancels on its first read and then reports EOF, so a
// MultiReader goes on to the following data.
type cancelReader struct{ cancel context.CancelFunc }

func (c cancelReader) Read([]byte) (int, error) { c.cancel(); return 0, io.EOF }

// TestPutMemory checks that Put streams: a 64 MiB blob of unknown length
// allocates a small fraction of its size. (Not parallel: it reads
// process-wide allocation counters.)
func TestPutMemory(t *testing.T) {
	s, _ := newStore(t)
	const size = 64 << 20
	dg := cairn.NewDigester()
	if _, err := io.Copy(dg, &pattern{n: size}); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := s.Put(t.Context(), dg.Digest(), -1, &pattern{n: size}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("Put of %d MiB allocated %.1f MiB", size>>20, float64(allocated)/(1<<20))
	if allocated > 8<<20 {
		t.Errorf("Put of %d MiB allocated %d MiB: memory grows with the blob", size>>20, allocated>>20)
	}
}

// pattern yields n bytes of a repeating pattern, hiding its length.
type pattern struct{ n, off int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		b[i] = byte((p.off + int64(i)) % 251)
	}
	p.off += int64(len(b))
	return len(b), nil
}
