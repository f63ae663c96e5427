// Package store defines apptbridge's storage contract and the types its
// backends share. Backends live in subpackages (sqlite, postgres later) and
// all pass the contract suite in store/storetest.
//
// Every method that changes state commits durably (fsync) before it
// returns; a nil error means the change survives a crash or power loss.
//
// Instants: a Store keeps every instant (event, appointment and receipt
// times, CreatedAt/UpdatedAt, RecordedAt) at microsecond precision
// ([Precision]) and returns it in UTC; finer digits are truncated on the way
// in (see [Instant] and [NormalizeEvent]). Strings (ids, phones) are
// compared and ordered byte for byte, as Go compares strings.
//
// Errors: a missing record is an *apptbridge.Error with code ENOTFOUND
// wrapping [ErrNotFound]; invalid input is EINVALID; every other failure is
// EINTERNAL (apptbridge.ErrorCode). Error texts never carry PHI (names,
// phones, message bodies); appointment, event and control ids may appear.
package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"time"

	"github.com/apptbridge/apptbridge"
)

// ErrNotFound is returned (wrapped in an *apptbridge.Error with code
// ENOTFOUND) when a record does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("store: closed")

// DedupKey identifies an inbound HL7 message: MSH-3, MSH-4, MSH-10.
type DedupKey struct {
	SendingApplication string
	SendingFacility    string
	ControlID          string
}

// Hash is the SHA-256 of a message's content.
type Hash [32]byte

// HashOf returns the SHA-256 of b.
func HashOf(b []byte) Hash { return sha256.Sum256(b) }

// HashString returns the SHA-256 of s without copying it.
func HashString(s string) Hash {
	h := sha256.New()
	io.WriteString(h, s)
	var out Hash
	h.Sum(out[:0])
	return out
}

// Inbound is one inbound HL7 message to commit.
type Inbound struct {
	Key         DedupKey
	Hash        Hash   // content hash used for duplicate detection
	Raw         []byte // the message as received (kept for RAW_RETENTION)
	MessageType string // e.g. "SIU^S12"
	ReceivedAt  time.Time
	// Event is the mapped event; nil when the message is recorded without
	// effect on any appointment (SIU^S23/S24).
	Event *apptbridge.Event
	// Ack is the reply to store with the key and to send once the commit
	// returns; a later duplicate gets exactly these bytes again.
	Ack     []byte
	AckCode string
}

// IngestResult is what Ingest did.
type IngestResult struct {
	// Duplicate: a message with the same key and content was committed
	// before; Ack holds the ACK bytes stored with it. Nothing was changed.
	Duplicate bool
	// Conflict: the key is known with different content. Nothing was changed.
	Conflict bool
	// Ack is the stored ACK of a duplicate.
	Ack []byte
	// Outcome is the state-machine result for a new message with an Event.
	Outcome apptbridge.Outcome
}

// HistoryEntry is one event in an appointment's history, applied or not.
type HistoryEntry struct {
	Seq        int64
	Event      apptbridge.Event
	Applied    bool
	Reason     string
	From       apptbridge.Disposition
	To         apptbridge.Disposition
	Text       apptbridge.TextKind
	Suppressed string
	RecordedAt time.Time
}

// Filter selects appointments. Zero fields match everything.
type Filter struct {
	PatientID   string
	Disposition apptbridge.Disposition
	From, To    time.Time // on the appointment's UTC start, [From, To)
	After       string    // paging: appointment ids greater than this
	Limit       int       // default 100
}

// InboundRecord is a stored inbound message (for operators and tests).
type InboundRecord struct {
	Key         DedupKey
	Hash        Hash
	MessageType string
	ReceivedAt  time.Time
	AckCode     string
	Ack         []byte
	Raw         []byte // nil once pruned
	EventID     string // "" when the message had no appointment effect
}

// Store is the storage contract every backend implements.
type Store interface {
	// Ingest records an inbound message: raw bytes, its duplicate key with
	// the ACK, and, when in.Event is set, the event applied to its
	// appointment through apptbridge.Apply (history row + new state), all
	// in one durable transaction. Concurrent callers may share one
	// transaction and one fsync (group commit), but each call returns only
	// after its own data is durable. On error nothing of in is stored.
	//
	// The event is applied with ApplyContext{Now: the store's clock,
	// PhoneOptedOut: the phone is on the opt-out list}; its history row is
	// written whether or not it applied, the appointment's state only when
	// it changed. A zero ReceivedAt means the store's clock.
	//
	// Errors: EINVALID when in is nil, Key.ControlID is empty, or the event
	// lacks an EventID or AppointmentID; ECONFLICT when the event's EventID
	// was recorded before (by another message); a context error when ctx
	// ends before the store took the request (then nothing is stored, ever);
	// once taken, Ingest waits for the commit whatever ctx does.
	Ingest(ctx context.Context, in *Inbound) (IngestResult, error)

	// Appointment returns the current state; ENOTFOUND when absent.
	Appointment(ctx context.Context, id string) (*apptbridge.Appointment, error)
	// Appointments lists appointments ordered by appointment id.
	Appointments(ctx context.Context, f Filter) ([]*apptbridge.Appointment, error)
	// History returns an appointment's events oldest first (empty if none).
	History(ctx context.Context, id string) ([]HistoryEntry, error)
	// Inbound returns the stored inbound message for a key; ENOTFOUND.
	Inbound(ctx context.Context, k DedupKey) (*InboundRecord, error)
	// CountInbound returns the number of stored inbound messages.
	CountInbound(ctx context.Context) (int, error)

	// OptOut puts phone on the opt-out list (idempotent). Ingest applies
	// events with ApplyContext.PhoneOptedOut set when the appointment's
	// phone (after the event) is on the list. Phones are compared byte for
	// byte: callers pass them normalized (E.164). EINVALID when empty.
	OptOut(ctx context.Context, phone string) error
	// OptIn removes phone from the opt-out list (idempotent).
	OptIn(ctx context.Context, phone string) error

	// Prune deletes duplicate keys received before keysBefore and raw
	// message bodies received before rawBefore. It returns the rows touched
	// (inbound rows deleted plus raw bodies cleared).
	Prune(ctx context.Context, keysBefore, rawBefore time.Time) (int, error)

	// Outbox: texts, EHR requests, tokens (outbox.go).
	Outbox
	// Reminders: plans and expiries (reminders.go).
	Reminders
	// Admin: secrets, sign-in codes, sessions, audit log, dashboard
	// (admin.go).
	Admin
	// Archive: the S3 archive queue (archive.go).
	Archive

	// Ping checks that the store can serve (for /readyz).
	Ping(ctx context.Context) error
	// Close flushes pending commits and releases resources. Later calls
	// of the other methods return an error wrapping ErrClosed; a second
	// Close returns nil.
	Close() error
}
