package hl7

import (
	"bytes"
	"testing"
)

func TestEncode(t *testing.T) {
	in := []byte(mshStd + "\r\nSCH|a\\F\\b\r\n\r\nNTE|||x\ny\r\n")
	m, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	want := mshStd + "\rSCH|a\\F\\b\rNTE|||x\ny\r"
	if got := string(Encode(m)); got != want {
		t.Errorf("Encode = %q, want %q", got, want)
	}
	// LF-only input comes back with \r.
	m, _ = Parse([]byte(mshStd + "\nPID|1\n"))
	if got := string(Encode(m)); got != mshStd+"\rPID|1\r" {
		t.Errorf("Encode = %q", got)
	}
}

func TestEncodeLatin1(t *testing.T) {
	for _, in := range [][]byte{
		msg(mshStd+"||||||8859/1", "PID|||||M\xfcller \x93q\x94"),
		msg(mshStd, "PID|||||M\xfcller"), // Latin-1 without MSH-18
	} {
		m, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if out := Encode(m); !bytes.Equal(out, in) {
			t.Errorf("Encode = %q, want the input bytes %q", out, in)
		}
	}
}

func TestBuilder(t *testing.T) {
	b := NewBuilder(Delimiters{})
	b.Segment("MSH", Fld("APP", "1.2.3", "ISO"), Fld("FAC"), Fld(), Fld(), Fld("20240101"), Fld(),
		Fld("SRM", "S01", "SRM_S01"), Fld("C1"), Fld("P"), Fld("2.5.1"), Fld(), Fld())
	b.Segment("ARQ", Fld("A|1", "EPIC"), Fld(), Fld(), Fld(), Fld(), Fld("REQ"), Fld(), Fld(), Fld(), Fld())
	b.Segment("PID", Fld(), Fld(), Reps(Fld("MRN1", "", "", "HOSP"), Fld("123", "", "", "SSA")), Fld(),
		Subs([]string{"Smith", "ST"}, []string{"John^Q"}, nil, []string{"", ""}))
	b.Segment("NTE", Fld(), Fld(), Fld("line1\nline2 & more"), Raw("already^raw\rtext"))
	b.Segment("ZZZ")
	want := "MSH|^~\\&|APP^1.2.3^ISO|FAC|||20240101||SRM^S01^SRM_S01|C1|P|2.5.1\r" +
		"ARQ|A\\F\\1^EPIC|||||REQ\r" +
		"PID|||MRN1^^^HOSP~123^^^SSA||Smith&ST^John\\S\\Q\r" +
		"NTE|||line1\\.br\\line2 \\T\\ more|already^rawtext\r" +
		"ZZZ\r"
	if got := b.String(); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if !bytes.Equal(b.Bytes(), []byte(want)) {
		t.Error("Bytes differ from String")
	}
	m, err := b.Message()
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Get("ARQ-1.1"); got != "A|1" {
		t.Errorf("ARQ-1.1 = %q", got)
	}
	if got := m.Get("PID-5.2"); got != "John^Q" {
		t.Errorf("PID-5.2 = %q", got)
	}
	if got := m.Get("NTE-3"); got != "line1\nline2 & more" {
		t.Errorf("NTE-3 = %q", got)
	}
	if got := m.Get("PID-3[2].4"); got != "SSA" {
		t.Errorf("PID-3[2].4 = %q", got)
	}
}

func TestBuilderCustomDelimitersAndLatin1(t *testing.T) {
	d := Delimiters{Field: '#', Component: '$', Repetition: '%', Escape: '@', Subcomponent: '!', Truncation: '\''}
	b := NewBuilder(d)
	fields := make([]Field, 16)
	fields[15] = Fld("8859/1")
	b.Segment("MSH", fields...)
	b.Segment("PID", Fld("Müller#1", "€"), Fld("日本"))
	want := "MSH#$%@!'################8859/1\rPID#M\xfcller@F@1$\x80#??\r"
	if got := string(b.Bytes()); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	m, err := b.Message()
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Get("PID-1"); got != "Müller#1$€" {
		t.Errorf("PID-1 = %q", got)
	}
}

func TestBuilderPanicsOnBadName(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	NewBuilder(DefaultDelimiters).Segment("pid")
}
