package mllp

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

func cat(parts ...string) []byte { return []byte(strings.Join(parts, "")) }

func fr(s string) string { return string(Frame([]byte(s))) }

func TestReader(t *testing.T) {
	const sb, eb, cr = "\x0b", "\x1c", "\r"
	tests := []struct {
		name      string
		in        []byte
		max       int
		want      []string
		wantErr   error // error after the messages; io.EOF for a clean end
		skipped   int64
		missingCR int64
	}{
		{name: "one frame", in: cat(fr("MSH|1")), want: []string{"MSH|1"}, wantErr: io.EOF},
		{name: "junk before SB", in: cat("GET / HTTP/1.1\r\n", fr("MSH|1")), want: []string{"MSH|1"}, wantErr: io.EOF, skipped: 16},
		{name: "two frames", in: cat(fr("A"), fr("B")), want: []string{"A", "B"}, wantErr: io.EOF},
		{name: "trailing LF", in: cat(fr("A"), "\n", fr("B"), "\n"), want: []string{"A", "B"}, wantErr: io.EOF, skipped: 2},
		{name: "CRLF between", in: cat(fr("A"), "\r\n", fr("B")), want: []string{"A", "B"}, wantErr: io.EOF, skipped: 2},
		{name: "missing CR then frame", in: cat(sb, "A", eb, sb, "B", eb, cr), want: []string{"A", "B"}, wantErr: io.EOF, missingCR: 1},
		{name: "missing CR at EOF", in: cat(sb, "A", eb), want: []string{"A"}, wantErr: io.EOF, missingCR: 1},
		{name: "missing CR then junk", in: cat(sb, "A", eb, "x", fr("B")), want: []string{"A", "B"}, wantErr: io.EOF, skipped: 1, missingCR: 1},
		{name: "empty frame", in: cat(fr(""), fr("A")), want: []string{"", "A"}, wantErr: io.EOF},
		{name: "SB inside payload", in: cat(sb, "A", sb, "B", eb, cr), want: []string{"A\x0bB"}, wantErr: io.EOF},
		{name: "segments kept", in: cat(fr("MSH|^~\\&\rSCH|1\r")), want: []string{"MSH|^~\\&\rSCH|1\r"}, wantErr: io.EOF},
		{name: "only junk", in: cat("\n\n\r"), wantErr: io.EOF, skipped: 3},
		{name: "empty input", in: nil, wantErr: io.EOF},
		{name: "EOF mid-frame", in: cat(fr("A"), sb, "MSH|partial"), want: []string{"A"}, wantErr: io.ErrUnexpectedEOF},
		{name: "EOF after SB", in: cat(sb), wantErr: io.ErrUnexpectedEOF},
		{name: "exactly max", in: cat(fr("12345678")), max: 8, want: []string{"12345678"}, wantErr: io.EOF},
		{name: "over max", in: cat(fr("A"), fr("123456789"), fr("B")), max: 8, want: []string{"A"}, wantErr: ErrFrameTooLarge},
	}
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"1-byte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
		{"data+EOF", iotest.DataErrReader},
	}
	for _, tt := range tests {
		for _, rw := range readers {
			t.Run(tt.name+"/"+rw.name, func(t *testing.T) {
				rd := NewReader(rw.wrap(bytes.NewReader(tt.in)), tt.max)
				var got []string
				var err error
				for range 100 {
					var msg []byte
					if msg, err = rd.ReadMessage(); err != nil {
						break
					}
					if msg == nil {
						t.Fatal("nil message without error")
					}
					got = append(got, string(msg))
				}
				if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
					t.Errorf("messages = %q, want %q", got, tt.want)
				}
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("error = %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr != io.EOF {
					var fe *FrameError
					if !errors.As(err, &fe) {
						t.Errorf("error %T is not a *FrameError", err)
					}
				}
				if err2 := errAgain(rd); err2 != err {
					t.Errorf("error not sticky: first %v, then %v", err, err2)
				}
				if rd.Skipped() != tt.skipped {
					t.Errorf("Skipped() = %d, want %d", rd.Skipped(), tt.skipped)
				}
				if rd.MissingCR() != tt.missingCR {
					t.Errorf("MissingCR() = %d, want %d", rd.MissingCR(), tt.missingCR)
				}
			})
		}
	}
}

func errAgain(rd *Reader) error {
	_, err := rd.ReadMessage()
	return err
}

// TestReaderReadError checks that a source error mid-frame is wrapped and
// between frames is returned as is.
func TestReaderReadError(t *testing.T) {
	mid := NewReader(io.MultiReader(bytes.NewReader(cat("\x0bMSH")), iotest.ErrReader(os.ErrDeadlineExceeded)), 0)
	_, err := mid.ReadMessage()
	var fe *FrameError
	if !errors.As(err, &fe) || !errors.Is(err, os.ErrDeadlineExceeded) || fe.Op != "read" {
		t.Errorf("mid-frame error = %v, want *FrameError wrapping os.ErrDeadlineExceeded", err)
	}
	if strings.Contains(err.Error(), "MSH") {
		t.Errorf("error %q leaks frame content", err)
	}

	idle := NewReader(io.MultiReader(bytes.NewReader(Frame([]byte("A"))), iotest.ErrReader(os.ErrDeadlineExceeded)), 0)
	if _, err := idle.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	if _, err := idle.ReadMessage(); err != os.ErrDeadlineExceeded {
		t.Errorf("idle error = %v, want os.ErrDeadlineExceeded unwrapped", err)
	}
}

// countingReader counts the bytes handed out by Read.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// infiniteFrame is an endless frame: SB followed by 'x' forever.
type infiniteFrame struct{ started bool }

func (f *infiniteFrame) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	if !f.started && len(p) > 0 {
		f.started = true
		p[0] = startBlock
	}
	return len(p), nil
}

func TestReaderOversizeBounded(t *testing.T) {
	const limit = 1 << 20
	tests := []struct {
		name string
		src  io.Reader
	}{
		{"3 MiB frame", bytes.NewReader(Frame(bytes.Repeat([]byte("x"), 3<<20)))},
		{"endless frame", &infiniteFrame{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cr := &countingReader{r: tt.src}
			rd := NewReader(cr, limit)
			msg, err := rd.ReadMessage()
			if !errors.Is(err, ErrFrameTooLarge) || msg != nil {
				t.Fatalf("ReadMessage = %d bytes, %v; want ErrFrameTooLarge", len(msg), err)
			}
			if maxRead := int64(limit + readBufSize + 1); cr.n > maxRead {
				t.Errorf("consumed %d bytes from source, want <= %d", cr.n, maxRead)
			}
			if cap(rd.frame) > limit {
				t.Errorf("frame buffer capacity %d exceeds limit %d", cap(rd.frame), limit)
			}
		})
	}
}

func TestReaderAllocationBounded(t *testing.T) {
	// A frame of exactly the limit, arriving in small pieces, must not
	// make the buffer grow past the limit.
	const limit = 100_000
	payload := bytes.Repeat([]byte("y"), limit)
	rd := NewReader(iotest.HalfReader(bytes.NewReader(Frame(payload))), limit)
	msg, err := rd.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(msg, payload) || cap(msg) > limit {
		t.Errorf("got len %d cap %d, want len %d cap <= %d", len(msg), cap(msg), limit, limit)
	}
}

func TestReaderMessagesAreNotAliased(t *testing.T) {
	rd := NewReader(bytes.NewReader(cat(fr("AAAA"), fr("BBBB"))), 0)
	a, _ := rd.ReadMessage()
	b, _ := rd.ReadMessage()
	if string(a) != "AAAA" || string(b) != "BBBB" {
		t.Errorf("got %q, %q", a, b)
	}
}

func TestFrameErrorMessage(t *testing.T) {
	err := error(&FrameError{Op: "read", Err: ErrFrameTooLarge})
	if got, want := err.Error(), "mllp: read: frame too large"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
