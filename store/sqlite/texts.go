package sqlite

// Texts: the outbox rows of SMS (and inbound replies) and their worker-side
// operations.

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/internal/sqlrow"
)

func (t tx) SaveText(ctx context.Context, owner string, x *store.Text) error {
	return t.b.saveText(ctx, owner, x, t.db.now())
}

func (b *batch) saveText(ctx context.Context, owner string, x *store.Text, now time.Time) error {
	x.UpdatedAt = now
	n, err := b.exec(ctx, sqlrow.SaveText, sqlrow.SaveTextArgs(owner, x)...)
	if err != nil {
		return fmt.Errorf("save text %s: %w", x.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("save text %s: %w", x.ID, store.ErrLeaseLost)
	}
	return nil
}

// ClaimTexts implements store.Outbox.
func (db *DB) ClaimTexts(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*store.Text, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: claim texts: %w", store.ErrClosed)
	}
	if owner == "" || limit <= 0 || lease <= 0 {
		return nil, fmt.Errorf("sqlite: claim texts: %w", invalid("owner, lease and limit required"))
	}
	now = store.Instant(now)
	until := now.Add(lease)
	var out []*store.Text
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		out = out[:0]
		b := w.b
		err := b.query(ctx, `SELECT `+sqlrow.TextCols+` FROM texts
			WHERE status IN ('pending', 'attempting') AND next_attempt_at <= $1
			AND (lease_owner = '' OR lease_until <= $1)
			ORDER BY next_attempt_at, id LIMIT $2`, sqlrow.AppendTo(&out, sqlrow.Text), micros(now), int64(limit))
		if err != nil {
			return err
		}
		for _, t := range out {
			if _, err := b.exec(ctx, `UPDATE texts SET lease_owner = $1, lease_until = $2, next_attempt_at = $3
				WHERE id = $4`, owner, micros(until), micros(until), t.ID); err != nil {
				return err
			}
			t.LeaseOwner, t.LeaseUntil, t.NextAttemptAt = owner, until, until
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim texts: %w", err)
	}
	return out, nil
}

// SaveText implements store.Outbox.
func (db *DB) SaveText(ctx context.Context, owner string, x *store.Text) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: save text: %w", store.ErrClosed)
	}
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		return w.b.saveText(ctx, owner, x, db.now())
	})
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// NextTextDue implements store.Outbox.
func (db *DB) NextTextDue(ctx context.Context) (time.Time, error) {
	return db.nextDue(ctx, `SELECT MIN(next_attempt_at) FROM texts WHERE status IN ('pending', 'attempting')`)
}

// TextStatus implements store.Outbox.
func (db *DB) TextStatus(ctx context.Context, sid, status string, errorCode int) (*store.Text, bool, error) {
	if db.closed.Load() {
		return nil, false, fmt.Errorf("sqlite: text status: %w", store.ErrClosed)
	}
	if sid == "" {
		return nil, false, fmt.Errorf("sqlite: text status: %w", invalid("message sid required"))
	}
	var (
		t       *store.Text
		changed bool
	)
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		t, changed = nil, false
		b := w.b
		err := b.query(ctx, `SELECT `+sqlrow.TextCols+` FROM texts WHERE sid = $1`, func(row []driver.Value) error {
			var err error
			t, err = sqlrow.Text(row)
			return err
		}, sid)
		if err != nil {
			return err
		}
		if t == nil {
			return notFound("text")
		}
		if !store.AdvanceStatus(t, status, errorCode, db.now()) {
			return nil
		}
		if _, err := b.exec(ctx, `UPDATE texts SET status = $1, error_code = $2, updated_at = $3 WHERE id = $4`,
			t.Status, int64(t.ErrorCode), micros(t.UpdatedAt), t.ID); err != nil {
			return err
		}
		changed = true
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: text status %s: %w", sid, err)
	}
	return t, changed, nil
}

// Texts implements store.Outbox.
func (db *DB) Texts(ctx context.Context, f store.TextFilter) ([]*store.Text, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: texts: %w", store.ErrClosed)
	}
	var w sqlrow.Where
	w.Add("appointment_id = ?", f.AppointmentID)
	w.Add("phone = ?", f.Phone)
	w.Add("direction = ?", f.Direction)
	q, args := w.Query("SELECT "+sqlrow.TextCols+" FROM texts", "created_at DESC, id DESC", f.Limit)
	var out []*store.Text
	err := db.readRows(ctx, q, args, 22, sqlrow.AppendTo(&out, sqlrow.Text))
	if err != nil {
		return nil, fmt.Errorf("sqlite: texts: %w", err)
	}
	return out, nil
}
