package postgres

// Texts: the outbox rows of SMS (and inbound replies) and their
// worker-side operations.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/internal/sqlrow"
)

func (w wtx) saveText(ctx context.Context, owner string, x *store.Text, now time.Time) error {
	x.UpdatedAt = now
	n, err := w.exec(ctx, sqlrow.SaveText, sqlrow.SaveTextArgs(owner, x)...)
	if err != nil {
		return fmt.Errorf("save text %s: %w", x.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("save text %s: %w", x.ID, store.ErrLeaseLost)
	}
	return nil
}

// ClaimTexts implements store.Outbox: the due rows are locked with FOR
// UPDATE SKIP LOCKED (a row another process is claiming is skipped, not
// waited for) and leased in the same transaction.
func (db *DB) ClaimTexts(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*store.Text, error) {
	if db.closed.Load() {
		return nil, opErr("claim texts", store.ErrClosed)
	}
	if owner == "" || limit <= 0 || lease <= 0 {
		return nil, opErr("claim texts", invalid("owner, lease and limit required"))
	}
	now = store.Instant(now)
	until := now.Add(lease)
	var out []*store.Text
	err := db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		var err error
		out, err = queryAll(ctx, ptx, sqlrow.Text, `WITH c AS (
				SELECT id, next_attempt_at AS due FROM texts
				WHERE status IN ('pending', 'attempting') AND next_attempt_at <= $3
				AND (lease_owner = '' OR lease_until <= $3)
				ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED),
			u AS (UPDATE texts t SET lease_owner = $1, lease_until = $2, next_attempt_at = $2
				FROM c WHERE t.id = c.id RETURNING c.due, t.*)
			SELECT `+sqlrow.TextCols+` FROM u ORDER BY due, id`, owner, micros(until), micros(now), int64(limit))
		return err
	})
	if err != nil {
		return nil, opErr("claim texts", err)
	}
	return out, nil
}

// SaveText implements store.Outbox.
func (db *DB) SaveText(ctx context.Context, owner string, x *store.Text) error {
	if db.closed.Load() {
		return opErr("save text", store.ErrClosed)
	}
	return opErr("save text", db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		return wtx{db, ptx}.saveText(ctx, owner, x, db.now())
	}))
}

// NextTextDue implements store.Outbox.
func (db *DB) NextTextDue(ctx context.Context) (time.Time, error) {
	return db.nextDue(ctx, `SELECT MIN(next_attempt_at) FROM texts WHERE status IN ('pending', 'attempting')`)
}

// TextStatus implements store.Outbox. The row is locked while its status
// is compared and moved, so concurrent callbacks move it forward only.
func (db *DB) TextStatus(ctx context.Context, sid, status string, errorCode int) (*store.Text, bool, error) {
	if db.closed.Load() {
		return nil, false, opErr("text status", store.ErrClosed)
	}
	if sid == "" {
		return nil, false, opErr("text status", invalid("message sid required"))
	}
	var (
		t       *store.Text
		changed bool
	)
	err := db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		t, changed = nil, false
		var err error
		t, err = queryOne(ctx, ptx, sqlrow.Text, `SELECT `+sqlrow.TextCols+` FROM texts WHERE sid = $1 FOR UPDATE`, sid)
		if errors.Is(err, pgx.ErrNoRows) {
			t = nil
			return notFound("text")
		}
		if err != nil {
			return err
		}
		if !store.AdvanceStatus(t, status, errorCode, db.now()) {
			return nil
		}
		if _, err := ptx.Exec(ctx, `UPDATE texts SET status = $1, error_code = $2, updated_at = $3 WHERE id = $4`,
			t.Status, int32(t.ErrorCode), micros(t.UpdatedAt), t.ID); err != nil {
			return err
		}
		changed = true
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("postgres: text status %s: %w", sid, err)
	}
	return t, changed, nil
}

// Texts implements store.Outbox.
func (db *DB) Texts(ctx context.Context, f store.TextFilter) ([]*store.Text, error) {
	if db.closed.Load() {
		return nil, opErr("texts", store.ErrClosed)
	}
	var w sqlrow.Where
	w.Add("appointment_id = ?", f.AppointmentID)
	w.Add("phone = ?", f.Phone)
	w.Add("direction = ?", f.Direction)
	q, args := w.Query("SELECT "+sqlrow.TextCols+" FROM texts", "created_at DESC, id DESC", f.Limit)
	out, err := queryAll(ctx, db.pool, sqlrow.Text, q, args...)
	if err != nil {
		return nil, opErr("texts", err)
	}
	return out, nil
}
