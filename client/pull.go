package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cairn-registry/cairn"
)

// VersionFile is the name of the file Pull writes the version record to,
// in the destination directory.
const VersionFile = ".cairn-version.json"

// PullOptions tune Pull. Zero values mean the defaults.
type PullOptions struct {
	// Include selects files by path.Match patterns over manifest paths
	// ("*.json", "tokenizer/*"). A pattern also selects everything under a
	// directory it matches ("weights" selects weights/a.bin). Empty: all
	// files. A pattern that selects nothing is an error.
	Include []string
	// Parallel bounds concurrent downloads. Default 4.
	Parallel int
	// Progress, if set, is called as bytes arrive (and as files already
	// present are verified): done and total bytes of the selected files.
	// Calls are serialized.
	Progress func(done, total int64)
}

// Pull downloads the files of the version ref names into dir and writes
// the version record to dir/.cairn-version.json.
//
// Every file streams through a hasher into a temporary file next to its
// destination and is renamed into place only when its size and digest
// match the manifest; on a mismatch nothing is left behind. Files already
// in dir with the right digest are not downloaded again, so an
// interrupted pull resumes. Pull never writes outside dir: every manifest
// path is checked (cairn.ValidatePath and filepath.IsLocal) before anything
// is written, writes go through an os.Root, and symbolic links inside dir
// on the way to a file are refused.
func (c *Client) Pull(ctx context.Context, ref, dir string, opts PullOptions) (*cairn.Version, error) {
	if opts.Parallel <= 0 {
		opts.Parallel = DefaultParallel
	}
	for _, pat := range opts.Include {
		if _, err := path.Match(pat, ""); err != nil {
			return nil, cairn.Errorf(cairn.EINVALID, "invalid include pattern %q: %v", pat, err)
		}
	}
	v, err := c.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if v.Status != cairn.StatusReady {
		return nil, cairn.Errorf(cairn.EFAILEDPRECONDITION, "%s is %s, not ready: its files may not all be uploaded", v.Ref(), v.Status)
	}
	if err := checkPullManifest(v.Files); err != nil {
		return nil, fmt.Errorf("refusing to pull %s: %w", v.Ref(), err)
	}
	var selected []cairn.File
	var total int64
	for _, f := range v.Files {
		if included(f.Path, opts.Include) {
			selected = append(selected, f)
			total += f.Size
		}
	}
	if len(opts.Include) > 0 && len(selected) == 0 {
		return nil, cairn.Errorf(cairn.EINVALID, "no file of %s matches %s", v.Ref(), strings.Join(opts.Include, ", "))
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()

	pl := &puller{c: c, root: root, total: total, progressFn: opts.Progress}
	p := newPool(ctx, opts.Parallel)
	for _, f := range selected {
		if !p.submit(func(ctx context.Context) error { return pl.fetch(ctx, f) }) {
			break
		}
	}
	if err := p.wait(); err != nil {
		return nil, err
	}

	record, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(root, VersionFile, append(record, '\n')); err != nil {
		return nil, err
	}
	return v, nil
}

// checkPullManifest re-validates a manifest received from the server: a
// client never trusts the server with its file system.
func checkPullManifest(files []cairn.File) error {
	if err := cairn.ValidateManifest(files); err != nil {
		return err
	}
	for _, f := range files {
		if !filepath.IsLocal(filepath.FromSlash(f.Path)) {
			return cairn.Errorf(cairn.EINVALID, "file path %q is not local", f.Path)
		}
		if f.Path == VersionFile {
			return cairn.Errorf(cairn.EINVALID, "the version has a file named %s, which Pull reserves for the version record", VersionFile)
		}
	}
	return nil
}

// included reports whether a manifest path is selected by the patterns.
func included(p string, patterns []string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, pat := range patterns {
		pat = strings.TrimSuffix(pat, "/")
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
		for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
			if ok, _ := path.Match(pat, dir); ok {
				return true
			}
		}
	}
	return false
}

type puller struct {
	c          *Client
	root       *os.Root
	total      int64
	progressFn func(done, total int64)

	mu   sync.Mutex
	done int64
}

func (pl *puller) progress(delta int64) {
	if pl.progressFn == nil || delta == 0 {
		return
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.done += delta
	pl.progressFn(pl.done, pl.total)
}

// fetch makes dir/f.Path hold f's bytes, downloading them unless a file
// with the right digest is there already.
func (pl *puller) fetch(ctx context.Context, f cairn.File) error {
	name := filepath.FromSlash(f.Path)
	if err := mkdirNoSymlinks(pl.root, filepath.Dir(name)); err != nil {
		return err
	}
	fi, err := pl.root.Lstat(name)
	switch {
	case err == nil:
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return cairn.Errorf(cairn.EINVALID, "%s is a symbolic link; refusing to write through it", f.Path)
		case fi.IsDir():
			return cairn.Errorf(cairn.EINVALID, "%s is a directory; the version has a file there", f.Path)
		case fi.Mode().IsRegular() && fi.Size() == f.Size:
			same, err := hasDigest(ctx, pl.root, name, f.Digest)
			if err != nil {
				return err
			}
			if same {
				pl.progress(f.Size)
				return nil
			}
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	return pl.download(ctx, f, name)
}

// download streams a blob through a hasher into a temporary file and
// renames it into place if it is what the manifest says.
func (pl *puller) download(ctx context.Context, f cairn.File, name string) (err error) {
	tmp := filepath.Join(filepath.Dir(name), ".cairn-tmp-"+newIdempotencyKey())
	out, err := pl.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	var counted int64
	defer func() {
		if err != nil {
			_ = out.Close()
			_ = pl.root.Remove(tmp)
			pl.progress(-counted)
		}
	}()
	rc, size, err := pl.c.OpenBlob(ctx, f.Digest)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	defer rc.Close()
	if size >= 0 && size != f.Size {
		return cairn.Errorf(cairn.EINVALID, "%s: the server sent %d bytes for a file of %d", f.Path, size, f.Size)
	}
	d := cairn.NewDigester()
	pw := progressWriter(func(n int) { counted += int64(n); pl.progress(int64(n)) })
	n, err := io.Copy(io.MultiWriter(out, d, pw), io.LimitReader(rc, f.Size+1))
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	if n != f.Size || d.Digest() != f.Digest {
		return cairn.Errorf(cairn.EINVALID, "%s: downloaded %d bytes with digest %s; the manifest says %d bytes with %s", f.Path, n, d.Digest(), f.Size, f.Digest)
	}
	if err := out.Close(); err != nil {
		return err
	}
	// Not fsynced: a file cut short by a crash has the wrong digest, and
	// the next pull, which verifies every file present, downloads it again.
	return pl.root.Rename(tmp, name)
}

type progressWriter func(int)

func (p progressWriter) Write(b []byte) (int, error) {
	p(len(b))
	return len(b), nil
}

// hasDigest reports whether the file holds bytes with digest d.
func hasDigest(ctx context.Context, root *os.Root, name string, d cairn.Digest) (bool, error) {
	fh, err := root.Open(name)
	if err != nil {
		return false, err
	}
	defer fh.Close()
	h := cairn.NewDigester()
	if _, err := io.Copy(h, ctxReader{ctx, fh}); err != nil {
		return false, err
	}
	return h.Digest() == d, nil
}

// mkdirNoSymlinks creates dir (relative to root) and its parents, refusing
// to pass through a symbolic link or a non-directory on the way.
func mkdirNoSymlinks(root *os.Root, dir string) error {
	if dir == "." || dir == "" {
		return nil
	}
	cur := ""
	for _, part := range strings.Split(dir, string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		fi, err := root.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			err = root.Mkdir(cur, 0o755)
			if err == nil {
				continue
			}
			if !errors.Is(err, fs.ErrExist) { // a parallel fetch made it first: check it below
				return err
			}
			fi, err = root.Lstat(cur)
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return cairn.Errorf(cairn.EINVALID, "%s is a symbolic link; refusing to write through it", filepath.ToSlash(cur))
		}
		if !fi.IsDir() {
			return cairn.Errorf(cairn.EINVALID, "%s is not a directory", filepath.ToSlash(cur))
		}
	}
	return nil
}

// writeFileAtomic writes name (relative to root) through a temporary file
// and a rename, refusing to replace a symbolic link's target.
func writeFileAtomic(root *os.Root, name string, data []byte) error {
	if fi, err := root.Lstat(name); err == nil && (fi.Mode()&fs.ModeSymlink != 0 || fi.IsDir()) {
		return cairn.Errorf(cairn.EINVALID, "%s exists and is not a regular file", name)
	}
	tmp := ".cairn-tmp-" + newIdempotencyKey()
	if err := root.WriteFile(tmp, data, 0o644); err != nil {
		_ = root.Remove(tmp)
		return err
	}
	if err := root.Rename(tmp, name); err != nil {
		_ = root.Remove(tmp)
		return err
	}
	return nil
}
