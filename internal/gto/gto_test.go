package gto_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/gto"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
	"github.com/google/go-cmp/cmp"
)

func TestParseTagName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]gto.Tag{
		"churn@v1.2.0":                {Artifact: "churn", Action: gto.Register, Version: "v1.2.0"},
		"churn@v1.2.0#4":              {Artifact: "churn", Action: gto.Register, Version: "v1.2.0", Counter: 4},
		"churn@v1.2.0-rc.1+build.5#2": {Artifact: "churn", Action: gto.Register, Version: "v1.2.0-rc.1+build.5", Counter: 2},
		"churn@v1.2.0!#5":             {Artifact: "churn", Action: gto.Deregister, Version: "v1.2.0", Counter: 5},
		"churn#prod#3":                {Artifact: "churn", Action: gto.Assign, Stage: "prod", Counter: 3},
		"churn#prod":                  {Artifact: "churn", Action: gto.Assign, Stage: "prod"},
		"churn#prod!#6":               {Artifact: "churn", Action: gto.Unassign, Stage: "prod", Counter: 6},
		"churn@deprecated#7":          {Artifact: "churn", Action: gto.Deprecate, Counter: 7},
		"models/nlp=bert-base@v0.1.0": {Artifact: "models/nlp:bert-base", Action: gto.Register, Version: "v0.1.0"},
		"team/churn#stage/canary#2":   {Artifact: "team/churn", Action: gto.Assign, Stage: "stage/canary", Counter: 2},
	} {
		got, ok := gto.ParseTagName(name)
		want.Name = name
		if !ok {
			t.Errorf("ParseTagName(%q) failed", name)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ParseTagName(%q) (-want +got):\n%s", name, diff)
		}
		// And back.
		if back := gto.TagName(got.Artifact, got.Action, got.Version, got.Stage, got.Counter); back != name {
			t.Errorf("TagName of %q gives %q", name, back)
		}
	}
	for _, name := range []string{"v1.0.0", "churn@1.2.0", "churn@v1.2", "Churn@v1.0.0", "churn#Prod", "churn#prod#x", "-churn#prod", "churn@v01.0.0", "churn", "churn@latest"} {
		if tg, ok := gto.ParseTagName(name); ok {
			t.Errorf("ParseTagName(%q) = %+v, want not a GTO tag", name, tg)
		}
	}
}

// gitRepo is a generated GTO repository: commits and annotated tags with
// increasing tagger dates, one minute apart.
type gitRepo struct {
	t    *testing.T
	dir  string
	when time.Time
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	r := &gitRepo{t: t, dir: t.TempDir(), when: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *gitRepo) env() []string {
	r.when = r.when.Add(time.Minute)
	d := r.when.Format(time.RFC3339)
	return []string{"GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.com", "GIT_COMMITTER_NAME=Ada",
		"GIT_COMMITTER_EMAIL=ada@example.com", "GIT_AUTHOR_DATE=" + d, "GIT_COMMITTER_DATE=" + d,
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"}
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.dir}, args...)...)
	cmd.Env = append(os.Environ(), r.env()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files (path → content; "" deletes) and commits them.
func (r *gitRepo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for p, c := range files {
		full := filepath.Join(r.dir, filepath.FromSlash(p))
		if c == "" {
			os.Remove(full)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

func (r *gitRepo) tag(name, commit, msg string) {
	r.t.Helper()
	r.git("tag", "-a", name, "-m", msg, commit)
}

const annotations = `churn:
  type: model
  path: models/churn
  description: Churn classifier
  labels: [tabular, prod-critical]
fraud:
  type: dataset
  path: data/fraud.csv
`

// build makes a repository with two artifacts: churn (three registered
// versions, one deregistered later, a version assigned to a stage by its
// commit only, stage moves and an unassignment) and fraud (a dataset,
// deprecated), plus a lightweight tag GTO ignores.
func build(r *gitRepo) (c1, c2, c3, c4 string) {
	c1 = r.commit("first", map[string]string{"artifacts.yaml": annotations,
		"models/churn/model.pkl": "weights-1", "models/churn/conf/params.json": `{"depth": 6}`, "data/fraud.csv": "a,b\n1,2\n"})
	r.tag("churn@v1.0.0#1", c1, "first churn")
	r.tag("fraud@v0.1.0#1", c1, "fraud data")
	c2 = r.commit("second", map[string]string{"models/churn/model.pkl": "weights-2"})
	r.tag("churn@v1.1.0#2", c2, "better churn")
	r.tag("churn#prod#3", c1, "v1 to prod")
	r.tag("churn#staging#4", c2, "v1.1 to staging")
	c3 = r.commit("third", map[string]string{"models/churn/model.pkl": "weights-3", "README": "x"})
	r.tag("churn@v2.0.0#5", c3, "v2")
	r.tag("churn#prod#6", c2, "v1.1 to prod")
	r.tag("churn@v1.0.0!#7", c1, "v1 is withdrawn")
	r.tag("churn#staging!#8", c2, "nothing in staging")
	c4 = r.commit("fourth", map[string]string{"models/churn/model.pkl": "weights-4"})
	r.tag("churn#canary#9", c4, "an unregistered commit in canary")
	r.tag("fraud@deprecated#2", c4, "use fraud-v2")
	r.git("tag", "lightweight-not-gto", c4)
	r.git("tag", "churn@v9.9.9", c4) // lightweight: GTO ignores it too
	return
}

func newClient(t *testing.T) (*apitest.Env, *client.Client) {
	e := apitest.New(t, apitest.Options{})
	return e, client.New(e.Server.URL, client.WithHTTPClient(e.Server.Client()))
}

func files(t *testing.T, cl *client.Client, ref string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	if _, err := cl.Pull(t.Context(), ref, dir, client.PullOptions{}); err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		if rel != ".cairn-version.json" { // what pull writes beside the files
			out[filepath.ToSlash(rel)] = string(b)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImport(t *testing.T) {
	t.Parallel()
	r := newGitRepo(t)
	c1, c2, c3, c4 := build(r)
	_, cl := newClient(t)
	ctx := t.Context()
	repo := &gto.Repo{Dir: r.dir}
	rep, err := gto.Import(ctx, repo, cl, gto.ImportOptions{Source: "git+https://example.com/ml.git"})
	if err != nil {
		t.Fatal(err)
	}
	// The stage history: prod #3 and #6, staging #4 and its unassignment
	// #8, canary #9.
	want := &gto.ImportReport{Artifacts: 2, ModelsCreated: 2, VersionsCreated: 5, VersionsArchived: 1, AliasesSet: 4, AliasesDeleted: 1, ModelsArchived: 1}
	rep.Bytes = 0
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}

	churn, err := cl.GetModel(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	if churn.Kind != cairn.KindModel || churn.Description != "Churn classifier" || churn.Tags["gto.labels"] != "tabular,prod-critical" ||
		churn.Tags["gto.path"] != "models/churn" || churn.Archived {
		t.Errorf("churn: %+v", churn)
	}
	// prod moved to v1.1.0 (#6), staging was unassigned (#8), canary
	// points at the commit-named version of c4.
	if diff := cmp.Diff(map[string]int64{"prod": 2, "canary": 4}, churn.Aliases); diff != "" {
		t.Errorf("churn aliases (-want +got):\n%s", diff)
	}
	type vrow struct {
		Version, Commit, GitTag, Unregistered string
		Archived                              bool
		Files                                 map[string]string
	}
	var got []vrow
	for n := int64(1); n <= 4; n++ {
		v, err := cl.GetVersion(ctx, "churn", n)
		if err != nil {
			t.Fatal(err)
		}
		if v.SourceCodeVersion != v.Tags["gto.commit"] || !strings.HasPrefix(v.Source, "git+https://example.com/ml.git#churn@") {
			t.Errorf("churn@v%d: source %q, code version %q", n, v.Source, v.SourceCodeVersion)
		}
		got = append(got, vrow{v.Tags["gto.version"], v.Tags["gto.commit"], v.Tags["gto.tag"], v.Tags["gto.unregistered"], v.Archived,
			files(t, cl, fmt.Sprintf("churn@v%d", n))})
	}
	wantRows := []vrow{
		{"v1.0.0", c1, "churn@v1.0.0#1", "", true, map[string]string{"model.pkl": "weights-1", "conf/params.json": `{"depth": 6}`}},
		{"v1.1.0", c2, "churn@v1.1.0#2", "", false, map[string]string{"model.pkl": "weights-2", "conf/params.json": `{"depth": 6}`}},
		{"v2.0.0", c3, "churn@v2.0.0#5", "", false, map[string]string{"model.pkl": "weights-3", "conf/params.json": `{"depth": 6}`}},
		{c4, c4, "", "true", false, map[string]string{"model.pkl": "weights-4", "conf/params.json": `{"depth": 6}`}},
	}
	if diff := cmp.Diff(wantRows, got); diff != "" {
		t.Errorf("churn versions (-want +got):\n%s", diff)
	}
	// Every stage move is in the alias history, in tag order, each with
	// its tag, tagger and tagger date.
	tagged := map[string]time.Time{}
	tags, err := repo.Tags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range tags {
		tagged[tg.Name] = tg.Time
	}
	wantMoves := func(tags ...string) []move {
		var out []move
		for _, s := range tags {
			var m move
			if _, err := fmt.Sscanf(s, "%s %d %d %s", &m.Alias, &m.From, &m.To, &m.Ref); err != nil {
				t.Fatal(err)
			}
			m.Actor, m.At = "Ada <ada@example.com>", tagged[m.Ref]
			out = append(out, m)
		}
		return out
	}
	history := wantMoves("prod 0 1 churn#prod#3", "staging 0 2 churn#staging#4", "prod 1 2 churn#prod#6",
		"staging 2 0 churn#staging!#8", "canary 0 4 churn#canary#9")
	if diff := cmp.Diff(history, aliasHistory(t, cl, "churn")); diff != "" {
		t.Errorf("churn alias history, oldest first (-want +got):\n%s", diff)
	}
	fraud, err := cl.GetModel(ctx, "fraud")
	if err != nil || fraud.Kind != cairn.KindDataset || !fraud.Archived {
		t.Errorf("fraud: %+v, %v", fraud, err)
	}
	if f := files(t, cl, "fraud@v1"); f["fraud.csv"] != "a,b\n1,2\n" || len(f) != 1 {
		t.Errorf("fraud@v1 files %v", f)
	}

	// Importing again changes nothing.
	rep, err = gto.Import(ctx, repo, cl, gto.ImportOptions{Source: "git+https://example.com/ml.git"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&gto.ImportReport{Artifacts: 2, VersionsSkipped: 5}, rep); diff != "" {
		t.Errorf("second import (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(history, aliasHistory(t, cl, "churn")); diff != "" {
		t.Errorf("churn alias history after importing again (-want +got):\n%s", diff)
	}

	// New tags import incrementally: a registration of the canary
	// commit, prod moved to it, a description change.
	r.commit("fifth", map[string]string{"artifacts.yaml": strings.Replace(annotations, "Churn classifier", "Churn classifier, v3", 1)})
	r.tag("churn@v3.0.0#10", c4, "v3")
	r.tag("churn#prod#11", c4, "v3 to prod")
	rep, err = gto.Import(ctx, repo, cl, gto.ImportOptions{Source: "git+https://example.com/ml.git"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&gto.ImportReport{Artifacts: 2, ModelsUpdated: 1, VersionsCreated: 1, VersionsSkipped: 5, AliasesSet: 1, Bytes: rep.Bytes}, rep); diff != "" {
		t.Errorf("incremental import (-want +got):\n%s", diff)
	}
	churn, _ = cl.GetModel(ctx, "churn")
	if churn.Aliases["prod"] != 5 || churn.Description != "Churn classifier, v3" {
		t.Errorf("after the incremental import: aliases %v, description %q", churn.Aliases, churn.Description)
	}
	tags, err = repo.Tags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range tags {
		tagged[tg.Name] = tg.Time
	}
	history = append(history, wantMoves("prod 2 5 churn#prod#11")...)
	if diff := cmp.Diff(history, aliasHistory(t, cl, "churn")); diff != "" {
		t.Errorf("churn alias history after the incremental import (-want +got):\n%s", diff)
	}
}

// move is an alias move as a GTO import must keep it.
type move struct {
	Alias    string
	From, To int64
	Ref      string // the origin: the tag, its tagger and date
	Actor    string
	At       time.Time
}

// aliasHistory returns every move of a model's aliases, oldest first.
func aliasHistory(t *testing.T, cl *client.Client, model string) []move {
	t.Helper()
	p, err := cl.AliasHistory(t.Context(), model, "", 1000, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []move
	for i := len(p.Items) - 1; i >= 0; i-- {
		mv := p.Items[i]
		m := move{Alias: mv.Alias, From: mv.From, To: mv.To}
		if o := mv.Origin; o != nil {
			if o.System != gto.OriginSystem {
				t.Errorf("move %d of %s@%s: origin system %q", mv.Seq, model, mv.Alias, o.System)
			}
			m.Ref, m.Actor, m.At = o.Ref, o.Actor, o.At
		}
		out = append(out, m)
	}
	return out
}

func TestImportRefusesNonRepo(t *testing.T) {
	t.Parallel()
	_, cl := newClient(t)
	_, err := gto.Import(context.Background(), &gto.Repo{Dir: t.TempDir()}, cl, gto.ImportOptions{})
	if !cairn.IsCode(err, cairn.EINVALID) || !strings.Contains(err.Error(), "not a git repository") {
		t.Errorf("Import of a plain directory = %v", err)
	}
}

type modelView struct {
	Kind        cairn.Kind
	Description string
	Archived    bool
	Aliases     map[string]int64
	Versions    []versionView
}

type versionView struct {
	Name     string // gto.version; commit-named versions as "<commit>"
	Archived bool
	Files    map[string]string
}

// view reads what a GTO round trip must keep of a registry.
func view(t *testing.T, cl *client.Client) map[string]modelView {
	t.Helper()
	ctx := t.Context()
	out := map[string]modelView{}
	page, err := cl.ListModels(ctx, client.ListRequest{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range page.Items {
		mv := modelView{Kind: m.Kind, Description: m.Description, Archived: m.Archived, Aliases: m.Aliases}
		for n := int64(1); n <= m.LatestVersion; n++ {
			v, err := cl.GetVersion(ctx, m.Name, n)
			if err != nil {
				t.Fatal(err)
			}
			name := v.Tags["gto.version"]
			if v.Tags["gto.unregistered"] == "true" {
				name = "<commit>"
			}
			mv.Versions = append(mv.Versions, versionView{name, v.Archived, files(t, cl, fmt.Sprintf("%s@v%d", m.Name, n))})
		}
		out[m.Name] = mv
	}
	return out
}

// TestExportRoundTrip: a registry imported from GTO and exported into an
// empty repository (where the original commits do not exist, so the
// versions' files are committed afresh) imports into another Cairn as the
// same registry; exporting again, or into the original repository, adds
// nothing.
func TestExportRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	r := newGitRepo(t)
	build(r)
	_, a := newClient(t)
	if _, err := gto.Import(ctx, &gto.Repo{Dir: r.dir}, a, gto.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	want := view(t, a)

	// Into the original repository: it says everything already.
	rep, err := gto.Export(ctx, &gto.Repo{Dir: r.dir}, a, gto.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Tags != 0 || rep.Commits != 0 {
		t.Errorf("export into the repository imported from: %+v; want nothing written", rep)
	}

	dir := filepath.Join(t.TempDir(), "exported")
	ex := &gto.Repo{Dir: dir, Env: []string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"}}
	rep, err = gto.Export(ctx, ex, a, gto.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// churn: v1.0.0 registered and deregistered, v1.1.0, v2.0.0, then
	// the stage history (prod, staging, prod, staging unassigned,
	// canary); fraud: v0.1.0 and its deprecation.
	if rep.Artifacts != 2 || rep.Tags != 11 || rep.Commits < 5 {
		t.Errorf("export into an empty directory: %+v", rep)
	}
	tags, err := ex.Tags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range tags {
		names = append(names, tg.Name)
	}
	wantTags := []string{"churn@v1.0.0#1", "churn@v1.0.0!#2", "churn@v1.1.0#3", "churn@v2.0.0#4",
		"churn#prod#5", "churn#staging#6", "churn#prod#7", "churn#staging!#8", "churn#canary#9",
		"fraud@v0.1.0#1", "fraud@deprecated#2"}
	if diff := cmp.Diff(wantTags, names); diff != "" {
		t.Errorf("exported tags in GTO's order (-want +got):\n%s", diff)
	}
	anns, err := ex.Annotations(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]gto.Annotation{
		"churn": {Type: "model", Path: "models/churn", Description: "Churn classifier", Labels: []string{"tabular", "prod-critical"}},
		"fraud": {Type: "dataset", Path: "data/fraud.csv"},
	}, anns); diff != "" {
		t.Errorf("exported artifacts.yaml (-want +got):\n%s", diff)
	}

	_, b := newClient(t)
	if _, err := gto.Import(ctx, ex, b, gto.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, view(t, b)); diff != "" {
		t.Errorf("after GTO → Cairn → GTO → Cairn (-first +second):\n%s", diff)
	}
	// The stage history comes through too: every move, and who made it
	// (the exported tags' tagger); the dates are the export's, GTO
	// ordering tags by them.
	strip := func(ms []move) []move {
		for i := range ms {
			ms[i].Ref, ms[i].At = "", time.Time{}
		}
		return ms
	}
	if diff := cmp.Diff(strip(aliasHistory(t, a, "churn")), strip(aliasHistory(t, b, "churn"))); diff != "" {
		t.Errorf("churn's alias history after the round trip (-first +second):\n%s", diff)
	}
	if h := aliasHistory(t, b, "churn"); len(h) != 5 || h[0].Actor != "Ada <ada@example.com>" {
		t.Errorf("churn's alias history in the second registry: %+v", h)
	}

	rep, err = gto.Export(ctx, ex, a, gto.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Tags != 0 || rep.Commits != 0 {
		t.Errorf("exporting again: %+v; want nothing written", rep)
	}

	// A move made in Cairn after the import goes back to the original
	// repository as one assignment, once; importing it back changes
	// nothing.
	if _, err := a.SetAlias(ctx, "churn", "prod", 3, nil); err != nil {
		t.Fatal(err)
	}
	for i, wantTags := range []int{1, 0} {
		if rep, err = gto.Export(ctx, &gto.Repo{Dir: r.dir}, a, gto.ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		if rep.Tags != wantTags || rep.Commits != 0 {
			t.Errorf("export %d of the new move: %+v; want %d tag(s)", i+1, rep, wantTags)
		}
	}
	before := aliasHistory(t, a, "churn")
	irep, err := gto.Import(ctx, &gto.Repo{Dir: r.dir}, a, gto.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if irep.AliasesSet != 0 || irep.AliasesDeleted != 0 {
		t.Errorf("importing the exported move back: %+v", irep)
	}
	if diff := cmp.Diff(before, aliasHistory(t, a, "churn")); diff != "" {
		t.Errorf("history after importing the exported move back (-before +after):\n%s", diff)
	}
	st, err := (&gto.Repo{Dir: r.dir}).Tags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := st[len(st)-1]
	if last.Artifact != "churn" || last.Action != gto.Assign || last.Stage != "prod" || !strings.Contains(last.Message, "Cairn-Move: ") {
		t.Errorf("the exported move's tag: %+v", last)
	}
}

// BenchmarkImport measures importing a generated GTO repository: b.N
// versions of one artifact, each a commit changing a 1 MiB file, each
// registered, every tenth assigned to prod.
func BenchmarkImport(b *testing.B) {
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("git is not installed")
	}
	dir := b.TempDir()
	run := func(env []string, args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), append([]string{"GIT_AUTHOR_NAME=b", "GIT_AUTHOR_EMAIL=b@x", "GIT_COMMITTER_NAME=b",
			"GIT_COMMITTER_EMAIL=b@x", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"}, env...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run(nil, "init", "-q")
	if err := os.WriteFile(filepath.Join(dir, "artifacts.yaml"), []byte("m:\n  type: model\n  path: model.bin\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	blob := make([]byte, 1<<20)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range b.N {
		for j := range blob {
			blob[j] = byte(i*31 + j*7 + j>>11)
		}
		if err := os.WriteFile(filepath.Join(dir, "model.bin"), blob, 0o644); err != nil {
			b.Fatal(err)
		}
		env := []string{"GIT_COMMITTER_DATE=" + base.Add(time.Duration(i)*time.Minute).Format(time.RFC3339)}
		run(env, "add", "-A")
		run(env, "commit", "-q", "-m", fmt.Sprint("c", i))
		run(env, "tag", "-a", fmt.Sprintf("m@v1.%d.0#%d", i, 2*i+1), "-m", "r")
		if i%10 == 0 {
			run(env, "tag", "-a", fmt.Sprintf("m#prod#%d", 2*i+2), "-m", "p")
		}
	}
	e := apitest.New(b, apitest.Options{})
	cl := client.New(e.Server.URL, client.WithHTTPClient(e.Server.Client()))
	b.ResetTimer()
	start := time.Now()
	rep, err := gto.Import(b.Context(), &gto.Repo{Dir: dir}, cl, gto.ImportOptions{})
	if err != nil {
		b.Fatal(err)
	}
	el := time.Since(start).Seconds()
	b.ReportMetric(float64(rep.VersionsCreated)/el, "versions/s")
	b.ReportMetric(float64(rep.Bytes)/el/(1<<20), "MiB/s")
}
