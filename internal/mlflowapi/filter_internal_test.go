package mlflowapi

import (
	"slices"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/sqlfilter"
)

func TestInvalidClauses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filter string
		bad    []string
	}{
		{"name = 'a' AND tags.t = 'b'", nil},
		{"run_id IN ('a', 'b')", nil},
		{"run_id in ('a')", nil},
		{"run_id NOT IN ('a')", nil},
		{"name = 'or' AND tags.`not` = '(x)'", nil},
		{`name = "it's OR not (this)"`, nil},
		{"name = 'it''s' AND name != 'OR'", nil},
		{"tags.organization = 'x'", nil},
		{"name = 'a' OR name = 'b'", []string{"'OR'"}},
		{"name = 'a' or name = 'b'", []string{"'or'"}},
		{"NOT name = 'a'", []string{"'NOT'"}},
		{"(name = 'a')", []string{"'('"}},
		{"name = 'a' AND (run_id = 'b' OR run_id = 'c')", []string{"'('", "'OR'"}},
		{"run_id IN (('a'))", []string{"'('"}},
		{"name = 'a')", []string{"')'"}},
	}
	for _, tt := range tests {
		if got := invalidClauses(tt.filter); !slices.Equal(got, tt.bad) {
			t.Errorf("invalidClauses(%q) = %q, want %q", tt.filter, got, tt.bad)
		}
	}
}

// TestTranslateFilter checks the Cairn filter each MLflow filter becomes,
// in Cairn's canonical form.
func TestTranslateFilter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		entity *searchEntity
		filter string
		want   string
	}{
		{&modelSearch, "", ""},
		{&modelSearch, "name LIKE 'churn%' AND tags.team = 'fraud'", "name LIKE 'churn%' AND tags.team = 'fraud'"},
		{&modelSearch, "tag.team ILIKE 'F%'", "tags.team ILIKE 'F%'"},
		{&modelSearch, "tags.`model type` = 'x'", "tags.`model type` = 'x'"},
		{&modelSearch, "tags.`mlflow.prompt.is_prompt` != 'true'", "kind != 'prompt' AND tags.mlflow.prompt.is_prompt != 'true'"},
		{&modelSearch, "tags.`mlflow.prompt.is_prompt` = 'false'", "kind != 'prompt' AND tags.mlflow.prompt.is_prompt != 'true'"},
		{&modelSearch, "name = 'a' AND tags.`mlflow.prompt.is_prompt` = 'true'", "name = 'a' AND (kind = 'prompt' OR tags.mlflow.prompt.is_prompt = 'true')"},
		{&versionSearch, "version_number > 3 AND name = 'fraud'", "version > 3 AND name = 'fraud'"},
		{&versionSearch, "version_number = '7'", "version = 7"},
		{&versionSearch, "source_path LIKE 's3://%'", "source LIKE 's3://%'"},
		{&versionSearch, "run_id IN ('a1b2', 'c3d4')", "run_id IN ('a1b2', 'c3d4')"},
	}
	for _, tt := range tests {
		f, err := translateFilter(tt.filter, tt.entity)
		if err != nil {
			t.Errorf("translateFilter(%q): %v", tt.filter, err)
			continue
		}
		if got := f.String(); got != tt.want {
			t.Errorf("translateFilter(%q) = %q, want %q", tt.filter, got, tt.want)
		}
	}
}

func TestTranslateOrderBy(t *testing.T) {
	t.Parallel()
	got, err := translateOrderBy([]string{"name", "version_number DESC", " last_updated_timestamp asc ", ""}, &versionSearch)
	want := []string{"name ASC", "version DESC", "updated_at ASC"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	if got, err := translateOrderBy([]string{"timestamp DESC"}, &modelSearch); err != nil || !slices.Equal(got, []string{"created_at DESC"}) {
		t.Errorf("timestamp: got %q, %v", got, err)
	}
	for _, bad := range [][]string{{"version_number"}, {"name", "name DESC"}, {"name up"}, {"a b c"}} {
		if _, err := translateOrderBy(bad, &modelSearch); err == nil {
			t.Errorf("translateOrderBy(%q) accepted", bad)
		}
	}
}

func TestParseVersion(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]int64{"1": 1, " 42 ": 42, "+3": 3, "0": 0, "-2": -2} {
		if n, err := parseVersion(s); err != nil || n != want {
			t.Errorf("parseVersion(%q) = %d, %v; want %d", s, n, err, want)
		}
	}
	for _, s := range []string{"", "v1", "1.0", "abc", "1e3", "99999999999999999999"} {
		if _, err := parseVersion(s); err == nil || !strings.Contains(err.Error(), "Model version must be an integer") {
			t.Errorf("parseVersion(%q): %v", s, err)
		}
	}
}

func TestValidateSource(t *testing.T) {
	t.Parallel()
	ok := []struct{ source, run, model string }{
		{"s3://bucket/path/model", "", ""},
		{"runs:/abc/model", "abc", ""},
		{"models:/m-123", "", "m-123"},
		{"mlflow-artifacts:/1/abc/artifacts/model", "", ""},
		{"/mnt/models/m", "r1", ""},
		{"file:///mnt/m", "", "m-1"},
		{"dbfs:/models/a..b", "", ""},
	}
	for _, tt := range ok {
		if err := validateSource(tt.source, tt.run, tt.model); err != nil {
			t.Errorf("validateSource(%q): %v", tt.source, err)
		}
	}
	bad := []string{"s3://b/../x", "http://h/api/..%2f..%2fetc", "https://h/%252e%252e/b", "/tmp/m", "file:///tmp/m", "relative/path", `C:\models`}
	for _, s := range bad {
		if err := validateSource(s, "", ""); err == nil {
			t.Errorf("validateSource(%q) accepted", s)
		}
	}
}

// FuzzTranslateFilter checks that translating never panics, and that every
// filter it accepts is one the stores compile, for models and versions, so
// that an accepted MLflow filter never fails later with a Cairn message.
func FuzzTranslateFilter(f *testing.F) {
	for _, s := range []string{
		"name LIKE 'churn%' AND tags.team = 'fraud'",
		"run_id IN ('a', 'b') AND version_number >= 3",
		"tags.`mlflow.prompt.is_prompt` = 'false'",
		"source_path = 's3://x' AND name != \"y\"",
		"name = 'a' OR name = 'b'",
		"(name = 'a')",
		"version_number = '7'",
		"tags.\"k k\" ILIKE '%_%'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, e := range []*searchEntity{&modelSearch, &versionSearch} {
			tr, err := translateFilter(s, e)
			if err != nil || tr == nil {
				continue
			}
			var cerr error
			if e == &modelSearch {
				_, cerr = sqlfilter.Models(tr, nil, sqlfilter.SQLite, 1)
			} else {
				_, cerr = sqlfilter.Versions(tr, nil, sqlfilter.SQLite, 1)
			}
			if cerr != nil {
				t.Fatalf("translateFilter(%q) = %q, which does not compile: %v", s, tr.String(), cerr)
			}
			if _, err := cairn.ParseFilter(tr.String()); err != nil {
				t.Fatalf("translateFilter(%q) = %q, which does not parse: %v", s, tr.String(), err)
			}
		}
	})
}
