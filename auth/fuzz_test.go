package auth

import (
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify: no input panics, every failure wraps ErrInvalidToken and
// does not echo the input, and nothing verifies but the two genuine
// tokens seeded (built deterministically, so every fuzz worker agrees):
// no other spelling of them, no tampering, no other algorithm passes.
func FuzzVerify(f *testing.F) {
	k := testKeys()
	genuine := map[string]bool{}
	for aud, c := range map[string]jwt.MapClaims{
		AudienceMFA: claimsMap(AudienceMFA, "", testNow, MFATokenTTL),
		AudienceApp: claimsMap(AudienceApp, "session-1", testNow, AppTokenTTL),
	} {
		tok := sign(f, jwt.SigningMethodHS256, k.token, c)
		if _, err := k.Verify(tok, aud, testNow); err != nil {
			f.Fatalf("seed %s: %v", aud, err)
		}
		genuine[tok] = true
		f.Add(tok)
		f.Add(tok[:len(tok)-4] + "\r\n" + tok[len(tok)-4:])
		f.Add(sign(f, jwt.SigningMethodHS512, k.token, c))
		f.Add(sign(f, jwt.SigningMethodHS256, []byte("not our key"), c))
		f.Add(sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, c))
	}
	for _, s := range []string{"", ".", "..", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", strings.Repeat("A", 5000)} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, s string) {
		for _, aud := range []string{AudienceMFA, AudienceApp} {
			c, err := k.Verify(s, aud, testNow)
			if err == nil {
				if !genuine[s] {
					t.Fatalf("verified a forged token as %s: %+v", aud, c)
				}
				continue
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %q does not wrap ErrInvalidToken", err)
			}
			if len(s) >= 12 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q echoes the token", err)
			}
		}
	})
}

// FuzzParsePasswordHash: no input panics, every failure wraps
// ErrPasswordHash, and whatever parses is within bounds and re-encodes to
// exactly the input (one spelling per hash). It never calls Verify, whose
// cost the input sets.
func FuzzParsePasswordHash(f *testing.F) {
	f.Add(phc("argon2id", "v=19", "m=19456,t=2,p=1", testSalt, testKey))
	f.Add(phc("argon2id", "v=19", "m=1048576,t=10,p=16", testSalt, testKey))
	f.Add(phc("argon2i", "v=19", "m=19456,t=2,p=1", testSalt, testKey))
	f.Add("$argon2id$v=19$m=019456,t=2,p=1$$")
	f.Add("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW")
	f.Add("")
	f.Add("$$$$$")

	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParsePasswordHash(s)
		if err != nil {
			if h != nil || !errors.Is(err, ErrPasswordHash) {
				t.Fatalf("ParsePasswordHash: %v, %v", h, err)
			}
			return
		}
		if h.memory < minMemory || h.memory > maxMemory || h.time < minTime || h.time > maxTime ||
			h.threads < minThreads || h.threads > maxThreads ||
			len(h.salt) < minSaltLen || len(h.salt) > maxSaltLen || len(h.key) < minKeyLen || len(h.key) > maxKeyLen {
			t.Fatalf("out of bounds: %v, salt %d, key %d bytes", h, len(h.salt), len(h.key))
		}
		if got := h.encode(); got != s {
			t.Fatalf("parsed %q but encodes as %q", s, got)
		}
	})
}
