package postgres

// Texts: the outbox rows of SMS (and inbound replies) and their
// worker-side operations.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
	var sid *string
	if t.SID != "" {
		sid = &t.SID
	}
	return []any{t.ID, t.Direction, t.AppointmentID, t.EventID, string(t.Kind), t.Phone, t.Language,
		string(t.Snapshot), t.Body, t.AsksReply, t.Immediate, t.Status, t.Reason, sid, int32(t.ErrorCode),
		int32(t.Attempts), us(t.NextAttemptAt), t.LeaseOwner, us(t.LeaseUntil), us(t.SentAt),
		us(t.CreatedAt), us(t.UpdatedAt)}
}

// scanText decodes a row of textCols.
func scanText(row pgx.Row) (*store.Text, error) {
	var (
		t                                   store.Text
		kind, snapshot                      string
		sid                                 *string
		errorCode, attempts                 int32
		next, leaseUntil, sent, created, up int64
	)
	err := row.Scan(&t.ID, &t.Direction, &t.AppointmentID, &t.EventID, &kind, &t.Phone, &t.Language,
		&snapshot, &t.Body, &t.AsksReply, &t.Immediate, &t.Status, &t.Reason, &sid, &errorCode, &attempts,
		&next, &t.LeaseOwner, &leaseUntil, &sent, &created, &up)
	if err != nil {
		return nil, err
	}
	t.Kind = apptbridge.TextKind(kind)
	if snapshot != "" {
		t.Snapshot = []byte(snapshot)
	}
	if sid != nil {
		t.SID = *sid
	}
	t.ErrorCode, t.Attempts = int(errorCode), int(attempts)
	t.NextAttemptAt, t.LeaseUntil, t.SentAt = fromUS(next), fromUS(leaseUntil), fromUS(sent)
	t.CreatedAt, t.UpdatedAt = fromUS(created), fromUS(up)
	return &t, nil
}

// queryTexts runs q (a query of textCols) on db (the pool or a
// transaction) and decodes its rows.
func queryTexts(ctx context.Context, db querier, q string, args ...any) ([]*store.Text, error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Text
	for rows.Next() {
		t, err := scanText(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// querier is what the pool and a transaction share.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (w wtx) saveText(ctx context.Context, owner string, x *store.Text, now time.Time) error {
	x.UpdatedAt = now
	var sid *string
	if x.SID != "" {
		sid = &x.SID
	}
	n, err := w.exec(ctx, `UPDATE texts SET body = $1, status = $2, reason = $3, sid = $4, error_code = $5,
		attempts = $6, next_attempt_at = $7, lease_owner = $8, lease_until = $9, sent_at = $10, updated_at = $11
		WHERE id = $12 AND lease_owner = $13`,
		x.Body, x.Status, x.Reason, sid, int32(x.ErrorCode), int32(x.Attempts), us(x.NextAttemptAt),
		x.LeaseOwner, us(x.LeaseUntil), us(x.SentAt), us(x.UpdatedAt), x.ID, owner)
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
		out, err = queryTexts(ctx, ptx, `WITH c AS (
				SELECT id, next_attempt_at AS due FROM texts
				WHERE status IN ('pending', 'attempting') AND next_attempt_at <= $3
				AND (lease_owner = '' OR lease_until <= $3)
				ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED),
			u AS (UPDATE texts t SET lease_owner = $1, lease_until = $2, next_attempt_at = $2
				FROM c WHERE t.id = c.id RETURNING c.due, t.*)
			SELECT `+textCols+` FROM u ORDER BY due, id`, owner, micros(until), micros(now), int64(limit))
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
		t, err = scanText(ptx.QueryRow(ctx, `SELECT `+textCols+` FROM texts WHERE sid = $1 FOR UPDATE`, sid))
		if errors.Is(err, pgx.ErrNoRows) {
			t = nil
			return notFound("text")
		}
		if err != nil {
			return err
		}
		if store.StatusRank(status) <= store.StatusRank(t.Status) {
			return nil
		}
		now := db.now()
		code := errorCode
		if code == 0 {
			code = t.ErrorCode
		}
		if _, err := ptx.Exec(ctx, `UPDATE texts SET status = $1, error_code = $2, updated_at = $3 WHERE id = $4`,
			status, int32(code), micros(now), t.ID); err != nil {
			return err
		}
		t.Status, t.ErrorCode, t.UpdatedAt = status, code, now
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
	var w where
	w.add("appointment_id = ?", f.AppointmentID)
	w.add("phone = ?", f.Phone)
	w.add("direction = ?", f.Direction)
	q, args := w.query("SELECT "+textCols+" FROM texts", "created_at DESC, id DESC", f.Limit)
	out, err := queryTexts(ctx, db.pool, q, args...)
	if err != nil {
		return nil, opErr("texts", err)
	}
	return out, nil
}
