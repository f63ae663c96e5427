package apptbridge

import "time"

// Disposition is an appointment's place in the state machine (SPEC §6).
type Disposition string

// Dispositions. QUEUED → REMINDED-1 → REMINDED-2 is the reminder ladder;
// the others end it.
const (
	DispNone      Disposition = ""
	DispQueued    Disposition = "QUEUED"
	DispReminded1 Disposition = "REMINDED-1"
	DispReminded2 Disposition = "REMINDED-2"
	DispCanceled  Disposition = "CANCELED"
	DispNoshowed  Disposition = "NOSHOWED"
	DispExpired   Disposition = "EXPIRED"
	DispOptedOut  Disposition = "OPTED-OUT"
)

// Dispositions lists every disposition in a stable order.
var Dispositions = []Disposition{DispQueued, DispReminded1, DispReminded2, DispCanceled, DispNoshowed, DispExpired, DispOptedOut}

// Active reports whether d is on the reminder ladder.
func (d Disposition) Active() bool {
	return d == DispQueued || d == DispReminded1 || d == DispReminded2
}

// Appointment is the current state of one appointment: the fields of the
// events applied so far, merged, plus the state machine's bookkeeping.
type Appointment struct {
	Event // current fields; EventID/EventType are those of the last applied event

	Disposition   Disposition `json:"disposition"`
	Confirmed     bool        `json:"confirmed"`
	RemindersSent int         `json:"reminders_sent"`
	// LadderBeforeOptOut is the disposition to return to on OPTED-IN: the
	// ladder state the appointment had when it was opted out, as moved by
	// the EHR events applied since (RESCHEDULED → QUEUED, CANCELED →
	// CANCELED, NOSHOWED → NOSHOWED, BOOKED after those → QUEUED). Empty
	// unless the disposition is OPTED-OUT.
	LadderBeforeOptOut Disposition `json:"ladder_before_opt_out,omitempty"`
	// LastEHREventAt is the event time of the last applied event from the
	// EHR (every EHR event that is not stale is applied, since it updates
	// the fields); an EHR event older than it is stale (SPEC §6).
	LastEHREventAt time.Time `json:"last_ehr_event_at,omitzero"`
	CreatedAt      time.Time `json:"created_at,omitzero"`
	UpdatedAt      time.Time `json:"updated_at,omitzero"`
	// Version increases by one with every change; backends use it for
	// optimistic concurrency.
	Version int64 `json:"version"`
}
