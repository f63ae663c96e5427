package apptbridge_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/apptbridge/apptbridge"
)

func TestErrorCodeAndMessage(t *testing.T) {
	notFound := apptbridge.Errorf(apptbridge.ENOTFOUND, "appointment %s not found", "20000")
	wrapped := &apptbridge.Error{Code: apptbridge.EINTERNAL, Message: "storage failure", Err: io.ErrUnexpectedEOF}
	tests := []struct {
		name    string
		err     error
		code    string
		message string
	}{
		{"nil", nil, "", ""},
		{"plain error", errors.New("disk on fire: +13125550199"), apptbridge.EINTERNAL, "internal error"},
		{"domain error", notFound, apptbridge.ENOTFOUND, "appointment 20000 not found"},
		{"wrapped with %w", fmt.Errorf("store: %w", notFound), apptbridge.ENOTFOUND, "appointment 20000 not found"},
		{"joined", errors.Join(io.EOF, apptbridge.Errorf(apptbridge.ECONFLICT, "dup")), apptbridge.ECONFLICT, "dup"},
		{"outermost *Error wins", &apptbridge.Error{Code: apptbridge.EINVALID, Message: "outer", Err: notFound},
			apptbridge.EINVALID, "outer"},
		{"with cause", wrapped, apptbridge.EINTERNAL, "storage failure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := apptbridge.ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
			if got := apptbridge.ErrorMessage(tt.err); got != tt.message {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.message)
			}
		})
	}
}

func TestError(t *testing.T) {
	e := apptbridge.Errorf(apptbridge.EINVALID, "missing %s", "SCH-2")
	if e.Code != apptbridge.EINVALID || e.Message != "missing SCH-2" || e.Err != nil {
		t.Fatalf("Errorf = %+v", e)
	}
	if got, want := e.Error(), "apptbridge invalid: missing SCH-2"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if e.Unwrap() != nil {
		t.Errorf("Unwrap() = %v", e.Unwrap())
	}

	c := &apptbridge.Error{Code: apptbridge.EINTERNAL, Message: "commit failed", Err: io.ErrShortWrite}
	if got, want := c.Error(), "apptbridge internal: commit failed: short write"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(c, io.ErrShortWrite) || !errors.Is(fmt.Errorf("x: %w", c), io.ErrShortWrite) {
		t.Error("errors.Is does not reach the cause")
	}
	var target *apptbridge.Error
	if !errors.As(fmt.Errorf("x: %w", c), &target) || target != c {
		t.Error("errors.As does not find the *Error")
	}

	codes := []string{apptbridge.EINVALID, apptbridge.ENOTFOUND, apptbridge.ECONFLICT, apptbridge.EINTERNAL}
	seen := map[string]bool{}
	for _, code := range codes {
		if code == "" || seen[code] {
			t.Errorf("code %q empty or repeated", code)
		}
		seen[code] = true
	}
}
