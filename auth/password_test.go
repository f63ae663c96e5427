package auth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strings"
	"testing"
)

var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestPasswordRoundTrip(t *testing.T) {
	const pw = "correct horse battery staple"
	s, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !phcRE.MatchString(s) {
		t.Fatalf("hash %q is not a PHC argon2id string with the expected parameters", s)
	}
	h, err := ParsePasswordHash(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.encode(); got != s {
		t.Errorf("encode(parse(s)) = %q, want %q", got, s)
	}
	for _, tc := range []struct {
		guess string
		want  bool
	}{
		{pw, true},
		{"correct horse battery stapl", false},
		{"correct horse battery staple ", false},
		{"Correct horse battery staple", false},
		{"", false},
	} {
		if got := h.Verify(tc.guess); got != tc.want {
			t.Errorf("Verify(%q) = %v, want %v", tc.guess, got, tc.want)
		}
	}

	// A fresh salt each time.
	s2, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if s2 == s {
		t.Error("two hashes of one password are equal: salt not random")
	}
	if _, err := HashPassword(""); err == nil {
		t.Error("HashPassword(\"\") succeeded")
	}
}

// A PHC string whose salt and key are recognizable, to check errors do not
// echo them.
var (
	testSalt = base64.RawStdEncoding.EncodeToString([]byte("SALTSALTSALTSALT"))
	testKey  = base64.RawStdEncoding.EncodeToString([]byte("KEYKEYKEYKEYKEYKEYKEYKEYKEYKEYKE"))
)

func phc(alg, ver, params, salt, key string) string {
	return "$" + alg + "$" + ver + "$" + params + "$" + salt + "$" + key
}

func TestParsePasswordHash(t *testing.T) {
	good := phc("argon2id", "v=19", "m=19456,t=2,p=1", testSalt, testKey)
	if _, err := ParsePasswordHash(good); err != nil {
		t.Fatalf("good hash: %v", err)
	}
	for _, ok := range []string{
		phc("argon2id", "v=19", "m=1048576,t=10,p=16", testSalt, testKey),
		phc("argon2id", "v=19", "m=65536,t=3,p=4", "AAAAAAAAAAA", strings.Repeat("A", 22)), // 8-byte salt, 16-byte key
	} {
		if _, err := ParsePasswordHash(ok); err != nil {
			t.Errorf("ParsePasswordHash(%q): %v", ok, err)
		}
	}

	for _, tc := range []struct {
		name, in, part string
	}{
		{"empty", "", "want $argon2id"},
		{"no leading $", "argon2id$v=19$m=19456,t=2,p=1$" + testSalt + "$" + testKey, "want $argon2id"},
		{"too few parts", "$argon2id$v=19$m=19456,t=2,p=1$" + testSalt, "want $argon2id"},
		{"too many parts", good + "$x", "want $argon2id"},
		{"argon2i", phc("argon2i", "v=19", "m=19456,t=2,p=1", testSalt, testKey), "algorithm"},
		{"bcrypt", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", "want $argon2id"},
		{"version 16", phc("argon2id", "v=16", "m=19456,t=2,p=1", testSalt, testKey), "version"},
		{"no version", phc("argon2id", "m=19456,t=2,p=1", testSalt, testKey, "x"), "version"},
		{"two params", phc("argon2id", "v=19", "m=19456,t=2", testSalt, testKey), "parameters"},
		{"four params", phc("argon2id", "v=19", "m=19456,t=2,p=1,k=1", testSalt, testKey), "parameters"},
		{"params out of order", phc("argon2id", "v=19", "t=2,m=19456,p=1", testSalt, testKey), "memory (m)"},
		{"m not a number", phc("argon2id", "v=19", "m=lots,t=2,p=1", testSalt, testKey), "memory (m)"},
		{"m empty", phc("argon2id", "v=19", "m=,t=2,p=1", testSalt, testKey), "memory (m)"},
		{"m negative", phc("argon2id", "v=19", "m=-19456,t=2,p=1", testSalt, testKey), "memory (m)"},
		{"m leading zero", phc("argon2id", "v=19", "m=019456,t=2,p=1", testSalt, testKey), "memory (m)"},
		{"m too small", phc("argon2id", "v=19", "m=4096,t=2,p=1", testSalt, testKey), "memory (m)"},
		{"m over 1 GiB", phc("argon2id", "v=19", "m=1048577,t=2,p=1", testSalt, testKey), "memory (m)"},
		{"m over 32 bits", phc("argon2id", "v=19", "m=4294967297,t=2,p=1", testSalt, testKey), "memory (m)"},
		{"t zero", phc("argon2id", "v=19", "m=19456,t=0,p=1", testSalt, testKey), "iterations (t)"},
		{"t one", phc("argon2id", "v=19", "m=19456,t=1,p=1", testSalt, testKey), "iterations (t)"},
		{"t eleven", phc("argon2id", "v=19", "m=19456,t=11,p=1", testSalt, testKey), "iterations (t)"},
		{"t plus sign", phc("argon2id", "v=19", "m=19456,t=+2,p=1", testSalt, testKey), "iterations (t)"},
		{"p zero", phc("argon2id", "v=19", "m=19456,t=2,p=0", testSalt, testKey), "parallelism (p)"},
		{"p seventeen", phc("argon2id", "v=19", "m=19456,t=2,p=17", testSalt, testKey), "parallelism (p)"},
		{"p 256", phc("argon2id", "v=19", "m=19456,t=2,p=256", testSalt, testKey), "parallelism (p)"},
		{"salt not base64", phc("argon2id", "v=19", "m=19456,t=2,p=1", "SALT*SALT*SALT*SALT*", testKey), "salt"},
		{"salt padded", phc("argon2id", "v=19", "m=19456,t=2,p=1", testSalt+"==", testKey), "salt"},
		{"salt urlsafe", phc("argon2id", "v=19", "m=19456,t=2,p=1", "SALT-SALT_SALT-SALT_A", testKey), "salt"},
		{"salt with CR", phc("argon2id", "v=19", "m=19456,t=2,p=1", testSalt[:4]+"\r"+testSalt[4:], testKey), "salt"},
		{"hash with LF", phc("argon2id", "v=19", "m=19456,t=2,p=1", testSalt, testKey[:4]+"\n"+testKey[4:]), "hash"},
		{"salt empty", phc("argon2id", "v=19", "m=19456,t=2,p=1", "", testKey), "salt"},
		{"salt too short", phc("argon2id", "v=19", "m=19456,t=2,p=1", "AAAAAAAA", testKey), "salt"},
		{"salt too long", phc("argon2id", "v=19", "m=19456,t=2,p=1", strings.Repeat("A", 88), testKey), "salt"},
		{"hash not base64", phc("argon2id", "v=19", "m=19456,t=2,p=1", testSalt, "KEY!KEY!KEY!KEY!KEY!KEY!"), "hash"},
		{"hash stray bits", phc("argon2id", "v=19", "m=19456,t=2,p=1", testSalt, testKey[:len(testKey)-1]+"B"), "hash"},
		{"hash empty", phc("argon2id", "v=19", "m=19456,t=2,p=1", testSalt, ""), "hash"},
		{"hash too short", phc("argon2id", "v=19", "m=19456,t=2,p=1", testSalt, strings.Repeat("A", 20)), "hash"},
		{"hash too long", phc("argon2id", "v=19", "m=19456,t=2,p=1", testSalt, strings.Repeat("A", 88)), "hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParsePasswordHash(tc.in)
			if err == nil {
				t.Fatalf("accepted: %v", h)
			}
			if !errors.Is(err, ErrPasswordHash) {
				t.Errorf("error %q does not wrap ErrPasswordHash", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.part) {
				t.Errorf("error %q does not name the part %q", msg, tc.part)
			}
			for _, secret := range []string{testSalt[:8], testKey[:8], "SALT", "KEY", "lots", "4096"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q echoes the input (%q)", msg, secret)
				}
			}
		})
	}
}

func TestNewPassword(t *testing.T) {
	const pw = "s3cret-Pa55"
	s, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, plain, phc string
		ok               bool
	}{
		{"plain", pw, "", true},
		{"hash", "", s, true},
		{"both", pw, s, false},
		{"neither", "", "", false},
		{"bad hash", "", "$argon2id$v=19$m=1,t=1,p=1$" + testSalt + "$" + testKey, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewPassword(tc.plain, tc.phc)
			if !tc.ok {
				if err == nil {
					t.Fatal("accepted")
				}
				if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), testKey) {
					t.Errorf("error %q echoes a secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !h.Verify(pw) || h.Verify(pw+"x") {
				t.Error("hash does not verify the password (only)")
			}
		})
	}
}

func TestPasswordHashPrintsNoSecrets(t *testing.T) {
	h, err := ParsePasswordHash(phc("argon2id", "v=19", "m=19456,t=2,p=1", testSalt, testKey))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(f, h)
		if strings.Contains(out, testSalt[:8]) || strings.Contains(out, testKey[:8]) || strings.Contains(out, "[") {
			t.Errorf("Sprintf(%s) = %q shows the salt or key", f, out)
		}
	}
}

// TestConstantTimeCompares checks, from the source, that the password and
// code comparisons use constant-time functions (a timing test would be
// flaky) and no ordinary comparison.
func TestConstantTimeCompares(t *testing.T) {
	for _, tc := range []struct {
		file, fn, must string
	}{
		{"password.go", "Verify", "subtle.ConstantTimeCompare"},
		{"code.go", "CodeMatcher", "hmac.Equal"},
	} {
		calls := callsIn(t, tc.file, tc.fn)
		if !calls[tc.must] {
			t.Errorf("%s does not call %s", tc.fn, tc.must)
		}
		for _, bad := range []string{"bytes.Equal", "bytes.Compare", "reflect.DeepEqual", "slices.Equal"} {
			if calls[bad] {
				t.Errorf("%s calls %s", tc.fn, bad)
			}
		}
	}
}

// callsIn lists the pkg.Func calls made in function fn of file.
func callsIn(t *testing.T, file, fn string) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]bool{}
	found := false
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Name.Name != fn {
			continue
		}
		found = true
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok {
				if sel, ok := c.Fun.(*ast.SelectorExpr); ok {
					if id, ok := sel.X.(*ast.Ident); ok {
						calls[id.Name+"."+sel.Sel.Name] = true
					}
				}
			}
			return true
		})
	}
	if !found {
		t.Fatalf("%s: no func %s", file, fn)
	}
	return calls
}
