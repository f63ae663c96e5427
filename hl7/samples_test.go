package hl7

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

const samplesDir = "../../shared/conformance/siu-samples"

// samples returns the public SIU samples by file name (skips when absent).
func samples(t testing.TB) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(samplesDir, "*.hl7"))
	if len(files) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("conformance samples not found at " + samplesDir + " (CI must have ../shared)")
		}
		t.Skip("conformance samples not found at " + samplesDir)
	}
	out := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

func TestSamplesParse(t *testing.T) {
	all := samples(t)
	if len(all) != 32 {
		t.Errorf("found %d samples, want 32", len(all))
	}
	for name, data := range all {
		t.Run(name, func(t *testing.T) {
			m, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if c, _, _ := m.Type(); c != "SIU" {
				t.Errorf("MSH-9.1 = %q, want SIU", c)
			}
			if m.ControlID() == "" {
				t.Error("no MSH-10")
			}
			if (m.Segment("SCH") == nil) != (name == "gmed-1.hl7") {
				t.Errorf("SCH present = %v", m.Segment("SCH") != nil)
			}
			// Every value is reachable without panics and survives Encode.
			m2, err := Parse(Encode(m))
			if err != nil {
				t.Fatalf("Parse(Encode): %v", err)
			}
			assertSameValues(t, m, m2)
			// The ACK parses and answers this message.
			ack, err := Parse(BuildAck(m, AckOptions{ControlID: "A1"}))
			if err != nil {
				t.Fatalf("ACK does not parse: %v", err)
			}
			if got := ack.Segment("MSA").Field(2); got != m.Segment("MSH").Field(10) {
				t.Errorf("MSA-2 = %q, want %q", got, m.Segment("MSH").Field(10))
			}
		})
	}
}

func TestSampleValues(t *testing.T) {
	all := samples(t)
	tests := []struct {
		file, loc, want string
	}{
		{"epic-cadence-1.hl7", "SCH-11.4", "20220218153000"},
		{"epic-cadence-1.hl7", "PID-13.1", "(718)250-0000"},
		{"epic-cadence-1.hl7", "PID-13[2].4", "cool@gmail.com"},
		{"epic-cadence-1.hl7", "MSH-10", "521"},
		{"epic-cadence-1.hl7", "MSH-12", ""},
		{"hapi-1.hl7", "MSH-10", " 38762"},
		{"rimiti-1.hl7", "MSH-18", "UTF-8"},
		{"corepoint-1.hl7", "MSH-12", "2.3"},
		{"pkb-2.hl7", "SCH-1", "ID123"},
		{"kardianos-1.hl7", "MSH-12", "2.5"},
	}
	for _, tt := range tests {
		m, err := Parse(all[tt.file])
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if got := m.Get(tt.loc); got != tt.want {
			t.Errorf("%s %s = %q, want %q", tt.file, tt.loc, got, tt.want)
		}
	}
	m, _ := Parse(all["rimiti-1.hl7"])
	if !bytes.Contains([]byte(m.String()), []byte("Élysées")) {
		t.Error("rimiti-1: UTF-8 text not kept")
	}
	if m.Charset != "UTF-8" {
		t.Errorf("rimiti-1 Charset = %q", m.Charset)
	}
}

// assertSameValues checks that a and b have the same segments and the same
// value at every field, repetition, component and subcomponent.
func assertSameValues(t testing.TB, a, b *Message) {
	t.Helper()
	sa, sb := a.Segments(), b.Segments()
	if len(sa) != len(sb) {
		t.Fatalf("segments: %d vs %d", len(sa), len(sb))
	}
	for i := range sa {
		x, y := &sa[i], &sb[i]
		if x.Name != y.Name || x.NumFields() != y.NumFields() {
			t.Fatalf("segment %d: %s/%d vs %s/%d", i+1, x.Name, x.NumFields(), y.Name, y.NumFields())
		}
		for f := 1; f <= x.NumFields()+1; f++ {
			if x.Reps(f) != y.Reps(f) {
				t.Fatalf("%s-%d reps: %d vs %d", x.Name, f, x.Reps(f), y.Reps(f))
			}
			for r := 0; r <= x.Reps(f)+1; r++ {
				for c := 0; c <= 4; c++ {
					for s := 0; s <= 3; s++ {
						if u, v := x.Value(f, r, c, s), y.Value(f, r, c, s); u != v {
							t.Fatalf("%s-%d[%d].%d.%d: %q vs %q", x.Name, f, r, c, s, u, v)
						}
					}
				}
			}
		}
	}
}
