package sqlite

// Texts: the outbox rows of SMS (and inbound replies) and their worker-side
// operations.

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

const textCols = `id, direction, appointment_id, event_id, kind, phone, language, snapshot, body,
	asks_reply, immediate, status, reason, sid, error_code, attempts, next_attempt_at, lease_owner,
	lease_until, sent_at, created_at, updated_at`

const sqlInsertText = `INSERT INTO texts (` + textCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
	ON CONFLICT DO NOTHING`

func textArgs(t *store.Text) []any {
	var sid any
	if t.SID != "" {
		sid = t.SID
	}
	return []any{t.ID, t.Direction, t.AppointmentID, t.EventID, string(t.Kind), t.Phone, t.Language,
		string(t.Snapshot), t.Body, t.AsksReply, t.Immediate, t.Status, t.Reason, sid, int64(t.ErrorCode),
		int64(t.Attempts), us(t.NextAttemptAt), t.LeaseOwner, us(t.LeaseUntil), us(t.SentAt),
		us(t.CreatedAt), us(t.UpdatedAt)}
}

// scanText decodes a row of textCols (driver values or database/sql scans).
func scanText(row []driver.Value) (*store.Text, error) {
	if len(row) != 22 {
		return nil, fmt.Errorf("text row has %d columns", len(row))
	}
	t := &store.Text{
		ID:            str(row[0]),
		Direction:     str(row[1]),
		AppointmentID: str(row[2]),
		EventID:       str(row[3]),
		Kind:          apptbridge.TextKind(str(row[4])),
		Phone:         str(row[5]),
		Language:      str(row[6]),
		Snapshot:      []byte(str(row[7])),
		Body:          str(row[8]),
		AsksReply:     boolean(row[9]),
		Immediate:     boolean(row[10]),
		Status:        str(row[11]),
		Reason:        str(row[12]),
		SID:           str(row[13]),
		ErrorCode:     int(integer(row[14])),
		Attempts:      int(integer(row[15])),
		NextAttemptAt: fromUS(integer(row[16])),
		LeaseOwner:    str(row[17]),
		LeaseUntil:    fromUS(integer(row[18])),
		SentAt:        fromUS(integer(row[19])),
		CreatedAt:     fromUS(integer(row[20])),
		UpdatedAt:     fromUS(integer(row[21])),
	}
	if len(t.Snapshot) == 0 {
		t.Snapshot = nil
	}
	return t, nil
}

func (t tx) SaveText(ctx context.Context, owner string, x *store.Text) error {
	return t.b.saveText(ctx, owner, x, t.db.now())
}

func (b *batch) saveText(ctx context.Context, owner string, x *store.Text, now time.Time) error {
	x.UpdatedAt = now
	var sid any
	if x.SID != "" {
		sid = x.SID
	}
	n, err := b.exec(ctx, `UPDATE texts SET body = $1, status = $2, reason = $3, sid = $4, error_code = $5,
		attempts = $6, next_attempt_at = $7, lease_owner = $8, lease_until = $9, sent_at = $10, updated_at = $11
		WHERE id = $12 AND lease_owner = $13`,
		x.Body, x.Status, x.Reason, sid, int64(x.ErrorCode), int64(x.Attempts), us(x.NextAttemptAt),
		x.LeaseOwner, us(x.LeaseUntil), us(x.SentAt), us(x.UpdatedAt), x.ID, owner)
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
		err := b.query(ctx, `SELECT `+textCols+` FROM texts
			WHERE status IN ('pending', 'attempting') AND next_attempt_at <= $1
			AND (lease_owner = '' OR lease_until <= $1)
			ORDER BY next_attempt_at, id LIMIT $2`, func(row []driver.Value) error {
			t, err := scanText(row)
			if err == nil {
				out = append(out, t)
			}
			return err
		}, micros(now), int64(limit))
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
		err := b.query(ctx, `SELECT `+textCols+` FROM texts WHERE sid = $1`, func(row []driver.Value) error {
			var err error
			t, err = scanText(row)
			return err
		}, sid)
		if err != nil {
			return err
		}
		if t == nil {
			return notFound("text")
		}
		if store.StatusRank(status) <= store.StatusRank(t.Status) {
			return nil
		}
		now := db.now()
		if errorCode == 0 {
			errorCode = t.ErrorCode
		}
		if _, err := b.exec(ctx, `UPDATE texts SET status = $1, error_code = $2, updated_at = $3 WHERE id = $4`,
			status, int64(errorCode), micros(now), t.ID); err != nil {
			return err
		}
		t.Status, t.ErrorCode, t.UpdatedAt = status, errorCode, now
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
	var w where
	w.add("appointment_id = ?", f.AppointmentID)
	w.add("phone = ?", f.Phone)
	w.add("direction = ?", f.Direction)
	q, args := w.query("SELECT "+textCols+" FROM texts", "created_at DESC, id DESC", f.Limit)
	var out []*store.Text
	err := db.readRows(ctx, q, args, 22, func(row []driver.Value) error {
		t, err := scanText(row)
		if err == nil {
			out = append(out, t)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: texts: %w", err)
	}
	return out, nil
}
