// Package jsonschema compiles JSON Schema documents and validates JSON
// values against them, for policies' required metadata. It wraps
// github.com/santhosh-tekuri/jsonschema/v6 (drafts 4 to 2020-12, pure Go,
// no dependencies of its own), so that the rest of Cairn sees one small
// API and *cairn.Error values.
//
// A schema is self-contained: $ref may point inside the document and at
// the standard meta-schemas, never at files or URLs, so a policy cannot
// make the server read its disk or the network.
package jsonschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	js "github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/cairn-registry/cairn"
)

// Schema is a compiled schema, safe for concurrent use.
type Schema struct {
	s *js.Schema
}

// noLoader refuses every external reference.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external references are not allowed in a policy schema (%s)", url)
}

// resource is the name the document is compiled under.
const resource = "urn:cairn:policy-schema"

// Compile compiles a schema document (draft 2020-12 unless $schema names
// another draft). EINVALID if it is not valid JSON, not a valid schema, or
// refers outside itself.
func Compile(doc []byte) (*Schema, error) {
	v, err := js.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, cairn.Errorf(cairn.EINVALID, "required_metadata is not valid JSON: %s", err)
	}
	c := js.NewCompiler()
	c.UseLoader(noLoader{})
	if err := c.AddResource(resource, v); err != nil {
		return nil, cairn.Errorf(cairn.EINVALID, "required_metadata: %s", err)
	}
	s, err := c.Compile(resource)
	if err != nil {
		return nil, cairn.Errorf(cairn.EINVALID, "required_metadata is not a valid JSON Schema: %s", strings.ReplaceAll(err.Error(), resource, "schema"))
	}
	return &Schema{s: s}, nil
}

// Validate checks a value, given as JSON, against the schema. It returns
// nil, or the violations, one line each ("at /metrics: …"), sorted, or an
// error if the value is not JSON.
func (s *Schema) Validate(value []byte) ([]string, error) {
	v, err := js.UnmarshalJSON(bytes.NewReader(value))
	if err != nil {
		return nil, fmt.Errorf("decode value: %w", err)
	}
	err = s.s.Validate(v)
	if err == nil {
		return nil, nil
	}
	var ve *js.ValidationError
	if !errors.As(err, &ve) {
		return nil, err
	}
	var out []string
	collect(ve, &out)
	sort.Strings(out)
	out = dedupe(out)
	if len(out) == 0 {
		out = []string{ve.Error()}
	}
	return out, nil
}

// ValidateAny is Validate for a Go value, marshalled to JSON first.
func (s *Schema) ValidateAny(v any) ([]string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode value: %w", err)
	}
	return s.Validate(b)
}

// printer renders violations; the library's messages are English.
var printer = message.NewPrinter(language.English)

// collect gathers the leaves of a validation error tree: the violations
// themselves, not the "doesn't validate with …" nodes above them.
func collect(e *js.ValidationError, out *[]string) {
	if len(e.Causes) == 0 {
		loc := "/" + strings.Join(e.InstanceLocation, "/")
		*out = append(*out, "at "+loc+": "+e.ErrorKind.LocalizedString(printer))
		return
	}
	for _, c := range e.Causes {
		collect(c, out)
	}
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}
