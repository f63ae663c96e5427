package postgres

// The admin page's side of the store (store.Admin): secrets, sign-in
// codes, sessions, the audit log, and the dashboard's, timeline's and
// exports' reads.
//
// Writes whose outcome is an error the caller must see but whose change
// must commit (a wrong code counted, a session ended) return nil from the
// transaction's function and the error after it.

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/internal/sqlrow"
)

// MaxLimit caps the page size of Audit and HistorySince.
const MaxLimit = store.MaxPageSize

// pageSize is the contract's page size (store.PageSize).
func pageSize(limit int) int { return store.PageSize(limit) }

// Secret implements store.Admin: the first process to insert the secret
// wins (ON CONFLICT DO NOTHING); every caller returns the stored bytes.
func (db *DB) Secret(ctx context.Context, name string, gen func() []byte) ([]byte, error) {
	if db.closed.Load() {
		return nil, opErr("secret", store.ErrClosed)
	}
	if name == "" || gen == nil {
		return nil, opErr("secret", invalid("secret name and generator required"))
	}
	var v []byte
	err := db.pool.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: secret %s: %w", name, err)
	}
	fresh := gen()
	if len(fresh) == 0 {
		return nil, fmt.Errorf("postgres: secret %s: %w", name, invalid("secret generator returned no bytes"))
	}
	now := db.now()
	err = db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		v = nil
		if _, err := ptx.Exec(ctx, `INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO NOTHING`, name, fresh, micros(now)); err != nil {
			return err
		}
		return ptx.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&v)
	})
	if err == nil && len(v) == 0 {
		err = errors.New("stored secret is empty")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: secret %s: %w", name, err)
	}
	return v, nil
}

// SaveLoginCode implements store.Admin.
func (db *DB) SaveLoginCode(ctx context.Context, c *store.LoginCode) error {
	if db.closed.Load() {
		return opErr("save login code", store.ErrClosed)
	}
	if c == nil || c.ID == "" || c.ExpiresAt.IsZero() || c.MaxTries <= 0 {
		return opErr("save login code", invalid("code id, expiry and tries required"))
	}
	c.ExpiresAt = store.Instant(c.ExpiresAt)
	c.CreatedAt = store.Instant(c.CreatedAt)
	if c.CreatedAt.IsZero() {
		c.CreatedAt = db.now()
	}
	return opErr("save login code", db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		_, err := ptx.Exec(ctx, `INSERT INTO login_codes (id, hash, expires_at, max_tries, wrong, used_at, created_at)
			VALUES ($1, $2, $3, $4, 0, 0, $5)`, c.ID, c.Hash[:], micros(c.ExpiresAt), int32(c.MaxTries), micros(c.CreatedAt))
		return err
	}))
}

// UseLoginCode implements store.Admin. The code's row is locked (FOR
// UPDATE) while the answer is checked and counted, so concurrent guesses,
// from any process, are counted one after the other and at most one is
// accepted. match may run more than once.
func (db *DB) UseLoginCode(ctx context.Context, id string, now time.Time, match func(store.Hash) bool) (int, error) {
	if db.closed.Load() {
		return 0, opErr("use login code", store.ErrClosed)
	}
	if match == nil {
		return 0, opErr("use login code", invalid("match required"))
	}
	now = store.Instant(now)
	if now.IsZero() {
		now = db.now()
	}
	at := micros(now)
	var (
		left    int
		outcome error
	)
	err := db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		left, outcome = 0, nil
		var (
			hash            []byte
			h               store.Hash
			expires, used   int64
			maxTries, wrong int32
		)
		err := ptx.QueryRow(ctx, `SELECT hash, expires_at, max_tries, wrong, used_at FROM login_codes
			WHERE id = $1 FOR UPDATE`, id).Scan(&hash, &expires, &maxTries, &wrong, &used)
		found := err == nil
		switch {
		case err != nil && !errors.Is(err, pgx.ErrNoRows):
			return err
		case !found || used != 0 || at >= expires:
			outcome = store.ErrCodeExpired
			return nil
		case wrong >= maxTries:
			outcome = store.ErrCodeLocked
			return nil
		}
		copy(h[:], hash)
		if match(h) {
			left = int(maxTries - wrong)
			_, err := ptx.Exec(ctx, `UPDATE login_codes SET used_at = $1 WHERE id = $2`, at, id)
			return err
		}
		left, outcome = int(maxTries-wrong-1), store.ErrCodeWrong
		_, err = ptx.Exec(ctx, `UPDATE login_codes SET wrong = wrong + 1 WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return 0, opErr("use login code", err)
	}
	if outcome != nil {
		return left, opErr("use login code", outcome)
	}
	return left, nil
}

// CreateSession implements store.Admin. A zero CreatedAt is the store's
// clock, a zero LastSeenAt CreatedAt.
func (db *DB) CreateSession(ctx context.Context, s *store.Session) error {
	if db.closed.Load() {
		return opErr("create session", store.ErrClosed)
	}
	if s == nil || s.ID == "" || s.ExpiresAt.IsZero() {
		return opErr("create session", invalid("session id and expiry required"))
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = store.Instant(s.CreatedAt), store.Instant(s.LastSeenAt), store.Instant(s.ExpiresAt)
	s.EndedAt = store.Instant(s.EndedAt)
	if s.CreatedAt.IsZero() {
		s.CreatedAt = db.now()
	}
	if s.LastSeenAt.IsZero() {
		s.LastSeenAt = s.CreatedAt
	}
	return opErr("create session", db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		_, err := ptx.Exec(ctx, `INSERT INTO admin_sessions (`+sqlrow.SessionCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			s.ID, sqlrow.US(s.CreatedAt), sqlrow.US(s.LastSeenAt), sqlrow.US(s.ExpiresAt), sqlrow.US(s.EndedAt), s.EndReason)
		return err
	}))
}

// TouchSession implements store.Admin (the session's row locked while it
// is checked and moved).
func (db *DB) TouchSession(ctx context.Context, id string, now time.Time, idle time.Duration, touch bool) (*store.Session, error) {
	if db.closed.Load() {
		return nil, opErr("touch session", store.ErrClosed)
	}
	if idle <= 0 {
		return nil, opErr("touch session", invalid("idle timeout required"))
	}
	now = store.Instant(now)
	if now.IsZero() {
		now = db.now()
	}
	var (
		s     *store.Session
		ended bool
	)
	err := db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		s, ended = nil, false
		var err error
		s, err = queryOne(ctx, ptx, sqlrow.Session, `SELECT `+sqlrow.SessionCols+` FROM admin_sessions WHERE id = $1 FOR UPDATE`, id)
		if errors.Is(err, pgx.ErrNoRows) {
			s = nil
			return nil
		}
		if err != nil {
			return err
		}
		reason := ""
		switch {
		case !s.EndedAt.IsZero():
			ended = true
			return nil
		case !now.Before(s.ExpiresAt):
			reason = "expired"
		case now.Sub(s.LastSeenAt) > idle:
			reason = "idle"
		default:
			if !touch || !now.After(s.LastSeenAt) {
				return nil
			}
			s.LastSeenAt = now
			_, err := ptx.Exec(ctx, `UPDATE admin_sessions SET last_seen_at = $1 WHERE id = $2`, micros(s.LastSeenAt), id)
			return err
		}
		ended, s.EndedAt, s.EndReason = true, now, reason
		_, err = ptx.Exec(ctx, `UPDATE admin_sessions SET ended_at = $1, end_reason = $2 WHERE id = $3`,
			micros(now), reason, id)
		return err
	})
	switch {
	case err != nil:
		return nil, opErr("touch session", err)
	case s == nil:
		return nil, fmt.Errorf("postgres: touch session: %w: %w", store.ErrSessionEnded, notFound("session"))
	case ended:
		return s, fmt.Errorf("postgres: touch session: %w (%s)", store.ErrSessionEnded, s.EndReason)
	}
	return s, nil
}

// EndSession implements store.Admin: the first end (and its reason)
// stays; an unknown session is nothing to end.
func (db *DB) EndSession(ctx context.Context, id, reason string, now time.Time) error {
	if db.closed.Load() {
		return opErr("end session", store.ErrClosed)
	}
	now = store.Instant(now)
	if now.IsZero() {
		now = db.now()
	}
	if reason == "" {
		reason = "ended"
	}
	return opErr("end session", db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		_, err := ptx.Exec(ctx, `UPDATE admin_sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at = 0`,
			micros(now), reason, id)
		return err
	}))
}

// AppendAudit implements store.Admin. Appenders, in every process, take
// the schema's audit advisory lock (pg_advisory_xact_lock) before reading
// the last entry, and seq is the primary key: the chain cannot fork.
func (db *DB) AppendAudit(ctx context.Context, e *store.AuditEntry) error {
	if db.closed.Load() {
		return opErr("append audit", store.ErrClosed)
	}
	if e == nil || e.Action == "" {
		return opErr("append audit", invalid("audit action required"))
	}
	e.At = store.Instant(e.At)
	if e.At.IsZero() {
		e.At = db.now()
	}
	return opErr("append audit", db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		if _, err := ptx.Exec(ctx, lockSQL, int32(lockAudit)); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		var (
			lastSeq int64
			hash    []byte
			last    store.Hash
		)
		err := ptx.QueryRow(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&lastSeq, &hash)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		copy(last[:], hash)
		e.Link(lastSeq, last)
		_, err = ptx.Exec(ctx, sqlrow.InsertAudit, sqlrow.AuditArgs(e)...)
		return err
	}))
}

// Audit implements store.Admin.
func (db *DB) Audit(ctx context.Context, f store.AuditFilter) ([]*store.AuditEntry, error) {
	if db.closed.Load() {
		return nil, opErr("audit", store.ErrClosed)
	}
	out, err := queryAll(ctx, db.pool, sqlrow.Audit, `SELECT `+sqlrow.AuditCols+` FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`,
		f.AfterSeq, int64(pageSize(f.Limit)))
	if err != nil {
		return nil, opErr("audit", err)
	}
	return out, nil
}

// Stats implements store.Admin.
func (db *DB) Stats(ctx context.Context, now time.Time) (*store.Stats, error) {
	if db.closed.Load() {
		return nil, opErr("stats", store.ErrClosed)
	}
	now = store.Instant(now)
	hourAgo, dayAgo := micros(now.Add(-time.Hour)), micros(now.Add(-24*time.Hour))
	st := &store.Stats{Dispositions: map[apptbridge.Disposition]int{}}
	wrap := func(what string, err error) error { return fmt.Errorf("postgres: stats: %s: %w", what, err) }

	rows, err := db.pool.Query(ctx, `SELECT disposition, COUNT(*) FROM appointments GROUP BY disposition`)
	if err != nil {
		return nil, wrap("dispositions", err)
	}
	for rows.Next() {
		var (
			d string
			n int64
		)
		if err := rows.Scan(&d, &n); err != nil {
			rows.Close()
			return nil, wrap("dispositions", err)
		}
		st.Dispositions[apptbridge.Disposition(d)] = int(n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap("dispositions", err)
	}

	var (
		total, errs int64
		last        *int64
	)
	if err := db.pool.QueryRow(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE ack_code NOT IN ('AA', 'CA'))
		FROM inbound WHERE received_at >= $1`, hourAgo).Scan(&total, &errs); err != nil {
		return nil, wrap("inbound", err)
	}
	st.InboundLastHour, st.InboundErrorLastHour = int(total), int(errs)
	if err := db.pool.QueryRow(ctx, `SELECT MAX(received_at) FROM inbound`).Scan(&last); err != nil {
		return nil, wrap("inbound", err)
	}
	if last != nil {
		st.InboundLastAt = fromMicros(*last)
	}

	if st.Queues, err = db.QueueStats(ctx); err != nil {
		return nil, wrap("queues", err)
	}
	for _, c := range []struct {
		what string
		n    *int
		q    string
		args []any
	}{
		{"texts sent", &st.TextsSent24h, sqlrow.StatsTextsSent, []any{dayAgo}},
		{"texts failed", &st.TextsFailed24h, sqlrow.StatsTextsFailed, []any{dayAgo}},
		{"dead requests", &st.RequestsDead, `SELECT COUNT(*) FROM requests WHERE status = 'dead'`, nil},
		{"reminders planned", &st.RemindersPlanned, `SELECT COUNT(*) FROM reminders WHERE status = 'planned'`, nil},
		{"reminders sent", &st.RemindersSent24h, `SELECT COUNT(*) FROM reminders WHERE status = 'sent'
			AND updated_at >= $1`, []any{dayAgo}},
		{"reminders skipped", &st.RemindersSkip24h, `SELECT COUNT(*) FROM reminders WHERE status = 'skipped'
			AND updated_at >= $1`, []any{dayAgo}},
	} {
		var n int64
		if err := db.pool.QueryRow(ctx, c.q, c.args...).Scan(&n); err != nil {
			return nil, wrap(c.what, err)
		}
		*c.n = int(n)
	}
	if st.RemindersNextDue, err = db.NextReminderDue(ctx); err != nil {
		return nil, wrap("reminders", err)
	}
	return st, nil
}

// InboundOf implements store.Admin: the inbound rows of the appointment's
// events, oldest first.
func (db *DB) InboundOf(ctx context.Context, id string) ([]*store.InboundRecord, error) {
	if db.closed.Load() {
		return nil, opErr("inbound of", store.ErrClosed)
	}
	out, err := queryAll(ctx, db.pool, sqlrow.Inbound, sqlrow.InboundOf, id)
	if err != nil {
		return nil, fmt.Errorf("postgres: inbound of %s: %w", id, err)
	}
	return out, nil
}

// HistorySince implements store.Admin.
func (db *DB) HistorySince(ctx context.Context, afterSeq int64, limit int) ([]store.HistoryEntry, error) {
	if db.closed.Load() {
		return nil, opErr("history since", store.ErrClosed)
	}
	out, err := db.history(ctx, `SELECT `+sqlrow.HistoryCols+` FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`,
		afterSeq, int64(pageSize(limit)))
	if err != nil {
		return nil, fmt.Errorf("postgres: history since %d: %w", afterSeq, err)
	}
	return out, nil
}

// HistoryHorizon implements store.Admin. A history write holds a ROW
// EXCLUSIVE lock on events from its INSERT (where its seq is drawn) to
// its COMMIT; SHARE mode waits for every such writer in flight and keeps
// new ones out while the last seq is read. Every seq up to it is then
// committed or rolled back for good. Writers wait for the few
// milliseconds this takes (at most lock_timeout, then an error).
func (db *DB) HistoryHorizon(ctx context.Context) (int64, error) {
	if db.closed.Load() {
		return 0, opErr("history horizon", store.ErrClosed)
	}
	var seq int64
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '5s'`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `LOCK TABLE events IN SHARE MODE`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&seq)
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: history horizon: %w", err)
	}
	return seq, nil
}

// AddSignInFailure implements store.Admin: the insert and the pruning of
// expired failures are one transaction.
func (db *DB) AddSignInFailure(ctx context.Context, key string, at, expires time.Time) error {
	if db.closed.Load() {
		return opErr("add sign-in failure", store.ErrClosed)
	}
	if key == "" || at.IsZero() || !expires.After(at) {
		return opErr("add sign-in failure", invalid("key, time and a later expiry required"))
	}
	return opErr("add sign-in failure", db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		if _, err := ptx.Exec(ctx, sqlrow.PruneSignInFailures, micros(at)); err != nil {
			return err
		}
		_, err := ptx.Exec(ctx, sqlrow.InsertSignInFailure, key, micros(at), micros(expires))
		return err
	}))
}

// SignInFailures implements store.Admin.
func (db *DB) SignInFailures(ctx context.Context, key string, since time.Time, limit int) ([]time.Time, error) {
	if db.closed.Load() {
		return nil, opErr("sign-in failures", store.ErrClosed)
	}
	if key == "" || limit <= 0 || limit > store.MaxPageSize {
		return nil, opErr("sign-in failures", invalid("key and a limit of 1 to 1000 required"))
	}
	out, err := queryAll(ctx, db.pool, func(row []driver.Value) (time.Time, error) {
		return sqlrow.FromMicros(sqlrow.Int(row[0])), nil
	}, sqlrow.SignInFailures, key, micros(since), int64(limit))
	if err != nil {
		return nil, opErr("sign-in failures", err)
	}
	return out, nil
}

// ResetSignInFailures implements store.Admin.
func (db *DB) ResetSignInFailures(ctx context.Context, key string) error {
	if db.closed.Load() {
		return opErr("reset sign-in failures", store.ErrClosed)
	}
	return opErr("reset sign-in failures", db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		_, err := ptx.Exec(ctx, sqlrow.ResetSignInFailures, key)
		return err
	}))
}
