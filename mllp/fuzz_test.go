package mllp

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// fuzzMax is a small limit so that the fuzzer reaches the oversize path.
const fuzzMax = 64

type readResult struct {
	msgs      [][]byte
	err       error
	skipped   int64
	missingCR int64
}

func readAll(t *testing.T, r io.Reader, limit int) readResult {
	rd := NewReader(r, limit)
	var res readResult
	for i := 0; ; i++ {
		msg, err := rd.ReadMessage()
		if err != nil {
			res.err = err
			break
		}
		if len(msg) > limit {
			t.Fatalf("message of %d bytes exceeds limit %d", len(msg), limit)
		}
		if bytes.IndexByte(msg, endBlock) >= 0 {
			t.Fatalf("message contains an end block: %q", msg)
		}
		res.msgs = append(res.msgs, msg)
		if i > 1<<20 {
			t.Fatal("ReadMessage loop does not terminate")
		}
	}
	res.skipped, res.missingCR = rd.Skipped(), rd.MissingCR()
	return res
}

func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"",
		"\x0bMSH|^~\\&|A\x1c\r",
		"junk\x0bA\x1c\r\n\x0bB\x1c\r\n",
		"\x0bA\x1c\x0bB\x1c",
		"\x0b\x1c\r",
		"\x0b\x0b\x0b\x1c\x1c\r\r",
		"\x0bpartial",
		"\x0b" + string(bytes.Repeat([]byte("x"), fuzzMax+1)) + "\x1c\r",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Arbitrary input: no panic, bounded messages, same result however
		// the input is chunked.
		whole := readAll(t, bytes.NewReader(data), fuzzMax)
		bytewise := readAll(t, iotest.OneByteReader(bytes.NewReader(data)), fuzzMax)
		if len(whole.msgs) != len(bytewise.msgs) {
			t.Fatalf("whole read gave %d messages, 1-byte reads %d", len(whole.msgs), len(bytewise.msgs))
		}
		for i := range whole.msgs {
			if !bytes.Equal(whole.msgs[i], bytewise.msgs[i]) {
				t.Fatalf("message %d differs: %q vs %q", i, whole.msgs[i], bytewise.msgs[i])
			}
		}
		if whole.skipped != bytewise.skipped || whole.missingCR != bytewise.missingCR {
			t.Fatalf("counters differ: skipped %d/%d, missingCR %d/%d",
				whole.skipped, bytewise.skipped, whole.missingCR, bytewise.missingCR)
		}
		if (whole.err == io.EOF) != (bytewise.err == io.EOF) ||
			errors.Is(whole.err, ErrFrameTooLarge) != errors.Is(bytewise.err, ErrFrameTooLarge) {
			t.Fatalf("errors differ: %v vs %v", whole.err, bytewise.err)
		}

		// Round trip: any payload without an end block comes back intact.
		x := bytes.ReplaceAll(data, []byte{endBlock}, nil)
		limit := max(len(x), 1)
		rt := readAll(t, bytes.NewReader(Frame(x)), limit)
		if len(rt.msgs) != 1 || !bytes.Equal(rt.msgs[0], x) || rt.err != io.EOF {
			t.Fatalf("Frame(%q) read back as %q, %v", x, rt.msgs, rt.err)
		}
		if rt.skipped != 0 || rt.missingCR != 0 {
			t.Fatalf("Frame(x) counted skipped=%d missingCR=%d", rt.skipped, rt.missingCR)
		}
		var buf bytes.Buffer
		if err := NewWriter(&buf).WriteMessage(x); err != nil || !bytes.Equal(buf.Bytes(), Frame(x)) {
			t.Fatalf("WriteMessage(%q) = %q, %v", x, buf.Bytes(), err)
		}
	})
}
