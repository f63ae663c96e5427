package store

import (
	"context"
	"time"

	"github.com/apptbridge/apptbridge"
)

// Reminder statuses.
const (
	ReminderPlanned  = "planned"  // waiting for DueAt
	ReminderSent     = "sent"     // its REMIND was applied and the text is in the outbox
	ReminderSkipped  = "skipped"  // it will not be sent; Reason says why (counted)
	ReminderCanceled = "canceled" // its appointment left the ladder or changed time
)

// Reminder is one planned reminder of an appointment (SPEC §10). The plan
// is replaced whenever the appointment's time changes, and canceled when
// the appointment leaves the reminder ladder.
type Reminder struct {
	AppointmentID string
	Ordinal       int       // 1 or 2
	StartUTC      time.Time // the appointment time it reminds of
	DueAt         time.Time // when to send it (inside the outreach window)
	Status        string
	Reason        string // why skipped or canceled; never PHI
	LeaseOwner    string
	LeaseUntil    time.Time
	SentAt        time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Planner returns the reminder plan of an appointment whose time or
// disposition changed: the reminders still to send (status planned) and
// those that will not be sent (status skipped, with a reason). The store
// calls it inside the event's transaction, so a plan never lags its
// appointment. It must be fast and pure.
type Planner func(a *apptbridge.Appointment, now time.Time) []Reminder

// Reminders is the reminder worker's side of the store.
type Reminders interface {
	// ClaimReminders leases up to limit planned reminders due at now,
	// earliest first, for owner until now+lease.
	ClaimReminders(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*Reminder, error)
	// NextReminderDue is the earliest DueAt of a planned reminder (zero
	// when none); NextExpiry the earliest start of an active appointment.
	NextReminderDue(ctx context.Context) (time.Time, error)
	NextExpiry(ctx context.Context) (time.Time, error)
	// DueExpiries lists up to limit active appointments that started at
	// or before now, earliest first.
	DueExpiries(ctx context.Context, now time.Time, limit int) ([]string, error)
	// RemindersOf lists an appointment's reminders, all plans, oldest first.
	RemindersOf(ctx context.Context, appointmentID string) ([]*Reminder, error)
}

// ReminderTx is the part of Tx the reminder worker uses (store.Tx has it).
type ReminderTx interface {
	// PlannedReminders lists the appointment's planned reminders.
	PlannedReminders(ctx context.Context, appointmentID string) ([]*Reminder, error)
	// SaveReminder writes a claimed reminder's Status, Reason, DueAt,
	// SentAt and lease; ErrLeaseLost when owner no longer holds it.
	SaveReminder(ctx context.Context, owner string, r *Reminder) error
	// RemindersSentBetween counts the reminders sent to phone in [from, to).
	RemindersSentBetween(ctx context.Context, phone string, from, to time.Time) (int, error)
}

// PlanChange is what an applied event does to an appointment's reminder
// plan (every backend asks ReminderPlanChange, in the event's transaction).
type PlanChange int

const (
	PlanKeep    PlanChange = iota // the planned reminders still hold
	PlanCancel                    // cancel them: the appointment left the ladder
	PlanReplace                   // cancel them and plan anew (Planner)
)

// ReminderPlanChange decides what the outcome o of event ev, applied to
// the appointment whose state was cur (nil for a new one), does to its
// plan: a new appointment, a new time, a new phone or a disposition change
// other than the ladder's own climb (REMIND) replaces it; leaving the
// ladder cancels it (reason says why, for the canceled rows).
func ReminderPlanChange(cur *apptbridge.Appointment, ev *apptbridge.Event, o apptbridge.Outcome) (change PlanChange, reason string) {
	if !o.Applied || o.Appointment == nil {
		return PlanKeep, ""
	}
	next := o.Appointment
	if !next.Disposition.Active() {
		if cur == nil || !cur.Disposition.Active() {
			return PlanKeep, ""
		}
		return PlanCancel, "appointment " + string(next.Disposition)
	}
	if cur != nil && cur.Disposition.Active() && ev.EventType != apptbridge.Rescheduled &&
		cur.AppointmentDatetimeUTC.Equal(next.AppointmentDatetimeUTC) && cur.PatientPhone == next.PatientPhone &&
		(cur.Disposition == next.Disposition || ev.EventType == apptbridge.Remind) {
		return PlanKeep, ""
	}
	return PlanReplace, "replanned"
}
