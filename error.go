package apptbridge

import (
	"errors"
	"fmt"
)

// Error codes, mapped once at each edge (an ACK code, an HTTP status).
const (
	EINVALID  = "invalid"  // bad input: AE / 400
	ENOTFOUND = "notfound" // 404
	ECONFLICT = "conflict" // duplicate key with other content: AE 205 / 409
	EINTERNAL = "internal" // storage or other internal failure: AR 207 / 500
)

// Error is a domain error with a code and a message that is safe to show
// to a client (it never carries PHI).
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("apptbridge %s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("apptbridge %s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// EINTERNAL for any other non-nil error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of the first *Error in
// err's chain, "internal error" for any other non-nil error, and "" for nil.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
