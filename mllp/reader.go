package mllp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MLLP block characters (HL7 v2 Appendix C, MLLP Release 1).
const (
	startBlock     = 0x0B // <SB>, vertical tab
	endBlock       = 0x1C // <EB>, file separator
	carriageReturn = 0x0D // <CR>
)

// DefaultMaxMessageSize is the payload limit used when a size of zero or
// less is configured.
const DefaultMaxMessageSize = 1 << 20

// readBufSize is the size of the Reader's fixed read buffer. At most this
// many bytes beyond the size limit are ever consumed from the source.
const readBufSize = 4 << 10

var errNegativeRead = errors.New("mllp: reader returned negative count from Read")

// Reader reads MLLP frames from a byte stream.
//
// It skips (and counts) bytes before a start block, accepts several frames
// per underlying Read and one frame across many Reads, and never holds more
// than maxSize bytes of frame data plus a fixed 4 KiB read buffer. See the
// package documentation for the exact rules.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	rd  io.Reader
	max int

	buf  []byte // fixed read buffer, allocated on first use
	r, w int    // unread window buf[r:w]
	rerr error  // error from rd, returned once the window is drained

	frame   []byte // payload of the frame being read
	inFrame bool   // a start block has been seen and its end block not yet
	wantCR  bool   // the previous frame ended; a CR may follow

	skipped   int64
	missingCR int64
	err       error // sticky error

	// onStart, if set, is called when a start block is found; a non-nil
	// error aborts reading. The server uses it to switch from the idle to
	// the frame deadline.
	onStart func() error
}

// NewReader returns a Reader reading from r that accepts payloads of at most
// maxSize bytes (DefaultMaxMessageSize if maxSize <= 0).
func NewReader(r io.Reader, maxSize int) *Reader {
	if maxSize <= 0 {
		maxSize = DefaultMaxMessageSize
	}
	return &Reader{rd: r, max: maxSize}
}

// ReadMessage returns the payload of the next frame, without the block
// characters. The returned slice is newly allocated and owned by the caller;
// an empty frame yields a non-nil empty slice.
//
// At a clean end of stream (no frame started) it returns io.EOF. A frame cut
// short by end of stream or a read error yields a *[FrameError] wrapping
// io.ErrUnexpectedEOF or the read error (a deadline gives
// os.ErrDeadlineExceeded); a payload over the limit yields a *[FrameError]
// wrapping [ErrFrameTooLarge], after reading at most the limit plus 4 KiB
// from the source. Errors are sticky: once ReadMessage fails, it returns the
// same error forever.
func (r *Reader) ReadMessage() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	for {
		msg, ok, err := r.scan()
		if err != nil {
			r.err = err
			return nil, err
		}
		if ok {
			return msg, nil
		}
		if r.rerr != nil {
			r.err = r.endError(r.rerr)
			return nil, r.err
		}
		r.fill()
	}
}

// Skipped reports the total number of bytes discarded outside frames so far:
// junk before a start block, including a stray LF after a frame's CR.
func (r *Reader) Skipped() int64 { return r.skipped }

// MissingCR reports how many frames so far ended with an end block that was
// not followed by a carriage return (tolerated, see the package docs).
func (r *Reader) MissingCR() int64 { return r.missingCR }

// scan consumes buffered bytes. It returns ok when a whole frame was read.
func (r *Reader) scan() (msg []byte, ok bool, err error) {
	for r.r < r.w {
		if !r.inFrame {
			if r.wantCR {
				r.wantCR = false
				if r.buf[r.r] == carriageReturn {
					r.r++
					continue
				}
				r.missingCR++
			}
			i := bytes.IndexByte(r.buf[r.r:r.w], startBlock)
			if i < 0 {
				r.skipped += int64(r.w - r.r)
				r.r = r.w
				return nil, false, nil
			}
			r.skipped += int64(i)
			r.r += i + 1
			r.inFrame = true
			if r.onStart != nil {
				if err := r.onStart(); err != nil {
					return nil, false, err
				}
			}
			continue
		}
		data := r.buf[r.r:r.w]
		end := bytes.IndexByte(data, endBlock)
		if end >= 0 {
			data = data[:end]
		}
		if len(r.frame)+len(data) > r.max {
			return nil, false, &FrameError{Op: "read", Err: ErrFrameTooLarge}
		}
		r.appendFrame(data, end >= 0)
		if end < 0 {
			r.r = r.w
			return nil, false, nil
		}
		r.r += end + 1
		r.inFrame = false
		r.wantCR = true
		msg = r.frame
		r.frame = nil
		if msg == nil {
			msg = []byte{}
		}
		return msg, true, nil
	}
	return nil, false, nil
}

// appendFrame appends p to the frame under construction, growing it without
// ever exceeding the size limit. final means p completes the frame, so the
// exact size is known.
func (r *Reader) appendFrame(p []byte, final bool) {
	need := len(r.frame) + len(p)
	if need > cap(r.frame) {
		c := need
		if !final {
			c = max(need, 2*cap(r.frame), 1024)
		}
		c = min(c, r.max)
		f := make([]byte, len(r.frame), c)
		copy(f, r.frame)
		r.frame = f
	}
	r.frame = append(r.frame, p...)
}

// fill reads the next chunk into the (empty) buffer.
func (r *Reader) fill() {
	if r.buf == nil {
		r.buf = make([]byte, readBufSize)
	}
	r.r, r.w = 0, 0
	for range 100 {
		n, err := r.rd.Read(r.buf)
		if n < 0 || n > len(r.buf) {
			r.rerr = errNegativeRead
			return
		}
		r.w = n
		if err != nil {
			r.rerr = err
			return
		}
		if n > 0 {
			return
		}
	}
	r.rerr = io.ErrNoProgress
}

// endError converts the source's error into the error ReadMessage returns.
func (r *Reader) endError(err error) error {
	if r.inFrame {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return &FrameError{Op: "read", Err: fmt.Errorf("incomplete frame (%d bytes): %w", len(r.frame), err)}
	}
	if r.wantCR && err == io.EOF {
		r.wantCR = false
		r.missingCR++
	}
	return err
}
