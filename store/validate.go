package store

import "github.com/apptbridge/apptbridge"

// invalid is the EINVALID error of the contract (see the package doc).
func invalid(msg string) error {
	return &apptbridge.Error{Code: apptbridge.EINVALID, Message: msg}
}

// ValidateInbound checks what Store.Ingest requires of in before it
// touches the database (EINVALID otherwise): a message with a control id
// and, when it carries an event, an event and an appointment id.
func ValidateInbound(in *Inbound) error {
	switch {
	case in == nil:
		return invalid("no inbound message")
	case in.Key.ControlID == "":
		return invalid("message control id required")
	case in.Event != nil && in.Event.EventID == "":
		return invalid("event id required")
	case in.Event != nil && in.Event.AppointmentID == "":
		return invalid("appointment id required")
	}
	return nil
}
