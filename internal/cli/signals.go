package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/spf13/cobra"
)

func (a *app) signalCommand() *cobra.Command {
	var (
		spec  cairn.SignalSpec
		value string
	)
	c := &cobra.Command{
		Use:   "signal REF --kind KIND --value NUMBER",
		Short: "Record a monitoring signal (drift, performance, error rate, …) against a version",
		Long: `Record a monitoring signal against the version REF names. A value above the
threshold policy sets for the kind on the model flags the version: it gets a
flag (cairn show prints it) and the registry emits version.flagged, which a
webhook can turn into a retraining trigger. The signal is printed with its
threshold and whether it flagged the version.`,
		Example: `  cairn signal churn@production --kind drift --value 0.31 --detail "PSI on tenure, 2026-11-26"
  cairn signal churn@v7 --kind error_rate --value 0.002 --json`,
		Args: exactArgs("REF"),
		RunE: func(c *cobra.Command, args []string) error {
			ref, err := parseRef(c, args[0])
			if err != nil {
				return err
			}
			if value == "" {
				return usageErr(c, "--value is required")
			}
			if spec.Value, err = strconv.ParseFloat(strings.TrimSpace(value), 64); err != nil {
				return usageErr(c, "--value %q is not a number", value)
			}
			if err := spec.Validate(); err != nil {
				return asUsage(c, err)
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			s, err := cl.RecordSignal(c.Context(), ref.String(), spec)
			if err != nil {
				return err
			}
			switch {
			case s.Flagged:
				a.infof("%s is flagged: %s %s is above the threshold %s", s.Ref(), s.Kind, formatFloat(s.Value), formatThreshold(s.Threshold))
			case s.Threshold == nil:
				a.infof("no policy threshold for %s on %s; recorded only", s.Kind, s.Model)
			}
			if a.json {
				return a.printJSON(s)
			}
			f := newFields(a.stdout())
			f.add("signal", itoa(s.ID))
			f.add("version", s.Ref())
			f.add("kind", s.Kind)
			f.add("value", formatFloat(s.Value))
			f.add("threshold", formatThreshold(s.Threshold))
			f.add("flagged", yesNo(s.Flagged))
			f.add("detail", s.Detail)
			f.add("recorded", formatTime(s.CreatedAt)+" by "+s.CreatedBy)
			return f.flush()
		},
	}
	f := c.Flags()
	f.StringVar(&spec.Kind, "kind", "", "what was measured: drift, performance, error_rate, … (required)")
	f.StringVar(&value, "value", "", "the measured value, a number (required)")
	f.StringVar(&spec.Detail, "detail", "", "free text: what, where, over which window")
	return c
}

func (a *app) signalsCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "signals",
		Short: "List the monitoring signals of a version",
		Args:  noSubcommand,
		RunE:  showHelp,
	}
	var (
		kind     string
		pageSize int
		pageTok  string
		all      bool
	)
	list := &cobra.Command{
		Use:   "list REF",
		Short: "List the signals recorded against a version, newest first",
		Example: `  cairn signals list churn@production
  cairn signals list churn@v7 --kind drift --json`,
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
			l := listFlags{pageSize: pageSize, pageTok: pageTok, all: all}
			items, next, err := collect(&l, func(tok string) ([]*cairn.Signal, string, error) {
				p, err := cl.ListSignals(c.Context(), ref.String(), kind, pageSize, tok)
				if err != nil {
					return nil, "", err
				}
				return p.Items, p.NextToken, nil
			})
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(pageJSON[*cairn.Signal]{Items: nonNilSlice(items), NextToken: next})
			}
			t := newTable(a.stdout(), "ID", "VERSION", "KIND", "VALUE", "THRESHOLD", "FLAGGED", "TIME", "BY", "DETAIL")
			for _, s := range items {
				t.row(s.ID, s.Ref(), s.Kind, formatFloat(s.Value), formatThreshold(s.Threshold), yesNo(s.Flagged),
					formatTime(s.CreatedAt), s.CreatedBy, oneLine(s.Detail, 60))
			}
			if err := t.flush(); err != nil {
				return err
			}
			a.moreHint(next)
			return nil
		},
	}
	f := list.Flags()
	f.StringVar(&kind, "kind", "", "only signals of this kind")
	f.IntVar(&pageSize, "page-size", 0, "items per page (default the server's, 100)")
	f.StringVar(&pageTok, "page-token", "", "continue a list from a previous page's next_page_token")
	f.BoolVar(&all, "all", false, "follow next_page_token and list every page")
	c.AddCommand(list)
	return c
}

func (a *app) evaluationsCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "evaluations",
		Short: "List the evaluations registered for a version",
		Args:  noSubcommand,
		RunE:  showHelp,
	}
	c.AddCommand(&cobra.Command{
		Use:   "list REF",
		Short: "List the evaluation versions that evaluate a version (pushed with --evaluates)",
		Example: `  cairn evaluations list churn@v7
  cairn evaluations list churn@production --json`,
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
			evals, err := cl.Evaluations(c.Context(), ref.String())
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(struct {
					Items []*cairn.Version `json:"items"`
				}{nonNilSlice(evals)})
			}
			t := newTable(a.stdout(), "EVALUATION", "CREATED", "BY", "METRICS", "TAGS")
			for _, e := range evals {
				t.row(e.Ref(), formatTime(e.CreatedAt), e.CreatedBy, formatMetrics(e.Metrics), formatStrings(e.Tags))
			}
			return t.flush()
		},
	})
	return c
}

func (a *app) versionsUnflagCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "unflag REF",
		Short: "Clear the flag a monitoring signal set on a version",
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
			v, err := cl.UnflagVersion(c.Context(), ref.String())
			if err != nil {
				return err
			}
			a.infof("%s is not flagged", v.Ref())
			if a.json {
				return a.printJSON(v)
			}
			_, err = fmt.Fprintln(a.stdout(), v.Ref())
			return err
		},
	}
}

// formatThreshold prints a signal's threshold, "-" when policy set none.
func formatThreshold(t *float64) string {
	if t == nil {
		return "-"
	}
	return formatFloat(*t)
}

// oneLine shortens free text to one line of at most n characters.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
