package cli

import (
	"github.com/cairn-registry/cairn"
	"github.com/spf13/cobra"
)

func (a *app) aliasCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "alias",
		Aliases: []string{"aliases"},
		Short:   "Point named aliases (champion, production, …) at versions",
		Long: `Aliases are mutable names for versions: churn@champion resolves to whatever
version the alias points at now. 'latest' and 'v<N>' are reserved. Every move
is kept in the alias's history.`,
		Args: noSubcommand,
		RunE: showHelp,
	}
	c.AddCommand(a.aliasSetCommand(), a.aliasDeleteCommand(), a.aliasShowCommand(), a.aliasHistoryCommand())
	return c
}

func (a *app) aliasSetCommand() *cobra.Command {
	var cur string
	c := &cobra.Command{
		Use:   "set MODEL ALIAS VERSION",
		Short: "Point an alias at a version (3 or v3)",
		Long: `Point an alias at a version, creating or moving it. With --if-current the
move is a compare-and-swap: it happens only if the alias still points at that
version (0 or none: only if the alias does not exist yet), and otherwise fails
with exit code 4. A protected alias may need approval: then the request is
opened and the command exits 6.`,
		Example: `  cairn alias set churn champion 3
  cairn alias set churn champion v4 --if-current 3`,
		Args: exactArgs("MODEL", "ALIAS", "VERSION"),
		RunE: func(c *cobra.Command, args []string) error {
			model, err := parseModelName(c, args[0])
			if err != nil {
				return err
			}
			n, err := parseVersion(c, args[2])
			if err != nil {
				return err
			}
			ifCur, err := ifCurrent(c, cur)
			if err != nil {
				return err
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			al, err := cl.SetAlias(c.Context(), model, args[1], n, ifCur)
			if err != nil {
				return casHint(err, ifCur, "alias show "+model+" "+args[1])
			}
			a.infof("%s@%s → %s", model, al.Name, cairn.VersionRef(model, al.Version))
			return a.printAlias(al)
		},
	}
	c.Flags().StringVar(&cur, "if-current", "", "move only if the alias points at this version now (0 or none: only if it does not exist)")
	return c
}

// casHint explains a lost compare-and-swap.
func casHint(err error, ifCur *int64, show string) error {
	if ifCur != nil && cairn.IsCode(err, cairn.ECONFLICT) {
		return withHint(err, "someone moved it first; check with 'cairn %s' and retry", show)
	}
	return err
}

func (a *app) aliasDeleteCommand() *cobra.Command {
	var cur string
	c := &cobra.Command{
		Use:   "delete MODEL ALIAS",
		Short: "Delete an alias (its history is kept)",
		Long: `Delete an alias; its history is kept. With --if-current the delete is a
compare-and-swap: it happens only if the alias still points at that version,
and otherwise fails with exit code 4. Deleting an alias a policy protects
needs the same approvals as moving it: then the request is opened and the
command exits 6; the alias goes once the request is approved.`,
		Args: exactArgs("MODEL", "ALIAS"),
		RunE: func(c *cobra.Command, args []string) error {
			model, err := parseModelName(c, args[0])
			if err != nil {
				return err
			}
			ifCur, err := ifCurrent(c, cur)
			if err != nil {
				return err
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			if err := cl.DeleteAlias(c.Context(), model, args[1], ifCur); err != nil {
				return casHint(err, ifCur, "alias show "+model+" "+args[1])
			}
			a.infof("deleted alias %s@%s", model, args[1])
			return nil
		},
	}
	c.Flags().StringVar(&cur, "if-current", "", "delete only if the alias points at this version now")
	return c
}

func (a *app) aliasShowCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "show MODEL ALIAS",
		Short: "Show where an alias points, or with --at where it pointed then",
		Example: `  cairn alias show churn production
  cairn alias show churn production --at 2026-03-01T10:00:00Z`,
		Args: exactArgs("MODEL", "ALIAS"),
		RunE: func(c *cobra.Command, args []string) error {
			model, err := parseModelName(c, args[0])
			if err != nil {
				return err
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			at, err := atFlag(c)
			if err != nil {
				return err
			}
			var al *cairn.Alias
			if at.IsZero() {
				al, err = cl.GetAlias(c.Context(), model, args[1])
			} else {
				al, err = cl.GetAliasAt(c.Context(), model, args[1], at)
			}
			if err != nil {
				return err
			}
			return a.printAlias(al)
		},
	}
	addAtFlag(c)
	return c
}

func (a *app) printAlias(al *cairn.Alias) error {
	if a.json {
		return a.printJSON(al)
	}
	f := newFields(a.stdout())
	f.add("alias", al.Model+"@"+al.Name)
	f.add("version", cairn.VersionRef(al.Model, al.Version))
	f.add("updated", formatTime(al.UpdatedAt)+" by "+al.UpdatedBy)
	return f.flush()
}

func (a *app) aliasHistoryCommand() *cobra.Command {
	var l listFlags
	c := &cobra.Command{
		Use:   "history MODEL [ALIAS]",
		Short: "Show every move of an alias, or of all a model's aliases, newest first",
		Args:  rangeArgs(1, "MODEL", "[ALIAS]"),
		RunE: func(c *cobra.Command, args []string) error {
			model, err := parseModelName(c, args[0])
			if err != nil {
				return err
			}
			alias := ""
			if len(args) == 2 {
				alias = args[1]
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			items, next, err := collect(&l, func(tok string) ([]*cairn.AliasMove, string, error) {
				p, err := cl.AliasHistory(c.Context(), model, alias, l.pageSize, tok)
				if err != nil {
					return nil, "", err
				}
				return p.Items, p.NextToken, nil
			})
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(pageJSON[*cairn.AliasMove]{Items: nonNilSlice(items), NextToken: next})
			}
			header := []string{"FROM", "TO", "BY", "AT"}
			if alias == "" {
				header = append([]string{"ALIAS"}, header...)
			}
			// Imported moves say where they were first made.
			origins := false
			for _, m := range items {
				origins = origins || m.Origin != nil
			}
			if origins {
				header = append(header, "ORIGIN")
			}
			t := newTable(a.stdout(), header...)
			for _, m := range items {
				row := []any{versionOrNone(m.From), versionOrNone(m.To), m.Actor, formatTime(m.At)}
				if alias == "" {
					row = append([]any{m.Alias}, row...)
				}
				if origins {
					row = append(row, formatOrigin(m.Origin))
				}
				t.row(row...)
			}
			if err := t.flush(); err != nil {
				return err
			}
			a.moreHint(next)
			return nil
		},
	}
	c.Flags().IntVar(&l.pageSize, "page-size", 0, "moves per page (default the server's, 100)")
	c.Flags().StringVar(&l.pageTok, "page-token", "", "continue from a previous page's next_page_token")
	c.Flags().BoolVar(&l.all, "all", false, "follow next_page_token and list every move")
	return c
}

// formatOrigin prints an imported move's origin: "gto churn#prod#3 by
// Ada <ada@example.com> at 2025-03-01 09:04:00"; "-" for none.
func formatOrigin(o *cairn.MoveOrigin) string {
	if o == nil {
		return "-"
	}
	s := o.System
	if o.Ref != "" {
		s += " " + o.Ref
	}
	if o.Actor != "" {
		s += " by " + o.Actor
	}
	return s + " at " + formatTime(o.At)
}

// versionOrNone prints vN, or "-" for 0 (the alias did not exist).
func versionOrNone(n int64) string {
	if n == 0 {
		return "-"
	}
	return "v" + itoa(n)
}
