package hl7

import (
	"math/rand/v2"
	"testing"
)

func TestUnescape(t *testing.T) {
	v27 := DefaultDelimiters
	v27.Truncation = '#'
	custom := Delimiters{Field: '#', Component: '$', Repetition: '%', Escape: '@', Subcomponent: '!'}
	tests := []struct {
		in, want string
		d        Delimiters
	}{
		{`plain`, "plain", DefaultDelimiters},
		{`\F\\S\\T\\R\\E\`, `|^&~\`, DefaultDelimiters},
		{`a\P\b`, "a#b", v27},
		{`a\P\b`, `a\P\b`, DefaultDelimiters}, // no truncation character
		{`\X41\\X4243\`, "ABC", DefaultDelimiters},
		{`\Xc3a9\`, "é", DefaultDelimiters},
		{`\XE9\`, "é", DefaultDelimiters},    // not UTF-8: Latin-1
		{`\X000d\`, "\r", DefaultDelimiters}, // 16-bit units
		{`\X0D0A\`, "\r\n", DefaultDelimiters},
		{`\X0\`, `\X0\`, DefaultDelimiters},    // odd length
		{`\XZZ\`, `\XZZ\`, DefaultDelimiters},  // not hex
		{`\X\`, `\X\`, DefaultDelimiters},      // empty
		{`a\.br\b`, "a\nb", DefaultDelimiters}, // line break
		{`a\.sp\b`, "a\nb", DefaultDelimiters}, // skip
		{`a\.sp 2\b`, "a\nb", DefaultDelimiters},
		{`a\.ce\b`, "a\nb", DefaultDelimiters},
		{`a\.fi\\.nf\\.in +4\\.ti -2\\.sk 3\b`, "ab", DefaultDelimiters},
		{`a\.in x\b`, `a\.in x\b`, DefaultDelimiters},
		{`a\.zz\b`, `a\.zz\b`, DefaultDelimiters},
		{`\H\bold\N\`, "bold", DefaultDelimiters},
		{`a\C2842\b\M2442\c\M244241\d`, "abcd", DefaultDelimiters},
		{`a\C28\b`, `a\C28\b`, DefaultDelimiters},
		{`a\Zlocal\b`, "ab", DefaultDelimiters},
		{`unknown \Q\ kept`, `unknown \Q\ kept`, DefaultDelimiters},
		{`C:\dir\F\`, `C:\dir|`, DefaultDelimiters}, // stray escape char, then \F\
		{`trailing \`, `trailing \`, DefaultDelimiters},
		{`open \F`, `open \F`, DefaultDelimiters},
		{`\E\X09\E\`, `\X09\`, DefaultDelimiters}, // Epic double escape
		{`\E\R\`, `\R\`, DefaultDelimiters},
		{`@F@@S@@T@@R@@E@`, "#$!%@", custom},
		{`\F\`, `\F\`, custom},
		{`x\F\`, "x|", Delimiters{}}, // zero value = defaults
	}
	for _, tt := range tests {
		if got := Unescape(tt.in, tt.d); got != tt.want {
			t.Errorf("Unescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEscape(t *testing.T) {
	v27 := DefaultDelimiters
	v27.Truncation = '#'
	dot := Delimiters{Field: '|', Component: '.', Repetition: '~', Escape: '\\', Subcomponent: '&'}
	tests := []struct {
		in, want string
		d        Delimiters
	}{
		{"plain", "plain", DefaultDelimiters},
		{`a|b^c&d~e\f`, `a\F\b\S\c\T\d\R\e\E\f`, DefaultDelimiters},
		{"x#y", `x\P\y`, v27},
		{"x#y", "x#y", DefaultDelimiters},
		{"l1\nl2\r", `l1\.br\l2\X0D\`, DefaultDelimiters},
		{"a.b\n", `a\S\b\X0A\`, dot},
		{"a|b^c\n", "a b c ", Delimiters{Field: '|', Component: '^', Repetition: '~'}},
	}
	for _, tt := range tests {
		if got := Escape(tt.in, tt.d); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestEscapeRoundTrip is a property test: Unescape(Escape(s)) == s for
// random strings over an alphabet rich in delimiters, with several
// delimiter sets.
func TestEscapeRoundTrip(t *testing.T) {
	sets := []Delimiters{
		DefaultDelimiters,
		{Field: '|', Component: '^', Repetition: '~', Escape: '\\', Subcomponent: '&', Truncation: '#'},
		{Field: '#', Component: '$', Repetition: '%', Escape: '@', Subcomponent: '!'},
		{Field: '|', Component: '.', Repetition: '~', Escape: '\\', Subcomponent: '&'},
		{Field: '|', Component: '^', Repetition: '~', Escape: '\\'},
	}
	alphabet := []string{"|", "^", "~", "\\", "&", "#", "$", "%", "@", "!", ".", "\n", "\r", "X", "F", "E", "0", "D", "br", "é", "\xff", " ", "a"}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		n := r.IntN(12)
		s := ""
		for j := 0; j < n; j++ {
			s += alphabet[r.IntN(len(alphabet))]
		}
		for _, d := range sets {
			e := Escape(s, d)
			if got := Unescape(e, d); got != s {
				t.Fatalf("delims %q: Unescape(Escape(%q)) = %q (escaped %q)", d.EncodingCharacters(), s, got, e)
			}
			for k := 0; k < len(e); k++ {
				if c := e[k]; c == d.Field || c == d.Component || c == d.Repetition || c == d.Subcomponent && c != 0 || c == '\r' || c == '\n' {
					t.Fatalf("Escape(%q) = %q leaves delimiter %q", s, e, c)
				}
			}
		}
	}
}
