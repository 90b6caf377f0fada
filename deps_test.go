package cairn_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection holds the layout's one rule: arrows point toward
// the root. The domain imports only the standard library; adapters never
// import each other; only the CLI (whose serve command wires the server)
// names concrete implementations. A new import that breaks this fails here.
func TestDependencyDirection(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatal("the go command is needed to list imports")
	}
	const mod = "github.com/cairn-registry/cairn"
	// allowed lists, per package, the module's packages it may import
	// besides the root; a package not listed may import only the root.
	allowed := map[string][]string{
		"internal/registry":        {"internal/cel", "internal/jsonschema"}, // policy conditions and schemas
		"internal/sqlite":          {"internal/sqlfilter"},
		"internal/postgres":        {"internal/sqlfilter"},
		"internal/httpapi":         {"internal/registry"},
		"internal/mlflowapi":       {"internal/registry", "internal/mlmodel"},
		"internal/webhook":         {"internal/registry"},
		"client":                   {"internal/registry"}, // request types, re-exported as aliases
		"internal/bench":           {"client", "internal/registry"},
		"internal/mlflowimport":    {"client"}, // a client-side tool: writes through the Go SDK, as the CLI does
		"internal/gto":             {"client"}, // likewise: GTO import and export through the Go SDK
		"internal/httpapi/apitest": {"*"},      // test harness
		"internal/cli":             {"*"},      // serve wires the concrete stores
		"cmd/cairn":                {"*"},
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, mod+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], mod), "/")
		ok := map[string]bool{"": true}
		for _, a := range allowed[pkg] {
			ok[a] = true
		}
		for _, imp := range fields[1:] {
			if pkg == "" && !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
				continue // the standard library
			}
			if pkg == "" {
				t.Errorf("the domain package imports %s; it may import only the standard library", imp)
				continue
			}
			if imp != mod && !strings.HasPrefix(imp, mod+"/") {
				continue // third-party imports are each package's own business
			}
			rel := strings.TrimPrefix(strings.TrimPrefix(imp, mod), "/")
			if !ok[rel] && !ok["*"] {
				t.Errorf("%s imports %s; adapters must not import each other (see STYLE.md, Layout)", fields[0], imp)
			}
		}
	}
}
