package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/storetest"
)

// The tests need a PostgreSQL server: APPTBRIDGE_TEST_POSTGRES is its URL
// (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable), and
// the role must be allowed to create schemas. Each test gets a schema of
// its own (search_path), dropped at cleanup. Without the variable the
// tests are skipped, or fail when CI=true.
const envURL = "APPTBRIDGE_TEST_POSTGRES"

var schemaSeq atomic.Int64

// testSchema creates a new, empty schema and returns the URL that uses it.
func testSchema(t testing.TB) string {
	t.Helper()
	base := os.Getenv(envURL)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set (CI=true): the PostgreSQL store must be tested", envURL)
		}
		t.Skipf("%s not set: skipping the PostgreSQL store tests", envURL)
	}
	name := fmt.Sprintf("abtest_%d_%d", os.Getpid(), schemaSeq.Add(1))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("connect: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: not a URL", envURL)
	}
	q := u.Query()
	q.Set("search_path", name)
	q.Set("pool_max_conns", "8")
	u.RawQuery = q.Encode()
	return u.String()
}

// openURL opens a store on dsn, closed at cleanup.
func openURL(t testing.TB, dsn string, opts Options) *DB {
	t.Helper()
	db, err := Open(context.Background(), dsn, opts)
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

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openURL(t, testSchema(t), Options{})
	})
}

func TestArchiveContract(t *testing.T) {
	storetest.RunArchive(t, func(t *testing.T, archive bool) store.Store {
		return openURL(t, testSchema(t), Options{Archive: archive})
	})
}

// TestSharedContract runs the two-process contract on two stores (two
// pools) on one schema.
func TestSharedContract(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		dsn := testSchema(t)
		return openURL(t, dsn, Options{}), openURL(t, dsn, Options{})
	})
}

func TestMigrateIdempotent(t *testing.T) {
	dsn := testSchema(t)
	// Concurrent starts: the advisory lock lets one migrate, the others
	// find the schema current.
	var wg sync.WaitGroup
	dbs := make([]*DB, 4)
	errs := make([]error, 4)
	for i := range dbs {
		wg.Go(func() { dbs[i], errs[i] = Open(t.Context(), dsn, Options{}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	var v, n int
	if err := dbs[0].pool.QueryRow(t.Context(), "SELECT MAX(version), COUNT(*) FROM schema_migrations").Scan(&v, &n); err != nil {
		t.Fatal(err)
	}
	if v != len(migrations) || n != len(migrations) {
		t.Errorf("schema_migrations: max %d count %d, want %d", v, n, len(migrations))
	}
	// A reopen changes nothing.
	db := openURL(t, dsn, Options{})
	if err := db.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}

var testSeq atomic.Int64

// testInbound returns a new message with an event of type typ for
// appointment aid, at the given event time.
func testInbound(aid string, typ apptbridge.EventType, at time.Time) *store.Inbound {
	n := testSeq.Add(1)
	ctrl := fmt.Sprintf("P%08d", n)
	raw := []byte(fmt.Sprintf("MSH|^~\\&|EHR|CLINIC|AB|AB|20300101000000||SIU^S12|%s|P|2.5.1\rSCH|%s|%s\r", ctrl, aid, typ))
	ev := &apptbridge.Event{
		EventID:          apptbridge.NewEventID(),
		EventType:        typ,
		EventDatetimeUTC: at,
		AppointmentID:    aid,
		PatientID:        "PAT-" + aid,
		PatientPhone:     "+15555550100",
	}
	if typ.FromEHR() {
		ev.SetAppointmentTime(time.Date(2099, 1, 1, 9, 0, 0, 0, time.UTC), time.UTC)
	} else {
		ev.PatientPhone = ""
	}
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

// twoProcesses opens two stores (two "processes", each with its own
// pool) on one new schema.
func twoProcesses(t *testing.T, opts Options) (*DB, *DB) {
	dsn := testSchema(t)
	return openURL(t, dsn, opts), openURL(t, dsn, opts)
}

// Both processes receive the same message at once (an EHR resending on
// two connections): one applies it, the other answers with its ACK.
func TestTwoProcessesSameMessage(t *testing.T) {
	a, b := twoProcesses(t, Options{})
	for i := range 20 {
		in := testInbound(fmt.Sprintf("D-%d", i), apptbridge.Booked, time.Date(2030, 1, 1, 0, 0, i, 0, time.UTC))
		var wg sync.WaitGroup
		res := make([]store.IngestResult, 2)
		errs := make([]error, 2)
		for j, db := range []*DB{a, b} {
			wg.Go(func() { res[j], errs[j] = db.Ingest(t.Context(), in) })
		}
		wg.Wait()
		for j, err := range errs {
			if err != nil {
				t.Fatalf("message %d, process %d: %v", i, j, err)
			}
		}
		applied, dup := 0, 0
		for _, r := range res {
			if r.Conflict {
				t.Fatalf("message %d: conflict", i)
			}
			if r.Duplicate {
				dup++
				if string(r.Ack) != string(in.Ack) {
					t.Errorf("message %d: duplicate's ACK %q, want %q", i, r.Ack, in.Ack)
				}
			} else {
				applied++
			}
		}
		if applied != 1 || dup != 1 {
			t.Fatalf("message %d: %d applied, %d duplicates; want 1 and 1", i, applied, dup)
		}
		h, err := a.History(t.Context(), in.Event.AppointmentID)
		if err != nil || len(h) != 1 {
			t.Fatalf("message %d: history %d entries (%v), want 1", i, len(h), err)
		}
	}
}

// Both processes apply events to the same appointments at once: every
// applied event increments the version exactly once (no lost update).
func TestTwoProcessesOneAppointment(t *testing.T) {
	a, b := twoProcesses(t, Options{})
	const perProcess, appts = 40, 3
	var wg sync.WaitGroup
	var evSeq atomic.Int64
	applied := make([]atomic.Int64, appts)
	for p, db := range []*DB{a, b} {
		wg.Go(func() {
			for i := range perProcess {
				k := i % appts
				aid := fmt.Sprintf("S-%d", k)
				typ := apptbridge.Modified
				if i < appts {
					typ = apptbridge.Booked // the first events race to create the appointment
				}
				at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(evSeq.Add(1)) * time.Second)
				in := testInbound(aid, typ, at)
				in.Event.AppointmentLocation = fmt.Sprintf("Room %d-%d", p, i)
				res, err := db.Ingest(t.Context(), in)
				if err != nil {
					t.Errorf("process %d: %v", p, err)
					return
				}
				if res.Outcome.Applied {
					applied[k].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for k := range appts {
		aid := fmt.Sprintf("S-%d", k)
		appt, err := a.Appointment(t.Context(), aid)
		if err != nil {
			t.Fatalf("%s: %v", aid, err)
		}
		h, err := b.History(t.Context(), aid)
		if err != nil {
			t.Fatal(err)
		}
		nApplied := 0
		for _, e := range h {
			if e.Applied {
				nApplied++
			}
		}
		want := 0
		for i := range perProcess {
			if i%appts == k {
				want += 2
			}
		}
		if len(h) != want {
			t.Errorf("%s: %d history entries", aid, len(h))
		}
		if int64(nApplied) != applied[k].Load() {
			t.Errorf("%s: %d applied in history, callers saw %d", aid, nApplied, applied[k].Load())
		}
		if appt.Version != int64(nApplied) {
			t.Errorf("%s: version %d after %d applied events (lost update)", aid, appt.Version, nApplied)
		}
	}
}

// Both processes claim texts and reminders at once: each row is claimed
// once.
func TestTwoProcessesClaims(t *testing.T) {
	planner := func(a *apptbridge.Appointment, now time.Time) []store.Reminder {
		return []store.Reminder{
			{AppointmentID: a.AppointmentID, Ordinal: 1, StartUTC: a.AppointmentDatetimeUTC, DueAt: now.Add(-time.Hour), Status: store.ReminderPlanned},
			{AppointmentID: a.AppointmentID, Ordinal: 2, StartUTC: a.AppointmentDatetimeUTC, DueAt: now.Add(-time.Minute), Status: store.ReminderPlanned},
		}
	}
	a, b := twoProcesses(t, Options{Planner: planner})
	const n = 60
	for i := range n {
		in := testInbound(fmt.Sprintf("K-%03d", i), apptbridge.Booked, time.Date(2030, 1, 1, 0, 0, i, 0, time.UTC))
		if _, err := a.Ingest(t.Context(), in); err != nil {
			t.Fatal(err)
		}
	}
	texts, err := a.Texts(t.Context(), store.TextFilter{Direction: store.DirOut, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(texts) != n {
		t.Fatalf("%d texts, want %d", len(texts), n)
	}
	now := time.Now()
	var (
		mu        sync.Mutex
		textSeen  = map[string]string{}
		remSeen   = map[string]string{}
		wg        sync.WaitGroup
		dupTexts  atomic.Int64
		dupRemind atomic.Int64
	)
	for p, db := range []*DB{a, b} {
		owner := fmt.Sprintf("worker-%d", p)
		wg.Go(func() {
			for {
				ts, err := db.ClaimTexts(t.Context(), owner, now, time.Minute, 7)
				if err != nil {
					t.Errorf("%s: ClaimTexts: %v", owner, err)
					return
				}
				rs, err := db.ClaimReminders(t.Context(), owner, now, time.Minute, 5)
				if err != nil {
					t.Errorf("%s: ClaimReminders: %v", owner, err)
					return
				}
				if len(ts) == 0 && len(rs) == 0 {
					return
				}
				mu.Lock()
				for _, x := range ts {
					if _, ok := textSeen[x.ID]; ok {
						dupTexts.Add(1)
					}
					textSeen[x.ID] = owner
				}
				for _, r := range rs {
					k := fmt.Sprintf("%s/%d", r.AppointmentID, r.Ordinal)
					if _, ok := remSeen[k]; ok {
						dupRemind.Add(1)
					}
					remSeen[k] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if dupTexts.Load() != 0 || dupRemind.Load() != 0 {
		t.Errorf("claimed twice: %d texts, %d reminders", dupTexts.Load(), dupRemind.Load())
	}
	if len(textSeen) != n || len(remSeen) != 2*n {
		t.Errorf("claimed %d texts and %d reminders, want %d and %d", len(textSeen), len(remSeen), n, 2*n)
	}
	owners := map[string]int{}
	for _, o := range textSeen {
		owners[o]++
	}
	t.Logf("texts claimed per worker: %v", owners)
}

// A lease that ran out is taken over by the other process; the first
// one's save then fails with ErrLeaseLost.
func TestTwoProcessesLeaseTakeover(t *testing.T) {
	a, b := twoProcesses(t, Options{})
	in := testInbound("L-1", apptbridge.Booked, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	if _, err := a.Ingest(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ts, err := a.ClaimTexts(t.Context(), "A", now, time.Minute, 10)
	if err != nil || len(ts) != 1 {
		t.Fatalf("A claims %d texts (%v), want 1", len(ts), err)
	}
	// While A's lease lives, B gets nothing.
	if got, err := b.ClaimTexts(t.Context(), "B", now.Add(30*time.Second), time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("B claims %d texts during A's lease (%v), want 0", len(got), err)
	}
	// After it, B takes the text over.
	later := now.Add(2 * time.Minute)
	got, err := b.ClaimTexts(t.Context(), "B", later, time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].ID != ts[0].ID || got[0].LeaseOwner != "B" {
		t.Fatalf("B claims %v (%v) after A's lease ran out, want the text", got, err)
	}
	ts[0].Status = store.TextCanceled
	if err := a.SaveText(t.Context(), "A", ts[0]); err == nil || !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("A's save after the takeover: %v, want ErrLeaseLost", err)
	}
	got[0].Status = store.TwilioAccepted
	got[0].SID = "SM-L-1"
	if err := b.SaveText(t.Context(), "B", got[0]); err != nil {
		t.Errorf("B's save: %v", err)
	}

	// Requests: the same.
	if _, err := a.Ingest(t.Context(), func() *store.Inbound {
		x := testInbound("L-1", apptbridge.Confirm, time.Date(2030, 1, 1, 0, 1, 0, 0, time.UTC))
		x.Event.Source = &apptbridge.Source{Channel: apptbridge.ChannelSMS}
		return x
	}()); err != nil {
		t.Fatal(err)
	}
	reqs, err := a.Requests(t.Context(), store.RequestFilter{AppointmentID: "L-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) == 0 {
		t.Skip("the state machine made no EHR request for a CONFIRM here")
	}
	now = time.Now()
	later = now.Add(2 * time.Minute)
	r1, err := a.ClaimRequest(t.Context(), "A", now, time.Minute)
	if err != nil || r1 == nil {
		t.Fatalf("A claims request: %v %v", r1, err)
	}
	if r, err := b.ClaimRequest(t.Context(), "B", now, time.Minute); err != nil || r != nil {
		t.Fatalf("B claims %v (%v) during A's lease", r, err)
	}
	r2, err := b.ClaimRequest(t.Context(), "B", later, time.Minute)
	if err != nil || r2 == nil || r2.ID != r1.ID {
		t.Fatalf("B claims %v (%v) after A's lease, want %s", r2, err, r1.ID)
	}
	if err := a.SaveRequest(t.Context(), "A", r1); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("A's save after the takeover: %v, want ErrLeaseLost", err)
	}
}

// Both processes append to the audit log at once: one chain, no fork.
func TestTwoProcessesAudit(t *testing.T) {
	a, b := twoProcesses(t, Options{})
	var wg sync.WaitGroup
	for p, db := range []*DB{a, b} {
		wg.Go(func() {
			for i := range 25 {
				e := &store.AuditEntry{Actor: fmt.Sprintf("p%d", p), Action: "test", Target: fmt.Sprint(i)}
				if err := db.AppendAudit(t.Context(), e); err != nil {
					t.Errorf("process %d: %v", p, err)
					return
				}
			}
		})
	}
	wg.Wait()
	entries, err := a.Audit(t.Context(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 50 {
		t.Fatalf("%d entries, want 50", len(entries))
	}
	if err := store.VerifyAuditChain(store.Hash{}, entries); err != nil {
		t.Error(err)
	}
}

// Instants keep microseconds through BIGINT columns.
func TestMicroseconds(t *testing.T) {
	db := openURL(t, testSchema(t), Options{})
	at := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 3600))
	in := testInbound("U-1", apptbridge.Booked, at)
	if _, err := db.Ingest(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	h, err := db.History(t.Context(), "U-1")
	if err != nil || len(h) != 1 {
		t.Fatalf("history %v %v", h, err)
	}
	if want := store.Instant(at); !h[0].Event.EventDatetimeUTC.Equal(want) || h[0].Event.EventDatetimeUTC.Location() != time.UTC {
		t.Errorf("event time %v, want %v", h[0].Event.EventDatetimeUTC, want)
	}
}

// Update transactions of two processes apply events to two appointments
// in opposite orders: PostgreSQL breaks the deadlocks (40P01) and the
// store runs the losing function again, so every event applies once.
func TestTwoProcessesUpdateDeadlock(t *testing.T) {
	a, b := twoProcesses(t, Options{})
	for _, aid := range []string{"X-1", "X-2"} {
		if _, err := a.Ingest(t.Context(), testInbound(aid, apptbridge.Booked, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))); err != nil {
			t.Fatal(err)
		}
	}
	const rounds = 5
	var (
		wg    sync.WaitGroup
		runs  atomic.Int64
		clock atomic.Int64
	)
	for p, db := range []*DB{a, b} {
		order := []string{"X-1", "X-2"}
		if p == 1 {
			order = []string{"X-2", "X-1"}
		}
		wg.Go(func() {
			for range rounds {
				evs := make([]*apptbridge.Event, 2)
				for i, aid := range order {
					at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(clock.Add(1)) * time.Second)
					evs[i] = testInbound(aid, apptbridge.Modified, at).Event
				}
				err := db.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
					runs.Add(1)
					for _, ev := range evs {
						if _, err := tx.Apply(ctx, ev); err != nil {
							return err
						}
						time.Sleep(time.Millisecond) // widen the window
					}
					return nil
				})
				if err != nil {
					t.Errorf("process %d: Update: %v", p, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, aid := range []string{"X-1", "X-2"} {
		h, err := a.History(t.Context(), aid)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 1+2*rounds {
			t.Errorf("%s: %d history entries, want %d", aid, len(h), 1+2*rounds)
		}
		appt, err := a.Appointment(t.Context(), aid)
		if err != nil {
			t.Fatal(err)
		}
		applied := 0
		for _, e := range h {
			if e.Applied {
				applied++
			}
		}
		if appt.Version != int64(applied) {
			t.Errorf("%s: version %d, %d applied events", aid, appt.Version, applied)
		}
	}
	t.Logf("%d Update runs for %d transactions", runs.Load(), 2*rounds)
}

// The reminder plan follows the appointment: planned on booking,
// replaced on a new time, canceled when it leaves the ladder; a claimed
// reminder replanned under its worker cannot be saved (ErrLeaseLost).
func TestReminderPlans(t *testing.T) {
	planner := func(a *apptbridge.Appointment, now time.Time) []store.Reminder {
		return []store.Reminder{
			{AppointmentID: a.AppointmentID, Ordinal: 1, StartUTC: a.AppointmentDatetimeUTC, DueAt: now.Add(-time.Minute), Status: store.ReminderPlanned},
			{AppointmentID: a.AppointmentID, Ordinal: 2, StartUTC: a.AppointmentDatetimeUTC, Status: store.ReminderSkipped, Reason: "too late"},
		}
	}
	db := openURL(t, testSchema(t), Options{Planner: planner})
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := db.Ingest(t.Context(), testInbound("R-1", apptbridge.Booked, at)); err != nil {
		t.Fatal(err)
	}
	statuses := func() []string {
		rs, err := db.RemindersOf(t.Context(), "R-1")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, fmt.Sprintf("%d:%s", r.Ordinal, r.Status))
		}
		return out
	}
	if got := fmt.Sprint(statuses()); got != "[1:planned 2:skipped]" {
		t.Fatalf("after booking: %s", got)
	}
	claimed, err := db.ClaimReminders(t.Context(), "W", time.Now(), time.Minute, 10)
	if err != nil || len(claimed) != 1 || claimed[0].LeaseOwner != "W" {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	// The appointment moves while the worker holds the reminder.
	in := testInbound("R-1", apptbridge.Rescheduled, at.Add(time.Minute))
	in.Event.SetAppointmentTime(time.Date(2099, 2, 1, 9, 0, 0, 0, time.UTC), time.UTC)
	if _, err := db.Ingest(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(statuses()); got != "[1:canceled 2:skipped 1:planned 2:skipped]" {
		t.Fatalf("after rescheduling: %s", got)
	}
	r := claimed[0]
	r.Status, r.SentAt = store.ReminderSent, time.Now()
	err = db.Update(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.SaveReminder(ctx, "W", r) })
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("save of a replanned reminder: %v, want ErrLeaseLost", err)
	}
	// The new plan's reminder is claimed and sent.
	claimed, err = db.ClaimReminders(t.Context(), "W", time.Now(), time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	err = db.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		planned, err := tx.PlannedReminders(ctx, "R-1")
		if err != nil || len(planned) != 1 {
			return fmt.Errorf("planned: %v %v", planned, err)
		}
		r := claimed[0]
		r.Status, r.SentAt, r.LeaseOwner = store.ReminderSent, time.Now(), ""
		return tx.SaveReminder(ctx, "W", r)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Ingest(t.Context(), testInbound("R-1", apptbridge.Canceled, at.Add(2*time.Minute))); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(statuses()); got != "[1:canceled 2:skipped 1:sent 2:skipped]" {
		t.Errorf("after sending and canceling: %s", got)
	}
	st, err := db.Stats(t.Context(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.RemindersSent24h != 1 || st.RemindersPlanned != 0 {
		t.Errorf("stats: sent %d planned %d, want 1 0", st.RemindersSent24h, st.RemindersPlanned)
	}
}

// TestHistoryHorizon: process A has drawn a history seq and not yet
// committed while process B commits a later one. HistorySince shows B's
// entry alone, so an export paging past it would never see A's; the
// horizon waits for A to commit, and paging up to it sees both.
func TestHistoryHorizon(t *testing.T) {
	a, b := twoProcesses(t, Options{})
	ctx := t.Context()
	e1 := testInbound("H-1", apptbridge.Booked, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)).Event
	applied, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock) // a failed check must not leave A's transaction (and Close) hanging
	done := make(chan error, 1)
	go func() {
		done <- a.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			if _, err := tx.Apply(ctx, e1); err != nil {
				return err
			}
			close(applied)
			<-release
			return nil
		})
	}()
	<-applied
	if _, err := b.Ingest(ctx, testInbound("H-2", apptbridge.Booked, time.Date(2030, 1, 1, 0, 0, 1, 0, time.UTC))); err != nil {
		t.Fatal(err)
	}
	if h, err := b.HistorySince(ctx, 0, 10); err != nil || len(h) != 1 || h[0].Event.AppointmentID != "H-2" {
		t.Fatalf("before A commits, HistorySince = %d entries (%v), want H-2's alone", len(h), err)
	}
	type result struct {
		seq int64
		err error
	}
	hc := make(chan result, 1)
	go func() {
		seq, err := b.HistoryHorizon(ctx)
		hc <- result{seq, err}
	}()
	select {
	case r := <-hc:
		t.Fatalf("HistoryHorizon returned %d (%v) while A's seq was uncommitted", r.seq, r.err)
	case <-time.After(300 * time.Millisecond):
	}
	unblock()
	if err := <-done; err != nil {
		t.Fatalf("A's transaction: %v", err)
	}
	r := <-hc
	if r.err != nil {
		t.Fatalf("HistoryHorizon: %v", r.err)
	}
	h, err := b.HistorySince(ctx, 0, 10)
	if err != nil || len(h) != 2 {
		t.Fatalf("after A commits, HistorySince = %d entries (%v), want 2", len(h), err)
	}
	if max(h[0].Seq, h[1].Seq) != r.seq {
		t.Errorf("horizon %d, want the last seq %d", r.seq, max(h[0].Seq, h[1].Seq))
	}
}
