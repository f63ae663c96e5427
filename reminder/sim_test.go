package reminder_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/reminder"
	"github.com/apptbridge/apptbridge/store"
)

// simZones are T15's five zones: three with DST, two without.
var simZones = []string{"America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "Pacific/Honolulu"}

// simSwitches are the US DST switch days of 2026 and 2027 (spring forward
// and fall back); appointments cluster around them.
var simSwitches = []struct{ y, m, d int }{{2026, 3, 8}, {2026, 11, 1}, {2027, 3, 14}, {2027, 11, 7}}

// simAppt is one simulated appointment and what the EHR does to it.
type simAppt struct {
	id, phone string
	loc       *time.Location
	bookAt    time.Time
	start     time.Time // as booked
	moveAt    time.Time // RESCHEDULED (zero: none)
	moved     time.Time // the new time
	cancelAt  time.Time // CANCELED (zero: none)
}

// startAt is the appointment time in force at t (events at t are applied
// before the worker runs at t).
func (a *simAppt) startAt(t time.Time) time.Time {
	if !a.moveAt.IsZero() && !t.Before(a.moveAt) {
		return a.moved
	}
	return a.start
}

func (a *simAppt) final() time.Time { return a.startAt(a.moveAt.Add(time.Hour * 24 * 365 * 10)) }

type simEvent struct {
	at    time.Time
	typ   apptbridge.EventType
	a     *simAppt
	start time.Time
}

const simGrid = time.Hour

// simAppointments draws n appointments: phones in one zone each, with two
// to eight appointments on neighbouring days of one DST cluster (so their
// reminders crowd the same local days and the daily cap matters), at any
// time of day (a fifth in the small hours, where the clocks change), booked
// one hour to four days ahead; ~15 % rescheduled (one day earlier to two
// days later) and ~10 % canceled, at random moments before their time. All
// instants are on whole hours, so the clock visits few distinct instants
// (its steps are batched).
func simAppointments(t testing.TB, rng *rand.Rand, n int) ([]*simAppt, []simEvent) {
	locs := make([]*time.Location, len(simZones))
	for i, z := range simZones {
		locs[i] = load(t, z)
	}
	var appts []*simAppt
	for p := 0; len(appts) < n; p++ {
		loc := locs[p%len(locs)]
		phone := fmt.Sprintf("+1312555%04d", p)
		sw := simSwitches[rng.IntN(len(simSwitches))]
		home := rng.IntN(4) - 2 // days from the switch
		k := 2 + rng.IntN(7)
		for j := 0; j < k && len(appts) < n; j++ {
			day := sw.d + home + rng.IntN(3)
			hour := rng.IntN(24)
			if rng.IntN(5) == 0 {
				hour = rng.IntN(4) // 00:00-03:00, where the clocks change
			}
			start := time.Date(sw.y, time.Month(sw.m), day, hour, 0, 0, 0, loc)
			if rng.IntN(4) == 0 {
				// The second 01:00 of a fall-back day (else unchanged).
				if s2 := start.Add(time.Hour); s2.In(loc).Hour() == start.In(loc).Hour() {
					start = s2
				}
			}
			ahead := time.Duration(1+rng.IntN(4*24)) * simGrid
			a := &simAppt{id: fmt.Sprintf("A%04d", len(appts)), phone: phone, loc: loc,
				bookAt: start.Add(-ahead), start: start}
			if rng.Float64() < 0.15 {
				span := int(a.start.Sub(a.bookAt) / simGrid)
				a.moveAt = a.bookAt.Add(time.Duration(1+rng.IntN(max(span-1, 1))) * simGrid)
				shift := time.Duration(rng.IntN(3*24)-24) * simGrid // -1 to +2 days
				if shift == 0 {
					shift = simGrid
				}
				a.moved = a.start.Add(shift)
				if !a.moved.After(a.moveAt.Add(simGrid)) {
					a.moved = a.moveAt.Add(time.Duration(2+rng.IntN(3*24)) * simGrid)
				}
			}
			if rng.Float64() < 0.10 {
				from := a.bookAt
				if !a.moveAt.IsZero() {
					from = a.moveAt
				}
				span := int(a.final().Sub(from) / simGrid)
				if span >= 2 {
					a.cancelAt = from.Add(time.Duration(1+rng.IntN(span-1)) * simGrid)
				}
			}
			appts = append(appts, a)
		}
	}
	var evs []simEvent
	for _, a := range appts {
		evs = append(evs, simEvent{a.bookAt, apptbridge.Booked, a, a.start})
		if !a.moveAt.IsZero() {
			evs = append(evs, simEvent{a.moveAt, apptbridge.Rescheduled, a, a.moved})
		}
		if !a.cancelAt.IsZero() {
			evs = append(evs, simEvent{a.cancelAt, apptbridge.Canceled, a, a.final()})
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	return appts, evs
}

// raceBuild reports whether the test binary has the race detector, which
// makes the pure-Go SQLite some ten times slower.
func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// TestT15 is T15 of RELIABILITY.md: 1,000 appointments × 2 lead-time
// configurations across five zones and both DST switches of 2026 and
// 2027, with reschedules and cancels, on a real SQLite store and the
// reminder worker under a fake clock that steps to each next due time
// (NextReminderDue, NextExpiry, the next EHR event), three workers sharing
// the store. Every figure is counted, logged and asserted.
//
// Under -race the simulation runs 150 appointments per configuration (the
// race detector makes the pure-Go SQLite some ten times slower); without
// it, 1,000.
func TestT15(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		first, second, start, finish string
		seed                         uint64
	}{
		{"4800-2400 window 0800-2100", "4800", "2400", "0800", "2100", 15},
		{"0300-0100 window 0800-2000", "0300", "0100", "0800", "2000", 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := 1000
			if raceBuild() {
				n = 150
			}
			simulate(t, newConfig(t, tc.first, tc.second, tc.start, tc.finish), rand.New(rand.NewPCG(tc.seed, 2027)), n)
		})
	}
}

func simulate(t *testing.T, cfg reminder.Config, rng *rand.Rand, n int) {
	ctx := context.Background()
	appts, evs := simAppointments(t, rng, n)
	byID := map[string]*simAppt{}
	moved, canceled := 0, 0
	phoneSet := map[string]bool{}
	for _, a := range appts {
		byID[a.id] = a
		phoneSet[a.phone] = true
		if !a.moveAt.IsZero() {
			moved++
		}
		if !a.cancelAt.IsZero() {
			canceled++
		}
	}
	phones := len(phoneSet)
	perZone, perMonth, perBand := map[string]int{}, map[string]int{}, map[string]int{}
	for _, a := range appts {
		local := a.final().In(a.loc)
		perZone[a.loc.String()]++
		perMonth[local.Format("2006-01")]++
		switch h := local.Hour(); {
		case h < 8:
			perBand["00-08"]++
		case h < 20:
			perBand["08-20"]++
		default:
			perBand["20-24"]++
		}
	}
	t.Logf("appointments by zone %v, by month %v, by local hour %v", perZone, perMonth, perBand)
	r := newRig(t, cfg, evs[0].at)
	// Three workers share the store, as several processes would: each
	// reminder must still go once. Their transactions are committed in
	// shared batches by the store's writer, which also keeps the
	// simulation fast.
	workers := make([]*reminder.Worker, 3)
	for k := range workers {
		workers[k] = &reminder.Worker{Store: r.db, Config: cfg, Owner: fmt.Sprintf("worker-%d", k),
			Lease: time.Minute, Batch: 16, Now: r.clk.Now, Metrics: r.w.Metrics}
	}
	errs := make([]error, len(workers))
	runAll := func() {
		var wg sync.WaitGroup
		for k, w := range workers {
			wg.Go(func() {
				for {
					n, err := w.RunOnce(ctx)
					if err != nil {
						errs[k] = err
						return
					}
					if n < w.Batch {
						return
					}
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("RunOnce at %s: %v", r.clk.Now(), err)
			}
		}
	}
	// The outbox: in production the reminder worker kicks it after each
	// commit and a reminder text is at Twilio within moments. Here it is
	// drained (every due text marked sent, sandbox-style) before each batch
	// of events with a CANCELED, the only event of the simulation that
	// touches texts still waiting (it cancels them), and at the end.
	drain := func() {
		now := r.clk.Now()
		claimed, err := r.db.ClaimTexts(ctx, "outbox", now, time.Minute, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(claimed) == 0 {
			return
		}
		err = r.db.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			for _, x := range claimed {
				x.Status, x.Attempts, x.SentAt = store.TextSandbox, x.Attempts+1, now
				x.LeaseOwner, x.LeaseUntil, x.NextAttemptAt = "", time.Time{}, time.Time{}
				if err := tx.SaveText(ctx, "outbox", x); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	steps, runs := 0, 0
	for i := 0; ; steps++ {
		due := r.next()
		next := due
		if i < len(evs) && (next.IsZero() || !evs[i].at.After(next)) {
			next = evs[i].at
		}
		if next.IsZero() {
			break
		}
		if steps > 20000 {
			t.Fatal("the simulation does not end")
		}
		r.clk.Set(next)
		now := r.clk.Now()
		if i < len(evs) && !evs[i].at.After(now) {
			for j := i; j < len(evs) && !evs[j].at.After(now); j++ {
				if evs[j].typ == apptbridge.Canceled {
					drain()
					break
				}
			}
			err := r.db.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				for j := i; j < len(evs) && !evs[j].at.After(now); j++ {
					e := evs[j]
					ev := &apptbridge.Event{EventID: apptbridge.NewEventID(), EventType: e.typ, EventDatetimeUTC: now,
						AppointmentID: e.a.id, PatientID: "P" + e.a.phone, PatientFirstName: "Ana",
						PatientPhone: e.a.phone, ProviderLastName: "Okafor", AppointmentLocation: "Lakeside Main"}
					ev.SetAppointmentTime(e.start, e.a.loc)
					res, err := tx.Apply(ctx, ev)
					if err != nil {
						return err
					}
					if !res.Outcome.Applied {
						return fmt.Errorf("%s %s at %s not applied: %s", e.typ, e.a.id, now, res.Outcome.Reason)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for i < len(evs) && !evs[i].at.After(now) {
				i++
			}
		}
		if due.IsZero() || due.After(now) {
			// Only events: did they make something due now (a late
			// booking)? If not, save the workers' round.
			if due = r.next(); due.IsZero() || due.After(now) {
				continue
			}
		}
		runs++
		runAll()
	}
	drain()

	// The record: every reminder text (created when its REMIND committed).
	var texts []*store.Text
	for _, x := range r.texts("") {
		if isRemind(x.Kind) {
			texts = append(texts, x)
		}
	}
	type key struct {
		id    string
		start time.Time
	}
	type dayKey struct{ phone, day string }
	var (
		perAppt     = map[string]int{}
		perTime     = map[key]int{}
		perDay      = map[dayKey]int{}
		outside     []string
		afterStart  []string
		afterCancel []string
		superseded  []string
		notDrained  []string
		overLadder  []string
		byKind      = map[apptbridge.TextKind]int{}
		dstDay      = 0
		multiTime   = 0
	)
	switchDay := map[string]bool{}
	for _, s := range simSwitches {
		switchDay[fmt.Sprintf("%04d-%02d-%02d", s.y, s.m, s.d)] = true
	}
	for _, x := range texts {
		a := byID[x.AppointmentID]
		at := x.CreatedAt
		local := at.In(a.loc)
		what := fmt.Sprintf("%s %s at %s", a.id, x.Kind, local.Format("2006-01-02 15:04 MST"))
		byKind[x.Kind]++
		perAppt[a.id]++
		var snap apptbridge.Appointment
		if err := json.Unmarshal(x.Snapshot, &snap); err != nil {
			t.Fatal(err)
		}
		perTime[key{a.id, snap.AppointmentDatetimeUTC}]++
		if snap.RemindersSent < 1 || snap.RemindersSent > 2 {
			overLadder = append(overLadder, fmt.Sprintf("%s: reminders_sent %d", what, snap.RemindersSent))
		}
		if m := local.Hour()*60 + local.Minute(); m < cfg.Window.Start || m >= cfg.Window.Finish {
			outside = append(outside, what)
		}
		cur := a.startAt(at)
		if !at.Before(cur) {
			afterStart = append(afterStart, what+" for "+cur.In(a.loc).Format("2006-01-02 15:04"))
		}
		if !a.cancelAt.IsZero() && !at.Before(a.cancelAt) {
			afterCancel = append(afterCancel, what)
		}
		if !snap.AppointmentDatetimeUTC.Equal(cur) {
			superseded = append(superseded, what+" of "+snap.AppointmentDatetimeUTC.In(a.loc).Format("2006-01-02 15:04")+
				", the time then is "+cur.In(a.loc).Format("2006-01-02 15:04"))
		}
		if x.Status != store.TextSandbox {
			notDrained = append(notDrained, what+" "+x.Status+" "+x.Reason)
		}
		perDay[dayKey{a.phone, local.Format("2006-01-02")}]++
		if switchDay[local.Format("2006-01-02")] && a.loc.String() != "America/Phoenix" && a.loc.String() != "Pacific/Honolulu" {
			dstDay++
		}
	}
	maxAppt, maxTime, maxDay, atCap, overCap := 0, 0, 0, 0, 0
	for id, n := range perAppt {
		maxAppt = max(maxAppt, n)
		if n > 2 && byID[id].moveAt.IsZero() {
			t.Errorf("%s (never rescheduled): %d reminders", id, n)
		}
	}
	for k, n := range perTime {
		maxTime = max(maxTime, n)
		if n > 2 {
			t.Errorf("%s: %d reminders for its time %s", k.id, n, k.start)
		}
	}
	for _, a := range appts {
		if !a.moveAt.IsZero() && perTime[key{a.id, a.start.UTC()}] > 0 && perTime[key{a.id, a.moved.UTC()}] > 0 {
			multiTime++
		}
	}
	for k, n := range perDay {
		maxDay = max(maxDay, n)
		if n == cfg.DailyCap {
			atCap++
		}
		if n > cfg.DailyCap {
			overCap++
			t.Errorf("phone %s: %d reminders on local day %s, cap %d", k.phone, n, k.day, cfg.DailyCap)
		}
	}

	// End state.
	expired, canc, other := 0, 0, 0
	var maxLate time.Duration
	sentRows := map[int]int{}
	for _, a := range appts {
		got := r.appt(a.id)
		want := apptbridge.DispExpired
		if !a.cancelAt.IsZero() {
			want = apptbridge.DispCanceled
		}
		switch {
		case got.Disposition != want:
			other++
			t.Errorf("%s: %s in the end, want %s", a.id, got.Disposition, want)
		case want == apptbridge.DispExpired:
			expired++
		default:
			canc++
		}
		if !got.AppointmentDatetimeUTC.Equal(a.final()) {
			t.Errorf("%s: time %s, want %s", a.id, got.AppointmentDatetimeUTC, a.final())
		}
		if got.RemindersSent > 2 {
			t.Errorf("%s: reminders_sent %d", a.id, got.RemindersSent)
		}
		for _, x := range r.reminders(a.id) {
			switch x.Status {
			case store.ReminderPlanned:
				t.Errorf("%s: reminder %d still planned", a.id, x.Ordinal)
			case store.ReminderSent:
				sentRows[x.Ordinal]++
				// Due at DueAt, or when planned if that was later (a
				// late booking or reschedule).
				due := x.DueAt
				if x.CreatedAt.After(due) {
					due = x.CreatedAt
				}
				maxLate = max(maxLate, x.SentAt.Sub(due))
			}
		}
	}
	if n := sentRows[1] + sentRows[2]; n != len(texts) {
		t.Errorf("%d reminder rows sent, %d reminder texts", n, len(texts))
	}

	reasons := map[string]float64{}
	for _, reason := range []string{reminder.ReasonWindowClosed, reminder.ReasonAfterNext, reminder.ReasonSuperseded,
		reminder.ReasonPast, reminder.ReasonDailyCap, reminder.ReasonNotApplied} {
		if v := r.counter("apptbridge_reminders_skipped_total", map[string]string{"reason": reason}); v > 0 {
			reasons[reason] = v
		}
	}
	capSkips := reasons[reminder.ReasonDailyCap]

	t.Logf("appointments %d (rescheduled %d, canceled %d), phones %d, clock steps %d, worker rounds %d, store commits %d",
		len(appts), moved, canceled, phones, steps, runs, r.commits.Load())
	t.Logf("reminders planned: ordinal 1 %v, ordinal 2 %v; sent: ordinal 1 %d, ordinal 2 %d (texts remind-1 %d, remind-2 %d); deferred %v",
		r.counter("apptbridge_reminders_planned_total", map[string]string{"ordinal": "1"}),
		r.counter("apptbridge_reminders_planned_total", map[string]string{"ordinal": "2"}),
		sentRows[1], sentRows[2], byKind[apptbridge.TextRemind1], byKind[apptbridge.TextRemind2],
		r.counter("apptbridge_reminders_deferred_total", nil))
	t.Logf("skipped by reason: %v", reasons)
	t.Logf("max reminders per appointment %d (per appointment time %d; %d rescheduled appointments reminded for both times)",
		maxAppt, maxTime, multiTime)
	t.Logf("sends outside the window %d, at/after the start %d, after a cancel %d, for a superseded time %d, ladder over 2 %d",
		len(outside), len(afterStart), len(afterCancel), len(superseded), len(overLadder))
	t.Logf("daily cap %d: max per phone per local day %d, phone-days at the cap %d, over it %d, skipped for the cap %v",
		cfg.DailyCap, maxDay, atCap, overCap, capSkips)
	t.Logf("sends on a DST switch day (DST zones) %d; max lateness %s; outbox not drained %d",
		dstDay, maxLate, len(notDrained))
	expiredMetric := r.counter("apptbridge_appointments_expired_total", nil)
	t.Logf("end: EXPIRED %d (metric %v), CANCELED %d, other %d", expired, expiredMetric, canc, other)

	for _, c := range []struct {
		name string
		list []string
	}{{"outside the window", outside}, {"at or after the start", afterStart}, {"after a cancel", afterCancel},
		{"for a superseded time", superseded}, {"with the ladder over 2", overLadder}, {"not drained by the outbox", notDrained}} {
		if len(c.list) > 0 {
			t.Errorf("%d reminders %s, e.g. %s", len(c.list), c.name, strings.Join(c.list[:min(5, len(c.list))], "; "))
		}
	}
	if expired+canc != len(appts) || canc != canceled {
		t.Errorf("EXPIRED %d + CANCELED %d, want %d + %d", expired, canc, len(appts)-canceled, canceled)
	}
	if m := r.counter("apptbridge_reminders_sent_total", nil); int(m) != len(texts) {
		t.Errorf("apptbridge_reminders_sent_total = %v, reminder texts %d", m, len(texts))
	}
	if int(expiredMetric) != expired {
		t.Errorf("apptbridge_appointments_expired_total = %v, EXPIRED appointments %d (several workers)", expiredMetric, expired)
	}
	if maxLate != 0 {
		t.Errorf("a reminder went %s after it was due (the clock steps to each due time)", maxLate)
	}
	// The simulation exercises what it claims to.
	if len(texts) < len(appts)/4 || sentRows[1] == 0 || sentRows[2] == 0 {
		t.Errorf("too few reminders sent to mean anything: %d", len(texts))
	}
	if atCap == 0 || capSkips+r.counter("apptbridge_reminders_deferred_total", nil) == 0 {
		t.Errorf("the daily cap never mattered (phone-days at the cap %d)", atCap)
	}
	if dstDay == 0 {
		t.Error("no reminder on a DST switch day")
	}
	if !r.next().IsZero() {
		t.Error("something still due in the end")
	}
}
