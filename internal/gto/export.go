package gto

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
)

// ExportOptions tune Export.
type ExportOptions struct {
	// Models limits the export to these models; empty for every model.
	Models []string
	// Tagger and TaggerEmail sign the tags and commits made (default
	// "Cairn", "cairn@localhost").
	Tagger, TaggerEmail string
	// Now replaces the clock in tests.
	Now func() time.Time
	// Log receives one line per tag or commit made; nil for none.
	Log func(format string, args ...any)
	// Warn receives what could not be exported; nil for none.
	Warn func(format string, args ...any)
}

// ExportReport counts what Export did.
type ExportReport struct {
	Artifacts int `json:"artifacts"`
	Commits   int `json:"commits"` // made to hold versions' files
	Tags      int `json:"tags"`
	Skipped   int `json:"skipped"` // models, versions or aliases GTO cannot name
}

// Export writes Cairn's models into the GTO registry in repo (a working
// tree; created with git init if the directory is not a repository):
// each model an artifact in artifacts.yaml (type, path, description,
// labels), each ready version a registration tag at the commit it was
// imported from (its gto.commit tag), or else at a new commit that holds
// its files under the artifact's path, each archived version a
// deregistration, each alias a stage assignment, each archived model a
// deprecation. Versions keep the GTO names they were imported with
// (gto.version); others are named v<N>.0.0. Only what the repository does
// not say yet is written, so exporting again adds nothing, and export
// after import writes back the same registry. New tags are dated one
// second apart after every existing one, so GTO reads them in order.
func Export(ctx context.Context, repo *Repo, cl *client.Client, opts ExportOptions) (*ExportReport, error) {
	if opts.Tagger == "" {
		opts.Tagger, opts.TaggerEmail = "Cairn", "cairn@localhost"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	if opts.Warn == nil {
		opts.Warn = func(string, ...any) {}
	}
	if err := os.MkdirAll(repo.Dir, 0o755); err != nil {
		return nil, err
	}
	if _, err := repo.Git(ctx, "rev-parse", "--git-dir"); err != nil {
		if _, err := repo.Git(ctx, "init", "-q"); err != nil {
			return nil, err
		}
	}
	if out, err := repo.Git(ctx, "rev-parse", "--is-bare-repository"); err != nil || strings.TrimSpace(string(out)) == "true" {
		return nil, cairn.Errorf(cairn.EINVALID, "%s: export needs a working tree, not a bare repository", repo.Dir)
	}
	tags, err := repo.Tags(ctx)
	if err != nil {
		return nil, err
	}
	ex := &exporter{repo: repo, cl: cl, opts: opts, rep: &ExportReport{}, state: State(tags), taken: map[string]bool{}}
	out, err := repo.Git(ctx, "tag", "-l")
	if err != nil {
		return nil, err
	}
	for _, t := range strings.Fields(string(out)) {
		ex.taken[t] = true
	}
	ex.clock = opts.Now().UTC().Truncate(time.Second)
	for _, t := range tags {
		if !t.Time.Before(ex.clock) {
			ex.clock = t.Time.Add(time.Second)
		}
	}
	if ex.anns, err = repo.Annotations(ctx, ""); err != nil {
		return nil, err
	}
	models, err := ex.models(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range models {
		if err := ex.model(ctx, m); err != nil {
			return ex.rep, fmt.Errorf("model %s: %w", m.Name, err)
		}
	}
	if err := ex.writeAnnotations(ctx); err != nil {
		return ex.rep, err
	}
	return ex.rep, nil
}

type exporter struct {
	repo  *Repo
	cl    *client.Client
	opts  ExportOptions
	rep   *ExportReport
	state map[string]*Artifact
	taken map[string]bool
	clock time.Time
	anns  map[string]Annotation
	dirty bool // anns changed since HEAD
	// exported holds the Cairn-Move trailers of the repository's tags:
	// the alias moves an earlier export wrote.
	exported map[string]bool
}

func (ex *exporter) models(ctx context.Context) ([]*cairn.Model, error) {
	if len(ex.opts.Models) > 0 {
		var out []*cairn.Model
		for _, n := range ex.opts.Models {
			m, err := ex.cl.GetModel(ctx, n)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
		return out, nil
	}
	var out []*cairn.Model
	req := client.ListRequest{PageSize: 1000}
	for {
		p, err := ex.cl.ListModels(ctx, req)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
		if p.NextToken == "" {
			return out, nil
		}
		req.PageToken = p.NextToken
	}
}

var invalidRun = regexp.MustCompile(`[^a-z0-9\-/]+`)

// artifactName is the GTO name of a model: the one it was imported with,
// else its name in GTO's alphabet; "" if there is none.
func artifactName(m *cairn.Model) string {
	if n := m.Tags[TagArtifact]; ValidName(n) {
		return n
	}
	n := strings.NewReplacer("~", "/", "=", ":").Replace(m.Name)
	if ValidName(n) {
		return n
	}
	n = strings.Trim(invalidRun.ReplaceAllString(strings.ToLower(m.Name), "-"), "-/")
	if ValidName(n) {
		return n
	}
	return ""
}

func (ex *exporter) env(name, email string) []string {
	d := ex.clock.Format(time.RFC3339)
	ex.clock = ex.clock.Add(time.Second)
	return append(slices.Clone(ex.repo.Env),
		"GIT_COMMITTER_NAME="+name, "GIT_COMMITTER_EMAIL="+email, "GIT_COMMITTER_DATE="+d,
		"GIT_AUTHOR_NAME="+name, "GIT_AUTHOR_EMAIL="+email, "GIT_AUTHOR_DATE="+d)
}

func (ex *exporter) git(ctx context.Context, args ...string) ([]byte, error) {
	r := &Repo{Dir: ex.repo.Dir, Env: ex.env(ex.opts.Tagger, ex.opts.TaggerEmail)}
	return r.Git(ctx, args...)
}

// tag creates an annotated tag with the artifact's next counter, signed
// by the exporter.
func (ex *exporter) tag(ctx context.Context, a *Artifact, action Action, version, stage, commit, msg string) error {
	return ex.tagBy(ctx, a, action, version, stage, commit, msg, ex.opts.Tagger, ex.opts.TaggerEmail)
}

// tagBy creates an annotated tag with the artifact's next counter, with
// tagger as its tagger.
func (ex *exporter) tagBy(ctx context.Context, a *Artifact, action Action, version, stage, commit, msg, tagger, email string) error {
	a.Counter++
	name := TagName(a.Name, action, version, stage, a.Counter)
	for ex.taken[name] {
		a.Counter++
		name = TagName(a.Name, action, version, stage, a.Counter)
	}
	r := &Repo{Dir: ex.repo.Dir, Env: ex.env(tagger, email)}
	if _, err := r.Git(ctx, "tag", "-a", name, "-m", msg, commit); err != nil {
		return err
	}
	ex.taken[name] = true
	ex.rep.Tags++
	ex.opts.Log("tagged %s at %.12s", name, commit)
	return nil
}

func (ex *exporter) model(ctx context.Context, m *cairn.Model) error {
	name := artifactName(m)
	if name == "" {
		ex.rep.Skipped++
		ex.opts.Warn("model %s has no GTO name (lower-case letters, digits, '-' and '/'): skipped", m.Name)
		return nil
	}
	ex.rep.Artifacts++
	a := ex.state[name]
	if a == nil {
		a = &Artifact{Name: name, Stages: map[string]string{}}
		ex.state[name] = a
	}
	ann := ex.anns[name]
	before := fmt.Sprintf("%#v", ann)
	ann.Type = m.Tags[TagType]
	if ann.Type == "" {
		ann.Type = string(m.Kind)
	}
	if p := m.Tags[TagPath]; p != "" {
		ann.Path = p
	} else if ann.Path == "" {
		ann.Path = "models/" + strings.ReplaceAll(name, ":", "/")
	}
	ann.Description = m.Description
	ann.Labels = nil
	if l := m.Tags[TagLabels]; l != "" {
		ann.Labels = strings.Split(l, ",")
	}
	if fmt.Sprintf("%#v", ann) != before {
		ex.anns[name] = ann
		ex.dirty = true
	}

	vs, err := ex.versions(ctx, m.Name)
	if err != nil {
		return err
	}
	names := map[int64]*Version{}
	for _, v := range vs {
		if v.Status != cairn.StatusReady {
			continue
		}
		gv, err := ex.version(ctx, a, ann, m, v)
		if err != nil {
			return fmt.Errorf("version %d: %w", v.Number, err)
		}
		if gv != nil {
			names[v.Number] = gv
		}
	}

	if err := ex.history(ctx, a, m, names); err != nil {
		return err
	}
	aliases := slices.Sorted(maps.Keys(m.Aliases))
	wanted := map[string]bool{}
	for _, alias := range aliases {
		stage := strings.ReplaceAll(strings.ToLower(alias), "_", "-")
		gv := names[m.Aliases[alias]]
		if !ValidStage(stage) || gv == nil {
			ex.rep.Skipped++
			ex.opts.Warn("alias %s@%s: no GTO stage or version for it: skipped", m.Name, alias)
			continue
		}
		wanted[stage] = true
		if a.Stages[stage] == gv.Name {
			continue
		}
		if err := ex.tag(ctx, a, Assign, "", stage, gv.Commit, fmt.Sprintf("cairn: %s@%s -> v%d", m.Name, alias, m.Aliases[alias])); err != nil {
			return err
		}
		a.Stages[stage] = gv.Name
	}
	for _, stage := range slices.Sorted(maps.Keys(a.Stages)) {
		if wanted[stage] {
			continue
		}
		v := a.Version(a.Stages[stage])
		if v == nil {
			continue
		}
		if err := ex.tag(ctx, a, Unassign, "", stage, v.Commit, fmt.Sprintf("cairn: %s has no alias %s", m.Name, stage)); err != nil {
			return err
		}
		delete(a.Stages, stage)
	}
	if m.Archived && !a.Deprecated {
		head, err := ex.head(ctx)
		if err != nil {
			return err
		}
		if err := ex.tag(ctx, a, Deprecate, "", "", head, "cairn: model "+m.Name+" is archived"); err != nil {
			return err
		}
		a.Deprecated = true
	}
	return nil
}

// moveTrailer marks the tag an export wrote for an alias move, so that
// exporting again finds it (by the artifact's tags and the move's
// sequence number, which a rename keeps).
func moveTrailer(mv *cairn.AliasMove) string {
	return fmt.Sprintf("Cairn-Move: %d", mv.Seq)
}

var actorRE = regexp.MustCompile(`^([^<>]*?)\s*<([^<>\s]*)>$`)

// tagger splits an actor into a git tagger name and email: "Ada
// <ada@example.com>" as it is, a principal name with the exporter's email.
func (ex *exporter) tagger(actor string) (string, string) {
	if m := actorRE.FindStringSubmatch(actor); m != nil && m[1] != "" && m[2] != "" {
		return m[1], m[2]
	}
	if strings.TrimSpace(actor) == "" || strings.ContainsAny(actor, "<>\n") {
		return ex.opts.Tagger, ex.opts.TaggerEmail
	}
	return actor, ex.opts.TaggerEmail
}

// history writes the model's alias history as stage assignment and
// unassignment tags, oldest first: every move the repository does not
// hold yet. A move imported from this repository is there already (its
// origin names the tag); one an earlier export wrote is found by its
// trailer. The tags are dated by the exporter's clock, after every tag
// there (GTO orders by date); each message says who moved the alias and
// when. Moves of aliases that are not GTO stage names, or to versions
// GTO cannot name, are skipped.
func (ex *exporter) history(ctx context.Context, a *Artifact, m *cairn.Model, names map[int64]*Version) error {
	var moves []*cairn.AliasMove
	tok := ""
	for {
		p, err := ex.cl.AliasHistory(ctx, m.Name, "", 1000, tok)
		if err != nil {
			return err
		}
		moves = append(moves, p.Items...)
		if tok = p.NextToken; tok == "" {
			break
		}
	}
	if len(moves) == 0 {
		return nil
	}
	if ex.exported == nil {
		ex.exported = map[string]bool{}
		tags, err := ex.repo.Tags(ctx)
		if err != nil {
			return err
		}
		for _, t := range tags {
			for _, line := range strings.Split(t.Message, "\n") {
				if strings.HasPrefix(line, "Cairn-Move: ") {
					ex.exported[t.Artifact+"\x00"+strings.TrimSpace(line)] = true
				}
			}
		}
	}
	warned := map[string]bool{}
	for i := len(moves) - 1; i >= 0; i-- {
		mv := moves[i]
		if o := mv.Origin; o != nil && o.System == OriginSystem && ex.taken[o.Ref] {
			continue
		}
		trailer := moveTrailer(mv)
		key := a.Name + "\x00" + trailer
		if ex.exported[key] {
			continue
		}
		stage := strings.ReplaceAll(strings.ToLower(mv.Alias), "_", "-")
		if !ValidStage(stage) {
			if !warned[mv.Alias] {
				warned[mv.Alias] = true
				ex.opts.Warn("alias %s@%s: not a GTO stage name: its history is not exported", m.Name, mv.Alias)
			}
			continue
		}
		who, when := mv.Actor, mv.At
		if o := mv.Origin; o != nil {
			who, when = o.Actor, o.At
		}
		msg := fmt.Sprintf("moved by %s at %s", who, when.UTC().Format(time.RFC3339))
		name, email := ex.tagger(who)
		if mv.To != 0 {
			gv := names[mv.To]
			if gv == nil {
				ex.rep.Skipped++
				ex.opts.Warn("alias %s@%s → v%d: GTO has no name for that version: move skipped", m.Name, mv.Alias, mv.To)
				continue
			}
			msg = fmt.Sprintf("cairn: %s@%s -> v%d, %s\n\n%s", m.Name, mv.Alias, mv.To, msg, trailer)
			if err := ex.tagBy(ctx, a, Assign, "", stage, gv.Commit, msg, name, email); err != nil {
				return err
			}
			a.Stages[stage] = gv.Name
			a.Unassigned = remove(a.Unassigned, stage)
		} else {
			gv := a.Version(a.Stages[stage])
			if gv == nil {
				continue // GTO has the stage unassigned already
			}
			msg = fmt.Sprintf("cairn: %s@%s deleted, %s\n\n%s", m.Name, mv.Alias, msg, trailer)
			if err := ex.tagBy(ctx, a, Unassign, "", stage, gv.Commit, msg, name, email); err != nil {
				return err
			}
			delete(a.Stages, stage)
			a.Unassigned = append(remove(a.Unassigned, stage), stage)
		}
		ex.exported[key] = true
	}
	return nil
}

func (ex *exporter) versions(ctx context.Context, model string) ([]*cairn.Version, error) {
	var out []*cairn.Version
	req := client.ListRequest{PageSize: 1000, OrderBy: []string{"version ASC"}}
	for {
		p, err := ex.cl.ListVersions(ctx, model, req)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
		if p.NextToken == "" {
			sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
			return out, nil
		}
		req.PageToken = p.NextToken
	}
}

func (ex *exporter) head(ctx context.Context) (string, error) {
	out, err := ex.repo.Git(ctx, "rev-parse", "-q", "--verify", "HEAD^{commit}")
	if err != nil {
		// An empty repository: start it with the annotations.
		if err := ex.writeAnnotations(ctx); err != nil {
			return "", err
		}
		if out, err = ex.repo.Git(ctx, "rev-parse", "HEAD^{commit}"); err != nil {
			return "", err
		}
	}
	return strings.TrimSpace(string(out)), nil
}

// version registers (and deregisters) one Cairn version in GTO and
// returns it as GTO knows it.
func (ex *exporter) version(ctx context.Context, a *Artifact, ann Annotation, m *cairn.Model, v *cairn.Version) (*Version, error) {
	name := v.Tags[TagVersion]
	unregistered := v.Tags[TagUnregist] == "true" && shaRE.MatchString(name)
	if !unregistered && !ValidVersion(name) {
		name = "v" + strconv.FormatInt(v.Number, 10) + ".0.0"
	}
	if gv := a.Version(name); gv != nil && (gv.Registered || unregistered) {
		if v.Archived && gv.Registered && !gv.Deregistered {
			if err := ex.tag(ctx, a, Deregister, name, "", gv.Commit, fmt.Sprintf("cairn: %s@v%d is archived", m.Name, v.Number)); err != nil {
				return nil, err
			}
			gv.Deregistered = true
		}
		return gv, nil
	}
	commit := v.Tags[TagCommit]
	if commit == "" || !shaRE.MatchString(commit) {
		commit = ""
	} else if _, err := ex.repo.Git(ctx, "cat-file", "-e", commit+"^{commit}"); err != nil {
		commit = ""
	}
	if commit == "" {
		// A commit an earlier export made for this version, found by the
		// trailer it wrote.
		out, err := ex.repo.Git(ctx, "log", "--all", "--format=%H", "-F", "--grep", trailer(m, v))
		if err != nil {
			return nil, err
		}
		if f := strings.Fields(string(out)); len(f) > 0 {
			commit = f[0]
		} else if commit, err = ex.materialize(ctx, a.Name, ann, m, v); err != nil {
			return nil, err
		}
	}
	if unregistered {
		if gv := a.atCommit(Tag{Commit: commit}); gv != nil {
			return gv, nil
		}
	}
	gv := &Version{Name: name, Commit: commit}
	if unregistered {
		a.Versions = append(a.Versions, gv)
		return gv, nil
	}
	msg := v.Description
	if msg == "" {
		msg = fmt.Sprintf("cairn: %s@v%d", m.Name, v.Number)
	}
	if err := ex.tag(ctx, a, Register, name, "", commit, msg); err != nil {
		return nil, err
	}
	gv.Registered = true
	a.Versions = append(a.Versions, gv)
	if v.Archived {
		if err := ex.tag(ctx, a, Deregister, name, "", commit, fmt.Sprintf("cairn: %s@v%d is archived", m.Name, v.Number)); err != nil {
			return nil, err
		}
		gv.Deregistered = true
	}
	return gv, nil
}

// materialize commits a version's files at the artifact's path (replacing
// what was there) with artifacts.yaml, and returns the commit.
func (ex *exporter) materialize(ctx context.Context, artifact string, ann Annotation, m *cairn.Model, v *cairn.Version) (string, error) {
	p := filepath.Clean(filepath.FromSlash(ann.Path))
	if p == "." || filepath.IsAbs(p) || strings.HasPrefix(p, "..") {
		return "", cairn.Errorf(cairn.EINVALID, "artifact %s: path %q is outside the repository", artifact, ann.Path)
	}
	dst := filepath.Join(ex.repo.Dir, p)
	if err := os.RemoveAll(dst); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp("", "cairn-gto-export-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if _, err := ex.cl.Pull(ctx, cairn.VersionRef(m.Name, v.Number), tmp, client.PullOptions{}); err != nil {
		return "", err
	}
	_ = os.Remove(filepath.Join(tmp, ".cairn-version.json"))
	// A version of one file whose name is the path's base name is that
	// file; anything else is a directory.
	if len(v.Files) == 1 && v.Files[0].Path == filepath.Base(p) {
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		if err := os.Rename(filepath.Join(tmp, v.Files[0].Path), dst); err != nil {
			return "", err
		}
	} else if len(v.Files) > 0 {
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		if err := os.Rename(tmp, dst); err != nil {
			return "", err
		}
	}
	if err := ex.writeAnnotationsFile(); err != nil {
		return "", err
	}
	stage := []string{"add", "-A", "--", AnnotationsFile}
	if _, err := os.Lstat(dst); err == nil {
		stage = append(stage, filepath.ToSlash(p))
	} else if out, err := ex.repo.Git(ctx, "ls-files", "--", filepath.ToSlash(p)); err == nil && len(out) > 0 {
		stage = append(stage, filepath.ToSlash(p)) // tracked, now removed
	}
	if _, err := ex.repo.Git(ctx, stage...); err != nil {
		return "", err
	}
	if _, err := ex.git(ctx, "commit", "-q", "--allow-empty", "-m", fmt.Sprintf("cairn: %s@v%d", m.Name, v.Number), "-m", trailer(m, v)); err != nil {
		return "", err
	}
	ex.dirty = false
	ex.rep.Commits++
	out, err := ex.repo.Git(ctx, "rev-parse", "HEAD")
	if err != nil {
		return "", err
	}
	ex.opts.Log("committed %s@v%d's files at %s", m.Name, v.Number, ann.Path)
	return strings.TrimSpace(string(out)), nil
}

// trailer marks the commit that holds a version's files.
func trailer(m *cairn.Model, v *cairn.Version) string {
	return fmt.Sprintf("Cairn-Version: %s %s", cairn.VersionRef(m.Name, v.Number), v.Digest)
}

func (ex *exporter) writeAnnotationsFile() error {
	b, err := MarshalAnnotations(ex.anns)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(ex.repo.Dir, AnnotationsFile), b, 0o644)
}

// writeAnnotations commits artifacts.yaml if it changed.
func (ex *exporter) writeAnnotations(ctx context.Context) error {
	_, headErr := ex.repo.Git(ctx, "rev-parse", "-q", "--verify", "HEAD")
	if !ex.dirty && headErr == nil {
		return nil
	}
	if err := ex.writeAnnotationsFile(); err != nil {
		return err
	}
	if _, err := ex.repo.Git(ctx, "add", "--", AnnotationsFile); err != nil {
		return err
	}
	if _, err := ex.git(ctx, "commit", "-q", "--allow-empty", "-m", "cairn: "+AnnotationsFile); err != nil {
		return err
	}
	ex.dirty = false
	ex.rep.Commits++
	return nil
}
