package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/internal/sqlrow"
)

func appendAudit(t *testing.T, db *DB, n int) {
	t.Helper()
	for i := range n {
		if err := db.AppendAudit(t.Context(), &store.AuditEntry{Actor: "admin:s1", Action: "view.appointment",
			Target: fmt.Sprintf("A-%d", i), RemoteIP: "192.0.2.1"}); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
}

func auditLog(t *testing.T, db *DB) []*store.AuditEntry {
	t.Helper()
	l, err := db.Audit(t.Context(), store.AuditFilter{Limit: MaxLimit})
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	return l
}

// TestAuditAppendOnly: the triggers refuse changes to the audit log, and
// a change made behind them (triggers dropped) shows in the chain.
func TestAuditAppendOnly(t *testing.T) {
	db := openTest(t, Options{})
	appendAudit(t, db, 5)
	for _, q := range []string{
		`UPDATE audit_log SET detail = 'x'`,
		`UPDATE audit_log SET detail = 'x' WHERE seq = 2`,
		`DELETE FROM audit_log`,
		`DELETE FROM audit_log WHERE seq = 5`,
	} {
		_, err := db.wdb.Exec(q)
		if err == nil || !strings.Contains(err.Error(), "audit_log is append-only") {
			t.Errorf("%s: %v, want the trigger's refusal", q, err)
		}
	}
	l := auditLog(t, db)
	if len(l) != 5 {
		t.Fatalf("audit log has %d entries after refused changes, want 5", len(l))
	}
	if err := store.VerifyAuditChain(store.Hash{}, l); err != nil {
		t.Fatalf("VerifyAuditChain: %v", err)
	}

	// Behind the triggers' back: a changed entry no longer matches its hash.
	for _, q := range []string{
		`DROP TRIGGER audit_log_no_update`,
		`DROP TRIGGER audit_log_no_delete`,
		`UPDATE audit_log SET detail = 'x' WHERE seq = 3`,
	} {
		if _, err := db.wdb.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	err := store.VerifyAuditChain(store.Hash{}, auditLog(t, db))
	if err == nil || !strings.Contains(err.Error(), "entry 3:") {
		t.Errorf("VerifyAuditChain with entry 3 changed: %v, want entry 3 reported", err)
	}

	// A forger who rehashes the changed entry breaks the link of the next.
	e := auditLog(t, db)[2]
	h := store.AuditHash(e.PrevHash, e)
	if _, err := db.wdb.Exec(`UPDATE audit_log SET hash = $1 WHERE seq = 3`, h[:]); err != nil {
		t.Fatal(err)
	}
	err = store.VerifyAuditChain(store.Hash{}, auditLog(t, db))
	if err == nil || !strings.Contains(err.Error(), "entry 4:") {
		t.Errorf("VerifyAuditChain with entry 3 rehashed: %v, want entry 4 reported", err)
	}

	// A deleted entry breaks the link of the one after it.
	if _, err := db.wdb.Exec(`UPDATE audit_log SET detail = '', hash = $1 WHERE seq = 3`, l[2].Hash[:]); err != nil {
		t.Fatal(err)
	}
	if err := store.VerifyAuditChain(store.Hash{}, auditLog(t, db)); err != nil {
		t.Fatalf("VerifyAuditChain after restoring entry 3: %v", err)
	}
	if _, err := db.wdb.Exec(`DELETE FROM audit_log WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	err = store.VerifyAuditChain(store.Hash{}, auditLog(t, db))
	if err == nil || !strings.Contains(err.Error(), "entry 3:") {
		t.Errorf("VerifyAuditChain with entry 2 deleted: %v, want entry 3 reported", err)
	}
}

// TestAdminBatchRerun queues admin writes in one batch with a request that
// fails, so the writer runs the batch again with savepoints: each write
// counts once, and the outcomes returned as errors (a wrong code, an idle
// session) still commit.
func TestAdminBatchRerun(t *testing.T) {
	b := newBlocker()
	var batches []int
	var mu sync.Mutex
	db := openTest(t, Options{
		BeforeCommit: b.hook,
		OnCommit: func(n int, _ time.Duration) {
			mu.Lock()
			batches = append(batches, n)
			mu.Unlock()
		},
	})
	ctx := context.Background()
	t0 := store.Instant(time.Now())
	if err := db.SaveLoginCode(ctx, &store.LoginCode{ID: "c1", Hash: store.HashString("123456"),
		ExpiresAt: t0.Add(time.Hour), MaxTries: 10}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, &store.Session{ID: "s1", CreatedAt: t0, ExpiresAt: t0.Add(8 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	appendAudit(t, db, 1)
	mu.Lock()
	batches = nil
	mu.Unlock()

	b.armed.Store(true)
	go db.Ingest(ctx, testInbound("Z-0", apptbridge.Booked))
	<-b.started
	wrong := func(h store.Hash) bool { return h == store.HashString("000000") }
	bad := errors.New("bad request")
	calls := []func() error{
		func() error { _, err := db.UseLoginCode(ctx, "c1", t0, wrong); return err },
		func() error { return db.AppendAudit(ctx, &store.AuditEntry{Action: "login"}) },
		func() error {
			_, err := db.TouchSession(ctx, "s1", t0.Add(time.Hour), 30*time.Minute, true)
			return err
		},
		func() error { _, err := db.UseLoginCode(ctx, "c1", t0, wrong); return err },
		func() error { return db.w.do(ctx, func(context.Context, wtx) error { return bad }) },
		func() error { return db.AppendAudit(ctx, &store.AuditEntry{Action: "logout"}) },
	}
	errs := make([]chan error, len(calls))
	for i, f := range calls {
		errs[i] = make(chan error, 1)
		go func() { errs[i] <- f() }()
		waitQueued(t, db, i+1)
	}
	close(b.release)
	for i, want := range []error{store.ErrCodeWrong, nil, store.ErrSessionEnded, store.ErrCodeWrong, bad, nil} {
		if err := <-errs[i]; want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Errorf("request %d: %v, want %v", i, err, want)
		}
	}
	mu.Lock()
	got := append([]int(nil), batches...)
	mu.Unlock()
	if len(got) != 2 || got[1] != len(calls) {
		t.Errorf("batches = %v, want [1 %d]", got, len(calls))
	}

	// Two wrong answers counted, not more.
	left, err := db.UseLoginCode(ctx, "c1", t0, wrong)
	if !errors.Is(err, store.ErrCodeWrong) || left != 7 {
		t.Errorf("third wrong answer: %d left, %v; want 7 and ErrCodeWrong", left, err)
	}
	// The session's end committed.
	s, err := db.TouchSession(ctx, "s1", t0.Add(time.Hour), 24*time.Hour, true)
	if !errors.Is(err, store.ErrSessionEnded) || s == nil || s.EndReason != "idle" {
		t.Errorf("session after an idle touch: %+v %v, want ended (idle)", s, err)
	}
	// The audit chain: three entries, contiguous.
	l := auditLog(t, db)
	if len(l) != 3 || l[1].Action != "login" || l[2].Action != "logout" || l[2].Seq != 3 {
		t.Errorf("audit log = %d entries", len(l))
	}
	if err := store.VerifyAuditChain(store.Hash{}, l); err != nil {
		t.Errorf("VerifyAuditChain: %v", err)
	}
}

// TestSecretTwoProcesses: two stores on one file (two processes) agree
// on a secret created concurrently.
func TestSecretTwoProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apptbridge.db")
	var dbs [2]*DB
	for i := range dbs {
		db, err := Open(t.Context(), path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	const n = 8
	got := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got[i], errs[i] = dbs[i%2].Secret(t.Context(), "jwt", func() []byte {
				return []byte(fmt.Sprintf("secret-of-caller-%d", i))
			})
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Secret %d: %v", i, errs[i])
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Errorf("Secret %d = %q, want %q like the first", i, got[i], got[0])
		}
	}
}

// TestStatsReminders: the reminder counts (the contract suite's stores
// plan no reminders).
func TestStatsReminders(t *testing.T) {
	planner := func(a *apptbridge.Appointment, now time.Time) []store.Reminder {
		start := a.AppointmentDatetimeUTC
		return []store.Reminder{
			{Ordinal: 1, StartUTC: start, DueAt: start.Add(-48 * time.Hour), Status: store.ReminderPlanned},
			{Ordinal: 2, StartUTC: start, DueAt: start.Add(-2 * time.Hour), Status: store.ReminderSkipped, Reason: "test"},
		}
	}
	db := openTest(t, Options{Planner: planner})
	ctx := t.Context()
	for _, aid := range []string{"M-1", "M-2"} {
		if _, err := db.Ingest(ctx, testInbound(aid, apptbridge.Booked)); err != nil {
			t.Fatal(err)
		}
	}
	stats := func() *store.Stats {
		t.Helper()
		st, err := db.Stats(ctx, time.Now())
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		return st
	}
	start := time.Date(2099, 1, 1, 9, 0, 0, 0, time.UTC) // testInbound's
	st := stats()
	if st.RemindersPlanned != 2 || !st.RemindersNextDue.Equal(start.Add(-48*time.Hour)) ||
		st.RemindersSent24h != 0 || st.RemindersSkip24h != 2 {
		t.Errorf("Stats reminders = %d planned (next %v), %d sent, %d skipped; want 2 (next %v), 0, 2",
			st.RemindersPlanned, st.RemindersNextDue, st.RemindersSent24h, st.RemindersSkip24h, start.Add(-48*time.Hour))
	}
	l, err := db.ClaimReminders(ctx, "w", start, time.Minute, 1)
	if err != nil || len(l) != 1 {
		t.Fatalf("ClaimReminders = %v, %v", l, err)
	}
	r := l[0]
	r.Status, r.SentAt = store.ReminderSent, time.Now()
	if err := db.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.SaveReminder(ctx, "w", r) }); err != nil {
		t.Fatal(err)
	}
	st = stats()
	if st.RemindersPlanned != 1 || st.RemindersSent24h != 1 || st.RemindersSkip24h != 2 {
		t.Errorf("Stats reminders after one sent = %d planned, %d sent, %d skipped; want 1, 1, 2",
			st.RemindersPlanned, st.RemindersSent24h, st.RemindersSkip24h)
	}
	// A day later the sent and skipped ones are out of the window.
	st, err = db.Stats(ctx, time.Now().Add(25*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if st.RemindersPlanned != 1 || st.RemindersSent24h != 0 || st.RemindersSkip24h != 0 {
		t.Errorf("Stats reminders a day later = %d planned, %d sent, %d skipped; want 1, 0, 0",
			st.RemindersPlanned, st.RemindersSent24h, st.RemindersSkip24h)
	}
}

// TestMigrateFromV4: the admin tables and indexes are added to a database
// with data; the new indexes cover the rows already there.
func TestMigrateFromV4(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v4.db")
	old, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec("CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 4; v++ {
		if _, err := old.Exec(migrations[v-1]); err != nil {
			t.Fatal(err)
		}
		if _, err := old.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := old.Exec(`INSERT INTO events (seq, appointment_id, event_id, event_type, event, applied, reason,
		from_disposition, to_disposition, text_kind, suppressed, recorded_at)
		VALUES (1, 'V-1', 'e1', 'BOOKED', '{"event_id":"e1","event_type":"BOOKED","appointment_id":"V-1"}', 1, '', '',
		'QUEUED', '', '', 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(`INSERT INTO inbound (sending_app, sending_facility, control_id, hash, message_type,
		received_at, ack_code, ack, raw, event_id) VALUES ('EHR', 'CLINIC', 'C1', X'00', 'SIU^S12', 5, 'AA', X'01', X'02', 'e1')`); err != nil {
		t.Fatal(err)
	}
	old.Close()

	db := func() *DB {
		db, err := Open(t.Context(), path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}()
	var v int
	if err := db.rdb.QueryRow("SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil || v != len(migrations) {
		t.Errorf("schema version %d (%v), want %d", v, err, len(migrations))
	}
	l, err := db.InboundOf(t.Context(), "V-1")
	if err != nil || len(l) != 1 || l[0].Key.ControlID != "C1" || l[0].EventID != "e1" || !bytes.Equal(l[0].Raw, []byte{2}) {
		t.Fatalf("InboundOf after migration = %+v, %v", l, err)
	}
	h, err := db.HistorySince(t.Context(), 0, 0)
	if err != nil || len(h) != 1 || h[0].Seq != 1 || h[0].Event.EventID != "e1" {
		t.Fatalf("HistorySince after migration = %+v, %v", h, err)
	}
	appendAudit(t, db, 2)
	if err := store.VerifyAuditChain(store.Hash{}, auditLog(t, db)); err != nil {
		t.Errorf("VerifyAuditChain: %v", err)
	}
}

// TestAdminPlans: the dashboard's and timeline's queries read index
// ranges, not whole tables (beyond the disposition index and the planned
// reminders, read whole by design).
func TestAdminPlans(t *testing.T) {
	db := openTest(t, Options{})
	for _, c := range []struct{ q, want string }{
		{sqlStatsInbound, "USING INDEX inbound_received_at"},
		{sqlStatsSent, "USING INDEX texts_sent_at"},
		{sqlStatsFailed, "INDEX texts_failed"},
		{sqlStatsDone, "COVERING INDEX reminders_done"},
		{sqlrow.InboundOf, "USING INDEX inbound_event_id"},
	} {
		var plan []string
		err := db.readRows(t.Context(), "EXPLAIN QUERY PLAN "+c.q, []any{int64(1)}, 4, func(row []driver.Value) error {
			plan = append(plan, sqlrow.Str(row[3]))
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", c.q, err)
		}
		p := strings.Join(plan, "; ")
		if !strings.Contains(p, c.want) || strings.Contains(p, "SCAN texts") || strings.Contains(p, "SCAN inbound") ||
			strings.Contains(p, "SCAN reminders") {
			t.Errorf("plan of %s:\n  %s\nwant %s", c.q, p, c.want)
		}
	}
}
