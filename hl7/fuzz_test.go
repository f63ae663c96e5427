package hl7

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addSeeds adds the fixtures under testdata plus a few hand-made messages.
func addSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.hl7"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(msg(mshStd, `NTE|||a\F\b\X0D0A\\.br\\H\x\N\\E\X09\E\`, "ZPD|x~y^z&w"))
	f.Add(msg(`MSH#$%@!#A#B#C#D#2024##SIU$S12#1#P#2.5`, "PID#1##a!b$c%d"))
	f.Add(msg(`MSH|^~\&#|A|B|C|D|2024||SIU^S12|1|P|2.7||||||8859/1`, "PID|||||M\xfcller#"))
	f.Add([]byte(mshStd + "\nPID|1\n"))
	f.Add([]byte("FHS|^~\\&\rBHS|^~\\&\r" + mshStd + "\rPID|1\rBTS|1\rFTS|1\r"))
	f.Add([]byte("\x0b" + mshStd + "\rPID|1\r\x1c\r"))
}

func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		// An ACK can always be built, and always parses.
		checkAck(t, BuildAckRaw(data, AckOptions{Now: ackNow, ControlID: "F", Errors: []AckError{{Code: 100, Text: string(data)}}}), "")
		m, err := Parse(data)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error %T is not *ParseError", err)
			}
			return
		}
		for i, s := range m.Segments() {
			if i == 64 {
				break // keep each run short; later segments work the same way
			}
			n := min(s.NumFields(), 256)
			for fld := -1; fld <= n+1; fld++ {
				_ = s.Field(fld)
				reps := min(s.Reps(fld), 2) // bounded: Value is linear in the field
				for r := 0; r <= reps+1; r++ {
					for _, c := range []int{0, 1, 2, 5} {
						for sub := 0; sub <= 2; sub++ {
							_ = s.Value(fld, r, c, sub)
						}
					}
				}
				_ = m.Get(Location{Segment: s.Name, Field: max(fld, 1), Rep: 2, Comp: 1, Sub: 1}.String())
			}
		}
		_, _, _ = m.Type()
		_ = m.String()
		ack := BuildAck(m, AckOptions{Now: ackNow, Errors: []AckError{{Location: Location{Segment: "PID", Field: 3}, Code: 101}}})
		checkAck(t, ack, "")
		// MSA-2 carries the original MSH-10 byte for byte. (Compare bytes:
		// with no MSH-18, the two messages may be read in different
		// character sets.)
		a, _ := Parse(ack)
		if got, want := fieldBytes(a, "MSA", 2), fieldBytes(m, "MSH", 10); got != want {
			t.Fatalf("MSA-2 bytes %q, want %q", got, want)
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			return
		}
		out := Encode(m)
		m2, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Encode(m)): %v\n%q", err, out)
		}
		if m.String() != m2.String() || m.Charset != m2.Charset || m.Delims != m2.Delims {
			t.Fatalf("text differs:\n%q\n%q", m.String(), m2.String())
		}
		sameEveryValue(t, m, m2)
	})
}

// sameEveryValue compares every field, repetition, component and
// subcomponent of a and b.
func sameEveryValue(t *testing.T, a, b *Message) {
	sa, sb := a.Segments(), b.Segments()
	if len(sa) != len(sb) {
		t.Fatalf("segments: %d vs %d", len(sa), len(sb))
	}
	d := a.Delims
	for i := range sa {
		x, y := &sa[i], &sb[i]
		if x.Name != y.Name || x.NumFields() != y.NumFields() {
			t.Fatalf("segment %d: %s/%d vs %s/%d", i+1, x.Name, x.NumFields(), y.Name, y.NumFields())
		}
		for f := 1; f <= x.NumFields(); f++ {
			raw := x.Field(f)
			for r := 1; r <= min(max(x.Reps(f), 1), 8); r++ {
				rep := nth(raw, d.Repetition, r)
				for c := 0; c <= min(strings.Count(rep, string(d.Component))+1, 12); c++ {
					comp := rep
					if c > 0 {
						comp = nth(rep, d.Component, c)
					}
					subs := 1
					if d.Subcomponent != 0 {
						subs = strings.Count(comp, string(d.Subcomponent)) + 1
					}
					for s := 0; s <= min(subs, 8); s++ {
						if u, v := x.Value(f, r, c, s), y.Value(f, r, c, s); u != v {
							t.Fatalf("%s-%d[%d].%d.%d: %q vs %q", x.Name, f, r, c, s, u, v)
						}
					}
				}
			}
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "plain", `a|b^c&d~e\f`, "l1\nl2\r", `\E\X09\E\`, "é\xff#", `\F\`} {
		f.Add(s, byte('|'), []byte(`^~\&`))
	}
	f.Add("x#y$z", byte('#'), []byte(`$%@!`))
	f.Add("a.b", byte('|'), []byte(`.~\&#`))
	f.Fuzz(func(t *testing.T, s string, fs byte, enc []byte) {
		d, err := parseDelimiters(append([]byte{'M', 'S', 'H', fs}, enc...))
		if err != nil || d.Escape == 0 {
			d = DefaultDelimiters
		}
		e := Escape(s, d)
		if got := Unescape(e, d); got != s {
			t.Fatalf("Unescape(Escape(%q)) = %q (escaped %q, delimiters %q%q)", s, got, e, d.Field, d.EncodingCharacters())
		}
		for i := 0; i < len(e); i++ {
			if c := e[i]; c == d.Field || c == d.Component || c == d.Repetition || c == '\r' || c == '\n' ||
				d.Subcomponent != 0 && c == d.Subcomponent || d.Truncation != 0 && c == d.Truncation {
				t.Fatalf("Escape(%q) = %q leaves %q", s, e, c)
			}
		}
		_ = Unescape(s, d) // arbitrary input must not panic
	})
}

func FuzzSplitBatch(f *testing.F) {
	addSeeds(f)
	f.Add([]byte("\x0bjunk\x1c\r\x0b" + mshStd + "\x1c"))
	f.Add([]byte(mshStd + "\rPID|1\n" + mshStd + "\r"))
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs, err := SplitBatch(data)
		if err != nil {
			var pe *ParseError
			if !isParseError(err, &pe) || pe.Offset < 0 || pe.Offset > len(data) {
				t.Fatalf("bad error %v", err)
			}
		}
		for _, m := range msgs {
			if len(m) == 0 || cap(m) != len(m) || !bytes.Contains(data, m) {
				t.Fatalf("message %q is not a capped slice of the input", m)
			}
			if !bytes.HasPrefix(bytes.TrimLeft(m, "\r\n"), []byte("MSH")) {
				t.Fatalf("message %q does not start with MSH", m)
			}
			_, _ = Parse(m)
		}
	})
}

func isParseError(err error, pe **ParseError) bool {
	p, ok := err.(*ParseError)
	*pe = p
	return ok
}
