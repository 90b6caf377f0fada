package httpapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The OpenAPI 3.1 document is generated from the route table — the same
// values the mux is built from — and its schemas from the Go types by
// reflection over their json tags, so neither the routes nor the shapes
// can drift from what the server does.

func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(s.openapi)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.openapi)
	return nil
}

var pathParamPattern = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(\.\.\.)?\}`)

// pathParamDocs describes the path parameters by name.
var pathParamDocs = map[string]string{
	"name":    "model name",
	"version": "version number: 3 or v3",
	"alias":   "alias name",
	"digest":  "blob digest, sha256:<64 lower-case hex digits>",
	"id":      "id",
	"n":       "part number, 1-based",
	"ref":     "reference: NAME, NAME@latest, NAME@v3, NAME@alias, models:/NAME/3, or run:ID for lineage",
	"key":     "metric key",
}

const apiDescription = `Cairn's native REST API. JSON bodies use snake_case names and RFC 3339
times, are size-limited and decoded strictly (unknown fields are refused).
Errors are RFC 9457 application/problem+json documents whose code member is
one of invalid (400), not_found (404), conflict (409), failed_precondition
(409), pending_approval (409), unauthenticated (401), permission_denied
(403), too_large (413) and internal (500), with a request_id.

Headers: X-Cairn-User declares the acting user while authentication is
off (recorded as unverified); X-Request-Id is echoed or generated;
Idempotency-Key on a POST replays the stored response of an earlier
identical request.`

func buildOpenAPI(routes []route, version string) []byte {
	g := &schemaGen{schemas: map[string]any{}, names: map[reflect.Type]string{}}
	problem := g.schema(reflect.TypeOf(Problem{}))
	paths := map[string]map[string]any{}
	for _, rt := range routes {
		item := paths[openAPIPath(rt.Path)]
		if item == nil {
			item = map[string]any{}
			paths[openAPIPath(rt.Path)] = item
		}
		item[strings.ToLower(rt.Method)] = g.operation(rt, problem)
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Cairn",
			"version":     version,
			"description": apiDescription,
		},
		"paths":      paths,
		"components": map[string]any{"schemas": g.schemas},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic("httpapi: encoding the OpenAPI document: " + err.Error()) // only plain maps and strings: cannot fail
	}
	return append(b, '\n')
}

// openAPIPath turns a mux pattern's path into an OpenAPI path template.
func openAPIPath(p string) string { return pathParamPattern.ReplaceAllString(p, "{$1}") }

func (g *schemaGen) operation(rt route, problem map[string]any) map[string]any {
	op := map[string]any{"operationId": rt.ID, "summary": rt.Summary}
	var params []any
	for _, m := range pathParamPattern.FindAllStringSubmatch(rt.Path, -1) {
		params = append(params, map[string]any{
			"name": m[1], "in": "path", "required": true,
			"description": pathParamDocs[m[1]], "schema": map[string]any{"type": "string"},
		})
	}
	for _, q := range rt.Query {
		sch := map[string]any{"type": q.Type}
		if q.Repeated {
			sch = map[string]any{"type": "array", "items": sch}
		}
		params = append(params, map[string]any{"name": q.Name, "in": "query", "description": q.Desc, "schema": sch})
	}
	if rt.Method == http.MethodPost {
		params = append(params, map[string]any{
			"name": headerIdempotencyKey, "in": "header",
			"description": "replay the response of an earlier identical request with this key",
			"schema":      map[string]any{"type": "string", "maxLength": maxIdempotencyKey},
		})
	}
	if params != nil {
		op["parameters"] = params
	}
	switch rt.Body.(type) {
	case nil:
	case streamBody:
		op["requestBody"] = map[string]any{
			"required": true,
			"content":  map[string]any{"application/octet-stream": map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}},
		}
	default:
		op["requestBody"] = map[string]any{
			"required": !rt.OptionalBody,
			"content":  map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.Body))}},
		}
	}
	success := map[string]any{"description": http.StatusText(rt.Status)}
	switch rt.Resp.(type) {
	case nil:
	case streamResp:
		mt := rt.Produces
		if mt == "" {
			mt = "application/octet-stream"
		}
		success["content"] = map[string]any{mt: map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}
	default:
		success["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.Resp))}}
	}
	responses := map[string]any{
		strconv.Itoa(rt.Status): success,
		"default": map[string]any{
			"description": "an error",
			"content":     map[string]any{"application/problem+json": map[string]any{"schema": problem}},
		},
	}
	if rt.AltStatus != 0 {
		alt := map[string]any{}
		for k, v := range success {
			alt[k] = v
		}
		alt["description"] = http.StatusText(rt.AltStatus)
		responses[strconv.Itoa(rt.AltStatus)] = alt
	}
	op["responses"] = responses
	return op
}

// schemaGen derives JSON Schemas (OpenAPI 3.1 flavour) from Go types.
// Named struct types become components; the rest is inlined.
type schemaGen struct {
	schemas map[string]any
	names   map[reflect.Type]string
}

var (
	timeType       = reflect.TypeOf(time.Time{})
	rawMessageType = reflect.TypeOf(json.RawMessage{})
)

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case rawMessageType:
		return map[string]any{} // any JSON value
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem())
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32:
		return map[string]any{"type": "integer", "format": "int32"}
	case reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return g.structSchema(t)
		}
		name, ok := g.names[t]
		if !ok {
			name = g.componentName(t)
			g.names[t] = name
			g.schemas[name] = map[string]any{} // placeholder: breaks recursion
			g.schemas[name] = g.structSchema(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// componentName names a struct's component by its Go name, qualified by
// its package when two packages use the same name.
func (g *schemaGen) componentName(t reflect.Type) string {
	name := exportName(t.Name())
	if _, taken := g.schemas[name]; !taken {
		return name
	}
	pkg := t.PkgPath()
	if i := strings.LastIndexByte(pkg, '/'); i >= 0 {
		pkg = pkg[i+1:]
	}
	return exportName(pkg) + exportName(t.Name())
}

func exportName(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (g *schemaGen) structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	g.addFields(t, props, &required)
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func (g *schemaGen) addFields(t reflect.Type, props map[string]any, required *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.addFields(ft, props, required)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") && f.Type.Kind() != reflect.Pointer {
			*required = append(*required, name)
		}
	}
}
