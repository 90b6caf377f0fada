package cairn

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The fuzz targets check the parsers' promises on arbitrary input: no
// panics, errors that are always EINVALID, and round trips through the
// canonical form. Seed corpora live in testdata/fuzz/<FuzzName>/.

func checkInvalid(t *testing.T, what, in string, err error) {
	t.Helper()
	if !IsCode(err, EINVALID) {
		t.Fatalf("%s(%q): error %v has code %q; want invalid", what, in, err, ErrorCodeOf(err))
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"churn", "churn@latest", "churn@LATEST", "churn@v7", "churn@V007", "churn@champion",
		"models:/churn/7", "models:/churn@champion", "models:/churn/latest", "models:/a/b/7",
		"churn@", "@v1", "churn@v0", "churn@v99999999999999999999", "churn@a@b", "a b@x-y_z",
		"models:/", "models:/churn", "models:/churn/", "models:/churn/v3", "é@v1", " churn",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			checkInvalid(t, "ParseRef", s, err)
			return
		}
		if err := ValidateModelName(r.Model); err != nil {
			t.Fatalf("ParseRef(%q) = %+v with an invalid model name: %v", s, r, err)
		}
		switch r.Kind {
		case RefLatest:
			if r.Version != 0 || r.Alias != "" {
				t.Fatalf("ParseRef(%q) = %+v: latest with a version or alias", s, r)
			}
		case RefVersion:
			if r.Version < 1 || r.Alias != "" {
				t.Fatalf("ParseRef(%q) = %+v: bad version reference", s, r)
			}
		case RefAlias:
			if r.Version != 0 || ValidateAliasName(r.Alias) != nil {
				t.Fatalf("ParseRef(%q) = %+v: bad alias reference", s, r)
			}
		default:
			t.Fatalf("ParseRef(%q) = %+v: unknown kind", s, r)
		}
		str := r.String()
		again, err := ParseRef(str)
		if err != nil {
			t.Fatalf("ParseRef(%q) = %+v, but its String %q does not parse: %v", s, r, str, err)
		}
		if again != r {
			t.Fatalf("ParseRef(%q) = %+v; ParseRef(String() = %q) = %+v", s, r, str, again)
		}
		if again.String() != str {
			t.Fatalf("String is not stable: %q then %q", str, again.String())
		}
	})
}

func FuzzParseDigest(f *testing.F) {
	for _, s := range []string{
		string(EmptyDigest), string(DigestOf([]byte("cairn"))), "sha256:", "sha256:abc",
		"SHA256:" + EmptyDigest.Hex(), "sha256:" + strings.ToUpper(EmptyDigest.Hex()),
		"sha512:" + EmptyDigest.Hex(), string(EmptyDigest) + "0", "sha256:" + strings.Repeat("g", 64),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDigest(s)
		if err != nil {
			checkInvalid(t, "ParseDigest", s, err)
			return
		}
		if d.String() != s {
			t.Fatalf("ParseDigest(%q).String() = %q", s, d.String())
		}
		again, err := ParseDigest(d.String())
		if err != nil || again != d {
			t.Fatalf("ParseDigest(%q) = %q, %v; want %q", d.String(), again, err, d)
		}
		if h := d.Hex(); len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" || "sha256:"+h != s {
			t.Fatalf("ParseDigest(%q).Hex() = %q", s, h)
		}
	})
}

// checkLocal fails unless p, joined to a directory, stays inside it.
func checkLocal(t *testing.T, p string) {
	t.Helper()
	if !filepath.IsLocal(p) {
		t.Fatalf("valid path %q is not local", p)
	}
	dir := filepath.Join(string(filepath.Separator)+"srv", "download")
	joined := filepath.Join(dir, filepath.FromSlash(p))
	if !strings.HasPrefix(joined, dir+string(filepath.Separator)) {
		t.Fatalf("valid path %q escapes %s: %s", p, dir, joined)
	}
	rel, err := filepath.Rel(dir, joined)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		t.Fatalf("valid path %q: Rel(%s, %s) = %q, %v", p, dir, joined, rel, err)
	}
}

func FuzzValidatePath(f *testing.F) {
	for _, s := range []string{
		"model.bin", "a/b/c.txt", "weights/layer.0/w.npy", "..", "../x", "a/../b", "a/./b", "./a",
		"/etc/passwd", `a\b`, "C:/x", "c:x", "a//b", "a/", "a\x00b", "a\nb", "...", "..a", "a..",
		"é/ü.bin", strings.Repeat("a/", 512),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if err := ValidatePath(p); err != nil {
			checkInvalid(t, "ValidatePath", p, err)
			return
		}
		checkLocal(t, p)
		if filepath.Clean(p) != filepath.FromSlash(p) {
			t.Fatalf("valid path %q is not clean: %q", p, filepath.Clean(p))
		}
	})
}

func FuzzValidateManifest(f *testing.F) {
	d1, d2 := string(DigestOf([]byte("1"))), string(DigestOf([]byte("2")))
	for _, s := range []string{
		`[]`,
		`[{"path":"model.bin","size":10,"digest":"` + d1 + `"}]`,
		`[{"path":"b/x","size":1,"digest":"` + d1 + `"},{"path":"a","size":0,"digest":"` + d2 + `"}]`,
		`[{"path":"a","size":1,"digest":"` + d1 + `"},{"path":"a","size":1,"digest":"` + d1 + `"}]`,
		`[{"path":"a","size":1,"digest":"` + d1 + `"},{"path":"a/b","size":1,"digest":"` + d1 + `"}]`,
		`[{"path":"x/<&>\u2028","size":5497558138880,"digest":"` + d2 + `"}]`,
		`[{"path":"../x","size":1,"digest":"` + d1 + `"}]`,
		`[{"path":"x","size":-1,"digest":"` + d1 + `"}]`,
		`[{"path":"x","size":1,"digest":"sha256:00"}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var files []File
		if json.Unmarshal(data, &files) != nil {
			return
		}
		if err := ValidateManifest(files); err != nil {
			if c := ErrorCodeOf(err); c != EINVALID && c != ETOOLARGE {
				t.Fatalf("ValidateManifest: error %v has code %q", err, c)
			}
			return
		}
		// An independent check of what validity promises.
		paths := map[string]bool{}
		for _, fl := range files {
			checkLocal(t, fl.Path)
			if paths[fl.Path] {
				t.Fatalf("valid manifest repeats %q", fl.Path)
			}
			paths[fl.Path] = true
		}
		for p := range paths {
			for dir := p; strings.Contains(dir, "/"); {
				dir = dir[:strings.LastIndexByte(dir, '/')]
				if paths[dir] {
					t.Fatalf("valid manifest has %q both as a file and as a directory of %q", dir, p)
				}
			}
		}

		canon := CanonicalManifest(files)
		var back []File
		if err := json.Unmarshal(canon, &back); err != nil {
			t.Fatalf("canonical manifest %q is not JSON: %v", canon, err)
		}
		want := slices.Clone(files)
		SortFiles(want)
		if want == nil {
			want = []File{}
		}
		if diff := cmp.Diff(want, back); diff != "" {
			t.Fatalf("canonical manifest %q does not round trip (-want +got):\n%s", canon, diff)
		}
		if again := CanonicalManifest(back); string(again) != string(canon) {
			t.Fatalf("canonical form is not stable:\n%s\n%s", canon, again)
		}
		if ManifestDigest(files) != DigestOf(canon) {
			t.Fatalf("ManifestDigest differs from the digest of the canonical manifest")
		}
		// The order files come in does not change the digest.
		rev := slices.Clone(files)
		slices.Reverse(rev)
		if ManifestDigest(rev) != ManifestDigest(files) {
			t.Fatalf("manifest digest depends on the order of the files")
		}
	})
}

func FuzzValidateModelName(f *testing.F) {
	for _, s := range []string{
		"churn", "Churn-EU", "fraud_detector v2", "模型", "latest", "v1", "a", ".", "..", "...",
		" churn", "churn ", "a/b", "a:b", "a@b", "a\x00b", "a\tb", "\ufffd", "\xff",
		strings.Repeat("x", 256), strings.Repeat("é", 256), strings.Repeat("x", 257),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if err := ValidateModelName(name); err != nil {
			checkInvalid(t, "ValidateModelName", name, err)
			return
		}
		checks := []struct {
			ref  string
			want Ref
		}{
			{name, Ref{Model: name, Kind: RefLatest}},
			{name + "@latest", Ref{Model: name, Kind: RefLatest}},
			{name + "@v7", Ref{Model: name, Kind: RefVersion, Version: 7}},
			{name + "@champion", Ref{Model: name, Kind: RefAlias, Alias: "champion"}},
			{"models:/" + name + "/7", Ref{Model: name, Kind: RefVersion, Version: 7}},
			{"models:/" + name + "@champion", Ref{Model: name, Kind: RefAlias, Alias: "champion"}},
			{VersionRef(name, 12), Ref{Model: name, Kind: RefVersion, Version: 12}},
		}
		for _, c := range checks {
			got, err := ParseRef(c.ref)
			if err != nil || got != c.want {
				t.Fatalf("valid name %q: ParseRef(%q) = %+v, %v; want %+v", name, c.ref, got, err, c.want)
			}
		}
		if IsURI(name) {
			t.Fatalf("valid name %q looks like a URI", name)
		}
	})
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"name LIKE 'churn%' AND tags.team = 'fraud'",
		"tags.`my key` = 'v' OR tag.\"my-key\" != \"w\"",
		"metrics.auc >= 0.9 AND NOT (params.lr = '0.1' OR version IN (1, 2, 3))",
		"run_id NOT IN ('a', 'b') AND archived = true",
		"created_at > '2024-01-01T00:00:00Z' and stage <> 'None'",
		"description = 'it''s' or description = \"say \"\"hi\"\"\"",
		"metrics.x < -1.5e-3 OR metrics.y > .5 OR metrics.z = 1e21",
		"not not (a = 1 and (b = 2 or c = 3))",
		"name = 'a' garbage", "((a = 1)", "a IN ()", "tags. = 'x'", "metrics.x > 1e999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter(s)
		if err != nil {
			checkInvalid(t, "ParseFilter", s, err)
			return
		}
		if flt == nil {
			if strings.TrimSpace(s) != "" {
				t.Fatalf("ParseFilter(%q) = nil, nil for a non-blank filter", s)
			}
			return
		}
		str := flt.String()
		if len(str) > MaxFilterLength {
			return // the canonical form may outgrow the limit; see Filter.String
		}
		again, err := ParseFilter(str)
		if err != nil {
			t.Fatalf("ParseFilter(%q) succeeded, but its String %q does not parse: %v", s, str, err)
		}
		if diff := cmp.Diff(flt, again); diff != "" {
			t.Fatalf("round trip of %q through %q changed the tree (-first +second):\n%s", s, str, diff)
		}
		if again.String() != str {
			t.Fatalf("String is not stable: %q then %q", str, again.String())
		}
	})
}
