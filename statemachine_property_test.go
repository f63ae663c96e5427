package apptbridge

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// ladderIndex is the number of reminders an appointment on the ladder in
// d has had.
func ladderIndex(d Disposition) int {
	switch d {
	case DispReminded1:
		return 1
	case DispReminded2:
		return 2
	}
	return 0
}

// randomStart returns nil or an appointment in a random disposition whose
// bookkeeping is consistent with it.
func randomStart(r *rand.Rand) *Appointment {
	n := r.IntN(len(Dispositions) + 1)
	if n == len(Dispositions) {
		return nil
	}
	a := fixture(Dispositions[n])
	a.Confirmed = r.IntN(2) == 0
	switch d := a.Disposition; {
	case d.Active():
		a.RemindersSent = ladderIndex(d)
	case d == DispOptedOut:
		a.LadderBeforeOptOut = []Disposition{DispQueued, DispReminded1, DispReminded2}[r.IntN(3)]
		a.RemindersSent = ladderIndex(a.LadderBeforeOptOut)
	default:
		a.RemindersSent = r.IntN(3)
	}
	if r.IntN(5) == 0 {
		a.PatientPhone = ""
	}
	return a
}

// randomEvent returns an event of a random type; *clock advances, and
// some EHR events are older than the last one (stale) or carry no time.
func randomEvent(r *rand.Rand, clock *time.Time) *Event {
	*clock = clock.Add(time.Duration(r.IntN(120)) * time.Minute)
	e := eventOf(EventTypes[r.IntN(len(EventTypes))])
	e.EventDatetimeUTC = *clock
	switch r.IntN(10) {
	case 0, 1:
		e.EventDatetimeUTC = clock.Add(-time.Duration(1+r.IntN(600)) * time.Minute)
	case 2:
		e.EventDatetimeUTC = time.Time{}
	}
	if !e.EventType.FromEHR() {
		return e
	}
	if r.IntN(3) == 0 {
		e.AppointmentDatetimeUTC = tNow.Add(time.Duration(r.IntN(14*24)-48) * time.Hour)
	}
	if r.IntN(4) == 0 {
		e.AppointmentLocation = []string{"A", "B", "C"}[r.IntN(3)]
	}
	switch r.IntN(6) {
	case 0:
		e.PatientPhone = ""
	case 1:
		e.PatientPhone = "+13125550100"
	}
	return e
}

// TestApplyProperties applies random sequences of events to random
// starting states and checks the invariants every sequence must keep.
func TestApplyProperties(t *testing.T) {
	sequences, steps := 1000, 50
	if testing.Short() {
		sequences = 100
	}
	counts := map[EventType]int{}
	for seed := range uint64(sequences) { // deterministic seeds: a failure names its seed
		r := rand.New(rand.NewPCG(seed, 0x5eed))
		cur := randomStart(r)
		clock := tNow.Add(-time.Duration(r.IntN(72)) * time.Hour)
		// reminder texts since the ladder was last reset
		remindTexts := 0
		if cur != nil {
			remindTexts = cur.RemindersSent
		}
		// ended: an applied CANCELED, NOSHOWED or EXPIRE with no applied
		// BOOKED or RESCHEDULED since (T08: no reminder for those).
		ended := cur != nil && (cur.Disposition == DispCanceled ||
			cur.Disposition == DispNoshowed || cur.Disposition == DispExpired)
		for step := range steps {
			e := randomEvent(r, &clock)
			ctx := ApplyContext{Now: clock, PhoneOptedOut: r.IntN(4) == 0}
			if r.IntN(8) == 0 {
				ctx.Now = tAppt.Add(time.Duration(r.IntN(48)) * time.Hour)
			}
			before := deepCopy(cur)
			o := Apply(cur, e, ctx)
			fail := func(format string, args ...any) {
				t.Helper()
				t.Fatalf("seed %d step %d %s from %q: "+format,
					append([]any{seed, step, e.EventType, o.From}, args...)...)
			}
			if !reflect.DeepEqual(cur, before) {
				fail("cur modified")
			}
			if o.Applied {
				counts[e.EventType]++
			}

			// Not applied: nothing changes.
			if !o.Applied {
				if !reflect.DeepEqual(o.Appointment, cur) {
					fail("not applied (%s), yet the appointment changed", o.Reason)
				}
				if o.Text != TextNone || o.To != o.From || o.Request != "" || o.Reason == "" {
					fail("not applied, yet %+v", o)
				}
				continue
			}
			a := o.Appointment
			if a == nil {
				fail("applied with no appointment")
			}
			if cur == nil && a.Version != 1 || cur != nil && a.Version != cur.Version+1 {
				fail("Version %d after %+v", a.Version, cur)
			}
			if a.Disposition != o.To {
				fail("Disposition %q, To %q", a.Disposition, o.To)
			}

			// Valid dispositions, and bookkeeping that fits them.
			if !validDisposition(a.Disposition) {
				fail("invalid disposition %q", a.Disposition)
			}
			switch {
			case a.Disposition == DispOptedOut:
				l := a.LadderBeforeOptOut
				if !validDisposition(l) || l == DispOptedOut || l == DispExpired {
					fail("opted out with LadderBeforeOptOut %q", l)
				}
				if l.Active() && a.RemindersSent != ladderIndex(l) {
					fail("opted out from %q with %d reminders sent", l, a.RemindersSent)
				}
			case a.LadderBeforeOptOut != DispNone:
				fail("%q with LadderBeforeOptOut %q", a.Disposition, a.LadderBeforeOptOut)
			case a.Disposition.Active() && a.RemindersSent != ladderIndex(a.Disposition):
				fail("%q with %d reminders sent", a.Disposition, a.RemindersSent)
			}
			if a.RemindersSent < 0 || a.RemindersSent > 2 {
				fail("RemindersSent %d", a.RemindersSent)
			}

			// Texts.
			if o.Text != TextNone {
				if ctx.PhoneOptedOut && o.Text != TextOptedIn {
					fail("text %q to an opted-out phone", o.Text)
				}
				if a.PatientPhone == "" {
					fail("text %q without a phone", o.Text)
				}
				if o.Suppressed != "" {
					fail("text %q and Suppressed %q", o.Text, o.Suppressed)
				}
			}
			if cur != nil && a.RemindersSent < cur.RemindersSent {
				remindTexts = 0 // a new ladder
			}
			if o.Text == TextRemind1 || o.Text == TextRemind2 {
				remindTexts++
				if remindTexts > 2 {
					fail("reminder text #%d on one ladder", remindTexts)
				}
				if want := TextKind("remind-" + string(rune('0'+a.RemindersSent))); o.Text != want {
					fail("text %q with RemindersSent %d", o.Text, a.RemindersSent)
				}
			}
			if e.EventType == Remind && o.Text == TextNone {
				fail("REMIND applied without a text (%s)", o.Suppressed)
			}

			// T08: nothing reminds or requests for an ended appointment.
			switch e.EventType {
			case Canceled, Noshowed, Expire:
				ended = true
			case Booked, Rescheduled:
				ended = false
			case Remind, Confirm, Cancel:
				if ended {
					fail("%s applied after the appointment ended", e.EventType)
				}
			}
			cur = a
		}
	}
	// The random walk must have exercised every event type.
	for _, typ := range EventTypes {
		if counts[typ] == 0 {
			t.Errorf("no %s was ever applied", typ)
		}
	}
	t.Logf("applied: %v", counts)
}
