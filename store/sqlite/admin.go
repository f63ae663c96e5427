package sqlite

// The admin page's side of the store (store.Admin, schema version 5):
// secrets, sign-in codes, sessions, the audit log, and the dashboard's,
// timeline's and exports' reads.
//
// Writes whose outcome is an error the caller must see but whose change
// must commit (a wrong code counted, a session ended) return nil from the
// writer's function and the error after it: an error returned inside
// would roll the change back.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/internal/sqlrow"
)

// MaxLimit caps the page size of Audit and HistorySince.
const MaxLimit = store.MaxPageSize

// pageSize is the contract's page size (store.PageSize).
func pageSize(limit int) int { return store.PageSize(limit) }

// Secret implements store.Admin. The insert changes nothing when another
// caller (or process) stored the secret first; everyone returns the
// stored bytes.
func (db *DB) Secret(ctx context.Context, name string, gen func() []byte) ([]byte, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: secret: %w", store.ErrClosed)
	}
	if name == "" || gen == nil {
		return nil, fmt.Errorf("sqlite: secret: %w", invalid("secret name and generator required"))
	}
	var v []byte
	err := db.rdb.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: secret %s: %w", name, err)
	}
	fresh := gen()
	if len(fresh) == 0 {
		return nil, fmt.Errorf("sqlite: secret %s: %w", name, invalid("secret generator returned no bytes"))
	}
	now := db.now()
	err = db.w.do(ctx, func(ctx context.Context, w wtx) error {
		v = nil
		if _, err := w.b.exec(ctx, `INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO NOTHING`, name, fresh, micros(now)); err != nil {
			return err
		}
		return w.b.query(ctx, `SELECT value FROM secrets WHERE name = $1`, func(row []driver.Value) error {
			v = sqlrow.Bytes(row[0])
			return nil
		}, name)
	})
	if err == nil && len(v) == 0 {
		err = errors.New("stored secret is empty")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: secret %s: %w", name, err)
	}
	return v, nil
}

// SaveLoginCode implements store.Admin.
func (db *DB) SaveLoginCode(ctx context.Context, c *store.LoginCode) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: save login code: %w", store.ErrClosed)
	}
	if c == nil || c.ID == "" || c.ExpiresAt.IsZero() || c.MaxTries <= 0 {
		return fmt.Errorf("sqlite: save login code: %w", invalid("code id, expiry and tries required"))
	}
	c.ExpiresAt = store.Instant(c.ExpiresAt)
	c.CreatedAt = store.Instant(c.CreatedAt)
	if c.CreatedAt.IsZero() {
		c.CreatedAt = db.now()
	}
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		_, err := w.b.exec(ctx, `INSERT INTO login_codes (id, hash, expires_at, max_tries, wrong, used_at, created_at)
			VALUES ($1, $2, $3, $4, 0, 0, $5)`, c.ID, c.Hash[:], micros(c.ExpiresAt), int64(c.MaxTries), micros(c.CreatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: save login code: %w", err)
	}
	return nil
}

// UseLoginCode implements store.Admin. The check, match and the count of
// the answer happen in one write transaction, so concurrent guesses are
// counted one after the other and at most one is accepted. match runs on
// the writer goroutine (it must be fast) and possibly more than once.
func (db *DB) UseLoginCode(ctx context.Context, id string, now time.Time, match func(store.Hash) bool) (int, error) {
	if db.closed.Load() {
		return 0, fmt.Errorf("sqlite: use login code: %w", store.ErrClosed)
	}
	if match == nil {
		return 0, fmt.Errorf("sqlite: use login code: %w", invalid("match required"))
	}
	now = store.Instant(now)
	if now.IsZero() {
		now = db.now()
	}
	at := micros(now)
	var (
		left    int
		outcome error // the answer's outcome, returned once it committed
	)
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		left, outcome = 0, nil
		var (
			found           bool
			h               store.Hash
			expires, used   int64
			maxTries, wrong int
		)
		err := w.b.query(ctx, `SELECT hash, expires_at, max_tries, wrong, used_at FROM login_codes WHERE id = $1`,
			func(row []driver.Value) error {
				found = true
				copy(h[:], sqlrow.Bytes(row[0]))
				expires, maxTries, wrong, used = sqlrow.Int(row[1]), int(sqlrow.Int(row[2])), int(sqlrow.Int(row[3])), sqlrow.Int(row[4])
				return nil
			}, id)
		switch {
		case err != nil:
			return err
		case !found || used != 0 || at >= expires:
			outcome = store.ErrCodeExpired
			return nil
		case wrong >= maxTries:
			outcome = store.ErrCodeLocked
			return nil
		}
		if match(h) {
			left = maxTries - wrong
			_, err := w.b.exec(ctx, `UPDATE login_codes SET used_at = $1 WHERE id = $2`, at, id)
			return err
		}
		left, outcome = maxTries-wrong-1, store.ErrCodeWrong
		_, err = w.b.exec(ctx, `UPDATE login_codes SET wrong = wrong + 1 WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: use login code: %w", err)
	}
	if outcome != nil {
		return left, fmt.Errorf("sqlite: use login code: %w", outcome)
	}
	return left, nil
}

// CreateSession implements store.Admin. A zero CreatedAt is the store's
// clock, a zero LastSeenAt CreatedAt.
func (db *DB) CreateSession(ctx context.Context, s *store.Session) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: create session: %w", store.ErrClosed)
	}
	if s == nil || s.ID == "" || s.ExpiresAt.IsZero() {
		return fmt.Errorf("sqlite: create session: %w", invalid("session id and expiry required"))
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = store.Instant(s.CreatedAt), store.Instant(s.LastSeenAt), store.Instant(s.ExpiresAt)
	s.EndedAt = store.Instant(s.EndedAt)
	if s.CreatedAt.IsZero() {
		s.CreatedAt = db.now()
	}
	if s.LastSeenAt.IsZero() {
		s.LastSeenAt = s.CreatedAt
	}
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		_, err := w.b.exec(ctx, `INSERT INTO admin_sessions (`+sqlrow.SessionCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			s.ID, sqlrow.US(s.CreatedAt), sqlrow.US(s.LastSeenAt), sqlrow.US(s.ExpiresAt), sqlrow.US(s.EndedAt), s.EndReason)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create session: %w", err)
	}
	return nil
}

// TouchSession implements store.Admin. With ErrSessionEnded it also
// returns the (ended) session, so the caller can tell why; an unknown
// session is ErrSessionEnded too, and ENOTFOUND.
func (db *DB) TouchSession(ctx context.Context, id string, now time.Time, idle time.Duration, touch bool) (*store.Session, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: touch session: %w", store.ErrClosed)
	}
	if idle <= 0 {
		return nil, fmt.Errorf("sqlite: touch session: %w", invalid("idle timeout required"))
	}
	now = store.Instant(now)
	if now.IsZero() {
		now = db.now()
	}
	var (
		s     *store.Session
		ended bool // the session is (now) ended; its end committed with the request
	)
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		s, ended = nil, false
		err := w.b.query(ctx, `SELECT `+sqlrow.SessionCols+` FROM admin_sessions WHERE id = $1`, func(row []driver.Value) error {
			var err error
			s, err = sqlrow.Session(row)
			return err
		}, id)
		if err != nil || s == nil {
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
			_, err := w.b.exec(ctx, `UPDATE admin_sessions SET last_seen_at = $1 WHERE id = $2`, micros(s.LastSeenAt), id)
			return err
		}
		ended, s.EndedAt, s.EndReason = true, now, reason
		_, err = w.b.exec(ctx, `UPDATE admin_sessions SET ended_at = $1, end_reason = $2 WHERE id = $3`,
			micros(now), reason, id)
		return err
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("sqlite: touch session: %w", err)
	case s == nil:
		return nil, fmt.Errorf("sqlite: touch session: %w: %w", store.ErrSessionEnded, notFound("session"))
	case ended:
		return s, fmt.Errorf("sqlite: touch session: %w (%s)", store.ErrSessionEnded, s.EndReason)
	}
	return s, nil
}

// EndSession implements store.Admin: the first end (and its reason)
// stays; an unknown session is nothing to end.
func (db *DB) EndSession(ctx context.Context, id, reason string, now time.Time) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: end session: %w", store.ErrClosed)
	}
	now = store.Instant(now)
	if now.IsZero() {
		now = db.now()
	}
	if reason == "" {
		reason = "ended"
	}
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		_, err := w.b.exec(ctx, `UPDATE admin_sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at = 0`,
			micros(now), reason, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: end session: %w", err)
	}
	return nil
}

// AppendAudit implements store.Admin. The last entry is read and the new
// one written in the same write transaction (BEGIN IMMEDIATE: one writer
// per file, across processes), and seq is the primary key, so the chain
// cannot fork.
func (db *DB) AppendAudit(ctx context.Context, e *store.AuditEntry) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: append audit: %w", store.ErrClosed)
	}
	if e == nil || e.Action == "" {
		return fmt.Errorf("sqlite: append audit: %w", invalid("audit action required"))
	}
	e.At = store.Instant(e.At)
	if e.At.IsZero() {
		e.At = db.now()
	}
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		var (
			lastSeq int64
			last    store.Hash
		)
		err := w.b.query(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`, func(row []driver.Value) error {
			lastSeq = sqlrow.Int(row[0])
			copy(last[:], sqlrow.Bytes(row[1]))
			return nil
		})
		if err != nil {
			return err
		}
		e.Link(lastSeq, last)
		_, err = w.b.exec(ctx, sqlrow.InsertAudit, sqlrow.AuditArgs(e)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: append audit: %w", err)
	}
	return nil
}

// Audit implements store.Admin: a page of at most MaxLimit entries
// (DefaultLimit when f.Limit is 0).
func (db *DB) Audit(ctx context.Context, f store.AuditFilter) ([]*store.AuditEntry, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: audit: %w", store.ErrClosed)
	}
	var out []*store.AuditEntry
	err := db.readRows(ctx, `SELECT `+sqlrow.AuditCols+` FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`,
		[]any{f.AfterSeq, pageSize(f.Limit)}, 9, sqlrow.AppendTo(&out, sqlrow.Audit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit: %w", err)
	}
	return out, nil
}

// The dashboard's and timeline's queries (TestAdminPlans checks their
// plans). The literal conditions repeat the partial indexes' own
// (texts_sent_at, texts_failed, reminders_done, inbound_event_id): SQLite
// uses a partial index only when the query implies its condition.
const (
	sqlStatsInbound = `SELECT COUNT(*), SUM(ack_code NOT IN ('AA', 'CA')) FROM inbound WHERE received_at >= $1`
	sqlStatsSent    = sqlrow.StatsTextsSent
	sqlStatsFailed  = sqlrow.StatsTextsFailed
	sqlStatsDone    = `SELECT status, COUNT(*) FROM reminders WHERE status IN ('sent', 'skipped')
		AND updated_at >= $1 GROUP BY status`
)

// Stats implements store.Admin. Each count reads an index range (the
// last hour, the last 24 hours) or a small set (queues, dead requests);
// the counts by disposition read the disposition index whole.
func (db *DB) Stats(ctx context.Context, now time.Time) (*store.Stats, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: stats: %w", store.ErrClosed)
	}
	now = store.Instant(now)
	hourAgo, dayAgo := micros(now.Add(-time.Hour)), micros(now.Add(-24*time.Hour))
	st := &store.Stats{Dispositions: map[apptbridge.Disposition]int{}}
	wrap := func(what string, err error) error { return fmt.Errorf("sqlite: stats: %s: %w", what, err) }

	err := db.readRows(ctx, `SELECT disposition, COUNT(*) FROM appointments GROUP BY disposition`, nil, 2,
		func(row []driver.Value) error {
			st.Dispositions[apptbridge.Disposition(sqlrow.Str(row[0]))] = int(sqlrow.Int(row[1]))
			return nil
		})
	if err != nil {
		return nil, wrap("dispositions", err)
	}

	var (
		last sql.NullInt64
		errs sql.NullInt64
	)
	if err := db.rdb.QueryRowContext(ctx, sqlStatsInbound, hourAgo).Scan(&st.InboundLastHour, &errs); err != nil {
		return nil, wrap("inbound", err)
	}
	st.InboundErrorLastHour = int(errs.Int64)
	if err := db.rdb.QueryRowContext(ctx, `SELECT MAX(received_at) FROM inbound`).Scan(&last); err != nil {
		return nil, wrap("inbound", err)
	}
	if last.Valid {
		st.InboundLastAt = fromMicros(last.Int64)
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
		{"texts sent", &st.TextsSent24h, sqlStatsSent, []any{dayAgo}},
		{"texts failed", &st.TextsFailed24h, sqlStatsFailed, []any{dayAgo}},
		{"dead requests", &st.RequestsDead, `SELECT COUNT(*) FROM requests WHERE status = 'dead'`, nil},
		{"reminders planned", &st.RemindersPlanned, `SELECT COUNT(*) FROM reminders WHERE status = 'planned'`, nil},
	} {
		if err := db.rdb.QueryRowContext(ctx, c.q, c.args...).Scan(c.n); err != nil {
			return nil, wrap(c.what, err)
		}
	}
	err = db.readRows(ctx, sqlStatsDone, []any{dayAgo}, 2, func(row []driver.Value) error {
		switch sqlrow.Str(row[0]) {
		case store.ReminderSent:
			st.RemindersSent24h = int(sqlrow.Int(row[1]))
		case store.ReminderSkipped:
			st.RemindersSkip24h = int(sqlrow.Int(row[1]))
		}
		return nil
	})
	if err != nil {
		return nil, wrap("reminders done", err)
	}
	if st.RemindersNextDue, err = db.NextReminderDue(ctx); err != nil {
		return nil, wrap("reminders", err)
	}
	return st, nil
}

// InboundOf implements store.Admin: the inbound rows of the appointment's
// events (index inbound_event_id), oldest first.
func (db *DB) InboundOf(ctx context.Context, id string) ([]*store.InboundRecord, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: inbound of: %w", store.ErrClosed)
	}
	var out []*store.InboundRecord
	err := db.readRows(ctx, sqlrow.InboundOf, []any{id}, 10, sqlrow.AppendTo(&out, sqlrow.Inbound))
	if err != nil {
		return nil, fmt.Errorf("sqlite: inbound of %s: %w", id, err)
	}
	return out, nil
}

// HistorySince implements store.Admin: a page of at most MaxLimit
// entries (DefaultLimit when limit is 0).
func (db *DB) HistorySince(ctx context.Context, afterSeq int64, limit int) ([]store.HistoryEntry, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: history since: %w", store.ErrClosed)
	}
	out, err := db.history(ctx, `SELECT `+sqlrow.HistoryCols+` FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`,
		afterSeq, pageSize(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: history since %d: %w", afterSeq, err)
	}
	return out, nil
}

// HistoryHorizon implements store.Admin: the last committed seq (the
// single writer commits seqs in order).
func (db *DB) HistoryHorizon(ctx context.Context) (int64, error) {
	if db.closed.Load() {
		return 0, fmt.Errorf("sqlite: history horizon: %w", store.ErrClosed)
	}
	var seq int64
	if err := db.rdb.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("sqlite: history horizon: %w", err)
	}
	return seq, nil
}

// AddSignInFailure implements store.Admin: the insert and the pruning of
// expired failures are one write transaction.
func (db *DB) AddSignInFailure(ctx context.Context, key string, at, expires time.Time) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: add sign-in failure: %w", store.ErrClosed)
	}
	if key == "" || at.IsZero() || !expires.After(at) {
		return fmt.Errorf("sqlite: add sign-in failure: %w", invalid("key, time and a later expiry required"))
	}
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		if _, err := w.b.exec(ctx, sqlrow.PruneSignInFailures, micros(at)); err != nil {
			return err
		}
		_, err := w.b.exec(ctx, sqlrow.InsertSignInFailure, key, micros(at), micros(expires))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: add sign-in failure: %w", err)
	}
	return nil
}

// SignInFailures implements store.Admin.
func (db *DB) SignInFailures(ctx context.Context, key string, since time.Time, limit int) ([]time.Time, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: sign-in failures: %w", store.ErrClosed)
	}
	if key == "" || limit <= 0 || limit > store.MaxPageSize {
		return nil, fmt.Errorf("sqlite: sign-in failures: %w", invalid("key and a limit of 1 to 1000 required"))
	}
	var out []time.Time
	err := db.readRows(ctx, sqlrow.SignInFailures, []any{key, micros(since), int64(limit)}, 1, func(row []driver.Value) error {
		out = append(out, sqlrow.FromMicros(sqlrow.Int(row[0])))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: sign-in failures: %w", err)
	}
	return out, nil
}

// ResetSignInFailures implements store.Admin.
func (db *DB) ResetSignInFailures(ctx context.Context, key string) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: reset sign-in failures: %w", store.ErrClosed)
	}
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		_, err := w.b.exec(ctx, sqlrow.ResetSignInFailures, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: reset sign-in failures: %w", err)
	}
	return nil
}
