package mapping

import (
	"sort"
	"strings"
)

// country holds what the E.164 normalizer needs to know about one country.
type country struct {
	iso      string // ISO 3166 alpha-2
	cc       string // country calling code
	trunk    bool   // national numbers start with the trunk prefix 0, dropped in E.164
	keepZero bool   // a leading 0 is part of the number (Italy)
	min, max int    // length of the national significant number
	intl     string // international call prefix besides "00"
	nanp     bool   // North American Numbering Plan rules
}

var countries = []country{
	{iso: "US", cc: "1", min: 10, max: 10, intl: "011", nanp: true},
	{iso: "CA", cc: "1", min: 10, max: 10, intl: "011", nanp: true},
	{iso: "GB", cc: "44", trunk: true, min: 9, max: 10},
	{iso: "FR", cc: "33", trunk: true, min: 9, max: 9},
	{iso: "DE", cc: "49", trunk: true, min: 6, max: 13},
	{iso: "ES", cc: "34", min: 9, max: 9},
	{iso: "MX", cc: "52", min: 10, max: 10},
	{iso: "AU", cc: "61", trunk: true, min: 9, max: 9, intl: "0011"},
	{iso: "IE", cc: "353", trunk: true, min: 7, max: 9},
	{iso: "NL", cc: "31", trunk: true, min: 9, max: 9},
	{iso: "IT", cc: "39", keepZero: true, min: 6, max: 11},
	{iso: "BE", cc: "32", trunk: true, min: 8, max: 9},
	{iso: "CH", cc: "41", trunk: true, min: 9, max: 9},
	{iso: "AT", cc: "43", trunk: true, min: 4, max: 13},
	{iso: "PT", cc: "351", min: 9, max: 9},
	{iso: "NZ", cc: "64", trunk: true, min: 8, max: 10},
	{iso: "SE", cc: "46", trunk: true, min: 7, max: 10},
	{iso: "DK", cc: "45", min: 8, max: 8},
	{iso: "NO", cc: "47", min: 8, max: 8},
	{iso: "PL", cc: "48", min: 9, max: 9},
	{iso: "IN", cc: "91", trunk: true, min: 10, max: 10},
}

// countryByISO returns the rules of an ISO 3166 alpha-2 code, or nil.
func countryByISO(iso string) *country {
	for i := range countries {
		if strings.EqualFold(countries[i].iso, iso) {
			return &countries[i]
		}
	}
	return nil
}

// ccIndex maps a 1-, 2- or 3-digit calling code (as a number, offset by
// 0, 10 and 110 for the three lengths) to its index in countries + 1.
var ccIndex = func() (t [1110]int8) {
	for i := len(countries) - 1; i >= 0; i-- { // the first country of a code wins (US over CA)
		cc := countries[i].cc
		n := atoi(cc)
		switch len(cc) {
		case 2:
			n += 10
		case 3:
			n += 110
		}
		t[n] = int8(i + 1)
	}
	return t
}()

// countryByCC returns the rules for the calling code that starts digits
// (NANP numbers all follow the US rules), or nil. Calling codes are
// prefix-free, so at most one length matches.
func countryByCC(digits []byte) *country {
	n := 0
	for l := 1; l <= 3 && l <= len(digits); l++ {
		n = n*10 + int(digits[l-1]-'0')
		k := n
		switch l {
		case 2:
			k += 10
		case 3:
			k += 110
		}
		if i := ccIndex[k]; i > 0 {
			return &countries[i-1]
		}
	}
	return nil
}

// SupportedCountries lists the ISO 3166 codes NormalizePhone knows.
func SupportedCountries() []string {
	out := make([]string, len(countries))
	for i, c := range countries {
		out[i] = c.iso
	}
	sort.Strings(out)
	return out
}

// NormalizePhone returns number in E.164 (+CCNSN), reading national
// numbers as numbers of country (ISO 3166 alpha-2). Spaces and the
// punctuation ( ) - . / are ignored; an extension (x123, ext 123, #123) is
// dropped; a leading + or an international prefix (00, 011 in NANP, 0011
// in Australia) marks an international number. ok is false when the text
// is not a usable phone number.
func NormalizePhone(number, countryISO string) (e164 string, ok bool) {
	c := countryByISO(countryISO)
	if c == nil {
		return "", false
	}
	return normalizePhone(c, false, number)
}

// maxDigits bounds the digits collected (E.164 allows 15; a few more leave
// room for prefixes such as 011 and trunk zeros before they are removed).
const maxDigits = 20

// normalizePhone joins parts (e.g. XTN-5, XTN-6, XTN-7) and normalizes
// them. intl says the first part is a country calling code.
func normalizePhone(c *country, intl bool, parts ...string) (string, bool) {
	var buf [maxDigits]byte
	n := 0
	plus := false
	seenDigit := false
	for pi, p := range parts {
	scan:
		for i := 0; i < len(p); i++ {
			ch := p[i]
			switch {
			case ch >= '0' && ch <= '9':
				if n == maxDigits {
					return "", false
				}
				buf[n] = ch
				n++
				seenDigit = true
			case ch == ' ' || ch == '-' || ch == '.' || ch == '(' || ch == ')' || ch == '/' || ch == '\t':
			case ch == '+':
				if seenDigit || plus || pi > 0 {
					return "", false
				}
				plus = true
			case ch == 'x' || ch == 'X' || ch == '#' || ch == 'e' || ch == 'E':
				// extension: x123, X007, ext. 12, #12 — only after a number
				if n < 7 || !isExtension(p[i:]) {
					return "", false
				}
				break scan
			default:
				return "", false
			}
		}
	}
	d := buf[:n]
	if intl {
		plus = true
	}
	if plus {
		return international(d)
	}
	if c.intl != "" && hasPrefix(d, c.intl) {
		return international(d[len(c.intl):])
	}
	if hasPrefix(d, "00") {
		return international(d[2:])
	}
	return national(c, d)
}

// isExtension reports whether s (starting at x, X, #, e or E) looks like
// an extension marker followed by digits.
func isExtension(s string) bool {
	i := 0
	switch {
	case s[0] == 'x' || s[0] == 'X' || s[0] == '#':
		i = 1
	case len(s) >= 3 && strings.EqualFold(s[:3], "ext"):
		i = 3
	default:
		return false
	}
	for i < len(s) && (s[i] == '.' || s[i] == ' ' || s[i] == ':') {
		i++
	}
	return i < len(s) && allDigits(s[i:])
}

func hasPrefix(d []byte, p string) bool {
	return len(d) >= len(p) && string(d[:len(p)]) == p
}

func national(c *country, d []byte) (string, bool) {
	if len(d) == 0 {
		return "", false
	}
	if c.nanp {
		if len(d) == 11 && d[0] == '1' {
			d = d[1:]
		}
		return finish(c, d)
	}
	if c.iso == "MX" { // pre-2019 dialing: 044/045 mobile, 01 trunk
		switch {
		case len(d) == 13 && (hasPrefix(d, "044") || hasPrefix(d, "045")):
			d = d[3:]
		case len(d) == 12 && hasPrefix(d, "01"):
			d = d[2:]
		}
	}
	if c.trunk && d[0] == '0' {
		return finish(c, d[1:])
	}
	// Country code written without '+' (e.g. 447123456789).
	if hasPrefix(d, c.cc) && d[0] != '0' {
		rest := len(d) - len(c.cc)
		if rest >= c.min && rest <= c.max && (len(d) < c.min || len(d) > c.max) {
			return international(d)
		}
	}
	return finish(c, d)
}

func international(d []byte) (string, bool) {
	if len(d) == 0 || d[0] == '0' {
		return "", false
	}
	c := countryByCC(d)
	if c == nil {
		if len(d) < 8 || len(d) > 15 {
			return "", false
		}
		return "+" + string(d), true
	}
	nsn := d[len(c.cc):]
	if c.trunk && len(nsn) > 0 && nsn[0] == '0' { // "+44 (0)20 …"
		nsn = nsn[1:]
	}
	if c.iso == "MX" && len(nsn) == 11 && nsn[0] == '1' { // old mobile "+52 1 …"
		nsn = nsn[1:]
	}
	return finish(c, nsn)
}

// finish validates the national significant number and builds +CCNSN.
func finish(c *country, nsn []byte) (string, bool) {
	// E.164 allows 15 digits; no textable number has fewer than 7 in all.
	if n := len(c.cc) + len(nsn); len(nsn) < c.min || len(nsn) > c.max || n > 15 || n < 7 {
		return "", false
	}
	if nsn[0] == '0' && !c.keepZero {
		return "", false
	}
	if c.nanp && (nsn[0] < '2' || nsn[3] < '2') { // NXX-NXX-XXXX
		return "", false
	}
	if c.iso == "GB" && nsn[0] == '7' && len(nsn) != 10 { // UK mobiles: 07xxx xxxxxx
		return "", false
	}
	var out [16]byte
	out[0] = '+'
	k := 1 + copy(out[1:], c.cc)
	k += copy(out[k:], nsn)
	return string(out[:k]), true
}
