package reminder

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones, on machines without a zoneinfo database

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/notify"
	"github.com/apptbridge/apptbridge/store"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func mustConfig(t testing.TB, first, second, start, finish string) Config {
	t.Helper()
	c, err := NewConfig(first, second, start, finish, 2, time.UTC)
	if err != nil {
		t.Fatalf("NewConfig(%s, %s, %s, %s): %v", first, second, start, finish, err)
	}
	return c
}

// appt returns a QUEUED appointment at t in loc with a phone.
func appt(t time.Time, loc *time.Location) *apptbridge.Appointment {
	a := &apptbridge.Appointment{Disposition: apptbridge.DispQueued}
	a.AppointmentID = "A1"
	a.PatientPhone = "+15555550100"
	a.SetAppointmentTime(t, loc)
	return a
}

// row is what a test expects of one plan row.
type row struct {
	ordinal int
	due     time.Time // zero: not checked
	status  string
	reason  string
}

func checkPlan(t *testing.T, name string, got []store.Reminder, a *apptbridge.Appointment, now time.Time, want []row) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows %s, want %d", name, len(got), fmtRows(got), len(want))
		return
	}
	for i, w := range want {
		g := got[i]
		if g.Ordinal != w.ordinal || g.Status != w.status || g.Reason != w.reason ||
			(!w.due.IsZero() && !g.DueAt.Equal(w.due)) {
			t.Errorf("%s: row %d = %s, want ordinal %d %s %q due %v", name, i, fmtRows(got[i:i+1]),
				w.ordinal, w.status, w.reason, w.due.In(notify.Location(a, nil)))
		}
		if g.AppointmentID != a.AppointmentID || !g.StartUTC.Equal(a.AppointmentDatetimeUTC) ||
			!g.CreatedAt.Equal(now) || !g.UpdatedAt.Equal(now) {
			t.Errorf("%s: row %d = %+v: wrong id, start or created/updated", name, i, g)
		}
	}
}

func fmtRows(rs []store.Reminder) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "[%d %s %q due %s]", r.Ordinal, r.Status, r.Reason, r.DueAt.Format(time.RFC3339))
	}
	return b.String()
}

func planned(o int, due time.Time) row { return row{o, due, store.ReminderPlanned, ""} }
func skipped(o int, reason string) row { return row{o, time.Time{}, store.ReminderSkipped, reason} }

func TestParseTiming(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"4800", 48 * time.Hour, ""},
		{"2400", 24 * time.Hour, ""},
		{"0130", time.Hour + 30*time.Minute, ""},
		{"0002", 2 * time.Minute, ""},
		{"0000", 0, ""},
		{"9959", 99*time.Hour + 59*time.Minute, ""},
		{"0060", 0, `REMINDER_FIRST_TIMING: "0060" is not HHMM: the minutes (last two digits) must be 00-59, so 0090 is written 0130 and the longest lead is 9959`},
		{"9999", 0, `REMINDER_FIRST_TIMING: "9999" is not HHMM: the minutes (last two digits) must be 00-59, so 0090 is written 0130 and the longest lead is 9959`},
		{"48", 0, `REMINDER_FIRST_TIMING: "48" is not HHMM: want 4 digits, hours then minutes before the appointment (4800 = 48 h, 0130 = 1 h 30 min)`},
		{"48h", 0, `REMINDER_FIRST_TIMING: "48h" is not HHMM: want 4 digits, hours then minutes before the appointment (4800 = 48 h, 0130 = 1 h 30 min)`},
		{"", 0, `REMINDER_FIRST_TIMING: "" is not HHMM: want 4 digits, hours then minutes before the appointment (4800 = 48 h, 0130 = 1 h 30 min)`},
		{"+480", 0, `REMINDER_FIRST_TIMING: "+480" is not HHMM: want 4 digits, hours then minutes before the appointment (4800 = 48 h, 0130 = 1 h 30 min)`},
		{"-100", 0, `REMINDER_FIRST_TIMING: "-100" is not HHMM: want 4 digits, hours then minutes before the appointment (4800 = 48 h, 0130 = 1 h 30 min)`},
		{"04800", 0, `REMINDER_FIRST_TIMING: "04800" is not HHMM: want 4 digits, hours then minutes before the appointment (4800 = 48 h, 0130 = 1 h 30 min)`},
		{" 480", 0, `REMINDER_FIRST_TIMING: " 480" is not HHMM: want 4 digits, hours then minutes before the appointment (4800 = 48 h, 0130 = 1 h 30 min)`},
	} {
		got, err := ParseTiming(VarFirst, tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseTiming(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("ParseTiming(%q) error = %v\nwant %s", tc.in, err, tc.err)
		}
	}
}

func TestNewConfig(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	c, err := NewConfig("4800", "2400", "0800", "2100", 2, ny)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{First: 48 * time.Hour, Second: 24 * time.Hour, Window: notify.Window{Start: 480, Finish: 1260}, DailyCap: 2, DefaultTZ: ny}
	if c != want {
		t.Errorf("NewConfig(defaults) = %+v, want %+v", c, want)
	}
	if c, err := NewConfig("0100", "0000", "0000", "2400", 1, nil); err != nil || c.Second != 0 || c.DefaultTZ != time.UTC || c.Window != (notify.Window{Start: 0, Finish: 1440}) {
		t.Errorf("NewConfig(second off, all-day window, no zone) = %+v, %v", c, err)
	}

	for _, tc := range []struct {
		first, second, start, finish string
		cap                          int
		want                         []string // every line of the error, in order
	}{
		{"0000", "0000", "0800", "2100", 2, []string{
			"REMINDER_FIRST_TIMING: must be more than 0000 (the first reminder cannot be turned off; 0000 turns off only REMINDER_SECOND_TIMING)"}},
		{"2400", "2400", "0800", "2100", 2, []string{
			"REMINDER_SECOND_TIMING (2400) must be shorter than REMINDER_FIRST_TIMING (2400), or 0000 to turn the second reminder off"}},
		{"2400", "4800", "0800", "2100", 2, []string{
			"REMINDER_SECOND_TIMING (4800) must be shorter than REMINDER_FIRST_TIMING (2400), or 0000 to turn the second reminder off"}},
		{"4800", "2400", "2100", "0800", 2, []string{
			"REMINDER_OUTREACH_START (2100) must be earlier than REMINDER_OUTREACH_FINISH (0800): the window [START, FINISH) lies within one local day"}},
		{"4800", "2400", "0800", "0800", 2, []string{
			"REMINDER_OUTREACH_START (0800) must be earlier than REMINDER_OUTREACH_FINISH (0800): the window [START, FINISH) lies within one local day"}},
		{"4800", "2400", "0800", "2401", 2, []string{
			`REMINDER_OUTREACH_FINISH: "2401" is not a time of day: want 0000 to 2400 with minutes 00-59 (0800 = 8:00 AM, 2100 = 9:00 PM)`}},
		{"4800", "2400", "0860", "2100", 2, []string{
			`REMINDER_OUTREACH_START: "0860" is not a time of day: want 0000 to 2400 with minutes 00-59 (0800 = 8:00 AM, 2100 = 9:00 PM)`}},
		{"4800", "2400", "8am", "2100", 2, []string{
			`REMINDER_OUTREACH_START: "8am" is not HHMM: want 4 digits, a local time of day from 0000 to 2400 (0800 = 8:00 AM, 2100 = 9:00 PM)`}},
		{"4800", "2400", "0800", "2100", 0, []string{
			"REMINDER_DAILY_CAP: want 1 or more (the most reminders one phone gets per local day), got 0"}},
		// Every problem at once, one line each.
		{"48h", "0075", "21:00", "0800", -1, []string{
			`REMINDER_FIRST_TIMING: "48h" is not HHMM: want 4 digits, hours then minutes before the appointment (4800 = 48 h, 0130 = 1 h 30 min)`,
			`REMINDER_SECOND_TIMING: "0075" is not HHMM: the minutes (last two digits) must be 00-59, so 0090 is written 0130 and the longest lead is 9959`,
			`REMINDER_OUTREACH_START: "21:00" is not HHMM: want 4 digits, a local time of day from 0000 to 2400 (0800 = 8:00 AM, 2100 = 9:00 PM)`,
			"REMINDER_DAILY_CAP: want 1 or more (the most reminders one phone gets per local day), got -1"}},
		{"0000", "2400", "2100", "0800", 2, []string{
			"REMINDER_FIRST_TIMING: must be more than 0000 (the first reminder cannot be turned off; 0000 turns off only REMINDER_SECOND_TIMING)",
			"REMINDER_OUTREACH_START (2100) must be earlier than REMINDER_OUTREACH_FINISH (0800): the window [START, FINISH) lies within one local day"}},
	} {
		c, err := NewConfig(tc.first, tc.second, tc.start, tc.finish, tc.cap, ny)
		if err == nil {
			t.Errorf("NewConfig(%s, %s, %s, %s, %d) = %+v, want an error", tc.first, tc.second, tc.start, tc.finish, tc.cap, c)
			continue
		}
		if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("NewConfig(%s, %s, %s, %s, %d) error:\n%s\nwant:\n%s", tc.first, tc.second, tc.start, tc.finish, tc.cap, err, strings.Join(tc.want, "\n"))
		}
		var joined interface{ Unwrap() []error }
		if !errors.As(err, &joined) || len(joined.Unwrap()) != len(tc.want) {
			t.Errorf("NewConfig(%s, %s, %s, %s, %d): want %d joined errors", tc.first, tc.second, tc.start, tc.finish, tc.cap, len(tc.want))
		}
	}
}

// TestWorkedExamples are the examples of the package documentation.
func TestWorkedExamples(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, ny) }
	now := at(2026, 6, 1, 12, 0)

	// A 9:00 AM appointment, defaults: 2 days and 1 day before, at 9:00.
	a := appt(at(2026, 6, 10, 9, 0), ny)
	c := mustConfig(t, "4800", "2400", "0800", "2100")
	checkPlan(t, "9:00 defaults", c.Plan(a, now), a, now, []row{
		planned(1, at(2026, 6, 8, 9, 0)),
		planned(2, at(2026, 6, 9, 9, 0)),
	})

	// An 8:30 AM appointment, FIRST 0100 (second off): 7:30 is before the
	// window, which opens at 8:00, before the appointment.
	a = appt(at(2026, 6, 10, 8, 30), ny)
	c = mustConfig(t, "0100", "0000", "0800", "2100")
	checkPlan(t, "8:30 FIRST 0100", c.Plan(a, now), a, now, []row{
		planned(1, at(2026, 6, 10, 8, 0)),
	})

	// A 7:00 AM appointment, SECOND 0200: 5:00 is before the window, which
	// opens at 8:00, after the appointment. The first (48 h, 7:00 two days
	// before) moves to 8:00 that day.
	a = appt(at(2026, 6, 10, 7, 0), ny)
	c = mustConfig(t, "4800", "0200", "0800", "2100")
	checkPlan(t, "7:00 SECOND 0200", c.Plan(a, now), a, now, []row{
		planned(1, at(2026, 6, 8, 8, 0)),
		skipped(2, ReasonWindowClosed),
	})
}

// TestPlanZones: a reminder is judged on the appointment's own wall clock.
func TestPlanZones(t *testing.T) {
	c := mustConfig(t, "4800", "2400", "0800", "2100")
	for _, zone := range []string{"America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "Pacific/Honolulu"} {
		loc := mustLoad(t, zone)
		at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, loc) }
		now := at(2026, 1, 2, 0, 0)
		a := appt(at(2026, 1, 14, 9, 0), loc)
		checkPlan(t, zone+" 9:00", c.Plan(a, now), a, now, []row{planned(1, at(2026, 1, 12, 9, 0)), planned(2, at(2026, 1, 13, 9, 0))})
		a = appt(at(2026, 1, 14, 20, 59), loc)
		checkPlan(t, zone+" 20:59", c.Plan(a, now), a, now, []row{planned(1, at(2026, 1, 12, 20, 59)), planned(2, at(2026, 1, 13, 20, 59))})
		a = appt(at(2026, 1, 14, 21, 0), loc) // finish is exclusive: next morning
		checkPlan(t, zone+" 21:00", c.Plan(a, now), a, now, []row{planned(1, at(2026, 1, 13, 8, 0)), planned(2, at(2026, 1, 14, 8, 0))})
		a = appt(at(2026, 1, 14, 7, 59), loc)
		checkPlan(t, zone+" 7:59", c.Plan(a, now), a, now, []row{planned(1, at(2026, 1, 12, 8, 0)), planned(2, at(2026, 1, 13, 8, 0))})

		// Only the recorded offset, no IANA zone: still the appointment's
		// wall clock, not DefaultTZ (UTC here, where 7:00 local is inside
		// the window).
		a = appt(at(2026, 1, 14, 7, 0), loc)
		a.AppointmentTZ = ""
		checkPlan(t, zone+" offset only", c.Plan(a, now), a, now, []row{planned(1, at(2026, 1, 12, 8, 0)), planned(2, at(2026, 1, 13, 8, 0))})
	}

	// No zone at all: DefaultTZ.
	chi := mustLoad(t, "America/Chicago")
	c.DefaultTZ = chi
	a := appt(time.Date(2026, 1, 14, 7, 0, 0, 0, chi), chi)
	a.AppointmentTZ, a.AppointmentTimezone = "", ""
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	checkPlan(t, "default zone", c.Plan(a, now), a, now, []row{
		planned(1, time.Date(2026, 1, 12, 8, 0, 0, 0, chi)), planned(2, time.Date(2026, 1, 13, 8, 0, 0, 0, chi))})
}

// TestPlanDST: lead times are real hours; the window is judged on the
// send time's wall clock, which shifts by the hour the clocks moved.
func TestPlanDST(t *testing.T) {
	def := mustConfig(t, "4800", "2400", "0800", "2100")
	type tc struct {
		name  string
		zone  string
		c     Config
		start [5]int // y m d h min, local
		want  []row  // dues as local [5]int via dues
		dues  [][5]int
	}
	at := func(loc *time.Location, v [5]int) time.Time {
		return time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], 0, 0, loc)
	}
	for _, x := range []tc{
		// 2026-03-08 spring forward (02:00 EST → 03:00 EDT).
		{"NY spring 9:00", "America/New_York", def, [5]int{2026, 3, 9, 9, 0},
			[]row{planned(1, time.Time{}), planned(2, time.Time{})}, [][5]int{{2026, 3, 7, 8, 0}, {2026, 3, 8, 9, 0}}},
		{"NY spring 8:30 (48 h earlier is 7:30 EST: moved to 8:00)", "America/New_York", def, [5]int{2026, 3, 9, 8, 30},
			[]row{planned(1, time.Time{}), planned(2, time.Time{})}, [][5]int{{2026, 3, 7, 8, 0}, {2026, 3, 8, 8, 30}}},
		{"Chicago spring 20:30", "America/Chicago", def, [5]int{2026, 3, 9, 20, 30},
			[]row{planned(1, time.Time{}), planned(2, time.Time{})}, [][5]int{{2026, 3, 7, 19, 30}, {2026, 3, 8, 20, 30}}},
		{"Denver spring 2027 21:30 (24 h earlier is 21:30 MDT: next morning)", "America/Denver", def, [5]int{2027, 3, 15, 21, 30},
			[]row{planned(1, time.Time{}), planned(2, time.Time{})}, [][5]int{{2027, 3, 13, 20, 30}, {2027, 3, 15, 8, 0}}},
		{"NY spring 2027 21:30", "America/New_York", def, [5]int{2027, 3, 15, 21, 30},
			[]row{planned(1, time.Time{}), planned(2, time.Time{})}, [][5]int{{2027, 3, 13, 20, 30}, {2027, 3, 15, 8, 0}}},
		// 2026-11-01 fall back (02:00 EDT → 01:00 EST).
		{"NY fall 9:00 (48 h earlier is 10:00 EDT)", "America/New_York", def, [5]int{2026, 11, 2, 9, 0},
			[]row{planned(1, time.Time{}), planned(2, time.Time{})}, [][5]int{{2026, 10, 31, 10, 0}, {2026, 11, 1, 9, 0}}},
		{"NY fall 20:30 (48 h earlier is 21:30 EDT: next morning)", "America/New_York", def, [5]int{2026, 11, 2, 20, 30},
			[]row{planned(1, time.Time{}), planned(2, time.Time{})}, [][5]int{{2026, 11, 1, 8, 0}, {2026, 11, 1, 20, 30}}},
		{"Denver fall 7:30", "America/Denver", def, [5]int{2026, 11, 2, 7, 30},
			[]row{planned(1, time.Time{}), planned(2, time.Time{})}, [][5]int{{2026, 10, 31, 8, 30}, {2026, 11, 1, 8, 0}}},
		{"Chicago fall 2027 7:30", "America/Chicago", def, [5]int{2027, 11, 8, 7, 30},
			[]row{planned(1, time.Time{}), planned(2, time.Time{})}, [][5]int{{2027, 11, 6, 8, 30}, {2027, 11, 7, 8, 0}}},
		// No DST: the wall clock does not move.
		{"Phoenix 8:30", "America/Phoenix", def, [5]int{2026, 3, 9, 8, 30},
			[]row{planned(1, time.Time{}), planned(2, time.Time{})}, [][5]int{{2026, 3, 7, 8, 30}, {2026, 3, 8, 8, 30}}},
		{"Honolulu 20:30", "Pacific/Honolulu", def, [5]int{2026, 11, 2, 20, 30},
			[]row{planned(1, time.Time{}), planned(2, time.Time{})}, [][5]int{{2026, 10, 31, 20, 30}, {2026, 11, 1, 20, 30}}},

		// Window openings inside the skipped hour: the clocks jump from
		// 01:59:59 EST to 03:00 EDT, so a window starting at 02:00 or 02:30
		// opens at 03:00 EDT (07:00 UTC). A 10 h lead before 12:00 EDT is
		// 01:00 EST.
		{"NY skipped hour, window from 0200", "America/New_York", mustConfig(t, "1000", "0000", "0200", "2100"), [5]int{2026, 3, 8, 12, 0},
			[]row{planned(1, time.Time{})}, [][5]int{{2026, 3, 8, 3, 0}}},
		{"NY skipped hour, window from 0230", "America/New_York", mustConfig(t, "1000", "0000", "0230", "2100"), [5]int{2026, 3, 8, 12, 0},
			[]row{planned(1, time.Time{})}, [][5]int{{2026, 3, 8, 3, 0}}},
		{"Chicago 2027 skipped hour, window from 0215", "America/Chicago", mustConfig(t, "1000", "0000", "0215", "2100"), [5]int{2027, 3, 14, 12, 0},
			[]row{planned(1, time.Time{})}, [][5]int{{2027, 3, 14, 3, 0}}},
		// A window that lies wholly in the skipped hour does not open that
		// day: the next opening is the next day's 02:00, after the
		// appointment.
		{"NY window inside the skipped hour", "America/New_York", mustConfig(t, "1000", "0000", "0200", "0230"), [5]int{2026, 3, 8, 12, 0},
			[]row{skipped(1, ReasonWindowClosed)}, nil},
	} {
		loc := mustLoad(t, x.zone)
		a := appt(at(loc, x.start), loc)
		now := a.AppointmentDatetimeUTC.Add(-100 * time.Hour)
		for i, d := range x.dues {
			x.want[i].due = at(loc, d)
		}
		got := x.c.Plan(a, now)
		checkPlan(t, x.name, got, a, now, x.want)
		for _, r := range got {
			if r.Status == store.ReminderPlanned && !x.c.Window.Open(r.DueAt, loc) {
				t.Errorf("%s: ordinal %d due %v outside the window", x.name, r.Ordinal, r.DueAt.In(loc))
			}
			if lead := a.AppointmentDatetimeUTC.Sub(r.DueAt); r.Status == store.ReminderPlanned && lead > x.c.lead(r.Ordinal) {
				t.Errorf("%s: ordinal %d due %v, %v before the start (more than its lead)", x.name, r.Ordinal, r.DueAt.In(loc), lead)
			}
		}
	}
}

// TestRepeatedHour: on the fall-back day 01:00-01:59 happens twice; a
// window opening at 01:30 opens twice, and a reminder due in either 01:xx
// goes at the 01:30 that follows it.
func TestRepeatedHour(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	c := mustConfig(t, "1200", "0000", "0130", "2100")
	start := time.Date(2026, 11, 1, 17, 0, 0, 0, time.UTC) // 12:00 EST
	now := start.Add(-24 * time.Hour)
	for _, x := range []struct {
		lead string
		want time.Time
	}{
		{"1145", time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC)}, // 05:15 UTC = 01:15 EDT → 01:30 EDT
		{"1045", time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC)}, // 06:15 UTC = 01:15 EST → 01:30 EST
		{"1115", time.Date(2026, 11, 1, 5, 45, 0, 0, time.UTC)}, // 01:45 EDT: open
		{"1015", time.Date(2026, 11, 1, 6, 45, 0, 0, time.UTC)}, // 01:45 EST: open
		{"1200", time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC)}, // 05:00 UTC = 01:00 EDT → 01:30 EDT
	} {
		c.First = mustTiming(t, x.lead)
		a := appt(start, ny)
		checkPlan(t, "repeated hour lead "+x.lead, c.Plan(a, now), a, now, []row{planned(1, x.want)})
	}
	// 2027-11-07, Chicago, a 20:30 appointment two days after: 48 h before
	// is 21:30 CDT on 11-06 (closed) → 08:00 CST on 11-07.
	chi := mustLoad(t, "America/Chicago")
	d := mustConfig(t, "4800", "2400", "0800", "2100")
	a := appt(time.Date(2027, 11, 8, 20, 30, 0, 0, chi), chi)
	checkPlan(t, "Chicago fall 2027", d.Plan(a, now), a, now, []row{
		planned(1, time.Date(2027, 11, 7, 8, 0, 0, 0, chi)), planned(2, time.Date(2027, 11, 7, 20, 30, 0, 0, chi))})
}

func mustTiming(t testing.TB, v string) time.Duration {
	t.Helper()
	d, err := ParseTiming("TEST", v)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPlanLadder: which reminders are left at each disposition, and the
// appointments that get none.
func TestPlanLadder(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	at := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, ny) }
	now := at(6, 1, 12)
	both := mustConfig(t, "4800", "2400", "0800", "2100")
	one := mustConfig(t, "4800", "0000", "0800", "2100")
	start := at(6, 10, 9)
	d1, d2 := at(6, 8, 9), at(6, 9, 9)
	for _, x := range []struct {
		name string
		c    Config
		edit func(a *apptbridge.Appointment)
		want []row
	}{
		{"QUEUED", both, func(a *apptbridge.Appointment) {}, []row{planned(1, d1), planned(2, d2)}},
		{"REMINDED-1", both, func(a *apptbridge.Appointment) { a.Disposition = apptbridge.DispReminded1 }, []row{planned(2, d2)}},
		{"REMINDED-2", both, func(a *apptbridge.Appointment) { a.Disposition = apptbridge.DispReminded2 }, nil},
		// SECOND 0000 turns the second reminder off (the original sent it
		// anyway, at r2 = the appointment time).
		{"second off, QUEUED", one, func(a *apptbridge.Appointment) {}, []row{planned(1, d1)}},
		{"second off, REMINDED-1", one, func(a *apptbridge.Appointment) { a.Disposition = apptbridge.DispReminded1 }, nil},
		{"CANCELED", both, func(a *apptbridge.Appointment) { a.Disposition = apptbridge.DispCanceled }, nil},
		{"NOSHOWED", both, func(a *apptbridge.Appointment) { a.Disposition = apptbridge.DispNoshowed }, nil},
		{"EXPIRED", both, func(a *apptbridge.Appointment) { a.Disposition = apptbridge.DispExpired }, nil},
		{"OPTED-OUT", both, func(a *apptbridge.Appointment) { a.Disposition = apptbridge.DispOptedOut }, nil},
		{"no disposition", both, func(a *apptbridge.Appointment) { a.Disposition = apptbridge.DispNone }, nil},
		{"no start time", both, func(a *apptbridge.Appointment) { a.AppointmentDatetimeUTC = time.Time{} }, nil},
		{"no phone", both, func(a *apptbridge.Appointment) { a.PatientPhone = "" },
			[]row{{1, d1, store.ReminderSkipped, ReasonNoPhone}, {2, d2, store.ReminderSkipped, ReasonNoPhone}}},
		{"no phone, REMINDED-1", both, func(a *apptbridge.Appointment) { a.PatientPhone = ""; a.Disposition = apptbridge.DispReminded1 },
			[]row{skipped(2, ReasonNoPhone)}},
	} {
		a := appt(start, ny)
		x.edit(a)
		checkPlan(t, x.name, x.c.Plan(a, now), a, now, x.want)
	}
	if got := both.Plan(nil, now); got != nil {
		t.Errorf("Plan(nil) = %v", got)
	}
}

// TestPlanCatchUp: a plan made late (after downtime, or for a late
// booking) keeps overdue reminders, but of two overdue only the later.
func TestPlanCatchUp(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	at := func(d, h, min int) time.Time { return time.Date(2026, 6, d, h, min, 0, 0, ny) }
	c := mustConfig(t, "4800", "2400", "0800", "2100")
	start := at(10, 9, 0)
	d1, d2 := at(8, 9, 0), at(9, 9, 0)
	for _, x := range []struct {
		name string
		now  time.Time
		want []row
	}{
		{"none due", at(8, 8, 59), []row{planned(1, d1), planned(2, d2)}},
		{"first due now", d1, []row{planned(1, d1), planned(2, d2)}},
		{"first overdue", at(8, 23, 0), []row{planned(1, d1), planned(2, d2)}},
		{"both due now", d2, []row{{1, d1, store.ReminderSkipped, ReasonSuperseded}, planned(2, d2)}},
		{"both overdue", at(10, 8, 0), []row{{1, d1, store.ReminderSkipped, ReasonSuperseded}, planned(2, d2)}},
		{"at the start", start, []row{{1, d1, store.ReminderSkipped, ReasonPast}, {2, d2, store.ReminderSkipped, ReasonPast}}},
		{"past", at(11, 9, 0), []row{skipped(1, ReasonPast), skipped(2, ReasonPast)}},
	} {
		a := appt(start, ny)
		checkPlan(t, x.name, c.Plan(a, x.now), a, x.now, x.want)
	}
	// Past wins over no phone.
	a := appt(start, ny)
	a.PatientPhone = ""
	checkPlan(t, "past, no phone", c.Plan(a, at(11, 0, 0)), a, at(11, 0, 0), []row{skipped(1, ReasonPast), skipped(2, ReasonPast)})
}

// TestPlanAfterNext: two leads whose nominal times both fall outside the
// window move to the same opening; only the second goes.
func TestPlanAfterNext(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	at := func(d, h, min int) time.Time { return time.Date(2026, 6, d, h, min, 0, 0, ny) }
	now := at(1, 0, 0)
	c := mustConfig(t, "1000", "0900", "0800", "2100") // 9:00 → 23:00 and 0:00 → both 8:00
	a := appt(at(10, 9, 0), ny)
	checkPlan(t, "same opening", c.Plan(a, now), a, now, []row{{1, at(10, 8, 0), store.ReminderSkipped, ReasonAfterNext}, planned(2, at(10, 8, 0))})
	// The second cannot go (7:00 appointment, window opens at 8:00): the
	// first is judged alone.
	c = mustConfig(t, "1000", "0200", "0800", "2100") // 7:00 → 21:00 (closed) → 8:00 (after) ; 5:00 → 8:00 (after)
	a = appt(at(10, 7, 0), ny)
	checkPlan(t, "both closed", c.Plan(a, now), a, now, []row{skipped(1, ReasonWindowClosed), skipped(2, ReasonWindowClosed)})
	c = mustConfig(t, "1200", "0200", "0800", "2100") // 7:00 → 19:00 the day before ; 5:00 → 8:00 (after)
	checkPlan(t, "second closed", c.Plan(a, now), a, now, []row{planned(1, at(9, 19, 0)), skipped(2, ReasonWindowClosed)})
}

func TestRecheck(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	at := func(d, h, min int) time.Time { return time.Date(2026, 6, d, h, min, 0, 0, ny) }
	c := mustConfig(t, "4800", "2400", "0800", "2100")
	start := at(10, 9, 0)
	r1 := store.Reminder{AppointmentID: "A1", Ordinal: 1, StartUTC: start.UTC(), DueAt: at(8, 9, 0), Status: store.ReminderPlanned}
	r2 := store.Reminder{AppointmentID: "A1", Ordinal: 2, StartUTC: start.UTC(), DueAt: at(9, 9, 0), Status: store.ReminderPlanned}
	none := time.Time{}
	for _, x := range []struct {
		name    string
		r       store.Reminder
		edit    func(a *apptbridge.Appointment)
		now     time.Time
		nextDue time.Time
		due     time.Time
		skip    string
	}{
		{"on time", r1, nil, at(8, 9, 0), r2.DueAt, at(8, 9, 0), ""},
		{"late, window open", r1, nil, at(8, 20, 59), r2.DueAt, at(8, 20, 59), ""},
		{"late, window closed: next opening", r1, nil, at(8, 21, 0), r2.DueAt, at(9, 8, 0), ""},
		{"late, window closed: opens only at the next", r1, nil, at(8, 21, 0), at(9, 8, 0), none, ReasonAfterNext},
		{"next also due", r1, nil, at(9, 10, 0), r2.DueAt, none, ReasonSuperseded},
		{"next due at now", r1, nil, r2.DueAt, r2.DueAt, none, ReasonSuperseded},
		// The doc's downtime example: back on Tuesday at noon.
		{"downtime: first", r1, nil, at(9, 12, 0), r2.DueAt, none, ReasonSuperseded},
		{"downtime: second", r2, nil, at(9, 12, 0), none, at(9, 12, 0), ""},
		{"second on time", r2, nil, at(9, 9, 0), none, at(9, 9, 0), ""},
		{"second late, window closed: opens before the start", r2, nil, at(9, 22, 0), none, at(10, 8, 0), ""},
		{"second late, window closed: opens at the start", r2, nil, at(9, 22, 0), none, none, ReasonWindowClosed},
		{"second, start passed", r2, nil, start, none, none, ReasonPast},
		{"claimed early: judged at its due time", r2, nil, at(9, 8, 59), none, at(9, 9, 0), ""},
		{"rescheduled", r2, func(a *apptbridge.Appointment) { a.SetAppointmentTime(at(11, 9, 0), ny) }, at(9, 9, 0), none, none, ReasonRescheduled},
		{"canceled", r2, func(a *apptbridge.Appointment) { a.Disposition = apptbridge.DispCanceled }, at(9, 9, 0), none, none, ReasonNotActive},
		{"opted out", r2, func(a *apptbridge.Appointment) { a.Disposition = apptbridge.DispOptedOut }, at(9, 9, 0), none, none, ReasonNotActive},
		{"first already sent", r1, func(a *apptbridge.Appointment) { a.Disposition = apptbridge.DispReminded1 }, at(8, 9, 0), r2.DueAt, none, ReasonAlreadySent},
		{"second already sent", r2, func(a *apptbridge.Appointment) { a.Disposition = apptbridge.DispReminded2 }, at(9, 9, 0), none, none, ReasonAlreadySent},
		{"second after the first", r2, func(a *apptbridge.Appointment) { a.Disposition = apptbridge.DispReminded1 }, at(9, 9, 0), none, at(9, 9, 0), ""},
		{"no phone", r2, func(a *apptbridge.Appointment) { a.PatientPhone = "" }, at(9, 9, 0), none, none, ReasonNoPhone},
	} {
		a := appt(start, ny)
		if x.edit != nil {
			x.edit(a)
		}
		r := x.r
		if x.name == "second late, window closed: opens at the start" {
			a.SetAppointmentTime(at(10, 8, 0), ny)
			r.StartUTC = a.AppointmentDatetimeUTC
		}
		due, skip := c.Recheck(&r, a, x.now, x.nextDue)
		if !due.Equal(x.due) || skip != x.skip {
			t.Errorf("%s: Recheck = %v, %q; want %v, %q", x.name, due.In(ny), skip, x.due.In(ny), x.skip)
		}
		if skip == "" && !c.Window.Open(due, ny) {
			t.Errorf("%s: due %v outside the window", x.name, due.In(ny))
		}
	}

	// The window is judged on the send time's wall clock in the
	// appointment's zone: 7:30 in Honolulu is 13:30 in New York.
	hnl := mustLoad(t, "Pacific/Honolulu")
	a := appt(time.Date(2026, 6, 10, 9, 0, 0, 0, hnl), hnl)
	r := store.Reminder{Ordinal: 2, StartUTC: a.AppointmentDatetimeUTC, DueAt: time.Date(2026, 6, 9, 9, 0, 0, 0, hnl)}
	now := time.Date(2026, 6, 10, 7, 30, 0, 0, hnl)
	if due, skip := c.Recheck(&r, a, now, time.Time{}); !due.Equal(time.Date(2026, 6, 10, 8, 0, 0, 0, hnl)) || skip != "" {
		t.Errorf("Honolulu 7:30: Recheck = %v, %q; want 8:00 HST", due.In(hnl), skip)
	}
	// A stored start truncated to the store's precision is the same time.
	a.AppointmentDatetimeUTC = a.AppointmentDatetimeUTC.Add(300 * time.Nanosecond)
	if _, skip := c.Recheck(&r, a, now, time.Time{}); skip != "" {
		t.Errorf("sub-precision start: Recheck skip %q", skip)
	}
	if _, skip := c.Recheck(nil, a, now, time.Time{}); skip == "" {
		t.Error("Recheck(nil) did not skip")
	}
}

func TestDayBounds(t *testing.T) {
	c := mustConfig(t, "4800", "2400", "0800", "2100")
	for _, x := range []struct {
		zone       string
		t          [3]int // local date
		hour, min  int
		wantLength time.Duration
		wantFrom   time.Time // zero: local midnight
	}{
		{"America/New_York", [3]int{2026, 6, 10}, 12, 0, 24 * time.Hour, time.Time{}},
		{"America/New_York", [3]int{2026, 3, 8}, 12, 0, 23 * time.Hour, time.Time{}},
		{"America/New_York", [3]int{2026, 11, 1}, 1, 30, 25 * time.Hour, time.Time{}},
		{"America/Chicago", [3]int{2027, 3, 14}, 23, 59, 23 * time.Hour, time.Time{}},
		{"America/Denver", [3]int{2027, 11, 7}, 0, 0, 25 * time.Hour, time.Time{}},
		{"America/Phoenix", [3]int{2026, 3, 8}, 12, 0, 24 * time.Hour, time.Time{}},
		{"Pacific/Honolulu", [3]int{2026, 11, 1}, 12, 0, 24 * time.Hour, time.Time{}},
		// Midnight itself is skipped: the day starts at 01:00 -03.
		{"America/Santiago", [3]int{2026, 9, 6}, 12, 0, 23 * time.Hour, time.Date(2026, 9, 6, 4, 0, 0, 0, time.UTC)},
		{"America/Santiago", [3]int{2026, 4, 4}, 23, 30, 25 * time.Hour, time.Time{}},
	} {
		loc := mustLoad(t, x.zone)
		a := appt(time.Date(2026, 12, 1, 9, 0, 0, 0, loc), loc)
		tm := time.Date(x.t[0], time.Month(x.t[1]), x.t[2], x.hour, x.min, 0, 0, loc)
		from, to := c.DayBounds(tm, a)
		want := x.wantFrom
		if want.IsZero() {
			want = time.Date(x.t[0], time.Month(x.t[1]), x.t[2], 0, 0, 0, 0, loc)
		}
		if !from.Equal(want) || to.Sub(from) != x.wantLength || tm.Before(from) || !tm.Before(to) {
			t.Errorf("%s %v: DayBounds = [%v, %v), want from %v, %v long", x.zone, tm, from.In(loc), to.In(loc), want.In(loc), x.wantLength)
		}
		// Both ends are in the day of t and the next day.
		if y, m, d := from.In(loc).Date(); y != x.t[0] || int(m) != x.t[1] || d != x.t[2] {
			t.Errorf("%s: from %v not on %v", x.zone, from.In(loc), x.t)
		}
		if y, m, d := to.Add(-time.Nanosecond).In(loc).Date(); y != x.t[0] || int(m) != x.t[1] || d != x.t[2] {
			t.Errorf("%s: to %v does not end %v", x.zone, to.In(loc), x.t)
		}
	}
}

// TestPlanProperties: random appointments, zones, leads, windows and
// dispositions. Every planned reminder is inside the window on the
// appointment's wall clock, at the first opening at or after its lead,
// strictly before the start, ordinal 1 before ordinal 2; at most 2 rows;
// nothing for an appointment off the ladder.
func TestPlanProperties(t *testing.T) {
	zones := []string{"America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "Pacific/Honolulu",
		"America/Santiago", "Australia/Lord_Howe", "Europe/London"}
	locs := make([]*time.Location, len(zones))
	for i, z := range zones {
		locs[i] = mustLoad(t, z)
	}
	// Times near the DST changes are over-sampled.
	switches := []time.Time{
		time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC),
		time.Date(2027, 3, 14, 7, 0, 0, 0, time.UTC), time.Date(2027, 11, 7, 6, 0, 0, 0, time.UTC),
	}
	dispositions := append([]apptbridge.Disposition{apptbridge.DispNone, apptbridge.DispQueued, apptbridge.DispQueued}, apptbridge.Dispositions...)
	known := map[string]bool{ReasonWindowClosed: true, ReasonAfterNext: true, ReasonSuperseded: true, ReasonPast: true, ReasonNoPhone: true}
	var nPlanned, nSkipped, nMoved int
	for seed := int64(0); seed < 1000; seed++ {
		rng := rand.New(rand.NewSource(seed))
		loc := locs[rng.Intn(len(locs))]
		var start time.Time
		if rng.Intn(2) == 0 {
			start = switches[rng.Intn(len(switches))].Add(time.Duration(rng.Intn(4*24*60)-24*60) * time.Minute)
		} else {
			start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Intn(2*365*24*60)) * time.Minute)
		}
		first := time.Duration(1+rng.Intn(100*60-1)) * time.Minute
		if rng.Intn(2) == 0 {
			first = time.Duration(1+rng.Intn(72)) * time.Hour
		}
		var second time.Duration
		if rng.Intn(4) > 0 {
			second = time.Duration(rng.Intn(int(first/time.Minute))) * time.Minute
		}
		ws := rng.Intn(24 * 60)
		wf := ws + 1 + rng.Intn(24*60-ws)
		if rng.Intn(3) == 0 {
			ws, wf = 8*60, 21*60
		}
		c := Config{First: first, Second: second, Window: notify.Window{Start: ws, Finish: wf}, DailyCap: 2, DefaultTZ: time.UTC}
		a := appt(start, loc)
		a.AppointmentID = fmt.Sprint("A", seed)
		a.Disposition = dispositions[rng.Intn(len(dispositions))]
		if rng.Intn(10) == 0 {
			a.PatientPhone = ""
		}
		now := start.Add(-time.Duration(rng.Intn(120*60)-2*60) * time.Minute)
		if rng.Intn(10) == 0 {
			now = start.Add(-time.Duration(rng.Intn(int(first/time.Minute)+1)) * time.Minute)
		}
		rows := c.Plan(a, now)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Errorf("seed %d (%s, start %v, first %v, second %v, window %v, %s, now %v): %s; rows %s", seed, loc, start.In(loc),
				first, second, c.Window, a.Disposition, now.In(loc), fmt.Sprintf(format, args...), fmtRows(rows))
		}

		var want []int
		switch a.Disposition {
		case apptbridge.DispQueued:
			want = []int{1, 2}
		case apptbridge.DispReminded1:
			want = []int{2}
		}
		if second == 0 && len(want) > 0 && want[len(want)-1] == 2 {
			want = want[:len(want)-1]
		}
		if len(rows) > 2 {
			fail("more than 2 rows")
		}
		if !a.Disposition.Active() && len(rows) > 0 {
			fail("rows for a non-active appointment")
		}
		if fmt.Sprint(ordinalsOf(rows)) != fmt.Sprint(want) {
			fail("ordinals %v, want %v", ordinalsOf(rows), want)
		}
		var prev *store.Reminder
		for i := range rows {
			r := &rows[i]
			nominal := start.Add(-c.lead(r.Ordinal))
			if r.DueAt.Before(nominal) {
				fail("ordinal %d due %v before its lead time %v", r.Ordinal, r.DueAt.In(loc), nominal.In(loc))
			}
			if !c.Window.Open(r.DueAt, loc) && (r.Status == store.ReminderPlanned || r.Reason != ReasonPast && r.Reason != ReasonNoPhone) {
				fail("ordinal %d due %v outside the window", r.Ordinal, r.DueAt.In(loc))
			}
			// The first opening: no minute between the lead time and
			// DueAt is open.
			if !r.DueAt.Equal(nominal) {
				nMoved++
				for u := nominal; u.Before(r.DueAt); u = u.Add(time.Minute) {
					if c.Window.Open(u, loc) {
						fail("ordinal %d due %v, but the window is open at %v", r.Ordinal, r.DueAt.In(loc), u.In(loc))
						break
					}
				}
			}
			switch r.Status {
			case store.ReminderPlanned:
				nPlanned++
				if r.Reason != "" {
					fail("planned with a reason")
				}
				if !r.DueAt.Before(start) || !now.Before(start) || a.PatientPhone == "" {
					fail("ordinal %d planned at or after the start, or without a phone", r.Ordinal)
				}
				if prev != nil && !prev.DueAt.Before(r.DueAt) {
					fail("ordinal 1 not before ordinal 2")
				}
				if prev != nil && !prev.DueAt.After(now) && !r.DueAt.After(now) {
					fail("two overdue reminders planned")
				}
				prev = r
			case store.ReminderSkipped:
				nSkipped++
				if !known[r.Reason] {
					fail("unknown reason %q", r.Reason)
				}
				if r.Reason == ReasonWindowClosed && r.DueAt.Before(start) {
					fail("skipped %q but due before the start", r.Reason)
				}
			default:
				fail("status %q", r.Status)
			}
		}
		// Recheck agrees with the plan at the due time of a reminder
		// that is not overdue.
		var planned []store.Reminder
		for _, r := range rows {
			if r.Status == store.ReminderPlanned {
				planned = append(planned, r)
			}
		}
		for i, r := range planned {
			if r.DueAt.Before(now) {
				continue
			}
			var next time.Time
			if i+1 < len(planned) {
				next = planned[i+1].DueAt
			}
			if due, skip := c.Recheck(&r, a, r.DueAt, next); skip != "" || !due.Equal(r.DueAt) {
				fail("Recheck at its due time = %v, %q", due.In(loc), skip)
			}
		}
	}
	t.Logf("planned %d, skipped %d, moved by the window %d", nPlanned, nSkipped, nMoved)
	if nPlanned < 300 || nSkipped < 100 || nMoved < 100 {
		t.Errorf("the random cases do not exercise the rules: planned %d, skipped %d, moved %d", nPlanned, nSkipped, nMoved)
	}
}

func ordinalsOf(rs []store.Reminder) []int {
	out := []int{}
	for _, r := range rs {
		out = append(out, r.Ordinal)
	}
	return out
}

// TestOpeningMatchesNotify: away from DST changes the reminder window's
// next opening is notify.Window.Next.
func TestOpeningMatchesNotify(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		loc := mustLoad(t, []string{"America/New_York", "America/Phoenix", "Pacific/Honolulu"}[rng.Intn(3)])
		ws := rng.Intn(24 * 60)
		wf := ws + 1 + rng.Intn(24*60-ws)
		c := Config{Window: notify.Window{Start: ws, Finish: wf}}
		tm := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Intn(60*24*60*60)) * time.Second)
		if got, want := c.opening(tm, loc), c.Window.Next(tm, loc); !got.Equal(want) {
			t.Fatalf("opening(%v, %v) = %v, notify says %v", tm.In(loc), c.Window, got.In(loc), want.In(loc))
		}
	}
}
