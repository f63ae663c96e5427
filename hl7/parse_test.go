package hl7

import (
	"errors"
	"strings"
	"testing"
)

// msg joins segments with \r and adds a final \r.
func msg(segs ...string) []byte { return []byte(strings.Join(segs, "\r") + "\r") }

const mshStd = `MSH|^~\&|SND|SFAC|RCV|RFAC|20240102030405||SIU^S12^SIU_S12|MSG1|P|2.5.1`

func TestParseValues(t *testing.T) {
	tests := []struct {
		name  string
		data  []byte
		loc   string
		want  string
		check func(t *testing.T, m *Message)
	}{
		{name: "basic", data: msg(mshStd, "SCH|A1^EPIC|B2"), loc: "SCH-1.2", want: "EPIC"},
		{name: "whole field keeps delimiters", data: msg(mshStd, "SCH|A1^EPIC"), loc: "SCH-1", want: "A1^EPIC"},
		{name: "repetition", data: msg(mshStd, "PID|||||||||||||a~b^c^d"), loc: "PID-13[2].3", want: "d"},
		{name: "subcomponent", data: msg(mshStd, "AIP|||1&2&3^x"), loc: "AIP-3.1.2", want: "2"},
		{name: "missing rep", data: msg(mshStd, "PID|||||||||||||a"), loc: "PID-13[3]", want: ""},
		{name: "missing component", data: msg(mshStd, "PID|x"), loc: "PID-1.5", want: ""},
		{name: "field beyond end", data: msg(mshStd, "PID|x"), loc: "PID-40", want: ""},
		{name: "MSH-1", data: msg(mshStd), loc: "MSH-1", want: "|"},
		{name: "MSH-2", data: msg(mshStd), loc: "MSH-2", want: `^~\&`},
		{name: "MSH-9.2", data: msg(mshStd), loc: "MSH-9.2", want: "S12"},
		{name: "MSH-12", data: msg(mshStd), loc: "MSH-12", want: "2.5.1"},
		{name: "empty fields", data: msg(mshStd, "SCH||||x"), loc: "SCH-4", want: "x"},
		{name: "trailing delimiters", data: msg(mshStd, "SCH|a|||^^~~|"), loc: "SCH-1", want: "a"},
		{name: "escaped", data: msg(mshStd, `NTE|||a\F\b\S\c\T\d\R\e\E\f`), loc: "NTE-3", want: `a|b^c&d~e\f`},
		{name: "escape in component", data: msg(mshStd, `AIL|||ROOM^^^^^^^^Peds \T\ Adolescent`), loc: "AIL-3.9", want: "Peds & Adolescent"},
		{name: "hex", data: msg(mshStd, `NTE|||\XC3A9\t\X0D0A\`), loc: "NTE-3", want: "ét\r\n"},
		{name: "br", data: msg(mshStd, `NTE|||line1\.br\line2`), loc: "NTE-3", want: "line1\nline2"},
		{name: "custom delimiters", data: msg(`MSH#$%@!#SND#SF#R#RF#2024##SIU$S12#1#P#2.5`, `PID#1##a!b$c%d$e!f`), loc: "PID-3[2].2.2", want: "f"},
		{name: "custom escape", data: msg(`MSH#$%@!#SND#SF#R#RF#2024##SIU$S12#1#P#2.5`, `NTE###x@F@y@S@z@E@`), loc: "NTE-3", want: "x#y$z@"},
		{name: "v2.7 truncation char", data: msg(`MSH|^~\&#|S|F|R|RF|2024||SIU^S12|1|P|2.7`, `NTE|||long tex#`, `NTE|||a\P\b`), loc: "NTE-3", want: "long tex#",
			check: func(t *testing.T, m *Message) {
				if m.Delims.Truncation != '#' {
					t.Errorf("truncation = %q", m.Delims.Truncation)
				}
				if got := m.All("NTE")[1].Value(3, 1, 0, 0); got != "a#b" {
					t.Errorf(`\P\ = %q`, got)
				}
				if got := m.Get("MSH-2"); got != `^~\&#` {
					t.Errorf("MSH-2 = %q", got)
				}
			}},
		{name: "CRLF", data: []byte(mshStd + "\r\nSCH|a\r\nPID|b\r\n"), loc: "PID-1", want: "b",
			check: func(t *testing.T, m *Message) {
				if len(m.Segments()) != 3 || m.String() != mshStd+"\rSCH|a\rPID|b" {
					t.Errorf("segments %d, String %q", len(m.Segments()), m.String())
				}
			}},
		{name: "LF only", data: []byte(mshStd + "\nSCH|a\nPID|b\n"), loc: "PID-1", want: "b"},
		{name: "lone LF stays in field", data: msg(mshStd, "NTE|||line1\nline2", "PID|b"), loc: "NTE-3", want: "line1\nline2",
			check: func(t *testing.T, m *Message) {
				if len(m.Segments()) != 3 {
					t.Errorf("segments = %d", len(m.Segments()))
				}
			}},
		{name: "no final terminator", data: []byte(mshStd + "\rPID|b"), loc: "PID-1", want: "b"},
		{name: "blank lines and whitespace", data: []byte("\r\n  " + mshStd + "\r\r\n\rPID|b\r\n\r\n \x00"), loc: "PID-1", want: "b"},
		{name: "MLLP framing and BOM", data: []byte("\x0b\xef\xbb\xbf" + mshStd + "\rPID|b\r\x1c\r"), loc: "PID-1", want: "b"},
		{name: "Z-segment", data: msg(mshStd, "ZPD|custom^x", "PID|b"), loc: "ZPD-1.2", want: "x"},
		{name: "PID before SCH", data: msg(mshStd, "PID|p", "SCH|s"), loc: "SCH-1", want: "s",
			check: func(t *testing.T, m *Message) {
				if m.Segment("PID").Index() != 2 || m.Segment("SCH").Index() != 3 {
					t.Error("wrong indexes")
				}
			}},
		{name: "segment with name only", data: msg(mshStd, "PV1"), loc: "PV1-1", want: ""},
		{name: "two-char MSH-2", data: msg(`MSH|^~|S|F|R|RF|2024||SIU^S12|1|P|2.3`, `PID|a\b^c`), loc: "PID-1.1", want: `a\b`},
		{name: "latin1 8859/1", data: msg(mshStd+"||||||8859/1", "PID|||||M\xfcller^Jos\xe9"), loc: "PID-5.1", want: "Müller",
			check: func(t *testing.T, m *Message) {
				if m.Charset != "8859/1" {
					t.Errorf("Charset = %q", m.Charset)
				}
			}},
		{name: "windows-1252 quotes", data: msg(mshStd+"||||||8859/1", "NTE|||\x93hi\x94 \x80"), loc: "NTE-3", want: "“hi” €"},
		{name: "UTF-8 explicit", data: msg(mshStd+"||||||UNICODE UTF-8", "PID|||||Müller"), loc: "PID-5", want: "Müller"},
		{name: "UTF-8 spelled UTF-8", data: msg(mshStd+"||||||UTF-8", "PID|||||Élysées"), loc: "PID-5", want: "Élysées"},
		{name: "ASCII", data: msg(mshStd+"||||||ASCII", "PID|||||Smith"), loc: "PID-5", want: "Smith"},
		{name: "no MSH-18, Latin-1 bytes", data: msg(mshStd, "PID|||||M\xfcller"), loc: "PID-5", want: "Müller"},
		{name: "no MSH-18, UTF-8 bytes", data: msg(mshStd, "PID|||||Müller"), loc: "PID-5", want: "Müller"},
		{name: "explicit UTF-8, invalid bytes", data: msg(mshStd+"||||||UNICODE UTF-8", "PID|||||M\xfcller"), loc: "PID-5", want: "M\uFFFDller"},
		{name: "MSH-18 repetition", data: msg(mshStd+"||||||8859/1~ISO IR87", "PID|||||\xe9"), loc: "PID-5", want: "é"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := m.Get(tt.loc); got != tt.want {
				t.Errorf("Get(%q) = %q, want %q", tt.loc, got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func TestParseDefaultCharset(t *testing.T) {
	data := msg(mshStd, "PID|||||M\xfcller")
	m, err := ParseWith(data, ParseOptions{DefaultCharset: "8859/1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Get("PID-5"); got != "Müller" {
		t.Errorf("PID-5 = %q", got)
	}
	// A valid UTF-8 byte pair is still read as Latin-1 under an 8859/1 default.
	m, _ = ParseWith(msg(mshStd, "PID|||||\xc3\xa9"), ParseOptions{DefaultCharset: "8859/1"})
	if got := m.Get("PID-5"); got != "Ã©" {
		t.Errorf("PID-5 = %q", got)
	}
	// MSH-18 wins over the default.
	m, _ = ParseWith(msg(mshStd+"||||||UNICODE UTF-8", "PID|||||\xc3\xa9"), ParseOptions{DefaultCharset: "8859/1"})
	if got := m.Get("PID-5"); got != "é" {
		t.Errorf("PID-5 = %q", got)
	}
	if _, err := ParseWith(data, ParseOptions{DefaultCharset: "EBCDIC"}); !errors.Is(err, ErrCharset) {
		t.Errorf("unknown default: err = %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    error
		segment int
		field   int
		offset  int
	}{
		{"empty", "", ErrEmpty, 0, 0, 0},
		{"whitespace", " \r\n ", ErrEmpty, 0, 0, 0},
		{"no MSH", "PID|1\rPV1|2\r", ErrNoMSH, 1, 0, 0},
		{"batch header", "FHS|^~\\&\rMSH|^~\\&|\r", ErrNoMSH, 1, 0, 0},
		{"MSH only name", "MSH", ErrBadDelimiters, 1, 1, 3},
		{"letter separator", "MSHA^~\\&|x", ErrBadDelimiters, 1, 1, 3},
		{"space separator", "MSH ^~\\&", ErrBadDelimiters, 1, 1, 3},
		{"short MSH-2", "MSH|^|x", ErrBadDelimiters, 1, 2, 4},
		{"duplicate delimiter", "MSH|^~^&|x", ErrBadDelimiters, 1, 2, 6},
		{"repeated in MSH-2", "MSH|^~\\&^#|x", ErrBadDelimiters, 1, 2, 8},
		{"six-char MSH-2", "MSH|^~\\&#!%|x", ErrBadDelimiters, 1, 2, 9},
		{"digit in MSH-2", "MSH|^~1&|x", ErrBadDelimiters, 1, 2, 6},
		{"lowercase segment", mshStd + "\rpid|1\r", ErrBadSegmentName, 2, 0, len(mshStd) + 1},
		{"long segment name", mshStd + "\rPIDX|1\r", ErrBadSegmentName, 2, 0, len(mshStd) + 1},
		{"short segment name", mshStd + "\rPI\r", ErrBadSegmentName, 2, 0, len(mshStd) + 1},
		{"name with other separator", mshStd + "\rPID#1\r", ErrBadSegmentName, 2, 0, len(mshStd) + 1},
		{"leading junk offset", "\r\n" + mshStd + "\rSCH|1\r!!\r", ErrBadSegmentName, 3, 0, 2 + len(mshStd) + 7},
		{"second MSH", mshStd + "\rPID|1\r" + mshStd + "\r", ErrMultipleMessages, 3, 0, len(mshStd) + 7},
		{"unknown charset", mshStd + "||||||EBCDIC\r", ErrCharset, 1, 18, len(mshStd) + 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.data))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err %T is not *ParseError", err)
			}
			if pe.Segment != tt.segment || pe.Field != tt.field || pe.Offset != tt.offset {
				t.Errorf("segment %d field %d offset %d, want %d %d %d (%v)", pe.Segment, pe.Field, pe.Offset, tt.segment, tt.field, tt.offset, err)
			}
			if s := err.Error(); s == "" || strings.ToLower(s) != s && !strings.Contains(s, "MSH") {
				t.Errorf("error text %q", s)
			}
		})
	}
}

func TestSegmentAccessors(t *testing.T) {
	m, err := Parse(msg(mshStd, "PID|1||a~b~c||x^y", "NTE|1", "NTE|2"))
	if err != nil {
		t.Fatal(err)
	}
	msh := m.Segment("MSH")
	if msh.NumFields() != 12 || msh.Field(1) != "|" || msh.Field(2) != `^~\&` || msh.Field(3) != "SND" {
		t.Errorf("MSH: n=%d f1=%q f2=%q f3=%q", msh.NumFields(), msh.Field(1), msh.Field(2), msh.Field(3))
	}
	if msh.Reps(2) != 1 || msh.Value(2, 1, 1, 0) != `^~\&` {
		t.Error("MSH-2 must not be split")
	}
	pid := m.Segment("PID")
	if pid.NumFields() != 5 || pid.Reps(3) != 3 || pid.Reps(2) != 0 || pid.Field(5) != "x^y" || pid.Raw() != "PID|1||a~b~c||x^y" {
		t.Errorf("PID: n=%d reps=%d f5=%q", pid.NumFields(), pid.Reps(3), pid.Field(5))
	}
	for _, n := range []int{-1, 0, 6, 100} {
		if pid.Field(n) != "" || pid.Value(n, 1, 1, 1) != "" {
			t.Errorf("Field(%d) not empty", n)
		}
	}
	if got := len(m.All("NTE")); got != 2 {
		t.Errorf("All(NTE) = %d", got)
	}
	if m.All("XXX") != nil || m.Segment("XXX") != nil {
		t.Error("absent segment found")
	}
	if m.Get("bad") != "" || m.Get("PID-x") != "" || m.Get("PID-3[0]") != "" {
		t.Error("bad location gave a value")
	}
	if code, trig, st := m.Type(); code != "SIU" || trig != "S12" || st != "SIU_S12" {
		t.Errorf("Type = %s %s %s", code, trig, st)
	}
	if m.ControlID() != "MSG1" || m.Version() != "2.5.1" {
		t.Errorf("ControlID %q Version %q", m.ControlID(), m.Version())
	}
	var zero Segment
	if zero.NumFields() != 0 || zero.Field(1) != "" || zero.Value(1, 1, 1, 1) != "" || zero.Reps(1) != 0 {
		t.Error("zero Segment")
	}
}

func TestParseCopiesInput(t *testing.T) {
	data := msg(mshStd, "PID|abc")
	m, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'x'
	}
	if m.Get("PID-1") != "abc" {
		t.Error("message shares the caller's buffer")
	}
}

func TestLocation(t *testing.T) {
	tests := []struct {
		in   string
		want Location
		str  string
	}{
		{"PID", Location{Segment: "PID"}, "PID"},
		{"PID-3", Location{Segment: "PID", Field: 3}, "PID-3"},
		{"SCH-11.4", Location{Segment: "SCH", Field: 11, Comp: 4}, "SCH-11.4"},
		{"PID-13[2].3", Location{Segment: "PID", Field: 13, Rep: 2, Comp: 3}, "PID-13[2].3"},
		{"AIP-3.1.2", Location{Segment: "AIP", Field: 3, Comp: 1, Sub: 2}, "AIP-3.1.2"},
		{"ZU1-1[1]", Location{Segment: "ZU1", Field: 1, Rep: 1}, "ZU1-1"},
	}
	for _, tt := range tests {
		l, err := ParseLocation(tt.in)
		if err != nil || l != tt.want {
			t.Errorf("ParseLocation(%q) = %+v, %v", tt.in, l, err)
		}
		if l.String() != tt.str {
			t.Errorf("String = %q, want %q", l.String(), tt.str)
		}
	}
	for _, bad := range []string{"", "PI", "pid-3", "PID-", "PID-0", "PID-3[", "PID-3[0]", "PID-3[2", "PID-3.", "PID-3.0", "PID-3.1.", "PID-3.1.2.3", "PID-a", "PID3", "PID-1234567"} {
		if _, err := ParseLocation(bad); !errors.Is(err, ErrBadSegmentName) {
			t.Errorf("ParseLocation(%q): err = %v", bad, err)
		}
	}
}

func TestConcurrentReads(t *testing.T) {
	m, err := Parse(msg(mshStd, `SCH|A1^EPIC||||||||||^^^20240310|x\F\y`, "PID|||a~b~c"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	for i := 0; i < 8; i++ {
		go func() {
			ok := true
			for j := 0; j < 200; j++ {
				ok = ok && m.Get("SCH-11.4") == "20240310" && m.Get("SCH-12") == "x|y" && m.Segment("PID").Reps(3) == 3
				_ = m.String()
				_ = Encode(m)
			}
			done <- ok
		}()
	}
	for i := 0; i < 8; i++ {
		if !<-done {
			t.Error("wrong value under concurrency")
		}
	}
}

func TestParseLargeMessage(t *testing.T) {
	// Past 64 KiB, field offsets switch to 32 bits.
	big := strings.Repeat("x", 70000)
	m, err := Parse(msg(mshStd, "NTE|1||"+big+"|tail^end", "PID|1|"+big, "PV1|z"))
	if err != nil {
		t.Fatal(err)
	}
	if m.ends32 == nil || m.ends16 != nil {
		t.Fatal("expected 32-bit offsets")
	}
	if m.Get("NTE-3") != big || m.Get("NTE-4.2") != "end" || m.Get("PID-2") != big || m.Get("PV1-1") != "z" || m.Get("MSH-10") != "MSG1" {
		t.Error("wrong values in a large message")
	}
	small, _ := Parse(msg(mshStd, "PV1|z"))
	if small.ends16 == nil {
		t.Error("expected 16-bit offsets")
	}
}
