package cairn

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidatePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path string
		ok   bool
		want string
	}{
		{"model.bin", true, ""},
		{"a/b/c.txt", true, ""},
		{".hidden", true, ""},
		{"dir/.hidden/x", true, ""},
		{"...", true, ""},
		{"a..b", true, ""},
		{"..a", true, ""},
		{"é/模型 file.bin", true, ""},
		{"ab:c", true, ""},
		{"a:b", false, "drive letters are not allowed"},
		{strings.Repeat("a", MaxPathLength), true, ""},
		{"", false, "must not be empty"},
		{strings.Repeat("a", MaxPathLength+1), false, "longer than 1024 bytes"},
		{"..", false, "'.' and '..' segments are not allowed"},
		{"../etc/passwd", false, "'.' and '..' segments are not allowed"},
		{"a/..", false, "'.' and '..' segments"},
		{"a/../b", false, "'.' and '..' segments"},
		{".", false, "'.' and '..' segments"},
		{"./a", false, "'.' and '..' segments"},
		{"a/./b", false, "'.' and '..' segments"},
		{"/etc/passwd", false, "absolute paths are not allowed"},
		{"/", false, "absolute paths are not allowed"},
		{`a\b`, false, "backslashes are not allowed"},
		{`..\..\x`, false, "backslashes are not allowed"},
		{"C:/Windows", false, "drive letters are not allowed"},
		{"c:", false, "drive letters are not allowed"},
		{"a//b", false, "empty path segment"},
		{"a/", false, "empty path segment"},
		{"a\x00b", false, "control characters are not allowed"},
		{"a\nb", false, "control characters"},
		{"a\x7f", false, "control characters"},
		{"a\u0085", false, "control characters"},
		{"a\xffb", false, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(truncate(tt.path, 30)), func(t *testing.T) {
			t.Parallel()
			checkValidation(t, "ValidatePath", ValidatePath(tt.path), tt.ok, tt.want)
		})
	}
}

func file(path string, size int64) File {
	return File{Path: path, Size: size, Digest: DigestOf([]byte(path))}
}

func TestValidateManifest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files []File
		ok    bool
		want  string
	}{
		{"empty", nil, true, ""},
		{"files", []File{file("b", 1), file("a/x", 2), file("a/y", 0), file("ab", 3), file("a.b/c", 4)}, true, ""},
		{"max size", []File{file("big", MaxFileSize)}, true, ""},
		{"similar prefixes are not directories", []File{file("a", 1), file("ab/c", 1), file("a-b/c", 1)}, true, ""},
		{"duplicate", []File{file("a", 1), file("b", 1), file("a", 2)}, false, `file "a" appears twice in the manifest`},
		{"file and directory", []File{file("a", 1), file("a/b", 1)}, false, `"a" is both a file and a directory in the manifest`},
		{"directory first", []File{file("x/y/z", 1), file("x/y", 1)}, false, `"x/y" is both a file and a directory`},
		{"deep clash", []File{file("a/b", 1), file("a/b/c/d/e", 1)}, false, `"a/b" is both a file and a directory`},
		{"dot dot", []File{file("ok", 1), file("../x", 1)}, false, "'.' and '..' segments"},
		{"absolute", []File{file("/x", 1)}, false, "absolute paths are not allowed"},
		{"backslash", []File{file(`a\b`, 1)}, false, "backslashes are not allowed"},
		{"NUL", []File{file("a\x00", 1)}, false, "control characters are not allowed"},
		{"negative size", []File{file("a", -1)}, false, `file "a": size -1 out of range`},
		{"too big", []File{file("a", MaxFileSize+1)}, false, "out of range"},
		{"bad digest", []File{{Path: "a", Size: 1, Digest: "sha256:abc"}}, false, `file "a": invalid digest`},
		{"missing digest", []File{{Path: "a", Size: 1}}, false, `file "a": invalid digest ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkValidation(t, "ValidateManifest", ValidateManifest(tt.files), tt.ok, tt.want)
		})
	}
	t.Run("too many files", func(t *testing.T) {
		t.Parallel()
		err := ValidateManifest(make([]File, MaxManifestFiles+1))
		if !IsCode(err, ETOOLARGE) || !strings.Contains(err.Error(), "the limit is 1000000") {
			t.Errorf("error = %v (%s); want too_large", err, ErrorCodeOf(err))
		}
	})
}

func TestCanonicalManifest(t *testing.T) {
	t.Parallel()
	d1, d2 := DigestOf([]byte("1")), DigestOf([]byte("2"))
	files := []File{{Path: "weights/w<1>.bin", Size: 1 << 40, Digest: d2}, {Path: "MLmodel", Size: 0, Digest: d1}, {Path: "a b/é", Size: 7, Digest: d1}}
	orig := slices.Clone(files)
	got := string(CanonicalManifest(files))
	// Sorted by byte order of the path, compact, path-size-digest, and
	// encoding/json's escaping of <, > and &: this text is what version
	// digests are computed over, so it must never change.
	want := `[{"path":"MLmodel","size":0,"digest":"` + string(d1) + `"},` +
		`{"path":"a b/é","size":7,"digest":"` + string(d1) + `"},` +
		`{"path":"weights/w\u003c1\u003e.bin","size":1099511627776,"digest":"` + string(d2) + `"}]`
	if got != want {
		t.Errorf("CanonicalManifest =\n%s\nwant\n%s", got, want)
	}
	if diff := cmp.Diff(orig, files); diff != "" {
		t.Errorf("CanonicalManifest reordered its argument:\n%s", diff)
	}
	var back []File
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatal(err)
	}
	sorted := slices.Clone(files)
	SortFiles(sorted)
	if diff := cmp.Diff(sorted, back); diff != "" {
		t.Errorf("canonical manifest does not decode to the sorted files:\n%s", diff)
	}
	if string(CanonicalManifest(nil)) != "[]" {
		t.Errorf("CanonicalManifest(nil) = %s; want []", CanonicalManifest(nil))
	}
	if ManifestDigest(files) != DigestOf([]byte(want)) {
		t.Errorf("ManifestDigest is not the digest of the canonical manifest")
	}
	rev := slices.Clone(files)
	slices.Reverse(rev)
	if ManifestDigest(rev) != ManifestDigest(files) {
		t.Errorf("ManifestDigest depends on file order")
	}
	changed := slices.Clone(files)
	changed[0].Size++
	if ManifestDigest(changed) == ManifestDigest(files) {
		t.Errorf("ManifestDigest ignores sizes")
	}
	if got := TotalSize(files); got != 1<<40+7 {
		t.Errorf("TotalSize = %d; want %d", got, int64(1<<40+7))
	}
}
