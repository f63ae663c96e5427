package mapping

// languages maps ISO 639-2/B and /T codes and a few English names (all
// lowercase) to ISO 639-1.
var languages = map[string]string{
	"eng": "en", "english": "en",
	"spa": "es", "spanish": "es", "espanol": "es", "español": "es", "castilian": "es",
	"fra": "fr", "fre": "fr", "french": "fr", "francais": "fr", "français": "fr",
	"deu": "de", "ger": "de", "german": "de", "deutsch": "de",
	"ita": "it", "italian": "it",
	"por": "pt", "portuguese": "pt",
	"zho": "zh", "chi": "zh", "chinese": "zh", "mandarin": "zh", "cmn": "zh",
	"yue": "zh", "cantonese": "zh",
	"vie": "vi", "vietnamese": "vi",
	"kor": "ko", "korean": "ko",
	"rus": "ru", "russian": "ru",
	"ara": "ar", "arabic": "ar",
	"hin": "hi", "hindi": "hi",
	"jpn": "ja", "japanese": "ja",
	"pol": "pl", "polish": "pl",
	"tgl": "tl", "fil": "tl", "tagalog": "tl", "filipino": "tl",
	"hat": "ht", "haitian": "ht", "haitian creole": "ht", "creole": "ht",
	"nld": "nl", "dut": "nl", "dutch": "nl",
	"ell": "el", "gre": "el", "greek": "el",
	"heb": "he", "hebrew": "he",
	"fas": "fa", "per": "fa", "persian": "fa", "farsi": "fa",
	"urd": "ur", "urdu": "ur",
	"ben": "bn", "bengali": "bn",
	"pan": "pa", "punjabi": "pa",
	"guj": "gu", "gujarati": "gu",
	"tur": "tr", "turkish": "tr",
	"som": "so", "somali": "so",
	"amh": "am", "amharic": "am",
	"ukr": "uk", "ukrainian": "uk",
	"yid": "yi", "yiddish": "yi",
	"khm": "km", "khmer": "km", "cambodian": "km",
	"lao": "lo",
	"tha": "th", "thai": "th",
	"swa": "sw", "swahili": "sw",
	"nep": "ne", "nepali": "ne",
	"tam": "ta", "tamil": "ta",
	"tel": "te", "telugu": "te",
	"mar": "mr", "marathi": "mr",
	"ron": "ro", "rum": "ro", "romanian": "ro",
	"hun": "hu", "hungarian": "hu",
	"ces": "cs", "cze": "cs", "czech": "cs",
	"swe": "sv", "swedish": "sv",
	"nor": "no", "norwegian": "no",
	"dan": "da", "danish": "da",
	"fin": "fi", "finnish": "fi",
	"gle": "ga", "irish": "ga",
	"cym": "cy", "wel": "cy", "welsh": "cy",
	"hye": "hy", "arm": "hy", "armenian": "hy",
	"kat": "ka", "geo": "ka", "georgian": "ka",
	"srp": "sr", "serbian": "sr",
	"hrv": "hr", "croatian": "hr",
	"bos": "bs", "bosnian": "bs",
	"alb": "sq", "sqi": "sq", "albanian": "sq",
	"ind": "id", "indonesian": "id",
	"msa": "ms", "may": "ms", "malay": "ms",
	"pus": "ps", "pashto": "ps",
	"tir": "ti", "tigrinya": "ti",
	"orm": "om", "oromo": "om",
	"hau": "ha", "yor": "yo", "ibo": "ig",
	"asl": "", "sgn": "", "ase": "", // sign languages have no ISO 639-1 code
}

// language converts a PID-15 code or name to ISO 639-1 (lowercase), or "".
// "en-US" and "en_US" give "en"; an unknown two-letter code is kept,
// lowercased; anything else gives "".
func language(v string) string {
	v = trimSpace(v)
	if v == "" || len(v) > 24 {
		return ""
	}
	var buf [24]byte
	n := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '-' || c == '_' {
			break // region/script subtag
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	key := buf[:n]
	if l, ok := languages[string(key)]; ok {
		return l
	}
	if n == 2 && isLower(key[0]) && isLower(key[1]) {
		return twoLetter[int(key[0]-'a')*26+int(key[1]-'a')]
	}
	return ""
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }

// twoLetter holds every two-letter lowercase string, so that language
// returns one without allocating.
var twoLetter = func() []string {
	out := make([]string, 26*26)
	for a := 0; a < 26; a++ {
		for b := 0; b < 26; b++ {
			out[a*26+b] = string([]byte{byte('a' + a), byte('a' + b)})
		}
	}
	return out
}()

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
