package runloop_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge/internal/runloop"
)

// run starts l and returns a stop function that waits for Run to return.
func run(t *testing.T, l runloop.Loop) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after the context ended")
		}
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestDrainsThenSleeps: Step runs again at once while it finds work, then
// the loop sleeps as long as Sleep says (an hour here: nothing else runs
// it), and a Kick wakes it.
func TestDrainsThenSleeps(t *testing.T) {
	var steps, sleeps atomic.Int64
	work := atomic.Int64{}
	work.Store(5)
	wake := runloop.NewWake()
	stop := run(t, runloop.Loop{
		Step: func(context.Context) (int, error) {
			steps.Add(1)
			if work.Load() > 0 {
				work.Add(-1)
				return 1, nil
			}
			return 0, nil
		},
		Sleep: func(context.Context) time.Duration { sleeps.Add(1); return time.Hour },
		Wake:  wake,
	})
	defer stop()
	waitFor(t, "the first sleep", func() bool { return sleeps.Load() == 1 })
	if got := steps.Load(); got != 6 {
		t.Fatalf("%d steps before sleeping, want 6 (5 with work, 1 empty)", got)
	}
	time.Sleep(50 * time.Millisecond)
	if got := steps.Load(); got != 6 {
		t.Fatalf("the loop ran %d steps while it should sleep an hour", got)
	}
	// A kick wakes it: the step with work, then an empty one. Kicks never
	// queue up: each of the three adds at most one more (empty) step.
	work.Store(1)
	wake.Kick()
	wake.Kick()
	wake.Kick()
	waitFor(t, "the kicked step", func() bool { return work.Load() == 0 && sleeps.Load() >= 2 })
	time.Sleep(50 * time.Millisecond)
	if got := steps.Load(); got < 8 || got > 10 {
		t.Fatalf("%d steps after three kicks, want 8 to 10", got)
	}
}

// TestErrorsSleepAndReport: a failing Step is reported and not retried
// in a busy loop, even when it claims to have done work.
func TestErrorsSleepAndReport(t *testing.T) {
	var steps, errs atomic.Int64
	boom := errors.New("store down")
	stop := run(t, runloop.Loop{
		Step: func(context.Context) (int, error) {
			steps.Add(1)
			return 3, boom
		},
		Sleep:   func(context.Context) time.Duration { return 20 * time.Millisecond },
		OnError: func(err error) { errs.Add(1) },
	})
	time.Sleep(200 * time.Millisecond)
	stop()
	if s := steps.Load(); s < 2 || s > 15 {
		t.Fatalf("%d failing steps in 200 ms with a 20 ms sleep", s)
	}
	if errs.Load() != steps.Load() {
		t.Fatalf("%d errors reported for %d failing steps", errs.Load(), steps.Load())
	}
}

// TestMinSleep: a due time in the past (work another process leased)
// does not make the loop spin.
func TestMinSleep(t *testing.T) {
	var steps atomic.Int64
	stop := run(t, runloop.Loop{
		Step:  func(context.Context) (int, error) { steps.Add(1); return 0, nil },
		Sleep: func(context.Context) time.Duration { return -time.Second },
	})
	time.Sleep(100 * time.Millisecond)
	stop()
	if s := steps.Load(); s > int64(100*time.Millisecond/runloop.MinSleep)+2 {
		t.Fatalf("%d steps in 100 ms: the loop spins below MinSleep", s)
	}
}
