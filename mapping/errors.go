package mapping

import (
	"errors"
	"strconv"

	"github.com/apptbridge/apptbridge"
)

// Sentinel errors wrapped by *Error; test with errors.Is.
var (
	// ErrMissingSegment: a required segment (SCH) is absent (table 0357 code 100).
	ErrMissingSegment = errors.New("mapping: required segment missing")
	// ErrMissingField: a required field is empty (code 101).
	ErrMissingField = errors.New("mapping: required field missing")
	// ErrBadValue: a field cannot be parsed, e.g. a date (code 102).
	ErrBadValue = errors.New("mapping: bad value")
	// ErrUnsupportedType: the message is not SIU (code 200).
	ErrUnsupportedType = errors.New("mapping: unsupported message type")
	// ErrUnsupportedTrigger: the trigger event is not in the trigger table (code 201).
	ErrUnsupportedTrigger = errors.New("mapping: unsupported trigger event")
	// ErrUnsupportedVersion: MSH-12 is not an accepted HL7 version (code 203).
	ErrUnsupportedVersion = errors.New("mapping: unsupported version")
)

// HL7 table 0357 codes used by the mapper.
const (
	CodeSegmentSequence    = 100
	CodeRequiredMissing    = 101
	CodeDataType           = 102
	CodeTableValue         = 103
	CodeUnsupportedType    = 200
	CodeUnsupportedEvent   = 201
	CodeUnsupportedVersion = 203
)

// Error is a mapping failure with what the ACK needs: the HL7 table 0357
// code (ERR-3), the location (ERR-2, e.g. "SCH-11.4", "MSH-9.2" or "SCH")
// and a reason. Neither Location nor Reason ever carries field values, so
// the error is safe to log and to put in an ACK.
type Error struct {
	Code     int    // table 0357: 100–103 (AE) or 200–203 (AR)
	Location string // ERR-2, parseable by hl7.ParseLocation
	Reason   string // short, PHI-free
	Err      error  // one of the sentinel errors
}

func (e *Error) Error() string {
	s := "mapping: " + e.Reason
	if e.Location != "" {
		s += " at " + e.Location
	}
	return s + " (HL7 error " + strconv.Itoa(e.Code) + ")"
}

// Unwrap returns the sentinel and an *apptbridge.Error with code EINVALID,
// so both errors.Is(err, ErrMissingField) and apptbridge.ErrorCode(err)
// work.
func (e *Error) Unwrap() []error {
	return []error{e.Err, &apptbridge.Error{Code: apptbridge.EINVALID, Message: e.Reason}}
}

// AckCode is the original-mode acknowledgment code for the error: "AE"
// for content errors (1xx), "AR" for unsupported type/event/version (2xx).
func (e *Error) AckCode() string {
	if e.Code >= 200 {
		return "AR"
	}
	return "AE"
}

func newErr(code int, loc, reason string, sentinel error) *Error {
	return &Error{Code: code, Location: loc, Reason: reason, Err: sentinel}
}
