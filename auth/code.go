package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/apptbridge/apptbridge/store"
)

// Sign-in code settings the server uses.
const (
	CodeDigits = 6
	CodeTTL    = MFATokenTTL // a code lives as long as its MFA token
	CodeTries  = 5           // wrong answers allowed per code (store.LoginCode.MaxTries)
)

const (
	codeSpace = 1_000_000 // 10^CodeDigits
	// codeLimit is the largest multiple of codeSpace that fits in 32 bits;
	// draws at or above it are thrown away so every code is equally likely.
	codeLimit = (1 << 32) / codeSpace * codeSpace
)

// maxGuessLen bounds the work done on a guess; a longer one never matches.
const maxGuessLen = 32

// NewCode returns a random 6-digit sign-in code ("000000" to "999999",
// each equally likely) from crypto/rand.
func NewCode() (string, error) {
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("auth: random code: %w", err)
		}
		if n := binary.BigEndian.Uint32(b[:]); n < codeLimit {
			return fmt.Sprintf("%06d", n%codeSpace), nil
		}
	}
}

// HashCode is the keyed hash a sign-in code is stored as:
// HMAC-SHA256 over jti ":" code, keyed from the secret and SALT. The jti
// (the MFA token's id) binds the code to that one token, so a code is no
// good with another token, and the same code sent twice hashes apart.
// Without the key, the 10^6 possible codes cannot be tried offline
// against a leaked hash.
func (k *Keys) HashCode(jti, code string) store.Hash {
	m := hmac.New(sha256.New, k.code)
	m.Write([]byte(jti))
	m.Write([]byte{':'})
	m.Write([]byte(code))
	var h store.Hash
	m.Sum(h[:0])
	return h
}

// CodeMatcher returns the match function for store.Admin.UseLoginCode:
// it reports whether a stored hash is that of guess for the MFA token
// jti, comparing in constant time. The guess is normalized first (see
// NormalizeCode); one that is not 6 digits never matches.
func (k *Keys) CodeMatcher(jti, guess string) func(store.Hash) bool {
	code, ok := NormalizeCode(guess)
	if !ok {
		return func(store.Hash) bool { return false }
	}
	want := k.HashCode(jti, code)
	return func(h store.Hash) bool { return hmac.Equal(want[:], h[:]) }
}

// NormalizeCode turns what the administrator typed into a code: spaces
// around it and spaces or dashes inside it are dropped ("123 456",
// "123-456"). It reports false unless exactly 6 ASCII digits remain. A
// handler may use it to refuse a mistyped guess without spending one of
// the code's tries.
func NormalizeCode(guess string) (string, bool) {
	if len(guess) > maxGuessLen {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.TrimSpace(guess) {
		switch {
		case r == ' ' || r == '-':
		case r >= '0' && r <= '9' && b.Len() < CodeDigits:
			b.WriteRune(r)
		default: // a letter, other punctuation, a 7th digit
			return "", false
		}
	}
	if b.Len() != CodeDigits {
		return "", false
	}
	return b.String(), true
}
