package cairn

import (
	"math"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on user-supplied strings. They bound storage and keep every value
// printable in a terminal, a URL and a log line.
const (
	MaxNameLength        = 256
	MaxAliasLength       = 255
	MaxTagKeyLength      = 250
	MaxTagValueLength    = 5000
	MaxTags              = 100
	MaxMetricKeyLength   = 250
	MaxParamValueLength  = 6000
	MaxMetricsOrParams   = 1000
	MaxDescriptionLength = 64 << 10
	MaxFieldLength       = 1024 // run_id, source, URIs, framework, trained_by
	MaxRefs              = 100
)

// ValidateModelName returns invalid unless name is a usable model name:
// 1–256 characters of valid UTF-8, no '/', ':', '@', control characters, and
// no leading or trailing white space. ':' is excluded so that a string with a
// colon is always a URI and never a reference; '@' separates a name from an
// alias or version.
func ValidateModelName(name string) error {
	if name == "" {
		return Errorf(EINVALID, "model name must not be empty")
	}
	if !utf8.ValidString(name) {
		return Errorf(EINVALID, "model name must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(name); n > MaxNameLength {
		return Errorf(EINVALID, "model name is %d characters long; the limit is %d", n, MaxNameLength)
	}
	for _, r := range name {
		switch {
		case r == '/' || r == ':' || r == '@':
			return Errorf(EINVALID, "invalid model name %q: must not contain %q", truncate(name, 120), r)
		case unicode.IsControl(r) || r == utf8.RuneError:
			return Errorf(EINVALID, "invalid model name %q: must not contain control characters", truncate(name, 120))
		}
	}
	if strings.TrimSpace(name) != name {
		return Errorf(EINVALID, "invalid model name %q: must not start or end with white space", truncate(name, 120))
	}
	if name == "." || name == ".." {
		return Errorf(EINVALID, "invalid model name %q", name)
	}
	return nil
}

var (
	aliasPattern    = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	reservedVersion = regexp.MustCompile(`^[vV][0-9]+$`)
)

// ValidateAliasName returns invalid unless name is a settable alias: 1–255
// characters from [A-Za-z0-9_-], not "latest" and not v<digits>, in any case.
func ValidateAliasName(name string) error {
	if name == "" {
		return Errorf(EINVALID, "alias name must not be empty")
	}
	if len(name) > MaxAliasLength {
		return Errorf(EINVALID, "alias name is %d characters long; the limit is %d", len(name), MaxAliasLength)
	}
	if !aliasPattern.MatchString(name) {
		return Errorf(EINVALID, "invalid alias name %q: use letters, digits, '_' and '-' only", truncate(name, 120))
	}
	if strings.EqualFold(name, "latest") || reservedVersion.MatchString(name) {
		return Errorf(EINVALID, "alias name %q is reserved: 'latest' and 'v<number>' always mean a version", name)
	}
	return nil
}

// ValidateTags checks tag keys and values.
func ValidateTags(tags map[string]string) error {
	if len(tags) > MaxTags {
		return Errorf(EINVALID, "%d tags given; the limit is %d", len(tags), MaxTags)
	}
	for k, v := range tags {
		if err := ValidateTag(k, v); err != nil {
			return err
		}
	}
	return nil
}

// ValidateTag checks one tag key and value.
func ValidateTag(key, value string) error {
	if err := validateKey("tag key", key, MaxTagKeyLength); err != nil {
		return err
	}
	if !utf8.ValidString(value) {
		return Errorf(EINVALID, "tag %q: value must be valid UTF-8", key)
	}
	if len(value) > MaxTagValueLength {
		return Errorf(EINVALID, "tag %q: value is %d bytes long; the limit is %d", key, len(value), MaxTagValueLength)
	}
	return nil
}

// ValidateMetrics checks metric keys and that every value is finite.
func ValidateMetrics(m map[string]float64) error {
	if len(m) > MaxMetricsOrParams {
		return Errorf(EINVALID, "%d metrics given; the limit is %d", len(m), MaxMetricsOrParams)
	}
	for k, v := range m {
		if err := validateKey("metric name", k, MaxMetricKeyLength); err != nil {
			return err
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Errorf(EINVALID, "metric %q: value must be a finite number", k)
		}
	}
	return nil
}

// ValidateParams checks param keys and values.
func ValidateParams(p map[string]string) error {
	if len(p) > MaxMetricsOrParams {
		return Errorf(EINVALID, "%d params given; the limit is %d", len(p), MaxMetricsOrParams)
	}
	for k, v := range p {
		if err := validateKey("param name", k, MaxMetricKeyLength); err != nil {
			return err
		}
		if !utf8.ValidString(v) {
			return Errorf(EINVALID, "param %q: value must be valid UTF-8", k)
		}
		if len(v) > MaxParamValueLength {
			return Errorf(EINVALID, "param %q: value is %d bytes long; the limit is %d", k, len(v), MaxParamValueLength)
		}
	}
	return nil
}

// keyPattern is deliberately narrow: keys appear in filters (tags.<key>,
// metrics.<key>) and must be writable there, quoted with backticks if need be.
var keyPattern = regexp.MustCompile(`^[A-Za-z0-9_.\-/ :]+$`)

func validateKey(what, key string, max int) error {
	if key == "" {
		return Errorf(EINVALID, "%s must not be empty", what)
	}
	if len(key) > max {
		return Errorf(EINVALID, "%s is %d characters long; the limit is %d", what, len(key), max)
	}
	if !keyPattern.MatchString(key) {
		return Errorf(EINVALID, "invalid %s %q: use letters, digits, spaces and '_', '-', '.', '/', ':'", what, truncate(key, 120))
	}
	return nil
}

// ValidateText checks a free-form single-line field such as a run id, a
// source URI or a framework name.
func ValidateText(field, value string) error {
	if !utf8.ValidString(value) {
		return Errorf(EINVALID, "%s must be valid UTF-8", field)
	}
	if len(value) > MaxFieldLength {
		return Errorf(EINVALID, "%s is %d bytes long; the limit is %d", field, len(value), MaxFieldLength)
	}
	for _, r := range value {
		if unicode.IsControl(r) {
			return Errorf(EINVALID, "%s must not contain control characters", field)
		}
	}
	return nil
}

// ValidateDescription checks a Markdown description.
func ValidateDescription(s string) error {
	if !utf8.ValidString(s) {
		return Errorf(EINVALID, "description must be valid UTF-8")
	}
	if len(s) > MaxDescriptionLength {
		return Errorf(EINVALID, "description is %d bytes long; the limit is %d", len(s), MaxDescriptionLength)
	}
	if strings.ContainsRune(s, 0) {
		return Errorf(EINVALID, "description must not contain NUL")
	}
	return nil
}
