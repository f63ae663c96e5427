package reminder

import (
	"errors"
	"fmt"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/notify"
	"github.com/apptbridge/apptbridge/store"
)

// Reasons a reminder is skipped (store.Reminder.Reason of a skipped row,
// the skip string of Recheck). They are stable: metrics count skips by
// them and tests and dashboards match them. None carries PHI.
const (
	// ReasonWindowClosed: the outreach window does not open again before
	// the appointment starts.
	ReasonWindowClosed = "window does not open before the appointment"
	// ReasonAfterNext: the window opens only at or after the next
	// reminder's due time, which reminds of the same appointment.
	ReasonAfterNext = "window opens only after the next reminder"
	// ReasonSuperseded: the next reminder is also due (after downtime or a
	// late booking), and only the later of two overdue reminders goes.
	ReasonSuperseded = "a later reminder is also due"
	// ReasonPast: the appointment has started.
	ReasonPast = "appointment already past"
	// ReasonNoPhone: the appointment has no patient phone to text.
	ReasonNoPhone = "no mobile phone"
	// ReasonRescheduled (Recheck only): the reminder is for a start time
	// the appointment no longer has.
	ReasonRescheduled = "appointment time changed"
	// ReasonNotActive (Recheck only): the appointment left the reminder
	// ladder (CANCELED, NOSHOWED, EXPIRED, OPTED-OUT).
	ReasonNotActive = "appointment not active"
	// ReasonAlreadySent (Recheck only): the ladder is already past this
	// reminder (ordinal 1 at REMINDED-1, any ordinal at REMINDED-2).
	ReasonAlreadySent = "reminder already sent"
)

// Variable names, as errors name them.
const (
	VarFirst    = "REMINDER_FIRST_TIMING"
	VarSecond   = "REMINDER_SECOND_TIMING"
	VarStart    = "REMINDER_OUTREACH_START"
	VarFinish   = "REMINDER_OUTREACH_FINISH"
	VarDailyCap = "REMINDER_DAILY_CAP"
)

// maxTiming is the longest lead time HHMM can write, 99 h 59 min.
const maxTiming = 99*time.Hour + 59*time.Minute

// Config is the reminder policy.
type Config struct {
	First, Second time.Duration  // before the appointment; Second == 0: no second reminder
	Window        notify.Window  // outreach window on the SEND time, in the appointment's zone
	DailyCap      int            // reminders per phone per local day (used by the worker; Plan ignores it)
	DefaultTZ     *time.Location // zone of appointments without one
}

// ParseTiming parses an HHMM lead time: hours then minutes before the
// appointment ("4800" = 48 h, "0130" = 1 h 30 min, "0000" = 0); minutes
// 00-59, so at most 9959. Errors name the variable.
func ParseTiming(name, v string) (time.Duration, error) {
	if !fourDigits(v) {
		return 0, fmt.Errorf("%s: %q is not HHMM: want 4 digits, hours then minutes before the appointment (4800 = 48 h, 0130 = 1 h 30 min)", name, v)
	}
	h := int(v[0]-'0')*10 + int(v[1]-'0')
	m := int(v[2]-'0')*10 + int(v[3]-'0')
	if m > 59 {
		return 0, fmt.Errorf("%s: %q is not HHMM: the minutes (last two digits) must be 00-59, so 0090 is written 0130 and the longest lead is 9959", name, v)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// parseClock parses an HHMM time of day, 0000 to 2400, into minutes after
// local midnight.
func parseClock(name, v string) (int, error) {
	if !fourDigits(v) {
		return 0, fmt.Errorf("%s: %q is not HHMM: want 4 digits, a local time of day from 0000 to 2400 (0800 = 8:00 AM, 2100 = 9:00 PM)", name, v)
	}
	h := int(v[0]-'0')*10 + int(v[1]-'0')
	m := int(v[2]-'0')*10 + int(v[3]-'0')
	if m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("%s: %q is not a time of day: want 0000 to 2400 with minutes 00-59 (0800 = 8:00 AM, 2100 = 9:00 PM)", name, v)
	}
	return h*60 + m, nil
}

func fourDigits(v string) bool {
	if len(v) != 4 {
		return false
	}
	for i := 0; i < 4; i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// NewConfig builds a Config from the HHMM values of REMINDER_FIRST_TIMING,
// REMINDER_SECOND_TIMING, REMINDER_OUTREACH_START and
// REMINDER_OUTREACH_FINISH, REMINDER_DAILY_CAP and the default zone (nil:
// UTC). It reports every problem at once (errors.Join, one line each, each
// naming its variable): a value that is not HHMM, a first timing of 0000,
// a second timing not shorter than the first (other than 0000, which turns
// the second reminder off), a start not earlier than the finish, and a
// daily cap below 1.
func NewConfig(first, second, start, finish string, dailyCap int, defTZ *time.Location) (Config, error) {
	var errs []error
	f, errF := ParseTiming(VarFirst, first)
	s, errS := ParseTiming(VarSecond, second)
	ws, errWS := parseClock(VarStart, start)
	wf, errWF := parseClock(VarFinish, finish)
	for _, err := range []error{errF, errS, errWS, errWF} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if errF == nil && f == 0 {
		errs = append(errs, fmt.Errorf("%s: must be more than 0000 (the first reminder cannot be turned off; 0000 turns off only %s)", VarFirst, VarSecond))
	}
	if errF == nil && errS == nil && f > 0 && s != 0 && s >= f {
		errs = append(errs, fmt.Errorf("%s (%s) must be shorter than %s (%s), or 0000 to turn the second reminder off", VarSecond, second, VarFirst, first))
	}
	if errWS == nil && errWF == nil && ws >= wf {
		errs = append(errs, fmt.Errorf("%s (%s) must be earlier than %s (%s): the window [START, FINISH) lies within one local day", VarStart, start, VarFinish, finish))
	}
	if dailyCap < 1 {
		errs = append(errs, fmt.Errorf("%s: want 1 or more (the most reminders one phone gets per local day), got %d", VarDailyCap, dailyCap))
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	if defTZ == nil {
		defTZ = time.UTC
	}
	return Config{
		First:     f,
		Second:    s,
		Window:    notify.Window{Start: ws, Finish: wf},
		DailyCap:  dailyCap,
		DefaultTZ: defTZ,
	}, nil
}

// location is the zone an appointment's window and local day are judged
// in: its own, else DefaultTZ.
func (c Config) location(a *apptbridge.Appointment) *time.Location {
	return notify.Location(a, c.DefaultTZ)
}

// ordinals lists the reminders still to send at disposition d.
func (c Config) ordinals(d apptbridge.Disposition) []int {
	var out []int
	if d == apptbridge.DispQueued && c.First > 0 {
		out = append(out, 1)
	}
	if (d == apptbridge.DispQueued || d == apptbridge.DispReminded1) && c.Second > 0 {
		out = append(out, 2)
	}
	return out
}

func (c Config) lead(ordinal int) time.Duration {
	if ordinal == 1 {
		return c.First
	}
	return c.Second
}

// Plan returns the reminders of appointment a as of now: c.Plan is a
// store.Planner. The rules are in the package documentation.
func (c Config) Plan(a *apptbridge.Appointment, now time.Time) []store.Reminder {
	if a == nil || !a.Disposition.Active() || a.AppointmentDatetimeUTC.IsZero() {
		return nil
	}
	ords := c.ordinals(a.Disposition)
	if len(ords) == 0 {
		return nil
	}
	start := a.AppointmentDatetimeUTC
	loc := c.location(a)
	rows := make([]store.Reminder, len(ords))
	for i, o := range ords {
		rows[i] = store.Reminder{
			AppointmentID: a.AppointmentID,
			Ordinal:       o,
			StartUTC:      start,
			DueAt:         c.opening(start.Add(-c.lead(o)), loc),
			Status:        store.ReminderPlanned,
			CreatedAt:     now,
			UpdatedAt:     now,
		}
	}
	skip := func(r *store.Reminder, reason string) {
		r.Status, r.Reason = store.ReminderSkipped, reason
	}
	// Whole-plan reasons first.
	var all string
	switch {
	case !now.Before(start):
		all = ReasonPast
	case a.PatientPhone == "":
		all = ReasonNoPhone
	}
	if all != "" {
		for i := range rows {
			skip(&rows[i], all)
		}
		return rows
	}
	// Latest first: whether an earlier reminder goes depends on the next.
	var next *store.Reminder
	for i := len(rows) - 1; i >= 0; i-- {
		r := &rows[i]
		switch {
		case !r.DueAt.Before(start):
			skip(r, ReasonWindowClosed)
		case next != nil && !r.DueAt.Before(next.DueAt):
			skip(r, ReasonAfterNext)
		case next != nil && !r.DueAt.After(now) && !next.DueAt.After(now):
			skip(r, ReasonSuperseded)
		}
		if r.Status == store.ReminderPlanned {
			next = r
		}
	}
	return rows
}

// Recheck is the worker's test of a claimed reminder r at its actual send
// time now, with nextDue the due time of the appointment's next planned
// reminder (zero when there is none). It returns the time to send r (now
// when it may go now; a later window opening to put it off to) or, when r
// must not be sent at all, the reason to skip it. In order:
//
//   - the appointment's time is no longer r's: ReasonRescheduled;
//   - the appointment left the ladder: ReasonNotActive;
//   - the ladder is past r (ordinal 1 and not QUEUED, or REMINDED-2):
//     ReasonAlreadySent;
//   - no phone: ReasonNoPhone;
//   - now at or after the start: ReasonPast;
//   - the next reminder is due too (nextDue at or before now):
//     ReasonSuperseded — only the later one goes;
//   - the window is open at now (in the appointment's zone): due = now;
//   - else the next opening, if it is before the start (else
//     ReasonWindowClosed) and before nextDue (else ReasonAfterNext).
//
// A reminder claimed before its DueAt is judged at its DueAt instead.
func (c Config) Recheck(r *store.Reminder, a *apptbridge.Appointment, now time.Time, nextDue time.Time) (due time.Time, skip string) {
	if r == nil || a == nil {
		return time.Time{}, ReasonNotActive
	}
	start := a.AppointmentDatetimeUTC
	switch {
	case start.IsZero() || !store.Instant(r.StartUTC).Equal(store.Instant(start)):
		return time.Time{}, ReasonRescheduled
	case !a.Disposition.Active():
		return time.Time{}, ReasonNotActive
	case a.Disposition == apptbridge.DispReminded2 || (r.Ordinal <= 1 && a.Disposition != apptbridge.DispQueued):
		return time.Time{}, ReasonAlreadySent
	case a.PatientPhone == "":
		return time.Time{}, ReasonNoPhone
	case !now.Before(start):
		return time.Time{}, ReasonPast
	case !nextDue.IsZero() && !nextDue.After(now):
		return time.Time{}, ReasonSuperseded
	}
	t := now
	if r.DueAt.After(now) {
		t = r.DueAt
	}
	due = c.opening(t, c.location(a))
	switch {
	case !due.Before(start):
		return time.Time{}, ReasonWindowClosed
	case !nextDue.IsZero() && !due.Before(nextDue):
		return time.Time{}, ReasonAfterNext
	}
	return due, ""
}

// DayBounds returns the local calendar day of t in the appointment's zone,
// [from, to): from is the first instant of the day, to that of the next.
// A DST day is 23 or 25 hours long; a day whose midnight is skipped starts
// when the clocks jump.
func (c Config) DayBounds(t time.Time, a *apptbridge.Appointment) (from, to time.Time) {
	loc := c.location(a)
	y, m, d := t.In(loc).Date()
	return notify.DayStart(y, m, d, loc), notify.DayStart(y, m, d+1, loc)
}

// opening returns t if the window is open at t in loc, else the first
// instant after t at which it opens (notify.Window.Next, exact across DST).
func (c Config) opening(t time.Time, loc *time.Location) time.Time {
	return c.Window.Next(t, loc)
}
