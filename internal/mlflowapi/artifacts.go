package mlflowapi

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// The artifact proxy (MLFLOW.md §3, mlflow_artifacts.proto): the MLflow
// client's MlflowArtifactsRepository turns mlflow-artifacts:/x into
// <tracking URI>/api/2.0/mlflow-artifacts/artifacts/x and reads and writes
// files there. Cairn keeps them in its artifact store (registry
// PutArtifact and friends): a path → blob table over the content-addressed
// blob store.
//
// Paths come in the URL, so the proxy refuses, with 400, every form that
// MLflow's path-traversal advisories taught it to: ".." and "." segments,
// also percent-encoded once or more (%2e%2e, %252e%252e), empty segments
// and absolute paths ("//proc/self/root", "/etc/passwd"), backslashes,
// drive letters, NUL and other control characters, and '#' and ';' (a
// fragment or path parameter some layer might strip after the check).
// httpapi.Server.Mount hands such paths over uncleaned for this reason;
// a ServeMux would answer them with a redirect to the cleaned path.

// ArtifactPrefixes are the path prefixes of the artifact proxy: the REST
// clients' and the MLflow UI's.
var ArtifactPrefixes = []string{"/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/"}

// artifactRoute is one route of the proxy, for Routes and the RBAC test.
type artifactRoute struct {
	method, path string // path below a prefix; "{path...}" is the artifact path
}

var artifactRoutes = []artifactRoute{
	{"GET", "artifacts"},
	{"GET", "artifacts/{path...}"},
	{"PUT", "artifacts/{path...}"},
	{"DELETE", "artifacts/{path...}"},
	{"POST", "mpu/create/{path...}"},
	{"POST", "mpu/complete/{path...}"},
	{"POST", "mpu/abort/{path...}"},
	{"PUT", "mpu/part/{upload_id}/{n}"},
}

// PartPrefixes are the prefixes of the multipart part URLs, which the
// client calls without credentials (the upload id is the capability; see
// registry.PutArtifactUploadPart): pass each to
// httpapi.Server.AllowCapability for PUT.
func PartPrefixes() []string {
	out := make([]string, len(ArtifactPrefixes))
	for i, p := range ArtifactPrefixes {
		out[i] = p + "mpu/part/"
	}
	return out
}

// artifactPrefix returns the proxy prefix the request's path starts with.
func artifactPrefix(p string) (string, bool) {
	for _, pre := range ArtifactPrefixes {
		if strings.HasPrefix(p, pre) {
			return pre, true
		}
	}
	return "", false
}

// serveArtifacts routes a request under one of ArtifactPrefixes. It works
// on the path as sent (escaped), so that encoded traversal is seen.
// outer is the request the middleware holds, on which the route label of
// logs and metrics is set.
func (s *Server) serveArtifacts(w http.ResponseWriter, r *http.Request, prefix string, outer *http.Request) error {
	raw := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(raw, prefix)
	if !ok {
		// The decoded path had the prefix but the escaped one does not:
		// the prefix itself was percent-encoded.
		return invalidParam("Invalid path")
	}
	// Dot segments before the artifact path (…/mlflow-artifacts/../x) are
	// traversal out of the proxy, refused like those inside it.
	if dec, err := url.PathUnescape(rest); err != nil || slices.ContainsFunc(strings.Split(dec, "/"), isDotSegment) {
		return invalidParam("Invalid path")
	}
	route, rawPath, hasPath := strings.Cut(rest, "/")
	var sub string
	switch route {
	case "artifacts":
	case "mpu":
		sub, rawPath, hasPath = strings.Cut(rawPath, "/")
		if sub == "part" {
			if r.Method != http.MethodPut {
				return methodNotAllowed(w, r, "PUT")
			}
			outer.Pattern = r.Method + " " + prefix + "mpu/part/{upload_id}/{n}"
			return s.uploadPart(w, r, rawPath)
		}
		if sub != "create" && sub != "complete" && sub != "abort" {
			return s.noArtifactRoute(r)
		}
	default:
		return s.noArtifactRoute(r)
	}
	label := func(p string) { outer.Pattern = r.Method + " " + prefix + p }
	if route == "artifacts" && !hasPath {
		if r.Method != http.MethodGet {
			return methodNotAllowed(w, r, "GET")
		}
		label("artifacts")
		return s.listArtifacts(w, r)
	}
	if route == "artifacts" && isVersionPath(rawPath) && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		label("artifacts/{path...}")
		return s.downloadVersionFile(w, r, rawPath)
	}
	p, err := artifactPathFromURL(rawPath)
	if err != nil {
		return err
	}
	if route == "mpu" {
		if r.Method != http.MethodPost {
			return methodNotAllowed(w, r, "POST")
		}
		label("mpu/" + sub + "/{path...}")
		return s.multipartUpload(w, r, sub, p)
	}
	label("artifacts/{path...}")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return s.downloadArtifact(w, r, p)
	case http.MethodPut:
		return s.uploadArtifact(w, r, p)
	case http.MethodDelete:
		return s.deleteArtifact(w, r, p)
	}
	return methodNotAllowed(w, r, "GET, PUT, DELETE")
}

func isDotSegment(s string) bool { return s == "." || s == ".." }

func (s *Server) noArtifactRoute(r *http.Request) error {
	return &apiError{status: http.StatusNotFound, code: codeEndpointNotFound,
		msg: "No API endpoint " + r.Method + " " + r.URL.Path + " on this server"}
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) error {
	w.Header().Set("Allow", allow)
	return &apiError{status: http.StatusMethodNotAllowed, code: codeBadRequest,
		msg: "The method " + r.Method + " is not allowed for " + r.URL.Path + "; allowed: " + allow}
}

// maxDecodings bounds how often a path is percent-decoded in search of
// hidden traversal; a path still changing after that is refused.
const maxDecodings = 8

// artifactPathFromURL decodes an artifact path taken from the escaped URL
// path and refuses traversal in every form (see the top of this file).
// The path is the once-decoded form, as any HTTP server reads it; the
// forms further decoding gives are checked too, because some layer (a
// proxy, a client library, an older server) may decode again.
func artifactPathFromURL(raw string) (string, error) {
	p, err := url.PathUnescape(raw)
	if err != nil {
		return "", invalidParam("Invalid path: %s", err)
	}
	return p, checkDecodedPath(p)
}

// checkDecodedPath validates p and what repeated percent-decoding makes of
// it.
func checkDecodedPath(p string) error {
	if p == "" {
		return invalidParam("Invalid path: the artifact path is empty")
	}
	cur := p
	for i := 0; ; i++ {
		if err := cairn.ValidateArtifactPath(cur); err != nil {
			if cur != p {
				return invalidParam("Invalid path %q: percent-decoded again it reads %q, which is not allowed: %s", truncate(p, 200), truncate(cur, 200), cairn.ErrorMessage(err))
			}
			return invalidParam("Invalid path: %s", cairn.ErrorMessage(err))
		}
		next, err := url.PathUnescape(cur)
		if err != nil || next == cur {
			return nil // a literal '%' is an ordinary character
		}
		if i == maxDecodings {
			return invalidParam("Invalid path %q: it is percent-encoded too many times", truncate(p, 200))
		}
		cur = next
	}
}

// listArtifacts answers GET artifacts?path=DIR with the direct children of
// DIR: {"files": [{"path": NAME, "is_dir": …, "file_size": …}]}, names
// relative to DIR, as MLflow's proxy does. A missing directory lists
// empty.
func (s *Server) listArtifacts(w http.ResponseWriter, r *http.Request) error {
	dir := r.URL.Query().Get("path")
	if dir != "" {
		if err := checkDecodedPath(dir); err != nil {
			return err
		}
	}
	var entries []registry.ArtifactEntry
	var err error
	if sub, ok := strings.CutPrefix(dir, versionFilesDir); ok {
		entries, err = s.listVersionDir(r.Context(), sub)
	} else {
		entries, err = s.svc.ListArtifactDir(r.Context(), dir)
	}
	if err != nil {
		return err
	}
	type fileInfo struct {
		Path     string `json:"path"`
		IsDir    bool   `json:"is_dir"`
		FileSize *int64 `json:"file_size,omitempty"`
	}
	files := make([]fileInfo, len(entries))
	for i, e := range entries {
		files[i] = fileInfo{Path: path.Base(e.Path), IsDir: e.IsDir}
		if !e.IsDir {
			files[i].FileSize = &e.Size
		}
	}
	return writeJSON(w, map[string]any{"files": files})
}

// downloadArtifact streams an artifact, with Range support and its digest
// as ETag. Types a browser would render as a page (HTML, SVG, XML,
// scripts) are served as plain text, so that an uploaded file cannot run
// script in the server's origin.
func (s *Server) downloadArtifact(w http.ResponseWriter, r *http.Request, p string) error {
	a, rc, err := s.svc.OpenArtifact(r.Context(), p)
	if err != nil {
		return err
	}
	defer rc.Close()
	serveFile(w, r, path.Base(p), a.Digest, rc)
	return nil
}

var zeroTime time.Time // no Last-Modified: the ETag is exact

// serveFile streams content named name with blob digest d.
func serveFile(w http.ResponseWriter, r *http.Request, name string, d cairn.Digest, rc interface {
	Read([]byte) (int, error)
	Seek(int64, int) (int64, error)
}) {
	h := w.Header()
	h.Set("Content-Type", safeContentType(name))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("ETag", `"`+string(d)+`"`)
	h.Set("Cache-Control", "private, no-cache")
	http.ServeContent(w, r, "", zeroTime, rc)
}

// safeContentType guesses a file's type from its extension, never one a
// browser would execute.
func safeContentType(name string) string {
	t := mime.TypeByExtension(path.Ext(name))
	mt, _, _ := mime.ParseMediaType(t)
	switch {
	case t == "":
		return "application/octet-stream"
	case strings.HasPrefix(mt, "text/"), strings.Contains(mt, "html"), strings.Contains(mt, "xml"),
		strings.Contains(mt, "svg"), strings.Contains(mt, "javascript"), mt == "application/json":
		return "text/plain; charset=utf-8"
	}
	return t
}

// uploadArtifact stores the request body as the artifact at p.
func (s *Server) uploadArtifact(w http.ResponseWriter, r *http.Request, p string) error {
	limit := s.svc.MaxArtifactSize()
	if r.ContentLength > limit {
		return cairn.Errorf(cairn.ETOOLARGE, "artifact of %d bytes exceeds the %d byte limit", r.ContentLength, limit)
	}
	if _, err := s.svc.PutArtifact(r.Context(), p, r.Body); err != nil {
		return err
	}
	return writeJSON(w, empty)
}

// deleteArtifact deletes the artifact or directory at p.
func (s *Server) deleteArtifact(w http.ResponseWriter, r *http.Request, p string) error {
	if err := s.svc.DeleteArtifacts(r.Context(), p); err != nil {
		return err
	}
	return writeJSON(w, empty)
}

// multipartUpload answers mpu/create, mpu/complete and mpu/abort for the
// artifact at p (registry/artifact_uploads.go). create hands out one URL
// per part, on this server, which the client PUTs the part to without
// credentials; the part's ETag (its digest) goes into complete's list.
func (s *Server) multipartUpload(w http.ResponseWriter, r *http.Request, op, p string) error {
	params, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	switch op {
	case "create":
		n, err := params.integer("num_parts", 0)
		if err != nil {
			return err
		}
		if n < 1 || n > cairn.MaxParts {
			return invalidParam("num_parts must be between 1 and %d, got %d", cairn.MaxParts, n)
		}
		up, err := s.svc.StartArtifactUpload(r.Context(), p)
		if err != nil {
			return err
		}
		prefix, _ := artifactPrefix(r.URL.Path)
		base := requestBase(r) + prefix + "mpu/part/" + up.ID + "/"
		type credential struct {
			URL        string            `json:"url"`
			PartNumber int64             `json:"part_number"`
			Headers    map[string]string `json:"headers"`
		}
		creds := make([]credential, n)
		for i := range creds {
			creds[i] = credential{URL: base + strconv.FormatInt(int64(i+1), 10), PartNumber: int64(i + 1), Headers: map[string]string{}}
		}
		return writeJSON(w, map[string]any{"upload_id": up.ID, "credentials": creds})
	case "complete":
		id, err := params.required("upload_id")
		if err != nil {
			return err
		}
		var parts []registry.CompletedPart
		if raw, ok := params.body["parts"]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, &parts); err != nil {
				return badType("parts", raw)
			}
		}
		if _, err := s.svc.CompleteArtifactUpload(r.Context(), p, id, parts); err != nil {
			return err
		}
		return writeJSON(w, empty)
	default: // abort
		id, err := params.required("upload_id")
		if err != nil {
			return err
		}
		if err := s.svc.AbortArtifactUpload(r.Context(), p, id); err != nil {
			return err
		}
		return writeJSON(w, empty)
	}
}

// uploadPart receives one part: PUT mpu/part/UPLOAD_ID/N with the bytes as
// the body. It answers the part's ETag in the ETag header, as an object
// store does.
func (s *Server) uploadPart(w http.ResponseWriter, r *http.Request, rawPath string) error {
	id, num, ok := strings.Cut(rawPath, "/")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || strings.Contains(num, "/") {
		return invalidParam("Invalid part URL: want mpu/part/UPLOAD_ID/PART_NUMBER")
	}
	if r.ContentLength > cairn.MaxPartSize {
		return cairn.Errorf(cairn.ETOOLARGE, "part of %d bytes exceeds the %d byte limit", r.ContentLength, int64(cairn.MaxPartSize))
	}
	part, err := s.svc.PutArtifactUploadPart(r.Context(), id, n, r.Body)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", `"`+part.ETag+`"`)
	return writeJSON(w, empty)
}

// requestBase returns the scheme and host the client reached this server
// at, for URLs it is to call back: X-Forwarded-Proto (http or https) from
// a proxy in front, else whether the connection is TLS.
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if fp, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ","); fp == "http" || fp == "https" {
		scheme = fp
	}
	return scheme + "://" + r.Host
}

// Registered versions' files, read-only under the reserved root:
// _cairn/versions/NAME/N/PATH is file PATH of version N of model NAME
// (NAME path-escaped), as get-download-uri hands it out. They are read
// from the version's manifest, with the reader role on the model.

// versionFilesDir is the directory of the proxy's namespace that holds
// them.
const versionFilesDir = registry.ReservedArtifactRoot + "/versions/"

// isVersionPath reports whether a path (escaped or not) is under
// versionFilesDir or is the reserved root itself.
func isVersionPath(p string) bool {
	return p == registry.ReservedArtifactRoot || strings.HasPrefix(p, registry.ReservedArtifactRoot+"/")
}

// parseVersionPath splits NAME/N[/PATH] (the part after versionFilesDir),
// whose NAME is still path-escaped if escaped is set; PATH is validated
// as an artifact path unless empty.
func parseVersionPath(p string, escaped bool) (model string, n int64, rest string, err error) {
	segs := strings.SplitN(p, "/", 3)
	if len(segs) < 2 {
		return "", 0, "", &apiError{status: http.StatusNotFound, code: codeDoesNotExist, msg: "No such file: want " + versionFilesDir + "NAME/VERSION/PATH"}
	}
	model = segs[0]
	if escaped {
		if model, err = url.PathUnescape(segs[0]); err != nil {
			return "", 0, "", invalidParam("Invalid path: %s", err)
		}
	}
	if cairn.ValidateModelName(model) != nil {
		return "", 0, "", modelNotFound(model)
	}
	if n, err = parseVersion(segs[1]); err != nil {
		return "", 0, "", err
	}
	if len(segs) == 3 && segs[2] != "" {
		if escaped {
			rest, err = artifactPathFromURL(segs[2])
		} else {
			rest, err = segs[2], checkDecodedPath(segs[2])
		}
	}
	return model, n, rest, err
}

// downloadVersionFile serves a file of a registered version; rawPath is
// the escaped path below artifacts/.
func (s *Server) downloadVersionFile(w http.ResponseWriter, r *http.Request, rawPath string) error {
	sub, ok := strings.CutPrefix(rawPath, versionFilesDir)
	if !ok {
		return &apiError{status: http.StatusNotFound, code: codeDoesNotExist, msg: "No such file"}
	}
	model, n, p, err := parseVersionPath(sub, true)
	if err != nil {
		return err
	}
	if p == "" {
		return invalidParam("Invalid path: the artifact path is empty")
	}
	return s.serveVersionFile(w, r, model, n, p)
}

// serveVersionFile streams file p of a version.
func (s *Server) serveVersionFile(w http.ResponseWriter, r *http.Request, model string, n int64, p string) error {
	v, err := s.getVersion(r.Context(), model, n)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(v.Files, func(f cairn.File) bool { return f.Path == p })
	if i < 0 {
		return &apiError{status: http.StatusNotFound, code: codeDoesNotExist, msg: sprintf("Model Version (name=%s, version=%d) has no file %q", model, n, p)}
	}
	rc, _, err := s.svc.OpenBlob(r.Context(), v.Files[i].Digest)
	if err != nil {
		return err
	}
	defer rc.Close()
	serveFile(w, r, path.Base(p), v.Files[i].Digest, rc)
	return nil
}

// listVersionDir lists directory dir (decoded, below versionFilesDir) of
// a registered version's files, as listArtifacts does.
func (s *Server) listVersionDir(ctx context.Context, dir string) ([]registry.ArtifactEntry, error) {
	model, n, sub, err := parseVersionPath(dir, false)
	if err != nil {
		return nil, err
	}
	v, err := s.getVersion(ctx, model, n)
	if err != nil {
		return nil, err
	}
	prefix := ""
	if sub != "" {
		prefix = sub + "/"
	}
	out := []registry.ArtifactEntry{}
	for _, f := range v.Files { // sorted by path
		rest, ok := strings.CutPrefix(f.Path, prefix)
		if !ok {
			continue
		}
		if child, _, nested := strings.Cut(rest, "/"); nested {
			if len(out) == 0 || out[len(out)-1].Path != prefix+child {
				out = append(out, registry.ArtifactEntry{Path: prefix + child, IsDir: true})
			}
			continue
		}
		out = append(out, registry.ArtifactEntry{Path: f.Path, Size: f.Size})
	}
	return out, nil
}

// getVersionArtifact serves MLflow's UI route GET
// /model-versions/get-artifact?name=&version=&path=: a file of a version.
// A version whose files Cairn stores serves them from its manifest; an
// external reference to Cairn's own artifact store serves the file there;
// any other source has nothing Cairn can serve.
func (s *Server) getVersionArtifact(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	name, n, err := nameAndVersion(p)
	if err != nil {
		return err
	}
	file, err := p.required("path")
	if err != nil {
		return err
	}
	if err := checkDecodedPath(file); err != nil {
		return err
	}
	v, err := s.getVersion(r.Context(), name, n)
	if err != nil {
		return err
	}
	if len(v.Files) > 0 {
		return s.serveVersionFile(w, r, name, n, file)
	}
	if dir, ok := artifactDir(v.Source, nil); ok {
		return s.downloadArtifact(w, r, dir+"/"+file)
	}
	return &apiError{status: http.StatusNotFound, code: codeDoesNotExist, msg: sprintf(
		"Model Version (name=%s, version=%d) refers to %s, which Cairn does not store", name, n, truncate(v.Source, 200))}
}
