package reminder_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/reminder"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/sqlite"
)

// BenchmarkReminders1M is the scale test: 1,000,000 scheduled
// appointments in the SQLite store, 10,000 of whose reminders fall due in
// the same minute (spread over it), and 10,000 more at one instant. It reports
//   - next-due-ns: the worker's "when is the next reminder?" query (it must
//     use the partial index reminders_due, not scan: the query plan is
//     checked), against scan-ns, the same MIN over the table without an
//     index, as the same-run baseline;
//   - lateness-p99-ms / -max-ms: send time minus due time of the 10,000,
//     with the worker on a clock that runs with real time;
//   - burst-p99-ms / burst-max-ms: the same for a further 10,000 due at
//     one instant 30 s later (10,000 appointments at the same time of
//     day); reported, not a target;
//   - rss-peak-MB: the process's peak RSS while the worker drains them.
//
// The 1,000,000 rows are written straight into the schema in one
// transaction (the setup would take minutes through the event path); run
// it with -benchtime=1x: make bench-reminders.
func BenchmarkReminders1M(b *testing.B) {
	total, hot := 1_000_000, 10_000
	if n, err := strconv.Atoi(os.Getenv("BENCH_APPOINTMENTS")); err == nil && n > 0 {
		total, hot = n, min(hot, n/4) // a quick look at the setup
	}
	ctx := context.Background()
	dir := b.TempDir()
	path := filepath.Join(dir, "bench.db")
	chicago, _ := time.LoadLocation("America/Chicago")
	// The hot minute starts at T; everything else is later. The load takes
	// minutes, so the store and the worker run on a clock that moves with
	// real time and is set, once the load is done, to just before T.
	T := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }

	cfg, err := reminder.NewConfig("4800", "2400", "0000", "2400", 2, chicago)
	if err != nil {
		b.Fatal(err)
	}
	db, err := sqlite.Open(ctx, path, sqlite.Options{Now: clock, Planner: cfg.Plan})
	if err != nil {
		b.Fatal(err)
	}
	db.Close()
	if err := bulkLoad(path, total, hot, T, chicago); err != nil {
		b.Fatal(err)
	}
	// The load skipped fsync; flush it now, as a store at rest would be,
	// so that the kernel's writeback of a gigabyte does not land in the
	// measured minute.
	if err := syncFile(path); err != nil {
		b.Fatal(err)
	}
	if n, err := dueBefore(path, T); err != nil || n != 0 {
		b.Fatalf("%d reminders due before the hot minute (%v): the load is wrong", n, err)
	}
	db, err = sqlite.Open(ctx, path, sqlite.Options{Now: clock, Planner: cfg.Plan})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()

	// The next-due query: indexed, compared with a scan of the same rows.
	plan := queryPlan(b, path, `SELECT MIN(due_at) FROM reminders WHERE status = 'planned'`)
	if !strings.Contains(plan, "reminders_due") {
		b.Fatalf("next-due query does not use the index: %s", plan)
	}
	const calls = 200
	t0 := time.Now()
	for range calls {
		if _, err := db.NextReminderDue(ctx); err != nil {
			b.Fatal(err)
		}
	}
	nextDue := time.Since(t0) / calls
	scan := scanBaseline(b, path)

	// Drain the hot minute in real time.
	offset.Store(int64(time.Until(T) - 2*time.Second))
	clearPeakRSS()
	w := &reminder.Worker{Store: db, Config: cfg, Now: clock, Batch: 200, Logger: zaptest.NewLogger(b, zaptest.Level(zap.WarnLevel))}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	b.ResetTimer()
	go func() { w.Run(rctx); close(done) }()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		n, err := sentCount(path)
		if err != nil {
			b.Fatal(err)
		}
		if n >= 2*hot {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d hot reminders sent in 5 minutes", n, 2*hot)
		}
		time.Sleep(500 * time.Millisecond)
	}
	b.StopTimer()
	cancel()
	<-done
	peak := peakRSS()
	late, err := lateness(path, T, T.Add(time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	burst, err := lateness(path, burstAt(T), burstAt(T).Add(time.Microsecond))
	if err != nil {
		b.Fatal(err)
	}
	if len(late) != hot || len(burst) != hot {
		b.Fatalf("sent %d of the minute and %d of the burst, want %d each", len(late), len(burst), hot)
	}
	p99 := late[len(late)*99/100]
	b.ReportMetric(float64(nextDue.Nanoseconds()), "next-due-ns")
	b.ReportMetric(float64(scan.Nanoseconds()), "scan-ns")
	b.ReportMetric(float64(p99.Milliseconds()), "lateness-p99-ms")
	b.ReportMetric(float64(late[len(late)-1].Milliseconds()), "lateness-max-ms")
	b.ReportMetric(float64(burst[len(burst)*99/100].Milliseconds()), "burst-p99-ms")
	b.ReportMetric(float64(burst[len(burst)-1].Milliseconds()), "burst-max-ms")
	b.ReportMetric(float64(peak)/(1<<20), "rss-peak-MB")
	b.Logf("%d appointments; next due %v (scan %v, %.0f×); %d due in one minute: lateness p99 %v, max %v; "+
		"%d due at one instant: p99 %v, max %v; peak RSS %.0f MB",
		total, nextDue, scan, float64(scan)/float64(nextDue), len(late), p99, late[len(late)-1],
		len(burst), burst[len(burst)*99/100], burst[len(burst)-1], float64(peak)/(1<<20))
	if p99 > time.Second {
		b.Errorf("lateness p99 %v > 1 s", p99)
	}
	if peak > 256<<20 {
		b.Errorf("peak RSS %d MB > 256 MB", peak>>20)
	}
}

// burstAt is when the burst falls due: 30 s after the hot minute.
func burstAt(T time.Time) time.Time { return T.Add(90 * time.Second) }

// bulkLoad writes total QUEUED appointments with their planned reminders:
// the first hot ones have reminder 1 due in [T, T+1 min), the next hot
// ones at burstAt(T), the others over 60 days from T+3 min.
func bulkLoad(path string, total, hot int, T time.Time, loc *time.Location) error {
	db, err := sql.Open("sqlite", path+"?_pragma=synchronous(OFF)&_pragma=journal_mode(WAL)")
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	appt, err := tx.Prepare(`INSERT INTO appointments (appointment_id, disposition, patient_id, patient_phone,
		start_utc, state, version, updated_at) VALUES ($1, 'QUEUED', $2, $3, $4, $5, 1, $6)`)
	if err != nil {
		return err
	}
	rem, err := tx.Prepare(`INSERT INTO reminders (appointment_id, ordinal, start_utc, due_at, status, reason,
		lease_owner, lease_until, sent_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, 'planned', '', '', 0, 0, $5, $5)`)
	if err != nil {
		return err
	}
	now := time.Now().UnixMicro()
	for i := range total {
		var due1 time.Time
		switch {
		case i < hot:
			due1 = T.Add(time.Duration(i) * time.Minute / time.Duration(hot))
		case i < 2*hot:
			due1 = burstAt(T)
		default:
			// i × 60 days would overflow a Duration: divide first.
			due1 = T.Add(3*time.Minute + time.Duration(i)*(60*24*time.Hour/time.Duration(total)))
		}
		start := due1.Add(48 * time.Hour)
		id := "B" + strconv.Itoa(i)
		phone := fmt.Sprintf("+1%03d%03d%04d", 201+(i/10_000_000)%700, 201+(i/10_000)%700, i%10_000)
		a := apptbridge.Appointment{Disposition: apptbridge.DispQueued, Version: 1}
		a.AppointmentID, a.PatientID, a.PatientPhone, a.PatientFirstName = id, "P"+id, phone, "Ana"
		a.ProviderLastName, a.AppointmentLocation = "Okafor", "Lakeside Main"
		a.EventID, a.EventType = apptbridge.NewEventID(), apptbridge.Booked
		a.SetAppointmentTime(start, loc)
		state, err := json.Marshal(&a)
		if err != nil {
			return err
		}
		if _, err := appt.Exec(id, a.PatientID, phone, start.UnixMicro(), string(state), now); err != nil {
			return err
		}
		if _, err := rem.Exec(id, 1, start.UnixMicro(), due1.UnixMicro(), now); err != nil {
			return err
		}
		if _, err := rem.Exec(id, 2, start.UnixMicro(), start.Add(-24*time.Hour).UnixMicro(), now); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func queryPlan(b *testing.B, path, q string) string {
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("EXPLAIN QUERY PLAN " + q)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		rows.Scan(&id, &parent, &unused, &detail)
		out = append(out, detail)
	}
	return strings.Join(out, "; ")
}

// scanBaseline is the same minimum computed by a full scan (NOT INDEXED).
func scanBaseline(b *testing.B, path string) time.Duration {
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var v sql.NullInt64
	t0 := time.Now()
	const calls = 3
	for range calls {
		if err := db.QueryRow(`SELECT MIN(due_at) FROM reminders NOT INDEXED WHERE status = 'planned'`).Scan(&v); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(t0) / calls
}

// sentCount counts reminder texts (the texts table holds only what the
// run wrote; counting sent rows in reminders would scan a million rows
// every poll and take CPU from the worker being measured).
func sentCount(path string) (int, error) {
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRow(`SELECT COUNT(*) FROM texts WHERE kind IN ('remind-1', 'remind-2')`).Scan(&n)
	return n, err
}

// dueBefore counts the planned reminders due before t.
func dueBefore(path string, t time.Time) (int, error) {
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRow(`SELECT COUNT(*) FROM reminders WHERE status = 'planned' AND due_at < ?`, t.UnixMicro()).Scan(&n)
	return n, err
}

// lateness returns sent_at − due_at of the sent reminders due in
// [from, to), sorted.
func lateness(path string, from, to time.Time) ([]time.Duration, error) {
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT sent_at - due_at FROM reminders WHERE status = ? AND due_at >= ? AND due_at < ?
		ORDER BY 1`, store.ReminderSent, from.UnixMicro(), to.UnixMicro())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() {
		var us int64
		if err := rows.Scan(&us); err != nil {
			return nil, err
		}
		out = append(out, time.Duration(us)*time.Microsecond)
	}
	return out, rows.Err()
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// clearPeakRSS resets the kernel's peak-RSS mark (VmHWM) of this process.
func clearPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns VmHWM in bytes (0 where /proc is not available).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
