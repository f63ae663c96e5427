package mllp

import (
	"bytes"
	"fmt"
	"io"
)

// maxRetainedWriteBuf bounds the buffer a Writer keeps between messages.
const maxRetainedWriteBuf = 64 << 10

// Writer writes MLLP frames. Each frame (start block, payload, end block
// and carriage return) is written with exactly one Write call on the
// underlying writer, so a naive peer never sees the block characters
// arrive in separate segments.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer that writes frames to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// WriteMessage frames p and writes it with a single Write call. A payload
// containing the end block byte 0x1C cannot be framed: WriteMessage then
// writes nothing and returns a *[FrameError] wrapping [ErrInvalidPayload].
func (w *Writer) WriteMessage(p []byte) error {
	if bytes.IndexByte(p, endBlock) >= 0 {
		return &FrameError{Op: "write", Err: ErrInvalidPayload}
	}
	w.buf = appendFrame(w.buf[:0], p)
	n, err := w.w.Write(w.buf)
	if err == nil && n < len(w.buf) {
		err = io.ErrShortWrite
	}
	if cap(w.buf) > maxRetainedWriteBuf {
		w.buf = nil
	}
	if err != nil {
		return fmt.Errorf("mllp: write: %w", err)
	}
	return nil
}

// Frame returns p wrapped in MLLP block characters: 0x0B p 0x1C 0x0D. It
// does not check p for an embedded 0x1C; [Writer.WriteMessage] does.
func Frame(p []byte) []byte {
	return appendFrame(make([]byte, 0, len(p)+3), p)
}

func appendFrame(dst, p []byte) []byte {
	dst = append(dst, startBlock)
	dst = append(dst, p...)
	return append(dst, endBlock, carriageReturn)
}
