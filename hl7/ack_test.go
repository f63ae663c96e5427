package hl7

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

var ackNow = time.Date(2024, 3, 5, 14, 30, 0, 0, time.FixedZone("EST", -5*3600))

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkGolden compares got with testdata/ack/<name>.golden (byte for byte;
// segments end in \r), or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "ack", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./hl7 -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("ACK differs from %s\ngot:\n%s\nwant:\n%s", path, show(got), show(want))
	}
}

func show(b []byte) string { return strings.ReplaceAll(string(b), "\r", "\n") }

func TestBuildAckGolden(t *testing.T) {
	v25 := msg(`MSH|^~\&|EPIC|NORTH^1.2.3^ISO|APPT|HOSP|20240305142900||SIU^S12^SIU_S12|MSG0001|P|2.5.1`, "SCH|1")
	enhanced := msg(`MSH|^~\&|EPIC|NORTH|APPT|HOSP|20240305142900||SIU^S14^SIU_S12|MSG0002|P|2.5.1|||AL|NE`, "SCH|1")
	onlyMSH16 := msg(`MSH|^~\&|EPIC|NORTH|APPT|HOSP|20240305142900||SIU^S15|MSG0003|T|2.4||||AL`, "SCH|1")
	latin1 := msg("MSH|^~\\&|LAB|H\xf4pital|APPT|HOSP|20240305142900||SIU^S12|MSG0004|P|2.5|||||FRA|8859/1", "PID|||||M\xfcller")
	custom := msg(`MSH#$%@!#SND#SF#RCV#RF#20240305##SIU$S12#C-1#P#2.5`, "SCH#1")
	sch114 := Location{Segment: "SCH", Field: 11, Comp: 4}
	tests := []struct {
		name string
		in   []byte
		o    AckOptions
	}{
		{"aa_v251", v25, AckOptions{Code: Accept}},
		{"aa_default_code_and_control_id", v25, AckOptions{}},
		{"ca_enhanced", enhanced, AckOptions{Code: Accept, ControlID: "A2"}},
		{"ca_msh16_only", onlyMSH16, AckOptions{ControlID: "A3"}},
		{"ne_original", fixture(t, "allscripts-1.hl7"), AckOptions{Code: Accept, ControlID: "A4"}},
		{"ae_v25_err234", v25, AckOptions{Code: Error, ControlID: "A5", Text: "message rejected",
			Errors: []AckError{{Location: sch114, Code: 101, Text: "SCH-11.4 start time | missing"}}}},
		{"ae_v25_two_errors", v25, AckOptions{Code: AE, ControlID: "A6",
			Errors: []AckError{{Location: sch114, Code: 102, Severity: "E"},
				{Location: Location{Segment: "AIL", Field: 3, Rep: 2, Comp: 1, Sub: 2}, Sequence: 2, Code: 103, Severity: "W", Text: "unknown room"}}}},
		{"ae_v23_err1", fixture(t, "hapi-1.hl7"), AckOptions{Code: Error, ControlID: "A7",
			Errors: []AckError{{Location: sch114, Code: 101, Text: "start time missing"}, {Location: Location{Segment: "SCH", Field: 2}, Code: 102}}}},
		{"ar_207_original", v25, AckOptions{Code: Reject, ControlID: "A8", Text: "storage failure, resend later",
			Errors: []AckError{{Code: 207, Text: "application internal error"}}}},
		{"cr_207_enhanced", enhanced, AckOptions{Code: Reject, ControlID: "A9",
			Errors: []AckError{{Code: 207}}}},
		{"ar_200_v25", v25, AckOptions{Code: AR, ControlID: "A10",
			Errors: []AckError{{Location: Location{Segment: "MSH", Field: 9}, Code: 200, Text: "ADT is not handled"}}}},
		{"custom_delimiters", custom, AckOptions{Code: Error, ControlID: "A11", Text: "a#b$c",
			Errors: []AckError{{Location: Location{Segment: "SCH", Field: 1}, Code: 101, Text: "x%y@z!"}}}},
		{"msh18_latin1_echo", latin1, AckOptions{ControlID: "A12", Text: "reçu"}},
		{"msh18_utf8_echo", fixture(t, "rimiti-1.hl7"), AckOptions{ControlID: "A13", Text: "reçu"}},
		{"no_version_both_forms", fixture(t, "epic-cadence-1.hl7"), AckOptions{Code: Error, ControlID: "A14",
			Errors: []AckError{{Location: sch114, Code: 101}}}},
		{"override_sender", v25, AckOptions{ControlID: "A15", SendingApp: "APPT^BRIDGE", SendingFacility: "CLINIC"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			tt.o.Now = ackNow
			got := BuildAck(m, tt.o)
			checkGolden(t, tt.name, got)
			checkAck(t, got, m.Segment("MSH").Field(10))
			if again := BuildAck(m, tt.o); !bytes.Equal(again, got) {
				t.Error("output is not deterministic")
			}
		})
	}
}

func TestBuildAckRawGolden(t *testing.T) {
	tests := []struct {
		name string
		in   string
		o    AckOptions
	}{
		{"raw_no_msh", "PID|1\rPV1|2\r", AckOptions{ControlID: "R1", Errors: []AckError{{Location: Location{Segment: "MSH"}, Code: 100}}}},
		{"raw_empty", "", AckOptions{ControlID: "R2", Errors: []AckError{{Code: 100}}}},
		{"raw_bad_delimiters", "MSH|^~^&|EPIC|NORTH|APPT|HOSP|2024||SIU^S12|X1|P|2.5.1|||AL\rSCH|1\r",
			AckOptions{ControlID: "R3", Errors: []AckError{{Location: Location{Segment: "MSH", Field: 2}, Code: 102}}}},
		{"raw_bad_segment", "MSH|^~\\&|EPIC|NORTH|APPT|HOSP|2024||SIU^S13|X2|P|2.3\rsch|1\r",
			AckOptions{Code: AE, ControlID: "R4", Errors: []AckError{{Location: Location{Segment: "MSH"}, Code: 100}}}},
		{"raw_unknown_charset", "MSH|^~\\&|EPIC|NORTH|APPT|HOSP|2024||SIU^S12|X3|P|2.5||||NE||EBCDIC\rSCH|1\r",
			AckOptions{ControlID: "R5", Errors: []AckError{{Location: Location{Segment: "MSH", Field: 18}, Code: 103}}}},
		{"raw_junk_before_msh", "garbage\x01MSH#$%@!#A#B#C#D#2024##SIU$S12#X4#P#2.5\rPID#1\rMSH#$%@!#\r",
			AckOptions{ControlID: "R6", Errors: []AckError{{Code: 100}}}},
		{"raw_parses", "MSH|^~\\&|EPIC|NORTH|APPT|HOSP|2024||SIU^S12|X5|P|2.5.1|||ER\rSCH|1\r",
			AckOptions{ControlID: "R7", Code: AE, Errors: []AckError{{Code: 101}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Now = ackNow
			got := BuildAckRaw([]byte(tt.in), tt.o)
			checkGolden(t, tt.name, got)
			checkAck(t, got, "")
		})
	}
}

// checkAck parses an ACK and checks the invariants every ACK must meet.
func checkAck(t *testing.T, ack []byte, wantMSA2 string) {
	t.Helper()
	if len(ack) == 0 || ack[len(ack)-1] != '\r' {
		t.Fatal("ACK does not end in \\r")
	}
	m, err := Parse(ack)
	if err != nil {
		t.Fatalf("ACK does not parse: %v\n%s", err, show(ack))
	}
	if c, _, _ := m.Type(); c != "ACK" {
		t.Errorf("MSH-9.1 = %q", c)
	}
	if m.Segment("MSA") == nil || m.Get("MSA-1") == "" {
		t.Error("no MSA-1")
	}
	if wantMSA2 != "" && m.Segment("MSA").Field(2) != wantMSA2 {
		t.Errorf("MSA-2 = %q, want %q", m.Segment("MSA").Field(2), wantMSA2)
	}
}

// fieldBytes returns a field's text in the character set m was read in:
// what was on the wire.
func fieldBytes(m *Message, seg string, n int) string {
	f := m.Segment(seg).Field(n)
	if m.latin1 {
		return string(appendLatin1(nil, f))
	}
	return f
}

func TestAckMode(t *testing.T) {
	tests := []struct {
		msh15, msh16 string
		want         Mode
	}{
		{"", "", Original},
		{"NE", "", Original},
		{"NE", "AL", Original},
		{"AL", "", Enhanced},
		{"ER", "NE", Enhanced},
		{"SU", "", Enhanced},
		{"", "AL", Enhanced},
		{"al", "", Enhanced},
	}
	for _, tt := range tests {
		m, err := Parse(msg(`MSH|^~\&|A|B|C|D|2024||SIU^S12|1|P|2.5|||` + tt.msh15 + `|` + tt.msh16))
		if err != nil {
			t.Fatal(err)
		}
		if got := AckMode(m); got != tt.want {
			t.Errorf("MSH-15 %q MSH-16 %q: %v, want %v", tt.msh15, tt.msh16, got, tt.want)
		}
	}
	if AckMode(nil) != Original || AckModeOf(nil) != Original {
		t.Error("nil message")
	}
	codes := map[AckCode][2]AckCode{
		Accept: {AA, CA}, AA: {AA, CA}, CA: {AA, CA},
		Error: {AE, CE}, AE: {AE, CE}, CE: {AE, CE},
		Reject: {AR, CR}, AR: {AR, CR}, CR: {AR, CR},
		"XX": {"XX", "XX"},
	}
	for c, want := range codes {
		if Original.Code(c) != want[0] || Enhanced.Code(c) != want[1] {
			t.Errorf("Code(%q) = %q/%q, want %q", c, Original.Code(c), Enhanced.Code(c), want)
		}
	}
}

func TestBuildAckConcreteCodeKept(t *testing.T) {
	// An application ACK in enhanced mode is AA: concrete codes pass through.
	m, _ := Parse(msg(`MSH|^~\&|A|B|C|D|2024||SIU^S12|1|P|2.5|||AL|AL`))
	ack, _ := Parse(BuildAck(m, AckOptions{Code: AA, Now: ackNow, ControlID: "x"}))
	if got := ack.Get("MSA-1"); got != "AA" {
		t.Errorf("MSA-1 = %q", got)
	}
}

func TestErrorCodeText(t *testing.T) {
	for code, want := range map[int]string{0: "Message accepted", 100: "Segment sequence error", 101: "Required field missing",
		102: "Data type error", 103: "Table value not found", 104: "Value too long", 200: "Unsupported message type",
		201: "Unsupported event code", 202: "Unsupported processing id", 203: "Unsupported version id",
		204: "Unknown key identifier", 205: "Duplicate key identifier", 206: "Application record locked",
		207: "Application internal error", 999: ""} {
		if got := ErrorCodeText(code); got != want {
			t.Errorf("ErrorCodeText(%d) = %q", code, got)
		}
	}
}
