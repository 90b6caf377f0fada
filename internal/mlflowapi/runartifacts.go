package mlflowapi

import (
	"encoding/base64"
	"net/http"
	"strings"
	"unicode/utf8"
)

// The tracking server's run-artifact listing, GET artifacts/list
// (service.proto ListArtifacts): the files of a run, named relative to
// the run's artifact root, read from the same artifact store the proxy
// writes (artifacts.go). MLflow's UI lists a run's artifacts this way,
// and so do clients whose artifact repository asks the tracking server.

// runArtifactPage bounds one artifacts/list answer. MLflow's server
// answers a proxied run's directory whole and its UI reads one answer
// only, so a page is large; clients that follow next_page_token get the
// rest.
// Server.runArtifactPage is this unless a test sets it.
const runArtifactPage = 10_000

// listRunArtifacts answers GET artifacts/list?run_id=&path=&page_token=
// with {root_uri, files[{path, is_dir, file_size}], next_page_token}.
// path is checked as the proxy checks its paths (every traversal form is
// INVALID_PARAMETER_VALUE) before the run is looked up, as MLflow does. A
// directory that does not exist, or a file, lists empty. A run whose
// artifact root is outside Cairn's store (s3://… set on its experiment)
// is NOT_IMPLEMENTED: Cairn cannot read it, and an empty list would say
// the run has no files.
func (s *Server) listRunArtifacts(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	id, err := runID(p)
	if err != nil {
		return err
	}
	sub, err := p.str("path")
	if err != nil {
		return err
	}
	if sub != "" {
		if err := checkDecodedPath(sub); err != nil {
			return err
		}
	}
	token, err := p.str("page_token")
	if err != nil {
		return err
	}
	run, err := s.getRun(r.Context(), id)
	if err != nil {
		return err
	}
	root, ok := runArtifactRoot(run)
	if !ok {
		return &apiError{status: http.StatusNotImplemented, code: codeNotImplemented, msg: sprintf(
			"Run %s keeps its artifacts at %s, outside Cairn's artifact store; list them there", id, truncate(run.ArtifactURI, 200))}
	}
	rootURI := run.ArtifactURI
	if rootURI == "" {
		rootURI = "mlflow-artifacts:/" + root
	}
	return s.writeArtifactList(w, r, root, rootURI, sub, token)
}

// writeArtifactList answers a listing of directory sub of the artifact
// directory root (whose URI is rootURI), a page from token on, as
// {root_uri, files[{path, is_dir, file_size}], next_page_token} with
// paths relative to root: the shape of artifacts/list and of MLflow 3's
// logged-models/{id}/artifacts/directories.
func (s *Server) writeArtifactList(w http.ResponseWriter, r *http.Request, root, rootURI, sub, token string) error {
	dir := root
	if sub != "" {
		dir += "/" + sub
	}
	from := ""
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || !utf8.Valid(b) {
			return invalidParam("Invalid page_token %q", truncate(token, 100))
		}
		from = string(b)
	}
	entries, next, err := s.svc.ListArtifactDirPage(r.Context(), dir, from, s.runArtifactPage)
	if err != nil {
		return err
	}
	type fileInfo struct {
		Path     string `json:"path"`
		IsDir    bool   `json:"is_dir"`
		FileSize *int64 `json:"file_size,omitempty"`
	}
	out := struct {
		RootURI       string     `json:"root_uri"`
		Files         []fileInfo `json:"files,omitempty"`
		NextPageToken string     `json:"next_page_token,omitempty"`
	}{RootURI: rootURI}
	for _, e := range entries {
		// Relative to the root: "model/MLmodel" for path=model.
		f := fileInfo{Path: strings.TrimPrefix(e.Path, root+"/"), IsDir: e.IsDir}
		if !e.IsDir {
			size := e.Size
			f.FileSize = &size
		}
		out.Files = append(out.Files, f)
	}
	if next != "" {
		out.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(next))
	}
	return writeJSON(w, out)
}
