package cli

import (
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/spf13/cobra"
)

func (a *app) auditCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "audit",
		Short: "Read and verify the audit log: who changed what, when",
		Args:  noSubcommand,
		RunE:  showHelp,
	}
	c.AddCommand(a.auditListCommand(), a.auditVerifyCommand(), a.auditCheckpointsCommand(), a.auditKeygenCommand())
	return c
}

func (a *app) auditListCommand() *cobra.Command {
	var q cairn.AuditQuery
	var since, until string
	c := &cobra.Command{
		Use:   "list",
		Short: "List audit entries, oldest first",
		Example: `  cairn audit list --target churn
  cairn audit list --action alias.set --since 2026-01-01T00:00:00Z`,
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			var err error
			if q.Since, err = parseTimeFlag(c, "since", since); err != nil {
				return err
			}
			if q.Until, err = parseTimeFlag(c, "until", until); err != nil {
				return err
			}
			if q.AfterSeq < 0 || q.Limit < 0 {
				return usageErr(c, "--after and --limit must not be negative")
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			page, err := cl.ListAudit(c.Context(), q)
			if err != nil {
				return err
			}
			if a.json {
				page.Items = nonNilSlice(page.Items)
				return a.printJSON(page)
			}
			t := newTable(a.stdout(), "SEQ", "TIME", "ACTOR", "ACTION", "TARGET")
			for _, e := range page.Items {
				actor := e.Actor
				if !e.ActorVerified {
					actor += " (unverified)"
				}
				t.row(e.Seq, formatTime(e.Time), actor, e.Action, e.Target)
			}
			if err := t.flush(); err != nil {
				return err
			}
			if q.Limit > 0 && len(page.Items) == q.Limit && page.NextAfter > 0 {
				a.infof("more entries: add --after %d", page.NextAfter)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&q.Target, "target", "", "only entries whose target starts with this (churn, churn@v3, churn@champion)")
	f.StringVar(&q.Actor, "actor", "", "only entries by this user")
	f.StringVar(&q.Action, "action", "", "only this action, such as alias.set or version.created")
	f.Int64Var(&q.AfterSeq, "after", 0, "only entries with a sequence number above this")
	f.IntVar(&q.Limit, "limit", 0, "at most this many entries (default the server's, 100)")
	f.StringVar(&since, "since", "", "only entries at or after this time (RFC 3339)")
	f.StringVar(&until, "until", "", "only entries before this time (RFC 3339)")
	return c
}

// parseTimeFlag parses an RFC 3339 time flag; "" is the zero time.
func parseTimeFlag(c *cobra.Command, name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usageErr(c, "--%s %q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", name, s)
	}
	return t, nil
}
