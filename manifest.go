package cairn

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// File is one entry of a version's manifest.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	Digest Digest `json:"digest"`
}

// Limits on manifests.
const (
	MaxManifestFiles = 1_000_000
	MaxPathLength    = 1024
	MaxFileSize      = 5 << 40 // 5 TiB, S3's object limit
)

// ValidatePath checks one manifest path. Paths are relative, use '/' as the
// separator, and have no empty, "." or ".." segments, so that joining one to
// a download directory can never leave it.
func ValidatePath(p string) error {
	bad := func(why string) error {
		return Errorf(EINVALID, "invalid file path %q: %s", truncate(p, 200), why)
	}
	switch {
	case p == "":
		return Errorf(EINVALID, "invalid file path: must not be empty")
	case len(p) > MaxPathLength:
		return bad("longer than 1024 bytes")
	case !utf8.ValidString(p):
		return bad("not valid UTF-8")
	case strings.HasPrefix(p, "/"):
		return bad("absolute paths are not allowed")
	case strings.ContainsRune(p, '\\'):
		return bad("backslashes are not allowed; use '/'")
	}
	for _, r := range p {
		if r == 0 || unicode.IsControl(r) {
			return bad("control characters are not allowed")
		}
	}
	if len(p) >= 2 && p[1] == ':' {
		return bad("drive letters are not allowed")
	}
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "":
			return bad("empty path segment")
		case ".", "..":
			return bad("'.' and '..' segments are not allowed")
		}
	}
	return nil
}

// ValidateManifest checks every path, size and digest, and that no path
// repeats or is both a file and a directory. It does not reorder files.
func ValidateManifest(files []File) error {
	if len(files) > MaxManifestFiles {
		return Errorf(ETOOLARGE, "manifest has %d files; the limit is %d", len(files), MaxManifestFiles)
	}
	seen := make(map[string]bool, len(files))
	for _, f := range files {
		if err := ValidatePath(f.Path); err != nil {
			return err
		}
		if f.Size < 0 || f.Size > MaxFileSize {
			return Errorf(EINVALID, "file %q: size %d out of range", truncate(f.Path, 200), f.Size)
		}
		if _, err := ParseDigest(string(f.Digest)); err != nil {
			return WrapError(EINVALID, err, "file %q", truncate(f.Path, 200))
		}
		if seen[f.Path] {
			return Errorf(EINVALID, "file %q appears twice in the manifest", truncate(f.Path, 200))
		}
		seen[f.Path] = true
	}
	for p := range seen {
		for i := strings.IndexByte(p, '/'); i >= 0; {
			if seen[p[:i]] {
				return Errorf(EINVALID, "%q is both a file and a directory in the manifest", truncate(p[:i], 200))
			}
			j := strings.IndexByte(p[i+1:], '/')
			if j < 0 {
				break
			}
			i += 1 + j
		}
	}
	return nil
}

// SortFiles sorts files by path, the canonical order.
func SortFiles(files []File) {
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
}

// CanonicalManifest returns the canonical JSON of a manifest: files sorted by
// path, compact, fields in the order path, size, digest. Its sha256 is the
// version's digest.
func CanonicalManifest(files []File) []byte {
	sorted := append([]File(nil), files...)
	SortFiles(sorted)
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, f := range sorted {
		if i > 0 {
			buf.WriteByte(',')
		}
		p, _ := json.Marshal(f.Path)
		buf.WriteString(`{"path":`)
		buf.Write(p)
		buf.WriteString(`,"size":`)
		buf.WriteString(itoa(f.Size))
		buf.WriteString(`,"digest":"`)
		buf.WriteString(string(f.Digest))
		buf.WriteString(`"}`)
	}
	buf.WriteByte(']')
	return buf.Bytes()
}

// ManifestDigest returns the digest of the canonical manifest.
func ManifestDigest(files []File) Digest { return DigestOf(CanonicalManifest(files)) }

// TotalSize returns the sum of the file sizes.
func TotalSize(files []File) int64 {
	var n int64
	for _, f := range files {
		n += f.Size
	}
	return n
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
