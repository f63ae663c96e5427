package store

import (
	"context"
	"errors"
	"time"

	"github.com/apptbridge/apptbridge"
)

// ErrLeaseLost is returned when a worker saves a job whose lease it no
// longer holds (it expired and another worker claimed the job).
var ErrLeaseLost = errors.New("store: lease lost")

// Text directions.
const (
	DirOut = "out"
	DirIn  = "in"
)

// Text statuses. The outbox's own statuses come first; after Twilio
// accepted a text its status is Twilio's (accepted, queued, sending, sent,
// delivered, undelivered, failed, read), moved forward only (StatusRank).
const (
	TextPending    = "pending"    // in the outbox, not yet attempted
	TextAttempting = "attempting" // a create call may have reached Twilio: reconcile before resending
	TextCanceled   = "canceled"   // not sent; Reason says why (opted out, superseded, past…)
	TextSandbox    = "sandbox"    // SMS sandbox: kept, not sent
	TextReceived   = "received"   // an inbound text
	TextFailed     = "failed"     // Twilio refused it or reported a failure; ErrorCode says why
)

// Twilio message statuses (https://www.twilio.com/docs/messaging/api/message-resource#message-status-values).
const (
	TwilioAccepted    = "accepted"
	TwilioScheduled   = "scheduled"
	TwilioQueued      = "queued"
	TwilioSending     = "sending"
	TwilioSent        = "sent"
	TwilioDelivered   = "delivered"
	TwilioUndelivered = "undelivered"
	TwilioFailed      = "failed"
	TwilioRead        = "read"
)

// StatusRank orders statuses so that a status callback only moves a text
// forward: a status of lower or equal rank than the stored one changes
// nothing. Terminal outcomes (delivered, undelivered, failed) share a rank:
// the first one reported stays. read is after delivered. Unknown statuses
// rank 0 and never overwrite anything.
func StatusRank(s string) int {
	switch s {
	case TextPending:
		return 1
	case TextAttempting:
		return 2
	case TwilioAccepted, TwilioScheduled:
		return 3
	case TwilioQueued:
		return 4
	case TwilioSending:
		return 5
	case TwilioSent:
		return 6
	case TwilioDelivered, TwilioUndelivered, TwilioFailed, TextCanceled, TextSandbox, TextReceived:
		return 7
	case TwilioRead:
		return 8
	}
	return 0
}

// AdvanceStatus applies a delivery status callback to t at now: the
// status only moves forward (StatusRank), and an error code of 0 keeps
// the one recorded. It reports whether t changed (the caller then saves
// status, error code and UpdatedAt).
func AdvanceStatus(t *Text, status string, errorCode int, now time.Time) bool {
	if StatusRank(status) <= StatusRank(t.Status) {
		return false
	}
	if errorCode == 0 {
		errorCode = t.ErrorCode
	}
	t.Status, t.ErrorCode, t.UpdatedAt = status, errorCode, now
	return true
}

// Sent reports whether a text with status s left apptbridge (Twilio took it
// or the sandbox kept it).
func Sent(s string) bool {
	switch s {
	case TwilioAccepted, TwilioScheduled, TwilioQueued, TwilioSending, TwilioSent,
		TwilioDelivered, TwilioRead, TextSandbox:
		return true
	}
	return false
}

// Text is one SMS, outbound (an outbox row) or inbound (a patient's reply).
type Text struct {
	ID            string // UUIDv7
	Direction     string // DirOut or DirIn
	AppointmentID string // "" for texts about no appointment (help, admin codes)
	EventID       string // the event that caused an outbound text; "" for none
	Kind          apptbridge.TextKind
	Phone         string // the patient's phone (E.164): To for out, From for in
	Language      string // ISO 639-1 of the patient, "" for the default
	// Snapshot is the appointment's JSON right after the event that
	// caused the text, so the text says what the event said even when it
	// goes out later.
	Snapshot []byte
	// Body is rendered when the text is attempted (outbound), or what the
	// patient wrote (inbound).
	Body string
	// ReplyWindow: the text asks the patient for a reply (CONFIRM APPT /
	// CANCEL APPT); replies are correlated to the latest such text.
	AsksReply bool
	// Immediate: a reply to the patient's own message (receipt, help),
	// sent at once, outside the outreach window too.
	Immediate bool
	Status    string
	Reason    string // why canceled/failed; never PHI
	SID       string // Twilio MessageSid
	ErrorCode int    // Twilio error code of the last failure
	Attempts  int
	// NextAttemptAt is when the outbox may try it (again).
	NextAttemptAt time.Time
	// Lease: the worker that claimed the text and until when.
	LeaseOwner string
	LeaseUntil time.Time
	SentAt     time.Time // when Twilio accepted it (or the sandbox kept it)
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Request statuses: an outbound CONFIRM/CANCEL request to the EHR.
const (
	RequestPending = "pending" // waiting for (another) attempt
	RequestSending = "sending" // an attempt is in flight
	RequestAcked   = "acked"   // the EHR accepted it (AA/CA, or 2xx)
	RequestDead    = "dead"    // the EHR rejected it (AE) or attempts ran out: needs an operator
)

// Request is one patient request to send to the EHR.
type Request struct {
	ID            string // UUIDv7
	Seq           int64  // order of creation (requests of one appointment go in this order)
	AppointmentID string
	EventID       string               // the patient's CONFIRM/CANCEL event
	Type          apptbridge.EventType // apptbridge.Confirm or apptbridge.Cancel
	Snapshot      []byte               // the appointment's JSON when the request was made
	ControlID     string               // MSH-10 of the outbound message, the same for every attempt
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    time.Time
	Message       []byte // the last message sent (HL7 or JSON)
	Ack           []byte // the last reply received
	AckCode       string // AA, AE, AR, CA…; HTTP status for the webhook ("200")
	LastError     string // never PHI
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Final reports whether no more attempts will be made by themselves.
func (r *Request) Final() bool { return r.Status == RequestAcked || r.Status == RequestDead }

// TextFilter selects texts; zero fields match everything.
type TextFilter struct {
	AppointmentID string
	Phone         string
	Direction     string
	Limit         int // default 100, newest first
}

// RequestFilter selects requests; zero fields match everything.
type RequestFilter struct {
	AppointmentID string
	Status        string
	Limit         int // default 100, oldest first
}

// QueueStat is the depth of one outbox queue.
type QueueStat struct {
	Queue  string // "texts", "requests"
	Depth  int    // rows not final
	Oldest time.Time
}

// Token is an API token; only a hash of its secret is stored.
type Token struct {
	ID        string
	Name      string
	Hash      Hash
	CreatedAt time.Time
	RevokedAt time.Time
}

// ApplyResult is what Tx.Apply did.
type ApplyResult struct {
	Outcome apptbridge.Outcome
	Text    *Text    // the outbox text written, nil for none
	Request *Request // the EHR request written, nil for none
}

// Tx is a write transaction: every change made through it commits
// together, durably, or not at all. A Tx function may run more than once
// (a backend retries a batch); it must not have effects outside the Tx
// and must do no slow work (it holds the write lock).
type Tx interface {
	ReminderTx

	// Appointment returns the current state, nil (no error) when absent.
	Appointment(ctx context.Context, id string) (*apptbridge.Appointment, error)
	// ByPhone lists a phone's active appointments (QUEUED, REMINDED-1/2)
	// when optedOut is false, its OPTED-OUT ones (only) when true; soonest
	// first.
	ByPhone(ctx context.Context, phone string, optedOut bool) ([]*apptbridge.Appointment, error)
	// LatestAsking returns the appointment id of the latest sent text that
	// asked phone for a reply and whose appointment is active and starts
	// after now; "" when there is none.
	LatestAsking(ctx context.Context, phone string, now time.Time) (string, error)
	// Apply runs the event through apptbridge.Apply, writes its history
	// row, the new state, and, as the outcome says, an outbox text and an
	// EHR request. The event's EventID must be new (ECONFLICT otherwise).
	Apply(ctx context.Context, e *apptbridge.Event) (ApplyResult, error)
	// AddText writes a text not caused by an event (inbound replies, help,
	// not-understood). For an inbound text with a SID already stored it
	// returns false and writes nothing (Twilio's MessageSid deduplication).
	AddText(ctx context.Context, t *Text) (bool, error)
	// SentSince reports whether a text of that kind went (or is going) to
	// phone since t.
	SentSince(ctx context.Context, phone string, kind apptbridge.TextKind, t time.Time) (bool, error)
	// OptedOut reports whether phone is on the opt-out list.
	OptedOut(ctx context.Context, phone string) (bool, error)
	// OptOut / OptIn change the opt-out list.
	OptOut(ctx context.Context, phone string) error
	OptIn(ctx context.Context, phone string) error
	// FlagPhone marks a phone undeliverable (Twilio 21211, 21614, 30005,
	// 30006): no text goes to it until an inbound text from it clears the
	// flag (UnflagPhone).
	FlagPhone(ctx context.Context, phone string, code int) error
	UnflagPhone(ctx context.Context, phone string) error
	// PhoneFlagged reports whether phone is flagged undeliverable.
	PhoneFlagged(ctx context.Context, phone string) (bool, error)
	// SaveText is Outbox.SaveText inside the transaction (the outbox
	// worker checks the appointment and marks the attempt in one commit).
	SaveText(ctx context.Context, owner string, t *Text) error
	// CancelPendingTexts cancels the texts of an appointment still waiting
	// in the outbox whose kind is in kinds (all kinds when empty), with a
	// reason. It returns how many.
	CancelPendingTexts(ctx context.Context, appointmentID string, kinds []apptbridge.TextKind, reason string) (int, error)
}

// Store embeds Outbox: see store.go.

// Outbox is the worker side of the outbox: claims with leases, and the
// results of attempts. Each method commits durably on its own.
type Outbox interface {
	// Update runs fn in one write transaction.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error

	// ClaimTexts leases up to limit outbound texts that are due (status
	// pending or attempting, NextAttemptAt ≤ now, no live lease), oldest
	// first, for owner until now+lease.
	ClaimTexts(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*Text, error)
	// SaveText writes a claimed text's mutable fields (Body, Status,
	// Reason, SID, ErrorCode, Attempts, NextAttemptAt, SentAt, and the
	// lease); ErrLeaseLost when owner no longer holds it.
	SaveText(ctx context.Context, owner string, t *Text) error
	// NextTextDue returns the earliest NextAttemptAt of a pending text
	// (zero when none), for the worker's timer.
	NextTextDue(ctx context.Context) (time.Time, error)
	// TextStatus moves the text with that Twilio SID to status when its
	// rank is higher (StatusRank); it returns the text and whether it
	// changed. ENOTFOUND for an unknown SID.
	TextStatus(ctx context.Context, sid, status string, errorCode int) (*Text, bool, error)
	// Texts lists texts, newest first.
	Texts(ctx context.Context, f TextFilter) ([]*Text, error)

	// ClaimRequest leases the next due request: the oldest pending one
	// (NextAttemptAt ≤ now, no live lease) whose appointment has no older
	// request that is neither acked nor dead (order per appointment).
	// nil when none is due.
	ClaimRequest(ctx context.Context, owner string, now time.Time, lease time.Duration) (*Request, error)
	// SaveRequest writes a claimed request's mutable fields; ErrLeaseLost.
	SaveRequest(ctx context.Context, owner string, r *Request) error
	// NextRequestDue returns the earliest NextAttemptAt of a pending
	// request (zero when none).
	NextRequestDue(ctx context.Context) (time.Time, error)
	// Requests lists requests, oldest first.
	Requests(ctx context.Context, f RequestFilter) ([]*Request, error)
	// RetryRequest puts a dead request back in the queue (an operator's
	// retry); ENOTFOUND, or EINVALID when it is not dead or when a newer
	// request of its appointment was acked or attempted and is not dead
	// (the retry would overtake it).
	RetryRequest(ctx context.Context, id string, now time.Time) error

	// QueueStats returns the depth and oldest entry of each queue.
	QueueStats(ctx context.Context) ([]QueueStat, error)

	// CreateToken stores an API token; TokenByHash finds a live one
	// (ENOTFOUND when absent or revoked).
	CreateToken(ctx context.Context, t *Token) error
	TokenByHash(ctx context.Context, h Hash) (*Token, error)
}
