package sqlite

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
)

// benchIngest ingests b.N new messages into a real file and reports
// commits/op (transactions, i.e. fsync rounds, per message) and msgs/s.
// Each goroutine cycles over its own 50 appointments: BOOKED first, then
// MODIFIED. Building a message (uuid, sha256) is inside the timed loop.
func benchIngest(b *testing.B, parallel bool, opts ...func(*Options)) {
	// The writer's time per batch splits into applying the requests
	// (BEGIN to BeforeCommit) and COMMIT (the fsync, sometimes a
	// checkpoint); both hooks run on the writer goroutine.
	var commits, applyNS, commitNS atomic.Int64
	var beforeCommit time.Time
	o := Options{
		BeforeCommit: func() error { beforeCommit = time.Now(); return nil },
		OnCommit: func(_ int, d time.Duration) {
			end := time.Now()
			commits.Add(1)
			commitNS.Add(int64(end.Sub(beforeCommit)))
			applyNS.Add(int64(d - end.Sub(beforeCommit)))
		},
	}
	for _, f := range opts {
		f(&o)
	}
	db := openTest(b, o)
	var workers atomic.Int64
	work := func(next func() bool) {
		w := workers.Add(1)
		for i := 0; next(); i++ {
			typ := apptbridge.Modified
			if i < 50 {
				typ = apptbridge.Booked
			}
			if _, err := db.Ingest(b.Context(), testInbound(fmt.Sprintf("B%d-%02d", w, i%50), typ)); err != nil {
				b.Error(err)
				return
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, startCPU := time.Now(), processCPU()
	if parallel {
		// 16 goroutines when GOMAXPROCS divides 16.
		b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) { work(pb.Next) })
	} else {
		n := 0
		work(func() bool { n++; return n <= b.N })
	}
	b.StopTimer()
	el, cpu := time.Since(start), processCPU()-startCPU
	b.ReportMetric(float64(commits.Load())/float64(b.N), "commits/op")
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/msg")
	b.ReportMetric(float64(applyNS.Load())/1e3/float64(b.N), "apply-us/msg")
	b.ReportMetric(float64(commitNS.Load())/1e3/float64(max(1, commits.Load())), "commit-us/batch")
	if parallel {
		b.ReportMetric(float64(workers.Load()), "goroutines")
	}
}

func BenchmarkIngestSerial(b *testing.B)   { benchIngest(b, false) }
func BenchmarkIngestParallel(b *testing.B) { benchIngest(b, true) }

// BenchmarkIngestParallelNoCache is BenchmarkIngestParallel with the
// writer's cache off: every message reads and decodes its appointment, as
// when appointments are many and their messages far apart.
func BenchmarkIngestParallelNoCache(b *testing.B) {
	benchIngest(b, true, func(o *Options) { o.noCache = true })
}

// BenchmarkIngestParallelLarge updates appointments at random among
// 30,000 (a database of about 60 MB, far beyond the writer's cache and
// SQLite's page cache), from 16 goroutines: every message reads its
// appointment from the file and changes pages spread over it.
func BenchmarkIngestParallelLarge(b *testing.B) {
	const n = 30000
	var commits atomic.Int64
	db := openTest(b, Options{OnCommit: func(int, time.Duration) { commits.Add(1) }})
	// Load the appointments directly, in one transaction.
	tx, err := db.wdb.Begin()
	if err != nil {
		b.Fatal(err)
	}
	var enc jsonEnc
	now := time.Now().UTC().Truncate(time.Microsecond)
	for i := range n {
		in := testInbound(fmt.Sprintf("L-%05d", i), apptbridge.Booked)
		a := apptbridge.Apply(nil, in.Event, apptbridge.ApplyContext{Now: now}).Appointment
		if err := enc.encodeAppointment(a); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Exec(sqlInsertAppointment, a.AppointmentID, string(a.Disposition), a.PatientID, a.PatientPhone,
			micros(a.AppointmentDatetimeUTC), string(enc.buf), a.Version, micros(a.UpdatedAt)); err != nil {
			b.Fatal(err)
		}
		if err := enc.encodeEvent(in.Event); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO events (appointment_id, event_id, event_type, event, applied, reason,
			from_disposition, to_disposition, text_kind, suppressed, recorded_at)
			VALUES ($1, $2, 'BOOKED', $3, 1, '', '', 'QUEUED', 'booked', '', $4)`,
			a.AppointmentID, in.Event.EventID, string(enc.buf), micros(now)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if _, err := db.wdb.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	commits.Store(0)
	var seed atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	start, startCPU := time.Now(), processCPU()
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(seed.Add(1), 1))
		for pb.Next() {
			in := testInbound(fmt.Sprintf("L-%05d", r.IntN(n)), apptbridge.Modified)
			if _, err := db.Ingest(b.Context(), in); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	el, cpu := time.Since(start), processCPU()-startCPU
	b.ReportMetric(float64(commits.Load())/float64(b.N), "commits/op")
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/msg")
}
