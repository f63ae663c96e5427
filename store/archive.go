package store

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/apptbridge/apptbridge"
)

// ArchiveJob is one pending write to the S3 archive (SPEC §12): the
// history object of one event and, when the event left the appointment in
// a state, its state object. A job is written in the transaction of its
// event (only by a store opened with archiving on: sqlite.Options.Archive,
// postgres.Options.Archive), so a job exists for every history entry
// recorded while archiving is on, and an S3 outage only delays them.
//
// Jobs of one appointment are claimed in the order they were written (ID),
// one at a time: the state object is moved from From to To by each job in
// turn, so it ends at the appointment's last disposition.
type ArchiveJob struct {
	ID            int64 // order of creation
	AppointmentID string
	EventID       string
	// From is the disposition of the state object before the event ("" for
	// a new appointment or none); To the disposition after it ("" when the
	// appointment does not exist: no state object).
	From, To apptbridge.Disposition
	// FromPatientID is the patient id in the key of the state object
	// before the event (cur's PatientID; "" when From is ""). With From
	// it names the object to delete when the event moves the state object
	// to another key: a new disposition or a new patient id (SPEC §12: one
	// state object per appointment).
	FromPatientID string
	// State is the appointment right after the event (nil when To is "").
	State *apptbridge.Appointment
	// Entry is the event's history entry.
	Entry HistoryEntry

	Attempts      int
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    time.Time
	LastError     string // never PHI
	CreatedAt     time.Time
}

// Archive is the archive worker's side of the store. Every method commits
// durably on its own.
type Archive interface {
	// ClaimArchive leases up to limit due archive jobs (NextAttemptAt ≤
	// now, no live lease) whose appointment has no older job left (order
	// per appointment: at most one job of an appointment is out at a
	// time), oldest first, for owner until now+lease.
	ClaimArchive(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*ArchiveJob, error)
	// ArchiveDone removes a claimed job (its objects are written);
	// ErrLeaseLost when owner no longer holds it.
	ArchiveDone(ctx context.Context, owner string, id int64) error
	// ArchiveFailed records a failed attempt: Attempts+1, the error (never
	// PHI), the next attempt at next, lease released; ErrLeaseLost when
	// owner no longer holds it.
	ArchiveFailed(ctx context.Context, owner string, id int64, next time.Time, lastError string) error
	// NextArchiveDue returns the earliest NextAttemptAt of a job that is
	// the oldest of its appointment (the only one claimable; zero when
	// none), for the worker's timer.
	NextArchiveDue(ctx context.Context) (time.Time, error)
	// ArchiveQueue returns the queue's depth and its oldest job's
	// CreatedAt (zero when empty), for the lag metric.
	ArchiveQueue(ctx context.Context) (QueueStat, error)
}

// NotifyArchive returns s with wake called after every commit that wrote
// archive jobs, so the archive worker takes them at once instead of at its
// next look at the queue: after an Ingest that recorded an event, and
// after an Update whose function applied one (Tx.Apply: API events,
// patient replies, reminders, expiries, opt-outs). wake must not block;
// an extra call (an Apply of a transaction the backend ran again) costs
// the worker one empty claim. Every other method is s's own.
func NotifyArchive(s Store, wake func()) Store {
	return &archiveNotifier{Store: s, wake: wake}
}

type archiveNotifier struct {
	Store
	wake func()
}

func (n *archiveNotifier) Ingest(ctx context.Context, in *Inbound) (IngestResult, error) {
	r, err := n.Store.Ingest(ctx, in)
	if err == nil && in.Event != nil && !r.Duplicate && !r.Conflict {
		n.wake()
	}
	return r, err
}

func (n *archiveNotifier) Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	var applied atomic.Bool
	err := n.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		applied.Store(false) // the backend may run fn again: the last run counts
		return fn(ctx, &applyNotingTx{Tx: tx, applied: &applied})
	})
	if err == nil && applied.Load() {
		n.wake()
	}
	return err
}

// applyNotingTx notes that an event was applied (so its archive job was
// written) in the transaction.
type applyNotingTx struct {
	Tx
	applied *atomic.Bool
}

func (t *applyNotingTx) Apply(ctx context.Context, e *apptbridge.Event) (ApplyResult, error) {
	r, err := t.Tx.Apply(ctx, e)
	if err == nil {
		t.applied.Store(true)
	}
	return r, err
}
