package notify

import (
	"strings"
	"unicode"
)

// Intent is what a patient's reply asks for (SPEC §8).
type Intent string

// Intents of a reply.
const (
	IntentConfirm Intent = "confirm"
	IntentCancel  Intent = "cancel"
	IntentOptOut  Intent = "opt-out"
	IntentOptIn   Intent = "opt-in"
	IntentHelp    Intent = "help"
	IntentUnknown Intent = "unknown"
)

// Intents lists every intent in a stable order.
var Intents = []Intent{IntentConfirm, IntentCancel, IntentOptOut, IntentOptIn, IntentHelp, IntentUnknown}

// optOutFirst are the words that opt the phone out when a message starts
// with them, whatever follows.
var optOutFirst = map[string]bool{
	"STOP": true, "STOPALL": true, "UNSUBSCRIBE": true, "END": true,
	"QUIT": true, "REVOKE": true, "OPTOUT": true,
}

// exact maps whole normalised messages (words joined by one space) to
// their intent.
var exact = map[string]Intent{
	"CONFIRM APPT": IntentConfirm, "CONFIRM APPOINTMENT": IntentConfirm,
	"CONFIRMAPPT": IntentConfirm, "CONFIRM": IntentConfirm, "C": IntentConfirm,
	"CANCEL APPT": IntentCancel, "CANCEL APPOINTMENT": IntentCancel, "CANCELAPPT": IntentCancel,
	"CANCEL": IntentOptOut,
	"START":  IntentOptIn, "UNSTOP": IntentOptIn, "YES": IntentOptIn,
	"HELP": IntentHelp, "INFO": IntentHelp,
}

// Classify returns the intent of a patient's reply (SPEC §8). Case,
// spacing and punctuation are ignored: the body is folded to upper case
// (full-width and accented Latin letters to their ASCII letter, combining
// marks and invisible format characters dropped) and split into words of
// letters and digits, so "Confirm appt!", "  confirm   APPT ",
// "confirm-appt" and "ＣＯＮＦＩＲＭ ＡＰＰＴ" are all CONFIRM APPT.
//
//   - confirm: CONFIRM APPT, CONFIRM, C (also CONFIRM APPOINTMENT and
//     CONFIRMAPPT);
//   - cancel: CANCEL APPT, CANCEL APPOINTMENT (also CANCELAPPT);
//   - opt-out: a message whose FIRST word is STOP, STOPALL, UNSUBSCRIBE,
//     END, QUIT, REVOKE or OPTOUT, or that starts with "opt out"/"opt-out",
//     whatever follows ("stop please", "STOP texting me"): compliance
//     first. A bare CANCEL is an opt-out too (it is a carrier opt-out
//     word), but CANCEL followed by APPT/APPOINTMENT is a cancel request,
//     and CANCEL with other words ("cancel please", "cancel my appt") is
//     unknown: it is ambiguous, and the not-understood text tells the
//     patient the exact words;
//   - opt-in: START, UNSTOP, YES;
//   - help: HELP, INFO;
//   - anything else, including any of the above with more words (except
//     the opt-out words first), is unknown.
func Classify(body string) Intent {
	w := replyWords(body)
	switch {
	case len(w) == 0:
		return IntentUnknown
	case optOutFirst[w[0]], len(w) >= 2 && w[0] == "OPT" && w[1] == "OUT":
		return IntentOptOut
	}
	if in, ok := exact[strings.Join(w, " ")]; ok {
		return in
	}
	return IntentUnknown
}

// replyWords folds body to upper case and splits it into words of
// letters and digits; every other character separates words, except
// combining marks and format characters (zero-width spaces and joiners,
// soft hyphens), which are dropped, so "ST\u200bOP" is STOP. Accented
// and full-width letters and digits become their ASCII letter or digit.
func replyWords(body string) []string {
	var b strings.Builder
	b.Grow(len(body))
	for _, r := range body {
		if unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf) {
			continue
		}
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			b.WriteByte(' ')
			continue
		}
		r = unicode.ToUpper(r)
		if s, ok := translitRune(r); ok && asciiAlnum(s) {
			b.WriteString(strings.ToUpper(s))
		} else {
			b.WriteRune(foldGSMLetter(r))
		}
	}
	return strings.Fields(b.String())
}

func asciiAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}

// foldGSMLetter folds the upper-case accented letters of GSM-7 itself
// (which ToGSM7 keeps, so translitTable has none of them) to ASCII.
func foldGSMLetter(r rune) rune {
	switch r {
	case 'Ä', 'Å', 'À':
		return 'A'
	case 'É', 'È':
		return 'E'
	case 'Ì':
		return 'I'
	case 'Ö', 'Ø', 'Ò':
		return 'O'
	case 'Ü', 'Ù':
		return 'U'
	case 'Ñ':
		return 'N'
	case 'Ç':
		return 'C'
	}
	return r
}
