package e2e

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/mllp"
)

// BenchmarkServeMLLP16 drives `apptbridge serve` with 16 MLLP
// connections (one message in flight each) on each store in the same
// run: the embedded SQLite store (synchronous=FULL, group commit) and
// PostgreSQL at APPTBRIDGE_TEST_POSTGRES (a database of its own; the
// scripts/test-postgres.sh cluster runs with fsync on). Each message books
// a new appointment in SMS sandbox mode. It reports msgs/s.
//
//	eval "$(scripts/test-postgres.sh start)"
//	go test -run '^$' -bench ServeMLLP16 -benchtime 20000x ./e2e
func BenchmarkServeMLLP16(b *testing.B) {
	b.Run("store=sqlite", func(b *testing.B) { benchServe(b, nil) })
	b.Run("store=postgres", func(b *testing.B) {
		if os.Getenv("APPTBRIDGE_TEST_POSTGRES") == "" {
			b.Skip("APPTBRIDGE_TEST_POSTGRES not set")
		}
		benchServe(b, []string{"DATABASE_URL=" + fleetDatabase(b)})
	})
}

var benchRun atomic.Int64

func benchServe(b *testing.B, env []string) {
	const conns = 16
	sink := &logSink{}
	srv := startServer(b, b.TempDir(), sink, append(env, "MLLP_MAX_CONNS=0")...)
	defer srv.stop(b)
	run := benchRun.Add(1)
	start := time.Now().Add(30 * 24 * time.Hour)
	// Warm up the connections.
	clients := make([]*mllp.Client, conns)
	for i := range clients {
		clients[i] = &mllp.Client{Addr: srv.mllpAddr, AckTimeout: 30 * time.Second}
		defer clients[i].Close()
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, conns)
	b.ResetTimer()
	t0 := time.Now()
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				m := fleetSIU(fmt.Sprintf("B%d-%08d", run, i), fmt.Sprintf("B%d-%08d", run, i), "S12", "Booked",
					time.Now(), start.Add(time.Duration(i)*time.Minute), fmt.Sprintf("+1773557%04d", i%10000), i)
				ack, err := clients[c].Send(context.Background(), m.raw)
				if err != nil {
					errc <- err
					return
				}
				if a, err := hl7.Parse(ack); err != nil || a.Get("MSA-1") != "CA" {
					errc <- fmt.Errorf("ACK %q", ack)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	b.StopTimer()
	close(errc)
	for err := range errc {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
}
