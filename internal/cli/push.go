package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/spf13/cobra"
)

// pushFlags are the flags of `cairn push`: the version record's
// client-settable fields (DESIGN.md §2).
type pushFlags struct {
	kind, descFile, runID, source, codeVersion string
	trainingData, validationData               string
	signature, deps, framework, trainedBy      string
	metrics, params, tags                      []string
	derivedFrom, inputs, aliases               []string
	evaluates                                  []string
	retrainedFrom                              string
	parallel                                   int
}

func (a *app) pushCommand() *cobra.Command {
	var p pushFlags
	c := &cobra.Command{
		Use:   "push MODEL PATH...",
		Short: "Register a new version of a model from local files",
		Long: `Register a new version of MODEL from files and directories. A directory's
files keep their paths relative to it; a file is pushed under its base name.
Only the files the server does not hold yet are uploaded; large ones in
resumable parts.

Pushing the same content and metadata as the model's latest version again
registers nothing and names that version (exit 0), so a retried push is safe.

The version's reference (churn@v3) is printed on stdout, with --json the
whole version record.`,
		Example: `  cairn push churn ./model --metric auc=0.91 --param lr=0.1 --alias candidate
  cairn push churn-eval ./report --kind evaluation --evaluates churn@v7 --metric demographic_parity=0.03
  cairn push churn ./model --retrained-from churn@v2
  cairn push churn model.onnx requirements.txt --deps requirements.txt --framework onnx \
      --training-data features@v3 --code-version $(git rev-parse HEAD)`,
		Args: minArgs(2, "MODEL", "PATH..."),
		RunE: func(c *cobra.Command, args []string) error { return a.push(c, args[0], args[1:], &p) },
	}
	f := c.Flags()
	f.StringVar(&p.kind, "kind", "", "what the model holds: model, dataset, prompt, evaluation or other (set when the model is created; default model)")
	f.StringArrayVar(&p.metrics, "metric", nil, "evaluation metric KEY=NUMBER (repeatable)")
	f.StringArrayVar(&p.params, "param", nil, "training parameter KEY=VALUE (repeatable)")
	f.StringArrayVar(&p.tags, "tag", nil, "tag KEY=VALUE (repeatable)")
	f.StringVar(&p.descFile, "description-file", "", "Markdown description, read from this file (- for stdin)")
	f.StringVar(&p.runID, "run-id", "", "the experiment run that produced the version (a Cairn/MLflow run id or an external id)")
	f.StringVar(&p.source, "source", "", "URI the version came from")
	f.StringVar(&p.codeVersion, "code-version", "", "git commit of the training code (7 to 40 hex digits)")
	f.StringVar(&p.trainingData, "training-data", "", "training data: a URI, or a reference (ds@v3) that is also recorded as lineage")
	f.StringVar(&p.validationData, "validation-data", "", "validation data: a URI or a reference")
	f.StringVar(&p.signature, "signature", "", `JSON file with the model's signature, {"inputs": …, "outputs": …}`)
	f.StringVar(&p.deps, "deps", "", "the pushed file that lists dependencies (requirements.txt, conda.yaml, …)")
	f.StringVar(&p.framework, "framework", "", "framework, such as sklearn, pytorch or onnx")
	f.StringVar(&p.trainedBy, "trained-by", "", "who trained it, if not you")
	f.StringArrayVar(&p.derivedFrom, "derived-from", nil, "version this one was derived from: fine-tune, adapter, quantization (REF, repeatable)")
	f.StringArrayVar(&p.inputs, "input", nil, "other artifact the version consumed (REF or URI, repeatable)")
	f.StringArrayVar(&p.evaluates, "evaluates", nil, "version this evaluation evaluates (REF, repeatable; needs --kind evaluation on the first push)")
	f.StringVar(&p.retrainedFrom, "retrained-from", "", "the (flagged) version this one was retrained to replace (REF)")
	f.StringArrayVar(&p.aliases, "alias", nil, "point this alias at the new version once it is ready (repeatable)")
	f.IntVar(&p.parallel, "parallel", client.DefaultParallel, "files hashed and uploaded at once")
	return c
}

func (a *app) push(c *cobra.Command, model string, paths []string, p *pushFlags) error {
	if _, err := parseModelName(c, model); err != nil {
		return err
	}
	if p.parallel < 1 {
		return usageErr(c, "--parallel must be at least 1")
	}
	spec, err := a.pushSpec(c, paths, p)
	if err != nil {
		return err
	}
	local := make([]string, len(paths))
	for i, path := range paths {
		local[i] = a.path(path)
	}
	cl, err := a.client(c)
	if err != nil {
		return err
	}
	opts := client.PushOptions{Parallel: p.parallel}
	var bar *progress
	if isTerminal(a.stderr()) {
		bar = newProgress(a.stderr(), "pushing "+model)
		opts.Progress = func(done, total int64) {
			bar.setTotal(total)
			bar.set(done)
		}
	}
	res, err := cl.Push(c.Context(), model, local, spec, opts)
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		return err
	}
	v := res.Version
	if res.Existing {
		a.infof("%s already has this content and metadata; nothing new registered", v.Ref())
	} else {
		a.infof("pushed %s (%d file%s, %d uploaded, %d already stored)",
			v.Ref(), len(v.Files), plural(len(v.Files)), res.BlobsUploaded, res.BlobsSkipped)
	}
	if a.json {
		return a.printJSON(v)
	}
	_, err = fmt.Fprintln(a.stdout(), v.Ref())
	return err
}

// pushSpec builds the version spec from the flags. Mistakes in the flags'
// syntax are usage errors; the server checks the rest.
func (a *app) pushSpec(c *cobra.Command, paths []string, p *pushFlags) (cairn.VersionSpec, error) {
	var spec cairn.VersionSpec
	var err error
	if p.kind != "" {
		if spec.Kind, err = cairn.ParseKind(p.kind); err != nil {
			return spec, asUsage(c, err)
		}
	}
	if spec.Metrics, err = parseMetrics(c, p.metrics); err != nil {
		return spec, err
	}
	if spec.Params, err = parseKV(c, "param", p.params); err != nil {
		return spec, err
	}
	if spec.Tags, err = parseKV(c, "tag", p.tags); err != nil {
		return spec, err
	}
	desc, err := a.readDescription(c, p.descFile)
	if err != nil {
		return spec, err
	}
	if desc != nil {
		spec.Description = *desc
	}
	if p.signature != "" {
		b, err := readFileLimited(a.path(p.signature), cairn.MaxSignatureSize+1)
		if err != nil {
			return spec, fmt.Errorf("read signature: %w", err)
		}
		if !json.Valid(b) {
			return spec, cairn.Errorf(cairn.EINVALID, "signature file %s is not valid JSON", p.signature)
		}
		spec.Signature = b
	}
	for _, r := range append(slices.Clone(p.derivedFrom), p.evaluates...) {
		if _, err := parseRef(c, r); err != nil {
			return spec, err
		}
	}
	if p.retrainedFrom != "" {
		if _, err := parseRef(c, p.retrainedFrom); err != nil {
			return spec, err
		}
	}
	for _, al := range p.aliases {
		if err := cairn.ValidateAliasName(al); err != nil {
			return spec, asUsage(c, err)
		}
	}
	spec.RunID, spec.Source, spec.SourceCodeVersion = p.runID, p.source, p.codeVersion
	spec.TrainingDataset, spec.ValidationDataset = p.trainingData, p.validationData
	spec.Framework, spec.TrainedBy = p.framework, p.trainedBy
	spec.DerivedFrom, spec.Inputs, spec.Aliases = p.derivedFrom, p.inputs, p.aliases
	spec.Evaluates, spec.RetrainedFrom = p.evaluates, p.retrainedFrom
	spec.Dependencies = manifestPath(p.deps, paths, func(path string) bool {
		fi, err := os.Stat(a.path(path))
		return err == nil && fi.Mode().IsRegular()
	})
	return spec, nil
}

// manifestPath maps --deps to a path in the manifest. The flag may name the
// manifest path itself (requirements.txt) or, when such a local file
// exists, the file as typed on the command line (model/requirements.txt
// when pushing model/): that is translated the way push names files,
// relative to the pushed directory, or the base name of a pushed file.
func manifestPath(deps string, paths []string, exists func(string) bool) string {
	if deps == "" || !exists(deps) {
		return filepath.ToSlash(deps)
	}
	clean := filepath.Clean(deps)
	for _, p := range paths {
		pc := filepath.Clean(p)
		if clean == pc {
			return filepath.Base(clean) // a pushed file
		}
		rel, err := filepath.Rel(pc, clean)
		if err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return filepath.ToSlash(rel) // inside a pushed directory
		}
	}
	return filepath.ToSlash(deps)
}
