package cairn

import (
	"strconv"
	"strings"
)

// RefKind says what a reference selects.
type RefKind int

// Reference kinds.
const (
	RefLatest  RefKind = iota // NAME or NAME@latest: newest ready, unarchived version
	RefVersion                // NAME@v7: version 7
	RefAlias                  // NAME@champion: whatever the alias points at
)

// Ref is a parsed reference: NAME, NAME@latest, NAME@v7 or NAME@alias.
type Ref struct {
	Model   string
	Kind    RefKind
	Version int64  // set when Kind == RefVersion
	Alias   string // set when Kind == RefAlias
}

// ParseRef parses the reference grammar shared by the CLI, the API and the
// UI. It also accepts MLflow URIs: models:/NAME/7 and models:/NAME@alias.
func ParseRef(s string) (Ref, error) {
	if rest, ok := strings.CutPrefix(s, "models:/"); ok {
		return parseMLflowRef(s, rest)
	}
	name, sel, hasSel := strings.Cut(s, "@")
	if err := ValidateModelName(name); err != nil {
		return Ref{}, WrapError(EINVALID, err, "invalid reference %q", truncate(s, 120))
	}
	if !hasSel {
		return Ref{Model: name, Kind: RefLatest}, nil
	}
	return parseSelector(s, name, sel)
}

func parseSelector(s, name, sel string) (Ref, error) {
	switch {
	case sel == "":
		return Ref{}, Errorf(EINVALID, "invalid reference %q: nothing after '@'", truncate(s, 120))
	case strings.EqualFold(sel, "latest"):
		return Ref{Model: name, Kind: RefLatest}, nil
	case reservedVersion.MatchString(sel):
		n, err := ParseVersionNumber(sel)
		if err != nil {
			return Ref{}, WrapError(EINVALID, err, "invalid reference %q", truncate(s, 120))
		}
		return Ref{Model: name, Kind: RefVersion, Version: n}, nil
	}
	if err := ValidateAliasName(sel); err != nil {
		return Ref{}, WrapError(EINVALID, err, "invalid reference %q", truncate(s, 120))
	}
	return Ref{Model: name, Kind: RefAlias, Alias: sel}, nil
}

// parseMLflowRef handles the part after "models:/": NAME/7, NAME@alias,
// NAME/latest.
func parseMLflowRef(s, rest string) (Ref, error) {
	if name, sel, ok := strings.Cut(rest, "@"); ok {
		if err := ValidateModelName(name); err != nil {
			return Ref{}, WrapError(EINVALID, err, "invalid model URI %q", truncate(s, 120))
		}
		return parseSelector(s, name, sel)
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return Ref{}, Errorf(EINVALID, "invalid model URI %q: want models:/NAME/VERSION or models:/NAME@ALIAS", truncate(s, 120))
	}
	name, sel := rest[:i], rest[i+1:]
	if err := ValidateModelName(name); err != nil {
		return Ref{}, WrapError(EINVALID, err, "invalid model URI %q", truncate(s, 120))
	}
	if strings.EqualFold(sel, "latest") {
		return Ref{Model: name, Kind: RefLatest}, nil
	}
	n, err := ParseVersionNumber(sel)
	if err != nil {
		return Ref{}, WrapError(EINVALID, err, "invalid model URI %q", truncate(s, 120))
	}
	return Ref{Model: name, Kind: RefVersion, Version: n}, nil
}

// ParseVersionNumber parses "7" or "v7" into 7. Version numbers start at 1.
func ParseVersionNumber(s string) (int64, error) {
	digits := s
	if len(s) > 1 && (s[0] == 'v' || s[0] == 'V') {
		digits = s[1:]
	}
	if digits == "" || len(digits) > 18 {
		return 0, Errorf(EINVALID, "invalid version number %q", truncate(s, 40))
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, Errorf(EINVALID, "invalid version number %q: want a number such as 3 or v3", truncate(s, 40))
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 1 {
		return 0, Errorf(EINVALID, "invalid version number %q: versions start at 1", truncate(s, 40))
	}
	return n, nil
}

// String formats the reference canonically: NAME@latest, NAME@v7 or
// NAME@alias. ParseRef(r.String()) == r for every valid r.
func (r Ref) String() string {
	switch r.Kind {
	case RefVersion:
		return r.Model + "@v" + strconv.FormatInt(r.Version, 10)
	case RefAlias:
		return r.Model + "@" + r.Alias
	}
	return r.Model + "@latest"
}

// VersionRef returns the canonical reference of a concrete version.
func VersionRef(model string, number int64) string {
	return Ref{Model: model, Kind: RefVersion, Version: number}.String()
}

// IsURI reports whether s is a URI rather than a reference. Model names may
// not contain ':', so anything with a colon is a URI.
func IsURI(s string) bool { return strings.Contains(s, ":") }
