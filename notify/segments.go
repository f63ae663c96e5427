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
// never looked up. Used for values (ToGSM7) and, for letters, for reply
// keywords (Classify).
var translitTable = map[rune]string{
	// Latin letters that do not decompose into letter + diacritic.
	'Ð': "D", 'ð': "d", 'Þ': "Th", 'þ': "th", 'Đ': "D", 'đ': "d", 'Ħ': "H",
	'ħ': "h", 'ı': "i", 'Ĳ': "IJ", 'ĳ': "ij", 'ĸ': "k", 'Ŀ': "L", 'ŀ': "l",
	'Ł': "L", 'ł': "l", 'ŉ': "n", 'Ŋ': "N", 'ŋ': "n", 'Œ': "OE", 'œ': "oe",
	'Ŧ': "T", 'ŧ': "t", 'ſ': "s", 'Ə': "E", 'ə': "e", 'ƒ': "f", 'Ɨ': "I",
	'ɨ': "i", 'Ƶ': "Z", 'ƶ': "z", 'ẞ': "SS",
	// Symbols of Latin-1 Supplement.
	'\u00a0': " ", '¢': "c", '«': "\"", '»': "\"", '´': "'", '·': ".",
	'©': "(c)", '®': "(R)", '°': "o", '±': "+-", '²': "2", '³': "3", '¹': "1",
	'º': "o", 'ª': "a", '¼': "1/4", '½': "1/2", '¾': "3/4", '¦': "|", '¨': "",
	'¯': "-", 'µ': "u", '¶': "", '\u00ad': "", '×': "x", '÷': "/",
	// Punctuation and spaces.
	'‘': "'", '’': "'", '‚': "'", '‛': "'", '′': "'", '“': "\"", '”': "\"",
	'„': "\"", '″': "\"", '‐': "-", '‑': "-", '‒': "-", '–': "-", '—': "-",
	'―': "-", '−': "-", '…': "...", '•': "-", '‹': "<", '›': ">", '™': "TM",
	'\u2002': " ", '\u2003': " ", '\u2009': " ", '\u202f': " ", '\u3000': " ",
	'\t': " ", '\v': " ", '\u2028': " ", '\u2029': " ", '\u0085': " ",
}

// latinFold pairs every letter of Latin-1 Supplement, Latin Extended-A
// and -B and Latin Extended Additional (Vietnamese, ...) that is not
// GSM-7 and decomposes (Unicode NFD) into an ASCII letter plus marks
// with that letter. Generated with Python's unicodedata.
const latinFold = "" +
	"ÀAÁAÂAÃAÈEÊEËEÌIÍIÎIÏIÒOÓOÔOÕOÙUÚUÛUÝYáaâaãaçcêeëeíiîiïióoôo" +
	"õoúuûuýyÿyĀAāaĂAăaĄAąaĆCćcĈCĉcĊCċcČCčcĎDďdĒEēeĔEĕeĖEėeĘEęeĚE" +
	"ěeĜGĝgĞGğgĠGġgĢGģgĤHĥhĨIĩiĪIīiĬIĭiĮIįiİIĴJĵjĶKķkĹLĺlĻLļlĽLľl" +
	"ŃNńnŅNņnŇNňnŌOōoŎOŏoŐOőoŔRŕrŖRŗrŘRřrŚSśsŜSŝsŞSşsŠSšsŢTţtŤTťt" +
	"ŨUũuŪUūuŬUŭuŮUůuŰUűuŲUųuŴWŵwŶYŷyŸYŹZźzŻZżzŽZžzƠOơoƯUưuǍAǎaǏI" +
	"ǐiǑOǒoǓUǔuǕUǖuǗUǘuǙUǚuǛUǜuǞAǟaǠAǡaǦGǧgǨKǩkǪOǫoǬOǭoǰjǴGǵgǸNǹn" +
	"ǺAǻaȀAȁaȂAȃaȄEȅeȆEȇeȈIȉiȊIȋiȌOȍoȎOȏoȐRȑrȒRȓrȔUȕuȖUȗuȘSșsȚTțt" +
	"ȞHȟhȦAȧaȨEȩeȪOȫoȬOȭoȮOȯoȰOȱoȲYȳyḀAḁaḂBḃbḄBḅbḆBḇbḈCḉcḊDḋdḌDḍd" +
	"ḎDḏdḐDḑdḒDḓdḔEḕeḖEḗeḘEḙeḚEḛeḜEḝeḞFḟfḠGḡgḢHḣhḤHḥhḦHḧhḨHḩhḪHḫh" +
	"ḬIḭiḮIḯiḰKḱkḲKḳkḴKḵkḶLḷlḸLḹlḺLḻlḼLḽlḾMḿmṀMṁmṂMṃmṄNṅnṆNṇnṈNṉn" +
	"ṊNṋnṌOṍoṎOṏoṐOṑoṒOṓoṔPṕpṖPṗpṘRṙrṚRṛrṜRṝrṞRṟrṠSṡsṢSṣsṤSṥsṦSṧs" +
	"ṨSṩsṪTṫtṬTṭtṮTṯtṰTṱtṲUṳuṴUṵuṶUṷuṸUṹuṺUṻuṼVṽvṾVṿvẀWẁwẂWẃwẄWẅw" +
	"ẆWẇwẈWẉwẊXẋxẌXẍxẎYẏyẐZẑzẒZẓzẔZẕzẖhẗtẘwẙyẠAạaẢAảaẤAấaẦAầaẨAẩa" +
	"ẪAẫaẬAậaẮAắaẰAằaẲAẳaẴAẵaẶAặaẸEẹeẺEẻeẼEẽeẾEếeỀEềeỂEểeỄEễeỆEệe" +
	"ỈIỉiỊIịiỌOọoỎOỏoỐOốoỒOồoỔOổoỖOỗoỘOộoỚOớoỜOờoỞOởoỠOỡoỢOợoỤUụu" +
	"ỦUủuỨUứuỪUừuỬUửuỮUữuỰUựuỲYỳyỴYỵyỶYỷyỸYỹy"

func init() {
	r := []rune(latinFold)
	for i := 0; i+1 < len(r); i += 2 {
		translitTable[r[i]] = string(r[i+1])
	}
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
