package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters of new hashes (OWASP's and the reliability plan's
// minimum: 19 MiB, 2 passes, 1 lane), and the bounds a parsed hash must
// fall in. The lower bounds keep a weak APPLICATION_PASSWORD_HASH from
// being accepted; the upper ones keep a hostile one from costing more
// than 1 GiB or many seconds per sign-in attempt.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	saltLen      = 16
	keyLen       = 32

	minMemory, maxMemory   = argonMemory, 1 << 20 // KiB (1 GiB)
	minTime, maxTime       = argonTime, 10
	minThreads, maxThreads = 1, 16
	minSaltLen, maxSaltLen = 8, 64
	minKeyLen, maxKeyLen   = 16, 64
)

// b64 is the PHC string's base64: standard alphabet, no padding, and no
// stray bits in the last character (so each hash has one spelling).
var b64 = base64.RawStdEncoding.Strict()

// ErrPasswordHash is wrapped by every error of ParsePasswordHash.
var ErrPasswordHash = errors.New("invalid password hash")

// PasswordHash is a parsed argon2id hash. Its String method does not show
// the salt or the key, so it can be printed safely.
type PasswordHash struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// HashPassword hashes pw with argon2id and a fresh random salt, and
// returns it as a PHC string:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
func HashPassword(pw string) (string, error) {
	if pw == "" {
		return "", errors.New("auth: empty password")
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: password salt: %w", err)
	}
	h := &PasswordHash{
		memory:  argonMemory,
		time:    argonTime,
		threads: argonThreads,
		salt:    salt,
	}
	h.key = h.derive(pw, keyLen)
	return h.encode(), nil
}

// ParsePasswordHash parses a PHC string as made by HashPassword (other
// tools' argon2id hashes too, within the bounds above). Errors wrap
// ErrPasswordHash and say which part is wrong, never what it holds.
func ParsePasswordHash(s string) (*PasswordHash, error) {
	bad := func(what string) error {
		return fmt.Errorf("auth: %w: %s", ErrPasswordHash, what)
	}
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return nil, bad("want $argon2id$v=19$m=…,t=…,p=…$salt$hash")
	}
	if parts[1] != "argon2id" {
		return nil, bad("algorithm is not argon2id")
	}
	if parts[2] != "v=19" {
		return nil, bad("version is not v=19")
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return nil, bad("parameters are not m=…,t=…,p=…")
	}
	m, ok := param(params[0], "m", minMemory, maxMemory)
	if !ok {
		return nil, bad(fmt.Sprintf("memory (m) is not a number of KiB in %d..%d", minMemory, maxMemory))
	}
	t, ok := param(params[1], "t", minTime, maxTime)
	if !ok {
		return nil, bad(fmt.Sprintf("iterations (t) is not a number in %d..%d", minTime, maxTime))
	}
	p, ok := param(params[2], "p", minThreads, maxThreads)
	if !ok {
		return nil, bad(fmt.Sprintf("parallelism (p) is not a number in %d..%d", minThreads, maxThreads))
	}
	salt, ok := unbase64(parts[4])
	if !ok {
		return nil, bad("salt is not unpadded base64")
	}
	if len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return nil, bad(fmt.Sprintf("salt is not %d..%d bytes", minSaltLen, maxSaltLen))
	}
	key, ok := unbase64(parts[5])
	if !ok {
		return nil, bad("hash is not unpadded base64")
	}
	if len(key) < minKeyLen || len(key) > maxKeyLen {
		return nil, bad(fmt.Sprintf("hash is not %d..%d bytes", minKeyLen, maxKeyLen))
	}
	return &PasswordHash{memory: uint32(m), time: uint32(t), threads: uint8(p), salt: salt, key: key}, nil
}

// unbase64 decodes s, which must be in canonical form: the decoder
// skips CR and LF, which would give one hash two spellings.
func unbase64(s string) ([]byte, bool) {
	b, err := b64.DecodeString(s)
	if err != nil || b64.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

// param parses "name=N" with N a canonical decimal (no sign, no leading
// zero) in lo..hi.
func param(s, name string, lo, hi uint64) (uint64, bool) {
	v, ok := strings.CutPrefix(s, name+"=")
	if !ok || v == "" || len(v) > 1 && v[0] == '0' {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n < lo || n > hi {
		return 0, false
	}
	return n, true
}

// NewPassword returns the administrator's password hash from the
// configuration: either plain (APPLICATION_PASSWORD, hashed now, so the
// plain text need not be kept) or phc (APPLICATION_PASSWORD_HASH, a PHC
// string). Exactly one of them must be set.
func NewPassword(plain, phc string) (*PasswordHash, error) {
	switch {
	case plain != "" && phc != "":
		return nil, errors.New("auth: set APPLICATION_PASSWORD or APPLICATION_PASSWORD_HASH, not both")
	case plain != "":
		s, err := HashPassword(plain)
		if err != nil {
			return nil, err
		}
		return ParsePasswordHash(s)
	case phc != "":
		h, err := ParsePasswordHash(phc)
		if err != nil {
			return nil, fmt.Errorf("APPLICATION_PASSWORD_HASH: %w", err)
		}
		return h, nil
	default:
		return nil, errors.New("auth: APPLICATION_PASSWORD or APPLICATION_PASSWORD_HASH is required")
	}
}

// Verify reports whether pw is the password. It always does the full
// argon2id work and compares in constant time, so neither a wrong guess
// nor how wrong it is shows in the time taken.
func (h *PasswordHash) Verify(pw string) bool {
	got := h.derive(pw, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// String describes h without its salt or key.
func (h *PasswordHash) String() string {
	return fmt.Sprintf("argon2id(m=%d,t=%d,p=%d)", h.memory, h.time, h.threads)
}

// GoString is String, so %#v does not print the key either.
func (h *PasswordHash) GoString() string { return h.String() }

func (h *PasswordHash) derive(pw string, n uint32) []byte {
	return argon2.IDKey([]byte(pw), h.salt, h.time, h.memory, h.threads, n)
}

// encode is h as a PHC string.
func (h *PasswordHash) encode() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.memory, h.time, h.threads,
		b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}
