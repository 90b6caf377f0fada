package jsonschema_test

import (
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/jsonschema"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	s, err := jsonschema.Compile([]byte(`{
		"type": "object",
		"required": ["run_id", "metrics"],
		"properties": {
			"metrics": {"type": "object", "minProperties": 1},
			"source_code_version": {"type": "string", "minLength": 7}
		}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		value string
		want  []string // substrings, one per violation
	}{
		{"ok", `{"run_id": "r1", "metrics": {"auc": 0.9}}`, nil},
		{"missing", `{"metrics": {"auc": 0.9}}`, []string{"at /: missing property 'run_id'"}},
		{"two", `{"metrics": {}, "source_code_version": "abc"}`, []string{"at /: missing property 'run_id'", "at /metrics: minProperties", "at /source_code_version: minLength"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Validate([]byte(tc.value))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("violations = %q, want %d like %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("violation %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

func TestCompileRefusals(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"not json":      `{`,
		"bad keyword":   `{"type": 3}`,
		"file ref":      `{"$ref": "file:///etc/passwd"}`,
		"http ref":      `{"$ref": "https://example.com/schema.json"}`,
		"bad draft url": `{"$schema": "file:///etc/x.json"}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := jsonschema.Compile([]byte(doc))
			if cairn.ErrorCodeOf(err) != cairn.EINVALID {
				t.Fatalf("Compile(%s) = %v, want invalid", doc, err)
			}
		})
	}
}
