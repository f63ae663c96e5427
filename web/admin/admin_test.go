package admin

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func pageFS(t *testing.T) fs.FS {
	t.Helper()
	sub, err := fs.Sub(static, "static")
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func checkSecurityHeaders(t *testing.T, target string, h http.Header) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Permissions-Policy":      "camera=(), microphone=(), geolocation=()",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", target, k, got, v)
		}
	}
}

func TestHandlerServesPageWithHeaders(t *testing.T) {
	h := Handler()
	for _, tc := range []struct {
		target, ctype, cache string
		code                 int
	}{
		{"/", "text/html; charset=utf-8", "no-cache", 200},
		{"/assets/app.js", "text/javascript; charset=utf-8", "no-cache", 200},
		{"/assets/helpers.js", "text/javascript; charset=utf-8", "no-cache", 200},
		{"/assets/app.css", "text/css; charset=utf-8", "no-cache", 200},
		{"/assets/logo.svg", "image/svg+xml", "no-cache", 200},
		{"/assets/favicon.svg", "image/svg+xml", "no-cache", 200},
		{"/assets/missing.js", "", "no-store", 404},
		{"/assets/", "", "no-store", 404},
		{"/assets", "", "no-store", 404},
		{"/index.html", "", "no-store", 404},
		{"/v2/whatever", "", "no-store", 404},
		{"/assets/..%2findex.html", "", "no-store", 404},
	} {
		w := get(t, h, http.MethodGet, tc.target, nil)
		if w.Code != tc.code {
			t.Errorf("GET %s: status %d, want %d", tc.target, w.Code, tc.code)
			continue
		}
		checkSecurityHeaders(t, tc.target, w.Header())
		if got := w.Header().Get("Cache-Control"); got != tc.cache {
			t.Errorf("GET %s: Cache-Control %q, want %q", tc.target, got, tc.cache)
		}
		if tc.code != 200 {
			continue
		}
		if got := w.Header().Get("Content-Type"); got != tc.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.target, got, tc.ctype)
		}
		if w.Header().Get("ETag") == "" {
			t.Errorf("GET %s: no ETag", tc.target)
		}
		if w.Body.Len() == 0 {
			t.Errorf("GET %s: empty body", tc.target)
		}
	}
}

func TestHandlerConditionalAndMethods(t *testing.T) {
	h := Handler()
	w := get(t, h, http.MethodGet, "/", nil)
	etag := w.Header().Get("ETag")
	w = get(t, h, http.MethodGet, "/", map[string]string{"If-None-Match": etag})
	if w.Code != http.StatusNotModified {
		t.Errorf("GET / with If-None-Match: status %d, want 304", w.Code)
	}
	checkSecurityHeaders(t, "/ (304)", w.Header())

	w = get(t, h, http.MethodHead, "/assets/app.js", nil)
	if w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD: status %d, body %d bytes", w.Code, w.Body.Len())
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		w = get(t, h, m, "/", nil)
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /: status %d, Allow %q", m, w.Code, w.Header().Get("Allow"))
		}
		checkSecurityHeaders(t, m+" /", w.Header())
	}
}

func TestHashedAssetsCachedLong(t *testing.T) {
	body := []byte("console.log('x');\n")
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])[:10]
	fsys := fstest.MapFS{
		"index.html":                      {Data: []byte("<!doctype html><title>x</title>")},
		"assets/app." + hash + ".js":      {Data: body},
		"assets/app.0123456789.js":        {Data: body}, // looks hashed, is not this content
		"assets/app.js":                   {Data: body},
		"assets/img/logo-" + hash + ".js": {Data: body},
	}
	h, err := newHandler(fsys)
	if err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]string{
		"/":                                "no-cache",
		"/assets/app." + hash + ".js":      "public, max-age=31536000, immutable",
		"/assets/img/logo-" + hash + ".js": "public, max-age=31536000, immutable",
		"/assets/app.0123456789.js":        "no-cache",
		"/assets/app.js":                   "no-cache",
	} {
		w := get(t, h, http.MethodGet, target, nil)
		if w.Code != 200 {
			t.Errorf("GET %s: status %d", target, w.Code)
		}
		if got := w.Header().Get("Cache-Control"); got != want {
			t.Errorf("GET %s: Cache-Control %q, want %q", target, got, want)
		}
	}
}

// ---------------------------------------------------------------- markup

// tag is one start tag of an HTML or SVG file; body is the content of a
// raw-text element (script, style).
type tag struct {
	name  string
	attrs map[string]string
	body  string
}

var nameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9:-]*`)

// tokenize lists the start tags of src. It is small and strict rather than
// a full HTML parser: enough for files we write ourselves.
func tokenize(t *testing.T, file, src string) []tag {
	t.Helper()
	var out []tag
	i := 0
	for {
		j := strings.IndexByte(src[i:], '<')
		if j < 0 {
			return out
		}
		i += j
		switch {
		case strings.HasPrefix(src[i:], "<!--"):
			k := strings.Index(src[i:], "-->")
			if k < 0 {
				t.Fatalf("%s: unterminated comment", file)
			}
			i += k + 3
			continue
		case strings.HasPrefix(src[i:], "<!"), strings.HasPrefix(src[i:], "<?"), strings.HasPrefix(src[i:], "</"):
			k := strings.IndexByte(src[i:], '>')
			if k < 0 {
				t.Fatalf("%s: unterminated markup at %d", file, i)
			}
			i += k + 1
			continue
		}
		i++
		name := nameRe.FindString(src[i:])
		if name == "" {
			continue // a bare "<" in text
		}
		i += len(name)
		tg := tag{name: strings.ToLower(name), attrs: map[string]string{}}
		for {
			for i < len(src) && strings.ContainsRune(" \t\r\n", rune(src[i])) {
				i++
			}
			if i >= len(src) {
				t.Fatalf("%s: unterminated <%s>", file, name)
			}
			if src[i] == '>' {
				i++
				break
			}
			if strings.HasPrefix(src[i:], "/>") {
				i += 2
				break
			}
			k := i
			for i < len(src) && !strings.ContainsRune(" \t\r\n=>/", rune(src[i])) {
				i++
			}
			an := strings.ToLower(src[k:i])
			if an == "" {
				i++ // a stray "/"
				continue
			}
			val := ""
			if i < len(src) && src[i] == '=' {
				i++
				if q := src[i]; q == '"' || q == '\'' {
					e := strings.IndexByte(src[i+1:], q)
					if e < 0 {
						t.Fatalf("%s: unterminated attribute %s", file, an)
					}
					val = src[i+1 : i+1+e]
					i += e + 2
				} else {
					k = i
					for i < len(src) && !strings.ContainsRune(" \t\r\n>", rune(src[i])) {
						i++
					}
					val = src[k:i]
				}
			}
			if _, dup := tg.attrs[an]; dup {
				t.Errorf("%s: <%s> repeats attribute %s", file, name, an)
			}
			tg.attrs[an] = val
		}
		if tg.name == "script" || tg.name == "style" {
			end := strings.Index(strings.ToLower(src[i:]), "</"+tg.name)
			if end < 0 {
				t.Fatalf("%s: unterminated <%s>", file, tg.name)
			}
			tg.body = src[i : i+end]
			i += end
		}
		out = append(out, tg)
	}
}

func readAll(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := fs.WalkDir(pageFS(t), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(pageFS(t), p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestIndexReferencesOnlyEmbeddedAssets(t *testing.T) {
	files := readAll(t)
	tags := tokenize(t, "index.html", files["index.html"])
	refs := 0
	for _, tg := range tags {
		for _, a := range []string{"src", "href", "action", "srcset", "poster", "data"} {
			v, ok := tg.attrs[a]
			if !ok || (a == "data" && tg.name != "object") {
				continue
			}
			switch {
			case strings.HasPrefix(v, "#"):
				// an in-page fragment or a hash route
			case strings.HasPrefix(v, "/assets/"):
				name := strings.TrimPrefix(v, "/")
				if _, ok := files[name]; !ok {
					t.Errorf("<%s %s=%q>: no such file in the embedded assets", tg.name, a, v)
				}
				refs++
			default:
				t.Errorf("<%s %s=%q>: only /assets/… files and #fragments may be referenced", tg.name, a, v)
			}
		}
	}
	if refs < 4 {
		t.Errorf("index.html references %d assets, want the script, helpers, stylesheet and icon", refs)
	}
	// Stylesheets may reference only embedded assets or data: URIs.
	urlRe := regexp.MustCompile(`url\(\s*['"]?([^'")]+)`)
	for name, src := range files {
		if path.Ext(name) != ".css" {
			continue
		}
		for _, m := range urlRe.FindAllStringSubmatch(src, -1) {
			u := m[1]
			if strings.HasPrefix(u, "data:") {
				continue
			}
			if _, ok := files[strings.TrimPrefix(u, "/")]; !strings.HasPrefix(u, "/assets/") || !ok {
				t.Errorf("%s: url(%s) is not an embedded asset", name, u)
			}
		}
		if strings.Contains(src, "@import") {
			t.Errorf("%s: @import", name)
		}
	}
}

func TestNoInlineCodeOrStyles(t *testing.T) {
	files := readAll(t)
	onAttr := regexp.MustCompile(`^on[a-z]+$`)
	for name, src := range files {
		switch path.Ext(name) {
		case ".html", ".svg":
			for _, tg := range tokenize(t, name, src) {
				for a, v := range tg.attrs {
					if onAttr.MatchString(a) {
						t.Errorf("%s: <%s %s=…>: inline event handler", name, tg.name, a)
					}
					if a == "style" {
						t.Errorf("%s: <%s style=…>: inline style", name, tg.name)
					}
					if strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "javascript:") {
						t.Errorf("%s: <%s %s=%q>: javascript: URL", name, tg.name, a, v)
					}
				}
				switch tg.name {
				case "script":
					if strings.TrimSpace(tg.body) != "" {
						t.Errorf("%s: inline <script> body", name)
					}
					if tg.attrs["src"] == "" {
						t.Errorf("%s: <script> without src", name)
					}
				case "style":
					t.Errorf("%s: <style> element", name)
				case "base", "iframe", "object", "embed":
					t.Errorf("%s: <%s> element", name, tg.name)
				}
			}
		case ".js":
			// Data goes in with textContent; nothing is parsed as markup or
			// code at run time, and no inline style is set (the CSP would
			// block setAttribute('style') anyway).
			for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
				"eval(", "new Function", "setAttribute('style'", "setAttribute(\"style\"", ".style.", "cssText",
				"javascript:", "http://", "https://"} {
				if strings.Contains(src, bad) {
					t.Errorf("%s contains %q", name, bad)
				}
			}
		}
	}
}

// The ids the end-to-end tests drive, each present once, and every form
// control labelled.
func TestStableIDsAndLabels(t *testing.T) {
	src := readAll(t)["index.html"]
	tags := tokenize(t, "index.html", src)
	ids := map[string]tag{}
	labelFor := map[string]bool{}
	for _, tg := range tags {
		if id := tg.attrs["id"]; id != "" {
			if _, dup := ids[id]; dup {
				t.Errorf("duplicate id %q", id)
			}
			ids[id] = tg
		}
		if tg.name == "label" && tg.attrs["for"] != "" {
			labelFor[tg.attrs["for"]] = true
		}
	}
	for _, id := range []string{
		"login-password", "login-submit", "mfa-code", "mfa-submit",
		"nav-dashboard", "nav-appointments", "nav-dead-letters", "nav-exports", "nav-simulator", "nav-phone", "nav-audit",
		"logout", "dashboard", "appointments-table", "timeline",
		"export-history-csv", "export-state-csv", "export-history-ndjson", "export-state-ndjson",
		"sim-event-type", "sim-phone", "sim-time", "sim-appointment-id", "sim-submit", "sim-result",
		"phone-number", "phone-load", "phone-messages", "phone-reply", "phone-send", "status",
	} {
		if _, ok := ids[id]; !ok {
			t.Errorf("index.html has no #%s", id)
		}
	}
	if ids["status"].attrs["aria-live"] != "polite" {
		t.Errorf("#status is not aria-live=polite")
	}
	if ids["sim-time"].attrs["type"] != "datetime-local" {
		t.Errorf("#sim-time is not a datetime-local input")
	}
	for _, want := range []string{"header", "nav", "main"} {
		found := false
		for _, tg := range tags {
			found = found || tg.name == want
		}
		if !found {
			t.Errorf("index.html has no <%s>", want)
		}
	}
	for _, tg := range tags {
		switch tg.name {
		case "input", "select", "textarea":
			if tg.attrs["type"] == "hidden" {
				continue
			}
			id := tg.attrs["id"]
			if id == "" || !labelFor[id] {
				t.Errorf("<%s id=%q> has no <label for>", tg.name, id)
			}
		case "button":
			if tg.attrs["type"] == "" {
				t.Errorf("<button id=%q> without a type", tg.attrs["id"])
			}
		}
	}
}

// The scripts parse, and the pure helpers pass their node tests. Skipped
// where node is not installed.
func TestJavaScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	scripts, _ := filepath.Glob(filepath.Join("static", "assets", "*.js"))
	if len(scripts) == 0 {
		t.Fatal("no scripts found")
	}
	for _, s := range scripts {
		if out, err := exec.Command(node, "--check", s).CombinedOutput(); err != nil {
			t.Errorf("node --check %s: %v\n%s", s, err, out)
		}
	}
	cmd := exec.Command(node, "--test", filepath.Join("testdata", "helpers.test.js"))
	cmd.Env = append(os.Environ(), "TZ=America/New_York", "LANG=en_US.UTF-8")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("node --test: %v\n%s", err, out)
	}
}
