package web

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// brokenStore fails every sign-in failure call while broken is set, and
// otherwise keeps nothing.
type brokenStore struct {
	broken atomic.Bool
	calls  atomic.Int64
}

var errDown = errors.New("database down")

func (s *brokenStore) err() error {
	s.calls.Add(1)
	if s.broken.Load() {
		return errDown
	}
	return nil
}

func (s *brokenStore) AddSignInFailure(context.Context, string, time.Time, time.Time) error {
	return s.err()
}

func (s *brokenStore) SignInFailures(context.Context, string, time.Time, int) ([]time.Time, error) {
	return nil, s.err()
}

func (s *brokenStore) ResetSignInFailures(context.Context, string) error { return s.err() }

// TestStoreLimiterFallback: while the store fails, a StoreLimiter
// answers from this process's own counts, which include the failures it
// saw before: not everyone locked out, not unlimited guesses.
func TestStoreLimiterFallback(t *testing.T) {
	ctx := context.Background()
	s := &brokenStore{}
	l := NewStoreLimiter(s, "ip:", 3, time.Minute)
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

	// Two failures while the store works (it keeps none here: the store's
	// answer, allowed, is what counts).
	for range 2 {
		if err := l.Fail(ctx, "192.0.2.1", t0); err != nil {
			t.Fatal(err)
		}
	}
	if ok, _, err := l.Allowed(ctx, "192.0.2.1", t0); !ok || err != nil {
		t.Fatalf("Allowed with the store up = %v, %v", ok, err)
	}

	s.broken.Store(true)
	ok, _, err := l.Allowed(ctx, "192.0.2.1", t0)
	if !ok || !errors.Is(err, errDown) {
		t.Fatalf("Allowed after 2 of 3 failures, store down = %v, %v; want true and the store's error", ok, err)
	}
	if err := l.Fail(ctx, "192.0.2.1", t0.Add(10*time.Second)); !errors.Is(err, errDown) {
		t.Fatalf("Fail with the store down: %v", err)
	}
	ok, after, err := l.Allowed(ctx, "192.0.2.1", t0.Add(10*time.Second))
	if ok || after != 50*time.Second || !errors.Is(err, errDown) {
		t.Errorf("Allowed after 3 failures, store down = %v, %v, %v; want false, 50s, the store's error", ok, after, err)
	}
	if ok, _, _ := l.Allowed(ctx, "192.0.2.2", t0); !ok {
		t.Error("another IP refused while the store is down")
	}
	if err := l.Reset(ctx, "192.0.2.1"); !errors.Is(err, errDown) {
		t.Errorf("Reset with the store down: %v", err)
	}
	if ok, _, _ := l.Allowed(ctx, "192.0.2.1", t0.Add(10*time.Second)); !ok {
		t.Error("refused after Reset, store down")
	}
}

// TestStoreLimiterKeys: keys are stored under the prefix; limits ≤ 0
// are the defaults.
func TestStoreLimiterKeys(t *testing.T) {
	l := NewStoreLimiter(&brokenStore{}, "account:", 0, 0)
	if l.Max != 10 || l.Window != 15*time.Minute || l.Prefix != "account:" || l.Local == nil {
		t.Errorf("NewStoreLimiter(0, 0) = %+v", l)
	}
}
