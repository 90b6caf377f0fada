package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-registry/cairn/client"
)

func (a *app) gcCommand() *cobra.Command {
	var (
		grace time.Duration
		del   bool
	)
	c := &cobra.Command{
		Use:   "gc",
		Short: "Find blobs nothing refers to, and delete them with --delete",
		Long: `Garbage-collect blobs: find the blobs that no version (ready, pending,
failed or deleted) and no upload session refers to and that are older than
the grace period, and report them. Nothing is deleted unless --delete is
given.

It is safe while pushes run, and on several replicas at once: one
collection runs at a time (the others are refused with exit code 4), and a
push that registers a version using a blob being collected either keeps
the blob or is told to upload it again.`,
		Example: `  cairn gc                       # report what would be freed
  cairn gc --delete              # delete unreferenced blobs older than 24h
  cairn gc --delete --grace 72h`,
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if grace < 0 {
				return usageErr(c, "--grace must not be negative")
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			rep, err := cl.GC(c.Context(), client.GCOptions{Delete: del, Grace: grace})
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(rep)
			}
			f := newFields(a.stdout())
			if rep.DryRun {
				f.add("mode", "dry run (nothing deleted)")
			} else {
				f.add("mode", "delete")
			}
			f.add("scanned", fmt.Sprintf("%d blobs", rep.Scanned))
			f.add("referenced", fmt.Sprint(rep.Referenced))
			f.add("young", fmt.Sprintf("%d (unreferenced, younger than %s: kept)", rep.Young, rep.Grace))
			f.add("unreferenced", fmt.Sprintf("%d (%s)", rep.Candidates, formatBytes(rep.BytesFreeable)))
			if !rep.DryRun {
				f.add("deleted", fmt.Sprintf("%d (%s freed)", rep.Deleted, formatBytes(rep.BytesFreed)))
				if rep.Rescued > 0 {
					f.add("rescued", fmt.Sprintf("%d (a push started using them: kept)", rep.Rescued))
				}
			}
			if err := f.flush(); err != nil {
				return err
			}
			if len(rep.Digests) > 0 {
				fmt.Fprintln(a.stdout())
				t := newTable(a.stdout(), "DIGEST")
				for _, d := range rep.Digests {
					t.row(d)
				}
				if rep.Truncated {
					t.row("…")
				}
				if err := t.flush(); err != nil {
					return err
				}
			}
			if rep.DryRun && rep.Candidates > 0 {
				again := "cairn gc --delete"
				if c.Flags().Changed("grace") {
					again += " --grace " + grace.String()
				}
				a.infof("dry run: run '%s' to free %s", again, formatBytes(rep.BytesFreeable))
			}
			return nil
		},
	}
	c.Flags().DurationVar(&grace, "grace", 0, "keep unreferenced blobs younger than this (default the server's, 24h)")
	c.Flags().BoolVar(&del, "delete", false, "delete the blobs found (default: a dry run that only reports them)")
	return c
}
