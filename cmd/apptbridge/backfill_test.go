package main

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/sqlite"
)

func TestArchiveBackfillCommand(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", dir)
	for _, k := range []string{"DATABASE_URL", "S3_BUCKET", "CUSTOMER_CODE"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)  // unset, so the env file's values count
	}

	// Flag errors: exit 2 before anything is opened.
	for _, args := range [][]string{
		{"--since", "2025-13-01"},
		{"--since", "yesterday"},
		{"--bogus"},
		{"extra"},
	} {
		code, _, errOut := runCmd(t, "", append([]string{"archive-backfill"}, args...)...)
		if code != 2 || errOut == "" {
			t.Errorf("archive-backfill %v: exit %d, stderr %q; want 2 and a message", args, code, errOut)
		}
	}
	// Without S3_BUCKET: a clear error, nothing opened.
	code, out, errOut := runCmd(t, "", "archive-backfill")
	if code != 1 || !strings.Contains(errOut, "S3_BUCKET is not set") || out != "" {
		t.Errorf("archive-backfill without S3_BUCKET: exit %d, out %q, err %q", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "apptbridge.db")); err == nil {
		t.Error("archive-backfill without S3_BUCKET opened the store")
	}

	// Two events recorded with archiving off, then a backfill from an env
	// file: two jobs, the output names counts only.
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "apptbridge.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, typ := range []apptbridge.EventType{apptbridge.Booked, apptbridge.Canceled} {
		ev := &apptbridge.Event{EventID: apptbridge.NewEventID(), EventType: typ, AppointmentID: "BF-CLI",
			EventDatetimeUTC: time.Date(2030, 1, 1, 10, i, 0, 0, time.UTC), PatientID: "PAT-SECRET-1",
			PatientPhone: "+15555550100", AppointmentDatetimeUTC: time.Date(2099, 1, 1, 15, 0, 0, 0, time.UTC)}
		raw := []byte("MSH|test " + ev.EventID)
		_, err := db.Ingest(context.Background(), &store.Inbound{
			Key:  store.DedupKey{SendingApplication: "EHR", SendingFacility: "C", ControlID: ev.EventID},
			Hash: sha256.Sum256(raw), Raw: raw, MessageType: "SIU^S12", ReceivedAt: time.Now(), Event: ev,
			Ack: []byte("MSA|AA"), AckCode: "AA"})
		if err != nil {
			t.Fatalf("ingest: %v", err)
		}
	}
	db.Close()
	env := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(env, []byte("S3_BUCKET=lake-test\nCUSTOMER_CODE=acme\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCmd(t, "", "archive-backfill", "--env-file", env)
	if code != 0 || !strings.Contains(out, "done: 2 archive jobs queued") {
		t.Fatalf("archive-backfill: exit %d, out %q, err %q", code, out, errOut)
	}
	if strings.Contains(out+errOut, "PAT-SECRET") || strings.Contains(out+errOut, "5555550100") {
		t.Errorf("output names patient data: %q %q", out, errOut)
	}
	db, err = sqlite.Open(context.Background(), filepath.Join(dir, "apptbridge.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := db.ArchiveQueue(context.Background()); err != nil || st.Depth != 2 {
		t.Errorf("archive queue after the backfill = %+v, %v; want 2 jobs", st, err)
	}
	// A serve's worker holds the first job: a backfill beside it leaves
	// the lease alone.
	if jobs, err := db.ClaimArchive(context.Background(), "serve", time.Now(), time.Hour, 1); err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	db.Close()
	// --since after the events: nothing.
	code, out, errOut = runCmd(t, "", "archive-backfill", "--env-file", env, "--since", time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02"))
	if code != 0 || !strings.Contains(out, "done: 0 archive jobs queued") {
		t.Errorf("archive-backfill --since tomorrow: exit %d, out %q, err %q", code, out, errOut)
	}
	db, err = sqlite.Open(context.Background(), filepath.Join(dir, "apptbridge.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if jobs, err := db.ClaimArchive(context.Background(), "other", time.Now(), time.Hour, 10); err != nil || len(jobs) != 0 {
		t.Errorf("after archive-backfill another worker claims %d jobs (%v): the lease was released", len(jobs), err)
	}
}
