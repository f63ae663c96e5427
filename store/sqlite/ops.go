package sqlite

// Queue statistics, API tokens and lease release.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/internal/sqlrow"
)

// QueueStats implements store.Outbox.
func (db *DB) QueueStats(ctx context.Context) ([]store.QueueStat, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: queue stats: %w", store.ErrClosed)
	}
	out := make([]store.QueueStat, 0, 3)
	for _, q := range []struct{ name, sql string }{
		{"texts", `SELECT COUNT(*), MIN(created_at) FROM texts WHERE status IN ('pending', 'attempting')`},
		{"requests", `SELECT COUNT(*), MIN(created_at) FROM requests WHERE status IN ('pending', 'sending')`},
		{"dead_requests", `SELECT COUNT(*), MIN(created_at) FROM requests WHERE status = 'dead'`},
	} {
		var (
			n      int
			oldest sql.NullInt64
		)
		if err := db.rdb.QueryRowContext(ctx, q.sql).Scan(&n, &oldest); err != nil {
			return nil, fmt.Errorf("sqlite: queue stats: %w", err)
		}
		s := store.QueueStat{Queue: q.name, Depth: n}
		if oldest.Valid {
			s.Oldest = sqlrow.FromUS(oldest.Int64)
		}
		out = append(out, s)
	}
	return out, nil
}

// CreateToken implements store.Outbox.
func (db *DB) CreateToken(ctx context.Context, t *store.Token) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: create token: %w", store.ErrClosed)
	}
	if t == nil || t.ID == "" || t.Name == "" {
		return fmt.Errorf("sqlite: create token: %w", invalid("token id and name required"))
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = db.now()
	}
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		_, err := w.b.exec(ctx, `INSERT INTO api_tokens (id, name, hash, created_at, revoked_at)
			VALUES ($1, $2, $3, $4, $5)`, t.ID, t.Name, t.Hash[:], sqlrow.US(t.CreatedAt), sqlrow.US(t.RevokedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create token: %w", err)
	}
	return nil
}

// TokenByHash implements store.Outbox.
func (db *DB) TokenByHash(ctx context.Context, h store.Hash) (*store.Token, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: token: %w", store.ErrClosed)
	}
	var (
		t         = &store.Token{Hash: h}
		c, r      int64
		hashBytes []byte
	)
	err := db.rdb.QueryRowContext(ctx, `SELECT id, name, hash, created_at, revoked_at FROM api_tokens
		WHERE hash = $1 AND revoked_at = 0`, h[:]).Scan(&t.ID, &t.Name, &hashBytes, &c, &r)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: token: %w", notFound("token"))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: token: %w", err)
	}
	t.CreatedAt, t.RevokedAt = sqlrow.FromUS(c), sqlrow.FromUS(r)
	return t, nil
}

// ReleaseLeases makes every leased text and request due now, and frees
// leased reminders. The embedded
// store serves one process, so at start-up every lease belongs to a
// process that is gone: without this, its texts would wait for their
// leases to run out (minutes) after a crash. Not part of store.Outbox: a
// shared backend must let leases expire instead.
func (db *DB) ReleaseLeases(ctx context.Context, now time.Time) (int, error) {
	if db.closed.Load() {
		return 0, fmt.Errorf("sqlite: release leases: %w", store.ErrClosed)
	}
	var n int64
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		n = 0
		now := micros(store.Instant(now))
		a, err := w.b.exec(ctx, `UPDATE texts SET lease_owner = '', lease_until = 0, next_attempt_at = $1
			WHERE status IN ('pending', 'attempting') AND lease_owner <> ''`, now)
		if err != nil {
			return err
		}
		b, err := w.b.exec(ctx, `UPDATE requests SET lease_owner = '', lease_until = 0, next_attempt_at = $1,
			status = 'pending' WHERE status IN ('pending', 'sending') AND lease_owner <> ''`, now)
		if err != nil {
			return err
		}
		c, err := w.b.exec(ctx, `UPDATE reminders SET lease_owner = '', lease_until = 0
			WHERE status = 'planned' AND lease_owner <> ''`)
		if err != nil {
			return err
		}
		d, err := w.b.exec(ctx, `UPDATE archive_jobs SET lease_owner = '', lease_until = 0, next_attempt_at = $1
			WHERE lease_owner <> ''`, now)
		n = a + b + c + d
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: release leases: %w", err)
	}
	return int(n), nil
}
