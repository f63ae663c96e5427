package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/auth"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/web"
)

// Admin sign-in over HTTP (SPEC §11; RELIABILITY T24, T25): password →
// a texted code and an MFA token → an app token tied to a session.

// Bodies the sign-in answers with (exact).
const (
	bodyWrongPassword = `{"error":{"code":"unauthorized","message":"wrong password"}}`
	bodyCodeExpired   = `{"error":{"code":"expired","message":"the code expired or was used; sign in again"}}`
	bodyCodeLocked    = `{"error":{"code":"locked","message":"too many wrong codes; sign in again"}}`
	bodyBadMFAToken   = `{"error":{"code":"unauthorized","message":"invalid or expired sign-in token; sign in again"}}`
	bodyBadCode       = `{"error":{"code":"invalid","message":"the code is 6 digits","fields":[{"field":"code","message":"must be 6 digits"}]}}`
	bodyThrottled     = `{"error":{"code":"throttled","message":"too many failed sign-in attempts; try again later"}}`
	bodyBadToken      = `{"error":{"code":"unauthorized","message":"invalid or expired token"}}`
	bodySessionEnded  = `{"error":{"code":"unauthorized","message":"session ended (signed out, idle or expired); sign in again"}}`
	bodyNoToken       = `{"error":{"code":"unauthorized","message":"a bearer API token or admin token is required"}}`
)

// jsonEqual reports whether a and b are the same JSON value.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// want checks a response's status and (when body is not "") its exact
// JSON body, and that it shows none of secrets (passwords, codes,
// tokens, PHI) in its body or headers.
func want(t *testing.T, what string, r response, status int, body string, secrets ...string) {
	t.Helper()
	if r.code != status {
		t.Errorf("%s: %v, want HTTP %d", what, r, status)
		return
	}
	if body != "" {
		checkJSONHeaders(t, r)
		if !jsonEqual(r.body, []byte(body)) {
			t.Errorf("%s: body %s, want %s", what, bytes.TrimSpace(r.body), body)
		}
	}
	noLeak(t, what, r, secrets...)
}

// noLeak checks that r shows none of secrets.
func noLeak(t *testing.T, what string, r response, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if bytes.Contains(r.body, []byte(s)) {
			t.Errorf("%s: the body shows a secret %.12q…: %s", what, s, r.body)
		}
		for k, vs := range r.header {
			for _, v := range vs {
				if strings.Contains(v, s) {
					t.Errorf("%s: header %s shows a secret %.12q…", what, k, s)
				}
			}
		}
	}
}

// wantUnauthorized checks a 401 of a bearer-protected endpoint: the body
// and the WWW-Authenticate challenge.
func wantUnauthorized(t *testing.T, what string, r response, body string, secrets ...string) {
	t.Helper()
	want(t, what, r, http.StatusUnauthorized, body, secrets...)
	if ch := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, `Bearer realm="apptbridge"`) {
		t.Errorf("%s: WWW-Authenticate %q", what, ch)
	}
}

// call sends a request with bearer tok ("" for none), v as the JSON body
// (nil for none) and headers given as name, value pairs.
func (h *harness) call(method, path, tok string, v any, headers ...string) response {
	h.t.Helper()
	var body []byte
	if v != nil {
		switch x := v.(type) {
		case string:
			body = []byte(x)
		default:
			var err error
			if body, err = json.Marshal(v); err != nil {
				h.t.Fatal(err)
			}
		}
	}
	req, err := http.NewRequest(method, h.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if v != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return h.send(req)
}

func (h *harness) login(password string) response {
	h.t.Helper()
	return h.call(http.MethodPost, "/auth/login", "", map[string]string{"password": password})
}

func (h *harness) mfa(token, code string) response {
	h.t.Helper()
	return h.call(http.MethodPost, "/auth/mfa", "", map[string]string{"token": token, "code": code})
}

// tokenOf is the "token" of a 200 answer.
func (h *harness) tokenOf(what string, r response) string {
	h.t.Helper()
	if r.code != http.StatusOK {
		h.t.Fatalf("%s: %v", what, r)
	}
	var out struct {
		Token string `json:"token"`
	}
	r.decode(h.t, &out)
	if out.Token == "" {
		h.t.Fatalf("%s: no token: %s", what, r.body)
	}
	return out.Token
}

// loginTexts are the sign-in code texts queued for the administrator,
// newest first.
func (h *harness) loginTexts() []*store.Text {
	h.t.Helper()
	var out []*store.Text
	for _, x := range h.texts(store.TextFilter{Phone: adminPhone}) {
		if x.Kind == apptbridge.TextLoginCode {
			out = append(out, x)
		}
	}
	return out
}

var codeInBody = regexp.MustCompile(`\bcode is ([0-9]{6})\.`)

// lastCode is the code of the newest sign-in text.
func (h *harness) lastCode() string {
	h.t.Helper()
	texts := h.loginTexts()
	if len(texts) == 0 {
		h.t.Fatal("no sign-in code was texted")
	}
	m := codeInBody.FindStringSubmatch(texts[0].Body)
	if m == nil {
		h.t.Fatalf("sign-in text without a 6-digit code: %q", texts[0].Body)
	}
	return m[1]
}

// startLogin signs in with the password: the MFA token and the code.
func (h *harness) startLogin() (mfaToken, code string) {
	h.t.Helper()
	mfaToken = h.tokenOf("login", h.login(adminPassword))
	return mfaToken, h.lastCode()
}

// signIn signs in fully and returns an app token.
func (h *harness) signIn() string {
	h.t.Helper()
	tok, code := h.startLogin()
	return h.tokenOf("mfa", h.mfa(tok, code))
}

// otherCode is a 6-digit code that is not code.
func otherCode(code string) string {
	n, _ := strconv.Atoi(code)
	return fmt.Sprintf("%06d", (n+1)%1_000_000)
}

// claimsOf decodes a token's payload (without checking it).
func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func claimInt(t *testing.T, c map[string]any, name string) int64 {
	t.Helper()
	f, ok := c[name].(float64)
	if !ok {
		t.Fatalf("claim %s missing: %v", name, c)
	}
	return int64(f)
}

// auditEntries reads the whole audit log from the store.
func (h *harness) auditEntries() []*store.AuditEntry {
	h.t.Helper()
	list, err := h.db.Audit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	return list
}

// actions lists the entries' actions.
func actions(list []*store.AuditEntry) []string {
	out := []string{}
	for _, e := range list {
		out = append(out, e.Action)
	}
	return out
}

func TestAuthConfig(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{auth: true})
	want(t, "GET /auth/config", h.call(http.MethodGet, "/auth/config", "", nil), http.StatusOK,
		`{"sandbox":false,"login_enabled":true,"customer_name":"","admin_phone_hint":"…00"}`, adminPhone)

	// Without a password, sign-in is off.
	off := newHarness(t, options{})
	want(t, "GET /auth/config (off)", off.call(http.MethodGet, "/auth/config", "", nil), http.StatusOK,
		`{"sandbox":false,"login_enabled":false,"customer_name":"","admin_phone_hint":""}`)
	for _, p := range []string{"/auth/login", "/auth/mfa", "/auth/refresh", "/auth/logout"} {
		r := off.call(http.MethodPost, p, "", map[string]string{})
		want(t, p+" (off)", r, http.StatusServiceUnavailable, "")
		var e errorView
		r.decode(t, &e)
		if e.Error.Code != "login_disabled" {
			t.Errorf("%s (off): %v", p, r)
		}
	}
	// A JWT-looking token gets 401 on /v1 when sign-in is off.
	wantUnauthorized(t, "app token, sign-in off", off.call(http.MethodGet, "/v1/stats", "a.b.c", nil),
		`{"error":{"code":"unauthorized","message":"admin sign-in is off"}}`)
}

// TestLogin is T24's sign-in: a wrong password texts nothing and is
// audited; the right one texts exactly one 6-digit code, good once.
func TestLogin(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{auth: true})

	// Wrong and empty passwords: 401, nothing texted, audited.
	for _, pw := range []string{"Tr0ub4dor&3-wrong", ""} {
		r := h.login(pw)
		want(t, fmt.Sprintf("login %q", pw), r, http.StatusUnauthorized, bodyWrongPassword, pw, adminPassword)
	}
	if n := len(h.texts(store.TextFilter{Phone: adminPhone})); n != 0 {
		t.Fatalf("%d texts to the administrator after wrong passwords", n)
	}
	audit := h.auditEntries()
	if got := actions(audit); !reflect.DeepEqual(got, []string{"login.failed", "login.failed"}) {
		t.Fatalf("audit after wrong passwords: %v", got)
	}
	for _, e := range audit {
		if e.Actor != "ip:127.0.0.1" || e.Target != "" || e.Detail != "wrong password" || e.RemoteIP != "127.0.0.1" {
			t.Errorf("audit entry %+v", e)
		}
		if strings.Contains(e.Detail, "Tr0ub4dor") || strings.Contains(e.Actor, "Tr0ub4dor") {
			t.Errorf("audit shows the password: %+v", e)
		}
	}

	// Malformed bodies: 400, no text, no audit, no failure counted.
	for _, body := range []string{`{"password":"x","user":"admin"}`, `{"password":`, `["x"]`, ``} {
		r := h.call(http.MethodPost, "/auth/login", "", body)
		want(t, "login "+body, r, http.StatusBadRequest,
			`{"error":{"code":"invalid","message":"body must be {\"password\": \"…\"}"}}`)
	}
	if n := len(h.auditEntries()); n != 2 {
		t.Errorf("%d audit entries after malformed logins, want 2", n)
	}

	// The right password: an MFA token (5 minutes) and one code texted.
	kicks := h.kicks.Load()
	r := h.login(adminPassword)
	if r.code != http.StatusOK {
		t.Fatalf("login: %v", r)
	}
	checkJSONHeaders(t, r)
	var lo struct {
		Token     string `json:"token"`
		ExpiresIn int    `json:"expires_in"`
		SentTo    string `json:"sent_to"`
	}
	r.decode(t, &lo)
	if lo.Token == "" || lo.ExpiresIn != 300 || lo.SentTo != "…00" {
		t.Errorf("login answer %s", r.body)
	}
	noLeak(t, "login", r, adminPassword, adminPhone)
	if h.kicks.Load() == kicks {
		t.Error("login did not wake the outbox")
	}
	c := claimsOf(t, lo.Token)
	if c["iss"] != "apptbridge" || c["sub"] != "admin" || claimInt(t, c, "exp")-claimInt(t, c, "iat") != 300 ||
		claimInt(t, c, "iat") != t0.Unix() || c["sid"] != nil {
		t.Errorf("MFA token claims %v", c)
	}
	texts := h.loginTexts()
	if len(texts) != 1 {
		t.Fatalf("%d sign-in texts, want 1", len(texts))
	}
	x := texts[0]
	if x.Direction != store.DirOut || x.Phone != adminPhone || x.AppointmentID != "" {
		t.Errorf("sign-in text %+v", x)
	}
	code := h.lastCode()
	noLeak(t, "login", r, code)
	if n := len(h.texts(store.TextFilter{Phone: adminPhone})); n != 1 {
		t.Errorf("%d texts to the administrator, want 1", n)
	}

	// The code: an app token (30 minutes) for a new session.
	r = h.mfa(lo.Token, code)
	if r.code != http.StatusOK {
		t.Fatalf("mfa: %v", r)
	}
	checkJSONHeaders(t, r)
	var mo struct {
		Token     string `json:"token"`
		ExpiresIn int    `json:"expires_in"`
	}
	r.decode(t, &mo)
	if mo.Token == "" || mo.ExpiresIn != 1800 {
		t.Errorf("mfa answer %s", r.body)
	}
	noLeak(t, "mfa", r, code, lo.Token)
	c = claimsOf(t, mo.Token)
	if ttl := claimInt(t, c, "exp") - claimInt(t, c, "iat"); ttl != 1800 || ttl > int64(auth.AppTokenTTL/time.Second) {
		t.Errorf("app token lifetime %ds, want 1800 (≤ 30 min)", ttl)
	}
	if aud := fmt.Sprint(c["aud"]); aud != "[app]" && aud != "app" {
		t.Errorf("app token aud %v", c["aud"])
	}
	sid, _ := c["sid"].(string)
	if sid == "" {
		t.Fatalf("app token without a session id: %v", c)
	}
	want(t, "GET /v1/stats with the app token", h.call(http.MethodGet, "/v1/stats", mo.Token, nil), http.StatusOK, "")

	// The code is single use.
	want(t, "mfa again", h.mfa(lo.Token, code), http.StatusUnauthorized, bodyCodeExpired, code, lo.Token)
	if n := len(h.loginTexts()); n != 1 {
		t.Errorf("%d sign-in texts, want 1", n)
	}

	audit = h.auditEntries()
	if got := actions(audit); !reflect.DeepEqual(got, []string{"login.failed", "login.failed", "login", "mfa", "mfa.failed"}) {
		t.Fatalf("audit: %v", got)
	}
	if e := audit[2]; e.Actor != "ip:127.0.0.1" || e.Detail != "password accepted; code texted" {
		t.Errorf("login audit %+v", e)
	}
	if e := audit[3]; e.Actor != "admin:"+sid || e.Detail != "signed in" {
		t.Errorf("mfa audit %+v", e)
	}
	if e := audit[4]; e.Actor != "ip:127.0.0.1" || e.Detail != "expired or used" {
		t.Errorf("mfa.failed audit %+v", e)
	}
	for _, e := range audit {
		for _, s := range []string{code, lo.Token, mo.Token, adminPassword, adminPhone} {
			if strings.Contains(e.Actor+e.Target+e.Detail, s) {
				t.Errorf("audit entry %d shows a secret", e.Seq)
			}
		}
	}
}

// TestLoginCodeExpiry: a code is good for 5 minutes; its MFA token too
// (plus the tokens' leeway).
func TestLoginCodeExpiry(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{auth: true})

	// Just in time, typed with a space: accepted.
	tok, code := h.startLogin()
	h.clock.Add(5*time.Minute - time.Second)
	want(t, "mfa at 4m59s", h.mfa(tok, code[:3]+" "+code[3:]), http.StatusOK, "")

	// 5 minutes and a second late: the code expired (its token, within
	// the leeway, still verifies).
	tok, code = h.startLogin()
	h.clock.Add(5*time.Minute + time.Second)
	want(t, "mfa at 5m01s", h.mfa(tok, code), http.StatusUnauthorized, bodyCodeExpired, code, tok)

	// Past the leeway the token itself is refused.
	tok, code = h.startLogin()
	h.clock.Add(5*time.Minute + auth.Leeway + time.Second)
	want(t, "mfa at 5m06s", h.mfa(tok, code), http.StatusUnauthorized, bodyBadMFAToken, code, tok)

	// A code is bound to its token: another sign-in's token does not take it.
	tokA, codeA := h.startLogin()
	h.clock.Add(time.Second) // so the texts sort newest first
	tokB, codeB := h.startLogin()
	if codeA != codeB {
		want(t, "code A with token B", h.mfa(tokB, codeA), http.StatusUnauthorized,
			`{"error":{"code":"wrong_code","message":"wrong code","tries_left":4}}`, codeA, codeB, tokB)
	}
	want(t, "code A with token A", h.mfa(tokA, codeA), http.StatusOK, "")
}

// TestLoginCodeTries: 5 wrong codes, then even the right one is refused;
// a malformed code is a typo and uses no try.
func TestLoginCodeTries(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{auth: true})
	tok, code := h.startLogin()
	wrong := otherCode(code)

	for _, bad := range []string{"12345", "abcdef", "1234567", "12345a", " ", "１２３４５６"} {
		want(t, fmt.Sprintf("mfa %q", bad), h.mfa(tok, bad), http.StatusBadRequest, bodyBadCode, tok, code)
	}
	want(t, "mfa without a code", h.call(http.MethodPost, "/auth/mfa", "", map[string]string{"token": tok}),
		http.StatusBadRequest, bodyBadCode, tok, code)
	want(t, "mfa with an unknown field", h.call(http.MethodPost, "/auth/mfa", "",
		map[string]string{"token": tok, "code": code, "otp": code}), http.StatusBadRequest,
		`{"error":{"code":"invalid","message":"body must be {\"token\": \"…\", \"code\": \"123456\"}"}}`, tok, code)
	want(t, "mfa with data after the object", h.call(http.MethodPost, "/auth/mfa", "",
		`{"token":"`+tok+`","code":"`+code+`"} {}`), http.StatusBadRequest,
		`{"error":{"code":"invalid","message":"body must be {\"token\": \"…\", \"code\": \"123456\"}"}}`, tok, code)
	for left := 4; left >= 0; left-- {
		want(t, fmt.Sprintf("wrong code (%d left)", left), h.mfa(tok, wrong), http.StatusUnauthorized,
			fmt.Sprintf(`{"error":{"code":"wrong_code","message":"wrong code","tries_left":%d}}`, left), wrong, code, tok)
	}
	want(t, "right code after 5 wrong", h.mfa(tok, code), http.StatusUnauthorized, bodyCodeLocked, code, tok)
	want(t, "wrong code after 5 wrong", h.mfa(tok, wrong), http.StatusUnauthorized, bodyCodeLocked, code, tok)

	got := actions(h.auditEntries())
	wantActions := []string{"login", "mfa.failed", "mfa.failed", "mfa.failed", "mfa.failed", "mfa.failed", "mfa.failed", "mfa.failed"}
	if !reflect.DeepEqual(got, wantActions) {
		t.Errorf("audit %v, want %v", got, wantActions)
	}

	// Each wrong or refused answer counted against the IP (7 so far): 3
	// wrong passwords more and the IP is throttled, even with the
	// right password.
	for i := range 3 {
		want(t, fmt.Sprintf("wrong password %d", i), h.login("nope"), http.StatusUnauthorized, bodyWrongPassword)
	}
	r := h.login(adminPassword)
	want(t, "login after 10 failures", r, http.StatusTooManyRequests, bodyThrottled, adminPassword)
	if ra := r.header.Get("Retry-After"); ra != "900" {
		t.Errorf("Retry-After %q, want 900", ra)
	}
}

// bothLimits runs test with the failure counts in memory and in the
// store (as the app counts them): the limits behave alike.
func bothLimits(t *testing.T, test func(t *testing.T, storeLimits bool)) {
	t.Parallel()
	for _, mode := range []struct {
		name  string
		store bool
	}{{"memory", false}, {"store", true}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			test(t, mode.store)
		})
	}
}

// TestLoginThrottle: 10 failures per IP per 15 minutes (sliding); a
// sign-in resets the count.
func TestLoginThrottle(t *testing.T) { bothLimits(t, testLoginThrottle) }

func testLoginThrottle(t *testing.T, storeLimits bool) {
	h := newHarness(t, options{auth: true, storeLimits: storeLimits})

	for i := range 10 {
		want(t, fmt.Sprintf("wrong password %d", i+1), h.login("wrong-"+strconv.Itoa(i)), http.StatusUnauthorized, bodyWrongPassword)
		h.clock.Add(time.Minute)
	}
	// Failures at 0…9 minutes; now 10 minutes: the first ages out at 15.
	r := h.login(adminPassword)
	want(t, "11th attempt", r, http.StatusTooManyRequests, bodyThrottled, adminPassword)
	if ra := r.header.Get("Retry-After"); ra != "300" {
		t.Errorf("Retry-After %q, want 300", ra)
	}
	if n := len(h.loginTexts()); n != 0 {
		t.Errorf("%d codes texted while throttled", n)
	}
	// The code step is throttled too (no token is even looked at).
	want(t, "mfa while throttled", h.mfa("x.y.z", "123456"), http.StatusTooManyRequests, bodyThrottled)
	if n := len(h.auditEntries()); n != 10 {
		t.Errorf("%d audit entries, want 10 (refused attempts are not audited as failures)", n)
	}

	h.clock.Add(4*time.Minute + 59*time.Second)
	r = h.login(adminPassword)
	want(t, "at 14m59s", r, http.StatusTooManyRequests, bodyThrottled)
	if ra := r.header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q, want 1", ra)
	}
	// The window slides: at 15 minutes the first failure ages out.
	h.clock.Add(time.Second)
	h.tokenOf("login at 15m", h.login(adminPassword))
	// Only one failure aged out: one more fills the window again.
	want(t, "wrong password at 15m", h.login("wrong-again"), http.StatusUnauthorized, bodyWrongPassword)
	want(t, "after refilling", h.login(adminPassword), http.StatusTooManyRequests, bodyThrottled)

	// Much later: clear. Signing in resets the IP's count.
	h.clock.Add(15 * time.Minute)
	for i := range 9 {
		want(t, fmt.Sprintf("wrong password %d", i+1), h.login("wrong"), http.StatusUnauthorized, bodyWrongPassword)
	}
	h.signIn() // 10th attempt: allowed; the sign-in resets the count
	for i := range 9 {
		want(t, fmt.Sprintf("wrong password %d after sign-in", i+1), h.login("wrong"), http.StatusUnauthorized, bodyWrongPassword)
	}
	want(t, "10th attempt after sign-in", h.login(adminPassword), http.StatusOK, "")
	want(t, "10th failure after sign-in", h.login("wrong"), http.StatusUnauthorized, bodyWrongPassword)
	want(t, "11th attempt after sign-in", h.login(adminPassword), http.StatusTooManyRequests, bodyThrottled)
}

// clientFrom is an HTTP client whose connections come from ip (any
// 127.0.0.0/8 address is loopback on Linux); nil when that does not work.
func clientFrom(t *testing.T, h *harness, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", h.srv.Listener.Addr().String())
	if err != nil {
		return nil
	}
	c.Close()
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func (h *harness) loginFrom(c *http.Client, password string) response {
	h.t.Helper()
	b, _ := json.Marshal(map[string]string{"password": password})
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/auth/login", bytes.NewReader(b))
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return response{code: resp.StatusCode, header: resp.Header, body: buf.Bytes()}
}

// TestLoginAccountLimit: the account-wide limit holds whatever the IP.
func TestLoginAccountLimit(t *testing.T) { bothLimits(t, testLoginAccountLimit) }

func testLoginAccountLimit(t *testing.T, storeLimits bool) {
	h := newHarness(t, options{auth: true, ipLimit: limit{10, 15 * time.Minute}, account: limit{3, time.Hour},
		storeLimits: storeLimits})
	for i := range 3 {
		want(t, fmt.Sprintf("wrong password %d", i+1), h.login("wrong"), http.StatusUnauthorized, bodyWrongPassword)
	}
	r := h.login(adminPassword)
	want(t, "4th attempt", r, http.StatusTooManyRequests, bodyThrottled, adminPassword)
	if ra := r.header.Get("Retry-After"); ra != "3600" {
		t.Errorf("Retry-After %q, want 3600", ra)
	}
	if n := len(h.loginTexts()); n != 0 {
		t.Errorf("%d codes texted while throttled", n)
	}
	h.clock.Add(time.Hour)
	h.signIn() // resets the account too
	for i := range 3 {
		want(t, fmt.Sprintf("wrong password %d after sign-in", i+1), h.login("wrong"), http.StatusUnauthorized, bodyWrongPassword)
	}
	want(t, "4th attempt after sign-in", h.login(adminPassword), http.StatusTooManyRequests, bodyThrottled)
}

// TestLoginLimitsAcrossIPs: per-IP counts are separate; the account's
// adds them up (connections from other loopback addresses).
func TestLoginLimitsAcrossIPs(t *testing.T) { bothLimits(t, testLoginLimitsAcrossIPs) }

func testLoginLimitsAcrossIPs(t *testing.T, storeLimits bool) {
	h := newHarness(t, options{auth: true, ipLimit: limit{2, 15 * time.Minute}, account: limit{5, time.Hour},
		storeLimits: storeLimits})
	c2, c3, c4 := clientFrom(t, h, "127.0.0.2"), clientFrom(t, h, "127.0.0.3"), clientFrom(t, h, "127.0.0.4")
	if c2 == nil || c3 == nil || c4 == nil {
		t.Skip("cannot connect from 127.0.0.2-4 here")
	}
	for _, c := range []*http.Client{c2, c3} {
		for range 2 {
			want(t, "wrong password", h.loginFrom(c, "wrong"), http.StatusUnauthorized, bodyWrongPassword)
		}
		want(t, "3rd attempt from one IP", h.loginFrom(c, adminPassword), http.StatusTooManyRequests, bodyThrottled)
	}
	// 127.0.0.1 is not throttled by them; its failure is the account's 5th.
	want(t, "wrong password from .1", h.login("wrong"), http.StatusUnauthorized, bodyWrongPassword)
	r := h.loginFrom(c4, adminPassword)
	want(t, "first attempt from .4 (account)", r, http.StatusTooManyRequests, bodyThrottled)
	if ra := r.header.Get("Retry-After"); ra != "3600" {
		t.Errorf("Retry-After %q, want 3600", ra)
	}
	var actors []string
	for _, e := range h.auditEntries() {
		actors = append(actors, e.Actor)
	}
	wantActors := []string{"ip:127.0.0.2", "ip:127.0.0.2", "ip:127.0.0.3", "ip:127.0.0.3", "ip:127.0.0.1"}
	if !reflect.DeepEqual(actors, wantActors) {
		t.Errorf("audit actors %v, want %v", actors, wantActors)
	}
}

// TestLoginThrottleSharedProcesses: two processes on one store (as
// behind a load balancer) count an IP's failures together: 5 on each and
// the 11th attempt is refused on either; a sign-in on one resets the IP
// for both; a process started later (a restart) knows the failures.
func TestLoginThrottleSharedProcesses(t *testing.T) {
	t.Parallel()
	a := newHarness(t, options{auth: true, storeLimits: true})
	b := a.sibling(t, "")
	for i := range 10 {
		h := a
		if i >= 5 {
			h = b
		}
		want(t, fmt.Sprintf("wrong password %d", i+1), h.login("wrong"), http.StatusUnauthorized, bodyWrongPassword)
		a.clock.Add(time.Minute)
	}
	for name, h := range map[string]*harness{"a": a, "b": b, "restarted": a.sibling(t, "")} {
		r := h.login(adminPassword)
		want(t, "11th attempt on "+name, r, http.StatusTooManyRequests, bodyThrottled, adminPassword)
		if ra := r.header.Get("Retry-After"); ra != "300" {
			t.Errorf("11th attempt on %s: Retry-After %q, want 300", name, ra)
		}
	}

	// In memory, each process would have allowed its own 10.
	m := newHarness(t, options{auth: true})
	ms := m.sibling(t, "")
	for range 5 {
		want(t, "wrong password (memory)", m.login("wrong"), http.StatusUnauthorized, bodyWrongPassword)
		want(t, "wrong password (memory sibling)", ms.login("wrong"), http.StatusUnauthorized, bodyWrongPassword)
	}
	want(t, "11th attempt (memory)", m.login("wrong"), http.StatusUnauthorized, bodyWrongPassword)

	// A sign-in on b resets the IP on a too.
	a.clock.Add(5 * time.Minute) // the first failure aged out
	b.signIn()
	for i := range 9 {
		want(t, fmt.Sprintf("wrong password %d after sign-in", i+1), a.login("wrong"), http.StatusUnauthorized, bodyWrongPassword)
	}
	want(t, "10th attempt after sign-in", b.login(adminPassword), http.StatusOK, "")
}

// TestLoginBurst: 40 wrong passwords from one address at once. Checked
// one by one, each request would pass the limit before any failure was
// counted, and all 40 would be guesses; in PasswordChecks slots, with the
// limit checked again in the slot, at most PasswordChecks-1 get past the
// 10th failure and the rest are refused with 429.
func TestLoginBurst(t *testing.T) { bothLimits(t, testLoginBurst) }

func testLoginBurst(t *testing.T, storeLimits bool) {
	h := newHarness(t, options{auth: true, storeLimits: storeLimits})
	const burst = 40
	codes := make([]int, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() { codes[i] = h.login("wrong-burst-" + strconv.Itoa(i)).code })
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	guesses := count[http.StatusUnauthorized]
	if guesses < 10 || guesses > 10+web.PasswordChecks-1 || count[http.StatusTooManyRequests] != burst-guesses {
		t.Fatalf("burst of %d: %v; want 10 to %d checked (401), the rest 429", burst, count, 10+web.PasswordChecks-1)
	}
	if n := len(h.auditEntries()); n != guesses {
		t.Errorf("%d audit entries for %d checked passwords", n, guesses)
	}
}
