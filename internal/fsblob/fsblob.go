// Package fsblob is a cairn.BlobStore on a local directory.
//
// Layout under the store's directory:
//
//	blobs/sha256/<2 hex>/<64 hex>   published blobs, named by their digest
//	tmp/<random>                    writes in progress
//	uploads/<key>/<n>               parts of multi-part upload <key>
//
// A write goes to a temporary file through a hasher, is synced, verified
// against the expected digest and size, renamed into place and the directory
// synced, so a blob is either absent or complete and verified, also across a
// crash. Every name is built from a validated digest, a server-generated
// upload key or a part number, and every file operation goes through an
// os.Root, so nothing a caller supplies can reach outside the directory.
package fsblob

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cairn-registry/cairn"
)

const (
	blobsDir   = "blobs/sha256"
	tmpDir     = "tmp"
	uploadsDir = "uploads"

	dirPerm  = 0o750
	filePerm = 0o640

	// StaleAfter is how old a temporary file must be for New to remove it.
	// Writes in progress in another process sharing the directory are
	// younger than that.
	StaleAfter = time.Hour

	copyBufferSize = 1 << 20
)

// Store is a blob store on a local directory. It is safe for concurrent use,
// also by several processes sharing the directory.
type Store struct {
	root *os.Root
	bufs sync.Pool // *[]byte of copyBufferSize, for streaming copies

	maxPartSize int64 // cairn.MaxPartSize; lowered by tests
}

var _ cairn.BlobStore = (*Store)(nil)

// New opens the store in dir, creating the directory and its layout if
// needed, and removes temporary files left by writes that died more than
// StaleAfter ago.
func New(dir string) (*Store, error) {
	if dir == "" {
		return nil, cairn.Errorf(cairn.EINVALID, "fsblob: no directory given")
	}
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("fsblob: create %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("fsblob: open %s: %w", dir, err)
	}
	s := &Store{root: root, maxPartSize: cairn.MaxPartSize}
	s.bufs.New = func() any { b := make([]byte, copyBufferSize); return &b }
	for _, d := range []string{blobsDir, tmpDir, uploadsDir} {
		if err := root.MkdirAll(d, dirPerm); err != nil {
			root.Close()
			return nil, fmt.Errorf("fsblob: create %s in %s: %w", d, dir, err)
		}
	}
	if err := s.removeStale(time.Now().Add(-StaleAfter)); err != nil {
		root.Close()
		return nil, fmt.Errorf("fsblob: clean %s: %w", dir, err)
	}
	return s, nil
}

// Close releases the store's directory handle. Readers returned by Open stay
// valid.
func (s *Store) Close() error { return s.root.Close() }

// removeStale removes temporary files last modified before cutoff.
func (s *Store) removeStale(cutoff time.Time) error {
	f, err := s.root.Open(tmpDir)
	if err != nil {
		return err
	}
	defer f.Close()
	var errs []error
	for {
		entries, err := f.ReadDir(1024)
		for _, e := range entries {
			name := path.Join(tmpDir, e.Name())
			info, err := s.root.Lstat(name)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, err)
				}
				continue
			}
			if info.ModTime().Before(cutoff) {
				if err := s.root.RemoveAll(name); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

// blobPath returns the path of blob d, or EINVALID if d is not a digest.
func blobPath(d cairn.Digest) (string, error) {
	if _, err := cairn.ParseDigest(string(d)); err != nil {
		return "", err
	}
	h := d.Hex()
	return blobsDir + "/" + h[:2] + "/" + h, nil
}

// Stat returns the size of blob d, or ENOTFOUND.
func (s *Store) Stat(ctx context.Context, d cairn.Digest) (int64, error) {
	p, err := blobPath(d)
	if err != nil {
		return 0, err
	}
	info, err := s.root.Stat(p)
	if err != nil {
		return 0, notFound(err, d)
	}
	return info.Size(), nil
}

// Open returns the blob's file, which reads, seeks and supports
// io.ReaderAt, and its size; ENOTFOUND if there is no such blob.
func (s *Store) Open(ctx context.Context, d cairn.Digest) (io.ReadSeekCloser, int64, error) {
	p, err := blobPath(d)
	if err != nil {
		return nil, 0, err
	}
	f, err := s.root.Open(p)
	if err != nil {
		return nil, 0, notFound(err, d)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("stat blob %s: %w", d, err)
	}
	return f, info.Size(), nil
}

// Put streams r into blob d; see cairn.BlobStore. It returns EINVALID, and
// stores nothing, if the bytes do not hash to d or do not number size.
func (s *Store) Put(ctx context.Context, d cairn.Digest, size int64, r io.Reader) error {
	if _, err := blobPath(d); err != nil {
		return err
	}
	if err := s.write(ctx, d, size, r); err != nil {
		return fmt.Errorf("put blob: %w", err)
	}
	return nil
}

// write verifies r against d and size and, unless blob d exists, publishes
// it: temp file, fsync, verify, rename, fsync the directory.
func (s *Store) write(ctx context.Context, d cairn.Digest, size int64, r io.Reader) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	final, err := blobPath(d)
	if err != nil {
		return err
	}
	if _, err := s.root.Stat(final); err == nil {
		// Present already: consume r, still refusing bytes that are not d.
		dg := cairn.NewDigester()
		return s.copyVerified(ctx, dg, r, d, size, dg)
	}

	f, name, err := s.createTemp()
	if err != nil {
		return err
	}
	defer func() {
		if f != nil {
			f.Close()
		}
		if err != nil {
			s.root.Remove(name)
		}
	}()
	dg := cairn.NewDigester()
	if err := s.copyVerified(ctx, io.MultiWriter(f, dg), r, d, size, dg); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", d, err)
	}
	err = f.Close()
	f = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", d, err)
	}
	// Last chance to honour a cancellation: after the rename the blob is
	// published.
	if err := ctx.Err(); err != nil {
		return err
	}
	shard := path.Dir(final)
	if err := s.mkdirSynced(shard); err != nil {
		return err
	}
	if err := s.root.Rename(name, final); err != nil {
		return fmt.Errorf("publish %s: %w", d, err)
	}
	if err := s.syncDir(shard); err != nil {
		return err
	}
	return nil
}

// copyVerified copies r to w, honouring ctx, and checks what dg saw against
// d and size (size < 0: unknown). With a known size it reads at most one
// byte more than size, so an overlong body is refused without being stored.
func (s *Store) copyVerified(ctx context.Context, w io.Writer, r io.Reader, d cairn.Digest, size int64, dg *cairn.Digester) error {
	src := io.Reader(ctxReader{ctx, r})
	if size >= 0 {
		src = io.LimitReader(src, size+1)
	}
	if err := s.copyBuffered(w, src); err != nil {
		return err
	}
	return verify(dg, d, size)
}

// copyBuffered is io.Copy through a pooled buffer.
func (s *Store) copyBuffered(w io.Writer, r io.Reader) error {
	buf := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(buf)
	_, err := io.CopyBuffer(w, r, *buf)
	return err
}

// verify returns EINVALID unless dg saw exactly size bytes hashing to d.
func verify(dg *cairn.Digester, d cairn.Digest, size int64) error {
	if size >= 0 && dg.Size() != size {
		if dg.Size() > size {
			return cairn.Errorf(cairn.EINVALID, "blob %s: more than the declared %d bytes", d, size)
		}
		return cairn.Errorf(cairn.EINVALID, "blob %s: got %d bytes, declared %d", d, dg.Size(), size)
	}
	if got := dg.Digest(); got != d {
		return cairn.Errorf(cairn.EINVALID, "blob content does not match its digest: want %s, got %s", d, got)
	}
	return nil
}

// createTemp creates a new file in tmp/.
func (s *Store) createTemp() (*os.File, string, error) {
	for range 10 {
		name := tmpDir + "/" + randomHex(16)
		f, err := s.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, filePerm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("create temporary file: %w", err)
		}
		return f, name, nil
	}
	return nil, "", errors.New("create temporary file: too many name collisions")
}

// mkdirSynced creates directory dir (one level) if absent and, when it
// created it, syncs its parent so that the new entry is durable.
func (s *Store) mkdirSynced(dir string) error {
	err := s.root.Mkdir(dir, dirPerm)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return s.syncDir(path.Dir(dir))
}

// syncDir fsyncs a directory, making renames and creations in it durable.
func (s *Store) syncDir(dir string) error {
	f, err := s.root.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Delete removes blob d; a missing blob is not an error. The removal is not
// synced: a blob that reappears after a crash is harmless and is collected
// again.
func (s *Store) Delete(ctx context.Context, d cairn.Digest) error {
	p, err := blobPath(d)
	if err != nil {
		return err
	}
	if err := s.root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete blob %s: %w", d, err)
	}
	return nil
}

// Walk calls fn for every blob. Files in the blob tree whose names are not
// digests in their right shard (left by hand or by other tools) are skipped.
func (s *Store) Walk(ctx context.Context, fn func(d cairn.Digest, size int64, modTime time.Time) error) error {
	shards, err := s.readDirNames(blobsDir)
	if err != nil {
		return fmt.Errorf("walk blobs: %w", err)
	}
	for _, shard := range shards {
		if len(shard) != 2 || !isLowerHex(shard) {
			continue
		}
		dir := blobsDir + "/" + shard
		names, err := s.readDirNames(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("walk blobs: %w", err)
		}
		for _, name := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			if len(name) != 64 || name[:2] != shard || !isLowerHex(name) {
				continue
			}
			info, err := s.root.Lstat(dir + "/" + name)
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted meanwhile
			}
			if err != nil {
				return fmt.Errorf("walk blobs: %w", err)
			}
			if !info.Mode().IsRegular() {
				continue
			}
			if err := fn(cairn.Digest("sha256:"+name), info.Size(), info.ModTime()); err != nil {
				return err
			}
		}
	}
	return nil
}

// readDirNames lists the names in dir, sorted.
func (s *Store) readDirNames(dir string) ([]string, error) {
	f, err := s.root.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}

// StartUpload creates a staging directory for a multi-part upload and
// returns its key: 32 random hex digits.
func (s *Store) StartUpload(ctx context.Context) (string, error) {
	for range 10 {
		key := randomHex(16)
		err := s.root.Mkdir(uploadsDir+"/"+key, dirPerm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("start upload: %w", err)
		}
		if err := s.syncDir(uploadsDir); err != nil {
			return "", fmt.Errorf("start upload: %w", err)
		}
		return key, nil
	}
	return "", errors.New("start upload: too many key collisions")
}

// uploadPath returns the staging directory of upload key, or EINVALID if key
// is not one StartUpload could have returned.
func uploadPath(key string) (string, error) {
	if len(key) != 32 || !isLowerHex(key) {
		return "", cairn.Errorf(cairn.EINVALID, "invalid upload key")
	}
	return uploadsDir + "/" + key, nil
}

func checkPartNumber(n int) error {
	if n < 1 || n > cairn.MaxParts {
		return cairn.Errorf(cairn.EINVALID, "invalid part number %d: want 1 to %d", n, cairn.MaxParts)
	}
	return nil
}

// PutPart stores part n of upload key, replacing any earlier part n. It
// returns ENOTFOUND if the upload does not exist (or was completed or
// aborted) and ETOOLARGE if the part exceeds cairn.MaxPartSize. Parts are
// synced to disk, as the upload session that records them is.
func (s *Store) PutPart(ctx context.Context, key string, n int, r io.Reader) (part cairn.Part, err error) {
	dir, err := uploadPath(key)
	if err != nil {
		return cairn.Part{}, err
	}
	if err := checkPartNumber(n); err != nil {
		return cairn.Part{}, err
	}
	if err := s.checkUpload(dir); err != nil {
		return cairn.Part{}, err
	}
	f, name, err := s.createTemp()
	if err != nil {
		return cairn.Part{}, err
	}
	defer func() {
		if f != nil {
			f.Close()
		}
		if err != nil {
			s.root.Remove(name)
		}
	}()
	dg := cairn.NewDigester()
	src := io.LimitReader(ctxReader{ctx, r}, s.maxPartSize+1)
	if err := s.copyBuffered(io.MultiWriter(f, dg), src); err != nil {
		return cairn.Part{}, fmt.Errorf("put part %d: %w", n, err)
	}
	if dg.Size() > s.maxPartSize {
		return cairn.Part{}, cairn.Errorf(cairn.ETOOLARGE, "part %d exceeds the maximum part size of %d bytes", n, s.maxPartSize)
	}
	if err := f.Sync(); err != nil {
		return cairn.Part{}, fmt.Errorf("put part %d: %w", n, err)
	}
	err = f.Close()
	f = nil
	if err != nil {
		return cairn.Part{}, fmt.Errorf("put part %d: %w", n, err)
	}
	if err := ctx.Err(); err != nil {
		return cairn.Part{}, err
	}
	if err := s.root.Rename(name, dir+"/"+strconv.Itoa(n)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return cairn.Part{}, cairn.Errorf(cairn.ENOTFOUND, "upload not found")
		}
		return cairn.Part{}, fmt.Errorf("put part %d: %w", n, err)
	}
	if err := s.syncDir(dir); err != nil {
		return cairn.Part{}, fmt.Errorf("put part %d: %w", n, err)
	}
	return cairn.Part{Number: n, Size: dg.Size(), Digest: dg.Digest()}, nil
}

// checkUpload returns ENOTFOUND unless the upload's directory exists.
func (s *Store) checkUpload(dir string) error {
	info, err := s.root.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !info.IsDir() {
		return cairn.Errorf(cairn.ENOTFOUND, "upload not found")
	}
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	return nil
}

// CompleteUpload joins the parts of upload key, in part-number order, into
// blob d, verifying digest and size as Put does, and releases the upload.
//
// A parts list that does not match what was uploaded (a missing part, a
// size that differs, a part other than the last under cairn.MinPartSize, a
// total other than size) is refused with EINVALID before anything is
// joined, and the upload stays as it was. Joined bytes that do not hash to
// d are refused with EINVALID too, and the upload is released: as with S3,
// joining consumes the parts. Any other failure leaves the upload in place,
// so the call can be retried.
func (s *Store) CompleteUpload(ctx context.Context, key string, parts []cairn.Part, d cairn.Digest, size int64) error {
	dir, err := uploadPath(key)
	if err != nil {
		return err
	}
	if _, err := blobPath(d); err != nil {
		return err
	}
	if err := s.checkUpload(dir); err != nil {
		return err
	}
	sorted, err := sortParts(parts)
	if err != nil {
		return err
	}
	names := make([]string, len(sorted))
	var total int64
	for i, p := range sorted {
		names[i] = dir + "/" + strconv.Itoa(p.Number)
		info, err := s.root.Stat(names[i])
		if errors.Is(err, fs.ErrNotExist) {
			return cairn.Errorf(cairn.EINVALID, "part %d was not uploaded", p.Number)
		}
		if err != nil {
			return fmt.Errorf("complete upload: %w", err)
		}
		if info.Size() != p.Size {
			return cairn.Errorf(cairn.EINVALID, "part %d has %d bytes, not %d", p.Number, info.Size(), p.Size)
		}
		if i < len(sorted)-1 && p.Size < cairn.MinPartSize {
			return cairn.Errorf(cairn.EINVALID, "part %d has %d bytes: every part but the last needs at least %d", p.Number, p.Size, cairn.MinPartSize)
		}
		total += p.Size
	}
	if size >= 0 && total != size {
		return cairn.Errorf(cairn.EINVALID, "parts add up to %d bytes, not the declared %d", total, size)
	}

	pr := &partsReader{root: s.root, names: names}
	err = s.write(ctx, d, size, pr)
	pr.Close()
	if err != nil {
		if cairn.IsCode(err, cairn.EINVALID) {
			s.root.RemoveAll(dir)
		}
		return fmt.Errorf("complete upload: %w", err)
	}
	if err := s.root.RemoveAll(dir); err != nil {
		return fmt.Errorf("complete upload: release parts: %w", err)
	}
	return nil
}

// sortParts returns parts sorted by number, or EINVALID if the list is empty
// or has a number out of range or twice.
func sortParts(parts []cairn.Part) ([]cairn.Part, error) {
	if len(parts) == 0 {
		return nil, cairn.Errorf(cairn.EINVALID, "no parts to join")
	}
	if len(parts) > cairn.MaxParts {
		return nil, cairn.Errorf(cairn.EINVALID, "%d parts: at most %d are allowed", len(parts), cairn.MaxParts)
	}
	sorted := slices.Clone(parts)
	slices.SortFunc(sorted, func(a, b cairn.Part) int { return cmp.Compare(a.Number, b.Number) })
	for i, p := range sorted {
		if err := checkPartNumber(p.Number); err != nil {
			return nil, err
		}
		if i > 0 && sorted[i-1].Number == p.Number {
			return nil, cairn.Errorf(cairn.EINVALID, "part %d listed twice", p.Number)
		}
	}
	return sorted, nil
}

// AbortUpload removes upload key and its parts; a missing upload is not an
// error.
func (s *Store) AbortUpload(ctx context.Context, key string) error {
	dir, err := uploadPath(key)
	if err != nil {
		return err
	}
	if err := s.root.RemoveAll(dir); err != nil {
		return fmt.Errorf("abort upload: %w", err)
	}
	return nil
}

// partsReader reads the named files one after another, holding one open at
// a time.
type partsReader struct {
	root  *os.Root
	names []string
	cur   *os.File
}

func (p *partsReader) Read(b []byte) (int, error) {
	for {
		if p.cur == nil {
			if len(p.names) == 0 {
				return 0, io.EOF
			}
			f, err := p.root.Open(p.names[0])
			if err != nil {
				return 0, fmt.Errorf("open part: %w", err)
			}
			p.cur, p.names = f, p.names[1:]
		}
		n, err := p.cur.Read(b)
		if err == io.EOF {
			p.cur.Close()
			p.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (p *partsReader) Close() {
	if p.cur != nil {
		p.cur.Close()
		p.cur = nil
	}
}

// ctxReader fails reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func notFound(err error, d cairn.Digest) error {
	if errors.Is(err, fs.ErrNotExist) {
		return cairn.Errorf(cairn.ENOTFOUND, "blob %s not found", d)
	}
	return fmt.Errorf("blob %s: %w", d, err)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b)
}
