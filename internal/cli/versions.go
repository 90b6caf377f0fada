package cli

import (
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/spf13/cobra"
)

func (a *app) versionsCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "versions",
		Aliases: []string{"version"},
		Short:   "List and manage the versions of a model",
		Args:    noSubcommand,
		RunE:    showHelp,
	}
	show := &cobra.Command{
		Use:   "show REF",
		Short: "Show a version (same as 'cairn show')",
		Args:  exactArgs("REF"),
		RunE:  a.runShowVersion,
	}
	addAtFlag(show)
	c.AddCommand(
		a.versionsListCommand(),
		show,
		a.versionsUpdateCommand(),
		a.versionsArchiveCommand(),
		a.versionsRestoreCommand(),
		a.versionsDeleteCommand(),
		a.versionsUnflagCommand(),
	)
	return c
}

func (a *app) versionsListCommand() *cobra.Command {
	var l listFlags
	c := &cobra.Command{
		Use:   "list [MODEL]",
		Short: "List the versions of a model, newest first; without MODEL, search every model",
		Example: `  cairn versions list churn
  cairn versions list churn --filter "metrics.auc > 0.9 AND tags.stage = 'prod'" --order-by "metrics.auc DESC"
  cairn versions list --filter "framework = 'sklearn' AND metrics.auc > 0.9"`,
		Args: rangeArgs(0, "MODEL"),
		RunE: func(c *cobra.Command, args []string) error {
			model := ""
			if len(args) == 1 {
				var err error
				if model, err = parseModelName(c, args[0]); err != nil {
					return err
				}
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			req := l.request()
			items, next, err := collect(&l, func(tok string) ([]*cairn.Version, string, error) {
				req.PageToken = tok
				list := func() (*cairn.VersionPage, error) { return cl.SearchVersions(c.Context(), req) }
				if model != "" {
					list = func() (*cairn.VersionPage, error) { return cl.ListVersions(c.Context(), model, req) }
				}
				p, err := list()
				if err != nil {
					return nil, "", err
				}
				return p.Items, p.NextToken, nil
			})
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(pageJSON[*cairn.Version]{Items: nonNilSlice(items), NextToken: next})
			}
			t := newTable(a.stdout(), "VERSION", "STATUS", "ALIASES", "SIZE", "FILES", "METRICS", "CREATED", "BY")
			for _, v := range items {
				status := string(v.Status)
				if v.Archived {
					status += ", archived"
				}
				t.row(v.Ref(), status, strings.Join(v.Aliases, ","), formatBytes(v.Size), len(v.Files),
					formatMetrics(v.Metrics), formatTime(v.CreatedAt), v.CreatedBy)
			}
			if err := t.flush(); err != nil {
				return err
			}
			a.moreHint(next)
			return nil
		},
	}
	l.register(c, `filter expression, e.g. "metrics.auc > 0.9 AND params.lr = '0.1'"`)
	return c
}

func (a *app) versionsUpdateCommand() *cobra.Command {
	var descFile string
	var tags, delTags []string
	c := &cobra.Command{
		Use:   "update REF",
		Short: "Change a version's description and tags (everything else is fixed)",
		Args:  exactArgs("REF"),
		RunE: func(c *cobra.Command, args []string) error {
			ref, err := parseRef(c, args[0])
			if err != nil {
				return err
			}
			in, err := a.updateInput(c, descFile, tags, delTags)
			if err != nil {
				return err
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			model, n, err := versionOf(c.Context(), cl, ref)
			if err != nil {
				return err
			}
			v, err := cl.UpdateVersion(c.Context(), model, n, in)
			if err != nil {
				return err
			}
			a.infof("updated %s", v.Ref())
			return a.printVersion(v)
		},
	}
	registerUpdateFlags(c, &descFile, &tags, &delTags)
	return c
}

func (a *app) versionsArchiveCommand() *cobra.Command {
	var removeAliases bool
	c := &cobra.Command{
		Use:   "archive REF",
		Short: "Archive a version: it stays readable but is no longer latest",
		Long: `Archive a version: it stays readable by NAME@vN, but NAME@latest skips it and
no alias may point at it. Archiving a version an alias points at is refused
unless --remove-aliases is given, so a deployment never loses its target
silently.`,
		Args: exactArgs("REF"),
		RunE: func(c *cobra.Command, args []string) error {
			ref, err := parseRef(c, args[0])
			if err != nil {
				return err
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			model, n, err := versionOf(c.Context(), cl, ref)
			if err != nil {
				return err
			}
			v, err := cl.ArchiveVersion(c.Context(), model, n, removeAliases)
			if err != nil {
				return aliasHint(err, removeAliases)
			}
			a.infof("archived %s", v.Ref())
			return a.printVersion(v)
		},
	}
	c.Flags().BoolVar(&removeAliases, "remove-aliases", false, "also delete the aliases that point at the version")
	return c
}

// aliasHint adds the way out to a refusal caused by aliases.
func aliasHint(err error, removeAliases bool) error {
	if !removeAliases && cairn.IsCode(err, cairn.EFAILEDPRECONDITION) && strings.Contains(cairn.ErrorMessage(err), "alias") {
		return withHint(err, "move the aliases first with 'cairn alias set', or add --remove-aliases")
	}
	return err
}

func (a *app) versionsRestoreCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "restore REF",
		Short: "Restore an archived or deleted version",
		Args:  exactArgs("REF"),
		RunE: func(c *cobra.Command, args []string) error {
			ref, err := parseRef(c, args[0])
			if err != nil {
				return err
			}
			if ref.Kind != cairn.RefVersion {
				// latest skips archived versions and aliases cannot point
				// at them: only NAME@vN can name what is to be restored.
				return usageErr(c, "restore takes a version reference such as %s@v3", ref.Model)
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			v, err := cl.GetVersion(c.Context(), ref.Model, ref.Version)
			switch {
			case cairn.IsCode(err, cairn.ENOTFOUND):
				// Deleted versions read as not found; try the tombstone.
				v, err = cl.UndeleteVersion(c.Context(), ref.Model, ref.Version)
			case err == nil && v.Archived:
				v, err = cl.RestoreVersion(c.Context(), ref.Model, ref.Version)
			}
			if err != nil {
				return err
			}
			a.infof("restored %s", v.Ref())
			return a.printVersion(v)
		},
	}
}

func (a *app) versionsDeleteCommand() *cobra.Command {
	var removeAliases bool
	c := &cobra.Command{
		Use:   "delete REF",
		Short: "Delete a version (a tombstone: 'cairn versions restore' brings it back)",
		Args:  exactArgs("REF"),
		RunE: func(c *cobra.Command, args []string) error {
			ref, err := parseRef(c, args[0])
			if err != nil {
				return err
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			model, n, err := versionOf(c.Context(), cl, ref)
			if err != nil {
				return err
			}
			if err := cl.DeleteVersion(c.Context(), model, n, removeAliases); err != nil {
				return aliasHint(err, removeAliases)
			}
			r := cairn.VersionRef(model, n)
			a.infof("deleted %s; 'cairn versions restore %s' brings it back", r, r)
			return nil
		},
	}
	c.Flags().BoolVar(&removeAliases, "remove-aliases", false, "also delete the aliases that point at the version")
	return c
}
