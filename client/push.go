package client

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cairn-registry/cairn"
)

// Defaults of PushOptions.
const (
	DefaultParallel           = 4
	DefaultPartSize           = 16 << 20
	DefaultMultipartThreshold = 64 << 20
	DefaultTransferRetries    = 3
)

// PushOptions tune Push. Zero values mean the defaults.
type PushOptions struct {
	// Parallel bounds concurrent transfers (blobs and parts) and concurrent
	// file hashing. Default 4.
	Parallel int
	// PartSize is the size of the parts of a multi-part upload; at least
	// cairn.MinPartSize (5 MiB). Default 16 MiB. When resuming a session
	// that was started with another part size, the session's size wins.
	PartSize int64
	// MultipartThreshold: files of this size or more go through a
	// resumable upload session in parts, smaller ones in one request.
	// Default 64 MiB.
	MultipartThreshold int64
	// Retries is how often one blob or part transfer is retried after a
	// transport error or a 5xx answer. Default 3; negative for none.
	Retries int
	// Progress, if set, is called as upload bytes go out (and as parts
	// the server already holds are verified): done and total bytes of the
	// blobs the server lacked. Calls are serialized.
	Progress func(done, total int64)
}

// PushResult says what Push did.
type PushResult struct {
	Version *cairn.Version
	// Existing is true when the push repeated the model's latest version
	// (same bytes and fixed fields): no new version was made.
	Existing bool
	// BytesUploaded counts blob bytes sent, retries included.
	BytesUploaded int64
	// BlobsUploaded counts the blobs sent; BlobsSkipped those the server
	// already had (distinct digests).
	BlobsUploaded int
	BlobsSkipped  int
}

// localFile is one file to push: where it is on disk and what it is in the
// manifest.
type localFile struct {
	src  string // path on disk
	path string // manifest path
	size int64
	dig  cairn.Digest
}

// Push registers a version of model from local files and directories:
//
//  1. it walks paths — a directory's files get paths relative to that
//     directory, a file its base name — and hashes every file, streaming;
//  2. creates the version with that manifest (spec.Files is replaced);
//  3. uploads only the blobs the server lacks, Parallel at a time; files of
//     MultipartThreshold bytes or more go in parts through a resumable
//     upload session, so pushing again after a failure re-sends only the
//     parts the server did not receive;
//  4. finalizes the version, setting spec.Aliases.
//
// Symbolic links to regular files are followed: the file's content is
// pushed under the link's path (Hugging Face caches are made of such
// links). Symbolic links to directories are refused, as are special files
// (devices, sockets, pipes): nothing is skipped silently. Directories with
// no files add nothing to the manifest.
//
// Pushing the same content and fixed fields again returns the existing
// version (Existing) and uploads nothing.
func (c *Client) Push(ctx context.Context, model string, paths []string, spec cairn.VersionSpec, opts PushOptions) (*PushResult, error) {
	if err := cairn.ValidateModelName(model); err != nil {
		return nil, err
	}
	opts, err := pushDefaults(opts)
	if err != nil {
		return nil, err
	}
	files, err := collectFiles(paths)
	if err != nil {
		return nil, err
	}
	if err := hashFiles(ctx, files, opts.Parallel); err != nil {
		return nil, err
	}
	spec.Files = make([]cairn.File, len(files))
	byDigest := map[cairn.Digest]*localFile{}
	for i, f := range files {
		spec.Files[i] = cairn.File{Path: f.path, Size: f.size, Digest: f.dig}
		if _, ok := byDigest[f.dig]; !ok {
			byDigest[f.dig] = f
		}
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}

	created, err := c.CreateVersion(ctx, model, spec)
	if err != nil {
		return nil, err
	}
	res := &PushResult{Existing: created.Existing, BlobsSkipped: len(byDigest) - len(created.Missing)}

	var missing []*localFile
	for _, d := range created.Missing {
		f, ok := byDigest[d]
		if !ok {
			return nil, fmt.Errorf("push %s: the server asked for blob %s, which is not in the manifest", model, d)
		}
		missing = append(missing, f)
	}
	up := &uploader{c: c, opts: opts}
	for _, f := range missing {
		up.total += f.size
	}
	if err := up.run(ctx, missing); err != nil {
		return nil, fmt.Errorf("push %s@v%d: %w", model, created.Version.Number, err)
	}
	res.BytesUploaded = up.sent.Load()
	res.BlobsUploaded = len(missing)

	v, err := c.FinalizeVersion(ctx, model, created.Version.Number, spec.Aliases)
	if err != nil {
		return nil, err
	}
	res.Version = v
	return res, nil
}

func pushDefaults(o PushOptions) (PushOptions, error) {
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < cairn.MinPartSize || o.PartSize > cairn.MaxPartSize {
		return o, cairn.Errorf(cairn.EINVALID, "part size %d out of range: want %d to %d bytes", o.PartSize, cairn.MinPartSize, int64(cairn.MaxPartSize))
	}
	if o.MultipartThreshold <= 0 {
		o.MultipartThreshold = DefaultMultipartThreshold
	}
	switch {
	case o.Retries == 0:
		o.Retries = DefaultTransferRetries
	case o.Retries < 0:
		o.Retries = 0
	}
	return o, nil
}

// collectFiles walks the push arguments into manifest entries, sorted by
// manifest path.
func collectFiles(args []string) ([]*localFile, error) {
	if len(args) == 0 {
		return nil, cairn.Errorf(cairn.EINVALID, "nothing to push: name at least one file or directory")
	}
	var files []*localFile
	from := map[string]string{} // manifest path → source, to report collisions
	add := func(src, rel string, size int64) error {
		p := filepath.ToSlash(rel)
		if err := cairn.ValidatePath(p); err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		if prev, dup := from[p]; dup {
			return cairn.Errorf(cairn.EINVALID, "%s and %s would both be pushed as %q", prev, src, p)
		}
		from[p] = src
		files = append(files, &localFile{src: src, path: p, size: size})
		return nil
	}
	for _, arg := range args {
		info, err := os.Stat(arg) // follows a symlink given on the command line
		if err != nil {
			return nil, err
		}
		switch {
		case info.Mode().IsRegular():
			if err := add(arg, filepath.Base(arg), info.Size()); err != nil {
				return nil, err
			}
		case info.IsDir():
			root, err := filepath.EvalSymlinks(arg)
			if err != nil {
				return nil, err
			}
			err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() {
					return nil
				}
				rel, err := filepath.Rel(root, p)
				if err != nil {
					return err
				}
				src := filepath.Join(arg, rel)
				fi, err := d.Info()
				if err != nil {
					return err
				}
				if fi.Mode()&fs.ModeSymlink != 0 {
					if fi, err = os.Stat(p); err != nil {
						return fmt.Errorf("%s: broken symbolic link: %w", src, err)
					}
					if fi.IsDir() {
						return cairn.Errorf(cairn.EINVALID, "%s is a symbolic link to a directory; push the directory itself", src)
					}
				}
				if !fi.Mode().IsRegular() {
					return cairn.Errorf(cairn.EINVALID, "%s is not a regular file (%s)", src, fi.Mode().Type())
				}
				return add(src, rel, fi.Size())
			})
			if err != nil {
				return nil, err
			}
		default:
			return nil, cairn.Errorf(cairn.EINVALID, "%s is not a regular file or directory (%s)", arg, info.Mode().Type())
		}
	}
	if len(files) == 0 {
		return nil, cairn.Errorf(cairn.EINVALID, "nothing to push: %v hold no files", args)
	}
	slices.SortFunc(files, func(a, b *localFile) int {
		switch {
		case a.path < b.path:
			return -1
		case a.path > b.path:
			return 1
		}
		return 0
	})
	return files, nil
}

// hashFiles computes every file's digest and size, parallel files at a
// time, streaming.
func hashFiles(ctx context.Context, files []*localFile, parallel int) error {
	p := newPool(ctx, parallel)
	for _, f := range files {
		if !p.submit(func(ctx context.Context) error { return hashFile(ctx, f) }) {
			break
		}
	}
	return p.wait()
}

func hashFile(ctx context.Context, f *localFile) error {
	fh, err := os.Open(f.src)
	if err != nil {
		return err
	}
	defer fh.Close()
	d := cairn.NewDigester()
	if _, err := io.Copy(d, ctxReader{ctx, fh}); err != nil {
		return fmt.Errorf("hashing %s: %w", f.src, err)
	}
	// The size read is the size hashed: if the file changed since the
	// walk, the manifest must describe what was hashed.
	f.dig, f.size = d.Digest(), d.Size()
	return nil
}

// ctxReader stops a long local read when the context ends.
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

// uploader sends missing blobs: whole, or in parts through a session.
type uploader struct {
	c    *Client
	opts PushOptions

	total int64
	sent  atomic.Int64 // bytes that left for the server, retries included

	mu   sync.Mutex // serializes Progress calls
	done int64
}

func (u *uploader) progress(delta int64) {
	if u.opts.Progress == nil || delta == 0 {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.done += delta
	u.opts.Progress(u.done, u.total)
}

// run uploads the files, largest first so that the pool stays busy to the
// end. A multi-part file is opened (or resumed) here, in order, and its
// parts become tasks of the same pool as the whole blobs; whichever task
// finishes a file's last part completes its session.
func (u *uploader) run(ctx context.Context, files []*localFile) error {
	files = slices.Clone(files)
	slices.SortStableFunc(files, func(a, b *localFile) int {
		switch {
		case a.size > b.size:
			return -1
		case a.size < b.size:
			return 1
		}
		return 0
	})
	p := newPool(ctx, u.opts.Parallel)
	for _, f := range files {
		if f.size < u.opts.MultipartThreshold {
			if !p.submit(func(ctx context.Context) error { return u.putBlob(ctx, f) }) {
				break
			}
			continue
		}
		if err := u.multipart(p, f); err != nil {
			p.fail(err)
			break
		}
	}
	return p.wait()
}

// putBlob sends one whole blob, with retries.
func (u *uploader) putBlob(ctx context.Context, f *localFile) error {
	return u.retry(ctx, func() (int64, error) {
		fh, err := os.Open(f.src)
		if err != nil {
			return 0, err
		}
		defer fh.Close()
		body := &sendCounter{r: io.LimitReader(fh, f.size), u: u}
		err = u.c.PutBlob(ctx, f.dig, f.size, body)
		return body.n, err
	})
}

// retry runs one transfer, again after a retryable failure. attempt
// returns how many bytes it sent, so that the progress it reported can be
// taken back before the next attempt.
func (u *uploader) retry(ctx context.Context, attempt func() (int64, error)) error {
	var err error
	for i := 0; i <= u.opts.Retries; i++ {
		if i > 0 {
			if serr := sleepCtx(ctx, backoff(i)); serr != nil {
				return err
			}
		}
		var n int64
		n, err = attempt()
		if err == nil {
			return nil
		}
		u.progress(-n)
		if !retryable(ctx, err) {
			return err
		}
	}
	return err
}

// sendCounter counts the bytes a request body hands to the transport, for
// BytesUploaded and progress.
type sendCounter struct {
	r io.Reader
	u *uploader
	n int64
}

func (s *sendCounter) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.n += int64(n)
		s.u.sent.Add(int64(n))
		s.u.progress(int64(n))
	}
	return n, err
}

// multipart opens or resumes the upload session of f and queues its parts.
func (u *uploader) multipart(p *pool, f *localFile) error {
	ctx := p.ctx
	partSize := u.opts.PartSize
	if n := (f.size + partSize - 1) / partSize; n > cairn.MaxParts {
		// Grow parts (to a whole MiB) until the file fits in MaxParts.
		partSize = (f.size + cairn.MaxParts - 1) / cairn.MaxParts
		partSize = (partSize + 1<<20 - 1) &^ (1<<20 - 1)
	}
	up, resumed, err := u.c.StartUpload(ctx, f.dig, f.size)
	if err != nil {
		return err
	}
	if resumed && len(up.Parts) > 0 {
		if ps, ok := sessionPartSize(up, f.size, partSize); ok {
			partSize = ps
		} else {
			// Parts we cannot continue (a layout that does not add up):
			// start over rather than complete into a digest mismatch.
			if err := u.c.AbortUpload(ctx, up.ID); err != nil && !cairn.IsCode(err, cairn.ENOTFOUND) {
				return err
			}
			if up, _, err = u.c.StartUpload(ctx, f.dig, f.size); err != nil {
				return err
			}
		}
	}
	received := map[int]cairn.Part{}
	for _, part := range up.Parts {
		received[part.Number] = part
	}
	nparts := int((f.size + partSize - 1) / partSize)
	if nparts == 0 {
		nparts = 1 // an empty file is one empty part
	}
	var left atomic.Int64
	left.Store(int64(nparts))
	finish := func(ctx context.Context) error {
		if left.Add(-1) != 0 {
			return nil
		}
		return u.c.CompleteUpload(ctx, up.ID)
	}
	for n := 1; n <= nparts; n++ {
		off := int64(n-1) * partSize
		length := min(partSize, f.size-off)
		prev, have := received[n]
		task := func(ctx context.Context) error {
			if err := u.sendPart(ctx, f, up.ID, n, off, length, prev, have); err != nil {
				return err
			}
			return finish(ctx)
		}
		if !p.submit(task) {
			return nil // the pool failed; wait reports why
		}
	}
	return nil
}

// sessionPartSize infers the part size of a resumed session from the parts
// it holds. Part 1, if held, gives it (every part but the file's last has
// that size). A push cut off midway may hold later parts without part 1
// (its uploads run in parallel); then the size is one under which every
// held part has the length of its place in the file: the push's own part
// size if it fits, else the size of one of the held parts. The part size
// must be at least MinPartSize, and the parts must fit the file.
func sessionPartSize(up *cairn.Upload, size, want int64) (int64, bool) {
	fits := func(ps int64, exact bool) bool {
		if ps < cairn.MinPartSize || ps > cairn.MaxPartSize {
			return false
		}
		n := int((size + ps - 1) / ps)
		if n > cairn.MaxParts {
			return false
		}
		for _, p := range up.Parts {
			if p.Number < 1 || p.Number > n {
				return false
			}
			if exact && p.Size != min(ps, size-int64(p.Number-1)*ps) {
				return false
			}
		}
		return true
	}
	for _, p := range up.Parts {
		if p.Number == 1 {
			return p.Size, fits(p.Size, false)
		}
	}
	candidates := []int64{want}
	for _, p := range up.Parts {
		candidates = append(candidates, p.Size)
	}
	for _, ps := range candidates {
		if fits(ps, true) {
			return ps, true
		}
	}
	return 0, false
}

// sendPart sends part n of f unless the session already holds exactly
// those bytes (same size and digest, checked against the local file).
func (u *uploader) sendPart(ctx context.Context, f *localFile, id string, n int, off, length int64, prev cairn.Part, have bool) error {
	fh, err := os.Open(f.src)
	if err != nil {
		return err
	}
	defer fh.Close()
	if have && prev.Size == length {
		d := cairn.NewDigester()
		if _, err := io.Copy(d, ctxReader{ctx, io.NewSectionReader(fh, off, length)}); err != nil {
			return fmt.Errorf("hashing %s: %w", f.src, err)
		}
		if d.Digest() == prev.Digest {
			u.progress(length)
			return nil
		}
	}
	return u.retry(ctx, func() (int64, error) {
		d := cairn.NewDigester()
		body := &sendCounter{r: io.TeeReader(io.NewSectionReader(fh, off, length), d), u: u}
		part, err := u.c.UploadPart(ctx, id, n, length, body)
		if err != nil {
			return body.n, err
		}
		if part.Size != length || part.Digest != d.Digest() {
			return body.n, fmt.Errorf("part %d of %s: the server received %d bytes with digest %s, sent %d with %s",
				n, f.path, part.Size, part.Digest, length, d.Digest())
		}
		return body.n, nil
	})
}
