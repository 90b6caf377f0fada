package mlflowapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// params holds a request's parameters the way MLflow's handlers read them:
// GET from the query string (repeated keys for lists), POST and PATCH from
// a JSON body, DELETE from a JSON body (what the Python client sends) or,
// for fields the body lacks, the query string.
//
// Unknown fields are ignored, as MLflow's protobuf parsing does, so that
// newer and older clients (deployment_job_id, model_id, …) keep working. A
// known field of the wrong JSON type is INVALID_PARAMETER_VALUE.
type params struct {
	body  map[string]json.RawMessage
	query url.Values
}

// readParams reads a request's parameters.
func (s *Server) readParams(w http.ResponseWriter, r *http.Request) (*params, error) {
	p := &params{}
	if r.Method == http.MethodGet {
		p.query = r.URL.Query()
		return p, nil
	}
	if r.Method == http.MethodDelete {
		p.query = r.URL.Query()
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			// An empty DELETE body with a stray content type is still fine.
			if r.Method != http.MethodDelete || r.ContentLength > 0 {
				return nil, invalidParam("Bad Request. Content-Type must be application/json, got %q.", ct)
			}
		}
	}
	if r.ContentLength > s.maxJSON {
		return nil, invalidParam("Request body is %d bytes; the limit is %d.", r.ContentLength, s.maxJSON)
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxJSON))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, invalidParam("Request body exceeds the %d byte limit.", s.maxJSON)
		}
		return nil, fmt.Errorf("read request body: %w", err)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		p.body = map[string]json.RawMessage{}
		return p, nil
	}
	// Older clients double-encode the body as a JSON string; MLflow accepts it.
	if raw[0] == '"' {
		var inner string
		if err := json.Unmarshal(raw, &inner); err == nil {
			raw = []byte(inner)
		}
	}
	if err := json.Unmarshal(raw, &p.body); err != nil || p.body == nil {
		return nil, invalidParam("Malformed request body: want a JSON object.")
	}
	return p, nil
}

func typeHint(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "str"
	case '{':
		return "dict"
	case '[':
		return "list"
	case 't', 'f':
		return "bool"
	case 'n':
		return "NoneType"
	}
	if bytes.ContainsAny(raw, ".eE") {
		return "float"
	}
	return "int"
}

func badType(name string, raw json.RawMessage) error {
	return invalidParam("Invalid value %s for parameter '%s' supplied. Hint: Value was of type '%s'. See the API docs for more information about request parameters.",
		truncate(string(raw), 100), name, typeHint(raw))
}

// str returns a string parameter, "" if absent.
func (p *params) str(name string) (string, error) {
	if raw, ok := p.body[name]; ok && string(raw) != "null" {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", badType(name, raw)
		}
		return s, nil
	}
	return p.query.Get(name), nil
}

// required returns a string parameter that must be present and non-empty,
// with MLflow's message otherwise.
func (p *params) required(name string) (string, error) {
	s, err := p.str(name)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", missing(name)
	}
	return s, nil
}

func missing(name string) error {
	return invalidParam("Missing value for required parameter '%s'. See the API docs for more information about request parameters.", name)
}

// version returns the required version parameter, which MLflow sends as a
// string and validates as an integer.
func (p *params) version() (string, int64, error) {
	s, err := p.str("version")
	if err != nil {
		// A JSON number is what a careless client sends; accept it.
		if raw := p.body["version"]; len(raw) > 0 && raw[0] != '"' {
			var n json.Number
			if json.Unmarshal(raw, &n) == nil {
				s, err = n.String(), nil
			}
		}
		if err != nil {
			return "", 0, err
		}
	}
	if s == "" {
		return "", 0, missing("version")
	}
	n, err := parseVersion(s)
	return s, n, err
}

// parseVersion parses a version number as MLflow does (Python int()): an
// optional sign and decimal digits, surrounding white space allowed.
// Numbers below 1 parse but never exist.
func parseVersion(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, invalidParam("Model version must be an integer, got '%s'", truncate(s, 100))
	}
	return n, nil
}

// boolean returns a boolean parameter, false if absent.
func (p *params) boolean(name string) (bool, error) {
	if raw, ok := p.body[name]; ok && string(raw) != "null" {
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return false, badType(name, raw)
		}
		return b, nil
	}
	v := p.query.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalidParam("Invalid value %s for parameter '%s' supplied. Hint: Value was of type 'str'. See the API docs for more information about request parameters.", truncate(v, 100), name)
	}
	return b, nil
}

// integer returns an integer parameter (a JSON number or a numeric string,
// as protobuf JSON allows for int64), def if absent.
func (p *params) integer(name string, def int64) (int64, error) {
	var s string
	if raw, ok := p.body[name]; ok && string(raw) != "null" {
		if raw[0] == '"' {
			_ = json.Unmarshal(raw, &s)
		} else {
			s = string(raw)
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, badType(name, raw)
		}
		return n, nil
	}
	s = p.query.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, invalidParam("Invalid value %s for parameter '%s' supplied. Hint: Value was of type 'str'. See the API docs for more information about request parameters.", truncate(s, 100), name)
	}
	return n, nil
}

// strings returns a repeated string parameter: a JSON array, or repeated
// query keys.
func (p *params) strings(name string) ([]string, error) {
	if raw, ok := p.body[name]; ok && string(raw) != "null" {
		var out []string
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, badType(name, raw)
		}
		return out, nil
	}
	return p.query[name], nil
}

// keyValue is MLflow's tag entity: RegisteredModelTag and ModelVersionTag.
type keyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// tags returns the tags parameter as a map; a later duplicate key wins, as
// in MLflow's stores.
func (p *params) tags(kind string) (map[string]string, error) {
	raw, ok := p.body["tags"]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var list []struct {
		Key   *string `json:"key"`
		Value *string `json:"value"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, badType("tags", raw)
	}
	out := make(map[string]string, len(list))
	for _, t := range list {
		if t.Key == nil || *t.Key == "" {
			return nil, invalidParam("Missing value for required parameter 'tags.key'. See the API docs for more information about request parameters.")
		}
		v := ""
		if t.Value != nil {
			v = *t.Value
		}
		if err := validateTag(kind, *t.Key, v); err != nil {
			return nil, err
		}
		out[*t.Key] = v
	}
	return out, nil
}

// Limits MLflow enforces on model registry tags, in characters.
const (
	maxTagKeyLength   = 250
	maxTagValueLength = 5000
)

// validateTag applies MLflow's length limits with its messages; Cairn's own
// rules (allowed key characters, byte limits) apply after, in the registry.
// kind is "Registered model" or "Model version".
func validateTag(kind, key, value string) error {
	if n := utf8.RuneCountInString(key); n > maxTagKeyLength {
		return invalidParam("%s key '%s' had length %d, which exceeded length limit of %d", kind, truncate(key, 250), n, maxTagKeyLength)
	}
	if n := utf8.RuneCountInString(value); n > maxTagValueLength {
		return invalidParam("%s value '%s' had length %d, which exceeded length limit of %d", kind, truncate(value, 250), n, maxTagValueLength)
	}
	return nil
}

// truncate shortens s to at most n runes for messages.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// writeJSON answers 200 with v.
func writeJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	writeJSONBytes(w, b)
	return nil
}

// empty is the body of responses without fields.
var empty = struct{}{}

// keyValues returns a repeated {key, value} parameter (tags, params) as a
// map, checking each pair with validate; a later duplicate key wins.
func (p *params) keyValues(name string, validate func(key, value string) error) (map[string]string, error) {
	list, err := p.keyValueList(name)
	if err != nil || list == nil {
		return nil, err
	}
	out := make(map[string]string, len(list))
	for _, kv := range list {
		if err := validate(kv.Key, kv.Value); err != nil {
			return nil, err
		}
		out[kv.Key] = kv.Value
	}
	return out, nil
}

// keyValueList returns a repeated {key, value} parameter in order; a
// missing key is MLflow's missing-parameter error.
func (p *params) keyValueList(name string) ([]keyValue, error) {
	raw, ok := p.body[name]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var list []struct {
		Key   *string `json:"key"`
		Value *string `json:"value"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, badType(name, raw)
	}
	out := make([]keyValue, 0, len(list))
	for _, t := range list {
		if t.Key == nil || *t.Key == "" {
			return nil, invalidParam("Missing value for required parameter '%s.key'. See the API docs for more information about request parameters.", name)
		}
		v := ""
		if t.Value != nil {
			v = *t.Value
		}
		out = append(out, keyValue{*t.Key, v})
	}
	return out, nil
}

// raw returns a parameter's raw JSON, nil if absent.
func (p *params) raw(name string) json.RawMessage {
	if raw, ok := p.body[name]; ok && string(raw) != "null" {
		return raw
	}
	return nil
}

// has reports whether a parameter is present.
func (p *params) has(name string) bool {
	return p.raw(name) != nil || p.query.Has(name)
}

// number returns a float parameter: a JSON number, or a string holding a
// number, NaN or ±Infinity (protobuf JSON's spelling of doubles).
func (p *params) number(name string) (float64, bool, error) {
	var s string
	if raw := p.raw(name); raw != nil {
		if raw[0] == '"' {
			_ = json.Unmarshal(raw, &s)
		} else {
			s = string(raw)
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, true, badType(name, raw)
		}
		return f, true, nil
	}
	if s = p.query.Get(name); s == "" {
		return 0, false, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, true, invalidParam("Invalid value %s for parameter '%s' supplied. Hint: Value was of type 'str'. See the API docs for more information about request parameters.", truncate(s, 100), name)
	}
	return f, true, nil
}

// cleanPath reports whether a name is the same as a normalized path that
// stays below its root, MLflow's condition for names that may become file
// names.
func cleanPath(name string) bool {
	n := normPath(name)
	return n == name && n != "." && !strings.HasPrefix(n, "..") && !strings.HasPrefix(n, "/")
}

func normPath(name string) string { return path.Clean(name) }
