// Package mlflowimport copies a running MLflow server's model registry into
// Cairn: registered models with their descriptions and tags, every version
// with its description, tags, run id, run link, stage and files, and the
// aliases. It reads MLflow over its REST API (any MLflow 2.x or 3.x server)
// and writes through Cairn's client, so every change is audited and evented
// like any other.
//
// Version numbers are kept: MLflow version N is Cairn version N. Numbers
// MLflow skipped (versions deleted there) are taken in Cairn by a deleted
// placeholder, so that later numbers still match.
//
// Files are copied when MLflow serves them: through its artifact proxy
// (mlflow-artifacts:/ URIs, what 'mlflow server' hands out by default),
// following runs:/ and models:/m-… sources to the run's or logged model's
// artifact location. A version whose files MLflow does not serve (an s3://
// or file:// location the server only points at) is imported as an
// external reference: its source is the URI, it has no files, and the
// report lists it.
//
// An import is idempotent and resumable: a version already in Cairn is
// recognized by its number, source and run id and not copied again; what
// differs in the mutable fields (descriptions, tags, stages, aliases) is
// set to MLflow's, and nothing else is written. An import cut off midway
// is finished by running it again. Tags added in Cairn are kept; nothing
// is deleted in Cairn.
package mlflowimport

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
)

// Tags through which Cairn's MLflow API shows version fields Cairn's
// version record lacks (internal/mlflowapi).
const (
	runLinkTag  = "cairn.mlflow.run_link"
	modelIDTag  = "cairn.mlflow.model_id"
	isPromptTag = "mlflow.prompt.is_prompt"
)

// PlaceholderSource is the source of the deleted versions that hold the
// numbers of versions MLflow deleted before the import.
const PlaceholderSource = "mlflow-import:deleted-in-mlflow"

// Options configure an import. From is required.
type Options struct {
	// From is the MLflow tracking server: http(s)://host:port.
	From string
	// HTTPClient talks to MLflow. Default: a client with a 10-minute
	// timeout per request.
	HTTPClient *http.Client
	// Username and Password (HTTP basic) or Token (bearer) authenticate to
	// MLflow, as MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN.
	Username, Password, Token string
	// Models limits the import to these registered models; all if empty.
	Models []string
	// TempDir holds a version's files between download and upload.
	// Default: the system's.
	TempDir string
	// Push tunes the uploads to Cairn.
	Push client.PushOptions
	// Log, if set, receives one line per thing done.
	Log func(format string, args ...any)
}

// Report says what an import did.
type Report struct {
	From            string `json:"from"`
	Models          int    `json:"models"`           // registered models read from MLflow
	ModelsCreated   int    `json:"models_created"`   // of which new in Cairn
	Versions        int    `json:"versions"`         // versions read from MLflow
	VersionsCreated int    `json:"versions_created"` // of which created in Cairn by this run
	VersionsResumed int    `json:"versions_resumed"` // pending in Cairn after an interrupted run, completed
	Placeholders    int    `json:"placeholders"`     // deleted placeholders made for numbers MLflow skipped
	Files           int    `json:"files"`            // files downloaded from MLflow
	Bytes           int64  `json:"bytes"`            // their bytes
	BytesUploaded   int64  `json:"bytes_uploaded"`   // bytes Cairn did not have already
	Updates         int    `json:"updates"`          // descriptions, tags, stages and aliases set to MLflow's
	// External lists the versions imported without files, with why.
	External []External `json:"external"`
	// Warnings are things not imported, with why.
	Warnings []string `json:"warnings"`
	// Failed lists the models whose import stopped, with the error.
	Failed  []string      `json:"failed"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// External is a version imported as a reference to files MLflow does not
// serve.
type External struct {
	Ref    string `json:"ref"`
	Source string `json:"source"`
	Reason string `json:"reason"`
}

// Run imports from the MLflow server opts.From into the Cairn server dst
// talks to. It returns an error if MLflow cannot be read at all; a model
// that fails is listed in Report.Failed, the others are still imported,
// and the error returned then names them.
func Run(ctx context.Context, dst *client.Client, opts Options) (*Report, error) {
	start := time.Now()
	base := strings.TrimRight(opts.From, "/")
	u, err := parseFrom(base)
	if err != nil {
		return nil, err
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Minute}
	}
	im := &importer{
		src:  &mlflow{base: u, hc: hc, user: opts.Username, pass: opts.Password, token: opts.Token},
		dst:  dst,
		opts: opts,
		rep:  &Report{From: u, External: []External{}, Warnings: []string{}, Failed: []string{}},
	}
	if im.opts.Log == nil {
		im.opts.Log = func(string, ...any) {}
	}
	models, err := im.src.models(ctx)
	if err != nil {
		return im.rep, fmt.Errorf("listing MLflow's registered models: %w", err)
	}
	if len(opts.Models) > 0 {
		models = slices.DeleteFunc(models, func(m registeredModel) bool { return !slices.Contains(opts.Models, m.Name) })
		for _, name := range opts.Models {
			if !slices.ContainsFunc(models, func(m registeredModel) bool { return m.Name == name }) {
				im.rep.Failed = append(im.rep.Failed, name+": no such registered model in MLflow")
			}
		}
	}
	for _, m := range models {
		if err := ctx.Err(); err != nil {
			return im.rep, err
		}
		im.rep.Models++
		if err := im.model(ctx, m.Name); err != nil {
			if ctx.Err() != nil {
				return im.rep, err
			}
			im.rep.Failed = append(im.rep.Failed, m.Name+": "+err.Error())
			im.opts.Log("%s: FAILED: %v", m.Name, err)
		}
	}
	im.rep.Elapsed = time.Since(start)
	if len(im.rep.Failed) > 0 {
		return im.rep, cairn.Errorf(cairn.EFAILEDPRECONDITION, "%d of %d models were not imported completely: %s",
			len(im.rep.Failed), im.rep.Models, strings.Join(im.rep.Failed, "; "))
	}
	return im.rep, nil
}

func parseFrom(s string) (string, error) {
	if s == "" {
		return "", cairn.Errorf(cairn.EINVALID, "no MLflow server given")
	}
	if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
		return "", cairn.Errorf(cairn.EINVALID, "MLflow server %q: want an http:// or https:// URL", s)
	}
	return s, nil
}

type importer struct {
	src  *mlflow
	dst  *client.Client
	opts Options
	rep  *Report
}

func tagMap(tags []mlflowTag) map[string]string {
	out := map[string]string{}
	for _, t := range tags {
		out[t.Key] = t.Value
	}
	return out
}

// changedTags returns the tags of want that have is lacks or holds with
// another value.
func changedTags(want, have map[string]string) map[string]string {
	var out map[string]string
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// model imports one registered model.
func (im *importer) model(ctx context.Context, name string) error {
	rm, err := im.src.model(ctx, name)
	if err != nil {
		return err
	}
	tags := tagMap(rm.Tags)
	cm, err := im.dst.GetModel(ctx, name)
	switch {
	case cairn.IsCode(err, cairn.ENOTFOUND):
		kind := cairn.KindModel
		if tags[isPromptTag] == "true" {
			kind = cairn.KindPrompt
		}
		cm, err = im.dst.CreateModel(ctx, client.ModelCreate{Name: name, Kind: kind, Description: rm.Description, Tags: tags})
		if err != nil {
			return fmt.Errorf("creating the model in Cairn: %w", err)
		}
		im.rep.ModelsCreated++
		im.opts.Log("%s: created", name)
	case err != nil:
		return err
	default:
		up := client.ModelUpdate{SetTags: changedTags(tags, cm.Tags)}
		if cm.Description != rm.Description {
			up.Description = &rm.Description
		}
		if up.Description != nil || len(up.SetTags) > 0 {
			if cm, err = im.dst.UpdateModel(ctx, name, up); err != nil {
				return err
			}
			im.rep.Updates++
			im.opts.Log("%s: description or tags updated", name)
		}
	}
	if cm.Archived {
		return fmt.Errorf("the model is archived in Cairn; restore it ('cairn models restore %s') and import again", name)
	}

	versions, err := im.src.versions(ctx, name)
	if err != nil {
		return err
	}
	latest := cm.LatestVersion
	for i := range versions {
		im.rep.Versions++
		if err := im.version(ctx, name, &latest, &versions[i]); err != nil {
			return fmt.Errorf("version %d: %w", versions[i].number, err)
		}
	}

	// Aliases, once every version is there.
	cm, err = im.dst.GetModel(ctx, name)
	if err != nil {
		return err
	}
	imported := map[int64]bool{}
	for _, v := range versions {
		imported[v.number] = true
	}
	sort.Slice(rm.Aliases, func(i, j int) bool { return rm.Aliases[i].Alias < rm.Aliases[j].Alias })
	for _, a := range rm.Aliases {
		var n int64
		if _, err := fmt.Sscan(a.Version, &n); err != nil || !imported[n] {
			im.warn("%s@%s: points at version %s, which MLflow no longer lists; alias not imported", name, a.Alias, a.Version)
			continue
		}
		if cm.Aliases[a.Alias] == n {
			continue
		}
		if _, err := im.dst.SetAlias(ctx, name, a.Alias, n, nil); err != nil {
			return fmt.Errorf("alias %s: %w", a.Alias, err)
		}
		im.rep.Updates++
		im.opts.Log("%s@%s -> v%d", name, a.Alias, n)
	}
	return nil
}

func (im *importer) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	im.rep.Warnings = append(im.rep.Warnings, msg)
	im.opts.Log("warning: %s", msg)
}

// versionSpec is what Cairn records of an MLflow version.
func versionSpec(mv *modelVersion) cairn.VersionSpec {
	tags := tagMap(mv.Tags)
	if mv.RunLink != "" {
		tags[runLinkTag] = mv.RunLink
	}
	if mv.ModelID != "" {
		tags[modelIDTag] = mv.ModelID
	}
	return cairn.VersionSpec{Source: mv.Source, RunID: mv.RunID, Description: mv.Description, Tags: tags}
}

// version imports one version; *latest is the model's highest version
// number in Cairn, advanced as versions are created.
func (im *importer) version(ctx context.Context, name string, latest *int64, mv *modelVersion) error {
	n := mv.number
	ref := cairn.VersionRef(name, n)
	if mv.Status != "" && mv.Status != "READY" {
		im.warn("%s is %s in MLflow; imported as it is", ref, mv.Status)
	}
	if n <= *latest {
		cv, err := im.dst.GetVersion(ctx, name, n)
		if cairn.IsCode(err, cairn.ENOTFOUND) {
			im.warn("%s exists in MLflow but was deleted in Cairn; left deleted", ref)
			return nil
		}
		if err != nil {
			return err
		}
		if cv.Source != mv.Source || cv.RunID != mv.RunID {
			return cairn.Errorf(cairn.EFAILEDPRECONDITION,
				"Cairn's %s is not MLflow's (source %q, run %q in Cairn; %q, %q in MLflow): Cairn's numbering of this model differs, import it under another name or into an empty registry",
				ref, cv.Source, cv.RunID, mv.Source, mv.RunID)
		}
		if cv.Status == cairn.StatusPending {
			if n != *latest {
				return cairn.Errorf(cairn.EFAILEDPRECONDITION, "Cairn's %s is pending but not the latest version; it cannot be completed", ref)
			}
			if err := im.create(ctx, name, n, mv, true); err != nil {
				return err
			}
			im.rep.VersionsResumed++
			if cv, err = im.dst.GetVersion(ctx, name, n); err != nil {
				return err
			}
		}
		return im.syncVersion(ctx, name, cv, mv)
	}

	// A placeholder an interrupted run made and did not delete yet.
	if *latest > 0 {
		prev, err := im.dst.GetVersion(ctx, name, *latest)
		if err == nil && prev.Source == PlaceholderSource {
			if err := im.dst.DeleteVersion(ctx, name, *latest, true); err != nil {
				return err
			}
		} else if err != nil && !cairn.IsCode(err, cairn.ENOTFOUND) {
			return err
		}
	}
	for k := *latest + 1; k < n; k++ {
		if err := im.placeholder(ctx, name, k); err != nil {
			return err
		}
		*latest = k
	}
	if err := im.create(ctx, name, n, mv, false); err != nil {
		return err
	}
	*latest = n
	im.rep.VersionsCreated++
	cv, err := im.dst.GetVersion(ctx, name, n)
	if err != nil {
		return err
	}
	return im.syncVersion(ctx, name, cv, mv)
}

// placeholder takes number k with a deleted version.
func (im *importer) placeholder(ctx context.Context, name string, k int64) error {
	spec := cairn.VersionSpec{
		Source:       PlaceholderSource,
		Description:  fmt.Sprintf("MLflow's version %d was deleted before the import; this deleted version keeps the numbers of later versions equal to MLflow's", k),
		AlwaysCreate: true,
	}
	res, err := im.dst.CreateVersion(ctx, name, spec)
	if err != nil {
		return err
	}
	if res.Version.Number != k {
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "Cairn numbered the placeholder for version %d as %d: is something else writing to %s?", k, res.Version.Number, name)
	}
	if err := im.dst.DeleteVersion(ctx, name, k, true); err != nil {
		return err
	}
	im.rep.Placeholders++
	im.opts.Log("%s: placeholder for deleted version %d", name, k)
	return nil
}

// create makes version n in Cairn with MLflow's files, or as an external
// reference; resume completes a pending version n instead.
func (im *importer) create(ctx context.Context, name string, n int64, mv *modelVersion, resume bool) error {
	ref := cairn.VersionRef(name, n)
	spec := versionSpec(mv)
	spec.AlwaysCreate = !resume

	dir, reason, err := im.locate(ctx, mv)
	if err != nil {
		return err
	}
	var tmp string
	if dir != "" {
		tmp, err = os.MkdirTemp(im.opts.TempDir, "cairn-mlflow-import-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		files, bytes, err := im.download(ctx, dir, tmp)
		if err != nil {
			return fmt.Errorf("downloading %s from MLflow: %w", dir, err)
		}
		if files == 0 {
			reason = "MLflow lists no files at " + dir
			dir = ""
		}
		im.rep.Files += files
		im.rep.Bytes += bytes
	}

	var got int64
	if dir == "" {
		res, err := im.dst.CreateVersion(ctx, name, spec)
		if err != nil {
			return err
		}
		got = res.Version.Number
		if got == n {
			if _, err := im.dst.FinalizeVersion(ctx, name, n, nil); err != nil {
				return err
			}
		}
		if !resume {
			im.rep.External = append(im.rep.External, External{Ref: ref, Source: mv.Source, Reason: reason})
			im.opts.Log("%s: external reference to %s (%s)", ref, mv.Source, reason)
		}
	} else {
		res, err := im.dst.Push(ctx, name, []string{tmp}, spec, im.opts.Push)
		if err != nil {
			return err
		}
		got = res.Version.Number
		im.rep.BytesUploaded += res.BytesUploaded
		im.opts.Log("%s: %d files copied from %s", ref, len(res.Version.Files), dir)
	}
	if got != n {
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "Cairn numbered MLflow's version %d as %d: is something else writing to %s?", n, got, name)
	}
	return nil
}

// syncVersion sets the mutable fields of Cairn's version to MLflow's.
func (im *importer) syncVersion(ctx context.Context, name string, cv *cairn.Version, mv *modelVersion) error {
	spec := versionSpec(mv)
	up := client.VersionUpdate{SetTags: changedTags(spec.Tags, cv.Tags)}
	if cv.Description != mv.Description {
		up.Description = &mv.Description
	}
	if up.Description != nil || len(up.SetTags) > 0 {
		if _, err := im.dst.UpdateVersion(ctx, name, cv.Number, up); err != nil {
			return err
		}
		im.rep.Updates++
	}
	stage := cairn.Stage(mv.CurrentStage)
	if stage == "" {
		stage = cairn.StageNone
	}
	have := cv.Stage
	if have == "" {
		have = cairn.StageNone
	}
	if have != stage {
		if err := im.dst.SetStage(ctx, name, cv.Number, stage); err != nil {
			return fmt.Errorf("setting stage %s: %w", stage, err)
		}
		im.rep.Updates++
		im.opts.Log("%s: stage %s", cv.Ref(), stage)
	}
	return nil
}

// locate finds the directory of MLflow's artifact proxy that holds a
// version's files. It returns "" and the reason when MLflow does not serve
// them.
func (im *importer) locate(ctx context.Context, mv *modelVersion) (dir, reason string, err error) {
	uri, err := im.src.downloadURI(ctx, mv.Name, mv.number)
	if err != nil {
		if notFound(err) {
			return "", "MLflow gives no download URI: " + err.Error(), nil
		}
		return "", "", err
	}
	for range 3 { // runs:/ → the run's location; models:/m-… → the logged model's
		switch {
		case strings.HasPrefix(uri, "runs:/"):
			rest := strings.TrimPrefix(uri, "runs:/")
			runID, sub, _ := strings.Cut(strings.TrimLeft(rest, "/"), "/")
			root, err := im.src.runArtifactURI(ctx, runID)
			if err != nil {
				if notFound(err) {
					return "", fmt.Sprintf("run %s is not in MLflow: %v", runID, err), nil
				}
				return "", "", err
			}
			uri = strings.TrimRight(root, "/")
			if sub != "" {
				uri += "/" + sub
			}
		case strings.HasPrefix(uri, "models:/m-"):
			id := strings.Trim(strings.TrimPrefix(uri, "models:/"), "/")
			root, err := im.src.loggedModelArtifactURI(ctx, id)
			if err != nil {
				if notFound(err) {
					return "", fmt.Sprintf("logged model %s is not in MLflow: %v", id, err), nil
				}
				return "", "", err
			}
			uri = root
		case strings.HasPrefix(uri, "mlflow-artifacts:"):
			p := strings.TrimPrefix(uri, "mlflow-artifacts:")
			if strings.HasPrefix(p, "//") { // mlflow-artifacts://host:port/path
				p = strings.TrimPrefix(p, "//")
				_, p, _ = strings.Cut(p, "/")
			}
			p = strings.Trim(path.Clean("/"+p), "/")
			if p == "" {
				return "", "the artifact URI " + uri + " names the proxy's root", nil
			}
			return p, "", nil
		default:
			return "", "MLflow does not serve " + uri + " (only mlflow-artifacts:/ locations are proxied)", nil
		}
	}
	return "", "too many indirections in " + uri, nil
}

// download copies the files below dir of MLflow's artifact proxy into tmp,
// streaming each to disk and checking its size.
func (im *importer) download(ctx context.Context, dir, tmp string) (files int, bytes int64, err error) {
	entries, err := im.src.list(ctx, dir)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range entries {
		rel := strings.Trim(e.Path, "/")
		if rel == "" || rel != path.Clean(rel) || strings.HasPrefix(rel, "../") || rel == ".." {
			return files, bytes, fmt.Errorf("MLflow listed a bad artifact path %q under %s", e.Path, dir)
		}
		if e.IsDir {
			f, b, err := im.download(ctx, dir+"/"+rel, filepath.Join(tmp, filepath.FromSlash(rel)))
			files, bytes = files+f, bytes+b
			if err != nil {
				return files, bytes, err
			}
			continue
		}
		n, err := im.fetch(ctx, dir+"/"+rel, filepath.Join(tmp, filepath.FromSlash(rel)))
		if err != nil {
			return files, bytes, err
		}
		if n != e.FileSize {
			return files, bytes, fmt.Errorf("%s/%s: MLflow listed %d bytes and sent %d", dir, rel, e.FileSize, n)
		}
		files++
		bytes += n
	}
	return files, bytes, nil
}

func (im *importer) fetch(ctx context.Context, src, dst string) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, err
	}
	body, err := im.src.open(ctx, src)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	f, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("%s: %w", src, err)
	}
	return n, nil
}

func sortVersions(vs []modelVersion) {
	sort.Slice(vs, func(i, j int) bool { return vs[i].number < vs[j].number })
}
