package twiliotest

import "unicode/utf16"

// GSM 03.38 default alphabet and extension table (extension characters
// take two septets).
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "\f^{}\\[~]|€"
)

var gsmBasicSet, gsmExtSet = runes(gsmBasic), runes(gsmExtension)

func runes(s string) map[rune]bool {
	m := make(map[rune]bool)
	for _, r := range s {
		m[r] = true
	}
	return m
}

// Segments returns how many SMS segments Twilio bills for body: GSM-7
// bodies take 160 septets in one segment or 153 per segment; a body with
// any other character is UCS-2, 70 UTF-16 units or 67 per segment.
func Segments(body string) int {
	septets, gsm := 0, true
	for _, r := range body {
		switch {
		case gsmBasicSet[r]:
			septets++
		case gsmExtSet[r]:
			septets += 2
		default:
			gsm = false
		}
	}
	single, multi, n := 160, 153, septets
	if !gsm {
		single, multi, n = 70, 67, len(utf16.Encode([]rune(body)))
	}
	switch {
	case n == 0:
		return 0
	case n <= single:
		return 1
	}
	return (n + multi - 1) / multi
}
