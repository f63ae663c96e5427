package notify

import (
	"fmt"
	"strconv"
	"time"

	"github.com/apptbridge/apptbridge"
)

// Window is the outreach window [Start, Finish) in minutes after local
// midnight: texts that are not answers to the patient's own message go out
// only inside it, in the appointment's time zone. The zero Window (0, 0)
// is always open; so is Start == 0 and Finish == 24*60.
type Window struct {
	Start, Finish int // minutes after midnight, Start < Finish ≤ 1440
}

// ParseWindow parses the HHMM values of REMINDER_OUTREACH_START and
// REMINDER_OUTREACH_FINISH ("0800", "2100"). Errors name the variable, not
// just the value.
func ParseWindow(start, finish string) (Window, error) {
	s, err := clockMinutes(start)
	if err != nil {
		return Window{}, fmt.Errorf("REMINDER_OUTREACH_START: %w", err)
	}
	f, err := clockMinutes(finish)
	if err != nil {
		return Window{}, fmt.Errorf("REMINDER_OUTREACH_FINISH: %w", err)
	}
	if s >= f {
		return Window{}, fmt.Errorf("REMINDER_OUTREACH_START (%s) must be before REMINDER_OUTREACH_FINISH (%s)", start, finish)
	}
	return Window{Start: s, Finish: f}, nil
}

// clockMinutes parses HHMM as a time of day, 0000 to 2400.
func clockMinutes(v string) (int, error) {
	if len(v) != 4 {
		return 0, fmt.Errorf("%q is not HHMM (four digits)", v)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not HHMM (four digits)", v)
	}
	h, m := n/100, n%100
	if m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("%q is not a time of day between 0000 and 2400", v)
	}
	return h*60 + m, nil
}

func (w Window) always() bool {
	return (w.Start == 0 && w.Finish == 0) || (w.Start <= 0 && w.Finish >= 24*60)
}

// Open reports whether t is inside the window in loc.
func (w Window) Open(t time.Time, loc *time.Location) bool {
	if w.always() {
		return true
	}
	l := t.In(loc)
	m := l.Hour()*60 + l.Minute()
	return m >= w.Start && m < w.Finish
}

// Next returns t if the window is open at t, else the next opening after
// t in loc. Wall-clock arithmetic is per calendar day, so DST days work:
// an opening inside a skipped hour (a start of 02:30 on a spring-forward
// day) is the instant time.Date normalizes it to.
func (w Window) Next(t time.Time, loc *time.Location) time.Time {
	if w.Open(t, loc) {
		return t
	}
	l := t.In(loc)
	y, mo, d := l.Date()
	open := time.Date(y, mo, d, w.Start/60, w.Start%60, 0, 0, loc)
	if !open.After(t) {
		open = time.Date(y, mo, d+1, w.Start/60, w.Start%60, 0, 0, loc)
	}
	return open
}

// Location returns the time zone of an appointment: its IANA zone, else a
// fixed zone at its recorded UTC offset, else def.
func Location(a *apptbridge.Appointment, def *time.Location) *time.Location {
	if a != nil && a.AppointmentTZ != "" {
		if loc, err := time.LoadLocation(a.AppointmentTZ); err == nil {
			return loc
		}
	}
	if a != nil {
		if off, ok := zoneOffset(a.AppointmentTimezone); ok {
			return time.FixedZone(a.AppointmentTimezone, off)
		}
	}
	if def == nil {
		return time.UTC
	}
	return def
}

// zoneOffset parses ±HHMM into seconds east of UTC.
func zoneOffset(s string) (int, bool) {
	if len(s) != 5 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	n, err := strconv.Atoi(s[1:])
	if err != nil || n%100 > 59 || n/100 > 14 {
		return 0, false
	}
	sec := (n/100*60 + n%100) * 60
	if s[0] == '-' {
		sec = -sec
	}
	return sec, true
}
