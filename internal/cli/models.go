package cli

import (
	"context"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/spf13/cobra"
)

func (a *app) modelsCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "models",
		Aliases: []string{"model"},
		Short:   "List, create and manage models",
		Args:    noSubcommand,
		RunE:    showHelp,
	}
	c.AddCommand(
		a.modelsListCommand(),
		a.modelsShowCommand(),
		a.modelsCreateCommand(),
		a.modelsUpdateCommand(),
		a.modelsRenameCommand(),
		a.modelActionCommand("archive", "Archive a model: it stays readable, new versions are refused", (*client.Client).ArchiveModel, "archived"),
		a.modelActionCommand("restore", "Restore an archived or deleted model", a.restoreModel, "restored"),
		a.modelsDeleteCommand(),
	)
	return c
}

// listFlags are the flags every list command shares.
type listFlags struct {
	filter   string
	orderBy  []string
	pageSize int
	pageTok  string
	all      bool
}

func (l *listFlags) register(c *cobra.Command, filterHelp string) {
	f := c.Flags()
	f.StringVar(&l.filter, "filter", "", filterHelp)
	f.StringArrayVar(&l.orderBy, "order-by", nil, `sort key, "field", "field ASC" or "field DESC" (repeatable)`)
	f.IntVar(&l.pageSize, "page-size", 0, "items per page (default the server's, 100)")
	f.StringVar(&l.pageTok, "page-token", "", "continue a list from a previous page's next_page_token")
	f.BoolVar(&l.all, "all", false, "follow next_page_token and list every page")
}

func (l *listFlags) request() client.ListRequest {
	return client.ListRequest{Filter: l.filter, OrderBy: l.orderBy, PageSize: l.pageSize, PageToken: l.pageTok}
}

// collect calls fetch for one page, or with --all for every page, and
// returns the items and the token of the page after the last one fetched.
func collect[T any](l *listFlags, fetch func(token string) ([]T, string, error)) ([]T, string, error) {
	var all []T
	token := l.pageTok
	for {
		items, next, err := fetch(token)
		if err != nil {
			return nil, "", err
		}
		all = append(all, items...)
		if !l.all || next == "" {
			return all, next, nil
		}
		token = next
	}
}

// pageJSON is the shape of a list under --json: the API's page shape, with
// every item when --all followed the pages.
type pageJSON[T any] struct {
	Items     []T    `json:"items"`
	NextToken string `json:"next_page_token"`
}

func (a *app) modelsListCommand() *cobra.Command {
	var l listFlags
	c := &cobra.Command{
		Use:   "list",
		Short: "List models",
		Example: `  cairn models list
  cairn models list --filter "name LIKE 'churn%' AND tags.team = 'fraud'" --order-by "updated_at DESC"`,
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			req := l.request()
			items, next, err := collect(&l, func(tok string) ([]*cairn.Model, string, error) {
				req.PageToken = tok
				p, err := cl.ListModels(c.Context(), req)
				if err != nil {
					return nil, "", err
				}
				return p.Items, p.NextToken, nil
			})
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(pageJSON[*cairn.Model]{Items: nonNilSlice(items), NextToken: next})
			}
			t := newTable(a.stdout(), "NAME", "KIND", "LATEST", "ALIASES", "ARCHIVED", "UPDATED")
			for _, m := range items {
				latest := ""
				if m.LatestVersion > 0 {
					latest = "v" + itoa(m.LatestVersion)
				}
				t.row(m.Name, m.Kind, latest, formatAliases(m.Aliases), yesNo(m.Archived), formatTime(m.UpdatedAt))
			}
			if err := t.flush(); err != nil {
				return err
			}
			a.moreHint(next)
			return nil
		},
	}
	l.register(c, `filter expression, e.g. "name LIKE 'churn%' AND tags.team = 'fraud'"`)
	return c
}

// moreHint tells people on stderr that a list has more pages.
func (a *app) moreHint(next string) {
	if next != "" {
		a.infof("more results: add --all, or --page-token %s", next)
	}
}

func (a *app) modelsShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a model",
		Args:  exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			name, err := parseModelName(c, args[0])
			if err != nil {
				return err
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			m, err := cl.GetModel(c.Context(), name)
			if err != nil {
				return err
			}
			return a.printModel(m)
		},
	}
}

func (a *app) printModel(m *cairn.Model) error {
	if a.json {
		return a.printJSON(m)
	}
	f := newFields(a.stdout())
	f.add("name", m.Name)
	f.add("kind", string(m.Kind))
	if m.LatestVersion > 0 {
		f.add("latest version", "v"+itoa(m.LatestVersion))
	}
	f.add("aliases", formatAliases(m.Aliases))
	f.add("tags", formatStrings(m.Tags))
	f.add("archived", yesNo(m.Archived))
	f.add("created", formatTime(m.CreatedAt)+" by "+m.CreatedBy)
	f.add("updated", formatTime(m.UpdatedAt))
	if m.DeletedAt != nil {
		f.add("deleted", formatTime(*m.DeletedAt))
	}
	if err := f.flush(); err != nil {
		return err
	}
	return a.printDescription(m.Description)
}

func (a *app) modelsCreateCommand() *cobra.Command {
	var kind, descFile string
	var tags []string
	c := &cobra.Command{
		Use:   "create NAME",
		Short: "Register a model before its first push",
		Long: `Register a model before its first push. Pushing to a model that does not
exist creates it too; create it first to set its kind, description and tags.`,
		Args: exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			name, err := parseModelName(c, args[0])
			if err != nil {
				return err
			}
			k, err := cairn.ParseKind(kind)
			if err != nil {
				return asUsage(c, err)
			}
			tagMap, err := parseKV(c, "tag", tags)
			if err != nil {
				return err
			}
			desc, err := a.readDescription(c, descFile)
			if err != nil {
				return err
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			in := registry.ModelCreate{Name: name, Kind: k, Tags: tagMap}
			if desc != nil {
				in.Description = *desc
			}
			m, err := cl.CreateModel(c.Context(), in)
			if err != nil {
				return err
			}
			a.infof("created model %s", m.Name)
			return a.printModel(m)
		},
	}
	c.Flags().StringVar(&kind, "kind", "model", "what the model holds: model, dataset, prompt, evaluation or other")
	c.Flags().StringVar(&descFile, "description-file", "", "Markdown description, read from this file (- for stdin)")
	c.Flags().StringArrayVar(&tags, "tag", nil, "tag KEY=VALUE (repeatable)")
	return c
}

func (a *app) modelsUpdateCommand() *cobra.Command {
	var descFile string
	var tags, delTags []string
	c := &cobra.Command{
		Use:   "update NAME",
		Short: "Change a model's description and tags",
		Args:  exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			name, err := parseModelName(c, args[0])
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
			m, err := cl.UpdateModel(c.Context(), name, registry.ModelUpdate{Description: in.Description, SetTags: in.SetTags, DeleteTags: in.DeleteTags})
			if err != nil {
				return err
			}
			a.infof("updated model %s", m.Name)
			return a.printModel(m)
		},
	}
	registerUpdateFlags(c, &descFile, &tags, &delTags)
	return c
}

// registerUpdateFlags declares the flags of models update and versions
// update.
func registerUpdateFlags(c *cobra.Command, descFile *string, tags, delTags *[]string) {
	c.Flags().StringVar(descFile, "description-file", "", "replace the Markdown description with this file's content (- for stdin)")
	c.Flags().StringArrayVar(tags, "tag", nil, "set tag KEY=VALUE (repeatable)")
	c.Flags().StringArrayVar(delTags, "delete-tag", nil, "delete tag KEY (repeatable)")
}

// updateInput builds the description and tag change shared by models
// update and versions update. Asking for no change is a usage error.
func (a *app) updateInput(c *cobra.Command, descFile string, tags, delTags []string) (registry.VersionUpdate, error) {
	tagMap, err := parseKV(c, "tag", tags)
	if err != nil {
		return registry.VersionUpdate{}, err
	}
	for _, k := range delTags {
		if k == "" {
			return registry.VersionUpdate{}, usageErr(c, "--delete-tag needs a tag key")
		}
		if _, both := tagMap[k]; both {
			return registry.VersionUpdate{}, usageErr(c, "tag %q is both set and deleted", k)
		}
	}
	desc, err := a.readDescription(c, descFile)
	if err != nil {
		return registry.VersionUpdate{}, err
	}
	if desc == nil && len(tagMap) == 0 && len(delTags) == 0 {
		return registry.VersionUpdate{}, usageErr(c, "nothing to update: give --description-file, --tag or --delete-tag")
	}
	return registry.VersionUpdate{Description: desc, SetTags: tagMap, DeleteTags: delTags}, nil
}

func (a *app) modelsRenameCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rename OLD NEW",
		Short: "Rename a model, keeping its versions, aliases and history",
		Args:  exactArgs("OLD", "NEW"),
		RunE: func(c *cobra.Command, args []string) error {
			oldName, err := parseModelName(c, args[0])
			if err != nil {
				return err
			}
			newName, err := parseModelName(c, args[1])
			if err != nil {
				return err
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			m, err := cl.RenameModel(c.Context(), oldName, newName)
			if err != nil {
				return err
			}
			a.infof("renamed model %s to %s", oldName, m.Name)
			return a.printModel(m)
		},
	}
}

// modelAction is a client call that changes a model's lifecycle.
type modelAction func(cl *client.Client, ctx context.Context, name string) (*cairn.Model, error)

func (a *app) modelActionCommand(verb, short string, do modelAction, done string) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Args:  exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			name, err := parseModelName(c, args[0])
			if err != nil {
				return err
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			m, err := do(cl, c.Context(), name)
			if err != nil {
				return err
			}
			a.infof("%s model %s", done, m.Name)
			return a.printModel(m)
		},
	}
}

// restoreModel undoes an archive, or a delete: `models restore` is the one
// way back for both, as archive and delete are both reversible.
func (a *app) restoreModel(cl *client.Client, ctx context.Context, name string) (*cairn.Model, error) {
	m, err := cl.GetModel(ctx, name)
	if cairn.IsCode(err, cairn.ENOTFOUND) {
		// Deleted models read as not found; try the tombstone.
		return cl.UndeleteModel(ctx, name)
	}
	if err != nil {
		return nil, err
	}
	if !m.Archived {
		return m, nil
	}
	return cl.RestoreModel(ctx, name)
}

func (a *app) modelsDeleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a model (a tombstone: 'cairn models restore' brings it back)",
		Args:  exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			name, err := parseModelName(c, args[0])
			if err != nil {
				return err
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			if err := cl.DeleteModel(c.Context(), name); err != nil {
				return err
			}
			a.infof("deleted model %s; 'cairn models restore %s' brings it back", name, name)
			return nil
		},
	}
}
