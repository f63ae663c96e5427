package store

import (
	"strings"
	"time"

	"github.com/apptbridge/apptbridge"
)

// The rows an applied event puts in the outbox, the same on every backend:
// the backends find the facts in their own SQL (is a booking waiting?) and
// write the rows built here in the event's transaction.

// ReasonSuperseded is the reason of a text replaced by a newer one.
const ReasonSuperseded = "superseded by a newer text"

// Supersession: a text still waiting in the outbox (never attempted) that
// a newer event makes wrong or redundant is canceled when the newer text
// is enqueued, so a patient whose texts wait for the outreach window gets
// the latest news once, not every step of it:
//   - booked/rescheduled/modified replace a waiting booked, rescheduled
//     or modified text (the new one carries the current details); if the
//     replaced text was the booking, the new one is sent as "booked", the
//     patient never having been told of the appointment (SendAs);
//   - canceled/noshowed replace every waiting text about the appointment
//     except receipts.
var (
	detailKinds = []apptbridge.TextKind{apptbridge.TextBooked, apptbridge.TextRescheduled, apptbridge.TextModified}
	endingKinds = []apptbridge.TextKind{apptbridge.TextBooked, apptbridge.TextRescheduled,
		apptbridge.TextModified, apptbridge.TextConfirmed, apptbridge.TextRemind1, apptbridge.TextRemind2}
)

// Supersedes returns the kinds of the appointment's waiting texts that a
// new text of kind cancels (with ReasonSuperseded); nil when it cancels
// none. The slice is shared: callers must not change it.
func Supersedes(kind apptbridge.TextKind) []apptbridge.TextKind {
	switch kind {
	case apptbridge.TextBooked, apptbridge.TextRescheduled, apptbridge.TextModified:
		return detailKinds
	case apptbridge.TextCanceled, apptbridge.TextNoshowed:
		return endingKinds
	}
	return nil
}

// SendAs returns the kind a new text of kind goes out as after it
// superseded the waiting texts; replacedBooking says that a waiting
// booked text was among those it canceled. A reschedule or change of an
// appointment the patient was never told of is news of a booking.
func SendAs(kind apptbridge.TextKind, replacedBooking bool) apptbridge.TextKind {
	if replacedBooking && (kind == apptbridge.TextRescheduled || kind == apptbridge.TextModified) {
		return apptbridge.TextBooked
	}
	return kind
}

// Enqueues reports whether outcome o calls for outbox rows (a text to the
// patient or a request to the EHR): when false, NewOutboxText and
// NewRequest are not to be called and no snapshot need be encoded.
func Enqueues(o apptbridge.Outcome) bool {
	return o.Appointment != nil && (o.Text != apptbridge.TextNone || o.Request != "")
}

// NewOutboxText returns the pending outbound text of kind (the outcome's
// text kind after SendAs) that event ev caused on appointment a (its state
// after the event), due now. snapshot is a's JSON, encoded by the backend
// (each has its own encoder) and kept by the text as it is.
func NewOutboxText(ev *apptbridge.Event, a *apptbridge.Appointment, kind apptbridge.TextKind, snapshot []byte, now time.Time) *Text {
	return &Text{
		ID:            apptbridge.NewEventID(),
		Direction:     DirOut,
		AppointmentID: ev.AppointmentID,
		EventID:       ev.EventID,
		Kind:          kind,
		Phone:         a.PatientPhone,
		Language:      a.PatientLanguage,
		Snapshot:      snapshot,
		AsksReply:     kind.AsksReply(),
		// Reminders are timed by the reminder worker, which has
		// checked the window on their send time already.
		Immediate:     kind.Immediate() || kind == apptbridge.TextRemind1 || kind == apptbridge.TextRemind2,
		Status:        TextPending,
		NextAttemptAt: now,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
}

// NewRequest returns the pending request of type typ (the outcome's
// Request) to send the EHR for event ev, due now; snapshot is the
// appointment's JSON after the event. Seq is the backend's to assign.
func NewRequest(ev *apptbridge.Event, typ apptbridge.EventType, snapshot []byte, now time.Time) *Request {
	id := apptbridge.NewEventID()
	return &Request{
		ID:            id,
		AppointmentID: ev.AppointmentID,
		EventID:       ev.EventID,
		Type:          typ,
		Snapshot:      snapshot,
		ControlID:     RequestControlID(id),
		Status:        RequestPending,
		NextAttemptAt: now,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
}

// RequestControlID derives an outbound MSH-10 (at most 20 characters in
// HL7 v2.5) from a request id: "AB" and the UUIDv7's hex digits without
// dashes, last 18 (the random part and the low bits of the time, unique
// in practice). Every attempt of the request sends the same one.
func RequestControlID(id string) string {
	h := strings.ReplaceAll(id, "-", "")
	if len(h) > 20 {
		h = h[len(h)-20:]
	}
	return "AB" + strings.ToUpper(h[2:])
}

// CheckNewText validates a text for Tx.AddText and fills in what the
// caller may leave out: CreatedAt and UpdatedAt (now), and for an
// outbound text its Status (pending) and NextAttemptAt (now). It reports
// false, changing nothing, when x lacks an id or a direction.
func CheckNewText(x *Text, now time.Time) bool {
	if x == nil || x.ID == "" || (x.Direction != DirIn && x.Direction != DirOut) {
		return false
	}
	if x.CreatedAt.IsZero() {
		x.CreatedAt = now
	}
	if x.UpdatedAt.IsZero() {
		x.UpdatedAt = now
	}
	if x.Direction == DirOut && x.Status == "" {
		x.Status = TextPending
	}
	if x.Direction == DirOut && x.NextAttemptAt.IsZero() {
		x.NextAttemptAt = now
	}
	return true
}

// ArchiveTransition returns what the archive job of event ev's outcome o
// records, cur being the appointment's state before the event (nil for
// none): the state object's disposition before (from) and after (to) the
// event, and the state to write (nil when there is none). An event that
// changed nothing leaves the state object as it was.
func ArchiveTransition(cur *apptbridge.Appointment, o apptbridge.Outcome) (from, to apptbridge.Disposition, state *apptbridge.Appointment) {
	if cur != nil {
		from = cur.Disposition
	}
	state = o.Appointment
	if state == nil {
		state = cur // not applied: the state object stays
	}
	if state != nil {
		to = state.Disposition
	}
	return from, to, state
}

// OptOutPhone is the phone whose opt-out an event is applied with: the
// event's, or the appointment's when the event names none.
func OptOutPhone(ev *apptbridge.Event, cur *apptbridge.Appointment) string {
	if ev.PatientPhone == "" && cur != nil {
		return cur.PatientPhone
	}
	return ev.PatientPhone
}
