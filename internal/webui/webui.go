// Package webui serves Cairn's web UI: a single-page application built
// from web/ (vanilla TypeScript, Vite) into dist/, which is committed and
// embedded, so that `go build` needs no Node. The UI talks to the server
// only through the public native API under /api/v1.
//
// Layout of what it serves:
//
//	/            redirects to /ui/
//	/ui/assets/  content-hashed JS and CSS, cached for a year
//	/ui/…        every other path answers index.html; the UI routes in the browser
//
// The files are public (they are the same for everyone and hold no data),
// so they answer without credentials even with authentication on; every
// API call the UI makes authenticates as usual.
package webui

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// Prefix is where the UI lives.
const Prefix = "/ui/"

// contentSecurityPolicy keeps the page to its own scripts, styles and API:
// even if some text slipped past the DOM-only rendering, no inline script
// or third-party resource would run or load.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Register mounts the UI with mount, typically httpapi.Server.MountPublic.
func Register(mount func(pattern string, h http.Handler)) {
	h := Handler()
	mount("GET "+Prefix, h)
	mount("GET /{$}", http.RedirectHandler(Prefix, http.StatusFound))
}

// Handler serves the UI under Prefix.
func Handler() http.Handler {
	files, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // dist is embedded at build time; this cannot fail
	}
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		panic("webui: dist/index.html is missing; run `npm ci && npm run build` in web/")
	}
	assets := http.FileServerFS(files)
	modTime := time.Time{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Content-Security-Policy", contentSecurityPolicy)
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("X-Frame-Options", "DENY")
		rel := strings.TrimPrefix(path.Clean(r.URL.Path), strings.TrimSuffix(Prefix, "/"))
		rel = strings.TrimPrefix(rel, "/")
		if strings.HasPrefix(rel, "assets/") {
			if _, err := fs.Stat(files, rel); err != nil {
				http.NotFound(w, r)
				return
			}
			hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/" + rel
			assets.ServeHTTP(w, r2)
			return
		}
		// Any other path is a page of the single-page app.
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("Content-Type", "text/html; charset=utf-8")
		http.ServeContent(w, r, "index.html", modTime, bytes.NewReader(index))
	})
}
