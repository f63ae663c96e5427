package reminder

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/internal/runloop"
	"github.com/apptbridge/apptbridge/notify"
	"github.com/apptbridge/apptbridge/store"
)

// Store is what the worker needs of the store.
type Store interface {
	Update(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error
	ClaimReminders(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*store.Reminder, error)
	NextReminderDue(ctx context.Context) (time.Time, error)
	NextExpiry(ctx context.Context) (time.Time, error)
	DueExpiries(ctx context.Context, now time.Time, limit int) ([]string, error)
}

// Reasons a reminder is skipped or canceled at send time (also metric
// labels; bounded).
const (
	ReasonDailyCap     = "daily cap reached"
	ReasonTimeChanged  = "appointment time changed"
	ReasonNotOnLadder  = "appointment not on the reminder ladder"
	ReasonNotApplied   = "reminder not applied"
	reasonReplannedRow = "replanned"
)

// Worker sends reminders when they fall due and expires appointments whose
// time has come. It sleeps until the earliest due reminder or expiry (a
// timer, reset when Kick says a plan changed), claims due reminders with a
// lease, and for each, in one transaction: re-checks the appointment, the
// outreach window on the send time and the daily cap, applies the REMIND
// event (QUEUED → REMINDED-1 → REMINDED-2) whose text goes to the outbox
// in that same transaction, and marks the reminder sent.
type Worker struct {
	Store  Store
	Config Config
	Owner  string        // lease owner; default a random id
	Lease  time.Duration // default 1 minute
	Batch  int           // reminders claimed at once; default 100
	// TxBatch is how many reminders one transaction handles; default 50.
	TxBatch int
	// MaxSleep is the poll safety net (plans written by another process
	// do not kick this one); default 30 s.
	MaxSleep time.Duration
	Now      func() time.Time
	Logger   *zap.Logger
	Metrics  *Metrics
	// OnSent is called after a commit that queued reminder texts (to
	// wake the outbox). It must not block.
	OnSent func()

	once sync.Once
	wake *runloop.Wake
}

func (w *Worker) init() {
	w.once.Do(func() {
		w.wake = runloop.NewWake()
		if w.Owner == "" {
			w.Owner = "reminder-" + apptbridge.NewEventID()
		}
		if w.Lease <= 0 {
			w.Lease = time.Minute
		}
		if w.Batch <= 0 {
			w.Batch = 100
		}
		if w.TxBatch <= 0 {
			w.TxBatch = 50
		}
		if w.MaxSleep <= 0 {
			w.MaxSleep = 30 * time.Second
		}
		if w.Now == nil {
			w.Now = time.Now
		}
		if w.Logger == nil {
			w.Logger = zap.NewNop()
		}
	})
}

// Kick wakes the worker to look at the plans again (one changed). It
// never blocks.
func (w *Worker) Kick() {
	w.init()
	w.wake.Kick()
}

// Run works until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	w.init()
	return runloop.Loop{
		Step:    w.RunOnce,
		Sleep:   w.sleep,
		OnError: func(err error) { w.Logger.Error("reminders", zap.Error(err)) },
		Wake:    w.wake,
	}.Run(ctx)
}

// sleep is the time until the earliest due reminder or expiry, at most
// MaxSleep.
func (w *Worker) sleep(ctx context.Context) time.Duration {
	d := w.MaxSleep
	now := w.Now()
	for _, next := range []func(context.Context) (time.Time, error){w.Store.NextReminderDue, w.Store.NextExpiry} {
		if t, err := next(ctx); err == nil && !t.IsZero() {
			d = min(d, max(t.Sub(now), time.Millisecond))
		}
	}
	return d
}

// RunOnce expires what is due and handles the reminders due now; it
// returns how many things it did.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	w.init()
	expired, err := w.expire(ctx)
	if err != nil {
		return expired, err
	}
	now := w.Now()
	due, err := w.Store.ClaimReminders(ctx, w.Owner, now, w.Lease, w.Batch)
	if err != nil {
		return expired, fmt.Errorf("claim reminders: %w", err)
	}
	claimed := len(due)
	// Due reminders are handled in transactions of up to TxBatch, in due
	// order: one commit (one fsync) for many keeps a minute with
	// thousands of due reminders on time, and the order keeps the daily
	// cap and catch-up rules deterministic. Should a batch fail as a
	// whole, its reminders are retried one transaction each, so one bad
	// reminder cannot hold the others back.
	sent := 0
	var errs []error
	for len(due) > 0 {
		n := min(len(due), w.TxBatch)
		part := due[:n]
		due = due[n:]
		k, err := w.handleBatch(ctx, part)
		if err == nil {
			sent += k
			continue
		}
		for _, r := range part {
			k, err := w.handleBatch(ctx, []*store.Reminder{r})
			if err != nil {
				errs = append(errs, fmt.Errorf("reminder %d of %s: %w", r.Ordinal, r.AppointmentID, err))
			}
			sent += k
		}
	}
	if sent > 0 && w.OnSent != nil {
		w.OnSent()
	}
	return expired + claimed, errors.Join(errs...)
}

// expire applies EXPIRE to every active appointment whose time has come.
func (w *Worker) expire(ctx context.Context) (int, error) {
	n := 0
	for {
		now := w.Now()
		ids, err := w.Store.DueExpiries(ctx, now, w.Batch)
		if err != nil {
			return n, fmt.Errorf("due expiries: %w", err)
		}
		if len(ids) == 0 {
			return n, nil
		}
		// Only the EXPIREs applied count: another worker may have expired
		// some of ids in between.
		applied := 0
		err = w.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			applied = 0 // the store may run this more than once
			for _, id := range ids {
				res, err := tx.Apply(ctx, &apptbridge.Event{EventID: apptbridge.NewEventID(),
					EventType: apptbridge.Expire, EventDatetimeUTC: now, AppointmentID: id,
					Source: &apptbridge.Source{Channel: apptbridge.ChannelSystem, ReceivedAt: now}})
				if err != nil {
					return err
				}
				if res.Outcome.Applied {
					applied++
				}
			}
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("expire: %w", err)
		}
		n += applied
		w.Metrics.expired(applied)
		if len(ids) < w.Batch {
			return n, nil
		}
	}
}

// handleBatch decides and records claimed reminders in one transaction;
// it returns how many were sent. A reminder whose lease was lost (a
// replan or another worker took it) is left alone.
func (w *Worker) handleBatch(ctx context.Context, rs []*store.Reminder) (int, error) {
	now := w.Now()
	type result struct {
		out     store.Reminder
		verdict string
		due     time.Time
	}
	var results []result
	err := w.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		results = results[:0]
		for _, r := range rs {
			held, err := w.stillHeld(ctx, tx, r)
			if err != nil {
				return err
			}
			if !held {
				results = append(results, result{out: *r, verdict: "lost", due: r.DueAt})
				continue
			}
			out := *r
			v, err := w.decide(ctx, tx, &out, now)
			if err != nil {
				return err
			}
			out.LeaseOwner, out.LeaseUntil = "", time.Time{}
			if err := tx.SaveReminder(ctx, w.Owner, &out); err != nil {
				return err
			}
			results = append(results, result{out: out, verdict: v, due: r.DueAt})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, x := range results {
		out := x.out
		switch x.verdict {
		case store.ReminderSent:
			sent++
			w.Metrics.sent(strconv.Itoa(out.Ordinal), now.Sub(x.due))
			w.Logger.Info("reminder sent", zap.String("appointment_id", out.AppointmentID), zap.Int("ordinal", out.Ordinal),
				zap.Duration("late", now.Sub(x.due)))
		case store.ReminderSkipped, store.ReminderCanceled:
			w.Metrics.skipped(out.Reason)
			w.Logger.Info("reminder not sent", zap.String("appointment_id", out.AppointmentID), zap.Int("ordinal", out.Ordinal),
				zap.String("status", out.Status), zap.String("reason", out.Reason))
		case "lost":
			w.Logger.Info("reminder replanned while claimed", zap.String("appointment_id", out.AppointmentID),
				zap.Int("ordinal", out.Ordinal))
		default:
			w.Metrics.deferred()
		}
	}
	return sent, nil
}

// stillHeld reports whether r is still planned, for the same appointment
// time, and leased by this worker (checked in the transaction that will
// record it, so nothing can change in between).
func (w *Worker) stillHeld(ctx context.Context, tx store.Tx, r *store.Reminder) (bool, error) {
	planned, err := tx.PlannedReminders(ctx, r.AppointmentID)
	if err != nil {
		return false, err
	}
	for _, p := range planned {
		if p.Ordinal == r.Ordinal && p.StartUTC.Equal(r.StartUTC) && p.LeaseOwner == w.Owner {
			return true, nil
		}
	}
	return false, nil
}

// decide sets r's outcome inside the transaction: sent (REMIND applied,
// text queued), skipped/canceled with a reason, or still planned with a
// later DueAt (window closed now, or the daily cap reached today).
func (w *Worker) decide(ctx context.Context, tx store.Tx, r *store.Reminder, now time.Time) (string, error) {
	end := func(status, reason string) (string, error) {
		r.Status, r.Reason = status, reason
		return status, nil
	}
	a, err := tx.Appointment(ctx, r.AppointmentID)
	if err != nil {
		return "", err
	}
	if a == nil || !a.Disposition.Active() {
		return end(store.ReminderCanceled, ReasonNotOnLadder)
	}
	if !a.AppointmentDatetimeUTC.Equal(r.StartUTC) {
		return end(store.ReminderCanceled, ReasonTimeChanged)
	}
	planned, err := tx.PlannedReminders(ctx, r.AppointmentID)
	if err != nil {
		return "", err
	}
	var nextDue time.Time
	for _, p := range planned {
		if p.Ordinal > r.Ordinal && p.StartUTC.Equal(r.StartUTC) {
			if !p.DueAt.After(now) {
				// Catch-up after downtime: both are due, only the later goes.
				return end(store.ReminderSkipped, ReasonSuperseded)
			}
			nextDue = p.DueAt
		}
	}
	due, skip := w.Config.Recheck(r, a, now, nextDue)
	if skip != "" {
		return end(store.ReminderSkipped, skip)
	}
	if due.After(now) {
		r.DueAt = due
		return "deferred", nil
	}
	if w.Config.DailyCap > 0 && a.PatientPhone != "" {
		from, to := w.Config.DayBounds(now, a)
		n, err := tx.RemindersSentBetween(ctx, a.PatientPhone, from, to)
		if err != nil {
			return "", err
		}
		if n >= w.Config.DailyCap {
			open := w.Config.Window.Next(to, notify.Location(a, w.Config.DefaultTZ))
			if open.Before(a.AppointmentDatetimeUTC) && (nextDue.IsZero() || open.Before(nextDue)) {
				r.DueAt = open
				return "deferred", nil
			}
			return end(store.ReminderSkipped, ReasonDailyCap)
		}
	}
	res, err := tx.Apply(ctx, &apptbridge.Event{EventID: apptbridge.NewEventID(), EventType: apptbridge.Remind,
		EventDatetimeUTC: now, AppointmentID: r.AppointmentID,
		Source: &apptbridge.Source{Channel: apptbridge.ChannelSystem, ReceivedAt: now}})
	if err != nil {
		return "", err
	}
	if !res.Outcome.Applied {
		reason := res.Outcome.Reason
		if reason == "" {
			reason = ReasonNotApplied
		}
		return end(store.ReminderSkipped, reason)
	}
	r.SentAt = now
	return end(store.ReminderSent, "")
}
