package notify

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// keywordCases is the SPEC §8 action table with case, spacing and
// punctuation variants (RELIABILITY.md T17/T18).
var keywordCases = map[Intent][]string{
	IntentConfirm: {
		"CONFIRM APPT", "confirm appt", "Confirm Appt", "Confirm appt!", "  confirm   APPT ",
		"confirm-appt", "CONFIRM APPT.", "confirm_appt", "\"CONFIRM APPT\"", "CONFIRM\nAPPT",
		"confirm\tappt", "Confirm, appt", "*CONFIRM APPT*", "confirmappt", "CONFIRM APPOINTMENT",
		"confirm appointment.", "CONFIRM", "confirm", "Confirm!", " confirm. ", "C", "c", "c.",
		" C ", "ＣＯＮＦＩＲＭ ＡＰＰＴ", "cönfirm appt", "CONFIRM\u200b APPT", "confirm…appt",
		"¡Confirm!", "CONFIRM APPT 👍",
	},
	IntentCancel: {
		"CANCEL APPT", "cancel appt", "Cancel Appt", "Cancel appt!", "  cancel   APPT ",
		"cancel-appt", "CANCEL APPT.", "cancel_appt", "CANCEL\nAPPT", "cancelappt",
		"CANCEL APPOINTMENT", "cancel appointment", "Cancel appointment.", "ＣＡＮＣＥＬ ＡＰＰＴ",
		"cancél appt", "\"cancel appt\"", "cancel, appt",
	},
	IntentOptOut: {
		"STOP", "stop", "Stop", "STOP.", " stop ", "stop!", "Stop please", "stop please",
		"STOP texting me", "stop. thanks", "STOP STOP", "ＳＴＯＰ", "stöp", "ST\u200bOP", "stop 😡",
		"STOPALL", "stopall", "Stop All", "UNSUBSCRIBE", "unsubscribe", "Unsubscribe me",
		"unsubscribe please", "CANCEL", "cancel", "Cancel", "CANCEL.", " cancel! ", "cancel\n",
		"END", "end", "End.", "end please", "QUIT", "quit", "Quit!", "quit it", "REVOKE", "revoke",
		"Revoke.", "OPTOUT", "optout", "OptOut", "opt out", "Opt Out", "opt-out", "OPT-OUT",
		"opt_out", "opt out please", "Opt out of texts", "stop-all",
	},
	IntentOptIn: {
		"START", "start", "Start.", " start ", "UNSTOP", "unstop", "Unstop!", "YES", "yes",
		"Yes", "Yes!", "yes.", "ＹＥＳ",
	},
	IntentHelp: {
		"HELP", "help", "Help!", "help?", " help ", "HELP.", "INFO", "info", "Info?", "ＨＥＬＰ",
	},
	IntentUnknown: {
		"", " ", "...", "!!!", "😀", "hello", "ok", "thanks", "cancel please", "Cancel my appt",
		"cancel my appointment", "CANCEL APPT please", "please cancel", "please cancel appt",
		"cancel cancel", "confirm please", "yes confirm", "confirm yes", "CONFIRMED", "confirmation",
		"I confirm", "CF1", "CX2", "please stop", "don't stop", "starts", "start please",
		"yes please", "help me", "need info", "CONFIRM APPT CANCEL APPT", "CC", "C C", "A",
		"STOPP", "opt", "out", "opt in", "appt", "canceled", "cancelar", "confirmar", "si", "sí",
		"王芳", "ﾃｽﾄ",
	},
}

func TestClassify(t *testing.T) {
	for want, bodies := range keywordCases {
		for _, b := range bodies {
			if got := Classify(b); got != want {
				t.Errorf("Classify(%q) = %s, want %s", b, got, want)
			}
		}
	}
}

// TestClassifySpecTable: every keyword of SPEC §8, alone, in the three
// usual cases.
func TestClassifySpecTable(t *testing.T) {
	table := map[string]Intent{
		"CONFIRM APPT": IntentConfirm, "CONFIRM": IntentConfirm, "C": IntentConfirm,
		"CANCEL APPT": IntentCancel, "CANCEL APPOINTMENT": IntentCancel,
		"STOP": IntentOptOut, "STOPALL": IntentOptOut, "UNSUBSCRIBE": IntentOptOut,
		"CANCEL": IntentOptOut, "END": IntentOptOut, "QUIT": IntentOptOut,
		"REVOKE": IntentOptOut, "OPTOUT": IntentOptOut, "OPT OUT": IntentOptOut,
		"START": IntentOptIn, "UNSTOP": IntentOptIn, "YES": IntentOptIn,
		"HELP": IntentHelp, "INFO": IntentHelp,
	}
	for k, want := range table {
		for _, b := range []string{k, strings.ToLower(k), title(k), k + "!", " " + k + " ."} {
			if got := Classify(b); got != want {
				t.Errorf("Classify(%q) = %s, want %s", b, got, want)
			}
		}
	}
}

func TestReplyWords(t *testing.T) {
	got := replyWords("  ¡Confirm-appt!…ＯＫ  Zoë\u0301 ")
	want := []string{"CONFIRM", "APPT", "OK", "ZOE"}
	if !slices.Equal(got, want) {
		t.Errorf("replyWords = %q, want %q", got, want)
	}
}

func FuzzClassify(f *testing.F) {
	for _, bodies := range keywordCases {
		for _, b := range bodies {
			f.Add(b)
		}
	}
	f.Add("\xff\xfeSTOP")
	f.Add("opt\u0301 out")
	f.Fuzz(func(t *testing.T, body string) {
		got := Classify(body)
		if !slices.Contains(Intents, got) {
			t.Fatalf("Classify(%q) = %q, not an intent", body, got)
		}
		w := replyWords(body)
		for _, v := range []string{
			strings.Join(w, " "),
			"  " + strings.Join(w, " ,. ") + "!! ",
			"-" + strings.Join(w, "\n") + "?",
			body + " .",
			"\"" + body,
		} {
			if again := Classify(v); again != got {
				t.Fatalf("Classify(%q) = %s but Classify(%q) = %s", body, got, v, again)
			}
		}
		if !slices.Equal(replyWords(strings.Join(w, " ")), w) {
			t.Fatalf("replyWords not idempotent on %q: %q", body, w)
		}
		if isASCII(body) {
			if l, u := Classify(strings.ToLower(body)), Classify(strings.ToUpper(body)); l != got || u != got {
				t.Fatalf("case changes Classify(%q): %s, lower %s, upper %s", body, got, l, u)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// title upper-cases the first letter of each ASCII word, lower-cases the rest.
func title(s string) string {
	b := []byte(strings.ToLower(s))
	for i := range b {
		if (i == 0 || b[i-1] == ' ') && 'a' <= b[i] && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}
