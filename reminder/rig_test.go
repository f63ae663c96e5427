package reminder_test

// The test rig of the reminder worker: a real SQLite store, a fake clock,
// EHR events and opt-outs applied through the store, and readers of
// what the worker did.

import (
	"context"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/internal/fakeclock"
	"github.com/apptbridge/apptbridge/reminder"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/sqlite"
	"github.com/prometheus/client_golang/prometheus"
)

// clock is the fake clock shared by the store and the code under test.
type clock = fakeclock.Clock

func load(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func newConfig(t testing.TB, first, second, start, finish string) reminder.Config {
	t.Helper()
	c, err := reminder.NewConfig(first, second, start, finish, 2, load(t, "America/New_York"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rig is a real SQLite store planning with cfg, and a reminder worker, on
// one fake clock.
type rig struct {
	t   testing.TB
	db  *sqlite.DB
	clk *clock
	cfg reminder.Config
	w   *reminder.Worker
	reg *prometheus.Registry
	// commits counts the store's transactions (each one fsync'd).
	commits atomic.Int64
}

func newRig(t testing.TB, cfg reminder.Config, start time.Time) *rig {
	t.Helper()
	clk := fakeclock.New(start.UTC())
	reg := prometheus.NewRegistry()
	m := reminder.NewMetrics(reg)
	r := &rig{t: t, clk: clk, cfg: cfg, reg: reg}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"),
		sqlite.Options{Now: clk.Now, Planner: m.Planner(cfg), OnCommit: func(int, time.Duration) { r.commits.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r.db = db
	r.w = &reminder.Worker{Store: db, Config: cfg, Owner: "worker-1", Lease: time.Minute, Now: clk.Now, Metrics: m}
	return r
}

// ehr applies an EHR event for appointment id at the clock's time, with the
// appointment at start in loc.
func (r *rig) ehr(typ apptbridge.EventType, id, phone string, start time.Time, loc *time.Location) store.ApplyResult {
	r.t.Helper()
	ev := &apptbridge.Event{EventID: apptbridge.NewEventID(), EventType: typ, EventDatetimeUTC: r.clk.Now(),
		AppointmentID: id, PatientID: "P" + id, PatientFirstName: "Ana", PatientPhone: phone,
		ProviderLastName: "Okafor", AppointmentLocation: "Lakeside Main"}
	ev.SetAppointmentTime(start, loc)
	var res store.ApplyResult
	err := r.db.Update(context.Background(), func(ctx context.Context, tx store.Tx) error {
		var err error
		res, err = tx.Apply(ctx, ev)
		return err
	})
	if err != nil {
		r.t.Fatalf("%s %s: %v", typ, id, err)
	}
	if !res.Outcome.Applied {
		r.t.Fatalf("%s %s not applied: %s", typ, id, res.Outcome.Reason)
	}
	return res
}

// optOut is the patient's STOP: the phone goes on the opt-out list and
// OPTED-OUT is applied to its appointment.
func (r *rig) optOut(id, phone string) {
	r.t.Helper()
	err := r.db.Update(context.Background(), func(ctx context.Context, tx store.Tx) error {
		if err := tx.OptOut(ctx, phone); err != nil {
			return err
		}
		now := r.clk.Now()
		_, err := tx.Apply(ctx, &apptbridge.Event{EventID: apptbridge.NewEventID(), EventType: apptbridge.OptedOut,
			EventDatetimeUTC: now, AppointmentID: id,
			Source: &apptbridge.Source{Channel: apptbridge.ChannelSMS, ReceivedAt: now}})
		return err
	})
	if err != nil {
		r.t.Fatal(err)
	}
}

// run is one RunOnce that must not fail.
func (r *rig) run() int {
	r.t.Helper()
	n, err := r.w.RunOnce(context.Background())
	if err != nil {
		r.t.Fatalf("RunOnce at %s: %v", r.clk.Now(), err)
	}
	return n
}

func (r *rig) appt(id string) *apptbridge.Appointment {
	r.t.Helper()
	a, err := r.db.Appointment(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return a
}

// reminders lists the appointment's reminder rows, all plans, oldest first.
func (r *rig) reminders(id string) []*store.Reminder {
	r.t.Helper()
	rs, err := r.db.RemindersOf(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return rs
}

// texts lists the outbound texts of appointment id (all of them when id
// is ""), oldest first.
func (r *rig) texts(id string) []*store.Text {
	r.t.Helper()
	list, err := r.db.Texts(context.Background(), store.TextFilter{AppointmentID: id, Direction: store.DirOut, Limit: 1 << 30})
	if err != nil {
		r.t.Fatal(err)
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].CreatedAt.Before(list[j].CreatedAt) })
	return list
}

func isRemind(k apptbridge.TextKind) bool {
	return k == apptbridge.TextRemind1 || k == apptbridge.TextRemind2
}

// remindTexts lists the reminder texts of appointment id, oldest first.
func (r *rig) remindTexts(id string) []*store.Text {
	r.t.Helper()
	var out []*store.Text
	for _, x := range r.texts(id) {
		if isRemind(x.Kind) {
			out = append(out, x)
		}
	}
	return out
}

// next is the earliest planned reminder or expiry (zero when none).
func (r *rig) next() time.Time {
	r.t.Helper()
	ctx := context.Background()
	d, err := r.db.NextReminderDue(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	e, err := r.db.NextExpiry(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	switch {
	case d.IsZero():
		return e
	case e.IsZero() || d.Before(e):
		return d
	}
	return e
}

// nextReminder is NextReminderDue.
func (r *rig) nextReminder() time.Time {
	r.t.Helper()
	d, err := r.db.NextReminderDue(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return d
}

// at moves the clock to t and runs the worker once.
func (r *rig) at(t time.Time) int {
	r.t.Helper()
	r.clk.Set(t)
	return r.run()
}

// find returns the appointment's row for ordinal o reminding of start
// (nil when none).
func find(rs []*store.Reminder, o int, start time.Time) *store.Reminder {
	for _, x := range rs {
		if x.Ordinal == o && x.StartUTC.Equal(start) {
			return x
		}
	}
	return nil
}

func checkAppt(t testing.TB, a *apptbridge.Appointment, d apptbridge.Disposition, sent int) {
	t.Helper()
	if a == nil {
		t.Fatal("appointment missing")
	}
	if a.Disposition != d || a.RemindersSent != sent {
		t.Fatalf("%s: disposition %s reminders_sent %d, want %s %d", a.AppointmentID, a.Disposition, a.RemindersSent, d, sent)
	}
}

func checkRow(t testing.TB, x *store.Reminder, status, reason string) {
	t.Helper()
	if x == nil {
		t.Fatalf("no reminder row (want %s %q)", status, reason)
	}
	if x.Status != status || (reason != "" && x.Reason != reason) {
		t.Fatalf("reminder %d of %s for %s: %s %q, want %s %q", x.Ordinal, x.AppointmentID, x.StartUTC,
			x.Status, x.Reason, status, reason)
	}
}

// counter sums the samples of metric name whose labels include want.
func (r *rig) counter(name string, want map[string]string) float64 {
	r.t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for k, v := range want {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == k && l.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

const testPhone = "+13125550100"

// Monday 1 June 2026, New York: no DST change nearby.
func june(t testing.TB, day, hour, min int) time.Time {
	return time.Date(2026, time.June, day, hour, min, 0, 0, load(t, "America/New_York"))
}
