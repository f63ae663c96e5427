package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// drainArchive claims and completes every archive job, in claim order.
func drainArchive(t *testing.T, s store.Store) []*store.ArchiveJob {
	t.Helper()
	var all []*store.ArchiveJob
	for {
		jobs := claimArchive(t, s, "drain", time.Now(), 100)
		if len(jobs) == 0 {
			return all
		}
		for _, j := range jobs {
			if err := s.ArchiveDone(t.Context(), "drain", j.ID); err != nil {
				t.Fatalf("ArchiveDone: %v", err)
			}
		}
		all = append(all, jobs...)
	}
}

// keyPatient is the patient id of a job's history key, as the S3
// archiver takes it (store/s3: the state's, else FromPatientID, else the
// event's).
func keyPatient(j *store.ArchiveJob) string {
	switch {
	case j.State != nil:
		return j.State.PatientID
	case j.FromPatientID != "":
		return j.FromPatientID
	}
	return j.Entry.Event.PatientID
}

func backfill(t *testing.T, s store.Store, after int64, since time.Time, limit int) (int, int64) {
	t.Helper()
	n, last, err := s.BackfillArchive(t.Context(), after, since, limit)
	if err != nil {
		t.Fatalf("BackfillArchive(%d, %v, %d): %v", after, since, limit, err)
	}
	return n, last
}

// testArchiveBackfillOff: a store without archiving refuses a backfill
// (no worker would take the jobs) and queues nothing.
func testArchiveBackfillOff(t *testing.T, s store.Store) {
	ingestNew(t, s, newInbound(newEvent("BF-OFF", apptbridge.Booked, base)))
	n, last, err := s.BackfillArchive(t.Context(), 0, time.Time{}, 10)
	if !errors.Is(err, store.ErrArchiveOff) || n != 0 || last != 0 {
		t.Errorf("BackfillArchive with archiving off = %d, %d, %v; want ErrArchiveOff", n, last, err)
	}
	if d := archiveDepth(t, s); d != 0 {
		t.Errorf("queue depth = %d, want 0", d)
	}
}

// testArchiveBackfill: a backfill queues one job per recorded event, in
// seq order, page by page; only an appointment's newest event carries its
// current state (From = To, nothing to delete); every job names the
// history key's patient id the live job named; since skips older events.
func testArchiveBackfill(t *testing.T, s store.Store) {
	// A: booked, a new patient id, a stale event naming another patient
	// (not applied), an EHR event without patient id, canceled.
	ingestNew(t, s, newInbound(newEvent("BF-A", apptbridge.Booked, base)))
	mod := newEvent("BF-A", apptbridge.Modified, base.Add(time.Minute))
	mod.PatientID = "PAT-A2"
	ingestNew(t, s, newInbound(mod))
	stale := newEvent("BF-A", apptbridge.Modified, base.Add(-time.Hour))
	stale.PatientID = "PAT-STALE"
	if o := ingestNew(t, s, newInbound(stale)); o.Applied {
		t.Fatal("stale event applied")
	}
	nopid := newEvent("BF-A", apptbridge.Modified, base.Add(2*time.Minute))
	nopid.PatientID = ""
	ingestNew(t, s, newInbound(nopid))
	// B: a patient's confirmation of an appointment that does not exist
	// (recorded, not applied, no state), then booked.
	applyTx(t, s, patient("BF-B", apptbridge.Confirm))
	ingestNew(t, s, newInbound(newEvent("BF-B", apptbridge.Booked, base)))
	ingestNew(t, s, newInbound(newEvent("BF-A", apptbridge.Canceled, base.Add(3*time.Minute))))
	// C: never applied: only a patient event.
	applyTx(t, s, patient("BF-C", apptbridge.Confirm))
	time.Sleep(2 * time.Millisecond)
	since := store.Instant(time.Now())
	time.Sleep(2 * time.Millisecond)
	// D: recorded after since.
	ingestNew(t, s, newInbound(newEvent("BF-D", apptbridge.Booked, base)))

	hist, err := s.HistorySince(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]*store.ArchiveJob{}
	for _, j := range drainArchive(t, s) {
		live[j.EventID] = j
	}
	if len(live) != len(hist) {
		t.Fatalf("%d live jobs for %d events", len(live), len(hist))
	}

	// Page by page, 3 events each.
	var got []*store.ArchiveJob
	after, pages := int64(0), 0
	for {
		n, last := backfill(t, s, after, time.Time{}, 3)
		if n == 0 {
			if last != after {
				t.Errorf("empty page: last %d, want %d", last, after)
			}
			break
		}
		pages++
		if want := min(3, len(hist)-3*(pages-1)); n != want || last != hist[3*(pages-1)+n-1].Seq {
			t.Fatalf("page %d = %d jobs, last %d; want %d, %d", pages, n, last, want, hist[3*(pages-1)+want-1].Seq)
		}
		if d := archiveDepth(t, s); d != n {
			t.Fatalf("queue depth after page %d = %d, want %d", pages, d, n)
		}
		got = append(got, drainArchive(t, s)...)
		after = last
	}
	if len(got) != len(hist) {
		t.Fatalf("backfill queued %d jobs for %d events", len(got), len(hist))
	}
	newest := map[string]int64{}
	for _, h := range hist {
		newest[h.Event.AppointmentID] = h.Seq
	}
	states := map[string]int{}
	for i, j := range got {
		h := hist[i]
		if j.EventID != h.Event.EventID || j.AppointmentID != h.Event.AppointmentID {
			t.Fatalf("job %d is event %s of %s, want %s of %s (seq order)", i, j.EventID, j.AppointmentID, h.Event.EventID, h.Event.AppointmentID)
		}
		sameJSON(t, "backfill job.Entry", j.Entry, h)
		lj := live[j.EventID]
		if kp, lp := keyPatient(j), keyPatient(lj); kp != lp {
			t.Errorf("event %d of %s: history key patient %q, live %q", i, j.AppointmentID, kp, lp)
		}
		cur, err := s.Appointment(t.Context(), j.AppointmentID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		if h.Seq == newest[j.AppointmentID] && cur != nil {
			states[j.AppointmentID]++
			if j.From != cur.Disposition || j.To != cur.Disposition || j.FromPatientID != cur.PatientID {
				t.Errorf("state job of %s: from %q to %q from patient %q; want %q, %q, %q", j.AppointmentID,
					j.From, j.To, j.FromPatientID, cur.Disposition, cur.Disposition, cur.PatientID)
			}
			sameJSON(t, "backfill job.State of "+j.AppointmentID, j.State, cur)
			sameJSON(t, "backfill state = live state of the newest event", j.State, lj.State)
			continue
		}
		if j.State != nil || j.From != "" || j.To != "" {
			t.Errorf("job of an older event of %s: from %q to %q state %v; want none", j.AppointmentID, j.From, j.To, j.State != nil)
		}
	}
	for _, aid := range []string{"BF-A", "BF-B", "BF-D"} {
		if states[aid] != 1 {
			t.Errorf("%s: %d state jobs, want 1", aid, states[aid])
		}
	}
	if states["BF-C"] != 0 {
		t.Errorf("BF-C (no appointment): %d state jobs", states["BF-C"])
	}

	// since: only D's event, with its state.
	n, last := backfill(t, s, 0, since, 10)
	if n != 1 || last != hist[len(hist)-1].Seq {
		t.Fatalf("backfill since = %d jobs, last %d; want 1, %d", n, last, hist[len(hist)-1].Seq)
	}
	jobs := drainArchive(t, s)
	if len(jobs) != 1 || jobs[0].AppointmentID != "BF-D" || jobs[0].State == nil {
		t.Fatalf("backfill since: jobs %v", jobEvents(jobs))
	}
	if n, last := backfill(t, s, last, since, 10); n != 0 || last != hist[len(hist)-1].Seq {
		t.Errorf("backfill since after the end = %d, %d", n, last)
	}
	if _, _, err := s.BackfillArchive(t.Context(), 0, time.Time{}, 0); err == nil {
		t.Error("BackfillArchive with limit 0: no error")
	}
}
