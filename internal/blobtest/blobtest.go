// Package blobtest is the conformance suite every cairn.BlobStore passes.
// A backend's test calls Run with a function that opens a fresh, empty store;
// the suite holds the behaviour the rest of Cairn relies on: verified,
// atomic, content-addressed writes; seekable reads; multi-part uploads; and
// nothing visible after any failure.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/google/go-cmp/cmp"
)

// Sizes used by the suite. Multi-part uploads need every part but the last
// to be at least cairn.MinPartSize; bigSize is large enough that a store
// which streams in bounded chunks (S3) takes its multi-part path in Put.
const (
	partSize = cairn.MinPartSize
	bigSize  = 2*cairn.MinPartSize + 12345
)

// Run runs the conformance suite. open returns a new, empty store that lives
// until t ends; it is called once per subtest, and subtests run in parallel.
func Run(t *testing.T, open func(t testing.TB) cairn.BlobStore) {
	s := &suite{open: open}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"RoundTrip", s.testRoundTrip},
		{"UnknownSize", s.testUnknownSize},
		{"Big", s.testBig},
		{"Empty", s.testEmpty},
		{"NotFound", s.testNotFound},
		{"InvalidDigest", s.testInvalidDigest},
		{"Seek", s.testSeek},
		{"ServeContent", s.testServeContent},
		{"WrongDigest", s.testWrongDigest},
		{"WrongSize", s.testWrongSize},
		{"FailingReader", s.testFailingReader},
		{"ContextCanceled", s.testContextCanceled},
		{"PutExisting", s.testPutExisting},
		{"StoredOnce", s.testStoredOnce},
		{"Delete", s.testDelete},
		{"Walk", s.testWalk},
		{"ConcurrentPut", s.testConcurrentPut},
		{"Upload", s.testUpload},
		{"UploadConcurrentParts", s.testUploadConcurrentParts},
		{"UploadSinglePart", s.testUploadSinglePart},
		{"UploadEmpty", s.testUploadEmpty},
		{"UploadExisting", s.testUploadExisting},
		{"UploadWrongDigest", s.testUploadWrongDigest},
		{"UploadWrongSize", s.testUploadWrongSize},
		{"UploadBadParts", s.testUploadBadParts},
		{"UploadAbort", s.testUploadAbort},
		{"UploadBadKey", s.testUploadBadKey},
		{"UploadPartNumber", s.testUploadPartNumber},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t)
		})
	}
}

type suite struct {
	open func(t testing.TB) cairn.BlobStore

	bigOnce sync.Once
	big     []byte
	bigD    cairn.Digest
}

// bigBlob returns bigSize pseudo-random bytes, shared read-only by subtests.
func (s *suite) bigBlob() ([]byte, cairn.Digest) {
	s.bigOnce.Do(func() {
		s.big = randomBytes(bigSize, 1)
		s.bigD = cairn.DigestOf(s.big)
	})
	return s.big, s.bigD
}

func (s *suite) testRoundTrip(t *testing.T) {
	ctx := t.Context()
	bs := s.open(t)
	data := randomBytes(70_000, 2)
	d := put(t, bs, data)
	if got := stat(t, bs, d); got != int64(len(data)) {
		t.Errorf("Stat = %d, want %d", got, len(data))
	}
	rc, size, err := bs.Open(ctx, d)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	if size != int64(len(data)) {
		t.Errorf("Open size = %d, want %d", size, len(data))
	}
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("read back %d bytes that differ from the %d put", len(got), len(data))
	}
	if err := rc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func (s *suite) testUnknownSize(t *testing.T) {
	bs := s.open(t)
	data := randomBytes(100_001, 3)
	d := cairn.DigestOf(data)
	if err := bs.Put(t.Context(), d, -1, onlyReader{bytes.NewReader(data)}); err != nil {
		t.Fatalf("Put with unknown size: %v", err)
	}
	if got := readBlob(t, bs, d); !bytes.Equal(got, data) {
		t.Error("read back differs from what was put")
	}
}

// testBig puts a blob larger than any sensible in-memory chunk, of unknown
// length, so that a store that streams in parts takes that path.
func (s *suite) testBig(t *testing.T) {
	bs := s.open(t)
	data, d := s.bigBlob()
	if err := bs.Put(t.Context(), d, -1, onlyReader{bytes.NewReader(data)}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if got := stat(t, bs, d); got != int64(len(data)) {
		t.Errorf("Stat = %d, want %d", got, len(data))
	}
	if got := readBlob(t, bs, d); !bytes.Equal(got, data) {
		t.Error("read back differs from what was put")
	}
	if diff := cmp.Diff(map[cairn.Digest]int64{d: int64(len(data))}, walk(t, bs)); diff != "" {
		t.Errorf("Walk (-want +got):\n%s", diff)
	}
}

func (s *suite) testEmpty(t *testing.T) {
	for _, size := range []int64{0, -1} {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			t.Parallel()
			bs := s.open(t)
			if err := bs.Put(t.Context(), cairn.EmptyDigest, size, bytes.NewReader(nil)); err != nil {
				t.Fatalf("Put empty: %v", err)
			}
			if got := stat(t, bs, cairn.EmptyDigest); got != 0 {
				t.Errorf("Stat = %d, want 0", got)
			}
			rc, n, err := bs.Open(t.Context(), cairn.EmptyDigest)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer rc.Close()
			if n != 0 {
				t.Errorf("Open size = %d, want 0", n)
			}
			got, err := io.ReadAll(rc)
			if err != nil || len(got) != 0 {
				t.Errorf("read = %d bytes, %v; want 0 bytes, nil", len(got), err)
			}
			if diff := cmp.Diff(map[cairn.Digest]int64{cairn.EmptyDigest: 0}, walk(t, bs)); diff != "" {
				t.Errorf("Walk (-want +got):\n%s", diff)
			}
		})
	}
}

func (s *suite) testNotFound(t *testing.T) {
	ctx := t.Context()
	bs := s.open(t)
	d := cairn.DigestOf([]byte("never stored"))
	if _, err := bs.Stat(ctx, d); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("Stat missing: %v, want code %s", err, cairn.ENOTFOUND)
	}
	if rc, _, err := bs.Open(ctx, d); !cairn.IsCode(err, cairn.ENOTFOUND) {
		if err == nil {
			rc.Close()
		}
		t.Errorf("Open missing: %v, want code %s", err, cairn.ENOTFOUND)
	}
	if got := walk(t, bs); len(got) != 0 {
		t.Errorf("Walk on an empty store = %v", got)
	}
}

func (s *suite) testInvalidDigest(t *testing.T) {
	ctx := t.Context()
	bs := s.open(t)
	good := cairn.DigestOf([]byte("x"))
	for _, d := range []cairn.Digest{
		"",
		"sha256:",
		"sha256:abc",
		"md5:" + cairn.Digest(good.Hex()),
		cairn.Digest("sha256:" + string(bytes.ToUpper([]byte(good.Hex())))),
		"sha256:../../../../../../etc/passwd" + cairn.Digest(good.Hex()[:30]),
		"../" + good,
		good + "/..",
	} {
		if _, err := bs.Stat(ctx, d); !cairn.IsCode(err, cairn.EINVALID) {
			t.Errorf("Stat(%q) = %v, want code %s", d, err, cairn.EINVALID)
		}
		if rc, _, err := bs.Open(ctx, d); !cairn.IsCode(err, cairn.EINVALID) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("Open(%q) = %v, want code %s", d, err, cairn.EINVALID)
		}
		if err := bs.Put(ctx, d, 1, bytes.NewReader([]byte("x"))); !cairn.IsCode(err, cairn.EINVALID) {
			t.Errorf("Put(%q) = %v, want code %s", d, err, cairn.EINVALID)
		}
		if err := bs.Delete(ctx, d); !cairn.IsCode(err, cairn.EINVALID) {
			t.Errorf("Delete(%q) = %v, want code %s", d, err, cairn.EINVALID)
		}
	}
	if got := walk(t, bs); len(got) != 0 {
		t.Errorf("Walk after refused Puts = %v", got)
	}
}

func (s *suite) testSeek(t *testing.T) {
	ctx := t.Context()
	bs := s.open(t)
	data := randomBytes(300_000, 4)
	d := put(t, bs, data)
	rc, size, err := bs.Open(ctx, d)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()

	pos := int64(0)
	read := func(n int) {
		t.Helper()
		buf := make([]byte, n)
		got, err := io.ReadFull(rc, buf)
		want := data[min(pos, size):min(pos+int64(n), size)]
		if len(want) < n {
			if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				t.Fatalf("read %d at %d: %v, want EOF after %d bytes", n, pos, err, len(want))
			}
		} else if err != nil {
			t.Fatalf("read %d at %d: %v", n, pos, err)
		}
		if !bytes.Equal(buf[:got], want) {
			t.Fatalf("read %d at %d: wrong bytes", n, pos)
		}
		pos += int64(got)
	}
	seek := func(off int64, whence int, want int64) {
		t.Helper()
		got, err := rc.Seek(off, whence)
		if err != nil {
			t.Fatalf("Seek(%d, %d): %v", off, whence, err)
		}
		if got != want {
			t.Fatalf("Seek(%d, %d) = %d, want %d", off, whence, got, want)
		}
		pos = got
	}

	read(100)
	seek(1000, io.SeekStart, 1000)
	read(10)
	seek(0, io.SeekCurrent, 1010)
	seek(50_000, io.SeekCurrent, 51_010)
	read(70_000) // a read spanning many internal buffers
	seek(-20, io.SeekCurrent, 121_010-20)
	read(40)
	seek(-10, io.SeekEnd, size-10)
	read(10)
	read(1) // at the end: EOF
	seek(5, io.SeekStart, 5)
	read(5)
	seek(size, io.SeekStart, size)
	read(1)
	seek(size+100, io.SeekStart, size+100) // past the end is allowed; reads see EOF
	read(1)
	seek(0, io.SeekStart, 0)
	read(int(size))

	if _, err := rc.Seek(-1, io.SeekStart); err == nil {
		t.Error("Seek(-1, SeekStart) succeeded, want an error")
	}
	if _, err := rc.Seek(-size-1, io.SeekEnd); err == nil {
		t.Error("Seek before the start from the end succeeded, want an error")
	}

	// Ranged reads through a SectionReader, as a Range request would make.
	if ra, ok := rc.(io.ReaderAt); ok {
		buf := make([]byte, 64)
		if _, err := ra.ReadAt(buf, 4096); err != nil {
			t.Fatalf("ReadAt: %v", err)
		}
		if !bytes.Equal(buf, data[4096:4096+64]) {
			t.Error("ReadAt returned wrong bytes")
		}
	}
	sr := io.NewSectionReader(readerAtFromSeeker{rc}, 123_456, 1_000)
	got, err := io.ReadAll(sr)
	if err != nil {
		t.Fatalf("section read: %v", err)
	}
	if !bytes.Equal(got, data[123_456:124_456]) {
		t.Error("section read returned wrong bytes")
	}
}

// testServeContent checks what the download handler relies on: Range
// requests through http.ServeContent.
func (s *suite) testServeContent(t *testing.T) {
	bs := s.open(t)
	data := randomBytes(50_000, 5)
	d := put(t, bs, data)
	for _, tc := range []struct {
		rng        string
		wantStatus int
		want       []byte
	}{
		{"", http.StatusOK, data},
		{"bytes=10-19", http.StatusPartialContent, data[10:20]},
		{"bytes=49990-", http.StatusPartialContent, data[49990:]},
		{"bytes=-7", http.StatusPartialContent, data[len(data)-7:]},
		{"bytes=40000-40009", http.StatusPartialContent, data[40000:40010]},
		{"bytes=60000-", http.StatusRequestedRangeNotSatisfiable, nil},
	} {
		rc, _, err := bs.Open(t.Context(), d)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		req := httptest.NewRequest(http.MethodGet, "/blob", nil)
		if tc.rng != "" {
			req.Header.Set("Range", tc.rng)
		}
		rec := httptest.NewRecorder()
		http.ServeContent(rec, req, "", time.Time{}, rc)
		rc.Close()
		if rec.Code != tc.wantStatus {
			t.Errorf("Range %q: status %d, want %d", tc.rng, rec.Code, tc.wantStatus)
			continue
		}
		if tc.want != nil && !bytes.Equal(rec.Body.Bytes(), tc.want) {
			t.Errorf("Range %q: got %d bytes that differ from the %d wanted", tc.rng, rec.Body.Len(), len(tc.want))
		}
	}
}

func (s *suite) testWrongDigest(t *testing.T) {
	for _, size := range []int{1000, bigSize} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			bs := s.open(t)
			data := randomBytes(size, 6)
			claimed := cairn.DigestOf([]byte("something else"))
			for _, n := range []int64{int64(size), -1} {
				err := bs.Put(t.Context(), claimed, n, bytes.NewReader(data))
				if !cairn.IsCode(err, cairn.EINVALID) {
					t.Errorf("Put with wrong digest, size %d: %v, want code %s", n, err, cairn.EINVALID)
				}
			}
			assertEmpty(t, bs, claimed, cairn.DigestOf(data))
		})
	}
}

func (s *suite) testWrongSize(t *testing.T) {
	bs := s.open(t)
	data := randomBytes(5000, 7)
	d := cairn.DigestOf(data)
	for _, size := range []int64{0, 4999, 5001, 1 << 30} {
		err := bs.Put(t.Context(), d, size, bytes.NewReader(data))
		if !cairn.IsCode(err, cairn.EINVALID) {
			t.Errorf("Put of 5000 bytes declared as %d: %v, want code %s", size, err, cairn.EINVALID)
		}
	}
	// More bytes than declared, where the first size bytes hash to d.
	longer := append(bytes.Clone(data), "trailing"...)
	if err := bs.Put(t.Context(), d, int64(len(data)), bytes.NewReader(longer)); !cairn.IsCode(err, cairn.EINVALID) {
		t.Errorf("Put with trailing bytes beyond the size: %v, want code %s", err, cairn.EINVALID)
	}
	assertEmpty(t, bs, d)
}

func (s *suite) testFailingReader(t *testing.T) {
	big, bigD := s.bigBlob()
	for _, tc := range []struct {
		name string
		data []byte
		d    cairn.Digest
		at   int
	}{
		{"small", []byte("0123456789abcdef"), cairn.DigestOf([]byte("0123456789abcdef")), 10},
		{"big", big, bigD, len(big) - 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bs := s.open(t)
			boom := errors.New("boom: connection reset")
			for _, size := range []int64{int64(len(tc.data)), -1} {
				r := &failingReader{r: bytes.NewReader(tc.data[:tc.at]), err: boom}
				err := bs.Put(t.Context(), tc.d, size, r)
				if !errors.Is(err, boom) {
					t.Errorf("Put from a reader failing after %d bytes (size %d): %v, want the reader's error", tc.at, size, err)
				}
			}
			assertEmpty(t, bs, tc.d)
		})
	}
}

func (s *suite) testContextCanceled(t *testing.T) {
	big, bigD := s.bigBlob()
	small := randomBytes(1<<20, 8)
	for _, tc := range []struct {
		name string
		data []byte
		d    cairn.Digest
		at   int
	}{
		{"small", small, cairn.DigestOf(small), 64 << 10},
		{"big", big, bigD, len(big) - 100_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bs := s.open(t)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			// The reader cancels the context after at bytes and goes on
			// supplying data: the store must notice the context, not EOF.
			r := &cancelingReader{data: tc.data, at: tc.at, cancel: cancel}
			err := bs.Put(ctx, tc.d, int64(len(tc.data)), r)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Put with a context canceled midway: %v, want context.Canceled", err)
			}
			assertEmpty(t, bs, tc.d)

			// A context canceled before the call.
			if err := bs.Put(ctx, tc.d, int64(len(tc.data)), bytes.NewReader(tc.data)); !errors.Is(err, context.Canceled) {
				t.Errorf("Put with a canceled context: %v, want context.Canceled", err)
			}
			assertEmpty(t, bs, tc.d)
		})
	}
}

func (s *suite) testPutExisting(t *testing.T) {
	bs := s.open(t)
	data := randomBytes(10_000, 9)
	d := put(t, bs, data)
	for _, size := range []int64{int64(len(data)), -1} {
		r := &countingReader{r: bytes.NewReader(data)}
		if err := bs.Put(t.Context(), d, size, r); err != nil {
			t.Fatalf("Put of an existing blob (size %d): %v", size, err)
		}
		if r.n != int64(len(data)) {
			t.Errorf("Put of an existing blob consumed %d bytes, want all %d", r.n, len(data))
		}
	}
	// Wrong bytes for an existing digest are still refused, and the stored
	// blob is untouched.
	if err := bs.Put(t.Context(), d, int64(len(data)), bytes.NewReader(randomBytes(len(data), 10))); !cairn.IsCode(err, cairn.EINVALID) {
		t.Errorf("Put of wrong bytes under an existing digest: %v, want code %s", err, cairn.EINVALID)
	}
	if got := readBlob(t, bs, d); !bytes.Equal(got, data) {
		t.Error("existing blob changed")
	}
}

func (s *suite) testStoredOnce(t *testing.T) {
	bs := s.open(t)
	a := randomBytes(4000, 11)
	b := randomBytes(4001, 12)
	da := put(t, bs, a)
	put(t, bs, a)
	db := put(t, bs, b)
	put(t, bs, bytes.Clone(a))
	want := map[cairn.Digest]int64{da: int64(len(a)), db: int64(len(b))}
	if diff := cmp.Diff(want, walk(t, bs)); diff != "" {
		t.Errorf("Walk (-want +got):\n%s", diff)
	}
	n := 0
	if err := bs.Walk(t.Context(), func(d cairn.Digest, _ int64, _ time.Time) error {
		if d == da {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("Walk reported the blob put three times %d times, want once", n)
	}
}

func (s *suite) testDelete(t *testing.T) {
	ctx := t.Context()
	bs := s.open(t)
	keep := put(t, bs, []byte("keep me"))
	d := put(t, bs, []byte("delete me"))
	if err := bs.Delete(ctx, d); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	assertGone(t, bs, d)
	if err := bs.Delete(ctx, d); err != nil {
		t.Errorf("Delete of a deleted blob: %v", err)
	}
	if err := bs.Delete(ctx, cairn.DigestOf([]byte("never stored"))); err != nil {
		t.Errorf("Delete of a missing blob: %v", err)
	}
	if diff := cmp.Diff(map[cairn.Digest]int64{keep: 7}, walk(t, bs)); diff != "" {
		t.Errorf("Walk (-want +got):\n%s", diff)
	}
	// A deleted blob can be put again.
	put(t, bs, []byte("delete me"))
	if got := readBlob(t, bs, d); string(got) != "delete me" {
		t.Errorf("re-put blob reads %q", got)
	}
}

func (s *suite) testWalk(t *testing.T) {
	bs := s.open(t)
	want := map[cairn.Digest]int64{}
	for i := range 20 {
		data := randomBytes(100+i*37, uint64(100+i))
		want[put(t, bs, data)] = int64(len(data))
	}
	want[put(t, bs, nil)] = 0
	var mu sync.Mutex
	got := map[cairn.Digest]int64{}
	if err := bs.Walk(t.Context(), func(d cairn.Digest, size int64, mod time.Time) error {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := got[d]; dup {
			t.Errorf("Walk reported %s twice", d)
		}
		if mod.IsZero() {
			t.Errorf("Walk reported a zero modification time for %s", d)
		}
		if _, err := cairn.ParseDigest(string(d)); err != nil {
			t.Errorf("Walk reported an invalid digest: %v", err)
		}
		got[d] = size
		return nil
	}); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Walk (-want +got):\n%s", diff)
	}

	// An error from fn stops the walk and is returned.
	stop := errors.New("stop")
	calls := 0
	err := bs.Walk(t.Context(), func(cairn.Digest, int64, time.Time) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("Walk with fn failing: %v, want fn's error", err)
	}
	if calls != 1 {
		t.Errorf("Walk called fn %d times after it failed, want 1", calls)
	}
}

func (s *suite) testConcurrentPut(t *testing.T) {
	big, bigD := s.bigBlob()
	small := randomBytes(256<<10, 13)
	for _, tc := range []struct {
		name string
		data []byte
		d    cairn.Digest
		n    int
	}{
		{"small", small, cairn.DigestOf(small), 8},
		{"big", big, bigD, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bs := s.open(t)
			var wg sync.WaitGroup
			errs := make([]error, tc.n)
			for i := range tc.n {
				wg.Go(func() {
					size := int64(len(tc.data))
					if i%2 == 1 {
						size = -1
					}
					errs[i] = bs.Put(t.Context(), tc.d, size, onlyReader{bytes.NewReader(tc.data)})
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("Put %d: %v", i, err)
				}
			}
			if diff := cmp.Diff(map[cairn.Digest]int64{tc.d: int64(len(tc.data))}, walk(t, bs)); diff != "" {
				t.Errorf("Walk (-want +got):\n%s", diff)
			}
			if got := readBlob(t, bs, tc.d); !bytes.Equal(got, tc.data) {
				t.Error("blob put concurrently reads back wrong")
			}
		})
	}
}

// parts returns the three parts the multi-part tests upload: two of the
// minimum size and a short last one.
func parts() [][]byte {
	return [][]byte{randomBytes(partSize, 21), randomBytes(partSize, 22), randomBytes(77_777, 23)}
}

func (s *suite) testUpload(t *testing.T) {
	ctx := t.Context()
	bs := s.open(t)
	p := parts()
	whole := bytes.Join(p, nil)
	d := cairn.DigestOf(whole)

	key, err := bs.StartUpload(ctx)
	if err != nil {
		t.Fatalf("StartUpload: %v", err)
	}
	if key == "" {
		t.Fatal("StartUpload returned an empty key")
	}
	// Out of order, and part 2 first sent with wrong bytes, then replaced.
	got := map[int]cairn.Part{}
	got[3] = putPart(t, bs, key, 3, p[2])
	putPart(t, bs, key, 2, randomBytes(partSize, 99))
	got[1] = putPart(t, bs, key, 1, p[0])
	got[2] = putPart(t, bs, key, 2, p[1])
	for n, part := range got {
		want := cairn.Part{Number: n, Size: int64(len(p[n-1])), Digest: cairn.DigestOf(p[n-1])}
		if diff := cmp.Diff(want, part, ignoreETag); diff != "" {
			t.Errorf("PutPart %d returned (-want +got):\n%s", n, diff)
		}
	}
	assertEmpty(t, bs, d) // nothing visible before completion

	// The caller's list is in no particular order; joining is by number.
	list := []cairn.Part{got[2], got[3], got[1]}
	if err := bs.CompleteUpload(ctx, key, list, d, int64(len(whole))); err != nil {
		t.Fatalf("CompleteUpload: %v", err)
	}
	if got := readBlob(t, bs, d); !bytes.Equal(got, whole) {
		t.Error("completed blob differs from its parts joined in order")
	}
	if diff := cmp.Diff(map[cairn.Digest]int64{d: int64(len(whole))}, walk(t, bs)); diff != "" {
		t.Errorf("Walk (-want +got):\n%s", diff)
	}
	assertReleased(t, bs, key)
}

func (s *suite) testUploadConcurrentParts(t *testing.T) {
	ctx := t.Context()
	bs := s.open(t)
	p := parts()
	whole := bytes.Join(p, nil)
	d := cairn.DigestOf(whole)
	key, err := bs.StartUpload(ctx)
	if err != nil {
		t.Fatalf("StartUpload: %v", err)
	}
	list := make([]cairn.Part, len(p))
	errs := make([]error, len(p))
	var wg sync.WaitGroup
	for i := range p {
		wg.Go(func() {
			list[i], errs[i] = bs.PutPart(ctx, key, i+1, onlyReader{bytes.NewReader(p[i])})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("PutPart: %v", err)
	}
	if err := bs.CompleteUpload(ctx, key, list, d, int64(len(whole))); err != nil {
		t.Fatalf("CompleteUpload: %v", err)
	}
	if got := readBlob(t, bs, d); !bytes.Equal(got, whole) {
		t.Error("completed blob differs from its parts joined in order")
	}
}

func (s *suite) testUploadSinglePart(t *testing.T) {
	ctx := t.Context()
	bs := s.open(t)
	data := randomBytes(1234, 24) // a lone part is the last one: any size
	d := cairn.DigestOf(data)
	key, err := bs.StartUpload(ctx)
	if err != nil {
		t.Fatalf("StartUpload: %v", err)
	}
	part := putPart(t, bs, key, 1, data)
	if err := bs.CompleteUpload(ctx, key, []cairn.Part{part}, d, int64(len(data))); err != nil {
		t.Fatalf("CompleteUpload: %v", err)
	}
	if got := readBlob(t, bs, d); !bytes.Equal(got, data) {
		t.Error("completed blob differs from its part")
	}
	assertReleased(t, bs, key)
}

func (s *suite) testUploadEmpty(t *testing.T) {
	ctx := t.Context()
	bs := s.open(t)
	key, err := bs.StartUpload(ctx)
	if err != nil {
		t.Fatalf("StartUpload: %v", err)
	}
	part := putPart(t, bs, key, 1, nil)
	if err := bs.CompleteUpload(ctx, key, []cairn.Part{part}, cairn.EmptyDigest, 0); err != nil {
		t.Fatalf("CompleteUpload: %v", err)
	}
	if got := stat(t, bs, cairn.EmptyDigest); got != 0 {
		t.Errorf("Stat = %d, want 0", got)
	}
}

func (s *suite) testUploadExisting(t *testing.T) {
	ctx := t.Context()
	bs := s.open(t)
	data := randomBytes(3000, 25)
	d := put(t, bs, data)
	key, err := bs.StartUpload(ctx)
	if err != nil {
		t.Fatalf("StartUpload: %v", err)
	}
	part := putPart(t, bs, key, 1, data)
	if err := bs.CompleteUpload(ctx, key, []cairn.Part{part}, d, int64(len(data))); err != nil {
		t.Fatalf("CompleteUpload of a blob that exists: %v", err)
	}
	if got := readBlob(t, bs, d); !bytes.Equal(got, data) {
		t.Error("blob changed")
	}
	assertReleased(t, bs, key)
}

func (s *suite) testUploadWrongDigest(t *testing.T) {
	ctx := t.Context()
	bs := s.open(t)
	p := parts()
	whole := bytes.Join(p, nil)
	claimed := cairn.DigestOf([]byte("not these bytes"))
	key, err := bs.StartUpload(ctx)
	if err != nil {
		t.Fatalf("StartUpload: %v", err)
	}
	var list []cairn.Part
	for i, b := range p {
		list = append(list, putPart(t, bs, key, i+1, b))
	}
	err = bs.CompleteUpload(ctx, key, list, claimed, int64(len(whole)))
	if !cairn.IsCode(err, cairn.EINVALID) {
		t.Fatalf("CompleteUpload with the wrong digest: %v, want code %s", err, cairn.EINVALID)
	}
	assertEmpty(t, bs, claimed, cairn.DigestOf(whole))
	// Verification consumed the upload: it cannot be completed again.
	assertReleased(t, bs, key)
}

func (s *suite) testUploadWrongSize(t *testing.T) {
	ctx := t.Context()
	bs := s.open(t)
	p := parts()
	whole := bytes.Join(p, nil)
	d := cairn.DigestOf(whole)
	key, err := bs.StartUpload(ctx)
	if err != nil {
		t.Fatalf("StartUpload: %v", err)
	}
	var list []cairn.Part
	for i, b := range p {
		list = append(list, putPart(t, bs, key, i+1, b))
	}
	for _, size := range []int64{int64(len(whole)) - 1, int64(len(whole)) + 1} {
		err = bs.CompleteUpload(ctx, key, list, d, size)
		if !cairn.IsCode(err, cairn.EINVALID) {
			t.Fatalf("CompleteUpload with size %d for %d bytes: %v, want code %s", size, len(whole), err, cairn.EINVALID)
		}
		assertEmpty(t, bs, d)
	}
	if err := bs.AbortUpload(ctx, key); err != nil {
		t.Errorf("AbortUpload: %v", err)
	}
	assertReleased(t, bs, key)
}

// testUploadBadParts checks the parts list a caller hands to CompleteUpload.
// These are refused before anything is joined, so the upload stays usable.
func (s *suite) testUploadBadParts(t *testing.T) {
	ctx := t.Context()
	bs := s.open(t)
	p := parts()
	whole := bytes.Join(p, nil)
	d := cairn.DigestOf(whole)
	size := int64(len(whole))
	key, err := bs.StartUpload(ctx)
	if err != nil {
		t.Fatalf("StartUpload: %v", err)
	}
	// Part numbers need not be contiguous: 1, 3 and 4 make the blob, and 2
	// is a short part that may only ever be last.
	p1 := putPart(t, bs, key, 1, p[0])
	small := putPart(t, bs, key, 2, []byte("tiny"))
	p2 := putPart(t, bs, key, 3, p[1])

	withSize := func(p cairn.Part, n int64) cairn.Part { p.Size = n; return p }
	withNumber := func(p cairn.Part, n int) cairn.Part { p.Number = n; return p }
	for _, tc := range []struct {
		name string
		list []cairn.Part
	}{
		{"none", nil},
		{"missing part", []cairn.Part{p1, p2, {Number: 4, Size: int64(len(p[2])), Digest: cairn.DigestOf(p[2])}}},
		{"duplicate number", []cairn.Part{p1, p1, p2}},
		{"number zero", []cairn.Part{withNumber(p1, 0), p2}},
		{"number too large", []cairn.Part{p1, withNumber(p2, cairn.MaxParts+1)}},
		{"size differs from the part", []cairn.Part{p1, withSize(p2, p2.Size-1)}},
		{"non-last part too small", []cairn.Part{p1, small, p2}},
	} {
		err := bs.CompleteUpload(ctx, key, tc.list, d, size)
		if !cairn.IsCode(err, cairn.EINVALID) {
			t.Errorf("CompleteUpload with %s: %v, want code %s", tc.name, err, cairn.EINVALID)
		}
		assertEmpty(t, bs, d)
	}

	// The upload survives those refusals: send the last part and finish.
	p3 := putPart(t, bs, key, 4, p[2])
	if err := bs.CompleteUpload(ctx, key, []cairn.Part{p1, p2, p3}, d, size); err != nil {
		t.Fatalf("CompleteUpload after fixing the parts: %v", err)
	}
	if got := readBlob(t, bs, d); !bytes.Equal(got, whole) {
		t.Error("completed blob differs from its parts joined in order")
	}
	assertReleased(t, bs, key)
}

func (s *suite) testUploadAbort(t *testing.T) {
	ctx := t.Context()
	bs := s.open(t)
	data := randomBytes(5000, 26)
	key, err := bs.StartUpload(ctx)
	if err != nil {
		t.Fatalf("StartUpload: %v", err)
	}
	putPart(t, bs, key, 1, data)
	if err := bs.AbortUpload(ctx, key); err != nil {
		t.Fatalf("AbortUpload: %v", err)
	}
	assertReleased(t, bs, key)
	if err := bs.AbortUpload(ctx, key); err != nil {
		t.Errorf("AbortUpload of an aborted upload: %v", err)
	}
	assertEmpty(t, bs, cairn.DigestOf(data))

	// Two uploads are independent.
	k1, err := bs.StartUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := bs.StartUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k1 == k2 {
		t.Fatalf("two StartUpload calls returned the same key %q", k1)
	}
	putPart(t, bs, k1, 1, []byte("one"))
	part := putPart(t, bs, k2, 1, []byte("two"))
	if err := bs.AbortUpload(ctx, k1); err != nil {
		t.Fatal(err)
	}
	if err := bs.CompleteUpload(ctx, k2, []cairn.Part{part}, cairn.DigestOf([]byte("two")), 3); err != nil {
		t.Fatalf("CompleteUpload of the upload not aborted: %v", err)
	}
}

func (s *suite) testUploadBadKey(t *testing.T) {
	ctx := t.Context()
	bs := s.open(t)
	real, err := bs.StartUpload(ctx)
	if err != nil {
		t.Fatalf("StartUpload: %v", err)
	}
	d := cairn.DigestOf([]byte("x"))
	for _, key := range []string{
		"", ".", "..", "../x", "../../../../tmp/x", "/etc/passwd", "a/b",
		real + "/..", real + "/../x", "../" + real, real + "\x00", real + "\n",
	} {
		if _, err := bs.PutPart(ctx, key, 1, bytes.NewReader([]byte("x"))); !cairn.IsCode(err, cairn.EINVALID) {
			t.Errorf("PutPart(%q) = %v, want code %s", key, err, cairn.EINVALID)
		}
		if err := bs.CompleteUpload(ctx, key, []cairn.Part{{Number: 1, Size: 1}}, d, 1); !cairn.IsCode(err, cairn.EINVALID) {
			t.Errorf("CompleteUpload(%q) = %v, want code %s", key, err, cairn.EINVALID)
		}
		if err := bs.AbortUpload(ctx, key); !cairn.IsCode(err, cairn.EINVALID) {
			t.Errorf("AbortUpload(%q) = %v, want code %s", key, err, cairn.EINVALID)
		}
	}
	if err := bs.AbortUpload(ctx, real); err != nil {
		t.Errorf("AbortUpload of the real key: %v", err)
	}
	assertEmpty(t, bs, d)
}

func (s *suite) testUploadPartNumber(t *testing.T) {
	ctx := t.Context()
	bs := s.open(t)
	key, err := bs.StartUpload(ctx)
	if err != nil {
		t.Fatalf("StartUpload: %v", err)
	}
	defer bs.AbortUpload(context.WithoutCancel(ctx), key)
	for _, n := range []int{-1, 0, cairn.MaxParts + 1} {
		if _, err := bs.PutPart(ctx, key, n, bytes.NewReader([]byte("x"))); !cairn.IsCode(err, cairn.EINVALID) {
			t.Errorf("PutPart number %d: %v, want code %s", n, err, cairn.EINVALID)
		}
	}
	putPart(t, bs, key, cairn.MaxParts, []byte("the highest part number is fine"))
}

// Helpers.

var ignoreETag = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".ETag" }, cmp.Ignore())

func put(t testing.TB, bs cairn.BlobStore, data []byte) cairn.Digest {
	t.Helper()
	d := cairn.DigestOf(data)
	if err := bs.Put(t.Context(), d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatalf("Put %d bytes: %v", len(data), err)
	}
	return d
}

func putPart(t testing.TB, bs cairn.BlobStore, key string, n int, data []byte) cairn.Part {
	t.Helper()
	p, err := bs.PutPart(t.Context(), key, n, onlyReader{bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("PutPart %d (%d bytes): %v", n, len(data), err)
	}
	return p
}

func stat(t testing.TB, bs cairn.BlobStore, d cairn.Digest) int64 {
	t.Helper()
	n, err := bs.Stat(t.Context(), d)
	if err != nil {
		t.Fatalf("Stat %s: %v", d, err)
	}
	return n
}

func readBlob(t testing.TB, bs cairn.BlobStore, d cairn.Digest) []byte {
	t.Helper()
	rc, size, err := bs.Open(t.Context(), d)
	if err != nil {
		t.Fatalf("Open %s: %v", d, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", d, err)
	}
	if int64(len(b)) != size {
		t.Errorf("Open %s reported size %d but read %d bytes", d, size, len(b))
	}
	return b
}

func walk(t testing.TB, bs cairn.BlobStore) map[cairn.Digest]int64 {
	t.Helper()
	got := map[cairn.Digest]int64{}
	var mu sync.Mutex
	if err := bs.Walk(t.Context(), func(d cairn.Digest, size int64, _ time.Time) error {
		mu.Lock()
		defer mu.Unlock()
		got[d] = size
		return nil
	}); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return got
}

// assertGone checks that d is not visible through Stat or Open.
func assertGone(t testing.TB, bs cairn.BlobStore, d cairn.Digest) {
	t.Helper()
	if n, err := bs.Stat(t.Context(), d); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("Stat %s = %d, %v; want code %s", d, n, err, cairn.ENOTFOUND)
	}
	if rc, _, err := bs.Open(t.Context(), d); !cairn.IsCode(err, cairn.ENOTFOUND) {
		if err == nil {
			rc.Close()
		}
		t.Errorf("Open %s: %v, want code %s", d, err, cairn.ENOTFOUND)
	}
}

// assertEmpty checks that none of ds is visible and that Walk finds nothing.
func assertEmpty(t testing.TB, bs cairn.BlobStore, ds ...cairn.Digest) {
	t.Helper()
	for _, d := range ds {
		assertGone(t, bs, d)
	}
	if got := walk(t, bs); len(got) != 0 {
		keys := make([]string, 0, len(got))
		for d := range got {
			keys = append(keys, string(d))
		}
		sort.Strings(keys)
		t.Errorf("Walk found blobs that should not be visible: %v", keys)
	}
}

// assertReleased checks that a finished or aborted upload takes no parts.
func assertReleased(t testing.TB, bs cairn.BlobStore, key string) {
	t.Helper()
	if _, err := bs.PutPart(t.Context(), key, 1, bytes.NewReader([]byte("late"))); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("PutPart on a released upload: %v, want code %s", err, cairn.ENOTFOUND)
	}
	err := bs.CompleteUpload(t.Context(), key, []cairn.Part{{Number: 1, Size: 4}}, cairn.DigestOf([]byte("late")), 4)
	if !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("CompleteUpload on a released upload: %v, want code %s", err, cairn.ENOTFOUND)
	}
	if err := bs.AbortUpload(t.Context(), key); err != nil {
		t.Errorf("AbortUpload on a released upload: %v", err)
	}
}

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

// onlyReader hides every method but Read (WriterTo, Seek, Len), so that a
// store cannot learn the length or rewind.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// failingReader returns r's bytes, then err instead of EOF.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// cancelingReader supplies data in small reads and calls cancel once at
// bytes have been read, without stopping.
type cancelingReader struct {
	data   []byte
	off    int
	at     int
	cancel context.CancelFunc
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	if c.off >= c.at {
		c.cancel()
	}
	if c.off >= len(c.data) {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 32<<10)], c.data[c.off:])
	c.off += n
	return n, nil
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

// readerAtFromSeeker gives a ReadSeeker the ReaderAt a SectionReader needs,
// the way http.ServeContent uses a blob: seek, then read.
type readerAtFromSeeker struct{ rs io.ReadSeeker }

func (r readerAtFromSeeker) ReadAt(p []byte, off int64) (int, error) {
	if _, err := r.rs.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return io.ReadFull(r.rs, p)
}
