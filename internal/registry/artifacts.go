package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/cairn-registry/cairn"
)

// The MLflow artifact store: files of runs and logged models that MLflow
// clients write and read through the mlflow-artifacts proxy. A path names
// a blob in the same content-addressed blob store as versions' files, so
// registering a version from a run's artifacts copies no bytes, and
// garbage collection keeps whatever an artifact names.
//
// Authorization: artifacts belong to runs and experiments, which belong to
// no model, so they are checked like runs: reading needs the reader role
// on some scope, writing and deleting the writer role on some scope. A
// registered version's files, once snapshotted, are read through the
// version (reader on its model), never through these paths.

// Audit actions of the artifact store. They go to the audit log only: the
// event feed carries registry content (a version registered from these
// files emits its own events), not each file a training job writes.
const (
	AuditArtifactWritten = "artifact.written"
	AuditArtifactDeleted = "artifact.deleted"
)

// ReservedArtifactRoot is the first path segment Cairn keeps for itself in
// the artifact namespace: the MLflow front door serves registered
// versions' files under it (read-only), so nothing may be written there.
const ReservedArtifactRoot = "_cairn"

// DefaultMaxArtifactSize bounds one artifact upload unless
// Options.MaxArtifactSize says otherwise: S3's single-object limit.
const DefaultMaxArtifactSize = cairn.MaxFileSize

// MaxArtifactSize returns the limit on one artifact upload, in bytes.
func (s *Service) MaxArtifactSize() int64 { return s.maxArtifact }

// artifactTarget is the audit target of an artifact path.
func artifactTarget(path string) string { return "artifact:" + path }

// checkArtifactPath validates a path for writing.
func checkArtifactPath(path string) error {
	if err := cairn.ValidateArtifactPath(path); err != nil {
		return err
	}
	if first, _, _ := strings.Cut(path, "/"); first == ReservedArtifactRoot {
		return cairn.Errorf(cairn.EINVALID, "invalid artifact path %q: %s/ is reserved for registered versions, which are read-only", truncate(path, 200), ReservedArtifactRoot)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// PutArtifact stores r's bytes as the artifact at path, replacing what was
// there. The bytes stream to a spool file while they are hashed (their
// digest is not known in advance), then into the blob store, which
// deduplicates them; memory stays flat whatever the size. More than
// Options.MaxArtifactSize bytes is ETOOLARGE and stores nothing.
//
// Errors: EINVALID for a bad or reserved path, ETOOLARGE, EPERMISSION
// without the writer role.
func (s *Service) PutArtifact(ctx context.Context, path string, r io.Reader) (*cairn.Artifact, error) {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return nil, err
	}
	if err := checkArtifactPath(path); err != nil {
		return nil, err
	}
	sp, err := s.spool(r, s.maxArtifact)
	if err != nil {
		return nil, err
	}
	defer sp.close()
	var out *cairn.Artifact
	// A collection may delete a blob that existed already (Put is then a
	// no-op) before the row that refers to it commits; the row's write
	// holds off collections, so the blob is checked after it and sent
	// again if it went.
	for attempt := 0; ; attempt++ {
		if err := sp.putBlob(ctx, s.blobs); err != nil {
			return nil, err
		}
		err = s.update(ctx, func(m *mutation) error {
			before, err := m.tx.GetArtifact(ctx, path)
			if err != nil && !cairn.IsCode(err, cairn.ENOTFOUND) {
				return err
			}
			a := &cairn.Artifact{Path: path, Digest: sp.digest, Size: sp.size, UpdatedBy: m.actor.Name, UpdatedAt: m.now}
			if err := m.tx.PutArtifact(ctx, a); err != nil {
				return err
			}
			if err := s.blobPresent(ctx, sp.digest); err != nil {
				return err
			}
			var prev any // nil, not a nil *Artifact, when the path is new
			if before != nil {
				prev = before
			}
			m.audit(AuditArtifactWritten, artifactTarget(path), prev, a)
			out = a
			return nil
		})
		if errors.Is(err, errBlobVanished) && attempt < 3 {
			continue
		}
		return out, err
	}
}

// errBlobVanished says a blob was collected between its upload and the
// commit of what refers to it; the caller uploads it again.
var errBlobVanished = errors.New("blob collected before it was referenced")

// blobPresent returns errBlobVanished if blob d is not in the blob store.
func (s *Service) blobPresent(ctx context.Context, d cairn.Digest) error {
	if _, err := s.blobs.Stat(ctx, d); err != nil {
		if cairn.IsCode(err, cairn.ENOTFOUND) {
			return errBlobVanished
		}
		return fmt.Errorf("stat blob %s: %w", d, err)
	}
	return nil
}

// spooled is an upload of unknown digest, kept in a temporary file.
type spooled struct {
	f      *os.File
	digest cairn.Digest
	size   int64
}

// spool copies r into a temporary file in Options.SpoolDir while hashing
// it; more than limit bytes is ETOOLARGE.
func (s *Service) spool(r io.Reader, limit int64) (*spooled, error) {
	f, err := os.CreateTemp(s.spoolDir, "cairn-artifact-*")
	if err != nil {
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	sp := &spooled{f: f}
	dg := cairn.NewDigester()
	src := &readErrs{r: io.LimitReader(r, limit+1)}
	n, err := io.Copy(io.MultiWriter(f, dg), src)
	if err != nil {
		sp.close()
		if src.err != nil {
			// The sender's fault (a body cut off), not the server's.
			return nil, cairn.WrapError(cairn.EINVALID, src.err, "the upload was cut off after %d bytes", n)
		}
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	if n > limit {
		sp.close()
		return nil, cairn.Errorf(cairn.ETOOLARGE, "artifact exceeds the %d byte limit", limit)
	}
	sp.digest, sp.size = dg.Digest(), n
	return sp, nil
}

// readErrs remembers the error its reader returned, to tell a failed read
// of the upload from a failed write of the spool file.
type readErrs struct {
	r   io.Reader
	err error
}

func (r *readErrs) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// putBlob sends the spooled bytes to the blob store as their blob.
func (sp *spooled) putBlob(ctx context.Context, blobs cairn.BlobStore) error {
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewind spool file: %w", err)
	}
	if err := blobs.Put(ctx, sp.digest, sp.size, sp.f); err != nil {
		return fmt.Errorf("store artifact blob: %w", err)
	}
	return nil
}

func (sp *spooled) close() {
	sp.f.Close()
	os.Remove(sp.f.Name())
}

// GetArtifact returns the artifact at path, or ENOTFOUND.
func (s *Service) GetArtifact(ctx context.Context, path string) (*cairn.Artifact, error) {
	if err := s.authorizeAny(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	if err := checkArtifactPath(path); err != nil {
		return nil, err
	}
	a, err := s.store.GetArtifact(ctx, path)
	if err != nil {
		return nil, notFound(err, "artifact %q not found", path)
	}
	return a, nil
}

// OpenArtifact opens the artifact at path for reading; ENOTFOUND if there
// is none.
func (s *Service) OpenArtifact(ctx context.Context, path string) (*cairn.Artifact, io.ReadSeekCloser, error) {
	a, err := s.GetArtifact(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	rc, _, err := s.blobs.Open(ctx, a.Digest)
	if err != nil {
		if cairn.IsCode(err, cairn.ENOTFOUND) {
			return nil, nil, cairn.Errorf(cairn.EINTERNAL, "artifact %q: its blob %s is missing from the blob store", path, a.Digest)
		}
		return nil, nil, err
	}
	return a, rc, nil
}

// ArtifactEntry is one entry of a directory listing: a file, or a
// directory (IsDir, no size) holding at least one file.
type ArtifactEntry struct {
	Path  string `json:"path"`
	IsDir bool   `json:"is_dir"`
	Size  int64  `json:"file_size,omitempty"`
}

// MaxArtifactEntries bounds one directory listing.
const MaxArtifactEntries = 100_000

// ListArtifactDir lists the direct children of directory dir ("" for the
// root, where the reserved root is not listed), in path order, with full
// paths. A directory that does not exist
// lists empty, as in MLflow; so does a file. Subdirectories are skipped
// over by index seeks, so the cost follows the number of children, not
// of files below them. More than MaxArtifactEntries children is ETOOLARGE.
func (s *Service) ListArtifactDir(ctx context.Context, dir string) ([]ArtifactEntry, error) {
	out, next, err := s.ListArtifactDirPage(ctx, dir, "", MaxArtifactEntries)
	if err != nil {
		return nil, err
	}
	if next != "" {
		return nil, cairn.Errorf(cairn.ETOOLARGE, "directory %q has more than %d entries", dir, MaxArtifactEntries)
	}
	return out, nil
}

// ListArtifactDirPage lists one page of the direct children of directory
// dir, as ListArtifactDir does: at most limit entries, starting at from
// ("" for the first page). next, when more children follow, is the from
// of the next page: a path under dir that the caller passes back as is.
// A from that is not under dir is EINVALID.
func (s *Service) ListArtifactDirPage(ctx context.Context, dir, from string, limit int) (entries []ArtifactEntry, next string, err error) {
	if err := s.authorizeAny(ctx, cairn.RoleReader); err != nil {
		return nil, "", err
	}
	prefix := ""
	if dir != "" {
		if err := checkArtifactPath(dir); err != nil {
			return nil, "", err
		}
		prefix = dir + "/"
	}
	if limit <= 0 {
		return nil, "", cairn.Errorf(cairn.EINVALID, "list limit %d is not positive", limit)
	}
	if from != "" && (!strings.HasPrefix(from, prefix) || len(from) == len(prefix) || !utf8.ValidString(from)) {
		return nil, "", cairn.Errorf(cairn.EINVALID, "invalid page token for directory %q", dir)
	}
	out := []ArtifactEntry{}
	q := cairn.ArtifactQuery{Prefix: prefix, From: from, Limit: 1000}
	for {
		page, err := s.store.ListArtifacts(ctx, q)
		if err != nil {
			return nil, "", err
		}
		skipped := false
		for _, a := range page.Items {
			rest := a.Path[len(prefix):]
			var e ArtifactEntry
			var start string // where a page starting with e resumes
			if sub, _, nested := strings.Cut(rest, "/"); nested {
				d := prefix + sub
				// Continue after everything under d/.
				q.From, skipped = d+"0", true
				if d == ReservedArtifactRoot {
					break // Cairn's own rows stay hidden
				}
				e, start = ArtifactEntry{Path: d, IsDir: true}, d+"/"
			} else {
				e, start = ArtifactEntry{Path: a.Path, Size: a.Size}, a.Path
			}
			if len(out) == limit {
				return out, start, nil
			}
			out = append(out, e)
			if skipped {
				break
			}
		}
		if !skipped {
			if page.NextToken == "" {
				return out, "", nil
			}
			q.From = page.NextToken
		}
	}
}

// DeleteArtifacts deletes the artifact at path, or the directory at path
// with everything under it, as MLflow's delete_artifacts does. Deleting
// nothing is not an error. The blobs stay until garbage collection, and
// for as long as a version refers to them.
func (s *Service) DeleteArtifacts(ctx context.Context, path string) error {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return err
	}
	if err := checkArtifactPath(path); err != nil {
		return err
	}
	return s.update(ctx, func(m *mutation) error {
		n, err := m.tx.DeleteArtifacts(ctx, path)
		if err != nil || n == 0 {
			return err
		}
		m.audit(AuditArtifactDeleted, artifactTarget(path), map[string]int64{"artifacts": n}, nil)
		return nil
	})
}
