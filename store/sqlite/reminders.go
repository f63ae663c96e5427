package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/internal/sqlrow"
)

// replan keeps an appointment's reminder plan in step with an applied
// event (in its transaction): a new appointment, a new time, a new phone
// or a disposition change other than the ladder's own climb (REMIND)
// replaces the planned reminders; leaving the ladder cancels them.
func (b *batch) replan(ctx context.Context, cur *apptbridge.Appointment, ev *apptbridge.Event, o apptbridge.Outcome, now time.Time) error {
	if b.planner == nil {
		return nil
	}
	change, reason := store.ReminderPlanChange(cur, ev, o)
	if change == store.PlanKeep {
		return nil
	}
	next := o.Appointment
	if err := b.cancelReminders(ctx, next.AppointmentID, reason, now); err != nil || change == store.PlanCancel {
		return err
	}
	for _, r := range b.planner(next, now) {
		if _, err := b.exec(ctx, `INSERT INTO reminders (`+sqlrow.ReminderCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, '', 0, 0, $7, $8)`,
			next.AppointmentID, int64(r.Ordinal), sqlrow.US(r.StartUTC), sqlrow.US(r.DueAt), r.Status, r.Reason,
			sqlrow.US(now), sqlrow.US(now)); err != nil {
			return fmt.Errorf("plan reminders of %s: %w", next.AppointmentID, err)
		}
	}
	return nil
}

func (b *batch) cancelReminders(ctx context.Context, appointmentID, reason string, now time.Time) error {
	if _, err := b.exec(ctx, `UPDATE reminders INDEXED BY reminders_appointment
		SET status = 'canceled', reason = $1, updated_at = $2
		WHERE appointment_id = $3 AND status = 'planned'`, reason, sqlrow.US(now), appointmentID); err != nil {
		return fmt.Errorf("cancel reminders of %s: %w", appointmentID, err)
	}
	return nil
}

func (t tx) PlannedReminders(ctx context.Context, appointmentID string) ([]*store.Reminder, error) {
	var out []*store.Reminder
	err := t.b.query(ctx, `SELECT `+sqlrow.ReminderCols+` FROM reminders INDEXED BY reminders_appointment
		WHERE appointment_id = $1 AND status = 'planned' ORDER BY ordinal`, sqlrow.AppendTo(&out, sqlrow.Reminder), appointmentID)
	if err != nil {
		return nil, fmt.Errorf("planned reminders of %s: %w", appointmentID, err)
	}
	return out, nil
}

// SaveReminder writes a claimed reminder, only while it is still planned
// and leased by owner: a replan in between (the appointment moved) wins,
// and the worker's transaction fails with ErrLeaseLost.
func (t tx) SaveReminder(ctx context.Context, owner string, r *store.Reminder) error {
	r.UpdatedAt = t.db.now()
	n, err := t.b.exec(ctx, `UPDATE reminders INDEXED BY reminders_appointment
		SET status = $1, reason = $2, due_at = $3, sent_at = $4,
		lease_owner = $5, lease_until = $6, updated_at = $7
		WHERE appointment_id = $8 AND ordinal = $9 AND start_utc = $10 AND status = 'planned' AND lease_owner = $11`,
		r.Status, r.Reason, sqlrow.US(r.DueAt), sqlrow.US(r.SentAt), r.LeaseOwner, sqlrow.US(r.LeaseUntil), sqlrow.US(r.UpdatedAt),
		r.AppointmentID, int64(r.Ordinal), sqlrow.US(r.StartUTC), owner)
	if err != nil {
		return fmt.Errorf("save reminder of %s: %w", r.AppointmentID, err)
	}
	if n == 0 {
		return fmt.Errorf("save reminder of %s: %w", r.AppointmentID, store.ErrLeaseLost)
	}
	return nil
}

func (t tx) RemindersSentBetween(ctx context.Context, phone string, from, to time.Time) (int, error) {
	n := 0
	err := t.b.query(ctx, `SELECT COUNT(*) FROM texts WHERE phone = $1 AND direction = 'out'
		AND kind IN ('remind-1', 'remind-2') AND created_at >= $2 AND created_at < $3
		AND status NOT IN ('canceled', 'failed')`, func(row []driver.Value) error {
		n = int(sqlrow.Int(row[0]))
		return nil
	}, phone, sqlrow.US(from), sqlrow.US(to))
	if err != nil {
		return 0, fmt.Errorf("reminders sent to a phone: %w", err)
	}
	return n, nil
}

// Statements on reminders name their index: without statistics SQLite
// may pick the partial index reminders_due (whose condition, status =
// 'planned', the query repeats) over reminders_appointment and walk every
// planned reminder for one appointment's rows.

// ClaimReminders implements store.Reminders.
func (db *DB) ClaimReminders(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*store.Reminder, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: claim reminders: %w", store.ErrClosed)
	}
	if owner == "" || limit <= 0 || lease <= 0 {
		return nil, fmt.Errorf("sqlite: claim reminders: %w", invalid("owner, lease and limit required"))
	}
	now = store.Instant(now)
	until := now.Add(lease)
	var out []*store.Reminder
	var seqs []int64
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		out, seqs = out[:0], seqs[:0]
		err := w.b.query(ctx, `SELECT `+sqlrow.ReminderCols+`, seq FROM reminders INDEXED BY reminders_due
			WHERE status = 'planned' AND due_at <= $1 AND (lease_owner = '' OR lease_until <= $2)
			ORDER BY due_at, seq LIMIT $3`, func(row []driver.Value) error {
			r, err := sqlrow.Reminder(row[:11])
			if err != nil {
				return err
			}
			out = append(out, r)
			seqs = append(seqs, sqlrow.Int(row[11]))
			return nil
		}, micros(now), micros(now), int64(limit))
		if err != nil {
			return err
		}
		for i, r := range out {
			if _, err := w.b.exec(ctx, `UPDATE reminders SET lease_owner = $1, lease_until = $2 WHERE seq = $3`,
				owner, micros(until), seqs[i]); err != nil {
				return err
			}
			r.LeaseOwner, r.LeaseUntil = owner, until
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim reminders: %w", err)
	}
	return out, nil
}

// NextReminderDue implements store.Reminders.
func (db *DB) NextReminderDue(ctx context.Context) (time.Time, error) {
	return db.nextDue(ctx, `SELECT MIN(due_at) FROM reminders WHERE status = 'planned'`)
}

// NextExpiry implements store.Reminders.
func (db *DB) NextExpiry(ctx context.Context) (time.Time, error) {
	// INDEXED BY: without statistics SQLite prefers appointments_disposition
	// (every active appointment, then a sort) to the partial index.
	return db.nextDue(ctx, `SELECT MIN(start_utc) FROM appointments INDEXED BY appointments_active_start
		WHERE disposition IN ('QUEUED', 'REMINDED-1', 'REMINDED-2') AND start_utc IS NOT NULL`)
}

// DueExpiries implements store.Reminders.
func (db *DB) DueExpiries(ctx context.Context, now time.Time, limit int) ([]string, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: due expiries: %w", store.ErrClosed)
	}
	rows, err := db.rdb.QueryContext(ctx, `SELECT appointment_id FROM appointments INDEXED BY appointments_active_start
		WHERE disposition IN ('QUEUED', 'REMINDED-1', 'REMINDED-2') AND start_utc <= $1
		ORDER BY start_utc LIMIT $2`, micros(store.Instant(now)), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: due expiries: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sqlite: due expiries: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// RemindersOf implements store.Reminders.
func (db *DB) RemindersOf(ctx context.Context, appointmentID string) ([]*store.Reminder, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: reminders: %w", store.ErrClosed)
	}
	var out []*store.Reminder
	err := db.readRows(ctx, `SELECT `+sqlrow.ReminderCols+` FROM reminders WHERE appointment_id = $1 ORDER BY seq`,
		[]any{appointmentID}, 11, sqlrow.AppendTo(&out, sqlrow.Reminder))
	if err != nil {
		return nil, fmt.Errorf("sqlite: reminders of %s: %w", appointmentID, err)
	}
	return out, nil
}
