// Package runloop is the loop the queue workers share (texts, reminders,
// S3 archive): do a batch of due work; when there was none, sleep until
// the next due time, a wake-up or the end of the context.
//
// Every wait is bounded by the worker's own poll interval, so work that
// no Wake announced (another process's commits on a shared PostgreSQL
// store, a lease that expired) is still found.
package runloop

import (
	"context"
	"time"
)

// Wake is a coalescing, never-blocking wake-up signal: any number of
// Kick calls between two waits wake the loop once. The zero value is
// not usable; use NewWake.
type Wake struct{ c chan struct{} }

// NewWake returns a Wake.
func NewWake() *Wake { return &Wake{c: make(chan struct{}, 1)} }

// Kick wakes the loop if it sleeps, or makes its next sleep return at
// once. It never blocks.
func (w *Wake) Kick() {
	select {
	case w.c <- struct{}{}:
	default:
	}
}

// Loop is one worker's loop.
type Loop struct {
	// Step does one batch of due work and returns how much it did. While
	// it does some without error, Step runs again at once.
	Step func(ctx context.Context) (int, error)
	// Sleep returns how long to wait when Step found nothing to do (or
	// failed): the time until the next due item, capped by the worker's
	// poll interval. Values below MinSleep are raised to it.
	Sleep func(ctx context.Context) time.Duration
	// OnError is called with each error of Step (nil: ignored).
	OnError func(error)
	// Wake ends a sleep early (nil: only the timer does).
	Wake *Wake
}

// MinSleep is the shortest sleep: an item due now that Step did not take
// (another process leased it) is looked at again after this, not in a
// busy loop.
const MinSleep = 10 * time.Millisecond

// Run runs the loop until ctx ends; it returns nil then.
func (l Loop) Run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var wake <-chan struct{}
	if l.Wake != nil {
		wake = l.Wake.c
	}
	for {
		n, err := l.Step(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && l.OnError != nil {
			l.OnError(err)
		}
		if n > 0 && err == nil {
			continue // more may be due
		}
		// Go 1.23+ timers: Reset on an unstopped, undrained timer is
		// safe; no stale tick is delivered after it.
		timer.Reset(max(l.Sleep(ctx), MinSleep))
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-timer.C:
		}
	}
}
