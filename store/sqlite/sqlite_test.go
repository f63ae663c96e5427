package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTest(t, Options{})
	})
}

func TestArchiveContract(t *testing.T) {
	storetest.RunArchive(t, func(t *testing.T, archive bool) store.Store {
		return openTest(t, Options{Archive: archive})
	})
}

// TestSharedContract runs the two-process contract on two stores opened
// on one file.
func TestSharedContract(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "apptbridge.db")
		var dbs [2]store.Store
		for i := range dbs {
			db, err := Open(context.Background(), path, Options{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() {
				if err := db.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			dbs[i] = db
		}
		return dbs[0], dbs[1]
	})
}

// TestContractNoCache runs the contract with the writer's cache off, so
// that every state comes from the database.
func TestContractNoCache(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTest(t, Options{noCache: true})
	})
}

// openTest opens a new database in t.TempDir, closed at cleanup.
func openTest(t testing.TB, opts Options) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "sub", "apptbridge.db"), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

var testSeq atomic.Int64

// testInbound returns a new message booking appointment aid.
func testInbound(aid string, typ apptbridge.EventType) *store.Inbound {
	n := testSeq.Add(1)
	ctrl := fmt.Sprintf("T%08d", n)
	raw := []byte(fmt.Sprintf("MSH|^~\\&|EHR|CLINIC|AB|AB|20300101000000||SIU^S12|%s|P|2.5.1\rSCH|%s|%s\r", ctrl, aid, typ))
	ev := &apptbridge.Event{
		EventID:          apptbridge.NewEventID(),
		EventType:        typ,
		EventDatetimeUTC: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Second),
		AppointmentID:    aid,
		PatientID:        "PAT-" + aid,
		PatientPhone:     "+15555550100",
	}
	ev.SetAppointmentTime(time.Date(2099, 1, 1, 9, 0, 0, 0, time.UTC), time.UTC)
	return &store.Inbound{
		Key:         store.DedupKey{SendingApplication: "EHR", SendingFacility: "CLINIC", ControlID: ctrl},
		Hash:        store.HashOf(raw),
		Raw:         raw,
		MessageType: "SIU^S12",
		ReceivedAt:  time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		Event:       ev,
		Ack:         []byte("MSA|AA|" + ctrl + "\r"),
		AckCode:     "AA",
	}
}

func TestPragmas(t *testing.T) {
	db := openTest(t, Options{})
	var mode string
	var syncMode int
	if err := db.wdb.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := db.wdb.QueryRow("PRAGMA synchronous").Scan(&syncMode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || syncMode != 2 {
		t.Errorf("write connection: journal_mode %q synchronous %d, want wal 2", mode, syncMode)
	}
	if err := db.rdb.QueryRow("PRAGMA synchronous").Scan(&syncMode); err != nil || syncMode != 2 {
		t.Errorf("read connection: synchronous %d (%v), want 2", syncMode, err)
	}
	// The read pool cannot write.
	if _, err := db.rdb.Exec("DELETE FROM inbound"); err == nil {
		t.Error("read pool accepted a write")
	}
	var v int
	if err := db.rdb.QueryRow("SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil || v != len(migrations) {
		t.Errorf("schema version %d (%v), want %d", v, err, len(migrations))
	}
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apptbridge.db")
	db, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := testInbound("R-1", apptbridge.Booked)
	res, err := db.Ingest(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.OptOut(t.Context(), "+15555550999"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for range 2 { // migrations are idempotent
		db, err = Open(t.Context(), path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		a, err := db.Appointment(t.Context(), "R-1")
		if err != nil {
			t.Fatal(err)
		}
		if a.Version != res.Outcome.Appointment.Version || a.EventID != in.Event.EventID {
			t.Errorf("reopened appointment version %d event %s", a.Version, a.EventID)
		}
		dup, err := db.Ingest(t.Context(), in)
		if err != nil || !dup.Duplicate || string(dup.Ack) != string(in.Ack) {
			t.Errorf("resend after reopen: %+v %v, want duplicate", dup, err)
		}
		var phones int
		if err := db.rdb.QueryRow("SELECT COUNT(*) FROM opt_outs").Scan(&phones); err != nil || phones != 1 {
			t.Errorf("opt_outs = %d (%v), want 1", phones, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apptbridge.db")
	db, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.wdb.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err := Open(t.Context(), path, Options{}); err == nil {
		db.Close()
		t.Fatal("Open accepted a database from a newer version")
	}
}

func TestEmptyAckAndRaw(t *testing.T) {
	db := openTest(t, Options{})
	in := testInbound("E-1", apptbridge.Booked)
	in.Ack, in.Raw = nil, nil
	if _, err := db.Ingest(t.Context(), in); err != nil {
		t.Fatalf("Ingest without ack and raw: %v", err)
	}
	r, err := db.Inbound(t.Context(), in.Key)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Ack) != 0 || r.Raw != nil {
		t.Errorf("ack %q raw %q, want empty and nil", r.Ack, r.Raw)
	}
	res, err := db.Ingest(t.Context(), in)
	if err != nil || !res.Duplicate {
		t.Errorf("resend: %+v %v, want duplicate", res, err)
	}
}

func TestFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "apptbridge.db")
	db, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Ingest(t.Context(), testInbound("M-1", apptbridge.Booked)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s mode %v, want owner-only", filepath.Base(p), fi.Mode().Perm())
		}
	}
}

// TestMigrateFromV1 opens a database created at schema version 1 with
// history in it: migration 2 keeps every event and its seq, and new events
// get larger ones.
func TestMigrateFromV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	old, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)",
		migrations[0],
		"INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0)",
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	ev := func(aid, id string) string {
		return fmt.Sprintf(`{"event_id":%q,"event_type":"BOOKED","appointment_id":%q}`, id, aid)
	}
	for i, r := range []struct {
		seq     int
		aid, id string
	}{{3, "V-1", "e3"}, {7, "V-2", "e7"}, {9, "V-1", "e9"}} {
		if _, err := old.Exec(`INSERT INTO events (seq, appointment_id, event_id, event_type, event, applied, reason,
			from_disposition, to_disposition, text_kind, suppressed, recorded_at)
			VALUES ($1, $2, $3, 'BOOKED', $4, 1, '', '', 'QUEUED', '', '', $5)`, r.seq, r.aid, r.id, ev(r.aid, r.id), i); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	db, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var autoinc int
	if err := db.rdb.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE name = 'events' AND sql LIKE '%AUTOINCREMENT%'`).Scan(&autoinc); err != nil || autoinc != 0 {
		t.Errorf("events still AUTOINCREMENT (%d, %v)", autoinc, err)
	}
	h, err := db.History(t.Context(), "V-1")
	if err != nil || len(h) != 2 || h[0].Seq != 3 || h[1].Seq != 9 || h[1].Event.EventID != "e9" {
		t.Fatalf("history after migration: %+v %v", h, err)
	}
	in := testInbound("V-1", apptbridge.Booked)
	if _, err := db.Ingest(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	h, err = db.History(t.Context(), "V-1")
	if err != nil || len(h) != 3 || h[2].Seq != 10 || h[2].Event.EventID != in.Event.EventID {
		t.Fatalf("history after a new event: %+v %v", h, err)
	}
	// Event ids stay unique.
	dupe := testInbound("V-2", apptbridge.Booked)
	dupe.Event.EventID = "e7"
	if _, err := db.Ingest(t.Context(), dupe); apptbridge.ErrorCode(err) != apptbridge.ECONFLICT {
		t.Errorf("reused event id after migration: %v, want ECONFLICT", err)
	}
}

// TestCheckpointer: the background checkpoint copies the WAL into the
// database while the writer works; the writer's own stays as a bound.
func TestCheckpointer(t *testing.T) {
	db := openTest(t, Options{})
	var auto int
	if err := db.wdb.QueryRow("PRAGMA wal_autocheckpoint").Scan(&auto); err != nil || auto != writerAutoCheckpoint {
		t.Errorf("writer wal_autocheckpoint = %d (%v), want %d", auto, err, writerAutoCheckpoint)
	}
	for i := range 20 {
		if _, err := db.Ingest(t.Context(), testInbound(fmt.Sprintf("K-%d", i), apptbridge.Booked)); err != nil {
			t.Fatal(err)
		}
	}
	log, copied, err := db.ckpt.checkpoint(t.Context())
	if err != nil || log == 0 || copied != log {
		t.Errorf("checkpoint: %d of %d pages copied (%v), want all", copied, log, err)
	}
	if n, err := db.CountInbound(t.Context()); err != nil || n != 20 {
		t.Errorf("CountInbound = %d, %v", n, err)
	}
}
