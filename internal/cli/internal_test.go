package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
)

func TestProgressDrawsAndClears(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, "pushing churn")
	p.setTotal(4 << 20)
	p.set(1 << 20)
	p.set(4 << 20) // the last update is always drawn
	out := buf.String()
	if !strings.Contains(out, "\rpushing churn [======================  ] 100% 4.0 MiB / 4.0 MiB") &&
		!strings.Contains(out, "\rpushing churn [========================] 100% 4.0 MiB / 4.0 MiB") {
		t.Fatalf("final bar missing from %q", out)
	}
	if !strings.Contains(out, " 25% 1.0 MiB / 4.0 MiB") {
		t.Errorf("first bar missing from %q", out)
	}
	buf.Reset()
	p.finish()
	if got := buf.String(); !strings.HasPrefix(got, "\r ") || !strings.HasSuffix(got, "\r") || strings.TrimSpace(got) != "" {
		t.Errorf("finish wrote %q, want the line blanked", got)
	}
}

func TestIsTerminal(t *testing.T) {
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is not a terminal")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a regular file is not a terminal")
	}
}

func TestManifestPath(t *testing.T) {
	exists := func(p string) bool {
		return map[string]bool{"model/requirements.txt": true, "requirements.txt": true, "model/sub/conda.yaml": true}[filepath.Clean(p)]
	}
	tests := []struct {
		deps  string
		paths []string
		want  string
	}{
		{"", []string{"model"}, ""},
		{"model/requirements.txt", []string{"model"}, "requirements.txt"},
		{"./model/requirements.txt", []string{"./model/"}, "requirements.txt"},
		{"model/sub/conda.yaml", []string{"model"}, "sub/conda.yaml"},
		{"requirements.txt", []string{"model.onnx", "requirements.txt"}, "requirements.txt"},
		{"sub/conda.yaml", []string{"model"}, "sub/conda.yaml"}, // a manifest path, no such local file
		{"requirements.txt", []string{"model"}, "requirements.txt"},
		{"model/requirements.txt", []string{"other"}, "model/requirements.txt"},
	}
	for _, tt := range tests {
		if got := manifestPath(tt.deps, tt.paths, exists); got != tt.want {
			t.Errorf("manifestPath(%q, %q) = %q, want %q", tt.deps, tt.paths, got, tt.want)
		}
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{&usageError{err: os.ErrInvalid}, 2},
		{cairnErr("not_found"), 3},
		{cairnErr("conflict"), 4},
		{cairnErr("unauthenticated"), 5},
		{cairnErr("permission_denied"), 5},
		{cairnErr("pending_approval"), 6},
		{cairnErr("invalid"), 1},
		{cairnErr("failed_precondition"), 1},
		{cairnErr("internal"), 1},
		{os.ErrNotExist, 1},
		{withHint(cairnErr("conflict"), "retry"), 4},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func cairnErr(code string) error { return &cairn.Error{Code: cairn.ErrorCode(code), Message: code} }

func TestParseAuth(t *testing.T) {
	for in, want := range map[string]bool{"": false, "false": false, "off": false, "0": false, "no": false,
		"true": true, "TRUE": true, "on": true, "1": true, " yes ": true} {
		got, err := parseAuth(in)
		if err != nil || got != want {
			t.Errorf("parseAuth(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseAuth("maybe"); err == nil {
		t.Error("parseAuth(maybe) succeeded")
	}
}
