// Package admin serves apptbridge's admin page: one static HTML page with
// its stylesheet, script and icon, embedded in the binary. The page is
// plain HTML/CSS/JS (no build step, no framework, nothing from a CDN) and
// talks to the /auth and /v1 JSON APIs with a bearer token it keeps in
// sessionStorage.
//
// Every response carries a strict Content-Security-Policy (no inline
// scripts or styles, same-origin connections only, no framing) and the
// usual hardening headers. index.html is never cached without
// revalidation; an asset is cached for a year only when its file name
// carries its own content hash ("app.3f2a9c1d.js"), otherwise it is
// revalidated with its ETag on every load.
package admin

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// ContentSecurityPolicy is the policy sent with every response.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

const (
	cacheRevalidate = "no-cache"
	cacheImmutable  = "public, max-age=31536000, immutable"
)

// Handler serves the admin page: GET / → index.html, GET /assets/… → the
// page's stylesheet, script and images. Other paths answer 404 and other
// methods 405; every response carries the security headers. It expects
// the request path as the browser sent it (mount it at "/", not under a
// stripped prefix).
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	h, err := newHandler(sub)
	if err != nil {
		panic(err)
	}
	return h
}

// file is one embedded file, read once.
type file struct {
	body  []byte
	ctype string
	etag  string
	cache string
}

type handler struct {
	index  *file
	assets map[string]*file // by path below assets/
}

// newHandler reads index.html and everything under assets/ from fsys.
func newHandler(fsys fs.FS) (*handler, error) {
	h := &handler{assets: map[string]*file{}}
	idx, err := load(fsys, "index.html")
	if err != nil {
		return nil, err
	}
	idx.cache = cacheRevalidate
	h.index = idx
	err = fs.WalkDir(fsys, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := load(fsys, p)
		if err != nil {
			return err
		}
		f.cache = cacheRevalidate
		if hashedName(path.Base(p), f.body) {
			f.cache = cacheImmutable
		}
		h.assets[strings.TrimPrefix(p, "assets/")] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("admin assets: %w", err)
	}
	return h, nil
}

func load(fsys fs.FS, name string) (*file, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("admin page: %w", err)
	}
	sum := sha256.Sum256(b)
	return &file{
		body:  b,
		ctype: contentType(name),
		etag:  `"` + hex.EncodeToString(sum[:16]) + `"`,
	}, nil
}

// contentTypes is fixed here rather than taken from the host's mime
// tables, which vary (a .js served as text/plain would be blocked by
// nosniff).
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".json":  "application/json",
	".txt":   "text/plain; charset=utf-8",
	".woff2": "font/woff2",
}

func contentType(name string) string {
	if ct, ok := contentTypes[strings.ToLower(path.Ext(name))]; ok {
		return ct
	}
	return "application/octet-stream"
}

// hashRe finds a hex run between dots or a dash and the extension:
// app.3f2a9c1d.js, logo-3f2a9c1d0b.svg.
var hashRe = regexp.MustCompile(`[.-]([0-9a-f]{8,64})\.[A-Za-z0-9]+$`)

// hashedName reports whether name carries a hash of body: a hex run that is
// a prefix of the body's SHA-256. A name that merely looks hashed but does
// not match its content is revalidated like any other file, so a stale or
// hand-edited file can never be pinned in a browser cache for a year.
func hashedName(name string, body []byte) bool {
	m := hashRe.FindStringSubmatch(name)
	if m == nil {
		return false
	}
	sum := sha256.Sum256(body)
	return strings.HasPrefix(hex.EncodeToString(sum[:]), m[1])
}

// SecurityHeaders sets the page's security headers on h.
func SecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	SecurityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var f *file
	switch p := r.URL.Path; {
	case p == "/":
		f = h.index
	case strings.HasPrefix(p, "/assets/"):
		f = h.assets[strings.TrimPrefix(p, "/assets/")]
	}
	if f == nil {
		w.Header().Set("Cache-Control", "no-store")
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("Cache-Control", f.cache)
	hd.Set("ETag", f.etag)
	// ServeContent answers If-None-Match (304), Range and HEAD.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}
