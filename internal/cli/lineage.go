package cli

import (
	"github.com/cairn-registry/cairn"
	"github.com/spf13/cobra"
)

func (a *app) lineageCommand() *cobra.Command {
	var direction string
	var depth int
	c := &cobra.Command{
		Use:   "lineage REF",
		Short: "Show what a version came from (up) or what used it (down)",
		Long: `Show the lineage graph around a version or a run (run:ID): upstream, what it
was trained on, derived from or produced by; or downstream, what consumed or
was derived from it. Each line is one edge, FROM —TYPE→ TO.`,
		Example: `  cairn lineage churn@champion
  cairn lineage features@v3 --direction down --depth 5`,
		Args: exactArgs("REF"),
		RunE: func(c *cobra.Command, args []string) error {
			dir := cairn.Direction(direction)
			if dir != cairn.Upstream && dir != cairn.Downstream {
				return usageErr(c, "--direction must be up or down, not %q", direction)
			}
			if depth < 1 {
				return usageErr(c, "--depth must be at least 1")
			}
			ref := args[0]
			if _, err := cairn.ParseNode(ref); err != nil {
				if _, err := parseRef(c, ref); err != nil {
					return err
				}
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			g, err := cl.Lineage(c.Context(), ref, dir, depth)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(g)
			}
			if len(g.Edges) == 0 {
				a.infof("%s has no %sstream lineage", g.Root, direction)
				return nil
			}
			t := newTable(a.stdout(), "FROM", "TYPE", "TO", "BY", "AT")
			for _, e := range g.Edges {
				t.row(e.From, e.Type, e.To, e.CreatedBy, formatTime(e.CreatedAt))
			}
			return t.flush()
		},
	}
	c.Flags().StringVar(&direction, "direction", "up", "up (what it came from) or down (what used it)")
	c.Flags().IntVar(&depth, "depth", 3, "how many hops to follow")
	return c
}
