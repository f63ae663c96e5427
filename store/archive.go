package store

import (
	"context"
	"errors"
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
	//
	// A job without State has no state object to move, and a job of the
	// event queue never sets FromPatientID then (no state before, none
	// after). A backfill job without State (BackfillArchive) sets it to
	// the patient id of the history object's key instead: the patient id
	// of the appointment right after the event, which a live job takes
	// from its State ("": the event's own, as for live jobs).
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

	// BackfillArchive queues archive jobs for recorded history (the
	// events recorded before archiving was on, or a lost bucket): one job
	// per event of the page of at most limit events (1 to MaxPageSize)
	// after seq afterSeq recorded at or after since (zero: all), in seq
	// order, in one transaction. It returns the number of jobs queued and
	// the page's last seq (the next call's afterSeq); n == 0 means the
	// history is done. ErrArchiveOff when the store was opened without
	// archiving (no worker would take the jobs).
	//
	// The jobs are written by the existing worker and Archiver, with the
	// same keys and bytes as live archiving (SPEC §12):
	//   - every job writes its event's history object; a job without
	//     State names the key's patient id in FromPatientID (see there);
	//   - only the job of an appointment's newest event (events.seq)
	//     carries its current state, with From = To = the current
	//     disposition and FromPatientID = the current patient id: the
	//     state object is put at its current key and nothing is deleted.
	//     Older events' jobs carry no state, so a backfill never writes a
	//     state object more than once per appointment, nor moves one. An
	//     appointment whose newest event is before since gets no state
	//     object from the backfill.
	//
	// The appointment rows of the page are locked while the page is
	// written (PostgreSQL: SELECT … FOR UPDATE), so a job with state
	// queued by a backfill is ordered before the live jobs of later
	// events and cannot put back an older state. Running a backfill
	// again (or over history that live archiving wrote) writes the same
	// keys with the same bytes: S3 PUTs are idempotent.
	BackfillArchive(ctx context.Context, afterSeq int64, since time.Time, limit int) (n int, lastSeq int64, err error)
}

// ErrArchiveOff is BackfillArchive's error on a store opened without
// archiving (sqlite.Options.Archive, postgres.Options.Archive).
var ErrArchiveOff = errors.New("store: archiving is off (S3_BUCKET unset)")

// ArchivePatient follows the patient id of an appointment's state object
// through its history, for the history keys of backfilled events (the
// key's patient id is the state's right after the event, the event's own
// when there is no state): a state exists from the first applied event
// on (appointments are never deleted), and an applied EHR event with a
// patient id sets it (apptbridge.Apply merges the event's non-empty
// fields; other events never change it). Feed it the appointment's
// entries in seq order.
type ArchivePatient struct {
	exists bool
	pid    string
}

// Next records h and returns the patient id of its history key.
func (p *ArchivePatient) Next(h *HistoryEntry) string {
	if h.Applied {
		p.exists = true
		if h.Event.EventType.FromEHR() && h.Event.PatientID != "" {
			p.pid = h.Event.PatientID
		}
	}
	if p.exists {
		return p.pid
	}
	return h.Event.PatientID
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
