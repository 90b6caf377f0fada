package cli

import (
	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/mlflowimport"
	"github.com/spf13/cobra"
)

func (a *app) importMLflowCommand() *cobra.Command {
	var opts mlflowimport.Options
	c := &cobra.Command{
		Use:   "mlflow --from URL",
		Short: "Copy an MLflow server's model registry into the Cairn server",
		Long: `Copy the model registry of a running MLflow tracking server into the Cairn
server (--url): registered models with their descriptions and tags, every
version with its description, tags, run id, run link, stage and files, and
the aliases. Version numbers are kept: MLflow's version N is Cairn's
version N (numbers MLflow deleted are held by deleted placeholders).

Files are copied through MLflow's artifact proxy (the mlflow-artifacts:/
locations 'mlflow server' hands out), following runs:/ and models:/m-…
sources; a version whose files MLflow only points at (s3://, file://, …)
is imported as an external reference without files, and listed as such.

Running the command again changes nothing that is already imported, and
finishes an import that was cut off. Descriptions, tags, stages and aliases
that changed in MLflow since are updated; nothing is deleted in Cairn.
MLflow credentials come from MLFLOW_TRACKING_USERNAME and
MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN.`,
		Example: `  cairn import mlflow --from http://mlflow:5000
  cairn import mlflow --from http://mlflow:5000 --model churn --model fraud --json`,
		Args: exactArgs(),
		RunE: func(c *cobra.Command, args []string) error {
			if opts.From == "" {
				return usageErr(c, "say which MLflow server to import from: --from http://HOST:PORT")
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			opts.Username = a.getenv("MLFLOW_TRACKING_USERNAME")
			opts.Password = a.getenv("MLFLOW_TRACKING_PASSWORD")
			opts.Token = a.getenv("MLFLOW_TRACKING_TOKEN")
			opts.Log = func(format string, args ...any) { a.infof(format, args...) }
			a.infof("importing from MLflow at %s into %s", opts.From, cl.BaseURL())
			rep, err := mlflowimport.Run(c.Context(), cl, opts)
			if rep != nil {
				if perr := a.printMLflowReport(rep); perr != nil && err == nil {
					err = perr
				}
			}
			if err != nil {
				if cairn.IsCode(err, cairn.EINVALID) {
					return err
				}
				return withHint(err, "run the same command again: what is imported is kept, and the rest is imported")
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&opts.From, "from", "", "the MLflow tracking server, http(s)://HOST:PORT")
	f.StringArrayVar(&opts.Models, "model", nil, "import only this registered model (repeatable)")
	f.IntVar(&opts.Push.Parallel, "parallel", 4, "files hashed and uploaded at once per version")
	return c
}

func (a *app) printMLflowReport(rep *mlflowimport.Report) error {
	if a.json {
		return a.printJSON(rep)
	}
	t := newTable(a.stdout(), "MLFLOW", "READ", "IMPORTED NOW")
	t.row("models", rep.Models, rep.ModelsCreated)
	t.row("versions", rep.Versions, rep.VersionsCreated+rep.VersionsResumed)
	t.row("files", rep.Files, formatBytes(rep.Bytes))
	if err := t.flush(); err != nil {
		return err
	}
	a.infof("%d deleted placeholder(s), %d update(s) of descriptions, tags, stages and aliases, %s uploaded, in %s",
		rep.Placeholders, rep.Updates, formatBytes(rep.BytesUploaded), rep.Elapsed.Round(1e6))
	for _, e := range rep.External {
		a.infof("external: %s -> %s (%s)", e.Ref, e.Source, e.Reason)
	}
	for _, w := range rep.Warnings {
		a.infof("warning: %s", w)
	}
	for _, f := range rep.Failed {
		a.infof("failed: %s", f)
	}
	return nil
}
