package cli_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn/internal/cli"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
)

// TestDescriptionFromStdin reads --description-file - from standard input
// (a script cannot feed stdin to an in-process command).
func TestDescriptionFromStdin(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, apitest.Options{})
	var stdout, stderr bytes.Buffer
	desc := "# Churn\n\nFrom stdin.\n"
	code := cli.Run(context.Background(), []string{"models", "create", "churn", "--description-file", "-", "--json"}, cli.Env{
		Stdin: strings.NewReader(desc), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string {
			return map[string]string{"CAIRN_URL": env.Server.URL, "CAIRN_USER": "stdin-user"}[k]
		},
	})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	m, err := env.Client.GetModel(context.Background(), "churn")
	if err != nil {
		t.Fatal(err)
	}
	if m.Description != desc {
		t.Errorf("description %q, want %q", m.Description, desc)
	}
	if m.CreatedBy != "stdin-user" {
		t.Errorf("created_by %q, want the CAIRN_USER stdin-user", m.CreatedBy)
	}
	if !strings.Contains(stdout.String(), `"description": "# Churn\n\nFrom stdin.\n"`) {
		t.Errorf("--json printed %s", stdout.String())
	}
}
