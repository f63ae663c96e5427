package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/mllp"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/sqlite"
)

// TestCrashRestart streams 2,000 SIU messages to `apptbridge serve` with a
// sender that resends anything not ACKed, kill -9s the server at 20
// random moments and restarts it (RELIABILITY T01, scaled). Afterwards
// every ACKed message is stored exactly once, every appointment has each
// of its events exactly once and in order, and every restart was ready
// within 5 s.
func TestCrashRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	const (
		total = 2000
		appts = 400
		kills = 20
	)
	dir := t.TempDir()
	sink := &logSink{}
	srv := startServer(t, dir, sink)
	var cur atomic.Pointer[server]
	cur.Store(srv)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// Sender: one connection at a time, one message in flight, resend
	// until AA.
	acked := make([]bool, total)
	sendErr := make(chan error, 1)
	progress := atomic.Int64{}
	go func() {
		var c *mllp.Client
		var addr string
		defer func() {
			if c != nil {
				c.Close()
			}
		}()
		for i := 0; i < total; i++ {
			msg := siu(i, appts)
			for attempt := 0; ; attempt++ {
				if ctx.Err() != nil {
					sendErr <- fmt.Errorf("message %d: %w", i, ctx.Err())
					return
				}
				s := cur.Load()
				if c == nil || addr != s.mllpAddr {
					if c != nil {
						c.Close()
					}
					addr = s.mllpAddr
					c = &mllp.Client{Addr: addr, DialTimeout: time.Second, AckTimeout: 5 * time.Second}
				}
				ack, err := c.Send(ctx, msg)
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				m, err := hl7.Parse(ack)
				if err != nil {
					sendErr <- fmt.Errorf("message %d: unparseable ACK: %v", i, err)
					return
				}
				if code := m.Get("MSA-1"); code != "AA" && code != "CA" {
					sendErr <- fmt.Errorf("message %d: ACK %s (%s), want AA or CA", i, code, m.Get("ERR-3"))
					return
				}
				if got, want := m.Get("MSA-2"), fmt.Sprintf("CT%06d", i); got != want {
					sendErr <- fmt.Errorf("message %d: ACK answers %s", i, got)
					return
				}
				acked[i] = true
				progress.Store(int64(i + 1))
				break
			}
		}
		sendErr <- nil
	}()

	// Killer: 20 kill -9s at random moments, spread over the stream.
	rng := rand.New(rand.NewPCG(1, 2))
	var readyTimes []time.Duration
	for k := 0; k < kills; k++ {
		target := int64((k + 1) * total / (kills + 2))
		for progress.Load() < target {
			select {
			case err := <-sendErr:
				t.Fatalf("sender stopped early: %v", err)
			case <-time.After(2 * time.Millisecond):
			}
		}
		time.Sleep(time.Duration(rng.IntN(15000)) * time.Microsecond)
		cur.Load().kill()
		t0 := time.Now()
		ns := startServer(t, dir, sink)
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		if err := readyz(rctx, ns.httpAddr); err != nil {
			t.Fatalf("restart %d: not ready within 5 s: %v", k+1, err)
		}
		rcancel()
		readyTimes = append(readyTimes, time.Since(t0))
		cur.Store(ns)
	}
	if err := <-sendErr; err != nil {
		t.Fatal(err)
	}
	cur.Load().stop(t)

	for k, d := range readyTimes {
		if d > 5*time.Second {
			t.Errorf("restart %d ready after %v, want ≤ 5 s", k+1, d)
		}
	}
	t.Logf("%d kills; slowest restart ready in %v", len(readyTimes), maxDur(readyTimes))

	db, err := sqlite.Open(context.Background(), dir+"/apptbridge.db", sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n, err := db.CountInbound(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != total {
		t.Errorf("store holds %d inbound messages, want %d (each ACKed message exactly once)", n, total)
	}
	for i := 0; i < total; i++ {
		if !acked[i] {
			t.Fatalf("message %d never ACKed", i)
		}
		if _, err := db.Inbound(context.Background(), store.DedupKey{SendingApplication: "CRASHTEST", SendingFacility: "FAC", ControlID: fmt.Sprintf("CT%06d", i)}); err != nil {
			t.Errorf("ACKed message %d missing from the store: %v", i, err)
		}
	}
	want := []apptbridge.EventType{apptbridge.Booked, apptbridge.Modified, apptbridge.Rescheduled, apptbridge.Confirmed, apptbridge.Canceled}
	for a := 0; a < appts; a++ {
		id := fmt.Sprintf("P%05d", a)
		hist, err := db.History(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		var got []apptbridge.EventType
		for _, h := range hist {
			got = append(got, h.Event.EventType)
			if !h.Applied {
				t.Errorf("appointment %s: %s not applied: %s", id, h.Event.EventType, h.Reason)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("appointment %s history %v, want %v (each event once, in order)", id, got, want)
			continue
		}
		ap, err := db.Appointment(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ap.Disposition != apptbridge.DispCanceled || ap.Version != int64(len(want)) {
			t.Errorf("appointment %s: disposition %s version %d, want CANCELED version %d", id, ap.Disposition, ap.Version, len(want))
		}
	}
	for _, line := range sink.all() {
		for _, c := range []string{canaryFirst, canaryLast, canaryMRN, canaryPhone, "555-0199"} {
			if strings.Contains(line, c) {
				t.Fatalf("PHI canary %q in a log line", c)
			}
		}
	}
}

func maxDur(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
