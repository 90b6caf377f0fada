package cli

import (
	"fmt"

	"github.com/cairn-registry/cairn/client"
	"github.com/spf13/cobra"
)

func (a *app) pullCommand() *cobra.Command {
	var out string
	var include []string
	var parallel int
	c := &cobra.Command{
		Use:   "pull REF",
		Short: "Download the files of a version",
		Long: `Download the files of the version a reference names into a directory (by
default one named after the model), verifying every file's digest, and write
the version record to ` + client.VersionFile + ` there. Files already present
with the right digest are not downloaded again, so an interrupted pull
resumes.

The directory is printed on stdout, with --json the version record.`,
		Example: `  cairn pull churn@champion -o ./serving/churn
  cairn pull llama@v2 --include '*.json' --include tokenizer`,
		Args: exactArgs("REF"),
		RunE: func(c *cobra.Command, args []string) error {
			ref, err := parseRef(c, args[0])
			if err != nil {
				return err
			}
			if parallel < 1 {
				return usageErr(c, "--parallel must be at least 1")
			}
			dir := out
			if dir == "" {
				dir = ref.Model
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			opts := client.PullOptions{Include: include, Parallel: parallel}
			var bar *progress
			if isTerminal(a.stderr()) {
				bar = newProgress(a.stderr(), "pulling "+ref.String())
				opts.Progress = func(done, total int64) {
					bar.setTotal(total)
					bar.set(done)
				}
			}
			v, err := cl.Pull(c.Context(), args[0], a.path(dir), opts)
			if bar != nil {
				bar.finish()
			}
			if err != nil {
				return err
			}
			a.infof("pulled %s into %s", v.Ref(), dir)
			if a.json {
				return a.printJSON(v)
			}
			_, err = fmt.Fprintln(a.stdout(), dir)
			return err
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "directory to write the files to (default ./MODEL)")
	c.Flags().StringArrayVar(&include, "include", nil, "only files matching this glob over their paths, or under a directory it matches (repeatable)")
	c.Flags().IntVar(&parallel, "parallel", client.DefaultParallel, "files downloaded at once")
	return c
}
