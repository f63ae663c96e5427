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

// Next returns t if the window is open at t in loc, else the first instant
// after t at which it opens. It is exact across DST: an opening in a
// repeated hour is found at its second occurrence too, and an opening in a
// skipped hour is the instant the clocks jump past it (where the window is
// open), not the instant time.Date normalizes the missing wall time to.
func (w Window) Next(t time.Time, loc *time.Location) time.Time {
	if w.Open(t, loc) {
		return t
	}
	y, m, d := t.In(loc).Date()
	// Today or a later day; a day whose whole window falls in a DST gap
	// has no opening, so look a few days ahead.
	for i := 0; i < 4; i++ {
		for _, u := range wallClock(y, m, d+i, w.Start, loc) {
			if u.After(t) && w.Open(u, loc) {
				return u
			}
		}
	}
	return time.Date(y, m, d+1, w.Start/60, w.Start%60, 0, 0, loc) // not reached with real zones
}

// wallClock returns the instants at which loc's clock shows minute min
// (after midnight) of day y-m-d, earliest first: one instant normally, two
// in a repeated (fall-back) hour, and for a skipped (spring-forward) wall
// time the instant the clocks jump past it.
func wallClock(y int, m time.Month, d, min int, loc *time.Location) []time.Time {
	want := time.Date(y, m, d, 0, min, 0, 0, time.UTC) // the wall time, as a comparable value
	c := time.Date(y, m, d, 0, min, 0, 0, loc)
	var out []time.Time
	// Zone offsets change by at most a couple of hours, in steps of 30 min.
	for k := -4; k <= 4; k++ {
		u := c.Add(time.Duration(k) * 30 * time.Minute)
		if wall(u, loc).Equal(want) {
			out = append(out, u)
		}
	}
	if len(out) > 0 {
		return out
	}
	// Skipped: time.Date put c on one side of the jump; the jump is the end
	// of c's zone period if c reads earlier than the wanted time, else its
	// start.
	from, to := c.ZoneBounds()
	if wall(c, loc).Before(want) {
		if !to.IsZero() {
			return []time.Time{to}
		}
	} else if !from.IsZero() {
		return []time.Time{from}
	}
	return []time.Time{c}
}

// wall returns t's wall clock in loc as a UTC time, for comparing wall
// clocks.
func wall(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
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

// DayStart returns the first instant of local calendar day y-m-d in loc
// (the instant the clocks jump, when midnight itself is skipped).
func DayStart(y int, m time.Month, d int, loc *time.Location) time.Time {
	return wallClock(y, m, d, 0, loc)[0]
}
