package sqlite

import (
	"fmt"
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
