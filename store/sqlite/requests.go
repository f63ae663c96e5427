package sqlite

// Requests to the EHR: the outbound job rows and their worker-side
// operations.

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/internal/sqlrow"
)

func (b *batch) insertRequest(ctx context.Context, r *store.Request) (int64, error) {
	if _, err := b.exec(ctx, sqlrow.InsertRequest, sqlrow.RequestArgs(r)...); err != nil {
		return 0, err
	}
	var seq int64
	err := b.query(ctx, `SELECT seq FROM requests WHERE id = $1`, func(row []driver.Value) error {
		seq = sqlrow.Int(row[0])
		return nil
	}, r.ID)
	return seq, err
}

// NextRequestDue implements store.Outbox.
func (db *DB) NextRequestDue(ctx context.Context) (time.Time, error) {
	return db.nextDue(ctx, `SELECT MIN(next_attempt_at) FROM requests WHERE status IN ('pending', 'sending')`)
}

// ClaimRequest implements store.Outbox.
func (db *DB) ClaimRequest(ctx context.Context, owner string, now time.Time, lease time.Duration) (*store.Request, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: claim request: %w", store.ErrClosed)
	}
	if owner == "" || lease <= 0 {
		return nil, fmt.Errorf("sqlite: claim request: %w", invalid("owner and lease required"))
	}
	now = store.Instant(now)
	until := now.Add(lease)
	var r *store.Request
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		r = nil
		b := w.b
		err := b.query(ctx, `SELECT `+sqlrow.RequestCols+` FROM requests r
			WHERE r.status IN ('pending', 'sending') AND r.next_attempt_at <= $1
			AND (r.lease_owner = '' OR r.lease_until <= $1)
			AND NOT EXISTS (SELECT 1 FROM requests p WHERE p.appointment_id = r.appointment_id
				AND p.seq < r.seq AND p.status IN ('pending', 'sending'))
			ORDER BY r.next_attempt_at, r.seq LIMIT 1`, func(row []driver.Value) error {
			var err error
			r, err = sqlrow.Request(row)
			return err
		}, micros(now))
		if err != nil || r == nil {
			return err
		}
		if _, err := b.exec(ctx, `UPDATE requests SET lease_owner = $1, lease_until = $2, next_attempt_at = $3
			WHERE seq = $4`, owner, micros(until), micros(until), r.Seq); err != nil {
			return err
		}
		r.LeaseOwner, r.LeaseUntil, r.NextAttemptAt = owner, until, until
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim request: %w", err)
	}
	return r, nil
}

// SaveRequest implements store.Outbox.
func (db *DB) SaveRequest(ctx context.Context, owner string, r *store.Request) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: save request: %w", store.ErrClosed)
	}
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		r.UpdatedAt = db.now()
		n, err := w.b.exec(ctx, sqlrow.SaveRequest, sqlrow.SaveRequestArgs(owner, r)...)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrLeaseLost
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: save request %s: %w", r.ID, err)
	}
	return nil
}

// Requests implements store.Outbox.
func (db *DB) Requests(ctx context.Context, f store.RequestFilter) ([]*store.Request, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: requests: %w", store.ErrClosed)
	}
	var w sqlrow.Where
	w.Add("appointment_id = ?", f.AppointmentID)
	w.Add("status = ?", f.Status)
	q, args := w.Query("SELECT "+sqlrow.RequestCols+" FROM requests", "seq", f.Limit)
	var out []*store.Request
	err := db.readRows(ctx, q, args, 18, sqlrow.AppendTo(&out, sqlrow.Request))
	if err != nil {
		return nil, fmt.Errorf("sqlite: requests: %w", err)
	}
	return out, nil
}

// RetryRequest implements store.Outbox.
func (db *DB) RetryRequest(ctx context.Context, id string, now time.Time) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: retry request: %w", store.ErrClosed)
	}
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		status := ""
		err := w.b.query(ctx, `SELECT status FROM requests WHERE id = $1`, func(row []driver.Value) error {
			status = sqlrow.Str(row[0])
			return nil
		}, id)
		switch {
		case err != nil:
			return err
		case status == "":
			return notFound("request")
		case status != store.RequestDead:
			return invalid("only a dead request can be retried")
		}
		// A newer request of the same appointment that went (or may have
		// gone) to the EHR would be overtaken: a confirm retried after the
		// patient's cancel was sent would confirm a canceled visit. A newer
		// one never attempted is fine: the retried one goes first.
		newer := false
		err = w.b.query(ctx, `SELECT 1 FROM requests r WHERE r.appointment_id =
			(SELECT appointment_id FROM requests WHERE id = $1)
			AND r.seq > (SELECT seq FROM requests WHERE id = $2) AND r.status <> 'dead'
			AND (r.status = 'acked' OR r.attempts > 0) LIMIT 1`,
			func([]driver.Value) error {
				newer = true
				return nil
			}, id, id)
		if err != nil {
			return err
		}
		if newer {
			return invalid("a newer request of this appointment was sent after it; retrying would reverse their order")
		}
		_, err = w.b.exec(ctx, `UPDATE requests SET status = 'pending', next_attempt_at = $1, attempts = 0,
			lease_owner = '', last_error = '', updated_at = $2 WHERE id = $3`,
			micros(store.Instant(now)), micros(db.now()), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: retry request %s: %w", id, err)
	}
	return nil
}
