package cli

import (
	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/spf13/cobra"
)

func (a *app) runsCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "runs",
		Aliases: []string{"run"},
		Short:   "List, show and create experiment runs",
		Long: `Experiment runs link the data a training job consumed to the versions it
produced. Push a version with --run-id ID to record that the run made it.`,
		Args: noSubcommand,
		RunE: showHelp,
	}
	c.AddCommand(a.runsListCommand(), a.runsShowCommand(), a.runsCreateCommand())
	return c
}

func (a *app) runsListCommand() *cobra.Command {
	var l listFlags
	var experiment string
	c := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			items, next, err := collect(&l, func(tok string) ([]*cairn.Run, string, error) {
				p, err := cl.ListRuns(c.Context(), experiment, l.pageSize, tok)
				if err != nil {
					return nil, "", err
				}
				return p.Items, p.NextToken, nil
			})
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(pageJSON[*cairn.Run]{Items: nonNilSlice(items), NextToken: next})
			}
			t := newTable(a.stdout(), "ID", "NAME", "EXPERIMENT", "STATUS", "STARTED", "BY")
			for _, r := range items {
				t.row(r.ID, r.Name, r.ExperimentID, r.Status, formatTime(r.StartTime), r.CreatedBy)
			}
			if err := t.flush(); err != nil {
				return err
			}
			a.moreHint(next)
			return nil
		},
	}
	c.Flags().StringVar(&experiment, "experiment", "", "only runs of this experiment id")
	c.Flags().IntVar(&l.pageSize, "page-size", 0, "runs per page (default the server's, 100)")
	c.Flags().StringVar(&l.pageTok, "page-token", "", "continue from a previous page's next_page_token")
	c.Flags().BoolVar(&l.all, "all", false, "follow next_page_token and list every run")
	return c
}

func (a *app) runsShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a run",
		Args:  exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			r, err := cl.GetRun(c.Context(), args[0])
			if err != nil {
				return err
			}
			return a.printRun(r)
		},
	}
}

func (a *app) printRun(r *cairn.Run) error {
	if a.json {
		return a.printJSON(r)
	}
	f := newFields(a.stdout())
	f.add("id", r.ID)
	f.add("name", r.Name)
	f.add("experiment", r.ExperimentID)
	f.add("status", string(r.Status))
	f.add("started", formatTime(r.StartTime))
	if r.EndTime != nil {
		f.add("ended", formatTime(*r.EndTime))
	}
	f.add("created by", r.CreatedBy)
	f.add("metrics", formatMetrics(r.Metrics))
	f.add("params", formatStrings(r.Params))
	f.add("tags", formatStrings(r.Tags))
	f.add("artifacts", r.ArtifactURI)
	return f.flush()
}

func (a *app) runsCreateCommand() *cobra.Command {
	var experiment, name string
	var tags []string
	c := &cobra.Command{
		Use:   "create",
		Short: "Start a run; prints its id",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			tagMap, err := parseKV(c, "tag", tags)
			if err != nil {
				return err
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			r, err := cl.CreateRun(c.Context(), registry.RunCreate{ExperimentID: experiment, Name: name, Tags: tagMap})
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(r)
			}
			a.infof("created run %s", r.ID)
			// The id alone, so that RUN=$(cairn runs create) works.
			_, err = a.stdout().Write([]byte(r.ID + "\n"))
			return err
		},
	}
	c.Flags().StringVar(&experiment, "experiment", "", "experiment id (default the default experiment, 0)")
	c.Flags().StringVar(&name, "name", "", "run name")
	c.Flags().StringArrayVar(&tags, "tag", nil, "tag KEY=VALUE (repeatable)")
	return c
}
