package auth

import (
	"testing"
)

func TestNewCodeUniform(t *testing.T) {
	const n = 100_000
	var first, last [10]int
	triples := make([]int, 1000)
	for range n {
		c, err := NewCode()
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != CodeDigits {
			t.Fatalf("code %q is not 6 characters", c)
		}
		v := 0
		for i := range len(c) {
			if c[i] < '0' || c[i] > '9' {
				t.Fatalf("code %q is not all digits", c)
			}
			v = v*10 + int(c[i]-'0')
		}
		first[c[0]-'0']++
		last[c[5]-'0']++
		triples[v/1000]++
	}
	for d, k := range first {
		if k == 0 {
			t.Errorf("no code starts with %d", d)
		}
	}
	// χ² against uniform. The bounds are p < 1e-6 or so: a failure means
	// bias, not bad luck.
	for _, tc := range []struct {
		name   string
		counts []int
		max    float64
	}{
		{"first digit (9 df)", first[:], 50},
		{"last digit (9 df)", last[:], 50},
		{"first three digits (999 df)", triples, 1250},
	} {
		if x := chiSquare(tc.counts, n); x > tc.max {
			t.Errorf("%s: χ² = %.1f > %.0f", tc.name, x, tc.max)
		}
	}
}

func chiSquare(counts []int, n int) float64 {
	want := float64(n) / float64(len(counts))
	var x float64
	for _, k := range counts {
		d := float64(k) - want
		x += d * d / want
	}
	return x
}

func TestCodeLimit(t *testing.T) {
	if codeLimit%codeSpace != 0 || codeLimit > 1<<32 || 1<<32-codeLimit >= codeSpace {
		t.Errorf("codeLimit %d is not the largest multiple of %d in 32 bits", codeLimit, codeSpace)
	}
}

func TestHashCode(t *testing.T) {
	k := testKeys()
	h := k.HashCode("jti-1", "123456")
	if h != k.HashCode("jti-1", "123456") {
		t.Fatal("HashCode is not deterministic")
	}
	for name, other := range map[string]func() [32]byte{
		"other jti":   func() [32]byte { return k.HashCode("jti-2", "123456") },
		"other code":  func() [32]byte { return k.HashCode("jti-1", "123457") },
		"other salt":  func() [32]byte { return NewKeys(testSecret, "salt-B").HashCode("jti-1", "123456") },
		"shifted ':'": func() [32]byte { return k.HashCode("jti-1:1", "23456") },
	} {
		if other() == h {
			t.Errorf("%s: same hash", name)
		}
	}
}

func TestCodeMatcher(t *testing.T) {
	k := testKeys()
	stored := k.HashCode("jti-1", "012345")
	for _, tc := range []struct {
		guess string
		want  bool
	}{
		{"012345", true},
		{" 012345 ", true},
		{"012 345", true},
		{" 012 345", true},
		{"012-345", true},
		{"0-1-2-3-4-5", true},
		{"\t012345\n", true},
		{"12345", false},
		{"0123456", false},
		{"0123450", false},
		{"012346", false},
		{"", false},
		{"      ", false},
		{"abcdef", false},
		{"01234a", false},
		{"012.345", false},
		{"012_345", false},
		{"０１２３４５", false}, // full-width digits
		{"٠١٢٣٤٥", false}, // Arabic-Indic digits
		{"+012345", false},
		{"012345" + string(rune(0)), false},
		{"0 1 2 3 4 5 - - - - - - - - - - - - - - -", false}, // longer than any sane guess
	} {
		if got := k.CodeMatcher("jti-1", tc.guess)(stored); got != tc.want {
			t.Errorf("CodeMatcher(%q) = %v, want %v", tc.guess, got, tc.want)
		}
	}
	// The right code for another token, or under another salt, is wrong.
	if k.CodeMatcher("jti-2", "012345")(stored) {
		t.Error("code matched under another jti")
	}
	if NewKeys(testSecret, "salt-B").CodeMatcher("jti-1", "012345")(stored) {
		t.Error("code matched under another salt")
	}
}

func TestNormalizeCode(t *testing.T) {
	for in, want := range map[string]string{
		"000000":    "000000",
		" 123 456 ": "123456",
		"123-456":   "123456",
		"1234567":   "",
		"12345":     "",
		"12a456":    "",
	} {
		got, ok := NormalizeCode(in)
		if got != want || ok != (want != "") {
			t.Errorf("NormalizeCode(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
