package s3

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/s3/s3test"
	"github.com/apptbridge/apptbridge/store/sqlite"
)

// TestBackfill: the same history recorded twice (same clock, same events,
// so the same seqs and instants), once with live archiving into one
// gateway and once with archiving off, then backfilled (small pages) and
// written by the worker into another: both buckets hold the same keys
// with the same bytes, every history object and exactly one state object
// per appointment, at its current disposition and patient id. A second
// backfill writes the same objects again (idempotent).
func TestBackfill(t *testing.T) {
	start := time.Now().UTC().Truncate(time.Second).Add(-72 * time.Hour)
	type twin struct {
		db   *sqlite.DB
		path string
		gw   *s3test.Gateway
		w    *Worker
		tick atomic.Int64
	}
	open := func(path string, archive bool, tw *twin) *sqlite.DB {
		db, err := sqlite.Open(t.Context(), path, sqlite.Options{Archive: archive,
			Now: func() time.Time { return start.Add(time.Duration(tw.tick.Load()) * 7 * time.Hour) }})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	newTwin := func(archive bool) *twin {
		tw := &twin{gw: s3test.Start(t)}
		tw.path = filepath.Join(t.TempDir(), "a.db")
		tw.db = open(tw.path, archive, tw)
		t.Cleanup(func() { tw.db.Close() })
		arch, err := New(t.Context(), Config{Bucket: testBucket, CustomerCode: customer, Region: "us-east-1",
			Endpoint: tw.gw.Endpoint(), Credentials: credentials.NewStaticCredentialsProvider(testAccess, testSecret, "")})
		if err != nil {
			t.Fatal(err)
		}
		tw.w = &Worker{Store: tw.db, Writer: arch}
		return tw
	}
	live, back := newTwin(true), newTwin(false)

	// The script: a patient id change, a stale event naming another
	// patient, an event without a patient id, a cancel; a second and a
	// third appointment; a patient's confirmation of an appointment that
	// does not exist (history, no state). Recorded over several days.
	at := start
	var script []func(db store.Store)
	ehr := func(aid string, typ apptbridge.EventType, evAt time.Time, pid string) {
		ev := event(aid, typ, evAt)
		ev.PatientID = pid
		script = append(script, func(db store.Store) { c := *ev; ingest(t, db, &c) })
	}
	ehr("BF-1", apptbridge.Booked, at, "P-OLD")
	ehr("BF-2", apptbridge.Booked, at, "P-2")
	ehr("BF-1", apptbridge.Modified, at.Add(time.Minute), "P-NEW")
	ehr("BF-1", apptbridge.Modified, at.Add(-time.Hour), "P-STALE")
	ehr("BF-1", apptbridge.Modified, at.Add(2*time.Minute), "")
	ehr("BF-3", apptbridge.Booked, at, "P/3")
	confirm := event("BF-NONE", apptbridge.Confirm, at)
	confirm.Source.Channel = apptbridge.ChannelSMS
	script = append(script, func(db store.Store) {
		c := *confirm
		if err := db.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
			_, err := tx.Apply(ctx, &c)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	})
	ehr("BF-1", apptbridge.Canceled, at.Add(3*time.Minute), "P/3")
	ehr("BF-2", apptbridge.Modified, at.Add(time.Minute), "")
	for i, step := range script {
		for _, tw := range []*twin{live, back} {
			tw.tick.Store(int64(i))
			step(tw.db)
		}
	}
	drain(t, live.w, live.db)
	want := live.gw.Objects(t)

	if st, _ := back.db.ArchiveQueue(t.Context()); st.Depth != 0 {
		t.Fatalf("archiving off queued %d jobs", st.Depth)
	}
	if _, _, err := back.db.BackfillArchive(t.Context(), 0, time.Time{}, 10); err == nil {
		t.Fatal("BackfillArchive on a store with archiving off: no error")
	}
	// Reopen with archiving on (as archive-backfill and serve do with
	// S3_BUCKET set) and backfill in pages of 4.
	back.db.Close()
	back.db = open(back.path, true, back)
	back.w.Store = back.db
	backfillAll := func() int {
		total := 0
		var after int64
		for {
			n, last, err := back.db.BackfillArchive(t.Context(), after, time.Time{}, 4)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return total
			}
			total, after = total+n, last
		}
	}
	if n := backfillAll(); n != len(script) {
		t.Fatalf("backfill queued %d jobs, want %d", n, len(script))
	}
	drain(t, back.w, back.db)
	got := back.gw.Objects(t)
	compare := func(what string) {
		t.Helper()
		if !equalKeys(got, want) {
			t.Fatalf("%s: keys\n got %v\nwant %v", what, keys(got), keys(want))
		}
		for k, v := range want {
			if !bytes.Equal(got[k], v) {
				t.Errorf("%s: %s\n got %s\nwant %s", what, k, got[k], v)
			}
		}
	}
	compare("backfill")

	var hist, states []string
	for _, k := range keys(got) {
		if strings.HasPrefix(k, "history/") {
			hist = append(hist, k)
		} else {
			states = append(states, k)
		}
	}
	if len(hist) != len(script) {
		t.Errorf("history objects %d, want %d", len(hist), len(script))
	}
	wantStates := []string{
		"state/customer=acme/disposition=CANCELED/appointmentBF-1-patientP%2F3.json",
		"state/customer=acme/disposition=QUEUED/appointmentBF-2-patientP-2.json",
		"state/customer=acme/disposition=QUEUED/appointmentBF-3-patientP%2F3.json",
	}
	if strings.Join(states, " ") != strings.Join(wantStates, " ") {
		t.Errorf("state objects %v, want %v", states, wantStates)
	}
	if days := map[string]bool{}; true {
		for _, k := range hist {
			days[strings.Split(k, "/")[2]] = true
		}
		if len(days) < 2 {
			t.Errorf("history over %d dt= partitions, want several: %v", len(days), hist)
		}
	}

	// Again: the same objects, nothing else.
	if n := backfillAll(); n != len(script) {
		t.Fatalf("second backfill queued %d jobs, want %d", n, len(script))
	}
	drain(t, back.w, back.db)
	got = back.gw.Objects(t)
	compare("second backfill")
}

func equalKeys(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}
