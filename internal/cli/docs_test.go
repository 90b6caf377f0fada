package cli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/cli.md from the command tree")

// TestCLIReferenceIsCurrent keeps docs/cli.md true: it is generated from
// the command tree itself, and this test fails when a command, flag or help
// text changes without the document. Regenerate with
//
//	go test ./internal/cli -run TestCLIReferenceIsCurrent -update-docs
func TestCLIReferenceIsCurrent(t *testing.T) {
	a := &app{env: Env{Getenv: func(string) string { return "" }}}
	got := cliReference(a.rootCommand())
	path := filepath.Join("..", "..", "docs", "cli.md")
	if *updateDocs {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it with -update-docs)", err)
	}
	if string(want) != got {
		t.Errorf("docs/cli.md is out of date with the command tree; run: go test ./internal/cli -run TestCLIReferenceIsCurrent -update-docs")
	}
}

func cliReference(root *cobra.Command) string {
	var b strings.Builder
	b.WriteString("# CLI reference\n\n")
	b.WriteString("<!-- Generated from the command tree by internal/cli/docs_test.go; do not edit by hand. -->\n\n")
	b.WriteString("```\n" + strings.TrimSpace(root.Long) + "\n```\n\n")
	b.WriteString("## Global flags\n\nEvery command takes these.\n\n```\n")
	b.WriteString(root.PersistentFlags().FlagUsages())
	b.WriteString("```\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			writeCommand(&b, sub)
			walk(sub)
		}
	}
	walk(root)
	return b.String()
}

func writeCommand(b *strings.Builder, c *cobra.Command) {
	b.WriteString("\n## " + c.CommandPath() + "\n\n")
	if c.Short != "" {
		b.WriteString(c.Short + "\n\n")
	}
	b.WriteString("```\n" + c.UseLine() + "\n```\n")
	if c.Long != "" && c.Long != c.Short {
		b.WriteString("\n" + strings.TrimSpace(c.Long) + "\n")
	}
	if c.Example != "" {
		b.WriteString("\nExamples:\n\n```\n" + strings.TrimRight(c.Example, "\n") + "\n```\n")
	}
	if fl := c.LocalNonPersistentFlags().FlagUsages(); fl != "" {
		b.WriteString("\nFlags:\n\n```\n" + fl + "```\n")
	}
}
