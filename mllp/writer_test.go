package mllp

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// writeCounter records each Write call separately.
type writeCounter struct{ writes [][]byte }

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

func TestWriter(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    []byte
		wantErr error
	}{
		{"ack", []byte("MSH|^~\\&\rMSA|AA|1\r"), []byte("\x0bMSH|^~\\&\rMSA|AA|1\r\x1c\r"), nil},
		{"empty", []byte{}, []byte("\x0b\x1c\r"), nil},
		{"large", bytes.Repeat([]byte("z"), 200<<10), Frame(bytes.Repeat([]byte("z"), 200<<10)), nil},
		{"end block in payload", []byte("A\x1cB"), nil, ErrInvalidPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wc := &writeCounter{}
			err := NewWriter(wc).WriteMessage(tt.payload)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if len(wc.writes) != 0 {
					t.Errorf("wrote %d times on error, want 0", len(wc.writes))
				}
				return
			}
			if len(wc.writes) != 1 {
				t.Fatalf("%d Write calls, want 1", len(wc.writes))
			}
			if !bytes.Equal(wc.writes[0], tt.want) {
				t.Errorf("wrote %q, want %q", wc.writes[0], tt.want)
			}
		})
	}
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) - 1, nil }

func TestWriterShortWrite(t *testing.T) {
	if err := NewWriter(shortWriter{}).WriteMessage([]byte("A")); !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("error = %v, want io.ErrShortWrite", err)
	}
}

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	msgs := []string{"MSH|1", "", "MSH|2\rPID|x\r"}
	for _, m := range msgs {
		if err := w.WriteMessage([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	rd := NewReader(&buf, 0)
	for _, want := range msgs {
		got, err := rd.ReadMessage()
		if err != nil || string(got) != want {
			t.Fatalf("ReadMessage = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := rd.ReadMessage(); err != io.EOF {
		t.Errorf("final error = %v, want io.EOF", err)
	}
}
