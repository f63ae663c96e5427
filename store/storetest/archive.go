package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// RunArchive runs the contract of the S3 archive queue (store.Archive).
// open returns a new, empty store like Run's, with archiving on (archive
// true: every history entry writes a job) or off.
func RunArchive(t *testing.T, open func(t *testing.T, archive bool) store.Store) {
	tests := []struct {
		name    string
		archive bool
		fn      func(t *testing.T, s store.Store)
	}{
		{"ArchiveOff", false, testArchiveOff},
		{"ArchiveEnqueue", true, testArchiveEnqueue},
		{"ArchiveTx", true, testArchiveTx},
		{"ArchivePatientChange", true, testArchivePatientChange},
		{"ArchiveOrder", true, testArchiveOrder},
		{"ArchiveLease", true, testArchiveLease},
		{"ArchiveConcurrentClaims", true, testArchiveConcurrentClaims},
		{"ArchiveBackfillOff", false, testArchiveBackfillOff},
		{"ArchiveBackfill", true, testArchiveBackfill},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t, tc.archive))
		})
	}
}

func claimArchive(t *testing.T, s store.Store, owner string, now time.Time, limit int) []*store.ArchiveJob {
	t.Helper()
	jobs, err := s.ClaimArchive(t.Context(), owner, now, time.Minute, limit)
	if err != nil {
		t.Fatalf("ClaimArchive(%s): %v", owner, err)
	}
	return jobs
}

func archiveDepth(t *testing.T, s store.Store) int {
	t.Helper()
	st, err := s.ArchiveQueue(t.Context())
	if err != nil {
		t.Fatalf("ArchiveQueue: %v", err)
	}
	if st.Depth > 0 {
		checkInstant(t, "ArchiveQueue.Oldest", st.Oldest)
	} else if !st.Oldest.IsZero() {
		t.Errorf("ArchiveQueue of an empty queue: oldest %v", st.Oldest)
	}
	return st.Depth
}

func testArchiveOff(t *testing.T, s store.Store) {
	ingestNew(t, s, newInbound(newEvent("AR-OFF", apptbridge.Booked, base)))
	if n := archiveDepth(t, s); n != 0 {
		t.Errorf("archiving off: queue depth %d, want 0", n)
	}
	if jobs := claimArchive(t, s, "w1", time.Now(), 10); len(jobs) != 0 {
		t.Errorf("archiving off: claimed %d jobs", len(jobs))
	}
}

// testArchiveEnqueue: every history entry (applied or not) gets a job
// with the entry and the state right after it.
func testArchiveEnqueue(t *testing.T, s store.Store) {
	book := newEvent("AR-1", apptbridge.Booked, base)
	ingestNew(t, s, newInbound(book))
	if n := archiveDepth(t, s); n != 1 {
		t.Fatalf("queue depth after one event = %d, want 1", n)
	}
	due, err := s.NextArchiveDue(t.Context())
	if err != nil || due.IsZero() {
		t.Fatalf("NextArchiveDue = %v, %v; want an instant", due, err)
	}
	after1 := appointment(t, s, "AR-1")
	jobs := claimArchive(t, s, "w1", time.Now(), 10)
	if len(jobs) != 1 {
		t.Fatalf("claimed %d jobs, want 1", len(jobs))
	}
	j := jobs[0]
	if j.AppointmentID != "AR-1" || j.EventID != book.EventID || j.From != apptbridge.DispNone ||
		j.To != after1.Disposition || j.LeaseOwner != "w1" || j.Attempts != 0 {
		t.Errorf("job = %+v", j)
	}
	checkInstant(t, "job.CreatedAt", j.CreatedAt)
	sameJSON(t, "job.State", j.State, after1)
	h := history(t, s, "AR-1")
	sameJSON(t, "job.Entry", j.Entry, h[0])
	if err := s.ArchiveDone(t.Context(), "w1", j.ID); err != nil {
		t.Fatalf("ArchiveDone: %v", err)
	}
	if n := archiveDepth(t, s); n != 0 {
		t.Errorf("queue depth after done = %d, want 0", n)
	}
	if due, err := s.NextArchiveDue(t.Context()); err != nil || !due.IsZero() {
		t.Errorf("NextArchiveDue of an empty queue = %v, %v", due, err)
	}

	// A stale event (not applied) is archived too; the state stays.
	stale := newEvent("AR-1", apptbridge.Modified, base.Add(-time.Hour))
	if o := ingestNew(t, s, newInbound(stale)); o.Applied {
		t.Fatalf("stale event applied")
	}
	cancel := newEvent("AR-1", apptbridge.Canceled, base.Add(time.Minute))
	ingestNew(t, s, newInbound(cancel))
	jobs = claimArchive(t, s, "w1", time.Now(), 10)
	if len(jobs) != 1 || jobs[0].EventID != stale.EventID || jobs[0].Entry.Applied ||
		jobs[0].From != after1.Disposition || jobs[0].To != after1.Disposition {
		t.Fatalf("stale job = %+v", jobs)
	}
	sameJSON(t, "stale job.State", jobs[0].State, after1)
	if err := s.ArchiveDone(t.Context(), "w1", jobs[0].ID); err != nil {
		t.Fatal(err)
	}
	jobs = claimArchive(t, s, "w1", time.Now(), 10)
	if len(jobs) != 1 || jobs[0].EventID != cancel.EventID || jobs[0].From != after1.Disposition ||
		jobs[0].To != apptbridge.DispCanceled || jobs[0].State.Disposition != apptbridge.DispCanceled {
		t.Fatalf("cancel job = %+v", jobs)
	}
	sameJSON(t, "cancel job.State", jobs[0].State, appointment(t, s, "AR-1"))
}

// testArchiveTx: Tx.Apply writes the job in its transaction; a rolled
// back transaction leaves none.
func testArchiveTx(t *testing.T, s store.Store) {
	ingestNew(t, s, newInbound(newEvent("AR-TX", apptbridge.Booked, base)))
	first := claimArchive(t, s, "w1", time.Now(), 10)
	if len(first) != 1 {
		t.Fatalf("claimed %d jobs, want 1", len(first))
	}
	if err := s.ArchiveDone(t.Context(), "w1", first[0].ID); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("rollback")
	err := s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.Apply(ctx, newEvent("AR-TX", apptbridge.Canceled, base.Add(time.Minute))); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the rollback error", err)
	}
	if n := archiveDepth(t, s); n != 0 {
		t.Fatalf("rolled back Apply left %d archive jobs", n)
	}
	ev := newEvent("AR-TX", apptbridge.Canceled, base.Add(2*time.Minute))
	err = s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Apply(ctx, ev)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	jobs := claimArchive(t, s, "w1", time.Now(), 10)
	if len(jobs) != 1 || jobs[0].EventID != ev.EventID || jobs[0].To != apptbridge.DispCanceled {
		t.Fatalf("jobs after Tx.Apply = %+v", jobs)
	}
}

// testArchivePatientChange: a job names the patient id of the state
// object before its event (the key the archiver deletes when the patient
// id changes), through Ingest and Tx.Apply.
func testArchivePatientChange(t *testing.T, s store.Store) {
	ingestNew(t, s, newInbound(newEvent("AR-PID", apptbridge.Booked, base)))
	mod := newEvent("AR-PID", apptbridge.Modified, base.Add(time.Minute))
	mod.PatientID = "PAT-NEW"
	ingestNew(t, s, newInbound(mod))
	viaTx := newEvent("AR-PID", apptbridge.Modified, base.Add(2*time.Minute))
	viaTx.PatientID = "PAT-TX"
	if err := s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Apply(ctx, viaTx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := []struct{ from, to string }{{"", "PAT-AR-PID"}, {"PAT-AR-PID", "PAT-NEW"}, {"PAT-NEW", "PAT-TX"}}
	for i, w := range want {
		jobs := claimArchive(t, s, "w1", time.Now(), 10)
		if len(jobs) != 1 {
			t.Fatalf("job %d: claimed %d jobs, want 1", i, len(jobs))
		}
		j := jobs[0]
		if j.FromPatientID != w.from || j.State == nil || j.State.PatientID != w.to {
			t.Errorf("job %d: FromPatientID %q, State.PatientID %v; want %q, %q", i, j.FromPatientID,
				func() any {
					if j.State == nil {
						return nil
					}
					return j.State.PatientID
				}(), w.from, w.to)
		}
		if err := s.ArchiveDone(t.Context(), "w1", j.ID); err != nil {
			t.Fatal(err)
		}
	}
}

// testArchiveOrder: an appointment's jobs go out one at a time, in order,
// even across failures; other appointments are not held up.
func testArchiveOrder(t *testing.T, s store.Store) {
	var ids []string
	for i, typ := range []apptbridge.EventType{apptbridge.Booked, apptbridge.Modified, apptbridge.Canceled} {
		ev := newEvent("AR-ORD", typ, base.Add(time.Duration(i)*time.Minute))
		ids = append(ids, ev.EventID)
		ingestNew(t, s, newInbound(ev))
	}
	other := newEvent("AR-OTHER", apptbridge.Booked, base)
	ingestNew(t, s, newInbound(other))
	now := time.Now()
	jobs := claimArchive(t, s, "w1", now, 10)
	if len(jobs) != 2 || jobs[0].EventID != ids[0] || jobs[1].EventID != other.EventID {
		t.Fatalf("first claim = %v, want the first job of each appointment", jobEvents(jobs))
	}
	if more := claimArchive(t, s, "w2", now, 10); len(more) != 0 {
		t.Fatalf("claim while the heads are leased = %v, want none", jobEvents(more))
	}
	prevTo := jobs[0].To
	for _, j := range jobs {
		if err := s.ArchiveDone(t.Context(), "w1", j.ID); err != nil {
			t.Fatal(err)
		}
	}
	jobs = claimArchive(t, s, "w2", now, 10)
	if len(jobs) != 1 || jobs[0].EventID != ids[1] || jobs[0].From != prevTo {
		t.Fatalf("second claim = %v", jobEvents(jobs))
	}
	// The second job fails: the third waits behind it.
	if err := s.ArchiveFailed(t.Context(), "w2", jobs[0].ID, now.Add(time.Hour), "s3 put: 503"); err != nil {
		t.Fatal(err)
	}
	if more := claimArchive(t, s, "w3", now.Add(time.Minute), 10); len(more) != 0 {
		t.Fatalf("claim while the head backs off = %v, want none", jobEvents(more))
	}
	due, err := s.NextArchiveDue(t.Context())
	if err != nil || !due.Equal(store.Instant(now.Add(time.Hour))) {
		t.Errorf("NextArchiveDue = %v, %v; want %v", due, err, store.Instant(now.Add(time.Hour)))
	}
	jobs = claimArchive(t, s, "w3", now.Add(2*time.Hour), 10)
	if len(jobs) != 1 || jobs[0].EventID != ids[1] || jobs[0].Attempts != 1 || jobs[0].LastError != "s3 put: 503" {
		t.Fatalf("retry claim = %+v", jobs)
	}
	prevTo = jobs[0].To
	if err := s.ArchiveDone(t.Context(), "w3", jobs[0].ID); err != nil {
		t.Fatal(err)
	}
	jobs = claimArchive(t, s, "w3", now.Add(2*time.Hour), 10)
	if len(jobs) != 1 || jobs[0].EventID != ids[2] || jobs[0].From != prevTo || jobs[0].To != apptbridge.DispCanceled {
		t.Fatalf("third claim = %+v", jobs)
	}
}

func jobEvents(jobs []*store.ArchiveJob) []string {
	var out []string
	for _, j := range jobs {
		out = append(out, j.AppointmentID+"/"+j.EventID)
	}
	return out
}

// testArchiveLease: a live lease keeps a job from others; an expired one
// lets another worker claim it, and the first worker's save fails.
func testArchiveLease(t *testing.T, s store.Store) {
	ingestNew(t, s, newInbound(newEvent("AR-L", apptbridge.Booked, base)))
	now := time.Now()
	a := claimArchive(t, s, "wa", now, 10)
	if len(a) != 1 {
		t.Fatalf("claimed %d, want 1", len(a))
	}
	if got := claimArchive(t, s, "wb", now.Add(30*time.Second), 10); len(got) != 0 {
		t.Fatalf("claimed a leased job")
	}
	b := claimArchive(t, s, "wb", now.Add(2*time.Minute), 10)
	if len(b) != 1 || b[0].ID != a[0].ID || b[0].LeaseOwner != "wb" {
		t.Fatalf("claim after lease expiry = %+v", b)
	}
	if err := s.ArchiveDone(t.Context(), "wa", a[0].ID); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("ArchiveDone by the old owner = %v, want ErrLeaseLost", err)
	}
	if err := s.ArchiveFailed(t.Context(), "wa", a[0].ID, now, "x"); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("ArchiveFailed by the old owner = %v, want ErrLeaseLost", err)
	}
	if err := s.ArchiveDone(t.Context(), "wb", b[0].ID); err != nil {
		t.Errorf("ArchiveDone by the new owner: %v", err)
	}
	if err := s.ArchiveDone(t.Context(), "wb", b[0].ID); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("second ArchiveDone = %v, want ErrLeaseLost", err)
	}
	if _, err := s.ClaimArchive(t.Context(), "", now, time.Minute, 1); apptbridge.ErrorCode(err) != apptbridge.EINVALID {
		t.Errorf("ClaimArchive without owner = %v, want EINVALID", err)
	}
}

// testArchiveConcurrentClaims: workers claiming at once get every job
// exactly once, and never two jobs of one appointment at the same time.
func testArchiveConcurrentClaims(t *testing.T, s store.Store) {
	const appts, perAppt, workers = 12, 3, 6
	for i := range appts {
		aid := fmt.Sprintf("AR-C%02d", i)
		for k, typ := range []apptbridge.EventType{apptbridge.Booked, apptbridge.Modified, apptbridge.Canceled}[:perAppt] {
			ingestNew(t, s, newInbound(newEvent(aid, typ, base.Add(time.Duration(k)*time.Minute))))
		}
	}
	var (
		mu       sync.Mutex
		seen     = map[int64]string{}
		inFlight = map[string]bool{}
		order    = map[string][]int64{}
		fails    []string
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("worker-%d", w)
			idle := 0
			for idle < 20 {
				jobs, err := s.ClaimArchive(context.Background(), owner, time.Now(), time.Minute, 3)
				if err != nil {
					mu.Lock()
					fails = append(fails, err.Error())
					mu.Unlock()
					return
				}
				if len(jobs) == 0 {
					idle++
					time.Sleep(5 * time.Millisecond)
					continue
				}
				idle = 0
				for _, j := range jobs {
					mu.Lock()
					if prev, ok := seen[j.ID]; ok {
						fails = append(fails, fmt.Sprintf("job %d claimed by %s and %s", j.ID, prev, owner))
					}
					if inFlight[j.AppointmentID] {
						fails = append(fails, fmt.Sprintf("two jobs of %s out at once", j.AppointmentID))
					}
					seen[j.ID] = owner
					inFlight[j.AppointmentID] = true
					order[j.AppointmentID] = append(order[j.AppointmentID], j.ID)
					mu.Unlock()
				}
				for _, j := range jobs {
					mu.Lock()
					inFlight[j.AppointmentID] = false
					mu.Unlock()
					if err := s.ArchiveDone(context.Background(), owner, j.ID); err != nil {
						mu.Lock()
						fails = append(fails, err.Error())
						mu.Unlock()
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, f := range fails {
		t.Error(f)
	}
	if len(seen) != appts*perAppt {
		t.Errorf("%d jobs claimed, want %d", len(seen), appts*perAppt)
	}
	for aid, ids := range order {
		for i := 1; i < len(ids); i++ {
			if ids[i] <= ids[i-1] {
				t.Errorf("%s: jobs claimed out of order: %v", aid, ids)
			}
		}
	}
	if n := archiveDepth(t, s); n != 0 {
		t.Errorf("queue depth after all done = %d", n)
	}
}
