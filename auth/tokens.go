package auth

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token audiences, issuer and subject.
const (
	AudienceMFA = "mfa" // password checked; good only for answering the texted code
	AudienceApp = "app" // signed in; good for the admin page and /v1
	Issuer      = "apptbridge"
	Subject     = "admin"
)

// Lifetimes the server uses (see the package documentation).
const (
	MFATokenTTL = 5 * time.Minute  // MFA token, and the texted code with it
	AppTokenTTL = 30 * time.Minute // app token; refreshed while the session is active
	IdleTimeout = 15 * time.Minute // a session unused this long is ended (store.Admin.TouchSession)

	// MaxTokenTTL is the longest lifetime Issue accepts.
	MaxTokenTTL = AppTokenTTL
	// Leeway is the clock skew allowed when checking exp and iat.
	Leeway = 5 * time.Second
	// MaxTokenLen is the longest token Verify looks at; ours are ~300 bytes.
	MaxTokenLen = 4096
)

// Key derivation labels (HKDF info). A new label gives unrelated keys.
const (
	labelToken = "apptbridge admin jwt v1"
	labelCode  = "apptbridge admin code v1"
)

// minSecretLen is the shortest secret NewKeys takes.
const minSecretLen = 16

// ErrInvalidToken is wrapped by every error of Verify. The message says
// in general terms why (expired, wrong audience, bad signature …); it
// never includes the token or any of its contents.
var ErrInvalidToken = errors.New("invalid token")

// Claims are a token's claims: iss, sub, aud (one audience), iat, exp,
// jti and, in app tokens, sid.
type Claims struct {
	jwt.RegisteredClaims
	// SID (sid) is the session an app token belongs to (store.Session.ID);
	// empty in MFA tokens.
	SID string `json:"sid,omitempty"`
}

// Keys holds the keys derived from the store's secret and SALT: one signs
// tokens (HS256), the other hashes sign-in codes. Safe for concurrent use.
type Keys struct {
	token []byte
	code  []byte
}

// NewKeys derives the keys with HKDF-SHA256 from secret (random bytes kept
// in the store, shared by every process) with salt (the SALT setting) as
// the HKDF salt: changing either invalidates every token and every
// outstanding code. It panics if secret is shorter than 16 bytes, which is
// a programming error (the store's secret is random and long).
func NewKeys(secret []byte, salt string) *Keys {
	if len(secret) < minSecretLen {
		panic("auth: NewKeys: secret shorter than 16 bytes")
	}
	return &Keys{
		token: derive(secret, salt, labelToken),
		code:  derive(secret, salt, labelCode),
	}
}

func derive(secret []byte, salt, label string) []byte {
	k, err := hkdf.Key(sha256.New, secret, []byte(salt), label, sha256.Size)
	if err != nil { // only for lengths > 255×32 bytes
		panic("auth: hkdf: " + err.Error())
	}
	return k
}

// NewID returns a random 128-bit id, base64url without padding (22
// characters); tokens use it as jti, and it suits session ids too.
func NewID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("auth: random id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Issue signs a token for aud (AudienceMFA or AudienceApp) valid from now
// for ttl (at most MaxTokenTTL). App tokens need the session id sid; MFA
// tokens must not have one. The returned claims are those in the token
// (times in whole seconds); claims.ID is the fresh jti, which a sign-in
// code is stored under (store.LoginCode.ID).
func (k *Keys) Issue(aud, sid string, ttl time.Duration, now time.Time) (string, *Claims, error) {
	switch {
	case aud != AudienceMFA && aud != AudienceApp:
		return "", nil, errors.New("auth: issue: unknown audience")
	case aud == AudienceApp && sid == "":
		return "", nil, errors.New("auth: issue: app token without a session id")
	case aud == AudienceMFA && sid != "":
		return "", nil, errors.New("auth: issue: MFA token with a session id")
	case ttl <= 0 || ttl > MaxTokenTTL:
		return "", nil, fmt.Errorf("auth: issue: lifetime not in (0, %v]", MaxTokenTTL)
	}
	jti, err := NewID()
	if err != nil {
		return "", nil, err
	}
	c := &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   Subject,
			Audience:  jwt.ClaimStrings{aud},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			ID:        jti,
		},
		SID: sid,
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(k.token)
	if err != nil {
		return "", nil, fmt.Errorf("auth: sign token: %w", err)
	}
	return tok, c, nil
}

// Verify checks token for audience aud at time now and returns its claims.
// It accepts only what Issue makes: HS256 under this key (the algorithm
// is pinned: "none", RS*/ES*, HS384/HS512 are refused before any key is
// looked up), canonical base64url (one spelling per token), iss
// "apptbridge", sub "admin", exactly the audience aud, iat present and not
// in the future, exp present and not past (both ±Leeway), a jti, and for
// app tokens a sid. Any failure is an error wrapping ErrInvalidToken.
//
// Verify checks the token only; the caller must still check that an app
// token's session is open (store.Admin.TouchSession).
func (k *Keys) Verify(token, aud string, now time.Time) (*Claims, error) {
	if aud != AudienceMFA && aud != AudienceApp {
		return nil, invalid("unknown audience requested")
	}
	if len(token) > MaxTokenLen {
		return nil, invalid("too long")
	}
	if !tokenChars(token) {
		return nil, invalid("malformed")
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithSubject(Subject),
		jwt.WithAudience(aud),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithLeeway(Leeway),
		jwt.WithStrictDecoding(),
	)
	c := new(Claims)
	if t, err := p.ParseWithClaims(token, c, k.keyFunc); err != nil {
		if t != nil && t.Method != nil && t.Method != jwt.SigningMethodHS256 {
			return nil, invalid("signing algorithm not allowed")
		}
		return nil, invalid(reason(err))
	}
	switch {
	case c.IssuedAt == nil:
		return nil, invalid("missing required claim")
	case len(c.Audience) != 1:
		return nil, invalid("wrong audience")
	case c.ID == "" || len(c.ID) > 64:
		return nil, invalid("missing or bad token id")
	case aud == AudienceApp && c.SID == "":
		return nil, invalid("missing session id")
	}
	return c, nil
}

// tokenChars reports whether s holds only base64url characters and dots.
// The base64 decoder skips CR and LF, so without this check a token with
// line breaks in its signature would pass as well as the token itself.
func tokenChars(s string) bool {
	for i := range len(s) {
		switch c := s[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// keyFunc hands out the signing key for HS256 tokens only. The parser has
// already refused other algorithms (WithValidMethods); this is the second
// lock, so the key can never be used as, say, an RSA public key.
func (k *Keys) keyFunc(t *jwt.Token) (any, error) {
	if t.Method != jwt.SigningMethodHS256 || t.Header["alg"] != jwt.SigningMethodHS256.Alg() {
		return nil, errors.New("unexpected signing method")
	}
	return k.token, nil
}

func invalid(why string) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, why)
}

// reason names, in general terms, why the jwt parser refused a token. It
// does not pass on the parser's message, which may quote bits of it.
func reason(err error) string {
	for _, r := range []struct {
		err error
		why string
	}{
		{jwt.ErrTokenMalformed, "malformed"},
		{jwt.ErrTokenUnverifiable, "unknown signing algorithm"},
		{jwt.ErrTokenSignatureInvalid, "bad signature"},
		{jwt.ErrTokenRequiredClaimMissing, "missing required claim"},
		{jwt.ErrTokenExpired, "expired"},
		{jwt.ErrTokenUsedBeforeIssued, "not valid yet"},
		{jwt.ErrTokenNotValidYet, "not valid yet"},
		{jwt.ErrTokenInvalidAudience, "wrong audience"},
		{jwt.ErrTokenInvalidIssuer, "wrong issuer"},
		{jwt.ErrTokenInvalidSubject, "wrong subject"},
	} {
		if errors.Is(err, r.err) {
			return r.why
		}
	}
	return "rejected"
}
