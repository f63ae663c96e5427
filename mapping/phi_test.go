package mapping

import (
	"strings"
	"testing"

	"github.com/apptbridge/apptbridge/hl7"
)

// Canary values planted in every field that could reach a warning or an
// error; none may appear in one.
var canaries = []string{"CANARYNAME", "CANARYGIVEN", "CANARYMRN", "9998887777", "canary@example.com", "CANARYAPPT", "CANARYDOC", "1999"}

func checkNoPHI(t *testing.T, what string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for _, c := range canaries {
			if strings.Contains(s, c) {
				t.Errorf("%s: %q contains %q", what, s, c)
			}
		}
	}
}

func TestNoPHIInWarningsAndErrors(t *testing.T) {
	m := newTestMapper(t, Config{})
	pid := "PID|1||CANARYMRN^^^H^MR||CANARYNAME^CANARYGIVEN||19990101|F|||||99988877^PRN^CP~canary@example.com^NET|9998887777^WPN"
	cases := [][]string{
		// warnings: unusable phone, disagreeing and unparseable starts, bad durations, bad SCH-17
		{msh("S12", "2.5"), "SCH|CANARYAPPT|FL1|||||||x1999|CANARY|^^x1999^199901011000^1999|||||CANARYDOC^CANARYNAME|9998887^WPN", pid,
			"TQ1|1||||||199902011000|1999", "RGS|1", "AIS|1||X|1999CANARY", "AIP|1||CANARYDOC^CANARYNAME^X||||199903011000"},
		// errors
		{msh("S12", "2.5"), "SCH|CANARYAPPT|||||||||^^^1999-13-45", pid},
		{msh("S12", "2.5"), "SCH|||||||||||^^^199901011000", pid},
		{msh("S12", "2.5"), "SCH|CANARYAPPT", pid},
		{msh("S12", "2.5"), pid},
		{"MSH|^~\\&|A|B|C|D|1999CANARY||SIU^S12|1|P|2.5", "SCH|CANARYAPPT|||||||||^^^199901011000", pid},
		{"MSH|^~\\&|A|B|C|D|19990101||ADT^A01|1|P|2.5", pid},
		{"MSH|^~\\&|A|B|C|D|19990101||SIU^CANARY|1|P|2.5", pid},
		{"MSH|^~\\&|A|B|C|D|19990101||SIU^S12|1|P|CANARY1999", pid},
		{msh("S12", "2.5"), "EVN|S12|1999CANARY", "SCH|CANARYAPPT|||||||||^^^199901011000", pid},
	}
	for i, segs := range cases {
		msg, err := hl7.Parse([]byte(strings.Join(segs, "\r")))
		if err != nil {
			t.Fatal(err)
		}
		res, err := m.Map(msg)
		if err != nil {
			e := err.(*Error)
			checkNoPHI(t, "error", err.Error(), e.Reason, e.Location)
			continue
		}
		if i == 0 && len(res.Warnings) < 4 {
			t.Errorf("case 0: expected several warnings, got %q", res.Warnings)
		}
		checkNoPHI(t, "warning", res.Warnings...)
		checkNoPHI(t, "reason", res.Reason)
	}
}
