package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/spf13/cobra"
)

func (a *app) policyCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "policy",
		Aliases: []string{"policies"},
		Short:   "Governance policies: naming, required metadata, protected aliases, deletion, signals",
		Long: `A policy is a JSON document that governs the models under its scope (* or a
model-name glob): a name pattern for new models, the metadata every new
version must carry (a JSON Schema over the version record), aliases and
MLflow stages whose moves need approvals and conditions (CEL), deletion
rules, and monitoring signal thresholds. Every change writes a new version
of the policy; old versions stay readable. See docs/governance.md and the
examples in docs/policies/.`,
		Args: noSubcommand,
		RunE: showHelp,
	}
	c.AddCommand(a.policyCreateCommand(), a.policyListCommand(), a.policyShowCommand(),
		a.policyUpdateCommand(), a.policyDeleteCommand(), a.policyVersionsCommand(), a.policyExplainCommand())
	return c
}

// readPolicy reads a policy document from a file ("-": stdin), strictly:
// an unknown member is a mistake worth stopping on. The document may name
// the policy; if it does, the name must agree with the argument.
func (a *app) readPolicy(c *cobra.Command, file, name string) (*client.PolicyCreate, error) {
	if file == "" {
		return nil, usageErr(c, "give the policy document with --file FILE (- for stdin)")
	}
	const limit = cairn.MaxPolicySchema + 64<<10
	var b []byte
	var err error
	if file == "-" {
		b, err = readAllLimited(a.env.Stdin, limit+1)
	} else {
		b, err = readFileLimited(a.path(file), limit+1)
	}
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	if len(b) > limit {
		return nil, cairn.Errorf(cairn.ETOOLARGE, "policy file %s is larger than %d bytes", file, limit)
	}
	var in client.PolicyCreate
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, cairn.Errorf(cairn.EINVALID, "policy file %s: %s", file, err)
	}
	switch {
	case in.Name == "":
		in.Name = name
	case name != "" && in.Name != name:
		return nil, usageErr(c, "the file names policy %q, the command %q", in.Name, name)
	}
	if in.Name == "" {
		return nil, usageErr(c, "name the policy: as an argument or as \"name\" in the file")
	}
	return &in, nil
}

func (a *app) policyCreateCommand() *cobra.Command {
	var file string
	c := &cobra.Command{
		Use:   "create [NAME] --file FILE",
		Short: "Create a policy from a JSON document (admin)",
		Long: `Create a policy from a JSON document (--file, - for stdin). The name comes
from the argument or from the document's "name" member. Creating a policy
that was deleted brings it back as its next version.`,
		Args: rangeArgs(0, "[NAME]"),
		RunE: func(c *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			in, err := a.readPolicy(c, file, name)
			if err != nil {
				return err
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			p, err := cl.CreatePolicy(c.Context(), *in)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(p)
			}
			a.infof("created policy %s (version %d)", p.Name, p.Version)
			return a.printPolicy(p)
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "", "the policy document, JSON (- for stdin)")
	return c
}

func (a *app) policyUpdateCommand() *cobra.Command {
	var file string
	c := &cobra.Command{
		Use:   "update NAME --file FILE",
		Short: "Replace a policy's document, writing its next version (admin)",
		Long: `Replace a policy's document with the one in --file (- for stdin), writing
the policy's next version; the old versions stay readable with
'cairn policy show NAME --version N'. An unchanged document writes nothing.`,
		Args: exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			in, err := a.readPolicy(c, file, args[0])
			if err != nil {
				return err
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			p, err := cl.UpdatePolicy(c.Context(), args[0], in.PolicySpec)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(p)
			}
			a.infof("policy %s is at version %d", p.Name, p.Version)
			return a.printPolicy(p)
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "", "the policy document, JSON (- for stdin)")
	return c
}

func (a *app) policyListCommand() *cobra.Command {
	var deleted bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List policies at their current versions",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			ps, err := cl.ListPolicies(c.Context(), deleted)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"items": nonNilSlice(ps)})
			}
			t := newTable(a.stdout(), "NAME", "VERSION", "SCOPE", "RULES", "UPDATED")
			for _, p := range ps {
				name := p.Name
				if p.DeletedAt != nil {
					name += " (deleted)"
				}
				t.row(name, itoa(p.Version), p.Scope, policyRules(&p.PolicySpec), formatTime(p.CreatedAt))
			}
			return t.flush()
		},
	}
	c.Flags().BoolVar(&deleted, "deleted", false, "list deleted policies too")
	return c
}

// policyRules summarizes what a policy sets, for a table cell.
func policyRules(s *cairn.PolicySpec) string {
	var r []string
	if s.NamePattern != nil {
		r = append(r, "name")
	}
	if len(s.RequiredMetadata) > 0 {
		r = append(r, "metadata")
	}
	for _, g := range s.ProtectedAliases {
		r = append(r, "@"+g.Alias)
	}
	for _, g := range s.ProtectedStages {
		r = append(r, "stage:"+string(g.Stage))
	}
	if s.Deletion != nil && s.Deletion.RetainPromoted {
		r = append(r, "retain")
	}
	if len(s.Signals) > 0 {
		r = append(r, "signals")
	}
	if len(r) == 0 {
		return "-"
	}
	return strings.Join(r, ",")
}

func (a *app) policyShowCommand() *cobra.Command {
	var version string
	c := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a policy, at its current version or at --version N",
		Args:  exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			var n int64
			if version != "" {
				var err error
				n, err = strconv.ParseInt(strings.TrimPrefix(version, "v"), 10, 64)
				if err != nil || n < 1 {
					return usageErr(c, "invalid --version %q: want a number such as 2 or v2", version)
				}
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			p, err := cl.GetPolicy(c.Context(), args[0], n)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(p)
			}
			return a.printPolicy(p)
		},
	}
	c.Flags().StringVar(&version, "version", "", "show this version (2 or v2) instead of the current one")
	return c
}

func (a *app) policyVersionsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "versions NAME",
		Short: "List every version of a policy, newest first",
		Args:  exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			ps, err := cl.ListPolicyVersions(c.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"items": nonNilSlice(ps)})
			}
			t := newTable(a.stdout(), "VERSION", "SCOPE", "RULES", "BY", "AT")
			for _, p := range ps {
				t.row(itoa(p.Version), p.Scope, policyRules(&p.PolicySpec), p.CreatedBy, formatTime(p.CreatedAt))
			}
			return t.flush()
		},
	}
}

func (a *app) policyDeleteCommand() *cobra.Command {
	return a.deleteCommand("delete NAME", "Delete a policy (admin): it stops applying; its versions stay readable",
		func(ctx context.Context, cl *client.Client, name string) error { return cl.DeletePolicy(ctx, name) },
		"deleted policy %s")
}

func (a *app) printPolicy(p *cairn.Policy) error {
	f := newFields(a.stdout())
	f.add("policy", p.Name)
	f.add("version", itoa(p.Version))
	f.add("scope", p.Scope)
	f.add("description", p.Description)
	if np := p.NamePattern; np != nil {
		s := np.Regex
		if np.Example != "" {
			s += fmt.Sprintf(" (e.g. %s)", np.Example)
		}
		f.add("name pattern", s)
	}
	if len(p.RequiredMetadata) > 0 {
		f.add("required metadata", fmt.Sprintf("JSON Schema, %d bytes (--json shows it)", len(p.RequiredMetadata)))
	}
	for _, g := range append(append([]cairn.Gate{}, p.ProtectedAliases...), p.ProtectedStages...) {
		s := fmt.Sprintf("%d approval%s", g.Approvals, plural(g.Approvals))
		for _, c := range g.Conditions {
			s += fmt.Sprintf("; %s: %s", c.Name, c.Expr)
		}
		f.add("protects "+g.Target(), s)
	}
	if p.Deletion != nil && p.Deletion.RetainPromoted {
		f.add("deletion", "versions that held a protected alias or stage can be archived, not deleted")
	}
	if len(p.Signals) > 0 {
		f.add("signals", formatMetrics(p.Signals))
	}
	f.add("written", formatTime(p.CreatedAt)+" by "+p.CreatedBy)
	if p.DeletedAt != nil {
		f.add("deleted", formatTime(*p.DeletedAt))
	}
	return f.flush()
}
