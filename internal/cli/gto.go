package cli

import (
	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/gto"
	"github.com/spf13/cobra"
)

func (a *app) importGTOCommand() *cobra.Command {
	var opts gto.ImportOptions
	c := &cobra.Command{
		Use:   "gto REPO",
		Short: "Read a GTO registry (git tags and artifacts.yaml) into the Cairn server",
		Long: `Read the registry GTO (iterative/gto) keeps in a git repository into the
Cairn server (--url): each artifact becomes a model (type, description,
path and labels from artifacts.yaml), each registration tag (churn@v1.2.0)
a version holding the files of the artifact's path at the tagged commit
(taken with git archive), each stage assignment (churn#prod#3) an alias,
a deregistration (churn@v1.2.0!) an archived version and a deprecation
(churn@deprecated) an archived model. The semantic version, commit and tag
are kept as the version's gto.version, gto.commit and gto.tag tags; the
commit is also its source_code_version.

Running it again imports only what changed: versions already imported
(matched by gto.version) are skipped, aliases move only if the stage did.
git must be on the PATH. See docs/migrate.md.`,
		Example: `  cairn import gto ./ml-repo
  cairn import gto ./ml-repo --source https://github.com/acme/ml-repo --json`,
		Args: exactArgs("REPO"),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			opts.Log = func(format string, args ...any) { a.infof(format, args...) }
			rep, err := gto.Import(c.Context(), &gto.Repo{Dir: a.path(args[0])}, cl, opts)
			if rep != nil {
				if perr := a.printGTOImport(rep); perr != nil && err == nil {
					err = perr
				}
			}
			if err != nil && !cairn.IsCode(err, cairn.EINVALID) {
				return withHint(err, "run the same command again: what is imported is kept, and the rest is imported")
			}
			return err
		},
	}
	c.Flags().StringVar(&opts.Source, "source", "", "how versions' source field names the repository (default git+file://REPO)")
	return c
}

func (a *app) printGTOImport(rep *gto.ImportReport) error {
	if a.json {
		return a.printJSON(rep)
	}
	f := newFields(a.stdout())
	f.add("artifacts", itoa(int64(rep.Artifacts)))
	f.add("models created", itoa(int64(rep.ModelsCreated)))
	f.add("models updated", itoa(int64(rep.ModelsUpdated)))
	f.add("versions created", itoa(int64(rep.VersionsCreated)))
	f.add("versions already there", itoa(int64(rep.VersionsSkipped)))
	f.add("versions archived", itoa(int64(rep.VersionsArchived)))
	f.add("aliases set", itoa(int64(rep.AliasesSet)))
	f.add("aliases deleted", itoa(int64(rep.AliasesDeleted)))
	f.add("models archived", itoa(int64(rep.ModelsArchived)))
	f.add("bytes", formatBytes(rep.Bytes))
	return f.flush()
}

func (a *app) exportGTOCommand() *cobra.Command {
	var opts gto.ExportOptions
	c := &cobra.Command{
		Use:   "gto REPO",
		Short: "Write the Cairn server's models into a GTO registry (git tags and artifacts.yaml)",
		Long: `Write the models of the Cairn server (--url) into a git working tree as GTO
(iterative/gto) keeps a registry: artifacts.yaml entries (type, path,
description, labels), a registration tag per ready version (churn@v1.2.0#N),
a stage assignment per alias (churn#prod#N), a deregistration per archived
version and a deprecation per archived model. A version imported from GTO
is tagged at its original commit (gto.commit) when the repository has it;
any other version's files are committed under the artifact's path first.
Versions keep their GTO names (gto.version); others are named v<N>.0.0.
REPO is created with git init if it is not a repository.

Only what the repository does not say yet is written: exporting again adds
nothing. Export into a clean working tree: commits take what is staged.`,
		Example: `  cairn export gto ./ml-repo
  cairn export gto ./ml-repo --model churn && git -C ./ml-repo push --tags`,
		Args: exactArgs("REPO"),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			opts.Log = func(format string, args ...any) { a.infof(format, args...) }
			opts.Warn = func(format string, args ...any) { a.infof("warning: "+format, args...) }
			rep, err := gto.Export(c.Context(), &gto.Repo{Dir: a.path(args[0])}, cl, opts)
			if rep != nil {
				if perr := a.printGTOExport(rep); perr != nil && err == nil {
					err = perr
				}
			}
			return err
		},
	}
	c.Flags().StringArrayVar(&opts.Models, "model", nil, "export only this model (repeatable)")
	return c
}

func (a *app) printGTOExport(rep *gto.ExportReport) error {
	if a.json {
		return a.printJSON(rep)
	}
	f := newFields(a.stdout())
	f.add("artifacts", itoa(int64(rep.Artifacts)))
	f.add("commits", itoa(int64(rep.Commits)))
	f.add("tags", itoa(int64(rep.Tags)))
	f.add("skipped", itoa(int64(rep.Skipped)))
	return f.flush()
}
