package postgres

// Requests to the EHR: the outbound job rows and their worker-side
// operations.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/internal/sqlrow"
)

// NextRequestDue implements store.Outbox.
func (db *DB) NextRequestDue(ctx context.Context) (time.Time, error) {
	return db.nextDue(ctx, `SELECT MIN(next_attempt_at) FROM requests WHERE status IN ('pending', 'sending')`)
}

// ClaimRequest implements store.Outbox: FOR UPDATE SKIP LOCKED, so
// processes claiming at once take different requests. Requests of one
// appointment go in order: one whose appointment has an older request
// not yet final is not due.
func (db *DB) ClaimRequest(ctx context.Context, owner string, now time.Time, lease time.Duration) (*store.Request, error) {
	if db.closed.Load() {
		return nil, opErr("claim request", store.ErrClosed)
	}
	if owner == "" || lease <= 0 {
		return nil, opErr("claim request", invalid("owner and lease required"))
	}
	now = store.Instant(now)
	until := now.Add(lease)
	var r *store.Request
	err := db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		r = nil
		var err error
		r, err = queryOne(ctx, ptx, sqlrow.Request, `WITH c AS (
				SELECT r.seq FROM requests r
				WHERE r.status IN ('pending', 'sending') AND r.next_attempt_at <= $3
				AND (r.lease_owner = '' OR r.lease_until <= $3)
				AND NOT EXISTS (SELECT 1 FROM requests p WHERE p.appointment_id = r.appointment_id
					AND p.seq < r.seq AND p.status IN ('pending', 'sending'))
				ORDER BY r.next_attempt_at, r.seq LIMIT 1 FOR UPDATE OF r SKIP LOCKED)
			UPDATE requests q SET lease_owner = $1, lease_until = $2, next_attempt_at = $2
			FROM c WHERE q.seq = c.seq RETURNING `+sqlrow.Prefix("q.", sqlrow.RequestCols), owner, micros(until), micros(now))
		if errors.Is(err, pgx.ErrNoRows) {
			r = nil
			return nil
		}
		return err
	})
	if err != nil {
		return nil, opErr("claim request", err)
	}
	return r, nil
}

// SaveRequest implements store.Outbox.
func (db *DB) SaveRequest(ctx context.Context, owner string, r *store.Request) error {
	if db.closed.Load() {
		return opErr("save request", store.ErrClosed)
	}
	err := db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		r.UpdatedAt = db.now()
		tag, err := ptx.Exec(ctx, sqlrow.SaveRequest, sqlrow.SaveRequestArgs(owner, r)...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrLeaseLost
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: save request %s: %w", r.ID, err)
	}
	return nil
}

// Requests implements store.Outbox.
func (db *DB) Requests(ctx context.Context, f store.RequestFilter) ([]*store.Request, error) {
	if db.closed.Load() {
		return nil, opErr("requests", store.ErrClosed)
	}
	var w sqlrow.Where
	w.Add("appointment_id = ?", f.AppointmentID)
	w.Add("status = ?", f.Status)
	q, args := w.Query("SELECT "+sqlrow.RequestCols+" FROM requests", "seq", f.Limit)
	out, err := queryAll(ctx, db.pool, sqlrow.Request, q, args...)
	if err != nil {
		return nil, opErr("requests", err)
	}
	return out, nil
}

// RetryRequest implements store.Outbox. The appointment's requests are
// locked while the retry is checked and made.
func (db *DB) RetryRequest(ctx context.Context, id string, now time.Time) error {
	if db.closed.Load() {
		return opErr("retry request", store.ErrClosed)
	}
	err := db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		var (
			status, aid string
			seq         int64
		)
		err := ptx.QueryRow(ctx, `SELECT status, appointment_id, seq FROM requests WHERE id = $1 FOR UPDATE`, id).
			Scan(&status, &aid, &seq)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return notFound("request")
		case err != nil:
			return err
		case status != store.RequestDead:
			return invalid("only a dead request can be retried")
		}
		// A newer request of the same appointment that went (or may have
		// gone) to the EHR would be overtaken.
		var newer bool
		err = ptx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM requests r WHERE r.appointment_id = $1
			AND r.seq > $2 AND r.status <> 'dead' AND (r.status = 'acked' OR r.attempts > 0))`, aid, seq).Scan(&newer)
		if err != nil {
			return err
		}
		if newer {
			return invalid("a newer request of this appointment was sent after it; retrying would reverse their order")
		}
		_, err = ptx.Exec(ctx, `UPDATE requests SET status = 'pending', next_attempt_at = $1, attempts = 0,
			lease_owner = '', last_error = '', updated_at = $2 WHERE id = $3`,
			micros(store.Instant(now)), micros(db.now()), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: retry request %s: %w", id, err)
	}
	return nil
}
