package notify

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Encodings reported by Segments.
const (
	EncodingGSM7 = "GSM-7"
	EncodingUCS2 = "UCS-2"
)

// Segment sizes: a single-part SMS carries 160 GSM-7 septets or 70 UCS-2
// code units; each part of a multipart SMS loses room to the
// concatenation header and carries 153 septets or 67 code units.
const (
	gsmSingle  = 160
	gsmMulti   = 153
	ucs2Single = 70
	ucs2Multi  = 67
	// MaxSegments is the most segments a rendered text may take.
	MaxSegments = 2
)

// gsmBasic is the GSM 03.38 default alphabet (the escape 0x1B excluded:
// it only introduces the extension table and is not a character).
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅå" +
	"Δ_ΦΓΛΩΠΨΣΘΞ" + "ÆæßÉ" +
	" !\"#¤%&'()*+,-./" +
	"0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§" +
	"¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExtension is the GSM 03.38 extension table: each of these is sent as
// the escape plus one septet, so it counts two septets.
const gsmExtension = "\f^{}\\[~]|€"

var gsmBasicSet, gsmExtSet = runeSet(gsmBasic), runeSet(gsmExtension)

func runeSet(s string) map[rune]bool {
	m := make(map[rune]bool, len(s))
	for _, r := range s {
		m[r] = true
	}
	return m
}

// gsmSeptets returns how many septets r takes in GSM-7: 1 for the basic
// set, 2 for the extension table, 0 when r is not GSM-7 at all.
func gsmSeptets(r rune) int {
	switch {
	case gsmBasicSet[r]:
		return 1
	case gsmExtSet[r]:
		return 2
	}
	return 0
}

// GSM7 reports whether every rune of s is in the GSM 03.38 basic set or
// its extension table, i.e. whether s can be sent GSM-7 encoded.
func GSM7(s string) bool {
	for _, r := range s {
		if gsmSeptets(r) == 0 {
			return false
		}
	}
	return true
}

// Segments returns the encoding a body is sent in and how many SMS
// segments it takes. The encoding is "GSM-7" when GSM7(body), counted in
// septets (extension-table characters count 2), else "UCS-2", counted in
// UTF-16 code units (a rune outside the BMP, such as an emoji, counts 2).
// A body of at most 160 septets / 70 units is one segment; a longer one
// is split into parts of at most 153 septets / 67 units. As carriers do,
// a character is never split across two parts: an extension character
// (escape + septet) or a surrogate pair that does not fit in what is left
// of a part starts the next one, so the count can exceed
// ceil(length/153). An empty body is 0 segments.
func Segments(body string) (encoding string, n int) {
	if body == "" {
		return EncodingGSM7, 0
	}
	gsm := GSM7(body)
	single, multi := gsmSingle, gsmMulti
	encoding = EncodingGSM7
	if !gsm {
		single, multi = ucs2Single, ucs2Multi
		encoding = EncodingUCS2
	}
	units := func(r rune) int {
		if gsm {
			return gsmSeptets(r)
		}
		if r >= 0x10000 && r <= unicode.MaxRune {
			return 2
		}
		return 1 // including utf8.RuneError for invalid bytes
	}
	total := 0
	for _, r := range body {
		total += units(r)
	}
	if total <= single {
		return encoding, 1
	}
	n, used := 1, 0
	for _, r := range body {
		u := units(r)
		if used+u > multi {
			n++
			used = 0
		}
		used += u
	}
	return encoding, n
}

// fitsSegments reports whether body takes at most MaxSegments segments.
func fitsSegments(body string) bool {
	_, n := Segments(body)
	return n <= MaxSegments
}

// translitTable maps runes outside GSM-7 to a GSM-7 spelling: Latin
// letters lose their diacritics (ë→e, á→a, ł→l, ç→c), typographic
// punctuation becomes ASCII. Runes of GSM-7 itself (é, ñ, ü, Ç, ...) are
// never looked up. Used for values (ToGSM7) and, with upper-casing, for
// reply keywords (Classify).
var translitTable = map[rune]string{
	// Latin-1 Supplement (the GSM-7 ones are kept as they are).
	'À': "A", 'Á': "A", 'Â': "A", 'Ã': "A", 'È': "E", 'Ê': "E", 'Ë': "E",
	'Ì': "I", 'Í': "I", 'Î': "I", 'Ï': "I", 'Ð': "D", 'Ò': "O", 'Ó': "O",
	'Ô': "O", 'Õ': "O", '×': "x", 'Ù': "U", 'Ú': "U", 'Û': "U", 'Ý': "Y",
	'Þ': "Th", 'á': "a", 'â': "a", 'ã': "a", 'ç': "c", 'ê': "e", 'ë': "e",
	'í': "i", 'î': "i", 'ï': "i", 'ð': "d", 'ó': "o", 'ô': "o", 'õ': "o",
	'÷': "/", 'ú': "u", 'û': "u", 'ý': "y", 'þ': "th", 'ÿ': "y",
	'\u00a0': " ", '¢': "c", '«': "\"", '»': "\"", '´': "'", '·': ".",
	'©': "(c)", '®': "(R)", '°': "o", '±': "+-", '²': "2", '³': "3", '¹': "1",
	'º': "o", 'ª': "a", '¼': "1/4", '½': "1/2", '¾': "3/4", '¦': "|", '¨': "",
	'¯': "-", 'µ': "u", '¶': "", '\u00ad': "",
	// Latin Extended-A.
	'Ā': "A", 'ā': "a", 'Ă': "A", 'ă': "a", 'Ą': "A", 'ą': "a", 'Ć': "C",
	'ć': "c", 'Ĉ': "C", 'ĉ': "c", 'Ċ': "C", 'ċ': "c", 'Č': "C", 'č': "c",
	'Ď': "D", 'ď': "d", 'Đ': "D", 'đ': "d", 'Ē': "E", 'ē': "e", 'Ĕ': "E",
	'ĕ': "e", 'Ė': "E", 'ė': "e", 'Ę': "E", 'ę': "e", 'Ě': "E", 'ě': "e",
	'Ĝ': "G", 'ĝ': "g", 'Ğ': "G", 'ğ': "g", 'Ġ': "G", 'ġ': "g", 'Ģ': "G",
	'ģ': "g", 'Ĥ': "H", 'ĥ': "h", 'Ħ': "H", 'ħ': "h", 'Ĩ': "I", 'ĩ': "i",
	'Ī': "I", 'ī': "i", 'Ĭ': "I", 'ĭ': "i", 'Į': "I", 'į': "i", 'İ': "I",
	'ı': "i", 'Ĳ': "IJ", 'ĳ': "ij", 'Ĵ': "J", 'ĵ': "j", 'Ķ': "K", 'ķ': "k",
	'ĸ': "k", 'Ĺ': "L", 'ĺ': "l", 'Ļ': "L", 'ļ': "l", 'Ľ': "L", 'ľ': "l",
	'Ŀ': "L", 'ŀ': "l", 'Ł': "L", 'ł': "l", 'Ń': "N", 'ń': "n", 'Ņ': "N",
	'ņ': "n", 'Ň': "N", 'ň': "n", 'ŉ': "n", 'Ŋ': "N", 'ŋ': "n", 'Ō': "O",
	'ō': "o", 'Ŏ': "O", 'ŏ': "o", 'Ő': "O", 'ő': "o", 'Œ': "OE", 'œ': "oe",
	'Ŕ': "R", 'ŕ': "r", 'Ŗ': "R", 'ŗ': "r", 'Ř': "R", 'ř': "r", 'Ś': "S",
	'ś': "s", 'Ŝ': "S", 'ŝ': "s", 'Ş': "S", 'ş': "s", 'Š': "S", 'š': "s",
	'Ţ': "T", 'ţ': "t", 'Ť': "T", 'ť': "t", 'Ŧ': "T", 'ŧ': "t", 'Ũ': "U",
	'ũ': "u", 'Ū': "U", 'ū': "u", 'Ŭ': "U", 'ŭ': "u", 'Ů': "U", 'ů': "u",
	'Ű': "U", 'ű': "u", 'Ų': "U", 'ų': "u", 'Ŵ': "W", 'ŵ': "w", 'Ŷ': "Y",
	'ŷ': "y", 'Ÿ': "Y", 'Ź': "Z", 'ź': "z", 'Ż': "Z", 'ż': "z", 'Ž': "Z",
	'ž': "z", 'ſ': "s",
	// Latin Extended-B and Vietnamese letters seen in names.
	'Ș': "S", 'ș': "s", 'Ț': "T", 'ț': "t", 'Ə': "E", 'ə': "e", 'Ơ': "O",
	'ơ': "o", 'Ư': "U", 'ư': "u", 'Ǎ': "A", 'ǎ': "a", 'Ǐ': "I", 'ǐ': "i",
	'Ǒ': "O", 'ǒ': "o", 'Ǔ': "U", 'ǔ': "u", 'ƒ': "f",
	'Ạ': "A", 'ạ': "a", 'Ả': "A", 'ả': "a", 'Ấ': "A", 'ấ': "a", 'Ầ': "A",
	'ầ': "a", 'Ậ': "A", 'ậ': "a", 'Ắ': "A", 'ắ': "a", 'Ẹ': "E", 'ẹ': "e",
	'Ẽ': "E", 'ẽ': "e", 'Ế': "E", 'ế': "e", 'Ề': "E", 'ề': "e", 'Ệ': "E",
	'ệ': "e", 'Ị': "I", 'ị': "i", 'Ọ': "O", 'ọ': "o", 'Ố': "O", 'ố': "o",
	'Ồ': "O", 'ồ': "o", 'Ộ': "O", 'ộ': "o", 'Ụ': "U", 'ụ': "u", 'Ủ': "U",
	'ủ': "u", 'Ứ': "U", 'ứ': "u", 'Ừ': "U", 'ừ': "u", 'Ỳ': "Y", 'ỳ': "y",
	'Ỹ': "Y", 'ỹ': "y",
	// Punctuation and spaces.
	'‘': "'", '’': "'", '‚': "'", '‛': "'", '′': "'", '“': "\"", '”': "\"",
	'„': "\"", '″': "\"", '‐': "-", '‑': "-", '‒': "-", '–': "-", '—': "-",
	'―': "-", '−': "-", '…': "...", '•': "-", '‹': "<", '›': ">", '™': "TM",
	'\u2002': " ", '\u2003': " ", '\u2009': " ", '\u202f': " ", '\u3000': " ",
	'\t': " ", '\v': " ", '\u2028': " ", '\u2029': " ", '\u0085': " ",
}

// translitRune returns the GSM-7 replacement of a rune that is not GSM-7
// (ok false when there is none): the table above, then full-width ASCII
// (ＡＢＣ１２３) to ASCII.
func translitRune(r rune) (string, bool) {
	if s, ok := translitTable[r]; ok {
		return s, true
	}
	if r >= 0xFF01 && r <= 0xFF5E { // full-width forms of ! .. ~
		return string(r - 0xFF01 + '!'), true
	}
	return "", false
}

// ToGSM7 returns s spelled in GSM-7 only: runes of GSM-7 are kept, Latin
// letters with diacritics outside GSM-7 lose them (Zoë → Zoe, Łukasz →
// Lukasz, François → Francois), typographic quotes, dashes and "…" become
// ASCII, other white space becomes a space, and everything else (CJK,
// Arabic, emoji, combining marks, ...) is dropped. Runs of spaces are then
// collapsed and the result trimmed, so a value that was all emoji becomes
// "".
func ToGSM7(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
		case gsmSeptets(r) > 0:
			b.WriteRune(r)
		default:
			if t, ok := translitRune(r); ok {
				b.WriteString(t)
			} else if unicode.IsSpace(r) {
				b.WriteByte(' ')
			}
		}
	}
	return collapseSpaces(b.String())
}

// collapseSpaces replaces every run of white space (spaces, tabs,
// newlines, ...) with one space and trims the ends.
func collapseSpaces(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
