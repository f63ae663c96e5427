package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// TestCacheSeesOtherConnections: a state another connection commits (say
// another process on the same file) is what the next event applies to.
func TestCacheSeesOtherConnections(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Ingest(t.Context(), testInbound("C-1", apptbridge.Booked)); err != nil {
		t.Fatal(err)
	}
	a, err := db.Appointment(t.Context(), "C-1")
	if err != nil {
		t.Fatal(err)
	}

	// Another connection cancels it behind the writer's back.
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	a.Disposition, a.Version = apptbridge.DispCanceled, a.Version+1
	var enc jsonEnc
	if err := enc.encodeAppointment(a); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec("UPDATE appointments SET disposition = $1, state = $2, version = $3 WHERE appointment_id = 'C-1'",
		string(a.Disposition), string(enc.buf), a.Version); err != nil {
		t.Fatal(err)
	}

	res, err := db.Ingest(t.Context(), testInbound("C-1", apptbridge.Modified))
	if err != nil {
		t.Fatal(err)
	}
	if o := res.Outcome; o.From != apptbridge.DispCanceled || o.Appointment.Version != a.Version+1 {
		t.Errorf("after another connection's update: from %s version %d, want CANCELED %d",
			o.From, o.Appointment.Version, a.Version+1)
	}
}

// TestStaleCacheHeals: should the cache ever hold a state that is not
// current, the version check catches it and the request is retried from
// the database.
func TestStaleCacheHeals(t *testing.T) {
	db := openTest(t, Options{})
	book := testInbound("S-1", apptbridge.Booked)
	if _, err := db.Ingest(t.Context(), book); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Ingest(t.Context(), testInbound("S-1", apptbridge.Confirmed)); err != nil {
		t.Fatal(err)
	}
	// Put the state after the booking (version 1, not confirmed) back.
	err := db.w.do(t.Context(), func(ctx context.Context, tx wtx) error {
		stale := *tx.b.cache.committed["S-1"]
		stale.Version, stale.Confirmed = 1, false
		tx.b.cache.committed["S-1"] = &stale
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Ingest(t.Context(), testInbound("S-1", apptbridge.Modified))
	if err != nil {
		t.Fatal(err)
	}
	if a := res.Outcome.Appointment; a.Version != 3 || !a.Confirmed {
		t.Errorf("after a stale cache entry: version %d confirmed %v, want 3 true", a.Version, a.Confirmed)
	}
	if h, _ := db.History(t.Context(), "S-1"); len(h) != 3 {
		t.Errorf("history has %d entries, want 3", len(h))
	}
}

// TestCacheAfterRollback: states written in a batch that rolled back are
// not applied to afterwards.
func TestCacheAfterRollback(t *testing.T) {
	var fail bool
	db := openTest(t, Options{BeforeCommit: func() error {
		if fail {
			return context.Canceled
		}
		return nil
	}})
	if _, err := db.Ingest(t.Context(), testInbound("R-1", apptbridge.Booked)); err != nil {
		t.Fatal(err)
	}
	fail = true // only the writer reads it, between requests: no race
	if _, err := db.Ingest(t.Context(), testInbound("R-1", apptbridge.Canceled)); err == nil {
		t.Fatal("Ingest committed despite BeforeCommit")
	}
	if _, err := db.Ingest(t.Context(), testInbound("R-2", apptbridge.Booked)); err == nil {
		t.Fatal("Ingest committed despite BeforeCommit")
	}
	fail = false
	res, err := db.Ingest(t.Context(), testInbound("R-1", apptbridge.Modified))
	if err != nil {
		t.Fatal(err)
	}
	if o := res.Outcome; o.From != apptbridge.DispQueued || o.Appointment.Version != 2 {
		t.Errorf("after a rolled-back cancel: from %s version %d, want QUEUED 2", o.From, o.Appointment.Version)
	}
	res, err = db.Ingest(t.Context(), testInbound("R-2", apptbridge.Modified))
	if err != nil {
		t.Fatal(err)
	}
	if o := res.Outcome; o.From != apptbridge.DispNone || o.Appointment.Version != 1 {
		t.Errorf("after a rolled-back booking: from %q version %d, want none 1", o.From, o.Appointment.Version)
	}
}

// TestFailedRequestInBatch: a request that fails after writing (event id
// reused) rolls back alone, and the cache does not keep its state.
func TestFailedRequestInBatch(t *testing.T) {
	b := newBlocker()
	db := openTest(t, Options{BeforeCommit: b.hook})
	first := testInbound("Q-0", apptbridge.Booked)
	if _, err := db.Ingest(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	b.armed.Store(true)
	go db.Ingest(context.Background(), testInbound("Q-9", apptbridge.Booked))
	<-b.started

	type result struct {
		res store.IngestResult
		err error
	}
	book := testInbound("Q-1", apptbridge.Booked)
	reuse := testInbound("Q-1", apptbridge.Canceled)
	reuse.Event.EventID = first.Event.EventID // ECONFLICT, after the inbound insert
	modify := testInbound("Q-1", apptbridge.Modified)
	var results []chan result
	for i, in := range []*store.Inbound{book, reuse, modify} {
		c := make(chan result, 1)
		results = append(results, c)
		go func() {
			r, err := db.Ingest(context.Background(), in)
			c <- result{r, err}
		}()
		waitQueued(t, db, i+1)
	}
	close(b.release)
	r0, r1, r2 := <-results[0], <-results[1], <-results[2]
	if r0.err != nil || r0.res.Outcome.Appointment.Version != 1 {
		t.Errorf("booking: %+v %v", r0.res, r0.err)
	}
	if apptbridge.ErrorCode(r1.err) != apptbridge.ECONFLICT {
		t.Errorf("reused event id: %v, want ECONFLICT", r1.err)
	}
	if r2.err != nil || r2.res.Outcome.From != apptbridge.DispQueued || r2.res.Outcome.Appointment.Version != 2 {
		t.Errorf("modify after the failed cancel: %+v %v", r2.res.Outcome, r2.err)
	}
	if _, err := db.Inbound(t.Context(), reuse.Key); apptbridge.ErrorCode(err) != apptbridge.ENOTFOUND {
		t.Errorf("failed message stored: %v", err)
	}
	if h, _ := db.History(t.Context(), "Q-1"); len(h) != 2 {
		t.Errorf("history has %d entries, want 2", len(h))
	}
}
