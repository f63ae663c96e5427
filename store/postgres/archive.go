package postgres

// The S3 archive queue (store.Archive).

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/internal/sqlrow"
)

// queueArchive queues the archive job of ev (its history row is queued
// before it; see store.ArchiveTransition).
func queueArchive(b *pgx.Batch, cur *apptbridge.Appointment, ev *apptbridge.Event, o apptbridge.Outcome, now time.Time) error {
	args, err := sqlrow.ArchiveJobArgs(cur, ev, o, micros(now))
	if err != nil {
		return err
	}
	onExec(b.Queue(sqlrow.InsertArchiveJob, args...), nil,
		func(err error) error { return fmt.Errorf("archive job of event %s: %w", ev.EventID, err) })
	return nil
}

// ClaimArchive implements store.Archive: due heads of their appointment's
// queue are locked with FOR UPDATE SKIP LOCKED and leased in the same
// transaction. A job whose older sibling is being claimed by another
// process is not eligible: the sibling's row still exists.
func (db *DB) ClaimArchive(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*store.ArchiveJob, error) {
	if db.closed.Load() {
		return nil, opErr("claim archive", store.ErrClosed)
	}
	if owner == "" || limit <= 0 || lease <= 0 {
		return nil, opErr("claim archive", invalid("owner, lease and limit required"))
	}
	now = store.Instant(now)
	until := now.Add(lease)
	var out []*store.ArchiveJob
	err := db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		var err error
		out, err = queryAll(ctx, ptx, sqlrow.ArchiveJob, `WITH c AS (
				SELECT seq FROM archive_jobs j
				WHERE next_attempt_at <= $3 AND (lease_owner = '' OR lease_until <= $3)
				AND NOT EXISTS (SELECT 1 FROM archive_jobs o WHERE o.appointment_id = j.appointment_id AND o.seq < j.seq)
				ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED),
			u AS (UPDATE archive_jobs a SET lease_owner = $1, lease_until = $2, next_attempt_at = $2
				FROM c WHERE a.seq = c.seq RETURNING a.*)
			SELECT `+sqlrow.ArchiveCols+` FROM u ORDER BY seq`, owner, micros(until), micros(now), int64(limit))
		return err
	})
	if err != nil {
		return nil, opErr("claim archive", err)
	}
	err = sqlrow.AttachHistory(out, func(eventID string) ([]store.HistoryEntry, error) {
		return db.history(ctx, sqlrow.HistoryOfEvent, eventID)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim archive: %w", err)
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
		return opErr(op, store.ErrClosed)
	}
	if owner == "" {
		return opErr(op, invalid("owner required"))
	}
	args = append([]any{id, owner}, args...)
	err := db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		n, err := wtx{db, ptx}.exec(ctx, q, args...)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrLeaseLost
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: %s %d: %w", op, id, err)
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
		return st, opErr("archive queue", store.ErrClosed)
	}
	var oldest *int64
	if err := db.pool.QueryRow(ctx, `SELECT COUNT(*), MIN(created_at) FROM archive_jobs`).Scan(&st.Depth, &oldest); err != nil {
		return st, opErr("archive queue", err)
	}
	if oldest != nil {
		st.Oldest = sqlrow.FromUS(*oldest)
	}
	return st, nil
}

// BackfillArchive implements store.Archive. The page's appointment rows
// are locked (FOR UPDATE, in id order) before their newest event and
// state are read: a live event of one of them waits for the page's
// commit, so its job comes after the page's and moves the state object
// from the state the page wrote.
func (db *DB) BackfillArchive(ctx context.Context, afterSeq int64, since time.Time, limit int) (int, int64, error) {
	if db.closed.Load() {
		return 0, afterSeq, opErr("backfill archive", store.ErrClosed)
	}
	if limit <= 0 || limit > store.MaxPageSize {
		return 0, afterSeq, opErr("backfill archive", invalid("limit must be 1 to 1000"))
	}
	if !db.archive {
		return 0, afterSeq, opErr("backfill archive", store.ErrArchiveOff)
	}
	var n int
	last := afterSeq
	err := db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		n, last = 0, afterSeq
		page, err := queryAll(ctx, ptx, sqlrow.History, sqlrow.BackfillPage, afterSeq, sqlrow.US(since), int64(limit))
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		ids := make([]string, 0, len(page))
		for _, h := range page {
			ids = append(ids, h.Event.AppointmentID)
		}
		if _, err := ptx.Exec(ctx, `SELECT appointment_id FROM appointments WHERE appointment_id = ANY($1)
			ORDER BY appointment_id FOR UPDATE`, ids); err != nil {
			return err
		}
		jobs, err := sqlrow.BackfillJobArgs(ctx, page, backfillReads{wtx{db, ptx}}, micros(time.Now()))
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		for _, args := range jobs {
			b.Queue(sqlrow.InsertArchiveJob, args...)
		}
		if err := ptx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("archive jobs: %w", err)
		}
		n, last = len(jobs), page[len(page)-1].Seq
		return nil
	})
	if err != nil {
		return 0, afterSeq, fmt.Errorf("postgres: backfill archive after %d: %w", afterSeq, err)
	}
	return n, last, nil
}

// backfillReads are a backfill page's reads in its transaction.
type backfillReads struct{ w wtx }

func (r backfillReads) Prior(ctx context.Context, aid string, before int64) ([]store.HistoryEntry, error) {
	return queryAll(ctx, r.w.tx, sqlrow.History, sqlrow.BackfillPrior, aid, before)
}

func (r backfillReads) Newest(ctx context.Context, aid string) (int64, *apptbridge.Appointment, error) {
	var seq int64
	if err := r.w.tx.QueryRow(ctx, sqlrow.BackfillNewest, aid).Scan(&seq); err != nil {
		return 0, nil, err
	}
	cur, err := r.w.loadAppointment(ctx, aid, false) // locked by the page
	return seq, cur, err
}
