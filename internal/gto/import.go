package gto

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
)

// Tags Cairn keeps on imported models and versions, so that an import can
// be repeated and an export can write the same GTO names back.
const (
	TagArtifact = "gto.name"    // model: the GTO artifact name
	TagType     = "gto.type"    // model: the annotation's type
	TagPath     = "gto.path"    // model: the annotation's path
	TagLabels   = "gto.labels"  // model: the annotation's labels, comma-separated
	TagVersion  = "gto.version" // version: the GTO version name (v1.2.0, or a commit)
	TagCommit   = "gto.commit"  // version: the commit it was registered at
	TagGitTag   = "gto.tag"     // version: the registration tag
	TagAuthor   = "gto.author"  // version: the tagger, "Name <email>"
	TagUnregist = "gto.unregistered"
)

// ModelName is the Cairn model of a GTO artifact: GTO names may hold '/'
// and a "dir:" prefix, which Cairn names may not; they become '~' and '='
// ("=" is how GTO itself writes ':' in tags). The GTO name is also kept in
// the model's gto.name tag.
func ModelName(artifact string) string {
	return strings.NewReplacer("/", "~", ":", "=").Replace(artifact)
}

// AliasName is the Cairn alias of a GTO stage: '/' becomes '_', and a
// stage that looks like a version reference (v2) gets a "stage-" prefix.
func AliasName(stage string) string {
	a := strings.ReplaceAll(stage, "/", "_")
	if cairn.ValidateAliasName(a) != nil {
		a = "stage-" + a
	}
	return a
}

// ImportOptions tune Import.
type ImportOptions struct {
	// Source names the repository in imported versions' source field
	// (default the repository directory).
	Source string
	// Log receives one line per change made; nil for none.
	Log func(format string, args ...any)
}

// ImportReport counts what Import did.
type ImportReport struct {
	Artifacts        int   `json:"artifacts"`
	ModelsCreated    int   `json:"models_created"`
	ModelsUpdated    int   `json:"models_updated"`
	VersionsCreated  int   `json:"versions_created"`
	VersionsSkipped  int   `json:"versions_skipped"` // imported before
	VersionsArchived int   `json:"versions_archived"`
	AliasesSet       int   `json:"aliases_set"`
	AliasesDeleted   int   `json:"aliases_deleted"`
	ModelsArchived   int   `json:"models_archived"`
	Bytes            int64 `json:"bytes"` // in the versions created
}

// Import reads the GTO registry in repo into Cairn through cl: each
// artifact becomes a model (described by artifacts.yaml at HEAD), each
// version a version holding the files of the artifact's path at its
// commit, each stage an alias, a deregistered version an archived one and
// a deprecated artifact an archived model. Semantic versions, commits and
// tags are kept as the versions' gto.* tags. Importing again changes only
// what changed in the repository since: versions are matched by their
// gto.version tag.
func Import(ctx context.Context, repo *Repo, cl *client.Client, opts ImportOptions) (*ImportReport, error) {
	if opts.Source == "" {
		abs, err := filepath.Abs(repo.Dir)
		if err != nil {
			return nil, err
		}
		opts.Source = "git+file://" + filepath.ToSlash(abs)
	}
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	if _, err := repo.Git(ctx, "rev-parse", "--git-dir"); err != nil {
		return nil, cairn.WrapError(cairn.EINVALID, err, "%s is not a git repository", repo.Dir)
	}
	tags, err := repo.Tags(ctx)
	if err != nil {
		return nil, err
	}
	head, err := repo.Annotations(ctx, "")
	if err != nil {
		return nil, err
	}
	arts := State(tags)
	// Annotated artifacts without tags are models without versions.
	for name := range head {
		if arts[name] == nil {
			arts[name] = &Artifact{Name: name, Stages: map[string]string{}}
		}
	}
	names := make([]string, 0, len(arts))
	for n := range arts {
		names = append(names, n)
	}
	sort.Strings(names)
	im := &importer{repo: repo, cl: cl, opts: opts, rep: &ImportReport{}, annotations: map[string]map[string]Annotation{}}
	for _, n := range names {
		if err := im.artifact(ctx, arts[n], head[n]); err != nil {
			return im.rep, fmt.Errorf("artifact %s: %w", n, err)
		}
		im.rep.Artifacts++
	}
	return im.rep, nil
}

type importer struct {
	repo        *Repo
	cl          *client.Client
	opts        ImportOptions
	rep         *ImportReport
	annotations map[string]map[string]Annotation // by commit
}

func kindOf(typ string) cairn.Kind {
	if k, err := cairn.ParseKind(typ); err == nil && typ != "" {
		return k
	}
	return cairn.KindModel
}

func (im *importer) artifact(ctx context.Context, a *Artifact, ann Annotation) error {
	name := ModelName(a.Name)
	want := map[string]string{TagArtifact: a.Name}
	for k, v := range map[string]string{TagType: ann.Type, TagPath: ann.Path, TagLabels: strings.Join(ann.Labels, ",")} {
		if v != "" {
			want[k] = v
		}
	}
	m, err := im.cl.GetModel(ctx, name)
	switch {
	case cairn.IsCode(err, cairn.ENOTFOUND):
		if m, err = im.cl.CreateModel(ctx, client.ModelCreate{Name: name, Kind: kindOf(ann.Type), Description: ann.Description, Tags: want}); err != nil {
			return err
		}
		im.rep.ModelsCreated++
		im.opts.Log("created model %s", name)
	case err != nil:
		return err
	default:
		up := client.ModelUpdate{SetTags: map[string]string{}}
		for k, v := range want {
			if m.Tags[k] != v {
				up.SetTags[k] = v
			}
		}
		for _, k := range []string{TagType, TagPath, TagLabels} {
			if _, ok := want[k]; !ok && m.Tags[k] != "" {
				up.DeleteTags = append(up.DeleteTags, k)
			}
		}
		if ann.Description != m.Description {
			up.Description = &ann.Description
		}
		if len(up.SetTags) > 0 || len(up.DeleteTags) > 0 || up.Description != nil {
			if m.Archived {
				if m, err = im.cl.RestoreModel(ctx, name); err != nil {
					return err
				}
			}
			if m, err = im.cl.UpdateModel(ctx, name, up); err != nil {
				return err
			}
			im.rep.ModelsUpdated++
			im.opts.Log("updated model %s", name)
		}
	}

	existing, err := im.versions(ctx, name)
	if err != nil {
		return err
	}
	numbers := map[string]int64{} // GTO version name → Cairn number
	for _, v := range a.Versions {
		cur := existing[v.Name]
		if cur == nil {
			if m.Archived {
				if m, err = im.cl.RestoreModel(ctx, name); err != nil {
					return err
				}
			}
			if cur, err = im.push(ctx, a, v, name); err != nil {
				return fmt.Errorf("version %s: %w", v.Name, err)
			}
			existing[v.Name] = cur
		} else {
			im.rep.VersionsSkipped++
		}
		numbers[v.Name] = cur.Number
	}

	// The stage history, tag by tag, then the state it ends in (which
	// the history reaches unless Cairn moved the aliases since).
	if err := im.replay(ctx, name, a, numbers); err != nil {
		return err
	}
	if m, err = im.cl.GetModel(ctx, name); err != nil {
		return err
	}
	stages := make([]string, 0, len(a.Stages))
	for s := range a.Stages {
		stages = append(stages, s)
	}
	sort.Strings(stages)
	for _, s := range stages {
		alias, n := AliasName(s), numbers[a.Stages[s]]
		if m.Aliases[alias] == n {
			continue
		}
		if _, err := im.cl.SetAlias(ctx, name, alias, n, nil); err != nil {
			return fmt.Errorf("stage %s: %w", s, err)
		}
		im.rep.AliasesSet++
		im.opts.Log("set %s@%s → v%d", name, alias, n)
	}
	for _, s := range a.Unassigned {
		alias := AliasName(s)
		if _, ok := m.Aliases[alias]; !ok {
			continue
		}
		if err := im.cl.DeleteAlias(ctx, name, alias, nil); err != nil && !cairn.IsCode(err, cairn.ENOTFOUND) {
			return fmt.Errorf("stage %s: %w", s, err)
		}
		im.rep.AliasesDeleted++
		im.opts.Log("deleted %s@%s (unassigned)", name, alias)
	}
	// Deregistered versions are archived once the history that may have
	// pointed stages at them is in.
	for _, v := range a.Versions {
		if cur := existing[v.Name]; v.Deregistered && !cur.Archived {
			if _, err := im.cl.ArchiveVersion(ctx, name, cur.Number, false); err != nil {
				return fmt.Errorf("version %s (deregistered): %w", v.Name, err)
			}
			im.rep.VersionsArchived++
			im.opts.Log("archived %s@v%d (%s deregistered)", name, cur.Number, v.Name)
		}
	}
	if a.Deprecated && !m.Archived {
		if _, err := im.cl.ArchiveModel(ctx, name); err != nil {
			return err
		}
		im.rep.ModelsArchived++
		im.opts.Log("archived model %s (deprecated)", name)
	}
	return nil
}

// OriginSystem names GTO in the origin of the alias moves Import makes.
const OriginSystem = "gto"

// replay makes the artifact's stage history in Cairn, move by move in tag
// order: each assignment sets the stage's alias, each unassignment deletes
// it, and each move keeps its tag, tagger and tagger date as its origin
// in the alias history. Tags replayed by an earlier import (found by the
// origin's ref) are skipped, so importing again adds only the new ones.
// An alias that has a history in Cairn but none from GTO (set in Cairn,
// or by an import that predates history replay) is left to the final
// reconciliation instead of having GTO's history written after its own.
func (im *importer) replay(ctx context.Context, model string, a *Artifact, numbers map[string]int64) error {
	if len(a.Moves) == 0 {
		return nil
	}
	type aliasState struct {
		moves int
		refs  map[string]bool
	}
	hist := map[string]*aliasState{}
	tok := ""
	for {
		p, err := im.cl.AliasHistory(ctx, model, "", 1000, tok)
		if err != nil {
			return err
		}
		for _, mv := range p.Items {
			st := hist[mv.Alias]
			if st == nil {
				st = &aliasState{refs: map[string]bool{}}
				hist[mv.Alias] = st
			}
			st.moves++
			if o := mv.Origin; o != nil && o.System == OriginSystem && o.Ref != "" {
				st.refs[o.Ref] = true
			}
		}
		if tok = p.NextToken; tok == "" {
			break
		}
	}
	m, err := im.cl.GetModel(ctx, model)
	if err != nil {
		return err
	}
	cur := m.Aliases
	if cur == nil {
		cur = map[string]int64{}
	}
	for _, mv := range a.Moves {
		alias := AliasName(mv.Stage)
		if st := hist[alias]; st != nil && (st.refs[mv.Tag.Name] || len(st.refs) == 0) {
			continue
		}
		origin := &cairn.MoveOrigin{System: OriginSystem, Ref: mv.Tag.Name, Actor: mv.Tag.Actor(), At: mv.Tag.Time}
		if mv.Version == "" {
			if _, ok := cur[alias]; !ok {
				continue
			}
			if err := im.cl.DeleteAliasWith(ctx, model, alias, client.MoveOptions{Origin: origin}); err != nil {
				return fmt.Errorf("stage %s (%s): %w", mv.Stage, mv.Tag.Name, err)
			}
			delete(cur, alias)
			im.rep.AliasesDeleted++
			im.opts.Log("deleted %s@%s (%s by %s)", model, alias, mv.Tag.Name, origin.Actor)
			continue
		}
		n := numbers[mv.Version]
		if n == 0 || cur[alias] == n {
			continue
		}
		if _, err := im.cl.SetAliasWith(ctx, model, alias, n, client.MoveOptions{Origin: origin}); err != nil {
			return fmt.Errorf("stage %s (%s): %w", mv.Stage, mv.Tag.Name, err)
		}
		cur[alias] = n
		im.rep.AliasesSet++
		im.opts.Log("set %s@%s → v%d (%s by %s)", model, alias, n, mv.Tag.Name, origin.Actor)
	}
	return nil
}

// versions returns a model's versions imported from GTO, by GTO name.
func (im *importer) versions(ctx context.Context, model string) (map[string]*cairn.Version, error) {
	out := map[string]*cairn.Version{}
	req := client.ListRequest{PageSize: 1000}
	for {
		p, err := im.cl.ListVersions(ctx, model, req)
		if err != nil {
			return nil, err
		}
		for _, v := range p.Items {
			if n := v.Tags[TagVersion]; n != "" && v.Status != cairn.StatusFailed {
				if prev := out[n]; prev == nil || v.Number > prev.Number {
					out[n] = v
				}
			}
		}
		if p.NextToken == "" {
			return out, nil
		}
		req.PageToken = p.NextToken
	}
}

// push creates a Cairn version of v: the files under the artifact's path
// at v's commit (as artifacts.yaml had it then, else as it has it now),
// taken out of git into a temporary directory.
func (im *importer) push(ctx context.Context, a *Artifact, v *Version, model string) (*cairn.Version, error) {
	anns, ok := im.annotations[v.Commit]
	if !ok {
		var err error
		if anns, err = im.repo.Annotations(ctx, v.Commit); err != nil {
			return nil, err
		}
		im.annotations[v.Commit] = anns
	}
	ann, ok := anns[a.Name]
	if !ok {
		if head, err := im.repo.Annotations(ctx, ""); err == nil {
			ann = head[a.Name]
		}
	}
	tmp, err := os.MkdirTemp("", "cairn-gto-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var paths []string
	if ann.Path != "" {
		p, err := im.snapshot(ctx, v.Commit, ann.Path, tmp)
		if err != nil {
			return nil, err
		}
		if p != "" {
			paths = append(paths, p)
		}
	}
	tags := map[string]string{TagVersion: v.Name, TagCommit: v.Commit}
	if v.Tag != "" {
		tags[TagGitTag] = v.Tag
	}
	if v.Author != "" {
		tags[TagAuthor] = strings.TrimSpace(v.Author + " <" + v.Email + ">")
	}
	if !v.Registered {
		tags[TagUnregist] = "true"
	}
	spec := cairn.VersionSpec{
		// The source names the GTO version, so that two versions
		// registered at one commit stay two versions.
		Source:            im.opts.Source + "#" + a.Name + "@" + v.Name,
		SourceCodeVersion: v.Commit,
		Description:       v.Message,
		Tags:              tags,
	}
	res, err := im.cl.Push(ctx, model, paths, spec, client.PushOptions{})
	if err != nil {
		return nil, err
	}
	im.rep.VersionsCreated++
	im.rep.Bytes += res.Version.Size
	im.opts.Log("pushed %s@v%d (%s at %.12s, %d files)", model, res.Version.Number, v.Name, v.Commit, len(res.Version.Files))
	return res.Version, nil
}

// snapshot extracts p (a file or directory) as committed at commit into
// dir with git archive and returns the local path to push: the file, or
// the directory whose contents become the version's files; "" if the
// commit has no such path (a virtual artifact).
func (im *importer) snapshot(ctx context.Context, commit, p, dir string) (string, error) {
	p = path.Clean(strings.TrimPrefix(filepath.ToSlash(p), "./"))
	if p == "." || strings.HasPrefix(p, "../") || path.IsAbs(p) {
		return "", cairn.Errorf(cairn.EINVALID, "artifact path %q is outside the repository", p)
	}
	typ, err := im.repo.Git(ctx, "cat-file", "-t", commit+":"+p)
	if err != nil {
		return "", nil
	}
	cmd := exec.CommandContext(ctx, "git", "-C", im.repo.Dir, "archive", "--format=tar", commit, "--", p)
	cmd.Env = append(cmd.Environ(), im.repo.Env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exErr := extract(out, dir)
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("git archive %s -- %s: %v %s", commit, p, err, strings.TrimSpace(stderr.String()))
	}
	if exErr != nil {
		return "", exErr
	}
	local := filepath.Join(dir, filepath.FromSlash(p))
	_ = typ // a tree's files get paths below it, a blob its base name (client.Push)
	return local, nil
}

// extract writes a tar stream's regular files under dir, streaming, and
// refuses entries that would land outside it.
func extract(r io.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read git archive: %w", err)
		}
		name := path.Clean(h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := mkdirAll(root, name); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := mkdirAll(root, path.Dir(name)); err != nil {
				return err
			}
			f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeXGlobalHeader:
		default:
			// Symbolic links and submodules are not snapshotted: their
			// targets are not part of the artifact's bytes.
		}
	}
}

func mkdirAll(root *os.Root, name string) error {
	if name == "." || name == "" {
		return nil
	}
	parts := strings.Split(name, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		if err := root.Mkdir(p, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	return nil
}
