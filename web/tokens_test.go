// Tokens and sessions: forged and misused JWTs, SALT rotation, idle logoff.

package web_test

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apptbridge/apptbridge/auth"
	"github.com/apptbridge/apptbridge/web"
)

// tokenKey is the token signing key as the auth package documents it:
// HKDF-SHA256 of the secret with SALT as salt and the label as info.
func tokenKey(t *testing.T, secret []byte, salt string) []byte {
	t.Helper()
	k, err := hkdf.Key(sha256.New, secret, []byte(salt), "apptbridge admin jwt v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sign(t *testing.T, m jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rawToken assembles a token from a header and claims, signed with
// HMAC-SHA256 under key whatever the header says.
func rawToken(t *testing.T, header, claims map[string]any, key []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	in := enc(header) + "." + enc(claims)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TestTokenAttacks is T25: forged, altered and misused tokens are all
// refused on /v1 with 401 and a WWW-Authenticate challenge.
func TestTokenAttacks(t *testing.T) {
	t.Parallel()
	// Every refused MFA answer below counts as a failure: limits high
	// enough not to get in the way.
	h := newHarness(t, options{auth: true, ipLimit: limit{1000, time.Hour}, account: limit{1000, time.Hour}})
	mfaTok, code := h.startLogin()
	app := h.tokenOf("mfa", h.mfa(mfaTok, code))
	sid := claimsOf(t, app)["sid"].(string)
	now := h.clock.Now()
	key := tokenKey(t, adminSecret, adminSalt)

	good := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": "apptbridge", "sub": "admin", "aud": "app", "iat": now.Unix(),
			"exp": now.Add(30 * time.Minute).Unix(), "jti": "dGVzdC10b2tlbi1pZC0x", "sid": sid}
	}
	with := func(k string, v any) jwt.MapClaims {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	// The derivation is right: a token minted here with the real claims
	// is accepted, so the refusals below are for the reason tested.
	for _, c := range []jwt.MapClaims{good(), with("exp", now.Add(-auth.Leeway+time.Second).Unix())} {
		tok := sign(t, jwt.SigningMethodHS256, key, c)
		want(t, "minted token", h.call(http.MethodGet, "/v1/stats", tok, nil), http.StatusOK, "")
	}

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	none := func() string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, good()).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}()
	parts := strings.Split(app, ".")
	tamper := func(claims map[string]any) string {
		b, _ := json.Marshal(claims)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	}
	appClaims := claimsOf(t, app)
	longer := map[string]any{}
	for k, v := range appClaims {
		longer[k] = v
	}
	longer["exp"] = claimInt(t, appClaims, "exp") + 3600
	otherSid := map[string]any{}
	for k, v := range appClaims {
		otherSid[k] = v
	}
	otherSid["sid"] = "AAAAAAAAAAAAAAAAAAAAAA"
	flipped := []byte(app)
	if flipped[len(flipped)-2] == 'A' {
		flipped[len(flipped)-2] = 'B'
	} else {
		flipped[len(flipped)-2] = 'A'
	}

	attacks := []struct {
		name, tok string
	}{
		{"alg none", none},
		{"alg none, no dot", strings.TrimSuffix(none, ".")},
		{"alg None, HMAC signed", rawToken(t, map[string]any{"alg": "None", "typ": "JWT"}, good(), key)},
		{"RS256", sign(t, jwt.SigningMethodRS256, rsaKey, good())},
		{"RS256 header, HMAC signature (confusion)", rawToken(t, map[string]any{"alg": "RS256", "typ": "JWT"}, good(), key)},
		{"HS384 with the key (unpinned)", sign(t, jwt.SigningMethodHS384, key, good())},
		{"HS512 with the key (unpinned)", sign(t, jwt.SigningMethodHS512, key, good())},
		{"HS256, other secret", sign(t, jwt.SigningMethodHS256, tokenKey(t, []byte("another-secret-0123456789abcdef"), adminSalt), good())},
		{"HS256, the raw secret as key", sign(t, jwt.SigningMethodHS256, adminSecret, good())},
		{"HS256, key of another SALT", sign(t, jwt.SigningMethodHS256, tokenKey(t, adminSecret, "old-salt"), good())},
		{"expired beyond the leeway", sign(t, jwt.SigningMethodHS256, key, with("exp", now.Add(-auth.Leeway-time.Second).Unix()))},
		{"no exp", sign(t, jwt.SigningMethodHS256, key, with("exp", nil))},
		{"no iat", sign(t, jwt.SigningMethodHS256, key, with("iat", nil))},
		{"iat in the future", sign(t, jwt.SigningMethodHS256, key, with("iat", now.Add(time.Minute).Unix()))},
		{"nbf in the future", sign(t, jwt.SigningMethodHS256, key, with("nbf", now.Add(time.Minute).Unix()))},
		{"aud mfa", sign(t, jwt.SigningMethodHS256, key, with("aud", "mfa"))},
		{"aud missing", sign(t, jwt.SigningMethodHS256, key, with("aud", nil))},
		{"aud app and mfa", sign(t, jwt.SigningMethodHS256, key, with("aud", []string{"app", "mfa"}))},
		{"wrong iss", sign(t, jwt.SigningMethodHS256, key, with("iss", "evil"))},
		{"no iss", sign(t, jwt.SigningMethodHS256, key, with("iss", nil))},
		{"wrong sub", sign(t, jwt.SigningMethodHS256, key, with("sub", "root"))},
		{"no jti", sign(t, jwt.SigningMethodHS256, key, with("jti", nil))},
		{"no sid", sign(t, jwt.SigningMethodHS256, key, with("sid", nil))},
		{"the MFA token", mfaTok},
		{"tampered payload (exp +1h)", tamper(longer)},
		{"tampered payload (sid)", tamper(otherSid)},
		{"tampered signature", string(flipped)},
		{"padded base64", parts[0] + "." + parts[1] + "." + parts[2] + "="},
		{"signature dropped", parts[0] + "." + parts[1] + "."},
		{"two parts", parts[0] + "." + parts[1]},
		{"garbage", "not-a-token"},
		{"too long", app + strings.Repeat("A", auth.MaxTokenLen)},
		{"API token prefix on a JWT", web.TokenPrefix + app},
	}
	for _, a := range attacks {
		r := h.call(http.MethodGet, "/v1/stats", a.tok, nil)
		body := bodyBadToken
		if a.name == "API token prefix on a JWT" {
			body = `{"error":{"code":"unauthorized","message":"unknown or revoked API token"}}`
		}
		wantUnauthorized(t, a.name, r, body, a.tok, app)
		// An app-audience forgery cannot answer a code either.
		if r := h.mfa(a.tok, code); r.code != http.StatusUnauthorized {
			t.Errorf("%s at /auth/mfa: %v", a.name, r)
		}
	}
	// A well-signed app token for a session that does not exist.
	wantUnauthorized(t, "unknown session", h.call(http.MethodGet, "/v1/stats",
		sign(t, jwt.SigningMethodHS256, key, with("sid", "AAAAAAAAAAAAAAAAAAAAAA")), nil), bodySessionEnded)
	// The app token cannot stand in for an MFA token.
	_, code2 := h.startLogin()
	want(t, "app token at /auth/mfa", h.mfa(app, code2), http.StatusUnauthorized, bodyBadMFAToken, app, code2)
	// No Authorization, or not a bearer one.
	r := h.call(http.MethodGet, "/v1/stats", "", nil)
	want(t, "no token", r, http.StatusUnauthorized, bodyNoToken)
	if ch := r.header.Get("WWW-Authenticate"); ch != `Bearer realm="apptbridge"` {
		t.Errorf("WWW-Authenticate %q", ch)
	}
	want(t, "Basic auth", h.call(http.MethodGet, "/v1/stats", "", nil, "Authorization", "Basic "+app),
		http.StatusUnauthorized, bodyNoToken, app)

	// The real app token still works: none of that ended its session.
	want(t, "the real app token", h.call(http.MethodGet, "/v1/stats", app, nil), http.StatusOK, "")

	// An app token expires with its lifetime, even while its session is
	// in use (real requests every 10 minutes keep it open).
	for range 3 {
		h.clock.Add(10 * time.Minute)
		want(t, "in use", h.call(http.MethodGet, "/v1/stats", app, nil), http.StatusOK, "")
	}
	h.clock.Add(auth.Leeway + time.Second)
	wantUnauthorized(t, "app token after 30m+leeway", h.call(http.MethodGet, "/v1/stats", app, nil), bodyBadToken, app)
}

// TestSaltRotation: changing SALT ends every session at the next request.
func TestSaltRotation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{auth: true})
	app := h.signIn()
	mfaTok, code := h.startLogin() // outstanding code and MFA token

	// Another process (a restart) over the same store with a new SALT.
	h2 := h.sibling(t, "test-salt-2")
	wantUnauthorized(t, "old app token, new SALT", h2.call(http.MethodGet, "/v1/stats", app, nil), bodyBadToken, app)
	want(t, "old MFA token, new SALT", h2.mfa(mfaTok, code), http.StatusUnauthorized, bodyBadMFAToken, mfaTok, code)
	// API tokens do not depend on SALT.
	want(t, "API token, new SALT", h2.call(http.MethodGet, "/v1/stats", h2.token, nil), http.StatusOK, "")

	// Signing in again under the new SALT works, and that token is no
	// good under the old one.
	app2 := h2.signIn()
	want(t, "new app token, new SALT", h2.call(http.MethodGet, "/v1/stats", app2, nil), http.StatusOK, "")
	wantUnauthorized(t, "new app token, old SALT", h.call(http.MethodGet, "/v1/stats", app2, nil), bodyBadToken, app2)
	// (The old process, still on the old SALT, takes its own tokens.)
	want(t, "old app token, old SALT", h.call(http.MethodGet, "/v1/stats", app, nil), http.StatusOK, "")
}

// TestSessionIdle: idle logoff after 15 minutes; the page's polls do not
// keep a session alive, real requests and refreshes do; logout ends it.
func TestSessionIdle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{auth: true})
	stats := func(tok string, headers ...string) response {
		return h.call(http.MethodGet, "/v1/stats", tok, nil, headers...)
	}

	t.Run("idle", func(t *testing.T) {
		h.t = t
		app := h.signIn()
		h.clock.Add(web.SessionIdle + time.Second)
		wantUnauthorized(t, "after 15m01s idle", stats(app), bodySessionEnded, app)
		wantUnauthorized(t, "refresh after idle", h.call(http.MethodPost, "/auth/refresh", app, nil), bodySessionEnded, app)
		// Ended for good: a request "in time" again does not revive it.
		wantUnauthorized(t, "again", stats(app), bodySessionEnded, app)
	})

	t.Run("exactly 15m is not idle", func(t *testing.T) {
		h.t = t
		app := h.signIn()
		h.clock.Add(web.SessionIdle)
		want(t, "at 15m", stats(app), http.StatusOK, "")
	})

	t.Run("polls", func(t *testing.T) {
		h.t = t
		app := h.signIn()
		for range 3 {
			h.clock.Add(5 * time.Minute)
			want(t, "poll", stats(app, "X-Apptbridge-Poll", "1"), http.StatusOK, "")
		}
		h.clock.Add(time.Second) // 15m01s after the last real use
		wantUnauthorized(t, "poll at 15m01s", stats(app, "X-Apptbridge-Poll", "1"), bodySessionEnded, app)
		wantUnauthorized(t, "request at 15m01s", stats(app), bodySessionEnded, app)
	})

	t.Run("real requests", func(t *testing.T) {
		h.t = t
		app := h.signIn()
		for range 2 {
			h.clock.Add(10 * time.Minute)
			want(t, "request", stats(app), http.StatusOK, "")
		}
		// At 20m, refresh: a new token, same session, ≤ 30 minutes.
		r := h.call(http.MethodPost, "/auth/refresh", app, nil)
		want(t, "refresh", r, http.StatusOK, "")
		var out struct {
			Token     string `json:"token"`
			ExpiresIn int    `json:"expires_in"`
		}
		r.decode(t, &out)
		if out.Token == "" || out.Token == app || out.ExpiresIn != 1800 {
			t.Fatalf("refresh answer %s", r.body)
		}
		c, old := claimsOf(t, out.Token), claimsOf(t, app)
		if c["sid"] != old["sid"] || claimInt(t, c, "exp")-claimInt(t, c, "iat") != 1800 ||
			claimInt(t, c, "iat") != h.clock.Now().Unix() || c["jti"] == old["jti"] {
			t.Errorf("refreshed claims %v (old %v)", c, old)
		}
		h.clock.Add(10*time.Minute + auth.Leeway + time.Second) // 30m06s: the first token expired
		wantUnauthorized(t, "first token at 30m06s", stats(app), bodyBadToken, app)
		want(t, "refreshed token at 30m06s", stats(out.Token), http.StatusOK, "")
	})

	t.Run("refreshes", func(t *testing.T) {
		h.t = t
		app := h.signIn()
		for range 3 {
			h.clock.Add(14 * time.Minute)
			app = h.tokenOf("refresh", h.call(http.MethodPost, "/auth/refresh", app, nil))
		}
		h.clock.Add(web.SessionIdle + time.Second)
		wantUnauthorized(t, "15m01s after the last refresh", stats(app), bodySessionEnded, app)
	})

	t.Run("session max", func(t *testing.T) {
		h.t = t
		app := h.signIn()
		start := h.clock.Now()
		var last int
		for h.clock.Now().Add(14 * time.Minute).Before(start.Add(web.SessionMax)) {
			h.clock.Add(14 * time.Minute)
			r := h.call(http.MethodPost, "/auth/refresh", app, nil)
			app = h.tokenOf("refresh", r)
			var out struct {
				ExpiresIn int `json:"expires_in"`
			}
			r.decode(t, &out)
			last = out.ExpiresIn
		}
		left := int(start.Add(web.SessionMax).Sub(h.clock.Now()) / time.Second)
		if last != min(left, 1800) {
			t.Errorf("last refresh expires_in %d, want %d (the session's end)", last, min(left, 1800))
		}
		h.clock.Set(start.Add(web.SessionMax))
		wantUnauthorized(t, "at 12h", stats(app), bodySessionEnded, app)
	})

	t.Run("logout", func(t *testing.T) {
		h.t = t
		app := h.signIn()
		other := h.signIn() // another session stays open
		r := h.call(http.MethodPost, "/auth/logout", app, nil)
		if r.code != http.StatusNoContent || len(r.body) != 0 {
			t.Fatalf("logout: %v", r)
		}
		wantUnauthorized(t, "after logout", stats(app), bodySessionEnded, app)
		wantUnauthorized(t, "refresh after logout", h.call(http.MethodPost, "/auth/refresh", app, nil), bodySessionEnded, app)
		wantUnauthorized(t, "logout again", h.call(http.MethodPost, "/auth/logout", app, nil), bodySessionEnded, app)
		want(t, "the other session", stats(other), http.StatusOK, "")
		list := h.auditEntries()
		if e := list[len(list)-1]; e.Action != "logout" || e.Actor != "admin:"+claimsOf(t, app)["sid"].(string) {
			t.Errorf("last audit entry %+v, want the logout", e)
		}
		// Logout and refresh need an app token.
		wantUnauthorized(t, "logout without a token", h.call(http.MethodPost, "/auth/logout", "", nil),
			`{"error":{"code":"unauthorized","message":"a bearer token is required"}}`)
		wantUnauthorized(t, "refresh with an API token", h.call(http.MethodPost, "/auth/refresh", h.token, nil),
			bodyBadToken, h.token)
	})
}
