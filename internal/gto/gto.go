// Package gto moves registries between GTO (iterative/gto, "Git Tag Ops")
// and Cairn. GTO keeps a registry in a git repository: annotated tags
// record what happened to each artifact —
//
//	churn@v1.2.0        register version v1.2.0 at the tagged commit
//	churn@v1.2.0!       deregister it
//	churn#prod          assign stage prod to the version at the tagged commit
//	churn#prod!         unassign it
//	churn@deprecated    deprecate the artifact
//
// each optionally followed by "#N", a per-artifact counter (churn#prod#3)
// — and artifacts.yaml at the repository root describes artifacts (type,
// path, description, labels). Tags are read in the order of their tagger
// dates; lightweight tags are not GTO's and are ignored. An artifact name
// may carry a directory, "dir:name", written "dir=name" in tags.
//
// Import (import.go) turns artifacts into models, versions (the files at
// the tagged commit, taken with git archive) and stages into aliases;
// Export (export.go) writes a Cairn registry back as tags and
// artifacts.yaml. Both shell out to git and talk to Cairn through its
// client, like every CLI command. This package is the only one that reads
// YAML (go.yaml.in/yaml/v3).
package gto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
	"go.yaml.in/yaml/v3"
)

// Action is what a GTO tag does.
type Action string

// GTO's actions.
const (
	Register   Action = "register"
	Deregister Action = "deregister"
	Assign     Action = "assign"
	Unassign   Action = "unassign"
	Deprecate  Action = "deprecate"
	Create     Action = "create"
)

// The tag grammar, as GTO defines it: names are lower-case letters, digits,
// '-' and '/', starting and ending with a letter or digit; a directory
// prefix "dir:" is written "dir=" in tags; versions are "v" and a semantic
// version.
const (
	namePattern    = `[a-z0-9](?:[a-z0-9\-/]*[a-z0-9])?`
	dirnamePattern = `[a-z0-9\-_./]+`
	semverPattern  = `(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)` +
		`(?:-(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*)?` +
		`(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?`
)

var (
	tagRE = regexp.MustCompile(`^(?P<artifact>(?:` + dirnamePattern + `=)?` + namePattern + `)` +
		`(?:(?:#(?P<stage>` + namePattern + `)|@(?P<version>v` + semverPattern + `))(?P<cancel>!?)|@(?P<deprecated>deprecated)|@(?P<created>created))` +
		`(?:#(?P<counter>[0-9]+))?$`)
	nameRE    = regexp.MustCompile(`^(?:` + dirnamePattern + `:)?` + namePattern + `$`)
	stageRE   = regexp.MustCompile(`^` + namePattern + `$`)
	versionRE = regexp.MustCompile(`^v` + semverPattern + `$`)
	shaRE     = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// ValidName reports whether s is a GTO artifact name ("name" or "dir:name").
func ValidName(s string) bool { return nameRE.MatchString(s) }

// ValidStage reports whether s is a GTO stage name.
func ValidStage(s string) bool { return stageRE.MatchString(s) }

// ValidVersion reports whether s is a GTO version name, "v" and a semver.
func ValidVersion(s string) bool { return versionRE.MatchString(s) }

// Tag is one GTO tag.
type Tag struct {
	Name     string // the git tag
	Artifact string // the artifact's name, "dir:name" form
	Action   Action
	Version  string // register, deregister
	Stage    string // assign, unassign
	Counter  int    // 0: none
	Commit   string // the tagged commit
	Time     time.Time
	Tagger   string
	Email    string
	Message  string
}

// ParseTagName parses a tag name; false if it is not a GTO tag.
func ParseTagName(name string) (Tag, bool) {
	m := tagRE.FindStringSubmatch(name)
	if m == nil {
		return Tag{}, false
	}
	g := func(n string) string { return m[tagRE.SubexpIndex(n)] }
	t := Tag{Name: name, Artifact: strings.Replace(g("artifact"), "=", ":", 1)}
	switch {
	case g("deprecated") != "":
		t.Action = Deprecate
	case g("created") != "":
		t.Action = Create
	case g("version") != "":
		t.Version, t.Action = g("version"), Register
		if g("cancel") == "!" {
			t.Action = Deregister
		}
	case g("stage") != "":
		t.Stage, t.Action = g("stage"), Assign
		if g("cancel") == "!" {
			t.Action = Unassign
		}
	}
	if c := g("counter"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil {
			return Tag{}, false
		}
		t.Counter = n
	}
	return t, true
}

// TagName returns the git tag of an action on artifact: version for
// register and deregister, stage for assign and unassign; counter 0 for
// none.
func TagName(artifact string, action Action, version, stage string, counter int) string {
	a := strings.Replace(artifact, ":", "=", 1)
	var s string
	switch action {
	case Register:
		s = a + "@" + version
	case Deregister:
		s = a + "@" + version + "!"
	case Assign:
		s = a + "#" + stage
	case Unassign:
		s = a + "#" + stage + "!"
	case Deprecate:
		s = a + "@deprecated"
	case Create:
		s = a + "@created"
	}
	if counter > 0 {
		s += "#" + strconv.Itoa(counter)
	}
	return s
}

// Annotation is an artifact's entry in artifacts.yaml.
type Annotation struct {
	Type        string         `yaml:"type,omitempty"`
	Path        string         `yaml:"path,omitempty"`
	Description string         `yaml:"description,omitempty"`
	Labels      []string       `yaml:"labels,omitempty"`
	MustExist   *bool          `yaml:"must_exist,omitempty"`
	Custom      map[string]any `yaml:"custom,omitempty"`
}

// AnnotationsFile is where GTO keeps annotations, at the repository root.
const AnnotationsFile = "artifacts.yaml"

// ParseAnnotations reads artifacts.yaml; EINVALID if it is not a mapping
// of artifact names to annotations.
func ParseAnnotations(b []byte) (map[string]Annotation, error) {
	out := map[string]Annotation{}
	if len(bytes.TrimSpace(b)) == 0 {
		return out, nil
	}
	if err := yaml.Unmarshal(b, &out); err != nil {
		return nil, cairn.Errorf(cairn.EINVALID, "%s: %v", AnnotationsFile, err)
	}
	for name := range out {
		if !ValidName(name) {
			return nil, cairn.Errorf(cairn.EINVALID, "%s: %q is not a GTO artifact name", AnnotationsFile, name)
		}
	}
	return out, nil
}

// MarshalAnnotations writes artifacts.yaml, artifacts by name.
func MarshalAnnotations(a map[string]Annotation) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(a); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Repo is a git working tree or bare repository; every operation runs git.
type Repo struct {
	Dir string
	// Env is added to git's environment (tagger and committer identity
	// and dates, in tests).
	Env []string
}

// Git runs git with args in the repository and returns its standard
// output; the error carries its standard error.
func (r *Repo) Git(ctx context.Context, args ...string) ([]byte, error) {
	return r.gitIn(ctx, nil, args...)
}

func (r *Repo) gitIn(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", r.Dir}, args...)...)
	cmd.Env = append(cmd.Environ(), r.Env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("git %s: %s", strings.Join(args, " "), strings.TrimSpace(stderr.String()))
		}
		return nil, fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return stdout.Bytes(), nil
}

// Tags reads the repository's GTO tags, annotated ones only, in GTO's
// order: by tagger date, then counter, then name.
func (r *Repo) Tags(ctx context.Context) ([]Tag, error) {
	const format = "%(refname:strip=2)%00%(objecttype)%00%(*objectname)%00%(taggername)%00%(taggeremail:trim)%00%(taggerdate:unix)%00%(contents)%1e"
	out, err := r.Git(ctx, "for-each-ref", "--format="+format, "refs/tags")
	if err != nil {
		return nil, err
	}
	var tags []Tag
	for _, rec := range strings.Split(string(out), "\x1e") {
		rec = strings.TrimLeft(rec, "\n")
		if rec == "" {
			continue
		}
		f := strings.SplitN(rec, "\x00", 7)
		if len(f) != 7 || f[1] != "tag" {
			continue // a lightweight tag: not GTO's
		}
		t, ok := ParseTagName(f[0])
		if !ok {
			continue
		}
		sec, err := strconv.ParseInt(f[5], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("tag %s: tagger date %q", f[0], f[5])
		}
		t.Commit, t.Tagger, t.Email, t.Time = f[2], f[3], f[4], time.Unix(sec, 0).UTC()
		t.Message = strings.TrimSpace(f[6])
		if !shaRE.MatchString(t.Commit) {
			continue // a tag of a tree or blob
		}
		tags = append(tags, t)
	}
	sort.SliceStable(tags, func(i, j int) bool {
		a, b := tags[i], tags[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		if a.Counter != b.Counter {
			return a.Counter < b.Counter
		}
		return a.Name < b.Name
	})
	return tags, nil
}

// Annotations reads artifacts.yaml at a commit ("" for HEAD); none if the
// commit has no such file.
func (r *Repo) Annotations(ctx context.Context, commit string) (map[string]Annotation, error) {
	if commit == "" {
		commit = "HEAD"
	}
	if _, err := r.Git(ctx, "cat-file", "-e", commit+":"+AnnotationsFile); err != nil {
		return map[string]Annotation{}, nil
	}
	b, err := r.Git(ctx, "show", commit+":"+AnnotationsFile)
	if err != nil {
		return nil, err
	}
	return ParseAnnotations(b)
}

// Version is a version of an artifact as GTO sees it: registered with a
// semantic version, or, when a stage was assigned to a commit no version
// was registered at, named by that commit.
type Version struct {
	Name         string
	Commit       string
	Registered   bool
	Deregistered bool
	Time         time.Time
	Author       string
	Email        string
	Message      string
	Tag          string
}

// Artifact is an artifact's state after every tag.
type Artifact struct {
	Name       string
	Versions   []*Version        // in the order they appeared
	Stages     map[string]string // stage → version name, as assigned now
	Unassigned []string          // stages assigned once and not now
	Deprecated bool
	Counter    int // the highest tag counter seen
	// Moves is the stage history: every assignment, and every
	// unassignment that took a stage away, in tag order.
	Moves []StageMove
}

// StageMove is one assignment of a stage to a version, or (Version "")
// an unassignment, and the tag that made it.
type StageMove struct {
	Stage   string
	Version string // the version name assigned; "" when unassigned
	Tag     Tag
}

// Actor is who made the tag, "Name <email>" as git writes it.
func (t Tag) Actor() string {
	if t.Email == "" {
		return t.Tagger
	}
	return strings.TrimSpace(t.Tagger + " <" + t.Email + ">")
}

// Version returns the version named name, or nil.
func (a *Artifact) Version(name string) *Version {
	for _, v := range a.Versions {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// atCommit returns the latest registered version at commit, else the
// commit-named one, creating it.
func (a *Artifact) atCommit(t Tag) *Version {
	var found *Version
	for _, v := range a.Versions {
		if v.Commit == t.Commit && (found == nil || v.Registered && !v.Deregistered) {
			found = v
		}
	}
	if found == nil {
		found = &Version{Name: t.Commit, Commit: t.Commit, Time: t.Time, Author: t.Tagger, Email: t.Email, Message: t.Message}
		a.Versions = append(a.Versions, found)
	}
	return found
}

// State replays tags (in Tags' order) into artifacts, by name.
func State(tags []Tag) map[string]*Artifact {
	arts := map[string]*Artifact{}
	for _, t := range tags {
		a := arts[t.Artifact]
		if a == nil {
			a = &Artifact{Name: t.Artifact, Stages: map[string]string{}}
			arts[t.Artifact] = a
		}
		a.Counter = max(a.Counter, t.Counter)
		switch t.Action {
		case Register:
			v := a.Version(t.Version)
			if v == nil {
				v = &Version{Name: t.Version}
				a.Versions = append(a.Versions, v)
			}
			v.Commit, v.Registered, v.Deregistered = t.Commit, true, false
			v.Time, v.Author, v.Email, v.Message, v.Tag = t.Time, t.Tagger, t.Email, t.Message, t.Name
		case Deregister:
			if v := a.Version(t.Version); v != nil {
				v.Deregistered = true
			}
		case Assign:
			a.Stages[t.Stage] = a.atCommit(t).Name
			a.Unassigned = remove(a.Unassigned, t.Stage)
			a.Moves = append(a.Moves, StageMove{Stage: t.Stage, Version: a.Stages[t.Stage], Tag: t})
		case Unassign:
			if v := a.atCommit(t); a.Stages[t.Stage] == v.Name {
				delete(a.Stages, t.Stage)
				a.Unassigned = append(remove(a.Unassigned, t.Stage), t.Stage)
				a.Moves = append(a.Moves, StageMove{Stage: t.Stage, Tag: t})
			}
		case Deprecate:
			a.Deprecated = true
		}
	}
	return arts
}

func remove(s []string, v string) []string {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}
