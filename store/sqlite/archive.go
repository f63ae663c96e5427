package sqlite

// The S3 archive queue (store.Archive).

import (
	"context"
	"database/sql"
	"database/sql/driver"
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
	err = sqlrow.AttachHistory(out, func(eventID string) ([]store.HistoryEntry, error) {
		return db.history(ctx, sqlrow.HistoryOfEvent, eventID)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim archive: %w", err)
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

// BackfillArchive implements store.Archive: the page is read and its jobs
// written in one write transaction (the writer is the only one, so no
// event can slip in between).
func (db *DB) BackfillArchive(ctx context.Context, afterSeq int64, since time.Time, limit int) (int, int64, error) {
	if db.closed.Load() {
		return 0, afterSeq, fmt.Errorf("sqlite: backfill archive: %w", store.ErrClosed)
	}
	if limit <= 0 || limit > store.MaxPageSize {
		return 0, afterSeq, fmt.Errorf("sqlite: backfill archive: %w", invalid("limit must be 1 to 1000"))
	}
	var n int
	last := afterSeq
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		n, last = 0, afterSeq
		b := w.b
		if !b.archive {
			return store.ErrArchiveOff
		}
		var page []store.HistoryEntry
		if err := b.query(ctx, sqlrow.BackfillPage, sqlrow.AppendTo(&page, sqlrow.History),
			afterSeq, sqlrow.US(since), int64(limit)); err != nil {
			return err
		}
		jobs, err := sqlrow.BackfillJobArgs(ctx, page, backfillReads{b}, micros(time.Now()))
		if err != nil {
			return err
		}
		for i, args := range jobs {
			if _, err := b.exec(ctx, sqlrow.InsertArchiveJob, args...); err != nil {
				return fmt.Errorf("archive job of event %s: %w", page[i].Event.EventID, err)
			}
		}
		n = len(jobs)
		if len(page) > 0 {
			last = page[len(page)-1].Seq
		}
		return nil
	})
	if err != nil {
		return 0, afterSeq, fmt.Errorf("sqlite: backfill archive after %d: %w", afterSeq, err)
	}
	return n, last, nil
}

// backfillReads are a backfill page's reads in the write transaction.
type backfillReads struct{ b *batch }

func (r backfillReads) Prior(ctx context.Context, aid string, before int64) ([]store.HistoryEntry, error) {
	var out []store.HistoryEntry
	err := r.b.query(ctx, sqlrow.BackfillPrior, sqlrow.AppendTo(&out, sqlrow.History), aid, before)
	return out, err
}

func (r backfillReads) Newest(ctx context.Context, aid string) (int64, *apptbridge.Appointment, error) {
	var seq int64
	err := r.b.query(ctx, sqlrow.BackfillNewest, func(row []driver.Value) error {
		seq = sqlrow.Int(row[0])
		return nil
	}, aid)
	if err != nil {
		return 0, nil, err
	}
	cur, err := r.b.loadAppointment(ctx, aid)
	return seq, cur, err
}
