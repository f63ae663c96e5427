package hl7

import (
	"errors"
	"fmt"
)

// Sentinel errors wrapped by *ParseError; test with errors.Is.
var (
	ErrEmpty          = errors.New("hl7: empty message")
	ErrNoMSH          = errors.New("hl7: message does not start with MSH")
	ErrBadDelimiters  = errors.New("hl7: bad delimiters in MSH-1/MSH-2")
	ErrBadSegmentName = errors.New("hl7: bad segment name")
	ErrBadEscape      = errors.New("hl7: bad escape sequence")
	ErrCharset        = errors.New("hl7: unsupported or invalid character set")
	ErrTooLarge       = errors.New("hl7: message too large")
	ErrBadBatch       = errors.New("hl7: bad batch structure")
	// ErrMultipleMessages: a second MSH inside one message (split batches
	// and concatenations with SplitBatch first).
	ErrMultipleMessages = errors.New("hl7: more than one MSH in a message")
)

// ParseError is a positioned parse error. Segment is the 1-based segment
// index (0 when unknown), Field the 1-based HL7 field number (0 when not
// field-specific) and Offset the byte offset in the input.
type ParseError struct {
	SegmentName string
	Segment     int
	Field       int
	Offset      int
	Err         error
}

func (e *ParseError) Error() string {
	loc := ""
	if e.SegmentName != "" {
		loc = e.SegmentName
		if e.Field > 0 {
			loc = fmt.Sprintf("%s-%d", e.SegmentName, e.Field)
		}
		loc = " at " + loc
	}
	return fmt.Sprintf("%v%s (segment %d, offset %d)", e.Err, loc, e.Segment, e.Offset)
}

func (e *ParseError) Unwrap() error { return e.Err }
