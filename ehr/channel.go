package ehr

import (
	"context"
	"time"

	"github.com/apptbridge/apptbridge"
)

// Outcome is what became of one delivery attempt.
type Outcome int

// Outcomes.
const (
	// Acked: the EHR accepted the request (AA/CA, HTTP 2xx). Done.
	Acked Outcome = iota
	// Retry: not delivered, or refused for now (AR/CR, timeout,
	// disconnect, HTTP 408/425/429/5xx); send the same bytes again later.
	Retry
	// Dead: refused for good (AE/CE, HTTP 4xx) or impossible to send;
	// never resent by itself (an operator may retry it).
	Dead
)

// String returns "acked", "retry" or "dead" (metric label values).
func (o Outcome) String() string {
	switch o {
	case Acked:
		return "acked"
	case Retry:
		return "retry"
	case Dead:
		return "dead"
	}
	return "unknown"
}

// Result is the outcome of one Deliver call.
type Result struct {
	Outcome Outcome
	// AckCode is MSA-1 (AA, AE, AR, CA…) or the HTTP status ("200"); ""
	// when nothing was answered (dial error, timeout, disconnect).
	AckCode string
	// Ack is the reply as received (the ACK message, or the start of the
	// HTTP response body). It may hold patient data: store it, never log it.
	Ack []byte
	// Rejected: the EHR answered and refused the message for now (AR/CR or
	// an unknown MSA-1). With Outcome Retry it counts toward
	// Worker.MaxARAttempts; timeouts and disconnects do not.
	Rejected bool
	// Err says why the outcome is not Acked. It never carries patient
	// data, nor text the EHR wrote (which might).
	Err error
}

// Sender delivers an encoded request to the EHR. Deliver never panics on a
// bad peer; every failure is a Result.
type Sender interface {
	Deliver(ctx context.Context, controlID string, msg []byte) Result
}

// Encoder turns a request into the bytes a Sender sends. It is called once
// per request: retries resend the same bytes.
type Encoder interface {
	Encode(typ apptbridge.EventType, a *apptbridge.Appointment, controlID string, now time.Time) ([]byte, error)
}

// Channel is one way to the EHR: HL7 over MLLP (*MLLPSender) or a JSON
// webhook (*WebhookSender).
type Channel interface {
	Encoder
	Sender
}
