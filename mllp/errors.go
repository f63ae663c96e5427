package mllp

import (
	"errors"
	"strings"
)

var (
	// ErrServerClosed is returned by [Server.Serve] and [Server.ListenAndServe]
	// after a call to [Server.Shutdown] or [Server.Close].
	ErrServerClosed = errors.New("mllp: server closed")

	// ErrFrameTooLarge is wrapped in a *[FrameError] when a frame's payload
	// exceeds the configured maximum message size.
	ErrFrameTooLarge = errors.New("mllp: frame too large")

	// ErrMissingCR is reported (through [Server.OnFrameError]) when an end
	// block byte 0x1C is not followed by a carriage return 0x0D. The frame is
	// still accepted; see the package documentation.
	ErrMissingCR = errors.New("mllp: end block not followed by carriage return")

	// ErrInvalidPayload is wrapped in a *[FrameError] when a payload to be
	// written contains the end block byte 0x1C, which cannot be framed.
	ErrInvalidPayload = errors.New("mllp: payload contains end block byte 0x1c")

	// ErrAckTimeout is wrapped in the error returned by [Client.Send] when no
	// reply arrived within [Client.AckTimeout].
	ErrAckTimeout = errors.New("mllp: ack timeout")
)

// FrameError describes a framing violation: an oversize frame, a frame that
// stalled or hit end of stream before its end block, or a payload that cannot
// be framed. Err holds the cause and can be tested with [errors.Is], e.g.
// errors.Is(err, ErrFrameTooLarge), errors.Is(err, io.ErrUnexpectedEOF) or
// errors.Is(err, os.ErrDeadlineExceeded) for a mid-frame stall.
//
// A FrameError never contains message content.
type FrameError struct {
	Op  string // "read" or "write"
	Err error
}

func (e *FrameError) Error() string {
	if e.Err == nil {
		return "mllp: " + e.Op + ": framing error"
	}
	return "mllp: " + e.Op + ": " + strings.TrimPrefix(e.Err.Error(), "mllp: ")
}

func (e *FrameError) Unwrap() error { return e.Err }
