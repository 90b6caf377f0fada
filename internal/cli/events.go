package cli

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/spf13/cobra"
)

func (a *app) eventsCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "events",
		Short: "Read the event feed (model.created, version.ready, alias.set, …)",
		Args:  noSubcommand,
		RunE:  showHelp,
	}
	c.AddCommand(a.eventsListCommand(), a.eventsTailCommand())
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

// tailWait is how long each read of `events tail` waits for new events.
const tailWait = 30 * time.Second

func (a *app) eventsTailCommand() *cobra.Command {
	var q client.EventQuery
	var maxEvents int
	c := &cobra.Command{
		Use:   "tail",
		Short: "Follow the event feed: print events as they commit, until interrupted",
		Long: `Follow the event feed from a sequence number (--after N; default 0, the
first event), printing each event as it commits, one line each (with
--json, one JSON object per line), until interrupted or --max events have
been printed. --type (globs such as alias.*, repeatable), --model (a
model-name glob) and --alias (an alias name) filter on the server. To resume
after a stop, pass the last sequence number printed as --after.`,
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if q.After < 0 || maxEvents < 0 {
				return usageErr(c, "--after and --max must not be negative")
			}
			if err := q.EventFilter.Validate(); err != nil {
				return asUsage(c, err)
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			ctx := c.Context()
			q.Wait = tailWait
			printed := 0
			for {
				page, err := cl.FilterEvents(ctx, q)
				if err != nil {
					if ctx.Err() != nil {
						return nil // interrupted: the normal way out
					}
					return err
				}
				for _, e := range page.Items {
					if err := a.printEventLine(e); err != nil {
						return err
					}
					if printed++; maxEvents > 0 && printed == maxEvents {
						return nil
					}
				}
				q.After = page.NextAfter
			}
		},
	}
	c.Flags().Int64Var(&q.After, "after", 0, "start after this sequence number")
	c.Flags().StringArrayVar(&q.Types, "type", nil, "only events whose type matches this glob, such as alias.* (repeatable)")
	c.Flags().StringVar(&q.Model, "model", "", "only events about models whose name matches this glob")
	c.Flags().StringVar(&q.Alias, "alias", "", "only events about this alias")
	c.Flags().IntVar(&maxEvents, "max", 0, "stop after printing this many events (default: follow until interrupted)")
	return c
}

// printEventLine prints one event as it arrives: a line of fields, or
// with --json a line of JSON.
func (a *app) printEventLine(e *cairn.Event) error {
	if a.json {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout(), "%s\n", b)
		return err
	}
	_, err := fmt.Fprintf(a.stdout(), "%d\t%s\t%s\t%s\t%s\t%s\n", e.Seq, formatTime(e.Time), e.Type, cell(e.Actor), cell(e.Model), cell(e.Alias))
	return err
}
