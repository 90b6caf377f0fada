package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/spf13/cobra"
)

func (a *app) showCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "show REF",
		Short: "Show a version: its files, metadata, aliases and status",
		Long: `Show the whole record of the version a reference names: NAME (the latest
ready version), NAME@v3 or NAME@alias.

With --at, resolve the reference as of a past time: an alias to the version
its history says it pointed at then (not found if it had not been set yet or
had been deleted by then), NAME@v3 only if the version existed then. The
record shown is the version as it is now.`,
		Example: `  cairn show churn@champion
  cairn show churn@v3 --json
  cairn show churn@production --at 2026-03-01T10:00:00Z`,
		Args: exactArgs("REF"),
		RunE: a.runShowVersion,
	}
	addAtFlag(c)
	return c
}

// addAtFlag adds --at, the time a reference is resolved as of.
func addAtFlag(c *cobra.Command) {
	c.Flags().String("at", "", "resolve as of this time (RFC 3339), from the alias history")
}

// atFlag returns --at as a time; the zero time if it is not set.
func atFlag(c *cobra.Command) (time.Time, error) {
	s, _ := c.Flags().GetString("at")
	return parseTimeFlag(c, "at", s)
}

// runShowVersion is `cairn show REF` and `cairn versions show REF`.
func (a *app) runShowVersion(c *cobra.Command, args []string) error {
	ref, err := parseRef(c, args[0])
	if err != nil {
		return err
	}
	at, err := atFlag(c)
	if err != nil {
		return err
	}
	if !at.IsZero() && ref.Kind == cairn.RefLatest {
		return usageErr(c, "--at needs an alias or a version (NAME@alias, NAME@v3): which version was the latest when is not recorded")
	}
	cl, err := a.client(c)
	if err != nil {
		return err
	}
	var v *cairn.Version
	if at.IsZero() {
		v, err = cl.Resolve(c.Context(), ref.String())
	} else {
		v, err = cl.ResolveAt(c.Context(), ref.String(), at)
	}
	if err != nil {
		return err
	}
	if err := a.printVersion(v); err != nil || a.json {
		return err
	}
	return a.printEvidence(c, cl, v)
}

// showSignals is how many of the latest signals cairn show prints.
const showSignals = 10

// printEvidence prints, after a version's record, the evaluations that
// evaluate it and its latest monitoring signals (for people only: --json
// prints the version record as the API returns it; the evaluations and
// signals have their own routes and commands).
func (a *app) printEvidence(c *cobra.Command, cl *client.Client, v *cairn.Version) error {
	ref := v.Ref()
	evals, err := cl.Evaluations(c.Context(), ref)
	if err != nil {
		return err
	}
	if len(evals) > 0 {
		fmt.Fprintln(a.stdout())
		t := newTable(a.stdout(), "EVALUATION", "CREATED", "METRICS")
		for _, e := range evals {
			t.row(e.Ref(), formatTime(e.CreatedAt), formatMetrics(e.Metrics))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	sigs, err := cl.ListSignals(c.Context(), ref, "", showSignals, "")
	if err != nil {
		return err
	}
	if len(sigs.Items) > 0 {
		fmt.Fprintln(a.stdout())
		t := newTable(a.stdout(), "SIGNAL", "KIND", "VALUE", "THRESHOLD", "FLAGGED", "TIME", "DETAIL")
		for _, s := range sigs.Items {
			t.row(s.ID, s.Kind, formatFloat(s.Value), formatThreshold(s.Threshold), yesNo(s.Flagged), formatTime(s.CreatedAt), oneLine(s.Detail, 60))
		}
		if err := t.flush(); err != nil {
			return err
		}
		if sigs.NextToken != "" {
			a.infof("showing the latest %d signals; all of them: cairn signals list %s", showSignals, ref)
		}
	}
	return nil
}

// printVersion prints a version record: JSON as the API returns it, or
// for people every field that is set.
func (a *app) printVersion(v *cairn.Version) error {
	if a.json {
		return a.printJSON(v)
	}
	f := newFields(a.stdout())
	f.add("version", v.Ref())
	f.add("kind", string(v.Kind))
	status := string(v.Status)
	if v.StatusMessage != "" {
		status += " (" + v.StatusMessage + ")"
	}
	f.add("status", status)
	if v.Archived {
		f.add("archived", "yes")
	}
	if v.DeletedAt != nil {
		f.add("deleted", formatTime(*v.DeletedAt))
	}
	if v.Stage != "" && v.Stage != cairn.StageNone {
		f.add("stage", string(v.Stage))
	}
	f.add("aliases", strings.Join(v.Aliases, ", "))
	f.add("digest", string(v.Digest))
	f.add("size", fmt.Sprintf("%s in %d file%s", formatBytes(v.Size), len(v.Files), plural(len(v.Files))))
	by := v.CreatedBy
	if by != "" && !v.CreatedByVerified {
		by += " (unverified)"
	}
	f.add("created", strings.TrimSpace(formatTime(v.CreatedAt)+" by "+by))
	if !v.UpdatedAt.Equal(v.CreatedAt) {
		f.add("updated", formatTime(v.UpdatedAt))
	}
	f.add("run", v.RunID)
	f.add("source", v.Source)
	f.add("code version", v.SourceCodeVersion)
	f.add("framework", v.Framework)
	f.add("trained by", v.TrainedBy)
	f.add("training data", v.TrainingDataset)
	f.add("validation data", v.ValidationDataset)
	f.add("derived from", strings.Join(v.DerivedFrom, ", "))
	f.add("inputs", strings.Join(v.Inputs, ", "))
	f.add("evaluates", strings.Join(v.Evaluates, ", "))
	f.add("retrained from", v.RetrainedFrom)
	if v.Flag != nil {
		f.add("flagged", fmt.Sprintf("%s %s > %s (signal %d) %s by %s", v.Flag.Kind, formatFloat(v.Flag.Value),
			formatFloat(v.Flag.Threshold), v.Flag.Signal, formatTime(v.Flag.FlaggedAt), v.Flag.FlaggedBy))
	}
	f.add("dependencies", v.Dependencies)
	f.add("metrics", formatMetrics(v.Metrics))
	f.add("params", formatStrings(v.Params))
	f.add("tags", formatStrings(v.Tags))
	if len(v.Signature) > 0 {
		f.add("signature", compactJSON(v.Signature))
	}
	if err := f.flush(); err != nil {
		return err
	}
	if len(v.Files) > 0 {
		fmt.Fprintln(a.stdout())
		t := newTable(a.stdout(), "FILE", "SIZE", "DIGEST")
		for _, file := range v.Files {
			t.row(file.Path, formatBytes(file.Size), shortDigest(file.Digest))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	return a.printDescription(v.Description)
}

// shortDigest abbreviates a digest for tables: sha256: and 12 hex digits.
func shortDigest(d cairn.Digest) string {
	s := string(d)
	if len(s) > len("sha256:")+12 {
		return s[:len("sha256:")+12]
	}
	return s
}
