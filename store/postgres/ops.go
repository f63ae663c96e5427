package postgres

// Queue statistics and API tokens.

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/internal/sqlrow"
)

// QueueStats implements store.Outbox.
func (db *DB) QueueStats(ctx context.Context) ([]store.QueueStat, error) {
	if db.closed.Load() {
		return nil, opErr("queue stats", store.ErrClosed)
	}
	out := make([]store.QueueStat, 0, 3)
	for _, q := range []struct{ name, sql string }{
		{"texts", `SELECT COUNT(*), MIN(created_at) FROM texts WHERE status IN ('pending', 'attempting')`},
		{"requests", `SELECT COUNT(*), MIN(created_at) FROM requests WHERE status IN ('pending', 'sending')`},
		{"dead_requests", `SELECT COUNT(*), MIN(created_at) FROM requests WHERE status = 'dead'`},
	} {
		var (
			n      int64
			oldest *int64
		)
		if err := db.pool.QueryRow(ctx, q.sql).Scan(&n, &oldest); err != nil {
			return nil, opErr("queue stats", err)
		}
		s := store.QueueStat{Queue: q.name, Depth: int(n)}
		if oldest != nil {
			s.Oldest = sqlrow.FromUS(*oldest)
		}
		out = append(out, s)
	}
	return out, nil
}

// CreateToken implements store.Outbox.
func (db *DB) CreateToken(ctx context.Context, t *store.Token) error {
	if db.closed.Load() {
		return opErr("create token", store.ErrClosed)
	}
	if t == nil || t.ID == "" || t.Name == "" {
		return opErr("create token", invalid("token id and name required"))
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = db.now()
	}
	return opErr("create token", db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		_, err := ptx.Exec(ctx, `INSERT INTO api_tokens (id, name, hash, created_at, revoked_at)
			VALUES ($1, $2, $3, $4, $5)`, t.ID, t.Name, t.Hash[:], sqlrow.US(t.CreatedAt), sqlrow.US(t.RevokedAt))
		return err
	}))
}

// TokenByHash implements store.Outbox.
func (db *DB) TokenByHash(ctx context.Context, h store.Hash) (*store.Token, error) {
	if db.closed.Load() {
		return nil, opErr("token", store.ErrClosed)
	}
	var (
		t         = &store.Token{Hash: h}
		c, r      int64
		hashBytes []byte
	)
	err := db.pool.QueryRow(ctx, `SELECT id, name, hash, created_at, revoked_at FROM api_tokens
		WHERE hash = $1 AND revoked_at = 0`, h[:]).Scan(&t.ID, &t.Name, &hashBytes, &c, &r)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, opErr("token", notFound("token"))
	}
	if err != nil {
		return nil, opErr("token", err)
	}
	t.CreatedAt, t.RevokedAt = sqlrow.FromUS(c), sqlrow.FromUS(r)
	return t, nil
}

// No ReleaseLeases: several processes share the database, so a lease
// held by another (live) process must run out instead of being taken at
// start-up; a crashed process's leases expire and any process claims the
// rows then.
