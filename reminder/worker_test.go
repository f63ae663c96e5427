package reminder_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/reminder"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/sqlite"
)

// TestBasicLadder: a 9:00 AM appointment three days ahead with the
// defaults gets reminder 1 at exactly T-48 h, reminder 2 at T-24 h, is
// EXPIRED at T from REMINDED-2 (the original never expired REMINDED-2), and
// never gets a third reminder.
func TestBasicLadder(t *testing.T) {
	ny := load(t, "America/New_York")
	cfg := newConfig(t, "4800", "2400", "0800", "2100")
	r := newRig(t, cfg, june(t, 1, 10, 0))
	start := june(t, 4, 9, 0)
	r.ehr(apptbridge.Booked, "A1", testPhone, start, ny)

	if n := r.run(); n != 0 {
		t.Fatalf("RunOnce right after booking did %d things", n)
	}
	for i, want := range []struct {
		lead time.Duration
		disp apptbridge.Disposition
		kind apptbridge.TextKind
	}{{48 * time.Hour, apptbridge.DispReminded1, apptbridge.TextRemind1},
		{24 * time.Hour, apptbridge.DispReminded2, apptbridge.TextRemind2}} {
		due := r.nextReminder()
		if !due.Equal(start.Add(-want.lead)) {
			t.Fatalf("reminder %d due %s, want %s", i+1, due, start.Add(-want.lead))
		}
		// A microsecond early: nothing.
		if n := r.at(due.Add(-time.Microsecond)); n != 0 {
			t.Fatalf("RunOnce before reminder %d was due did %d things", i+1, n)
		}
		if got := len(r.remindTexts("A1")); got != i {
			t.Fatalf("%d reminder texts before reminder %d is due", got, i+1)
		}
		r.at(due)
		rt := r.remindTexts("A1")
		if len(rt) != i+1 {
			t.Fatalf("after reminder %d: %d reminder texts", i+1, len(rt))
		}
		x := rt[i]
		if x.Kind != want.kind || !x.CreatedAt.Equal(start.Add(-want.lead)) || x.Phone != testPhone {
			t.Fatalf("reminder %d text: %s at %s, want %s at %s", i+1, x.Kind, x.CreatedAt, want.kind, start.Add(-want.lead))
		}
		checkAppt(t, r.appt("A1"), want.disp, i+1)
		checkRow(t, find(r.reminders("A1"), i+1, start.UTC()), store.ReminderSent, "")
		t.Logf("reminder %d: %s sent at %s local (%s before the start)", i+1, x.Kind,
			x.CreatedAt.In(ny).Format("Mon 15:04"), start.Sub(x.CreatedAt))
	}
	if d := r.nextReminder(); !d.IsZero() {
		t.Fatalf("a reminder still planned after two: due %s", d)
	}
	exp := r.next()
	if !exp.Equal(start) {
		t.Fatalf("next expiry %s, want the start %s", exp, start)
	}
	if n := r.at(start.Add(-time.Microsecond)); n != 0 {
		t.Fatalf("RunOnce before the start did %d things", n)
	}
	checkAppt(t, r.appt("A1"), apptbridge.DispReminded2, 2)
	if n := r.at(start); n != 1 {
		t.Fatalf("RunOnce at the start did %d things, want 1 (EXPIRE)", n)
	}
	checkAppt(t, r.appt("A1"), apptbridge.DispExpired, 2)
	// Days later: nothing more, ever.
	for _, d := range []time.Duration{time.Hour, 24 * time.Hour, 72 * time.Hour} {
		r.at(start.Add(d))
	}
	if got := len(r.remindTexts("A1")); got != 2 {
		t.Fatalf("%d reminder texts in the end, want 2", got)
	}
	if !r.next().IsZero() {
		t.Fatalf("something still due: %s", r.next())
	}
	for _, x := range r.reminders("A1") {
		if x.Status != store.ReminderSent {
			t.Fatalf("reminder row %d %s %q", x.Ordinal, x.Status, x.Reason)
		}
	}
	for o, want := range map[string]float64{"1": 1, "2": 1} {
		if got := r.counter("apptbridge_reminders_sent_total", map[string]string{"ordinal": o}); got != want {
			t.Errorf("sent{ordinal=%s} = %v, want %v", o, got, want)
		}
	}
	if got := r.counter("apptbridge_appointments_expired_total", nil); got != 1 {
		t.Errorf("expired = %v, want 1", got)
	}
	if got := r.counter("apptbridge_reminder_lateness_seconds", nil); got != 2 {
		t.Errorf("lateness samples = %v, want 2", got)
	}
}

// TestSecondOff: REMINDER_SECOND_TIMING=0000 sends exactly one reminder.
func TestSecondOff(t *testing.T) {
	ny := load(t, "America/New_York")
	cfg := newConfig(t, "4800", "0000", "0800", "2100")
	r := newRig(t, cfg, june(t, 1, 10, 0))
	start := june(t, 4, 9, 0)
	r.ehr(apptbridge.Booked, "A1", testPhone, start, ny)
	if rs := r.reminders("A1"); len(rs) != 1 || rs[0].Ordinal != 1 {
		t.Fatalf("plan with the second off: %d rows", len(rs))
	}
	for range 10 {
		next := r.next()
		if next.IsZero() {
			break
		}
		r.at(next)
	}
	rt := r.remindTexts("A1")
	if len(rt) != 1 || rt[0].Kind != apptbridge.TextRemind1 || !rt[0].CreatedAt.Equal(start.Add(-48*time.Hour)) {
		t.Fatalf("reminder texts %d, want one remind-1 at T-48h", len(rt))
	}
	checkAppt(t, r.appt("A1"), apptbridge.DispExpired, 1)
}

// TestReschedule: after reminder 1, a RESCHEDULED to a later time resets
// the ladder to QUEUED and plans again for the new time; the old plan's
// reminder 2 is canceled and nothing is ever sent for the old time.
func TestReschedule(t *testing.T) {
	ny := load(t, "America/New_York")
	cfg := newConfig(t, "4800", "2400", "0800", "2100")
	r := newRig(t, cfg, june(t, 1, 10, 0))
	old := june(t, 4, 9, 0)
	r.ehr(apptbridge.Booked, "A1", testPhone, old, ny)
	r.at(r.nextReminder())
	checkAppt(t, r.appt("A1"), apptbridge.DispReminded1, 1)

	r.clk.Add(3 * time.Hour) // Tuesday noon
	moved := june(t, 8, 14, 30)
	r.ehr(apptbridge.Rescheduled, "A1", testPhone, moved, ny)
	checkAppt(t, r.appt("A1"), apptbridge.DispQueued, 0)
	rs := r.reminders("A1")
	checkRow(t, find(rs, 1, old.UTC()), store.ReminderSent, "")
	checkRow(t, find(rs, 2, old.UTC()), store.ReminderCanceled, "replanned")
	n1, n2 := find(rs, 1, moved.UTC()), find(rs, 2, moved.UTC())
	checkRow(t, n1, store.ReminderPlanned, "")
	checkRow(t, n2, store.ReminderPlanned, "")
	if !n1.DueAt.Equal(moved.Add(-48*time.Hour)) || !n2.DueAt.Equal(moved.Add(-24*time.Hour)) {
		t.Fatalf("new plan due %s, %s", n1.DueAt, n2.DueAt)
	}

	// The old reminder 2's time and the old start pass: nothing is sent
	// and nothing expires.
	if n := r.at(old.Add(-24 * time.Hour)); n != 0 {
		t.Fatalf("RunOnce at the old reminder 2 time did %d things", n)
	}
	if n := r.at(old); n != 0 {
		t.Fatalf("RunOnce at the old start did %d things", n)
	}
	if got := len(r.remindTexts("A1")); got != 1 {
		t.Fatalf("%d reminder texts before the new plan's, want 1", got)
	}
	checkAppt(t, r.appt("A1"), apptbridge.DispQueued, 0)

	for range 10 {
		next := r.next()
		if next.IsZero() {
			break
		}
		r.at(next)
	}
	rt := r.remindTexts("A1")
	if len(rt) != 3 {
		t.Fatalf("%d reminder texts, want 3 (one for the old time, two for the new)", len(rt))
	}
	for i, want := range []struct {
		at   time.Time
		kind apptbridge.TextKind
	}{{old.Add(-48 * time.Hour), apptbridge.TextRemind1}, {moved.Add(-48 * time.Hour), apptbridge.TextRemind1},
		{moved.Add(-24 * time.Hour), apptbridge.TextRemind2}} {
		if !rt[i].CreatedAt.Equal(want.at) || rt[i].Kind != want.kind {
			t.Errorf("reminder text %d: %s at %s, want %s at %s", i, rt[i].Kind, rt[i].CreatedAt, want.kind, want.at)
		}
		if got := snapshotStart(t, rt[i]); i > 0 && !got.Equal(moved.UTC()) {
			t.Errorf("reminder text %d reminds of %s, want the new time %s", i, got, moved.UTC())
		}
	}
	checkAppt(t, r.appt("A1"), apptbridge.DispExpired, 2)
	if !r.appt("A1").AppointmentDatetimeUTC.Equal(moved) {
		t.Fatal("expired appointment lost its new time")
	}
}

// TestLeaveLadder: a CANCELED, or the patient's STOP (opt-out + OPTED-OUT),
// before a due reminder: nothing is sent and the planned rows are canceled.
func TestLeaveLadder(t *testing.T) {
	ny := load(t, "America/New_York")
	for _, tc := range []struct {
		name  string
		leave func(r *rig, start time.Time)
		disp  apptbridge.Disposition
	}{
		{"canceled", func(r *rig, start time.Time) { r.ehr(apptbridge.Canceled, "A1", testPhone, start, ny) },
			apptbridge.DispCanceled},
		{"opted out", func(r *rig, start time.Time) { r.optOut("A1", testPhone) }, apptbridge.DispOptedOut},
	} {
		for _, after := range []int{0, 1} { // reminders sent before leaving
			t.Run(fmt.Sprintf("%s after %d reminders", tc.name, after), func(t *testing.T) {
				cfg := newConfig(t, "4800", "2400", "0800", "2100")
				r := newRig(t, cfg, june(t, 1, 10, 0))
				start := june(t, 4, 9, 0)
				r.ehr(apptbridge.Booked, "A1", testPhone, start, ny)
				if after == 1 {
					r.at(r.nextReminder())
				}
				r.clk.Add(time.Hour)
				tc.leave(r, start)
				a := r.appt("A1")
				checkAppt(t, a, tc.disp, after)
				rs := r.reminders("A1")
				for o := after + 1; o <= 2; o++ {
					checkRow(t, find(rs, o, start.UTC()), store.ReminderCanceled, "appointment "+string(tc.disp))
				}
				if d := r.nextReminder(); !d.IsZero() {
					t.Fatalf("a reminder still planned: %s", d)
				}
				for _, at := range []time.Time{start.Add(-48 * time.Hour), start.Add(-24 * time.Hour), start,
					start.Add(time.Hour)} {
					r.at(at)
				}
				if got := len(r.remindTexts("A1")); got != after {
					t.Fatalf("%d reminder texts, want %d", got, after)
				}
				checkAppt(t, r.appt("A1"), tc.disp, after)
			})
		}
	}
}

// TestCatchUp: after downtime past both due times (before the start,
// window open) only reminder 2 goes, once (reminder 1 skipped as
// superseded); after downtime past the start, nothing goes and the
// appointment is EXPIRED.
func TestCatchUp(t *testing.T) {
	ny := load(t, "America/New_York")
	cfg := newConfig(t, "4800", "2400", "0800", "2100")
	start := june(t, 4, 9, 0)

	t.Run("both due", func(t *testing.T) {
		r := newRig(t, cfg, june(t, 1, 10, 0))
		r.ehr(apptbridge.Booked, "A1", testPhone, start, ny)
		back := june(t, 3, 14, 0) // Wednesday 2 PM: both due, window open
		if n := r.at(back); n != 2 {
			t.Fatalf("RunOnce after downtime did %d things, want 2 (both reminders claimed)", n)
		}
		rs := r.reminders("A1")
		checkRow(t, find(rs, 1, start.UTC()), store.ReminderSkipped, reminder.ReasonSuperseded)
		checkRow(t, find(rs, 2, start.UTC()), store.ReminderSent, "")
		rt := r.remindTexts("A1")
		// The ladder climbs one step per reminder sent: the one reminder
		// (ordinal 2) goes as the ladder's first text, remind-1.
		if len(rt) != 1 || !rt[0].CreatedAt.Equal(back) || rt[0].Kind != apptbridge.TextRemind1 {
			t.Fatalf("%d reminder texts after catch-up, want one remind-1 at %s", len(rt), back)
		}
		checkAppt(t, r.appt("A1"), apptbridge.DispReminded1, 1)
		for _, at := range []time.Time{back.Add(time.Minute), back.Add(time.Hour), start} {
			r.at(at)
		}
		if got := len(r.remindTexts("A1")); got != 1 {
			t.Fatalf("%d reminder texts in the end, want 1", got)
		}
		checkAppt(t, r.appt("A1"), apptbridge.DispExpired, 1)
		if got := r.counter("apptbridge_reminders_skipped_total", map[string]string{"reason": reminder.ReasonSuperseded}); got != 1 {
			t.Errorf("skipped{superseded} = %v, want 1", got)
		}
	})

	t.Run("past the start", func(t *testing.T) {
		r := newRig(t, cfg, june(t, 1, 10, 0))
		r.ehr(apptbridge.Booked, "A1", testPhone, start, ny)
		r.at(start.Add(2 * time.Hour))
		if got := len(r.remindTexts("A1")); got != 0 {
			t.Fatalf("%d reminder texts after the start, want 0", got)
		}
		checkAppt(t, r.appt("A1"), apptbridge.DispExpired, 0)
		for _, x := range r.reminders("A1") {
			checkRow(t, x, store.ReminderCanceled, "appointment EXPIRED")
		}
		if !r.next().IsZero() {
			t.Fatal("something still due")
		}
	})
}

// TestWindowOnSendTime: a reminder found overdue at 22:30 local goes at
// 08:00 the next morning when that is before the appointment and before
// the next reminder; else it is skipped with the reason.
func TestWindowOnSendTime(t *testing.T) {
	ny := load(t, "America/New_York")
	late := june(t, 1, 22, 30) // Monday 10:30 PM

	t.Run("deferred", func(t *testing.T) {
		r := newRig(t, newConfig(t, "4800", "2400", "0800", "2100"), june(t, 1, 9, 0))
		start := june(t, 3, 15, 0) // Wednesday 3 PM: reminder 1 Monday 3 PM, 2 Tuesday 3 PM
		r.ehr(apptbridge.Booked, "A1", testPhone, start, ny)
		r.at(late)
		x := find(r.reminders("A1"), 1, start.UTC())
		checkRow(t, x, store.ReminderPlanned, "")
		if want := june(t, 2, 8, 0); !x.DueAt.Equal(want) || x.LeaseOwner != "" {
			t.Fatalf("deferred to %s (lease %q), want %s", x.DueAt, x.LeaseOwner, want)
		}
		if got := len(r.remindTexts("A1")); got != 0 {
			t.Fatalf("%d reminder texts at 22:30", got)
		}
		r.at(r.nextReminder())
		rt := r.remindTexts("A1")
		if len(rt) != 1 || !rt[0].CreatedAt.Equal(june(t, 2, 8, 0)) {
			t.Fatalf("reminder texts %d, want one at 08:00", len(rt))
		}
		r.at(r.nextReminder())
		rt = r.remindTexts("A1")
		if len(rt) != 2 || !rt[1].CreatedAt.Equal(start.Add(-24*time.Hour)) {
			t.Fatalf("reminder 2 not at T-24h: %d texts", len(rt))
		}
		if got := r.counter("apptbridge_reminders_deferred_total", nil); got != 1 {
			t.Errorf("deferred = %v, want 1", got)
		}
	})

	t.Run("after the appointment", func(t *testing.T) {
		r := newRig(t, newConfig(t, "2400", "0000", "0800", "2100"), june(t, 1, 9, 0))
		start := june(t, 2, 7, 30) // Tuesday 7:30 AM: due Monday 7:30 → planned Monday 08:00
		r.ehr(apptbridge.Booked, "A1", testPhone, start, ny)
		r.at(late)
		checkRow(t, find(r.reminders("A1"), 1, start.UTC()), store.ReminderSkipped, reminder.ReasonWindowClosed)
		r.at(start)
		if got := len(r.remindTexts("A1")); got != 0 {
			t.Fatalf("%d reminder texts", got)
		}
		checkAppt(t, r.appt("A1"), apptbridge.DispExpired, 0)
	})

	t.Run("after the next reminder", func(t *testing.T) {
		r := newRig(t, newConfig(t, "4800", "2400", "0800", "2100"), june(t, 1, 7, 0))
		start := june(t, 3, 8, 0) // Wednesday 8 AM: reminder 1 Monday 8 AM, 2 Tuesday 8 AM
		r.ehr(apptbridge.Booked, "A1", testPhone, start, ny)
		r.at(late)
		rs := r.reminders("A1")
		checkRow(t, find(rs, 1, start.UTC()), store.ReminderSkipped, reminder.ReasonAfterNext)
		checkRow(t, find(rs, 2, start.UTC()), store.ReminderPlanned, "")
		r.at(r.nextReminder())
		rt := r.remindTexts("A1")
		if len(rt) != 1 || !rt[0].CreatedAt.Equal(june(t, 2, 8, 0)) {
			t.Fatalf("reminder texts %d, want one (reminder 2) at Tuesday 08:00", len(rt))
		}
	})
}

// TestDailyCap: four appointments of one phone whose reminders crowd the
// same local days: at most two reminders a day; the rest go at the next
// day's opening when that is before the appointment (and the next
// reminder), else are skipped with "daily cap reached".
func TestDailyCap(t *testing.T) {
	ny := load(t, "America/New_York")
	cfg := newConfig(t, "4800", "2400", "0800", "2100")
	r := newRig(t, cfg, june(t, 1, 0, 0))
	// Mon 1: D1 20:00. Tue 2: A1 10, B1 11, C1 12 (capped), D2 20 (capped).
	// Wed 3: C1, D2 at 08:00; A2 10, B2 11, C2 12 capped. Thu 4: A2, B2 at
	// 08:00; C2 capped again, Friday's opening is after C's 12:00: skipped.
	appts := []struct {
		id    string
		start time.Time
	}{{"A", june(t, 4, 10, 0)}, {"B", june(t, 4, 11, 0)}, {"C", june(t, 4, 12, 0)}, {"D", june(t, 3, 20, 0)}}
	for _, a := range appts {
		r.ehr(apptbridge.Booked, a.id, testPhone, a.start, ny)
	}
	for range 100 {
		next := r.next()
		if next.IsZero() {
			break
		}
		r.at(next)
	}
	perDay := map[string]int{}
	var sends []string
	for _, x := range r.remindTexts("") {
		day := x.CreatedAt.In(ny).Format("Mon 2")
		perDay[day]++
		sends = append(sends, x.AppointmentID+string(x.Kind[len(x.Kind)-1])+"@"+x.CreatedAt.In(ny).Format("Mon 15:04"))
	}
	t.Logf("sends: %v", sends)
	t.Logf("per local day: %v", perDay)
	for day, n := range perDay {
		if n > cfg.DailyCap {
			t.Errorf("%s: %d reminders to one phone, cap %d", day, n, cfg.DailyCap)
		}
	}
	sent := func(id string, o int, at time.Time) {
		t.Helper()
		var start time.Time
		for _, a := range appts {
			if a.id == id {
				start = a.start
			}
		}
		x := find(r.reminders(id), o, start.UTC())
		checkRow(t, x, store.ReminderSent, "")
		if !x.SentAt.Equal(at) {
			t.Errorf("%s reminder %d sent %s, want %s", id, o, x.SentAt.In(ny), at.In(ny))
		}
	}
	sent("D", 1, june(t, 1, 20, 0))
	sent("A", 1, june(t, 2, 10, 0))
	sent("B", 1, june(t, 2, 11, 0))
	sent("C", 1, june(t, 3, 8, 0)) // capped Tuesday, deferred
	sent("D", 2, june(t, 3, 8, 0)) // capped Tuesday, deferred
	sent("A", 2, june(t, 4, 8, 0)) // capped Wednesday, deferred
	sent("B", 2, june(t, 4, 8, 0)) // capped Wednesday, deferred
	checkRow(t, find(r.reminders("C"), 2, june(t, 4, 12, 0).UTC()), store.ReminderSkipped, reminder.ReasonDailyCap)
	if got := len(sends); got != 7 {
		t.Errorf("%d reminders sent, want 7", got)
	}
	for _, a := range appts {
		if d := r.appt(a.id).Disposition; d != apptbridge.DispExpired {
			t.Errorf("%s: %s, want EXPIRED", a.id, d)
		}
	}
	if got := r.counter("apptbridge_reminders_skipped_total", map[string]string{"reason": reminder.ReasonDailyCap}); got != 1 {
		t.Errorf("skipped{daily cap} = %v, want 1", got)
	}
}

// TestCrashAfterClaim: a worker claims a due reminder and dies before its
// transaction commits; another worker sends it exactly once, after the
// lease ends or once the leases are released at start-up. The dead
// worker's late save is refused.
func TestCrashAfterClaim(t *testing.T) {
	ny := load(t, "America/New_York")
	cfg := newConfig(t, "4800", "2400", "0800", "2100")
	for _, release := range []bool{false, true} {
		name := "lease runs out"
		if release {
			name = "ReleaseLeases"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			r := newRig(t, cfg, june(t, 1, 10, 0))
			start := june(t, 4, 9, 0)
			r.ehr(apptbridge.Booked, "A1", testPhone, start, ny)
			due := r.nextReminder()
			r.clk.Set(due)
			claimed, err := r.db.ClaimReminders(ctx, "dead", due, time.Minute, 10)
			if err != nil || len(claimed) != 1 || claimed[0].Ordinal != 1 {
				t.Fatalf("claim: %v, %d rows", err, len(claimed))
			}
			// The crash: nothing saved. A new worker on the same store.
			w2 := &reminder.Worker{Store: r.db, Config: cfg, Owner: "worker-2", Lease: time.Minute, Now: r.clk.Now}
			r.w = w2
			if n := r.run(); n != 0 {
				t.Fatalf("the new worker took a leased reminder (%d)", n)
			}
			if release {
				if _, err := r.db.ReleaseLeases(ctx, r.clk.Now()); err != nil {
					t.Fatal(err)
				}
				r.clk.Add(time.Second)
			} else {
				r.clk.Add(30 * time.Second)
				if n := r.run(); n != 0 {
					t.Fatalf("taken while the lease holds (%d)", n)
				}
				r.clk.Add(30 * time.Second)
			}
			if n := r.run(); n != 1 {
				t.Fatalf("RunOnce after the lease: %d, want 1", n)
			}
			r.clk.Add(time.Second)
			r.run()
			rt := r.remindTexts("A1")
			if len(rt) != 1 || rt[0].Kind != apptbridge.TextRemind1 {
				t.Fatalf("%d reminder texts, want one remind-1", len(rt))
			}
			checkAppt(t, r.appt("A1"), apptbridge.DispReminded1, 1)
			// The dead worker comes back and saves its claim: refused.
			late := *claimed[0]
			late.Status, late.SentAt = store.ReminderSent, r.clk.Now()
			err = r.db.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				return tx.SaveReminder(ctx, "dead", &late)
			})
			if !errors.Is(err, store.ErrLeaseLost) {
				t.Fatalf("late save by the dead worker: %v, want ErrLeaseLost", err)
			}
			for range 10 {
				next := r.next()
				if next.IsZero() {
					break
				}
				r.at(next)
			}
			if got := len(r.remindTexts("A1")); got != 2 {
				t.Fatalf("%d reminder texts in the end, want 2", got)
			}
			checkAppt(t, r.appt("A1"), apptbridge.DispExpired, 2)
		})
	}
}

// replanOnClaim is the store with a RESCHEDULED slipped in between the
// worker's claim and its handling of the claimed reminders.
type replanOnClaim struct {
	*sqlite.DB
	between func()
}

func (s *replanOnClaim) ClaimReminders(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*store.Reminder, error) {
	rs, err := s.DB.ClaimReminders(ctx, owner, now, lease, limit)
	if err == nil && len(rs) > 0 && s.between != nil {
		s.between()
		s.between = nil
	}
	return rs, err
}

// TestLeaseLost: a replan between claim and handling wins: the claimed
// reminder is not sent, RunOnce reports no error, and the new plan stands
// and is sent for the new time.
func TestLeaseLost(t *testing.T) {
	ny := load(t, "America/New_York")
	cfg := newConfig(t, "4800", "2400", "0800", "2100")
	r := newRig(t, cfg, june(t, 1, 10, 0))
	old := june(t, 4, 9, 0)
	moved := june(t, 9, 16, 0)
	r.ehr(apptbridge.Booked, "A1", testPhone, old, ny)
	st := &replanOnClaim{DB: r.db, between: func() { r.ehr(apptbridge.Rescheduled, "A1", testPhone, moved, ny) }}
	r.w.Store = st
	due := r.nextReminder()
	r.clk.Set(due)
	if _, err := r.w.RunOnce(context.Background()); err != nil {
		t.Fatalf("RunOnce with a lost lease: %v", err)
	}
	if st.between != nil {
		t.Fatal("the replan did not run")
	}
	if got := len(r.remindTexts("A1")); got != 0 {
		t.Fatalf("%d reminder texts: the claimed reminder went", got)
	}
	checkAppt(t, r.appt("A1"), apptbridge.DispQueued, 0)
	rs := r.reminders("A1")
	checkRow(t, find(rs, 1, old.UTC()), store.ReminderCanceled, "replanned")
	checkRow(t, find(rs, 2, old.UTC()), store.ReminderCanceled, "replanned")
	checkRow(t, find(rs, 1, moved.UTC()), store.ReminderPlanned, "")
	checkRow(t, find(rs, 2, moved.UTC()), store.ReminderPlanned, "")
	if next := r.nextReminder(); !next.Equal(moved.Add(-48 * time.Hour)) {
		t.Fatalf("next reminder %s, want the new plan's %s", next, moved.Add(-48*time.Hour))
	}
	for range 10 {
		next := r.next()
		if next.IsZero() {
			break
		}
		r.at(next)
	}
	rt := r.remindTexts("A1")
	if len(rt) != 2 || !rt[0].CreatedAt.Equal(moved.Add(-48*time.Hour)) || !rt[1].CreatedAt.Equal(moved.Add(-24*time.Hour)) {
		t.Fatalf("%d reminder texts, want two at the new plan's times", len(rt))
	}
	for _, x := range rt {
		if s := snapshotStart(t, x); !s.Equal(moved.UTC()) {
			t.Fatalf("a reminder of %s, want %s", s, moved.UTC())
		}
	}
	checkAppt(t, r.appt("A1"), apptbridge.DispExpired, 2)
}

// snapshotStart is the appointment time a text speaks of (its snapshot).
func snapshotStart(t testing.TB, x *store.Text) time.Time {
	t.Helper()
	var a apptbridge.Appointment
	if err := json.Unmarshal(x.Snapshot, &a); err != nil {
		t.Fatalf("snapshot of text %s: %v", x.ID, err)
	}
	return a.AppointmentDatetimeUTC
}

// TestRunWakesAtDue runs Worker.Run on a clock that moves in real time:
// asleep with nothing planned (MaxSleep 30 s), it is kicked by a new plan
// and sends the reminder at its due time, not at the next poll.
func TestRunWakesAtDue(t *testing.T) {
	ny := load(t, "America/New_York")
	cfg := newConfig(t, "4800", "2400", "0800", "2100")
	off := time.Until(june(t, 1, 10, 0))
	now := func() time.Time { return time.Now().Add(off) }
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"),
		sqlite.Options{Now: now, Planner: cfg.Plan})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w := &reminder.Worker{Store: db, Config: cfg, Now: now}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	time.Sleep(50 * time.Millisecond) // asleep: nothing planned

	due := store.Instant(now().Add(300 * time.Millisecond))
	ev := &apptbridge.Event{EventID: apptbridge.NewEventID(), EventType: apptbridge.Booked, EventDatetimeUTC: now(),
		AppointmentID: "A1", PatientID: "P1", PatientFirstName: "Ana", PatientPhone: testPhone}
	ev.SetAppointmentTime(due.Add(48*time.Hour), ny)
	err = db.Update(context.Background(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Apply(ctx, ev)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Kick()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		list, err := db.Texts(context.Background(), store.TextFilter{AppointmentID: "A1", Direction: store.DirOut})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range list {
			if isRemind(x.Kind) {
				late := x.CreatedAt.Sub(due)
				t.Logf("reminder 1 sent %s after its due time", late)
				if late < 0 || late > time.Second {
					t.Fatalf("reminder 1 sent %s after its due time, want within 1 s (not early)", late)
				}
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no reminder within 5 s of the kick")
}
