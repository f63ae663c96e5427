package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef")
	testNow    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

func testKeys() *Keys { return NewKeys(testSecret, "salt-A") }

// claimsMap is what Issue would put in a token, as a map to take apart.
func claimsMap(aud, sid string, iat time.Time, ttl time.Duration) jwt.MapClaims {
	m := jwt.MapClaims{
		"iss": Issuer,
		"sub": Subject,
		"aud": aud,
		"iat": iat.Unix(),
		"exp": iat.Add(ttl).Unix(),
		"jti": "dGVzdC10b2tlbi1pZC0x",
	}
	if sid != "" {
		m["sid"] = sid
	}
	return m
}

func sign(t testing.TB, m jwt.SigningMethod, key any, c jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func seg(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hs256By signs header.payload with HMAC-SHA256 under key, whatever the
// header says.
func hs256By(key []byte, header, payload string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(header + "." + payload))
	return header + "." + payload + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func with(m jwt.MapClaims, k string, v any) jwt.MapClaims {
	c := jwt.MapClaims{}
	for kk, vv := range m {
		c[kk] = vv
	}
	if v == nil {
		delete(c, k)
	} else {
		c[k] = v
	}
	return c
}

func TestIssueVerify(t *testing.T) {
	k := testKeys()
	for _, tc := range []struct {
		aud, sid string
		ttl      time.Duration
	}{
		{AudienceMFA, "", MFATokenTTL},
		{AudienceApp, "session-1", AppTokenTTL},
	} {
		t.Run(tc.aud, func(t *testing.T) {
			now := testNow.Add(300 * time.Millisecond)
			tok, issued, err := k.Issue(tc.aud, tc.sid, tc.ttl, now)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Count(tok, ".") != 2 {
				t.Fatalf("token %q is not a JWS", tok)
			}
			for _, at := range []time.Time{
				now,
				now.Add(-Leeway + time.Second), // clock skew
				now.Add(tc.ttl - time.Second),
				now.Add(tc.ttl + Leeway - time.Second), // skew the other way
			} {
				c, err := k.Verify(tok, tc.aud, at)
				if err != nil {
					t.Fatalf("Verify at %v: %v", at.Sub(now), err)
				}
				if c.ID != issued.ID || c.SID != tc.sid || c.Issuer != Issuer || c.Subject != Subject ||
					len(c.Audience) != 1 || c.Audience[0] != tc.aud ||
					!c.IssuedAt.Equal(testNow) || !c.ExpiresAt.Equal(testNow.Add(tc.ttl)) {
					t.Errorf("claims = %+v, issued %+v", c, issued)
				}
			}
			if len(issued.ID) != 22 {
				t.Errorf("jti %q is not 128 bits base64url", issued.ID)
			}
			// Every token gets its own jti.
			_, again, err := k.Issue(tc.aud, tc.sid, tc.ttl, now)
			if err != nil {
				t.Fatal(err)
			}
			if again.ID == issued.ID {
				t.Error("two tokens share a jti")
			}
		})
	}
}

func TestIssueRefuses(t *testing.T) {
	k := testKeys()
	for _, tc := range []struct {
		name, aud, sid string
		ttl            time.Duration
	}{
		{"unknown audience", "admin", "", time.Minute},
		{"no audience", "", "", time.Minute},
		{"app without sid", AudienceApp, "", time.Minute},
		{"mfa with sid", AudienceMFA, "s", time.Minute},
		{"zero ttl", AudienceMFA, "", 0},
		{"negative ttl", AudienceMFA, "", -time.Minute},
		{"ttl too long", AudienceApp, "s", MaxTokenTTL + time.Second},
	} {
		if tok, _, err := k.Issue(tc.aud, tc.sid, tc.ttl, testNow); err == nil {
			t.Errorf("%s: issued %q", tc.name, tok)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	k := testKeys()
	mfa := claimsMap(AudienceMFA, "", testNow, MFATokenTTL)
	app := claimsMap(AudienceApp, "session-1", testNow, AppTokenTTL)
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, k.token, c) }

	// Positive controls: the hand-made tokens the cases below start from
	// do verify, so each case fails for its own reason.
	for aud, c := range map[string]jwt.MapClaims{AudienceMFA: mfa, AudienceApp: app} {
		if _, err := k.Verify(hs(c), aud, testNow); err != nil {
			t.Fatalf("control %s token: %v", aud, err)
		}
	}

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	hsHeader := seg(t, map[string]string{"alg": "HS256", "typ": "JWT"})
	appPayload := seg(t, app)

	tamper := func(field string, v any) string {
		parts := strings.Split(hs(app), ".")
		parts[1] = seg(t, with(app, field, v))
		return strings.Join(parts, ".")
	}
	good := hs(app)
	// The signature's last character carries 2 unused bits; setting one
	// spells the same signature bytes differently (lax base64 would take
	// it).
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, good[len(good)-1])
	strayBits := good[:len(good)-1] + string(alphabet[last+1])

	for _, tc := range []struct {
		name, token, aud string
		at               time.Time
		why              string
	}{
		{"empty", "", AudienceApp, testNow, "malformed"},
		{"garbage", "not a token", AudienceApp, testNow, "malformed"},
		{"two segments", hsHeader + "." + appPayload, AudienceApp, testNow, "malformed"},
		{"too long", good + strings.Repeat("A", MaxTokenLen), AudienceApp, testNow, "too long"},
		{"unknown audience asked", good, "admin", testNow, "audience"},

		{"alg none", seg(t, map[string]string{"alg": "none", "typ": "JWT"}) + "." + appPayload + ".", AudienceApp, testNow, "algorithm"},
		{"alg None", seg(t, map[string]string{"alg": "None", "typ": "JWT"}) + "." + appPayload + ".", AudienceApp, testNow, "algorithm"},
		{"no alg", seg(t, map[string]string{"typ": "JWT"}) + "." + appPayload + ".", AudienceApp, testNow, "algorithm"},
		{"alg none via library", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, app), AudienceApp, testNow, "algorithm"},
		{"RS256 with a fresh RSA key", sign(t, jwt.SigningMethodRS256, rsaKey, app), AudienceApp, testNow, "algorithm"},
		{"header RS256, HMAC-signed with our key", hs256By(k.token, seg(t, map[string]string{"alg": "RS256", "typ": "JWT"}), appPayload), AudienceApp, testNow, "algorithm"},
		{"header ES256, HMAC-signed with our key", hs256By(k.token, seg(t, map[string]string{"alg": "ES256", "typ": "JWT"}), appPayload), AudienceApp, testNow, "algorithm"},
		{"HS384 with our key", sign(t, jwt.SigningMethodHS384, k.token, app), AudienceApp, testNow, "algorithm"},
		{"HS512 with our key", sign(t, jwt.SigningMethodHS512, k.token, app), AudienceApp, testNow, "algorithm"},
		{"empty signature", hsHeader + "." + appPayload + ".", AudienceApp, testNow, "bad signature"},
		{"non-canonical signature", strayBits, AudienceApp, testNow, "malformed"},
		{"line break in signature", good[:len(good)-5] + "\r\n" + good[len(good)-5:], AudienceApp, testNow, "malformed"},
		{"space in signature", good[:len(good)-5] + " " + good[len(good)-5:], AudienceApp, testNow, "malformed"},
		{"padded signature", good + "=", AudienceApp, testNow, "malformed"},
		{"trailing newline", good + "\n", AudienceApp, testNow, "malformed"},
		{"standard base64 alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(good) + "+/", AudienceApp, testNow, "malformed"},

		{"expired", hs(app), AudienceApp, testNow.Add(AppTokenTTL + Leeway), "expired"},
		{"expired beyond 30 s", hs(app), AudienceApp, testNow.Add(AppTokenTTL + 31*time.Second), "expired"},
		{"expired mfa", hs(mfa), AudienceMFA, testNow.Add(MFATokenTTL + time.Hour), "expired"},
		{"issued in the future", hs(claimsMap(AudienceApp, "s", testNow.Add(time.Minute), AppTokenTTL)), AudienceApp, testNow, "not valid yet"},
		{"nbf in the future", hs(with(app, "nbf", testNow.Add(time.Minute).Unix())), AudienceApp, testNow, "not valid yet"},
		{"missing exp", hs(with(app, "exp", nil)), AudienceApp, testNow, "missing"},
		{"missing iat", hs(with(app, "iat", nil)), AudienceApp, testNow, "missing"},
		{"exp not a number", hs(with(app, "exp", "tomorrow")), AudienceApp, testNow, "malformed"},

		{"mfa token as app token", hs(with(mfa, "sid", "session-1")), AudienceApp, testNow, "wrong audience"},
		{"issued mfa token as app token", mustIssue(t, k, AudienceMFA, ""), AudienceApp, testNow, "wrong audience"},
		{"app token as mfa token", hs(app), AudienceMFA, testNow, "wrong audience"},
		{"two audiences", hs(with(app, "aud", []string{AudienceMFA, AudienceApp})), AudienceApp, testNow, "wrong audience"},
		{"missing aud", hs(with(app, "aud", nil)), AudienceApp, testNow, "missing"},
		{"wrong iss", hs(with(app, "iss", "someone-else")), AudienceApp, testNow, "wrong issuer"},
		{"missing iss", hs(with(app, "iss", nil)), AudienceApp, testNow, "missing"},
		{"wrong sub", hs(with(app, "sub", "root")), AudienceApp, testNow, "wrong subject"},
		{"missing jti", hs(with(app, "jti", nil)), AudienceApp, testNow, "token id"},
		{"overlong jti", hs(with(app, "jti", strings.Repeat("j", 65))), AudienceApp, testNow, "token id"},
		{"app token without sid", hs(with(app, "sid", nil)), AudienceApp, testNow, "session id"},

		{"tampered sid", tamper("sid", "session-2"), AudienceApp, testNow, "bad signature"},
		{"tampered exp", tamper("exp", testNow.Add(24*time.Hour).Unix()), AudienceApp, testNow, "bad signature"},
		{"tampered aud", strings.Replace(hs(mfa), strings.Split(hs(mfa), ".")[1], seg(t, with(mfa, "aud", AudienceApp)), 1), AudienceApp, testNow, "bad signature"},

		{"other salt", mustIssue(t, NewKeys(testSecret, "salt-B"), AudienceApp, "s"), AudienceApp, testNow, "bad signature"},
		{"empty salt", mustIssue(t, NewKeys(testSecret, ""), AudienceApp, "s"), AudienceApp, testNow, "bad signature"},
		{"other secret", mustIssue(t, NewKeys([]byte("another secret of 32 bytes......"), "salt-A"), AudienceApp, "s"), AudienceApp, testNow, "bad signature"},
		{"signed with the code key", sign(t, jwt.SigningMethodHS256, k.code, app), AudienceApp, testNow, "bad signature"},
		{"signed with the raw secret", sign(t, jwt.SigningMethodHS256, testSecret, app), AudienceApp, testNow, "bad signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := k.Verify(tc.token, tc.aud, tc.at)
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			if c != nil {
				t.Error("claims returned with an error")
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("error %q does not wrap ErrInvalidToken", err)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, tc.why) {
				t.Errorf("error %q does not say %q", msg, tc.why)
			}
			for _, part := range strings.Split(tc.token, ".") {
				if len(part) >= 8 && strings.Contains(msg, part) {
					t.Errorf("error %q echoes the token", msg)
				}
			}
		})
	}
}

func mustIssue(t testing.TB, k *Keys, aud, sid string) string {
	t.Helper()
	ttl := MFATokenTTL
	if aud == AudienceApp {
		ttl = AppTokenTTL
	}
	tok, _, err := k.Issue(aud, sid, ttl, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestKeyFuncOnlyHS256 checks the second lock: the key is handed out for
// HS256 tokens only, whatever the parser let through.
func TestKeyFuncOnlyHS256(t *testing.T) {
	k := testKeys()
	for _, tc := range []struct {
		method jwt.SigningMethod
		alg    any
		ok     bool
	}{
		{jwt.SigningMethodHS256, "HS256", true},
		{jwt.SigningMethodHS256, "RS256", false},
		{jwt.SigningMethodHS256, nil, false},
		{jwt.SigningMethodHS384, "HS384", false},
		{jwt.SigningMethodHS512, "HS512", false},
		{jwt.SigningMethodRS256, "RS256", false},
		{jwt.SigningMethodES256, "ES256", false},
		{jwt.SigningMethodNone, "none", false},
	} {
		tok := &jwt.Token{Method: tc.method, Header: map[string]any{"alg": tc.alg}}
		key, err := k.keyFunc(tok)
		if tc.ok {
			if err != nil || !hmac.Equal(key.([]byte), k.token) {
				t.Errorf("%v: key %v, err %v", tc.alg, key != nil, err)
			}
		} else if err == nil || key != nil {
			t.Errorf("%v (%s): key handed out", tc.alg, tc.method.Alg())
		}
	}
}

func TestKeysDerivation(t *testing.T) {
	a, a2, b := NewKeys(testSecret, "A"), NewKeys(testSecret, "A"), NewKeys(testSecret, "B")
	if !hmac.Equal(a.token, a2.token) || !hmac.Equal(a.code, a2.code) {
		t.Error("same secret and salt give different keys")
	}
	if hmac.Equal(a.token, b.token) || hmac.Equal(a.code, b.code) {
		t.Error("changing the salt does not change the keys")
	}
	if hmac.Equal(a.token, a.code) {
		t.Error("token and code keys are the same")
	}
	if hmac.Equal(a.token, testSecret) || len(a.token) != 32 || len(a.code) != 32 {
		t.Error("keys are not 32 derived bytes")
	}
	defer func() {
		if recover() == nil {
			t.Error("NewKeys accepted a short secret")
		}
	}()
	NewKeys([]byte("short"), "A")
}
