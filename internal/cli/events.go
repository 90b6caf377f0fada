package cli

import (
	"time"

	"github.com/spf13/cobra"
)

func (a *app) eventsCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "events",
		Short: "Read the event feed (model.created, version.ready, alias.set, …)",
		Args:  noSubcommand,
		RunE:  showHelp,
	}
	c.AddCommand(a.eventsListCommand())
	return c
}

func (a *app) eventsListCommand() *cobra.Command {
	var after int64
	var limit int
	var wait time.Duration
	c := &cobra.Command{
		Use:   "list",
		Short: "List events after a sequence number, in commit order",
		Long: `List events after a sequence number, in commit order. Sequence numbers are
gap-free, so reading on from the last one seen (--after N) never misses an
event. With --wait the server holds the request until an event arrives.`,
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if after < 0 || limit < 0 || wait < 0 {
				return usageErr(c, "--after, --limit and --wait must not be negative")
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			page, err := cl.ListEvents(c.Context(), after, limit, wait)
			if err != nil {
				return err
			}
			if a.json {
				page.Items = nonNilSlice(page.Items)
				return a.printJSON(page)
			}
			t := newTable(a.stdout(), "SEQ", "TIME", "TYPE", "ACTOR", "MODEL", "ALIAS")
			for _, e := range page.Items {
				t.row(e.Seq, formatTime(e.Time), e.Type, e.Actor, e.Model, e.Alias)
			}
			return t.flush()
		},
	}
	c.Flags().Int64Var(&after, "after", 0, "only events with a sequence number above this")
	c.Flags().IntVar(&limit, "limit", 0, "at most this many events (default the server's)")
	c.Flags().DurationVar(&wait, "wait", 0, "long-poll: wait up to this long (such as 30s) for an event")
	return c
}
