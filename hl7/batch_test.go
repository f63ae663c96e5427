package hl7

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func mshN(n string) string {
	return `MSH|^~\&|S|F|R|RF|2024||SIU^S12|` + n + `|P|2.5`
}

func TestSplitBatch(t *testing.T) {
	m1 := mshN("1") + "\rPID|a\rNTE|||x\ny\r"
	m2 := mshN("2") + "\rPID|b\r"
	m3 := mshN("3") + "\rPID|c\r"
	frame := func(s string) string { return "\x0b" + s + "\x1c\r" }
	tests := []struct {
		name string
		in   string
		ids  []string
	}{
		{"single", m1, []string{"1"}},
		{"concatenated CR", m1 + m2 + m3, []string{"1", "2", "3"}},
		{"concatenated CRLF", strings.ReplaceAll(m1+m2+m3, "\r", "\r\n"), []string{"1", "2", "3"}},
		{"LF only", strings.ReplaceAll(mshN("1")+"\rPID|a\r"+m2+m3, "\r", "\n"), []string{"1", "2", "3"}},
		{"blank lines between", m1 + "\r\n\r\n" + m2 + "\n\n", []string{"1", "2"}},
		{"one message per line", mshN("1") + "\rPID|a\n" + mshN("2") + "\rPID|b\r\n" + m3, []string{"1", "2", "3"}},
		{"FHS/BHS batch", "FHS|^~\\&|S\rBHS|^~\\&|S\r" + m1 + m2 + m3 + "BTS|3\rFTS|1\r", []string{"1", "2", "3"}},
		{"BHS only", "BHS|^~\\&\r" + m1 + m2 + "BTS|2\r", []string{"1", "2"}},
		{"two batches", "FHS|^~\\&\rBHS|^~\\&\r" + m1 + "BTS|1\rBHS|^~\\&\r" + m2 + m3 + "BTS|2\rFTS|2\r", []string{"1", "2", "3"}},
		{"FHS without BHS", "FHS|^~\\&\r" + m1 + m2 + "FTS|2\r", []string{"1", "2"}},
		{"empty counts", "BHS|^~\\&\r" + m1 + "BTS\r", []string{"1"}},
		{"empty batch", "FHS|^~\\&\rBHS|^~\\&\rBTS|0\rFTS|1\r", nil},
		{"MLLP one frame", frame(m1), []string{"1"}},
		{"MLLP frames with junk", "junk" + frame(m1) + "\n" + frame(m2+m3) + "\r\n", []string{"1", "2", "3"}},
		{"MLLP batch in a frame", frame("BHS|^~\\&\r" + m1 + m2 + "BTS|2\r"), []string{"1", "2"}},
		{"empty input", "", nil},
		{"whitespace", " \r\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := SplitBatch([]byte(tt.in))
			if err != nil {
				t.Fatalf("SplitBatch: %v", err)
			}
			var ids []string
			for _, b := range msgs {
				m, err := Parse(b)
				if err != nil {
					t.Fatalf("Parse(%q): %v", b, err)
				}
				ids = append(ids, m.ControlID())
			}
			if strings.Join(ids, ",") != strings.Join(tt.ids, ",") {
				t.Errorf("ids = %v, want %v", ids, tt.ids)
			}
		})
	}
	// Messages are slices of the input, with their NTE line break intact.
	msgs, _ := SplitBatch([]byte(m1 + m2))
	if string(msgs[0]) != m1 || string(msgs[1]) != m2 {
		t.Errorf("msgs = %q", msgs)
	}
	if cap(msgs[0]) != len(msgs[0]) {
		t.Error("result slices must be capped")
	}
}

func TestSplitBatchErrors(t *testing.T) {
	m1 := mshN("1") + "\rPID|a\r"
	tests := []struct {
		name   string
		in     string
		n      int // messages returned before the error
		offset int
	}{
		{"segment before MSH", "PID|x\r" + m1, 0, 0},
		{"junk line", "hello\r" + m1, 0, 0},
		{"BTS without BHS", m1 + "BTS|1\r", 1, len(m1)},
		{"BHS without BTS", "BHS|^~\\&\r" + m1, 1, 9 + len(m1)},
		{"FHS not first", m1 + "FHS|^~\\&\r", 1, len(m1)},
		{"FHS without FTS", "FHS|^~\\&\r" + m1, 1, 9 + len(m1)},
		{"FTS without FHS", m1 + "FTS|1\r", 1, len(m1)},
		{"BTS count", "BHS|^~\\&\r" + m1 + "BTS|2\r", 1, 9 + len(m1)},
		{"FTS count", "FHS|^~\\&\rBHS|^~\\&\r" + m1 + "BTS|1\rFTS|3\r", 1, 24 + len(m1)},
		{"after FTS", "FHS|^~\\&\r" + m1 + "FTS|1\r" + m1, 1, 15 + len(m1)},
		{"nested BHS", "BHS|^~\\&\rBHS|^~\\&\r", 0, 9},
		{"FTS before BTS", "FHS|^~\\&\rBHS|^~\\&\r" + m1 + "FTS|1\r", 1, 18 + len(m1)},
		{"unterminated frame", "\x0b" + m1, 0, 0},
		{"message outside frames", "\x0b" + m1 + "\x1c\r" + m1, 1, 3 + len(m1)},
		{"frame inside frame", "\x0b" + m1 + "\x0b" + m1 + "\x1c\r", 0, 1 + len(m1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := SplitBatch([]byte(tt.in))
			if !errors.Is(err, ErrBadBatch) {
				t.Fatalf("err = %v, want ErrBadBatch", err)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Offset != tt.offset {
				t.Errorf("offset = %d, want %d (%v)", pe.Offset, tt.offset, err)
			}
			if len(msgs) != tt.n {
				t.Errorf("got %d messages, want %d", len(msgs), tt.n)
			}
		})
	}
}

func TestSplitBatchDropsTrailingEndBlock(t *testing.T) {
	in := []byte("MSH|^~\\&|A|B|C|D|20260101||SIU^S12|1|P|2.5\rSCH|1||||||||||^^^20260101\r\x1c\r")
	msgs, err := SplitBatch(in)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("got %d messages, err %v", len(msgs), err)
	}
	if bytes.IndexByte(msgs[0], 0x1C) >= 0 {
		t.Fatalf("end block kept in the message: %q", msgs[0])
	}
}
