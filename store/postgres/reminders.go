package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/internal/sqlrow"
)

// queueReplan queues what keeps an appointment's reminder plan in step
// with an applied event (in its transaction, the appointment's row
// locked): a new appointment, a new time, a new phone or a disposition
// change other than the ladder's own climb (REMIND) replaces the planned
// reminders; leaving the ladder cancels them.
func (w wtx) queueReplan(b *pgx.Batch, cur *apptbridge.Appointment, ev *apptbridge.Event, o apptbridge.Outcome, now time.Time) {
	if w.db.planner == nil {
		return
	}
	change, reason := store.ReminderPlanChange(cur, ev, o)
	if change == store.PlanKeep {
		return
	}
	next := o.Appointment
	id := next.AppointmentID
	wrap := func(err error) error { return fmt.Errorf("plan reminders of %s: %w", id, err) }
	onExec(b.Queue(sqlCancelReminders, reason, sqlrow.US(now), id), nil,
		func(err error) error { return fmt.Errorf("cancel reminders of %s: %w", id, err) })
	if change == store.PlanCancel {
		return
	}
	for _, r := range w.db.planner(next, now) {
		onExec(b.Queue(`INSERT INTO reminders (`+sqlrow.ReminderCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, '', 0, 0, $7, $8)`,
			id, int32(r.Ordinal), sqlrow.US(r.StartUTC), sqlrow.US(r.DueAt), r.Status, r.Reason,
			sqlrow.US(now), sqlrow.US(now)), nil, wrap)
	}
}

const sqlCancelReminders = `UPDATE reminders SET status = 'canceled', reason = $1, updated_at = $2
		WHERE appointment_id = $3 AND status = 'planned'`

func (t tx) PlannedReminders(ctx context.Context, appointmentID string) ([]*store.Reminder, error) {
	out, err := queryAll(ctx, t.w.tx, sqlrow.Reminder, `SELECT `+sqlrow.ReminderCols+` FROM reminders
		WHERE appointment_id = $1 AND status = 'planned' ORDER BY ordinal`, appointmentID)
	if err != nil {
		return nil, fmt.Errorf("planned reminders of %s: %w", appointmentID, err)
	}
	return out, nil
}

// SaveReminder writes a claimed reminder, only while it is still planned
// and leased by owner: a replan in between (the appointment moved) wins,
// and the worker's transaction fails with ErrLeaseLost.
func (t tx) SaveReminder(ctx context.Context, owner string, r *store.Reminder) error {
	r.UpdatedAt = t.w.db.now()
	n, err := t.w.exec(ctx, `UPDATE reminders
		SET status = $1, reason = $2, due_at = $3, sent_at = $4,
		lease_owner = $5, lease_until = $6, updated_at = $7
		WHERE appointment_id = $8 AND ordinal = $9 AND start_utc = $10 AND status = 'planned' AND lease_owner = $11`,
		r.Status, r.Reason, sqlrow.US(r.DueAt), sqlrow.US(r.SentAt), r.LeaseOwner, sqlrow.US(r.LeaseUntil), sqlrow.US(r.UpdatedAt),
		r.AppointmentID, int32(r.Ordinal), sqlrow.US(r.StartUTC), owner)
	if err != nil {
		return fmt.Errorf("save reminder of %s: %w", r.AppointmentID, err)
	}
	if n == 0 {
		return fmt.Errorf("save reminder of %s: %w", r.AppointmentID, store.ErrLeaseLost)
	}
	return nil
}

func (t tx) RemindersSentBetween(ctx context.Context, phone string, from, to time.Time) (int, error) {
	var n int64
	err := t.w.tx.QueryRow(ctx, `SELECT COUNT(*) FROM texts WHERE phone = $1 AND direction = 'out'
		AND kind IN ('remind-1', 'remind-2') AND created_at >= $2 AND created_at < $3
		AND status NOT IN ('canceled', 'failed')`, phone, sqlrow.US(from), sqlrow.US(to)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("reminders sent to a phone: %w", err)
	}
	return int(n), nil
}

// ClaimReminders implements store.Reminders: FOR UPDATE SKIP LOCKED and a
// lease, as ClaimTexts.
func (db *DB) ClaimReminders(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*store.Reminder, error) {
	if db.closed.Load() {
		return nil, opErr("claim reminders", store.ErrClosed)
	}
	if owner == "" || limit <= 0 || lease <= 0 {
		return nil, opErr("claim reminders", invalid("owner, lease and limit required"))
	}
	now = store.Instant(now)
	until := now.Add(lease)
	var out []*store.Reminder
	err := db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		var err error
		out, err = queryAll(ctx, ptx, sqlrow.Reminder, `WITH c AS (
				SELECT seq FROM reminders
				WHERE status = 'planned' AND due_at <= $3 AND (lease_owner = '' OR lease_until <= $3)
				ORDER BY due_at, seq LIMIT $4 FOR UPDATE SKIP LOCKED),
			u AS (UPDATE reminders r SET lease_owner = $1, lease_until = $2
				FROM c WHERE r.seq = c.seq RETURNING r.*)
			SELECT `+sqlrow.ReminderCols+` FROM u ORDER BY due_at, seq`, owner, micros(until), micros(now), int64(limit))
		return err
	})
	if err != nil {
		return nil, opErr("claim reminders", err)
	}
	return out, nil
}

// NextReminderDue implements store.Reminders.
func (db *DB) NextReminderDue(ctx context.Context) (time.Time, error) {
	return db.nextDue(ctx, `SELECT MIN(due_at) FROM reminders WHERE status = 'planned'`)
}

// NextExpiry implements store.Reminders.
func (db *DB) NextExpiry(ctx context.Context) (time.Time, error) {
	return db.nextDue(ctx, `SELECT MIN(start_utc) FROM appointments
		WHERE disposition IN ('QUEUED', 'REMINDED-1', 'REMINDED-2') AND start_utc IS NOT NULL`)
}

// DueExpiries implements store.Reminders.
func (db *DB) DueExpiries(ctx context.Context, now time.Time, limit int) ([]string, error) {
	if db.closed.Load() {
		return nil, opErr("due expiries", store.ErrClosed)
	}
	var lim *int64 // NULL: no limit (as SQLite's negative LIMIT)
	if limit >= 0 {
		l := int64(limit)
		lim = &l
	}
	rows, err := db.pool.Query(ctx, `SELECT appointment_id FROM appointments
		WHERE disposition IN ('QUEUED', 'REMINDED-1', 'REMINDED-2') AND start_utc <= $1
		ORDER BY start_utc, appointment_id LIMIT $2`, micros(store.Instant(now)), lim)
	if err != nil {
		return nil, opErr("due expiries", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, opErr("due expiries", err)
	}
	return ids, nil
}

// RemindersOf implements store.Reminders.
func (db *DB) RemindersOf(ctx context.Context, appointmentID string) ([]*store.Reminder, error) {
	if db.closed.Load() {
		return nil, opErr("reminders", store.ErrClosed)
	}
	out, err := queryAll(ctx, db.pool, sqlrow.Reminder, `SELECT `+sqlrow.ReminderCols+` FROM reminders
		WHERE appointment_id = $1 ORDER BY seq`, appointmentID)
	if err != nil {
		return nil, fmt.Errorf("postgres: reminders of %s: %w", appointmentID, err)
	}
	return out, nil
}
