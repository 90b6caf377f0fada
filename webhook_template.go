package cairn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// Limits of payload templates.
const (
	// MaxWebhookTemplate bounds a template's source, in bytes.
	MaxWebhookTemplate = 16 << 10
	// MaxWebhookBody bounds a rendered template, in bytes.
	MaxWebhookBody = 64 << 10
)

// WebhookTemplateFields are the fields a template may name: the event's,
// "payload.<key>…" to reach into its payload, and "event" for the whole
// event as the feed has it.
var WebhookTemplateFields = []string{"seq", "id", "type", "time", "actor", "model", "alias", "payload", "event"}

// WebhookTemplate is a parsed payload template: a JSON document whose
// string values may contain placeholders {{field}} or {{payload.a.b}}.
// A string that is one placeholder and nothing else becomes the field's
// JSON value (a number stays a number, an object an object, a missing
// field null); a placeholder inside a longer string is replaced by the
// field's text (objects as compact JSON, missing fields as ""). Either
// way the output is built as JSON, never spliced as text, so a value can
// neither break out of its string nor inject members.
type WebhookTemplate struct {
	root tnode
}

// tnode is one node of a template: a literal JSON value, an object or an
// array of nodes, or a string with placeholders.
type tnode struct {
	literal json.RawMessage // scalar without placeholders
	keys    []string        // object member names, in template order
	members []tnode         // object members or array items
	array   bool
	parts   []tpart // string with placeholders
}

// tpart is a run of literal text or one placeholder.
type tpart struct {
	text string
	path []string // nil for text
}

var placeholder = regexp.MustCompile(`\{\{\s*([^{}\s]*)\s*\}\}`)

// ParseWebhookTemplate parses and checks a template; EINVALID, with what
// is wrong, if it is not one JSON value, is longer than
// MaxWebhookTemplate, has an unclosed or empty placeholder, or names a
// field that is not one of WebhookTemplateFields.
func ParseWebhookTemplate(src []byte) (*WebhookTemplate, error) {
	if len(src) > MaxWebhookTemplate {
		return nil, Errorf(EINVALID, "template is %d bytes, more than the %d allowed", len(src), MaxWebhookTemplate)
	}
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	t := &WebhookTemplate{}
	var err error
	if t.root, err = compileNode(dec); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, Errorf(EINVALID, "template is not valid JSON: more than one value")
	}
	// A template that renders the sample event to an oversized body would
	// fail every delivery; say so now.
	if _, err := t.Render(&Event{Type: "template.check", Payload: json.RawMessage(`{}`)}); err != nil {
		return nil, err
	}
	return t, nil
}

// compileNode reads one JSON value from dec, keeping object members in
// the template's order.
func compileNode(dec *json.Decoder) (tnode, error) {
	tok, err := dec.Token()
	if err != nil {
		return tnode{}, Errorf(EINVALID, "template is not valid JSON: %v", err)
	}
	switch tok := tok.(type) {
	case json.Delim:
		n := tnode{array: tok == '['}
		for dec.More() {
			if !n.array {
				k, err := dec.Token()
				if err != nil {
					return tnode{}, Errorf(EINVALID, "template is not valid JSON: %v", err)
				}
				n.keys = append(n.keys, k.(string))
			}
			c, err := compileNode(dec)
			if err != nil {
				return tnode{}, err
			}
			n.members = append(n.members, c)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return tnode{}, Errorf(EINVALID, "template is not valid JSON: %v", err)
		}
		if n.members == nil {
			n.members = []tnode{}
		}
		return n, nil
	case string:
		return compileString(tok)
	default:
		b, err := json.Marshal(tok)
		if err != nil {
			return tnode{}, Errorf(EINVALID, "template: %v", err)
		}
		return tnode{literal: b}, nil
	}
}

func compileString(s string) (tnode, error) {
	if strings.Count(s, "{{") != len(placeholder.FindAllStringIndex(s, -1)) {
		return tnode{}, Errorf(EINVALID, "template string %q: a {{ is not closed by }} around one field name", truncate(s, 80))
	}
	locs := placeholder.FindAllStringSubmatchIndex(s, -1)
	if len(locs) == 0 {
		b, _ := json.Marshal(s)
		return tnode{literal: b}, nil
	}
	var n tnode
	at := 0
	for _, l := range locs {
		if l[0] > at {
			n.parts = append(n.parts, tpart{text: s[at:l[0]]})
		}
		name := s[l[2]:l[3]]
		path := strings.Split(name, ".")
		if name == "" || slices.Contains(path, "") {
			return tnode{}, Errorf(EINVALID, "template string %q: empty field name in {{ }}", truncate(s, 80))
		}
		if !slices.Contains(WebhookTemplateFields, path[0]) {
			return tnode{}, Errorf(EINVALID, "template field %q: want one of %s, or payload.<key>", name, strings.Join(WebhookTemplateFields, ", "))
		}
		if path[0] != "payload" && path[0] != "event" && len(path) > 1 {
			return tnode{}, Errorf(EINVALID, "template field %q: only payload and event have fields below them", name)
		}
		n.parts = append(n.parts, tpart{path: path})
		at = l[1]
	}
	if at < len(s) {
		n.parts = append(n.parts, tpart{text: s[at:]})
	}
	return n, nil
}

// Render returns the template filled in with ev, as compact JSON; ETOOLARGE
// if the result is longer than MaxWebhookBody.
func (t *WebhookTemplate) Render(ev *Event) ([]byte, error) {
	raw, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var data map[string]any
	if err := dec.Decode(&data); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.root.render(&buf, data); err != nil {
		return nil, err
	}
	if buf.Len() > MaxWebhookBody {
		return nil, Errorf(ETOOLARGE, "rendered template is %d bytes, more than the %d allowed", buf.Len(), MaxWebhookBody)
	}
	return buf.Bytes(), nil
}

func (n *tnode) render(buf *bytes.Buffer, data map[string]any) error {
	switch {
	case n.literal != nil:
		buf.Write(n.literal)
	case n.parts != nil:
		if len(n.parts) == 1 && n.parts[0].path != nil {
			return writeJSON(buf, lookup(data, n.parts[0].path))
		}
		var s strings.Builder
		for _, p := range n.parts {
			if p.path == nil {
				s.WriteString(p.text)
				continue
			}
			s.WriteString(text(lookup(data, p.path)))
			if s.Len() > MaxWebhookBody {
				return Errorf(ETOOLARGE, "rendered template is more than the %d bytes allowed", MaxWebhookBody)
			}
		}
		return writeJSON(buf, s.String())
	case n.array:
		buf.WriteByte('[')
		for i := range n.members {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := n.members[i].render(buf, data); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	default:
		buf.WriteByte('{')
		for i := range n.members {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, n.keys[i]); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := n.members[i].render(buf, data); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	}
	if buf.Len() > MaxWebhookBody {
		return Errorf(ETOOLARGE, "rendered template is more than the %d bytes allowed", MaxWebhookBody)
	}
	return nil
}

// writeJSON appends v as JSON without HTML escaping.
func writeJSON(buf *bytes.Buffer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Write(bytes.TrimSuffix(b.Bytes(), []byte{'\n'}))
	return nil
}

// lookup returns the value at path in the event: "event" is the whole
// event, anything else a member of it, descending into objects; nil if
// there is no such value.
func lookup(data map[string]any, path []string) any {
	var v any = data
	if path[0] != "event" {
		v = data[path[0]]
	}
	for _, k := range path[1:] {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// text is a value's form inside a longer string.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return fmt.Sprint(v)
	default:
		var b bytes.Buffer
		_ = writeJSON(&b, v)
		return b.String()
	}
}
