package cairn

import (
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Ref
		str  string // canonical form
	}{
		{"churn", Ref{Model: "churn", Kind: RefLatest}, "churn@latest"},
		{"churn@latest", Ref{Model: "churn", Kind: RefLatest}, "churn@latest"},
		{"churn@LATEST", Ref{Model: "churn", Kind: RefLatest}, "churn@latest"},
		{"churn@v7", Ref{Model: "churn", Kind: RefVersion, Version: 7}, "churn@v7"},
		{"churn@V7", Ref{Model: "churn", Kind: RefVersion, Version: 7}, "churn@v7"},
		{"churn@v007", Ref{Model: "churn", Kind: RefVersion, Version: 7}, "churn@v7"},
		{"churn@v999999999999999999", Ref{Model: "churn", Kind: RefVersion, Version: 999999999999999999}, "churn@v999999999999999999"},
		{"churn@champion", Ref{Model: "churn", Kind: RefAlias, Alias: "champion"}, "churn@champion"},
		{"churn@Prod-1_a", Ref{Model: "churn", Kind: RefAlias, Alias: "Prod-1_a"}, "churn@Prod-1_a"},
		{"fraud detector@v2", Ref{Model: "fraud detector", Kind: RefVersion, Version: 2}, "fraud detector@v2"},
		{"模型@latest", Ref{Model: "模型", Kind: RefLatest}, "模型@latest"},
		{"models:/churn/7", Ref{Model: "churn", Kind: RefVersion, Version: 7}, "churn@v7"},
		{"models:/churn/v7", Ref{Model: "churn", Kind: RefVersion, Version: 7}, "churn@v7"},
		{"models:/churn/latest", Ref{Model: "churn", Kind: RefLatest}, "churn@latest"},
		{"models:/churn/Latest", Ref{Model: "churn", Kind: RefLatest}, "churn@latest"},
		{"models:/churn@champion", Ref{Model: "churn", Kind: RefAlias, Alias: "champion"}, "churn@champion"},
		{"models:/churn@latest", Ref{Model: "churn", Kind: RefLatest}, "churn@latest"},
		{"models:/churn@v3", Ref{Model: "churn", Kind: RefVersion, Version: 3}, "churn@v3"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseRef(tt.in)
			if err != nil {
				t.Fatalf("ParseRef(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseRef(%q) = %+v; want %+v", tt.in, got, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q; want %q", s, tt.str)
			}
			if again, err := ParseRef(got.String()); err != nil || again != got {
				t.Errorf("ParseRef(%q) = %+v, %v; want %+v", got.String(), again, err, got)
			}
		})
	}
}

func TestParseRefErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", `invalid reference ""`},
		{"@v1", `invalid reference "@v1"`},
		{"churn@", `invalid reference "churn@": nothing after '@'`},
		{"churn@v0", "versions start at 1"},
		{"churn@v99999999999999999999", "invalid version number"},
		{"churn@my alias", "invalid alias name"},
		{"churn@a@b", "invalid alias name"},
		{"churn@a.b", "invalid alias name"},
		{"team/churn", "must not contain '/'"},
		{"team/churn@v1", "must not contain '/'"},
		{" churn", "white space"},
		{"s3://bucket/x", "must not contain ':'"},
		{"models:/", `invalid model URI "models:/"`},
		{"models:/churn", `invalid model URI "models:/churn": want models:/NAME/VERSION or models:/NAME@ALIAS`},
		{"models:/churn/", `invalid model URI "models:/churn/"`},
		{"models:/churn/0", "versions start at 1"},
		{"models:/churn/-1", "invalid version number"},
		{"models:/churn/champion", "invalid version number"},
		{"models:/team/churn/7", "must not contain '/'"},
		{"models:/churn@", "nothing after '@'"},
		{"models:/churn@Latest1 x", "invalid alias name"},
		{"models:/@champion", "model name must not be empty"},
		{"models:/m-0123456789abcdef", "want models:/NAME/VERSION"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseRef(tt.in)
			if err == nil {
				t.Fatalf("ParseRef(%q) = %+v; want an error", tt.in, got)
			}
			if !IsCode(err, EINVALID) {
				t.Errorf("code %q; want invalid", ErrorCodeOf(err))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseRef(%q) error %q; want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestParseVersionNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1", 1, true},
		{"v1", 1, true},
		{"V12", 12, true},
		{"0012", 12, true},
		{"999999999999999999", 999999999999999999, true},
		{"0", 0, false},
		{"v0", 0, false},
		{"", 0, false},
		{"v", 0, false},
		{"vv1", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1.0", 0, false},
		{"1e3", 0, false},
		{" 1", 0, false},
		{"9999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseVersionNumber(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseVersionNumber(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !IsCode(err, EINVALID) {
			t.Errorf("ParseVersionNumber(%q): code %q; want invalid", tt.in, ErrorCodeOf(err))
		}
	}
}

func TestVersionRefAndIsURI(t *testing.T) {
	t.Parallel()
	if got := VersionRef("churn", 3); got != "churn@v3" {
		t.Errorf("VersionRef = %q; want churn@v3", got)
	}
	for s, want := range map[string]bool{
		"churn": false, "churn@v3": false, "ds@latest": false,
		"s3://bucket/x": true, "models:/churn/1": true, "runs:/abc/model": true, "file:///tmp/x": true,
	} {
		if got := IsURI(s); got != want {
			t.Errorf("IsURI(%q) = %v; want %v", s, got, want)
		}
	}
}
