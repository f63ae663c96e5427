package sqlite

// The S3 archive queue (store.Archive).

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/internal/sqlrow"
)

// enqueueArchive writes the archive job of ev (its history row was just
// written; see store.ArchiveTransition).
func (b *batch) enqueueArchive(ctx context.Context, cur *apptbridge.Appointment, ev *apptbridge.Event, o apptbridge.Outcome, now time.Time) error {
	args, err := sqlrow.ArchiveJobArgs(cur, ev, o, micros(now))
	if err != nil {
		return err
	}
	if _, err := b.exec(ctx, sqlrow.InsertArchiveJob, args...); err != nil {
		return fmt.Errorf("archive job of event %s: %w", ev.EventID, err)
	}
	return nil
}

// ClaimArchive implements store.Archive.
func (db *DB) ClaimArchive(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*store.ArchiveJob, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: claim archive: %w", store.ErrClosed)
	}
	if owner == "" || limit <= 0 || lease <= 0 {
		return nil, fmt.Errorf("sqlite: claim archive: %w", invalid("owner, lease and limit required"))
	}
	now = store.Instant(now)
	until := now.Add(lease)
	var out []*store.ArchiveJob
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		out = out[:0]
		b := w.b
		err := b.query(ctx, `SELECT `+sqlrow.ArchiveCols+` FROM archive_jobs j
			WHERE next_attempt_at <= $1 AND (lease_owner = '' OR lease_until <= $1)
			AND NOT EXISTS (SELECT 1 FROM archive_jobs o WHERE o.appointment_id = j.appointment_id AND o.seq < j.seq)
			ORDER BY seq LIMIT $2`, sqlrow.AppendTo(&out, sqlrow.ArchiveJob), micros(now), int64(limit))
		if err != nil {
			return err
		}
		for _, j := range out {
			if _, err := b.exec(ctx, `UPDATE archive_jobs SET lease_owner = $1, lease_until = $2, next_attempt_at = $2
				WHERE seq = $3`, owner, micros(until), j.ID); err != nil {
				return err
			}
			j.LeaseOwner, j.LeaseUntil, j.NextAttemptAt = owner, until, until
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim archive: %w", err)
	}
	for _, j := range out {
		h, err := db.history(ctx, `SELECT `+sqlrow.HistoryCols+` FROM events WHERE event_id = $1`, j.EventID)
		if err != nil {
			return nil, fmt.Errorf("sqlite: claim archive: history of job %d: %w", j.ID, err)
		}
		if len(h) != 1 {
			return nil, fmt.Errorf("sqlite: claim archive: event %s of job %d not found", j.EventID, j.ID)
		}
		j.Entry = h[0]
	}
	return out, nil
}

// ArchiveDone implements store.Archive.
func (db *DB) ArchiveDone(ctx context.Context, owner string, id int64) error {
	return db.saveArchive(ctx, "archive done", owner, id, `DELETE FROM archive_jobs WHERE seq = $1 AND lease_owner = $2`)
}

// ArchiveFailed implements store.Archive.
func (db *DB) ArchiveFailed(ctx context.Context, owner string, id int64, next time.Time, lastError string) error {
	return db.saveArchive(ctx, "archive failed", owner, id, `UPDATE archive_jobs SET attempts = attempts + 1,
		next_attempt_at = $3, last_error = $4, lease_owner = '', lease_until = 0
		WHERE seq = $1 AND lease_owner = $2`, micros(store.Instant(next)), lastError)
}

func (db *DB) saveArchive(ctx context.Context, op, owner string, id int64, q string, args ...any) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrClosed)
	}
	if owner == "" {
		return fmt.Errorf("sqlite: %s: %w", op, invalid("owner required"))
	}
	args = append([]any{id, owner}, args...)
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		n, err := w.b.exec(ctx, q, args...)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrLeaseLost
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: %s %d: %w", op, id, err)
	}
	return nil
}

// NextArchiveDue implements store.Archive.
func (db *DB) NextArchiveDue(ctx context.Context) (time.Time, error) {
	return db.nextDue(ctx, `SELECT MIN(next_attempt_at) FROM archive_jobs j
		WHERE NOT EXISTS (SELECT 1 FROM archive_jobs o WHERE o.appointment_id = j.appointment_id AND o.seq < j.seq)`)
}

// ArchiveQueue implements store.Archive.
func (db *DB) ArchiveQueue(ctx context.Context) (store.QueueStat, error) {
	st := store.QueueStat{Queue: "archive"}
	if db.closed.Load() {
		return st, fmt.Errorf("sqlite: archive queue: %w", store.ErrClosed)
	}
	var oldest sql.NullInt64
	if err := db.rdb.QueryRowContext(ctx, `SELECT COUNT(*), MIN(created_at) FROM archive_jobs`).Scan(&st.Depth, &oldest); err != nil {
		return st, fmt.Errorf("sqlite: archive queue: %w", err)
	}
	if oldest.Valid {
		st.Oldest = sqlrow.FromUS(oldest.Int64)
	}
	return st, nil
}
