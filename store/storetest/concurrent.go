package storetest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// script returns n events for the appointments owned, round robin, each
// appointment's in order: a BOOKED first, then a deterministic mix of
// every event type, about one EHR event in ten stale.
func script(seed int, owned []string, n int) []*apptbridge.Event {
	rng := rand.New(rand.NewPCG(uint64(seed)+1, 42))
	last := map[string]time.Time{}
	var out []*apptbridge.Event
	for k := range n {
		aid := owned[k%len(owned)]
		prev, seen := last[aid]
		if !seen {
			last[aid] = base
			out = append(out, newEvent(aid, apptbridge.Booked, base))
			continue
		}
		typ := apptbridge.EventTypes[rng.IntN(len(apptbridge.EventTypes))]
		at := prev.Add(time.Minute)
		if typ.FromEHR() && rng.IntN(10) == 0 {
			at = prev.Add(-30 * time.Second) // stale
		} else {
			last[aid] = at
		}
		ev := newEvent(aid, typ, at)
		switch typ {
		case apptbridge.Rescheduled:
			ev.SetAppointmentTime(apptStart.Add(time.Duration(rng.IntN(30))*24*time.Hour), time.UTC)
		case apptbridge.Modified, apptbridge.Booked:
			ev.AppointmentLocation = fmt.Sprintf("Room %d", rng.IntN(3))
		}
		out = append(out, ev)
	}
	return out
}

func testConcurrent(t *testing.T, s store.Store) {
	const goroutines, perGoroutine, appointments = 16, 100, 50
	type sent struct {
		ev *apptbridge.Event
		o  apptbridge.Outcome
	}
	results := make([][]sent, goroutines)
	var (
		writers sync.WaitGroup
		readers sync.WaitGroup
		done    atomic.Bool
	)
	for g := range goroutines {
		writers.Go(func() {
			var owned []string
			for i := g; i < appointments; i += goroutines {
				owned = append(owned, fmt.Sprintf("C-%02d", i))
			}
			for _, ev := range script(g, owned, perGoroutine) {
				res, err := s.Ingest(t.Context(), newInbound(ev))
				if err != nil {
					t.Errorf("goroutine %d: Ingest: %v", g, err)
					return
				}
				if res.Duplicate || res.Conflict {
					t.Errorf("goroutine %d: Ingest: duplicate %v conflict %v", g, res.Duplicate, res.Conflict)
					return
				}
				results[g] = append(results[g], sent{ev, res.Outcome})
			}
		})
	}
	// Reads run alongside the writes.
	readers.Go(func() {
		for !done.Load() {
			if _, err := s.Appointments(t.Context(), store.Filter{Disposition: apptbridge.DispQueued}); err != nil {
				t.Errorf("concurrent Appointments: %v", err)
				return
			}
			if _, err := s.History(t.Context(), "C-07"); err != nil {
				t.Errorf("concurrent History: %v", err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	writers.Wait()
	done.Store(true)
	readers.Wait()
	if t.Failed() {
		return
	}

	// Sequential replay: each appointment's events in the order sent.
	state := map[string]*apptbridge.Appointment{}
	sentTo := map[string][]sent{}
	for g := range goroutines {
		for i, snt := range results[g] {
			aid := snt.ev.AppointmentID
			want := apptbridge.Apply(state[aid], store.NormalizeEvent(snt.ev), apptbridge.ApplyContext{Now: time.Now()})
			got := snt.o
			if got.Applied != want.Applied || got.Reason != want.Reason || got.From != want.From ||
				got.To != want.To || got.Text != want.Text || got.Suppressed != want.Suppressed || got.Request != want.Request {
				t.Errorf("goroutine %d event %d (%s %s): outcome %+v, replay %+v", g, i, aid, snt.ev.EventType, got, want)
			}
			if want.Appointment != nil {
				state[aid] = want.Appointment
			}
			sentTo[aid] = append(sentTo[aid], snt)
		}
	}
	if len(state) != appointments {
		t.Fatalf("replay has %d appointments, want %d", len(state), appointments)
	}
	for aid, want := range state {
		got := appointment(t, s, aid)
		g, w := *got, *want
		g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		sameJSON(t, "final state of "+aid, &g, &w)

		h := history(t, s, aid)
		if len(h) != len(sentTo[aid]) {
			t.Errorf("%s: history has %d entries, want %d", aid, len(h), len(sentTo[aid]))
			continue
		}
		for i, e := range h {
			if e.Event.EventID != sentTo[aid][i].ev.EventID || e.Applied != sentTo[aid][i].o.Applied {
				t.Errorf("%s: history[%d] = %s applied %v, want %s applied %v", aid, i,
					e.Event.EventID, e.Applied, sentTo[aid][i].ev.EventID, sentTo[aid][i].o.Applied)
			}
		}
	}
	if n := countInbound(t, s); n != goroutines*perGoroutine {
		t.Errorf("CountInbound = %d, want %d", n, goroutines*perGoroutine)
	}
	all, err := s.Appointments(t.Context(), store.Filter{Limit: 1000})
	if err != nil || len(all) != appointments {
		t.Errorf("Appointments = %d, %v; want %d", len(all), err, appointments)
	}
}

func testConcurrentDuplicates(t *testing.T, s store.Store) {
	const goroutines = 8
	in := newInbound(newEvent("A-1", apptbridge.Booked, base))
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make([]store.IngestResult, goroutines)
	)
	for g := range goroutines {
		wg.Go(func() {
			c := *in
			<-start
			res, err := s.Ingest(t.Context(), &c)
			if err != nil {
				t.Errorf("goroutine %d: Ingest: %v", g, err)
			}
			results[g] = res
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	fresh := 0
	for g, res := range results {
		switch {
		case res.Conflict:
			t.Errorf("goroutine %d: conflict", g)
		case res.Duplicate:
			if !bytes.Equal(res.Ack, in.Ack) {
				t.Errorf("goroutine %d: duplicate ack %q, want %q", g, res.Ack, in.Ack)
			}
		default:
			fresh++
			if !res.Outcome.Applied {
				t.Errorf("goroutine %d: new message not applied: %+v", g, res.Outcome)
			}
		}
	}
	if fresh != 1 {
		t.Errorf("%d of %d identical messages were new, want exactly 1", fresh, goroutines)
	}
	if h := history(t, s, "A-1"); len(h) != 1 {
		t.Errorf("history has %d entries, want 1", len(h))
	}
	if n := countInbound(t, s); n != 1 {
		t.Errorf("CountInbound = %d, want 1", n)
	}
	if a := appointment(t, s, "A-1"); a.Version != 1 {
		t.Errorf("version = %d, want 1", a.Version)
	}
}
