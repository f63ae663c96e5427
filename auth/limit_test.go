package auth

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestLimiterBlocksAndSlides(t *testing.T) {
	l := NewLimiter(10, 15*time.Minute)
	t0 := testNow
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	// Ten failures, a minute apart: allowed until the tenth.
	for i := range 10 {
		if ok, _ := l.Allowed("10.0.0.1", at(time.Duration(i)*time.Minute)); !ok {
			t.Fatalf("refused before failure %d", i+1)
		}
		l.Fail("10.0.0.1", at(time.Duration(i)*time.Minute))
	}
	for _, tc := range []struct {
		at    time.Duration
		ok    bool
		retry time.Duration
	}{
		{9 * time.Minute, false, 6 * time.Minute},             // until the first failure is 15 minutes old
		{14*time.Minute + 59*time.Second, false, time.Second}, // still
		{15 * time.Minute, true, 0},                           // first failure aged out
	} {
		ok, retry := l.Allowed("10.0.0.1", at(tc.at))
		if ok != tc.ok || retry != tc.retry {
			t.Errorf("at %v: Allowed = %v, %v; want %v, %v", tc.at, ok, retry, tc.ok, tc.retry)
		}
	}
	// Another address is not affected.
	if ok, _ := l.Allowed("10.0.0.2", at(9*time.Minute)); !ok {
		t.Error("another key refused")
	}

	// The window slides: one more failure blocks again until the second
	// failure (at 1 min) is 15 minutes old.
	l.Fail("10.0.0.1", at(15*time.Minute))
	if ok, retry := l.Allowed("10.0.0.1", at(15*time.Minute)); ok || retry != time.Minute {
		t.Errorf("after sliding: Allowed = %v, %v; want false, 1m", ok, retry)
	}
	if ok, _ := l.Allowed("10.0.0.1", at(16*time.Minute)); !ok {
		t.Error("refused after the window slid on")
	}

	// Reset (a successful sign-in) clears the key.
	l.Fail("10.0.0.1", at(16*time.Minute))
	if ok, _ := l.Allowed("10.0.0.1", at(16*time.Minute)); ok {
		t.Fatal("not blocked before Reset")
	}
	l.Reset("10.0.0.1")
	l.Reset("never-seen") // harmless
	if ok, _ := l.Allowed("10.0.0.1", at(16*time.Minute)); !ok {
		t.Error("refused after Reset")
	}
}

func TestLimiterMaxOne(t *testing.T) {
	l := NewLimiter(1, time.Minute)
	l.Fail("k", testNow)
	if ok, retry := l.Allowed("k", testNow.Add(20*time.Second)); ok || retry != 40*time.Second {
		t.Errorf("Allowed = %v, %v; want false, 40s", ok, retry)
	}
}

func TestLimiterDefaults(t *testing.T) {
	l := NewLimiter(0, 0)
	if l.max != DefaultMaxFailures || l.window != DefaultWindow || l.maxKeys != DefaultMaxKeys {
		t.Errorf("defaults = %d, %v, %d", l.max, l.window, l.maxKeys)
	}
}

func TestLimiterForgetsOldKeys(t *testing.T) {
	l := NewLimiter(10, 15*time.Minute)
	for i := range 100 {
		l.Fail(fmt.Sprint("ip-", i), testNow.Add(time.Duration(i)*time.Second))
	}
	l.Allowed("x", testNow.Add(15*time.Minute+50*time.Second)) // the first 51 are now old
	if n := len(l.keys); n != 49 || l.order.Len() != 49 {
		t.Errorf("%d keys (%d in order) after pruning, want 49", n, l.order.Len())
	}
	l.Allowed("x", testNow.Add(time.Hour))
	if n := len(l.keys); n != 0 {
		t.Errorf("%d keys an hour later, want 0", n)
	}
}

func TestLimiterKeyCap(t *testing.T) {
	l := NewLimiter(3, time.Hour)
	// A flood from twice as many addresses as the cap, within the window.
	for i := range 2 * DefaultMaxKeys {
		l.Fail(fmt.Sprint("ip-", i), testNow.Add(time.Duration(i)*time.Millisecond))
		if len(l.keys) > DefaultMaxKeys {
			t.Fatalf("%d keys, cap %d", len(l.keys), DefaultMaxKeys)
		}
	}
	if len(l.keys) != DefaultMaxKeys || l.order.Len() != DefaultMaxKeys {
		t.Fatalf("%d keys (%d in order), want %d", len(l.keys), l.order.Len(), DefaultMaxKeys)
	}
	// The least recently failing ones were forgotten; the newest kept.
	if _, ok := l.keys["ip-0"]; ok {
		t.Error("oldest key kept")
	}
	if _, ok := l.keys[fmt.Sprint("ip-", 2*DefaultMaxKeys-1)]; !ok {
		t.Error("newest key forgotten")
	}

	// A key that keeps failing stays (it is the most recent, not the oldest).
	s := NewLimiter(3, time.Hour)
	s.maxKeys = 3
	now := testNow
	for i := range 10 {
		now = now.Add(time.Second)
		s.Fail("attacker", now)
		s.Fail(fmt.Sprint("spoof-", i), now)
	}
	if ok, _ := s.Allowed("attacker", now); ok {
		t.Error("a busy key was evicted by a flood of others")
	}
	if len(s.keys) != 3 {
		t.Errorf("%d keys, cap 3", len(s.keys))
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l := NewLimiter(5, time.Minute)
	l.maxKeys = 50
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				key := fmt.Sprint("ip-", (g*7+i)%80)
				now := testNow.Add(time.Duration(i) * time.Millisecond)
				if ok, _ := l.Allowed(key, now); ok {
					l.Fail(key, now)
				}
				if i%97 == 0 {
					l.Reset(key)
				}
			}
		})
	}
	wg.Wait()
	if len(l.keys) > 50 || len(l.keys) != l.order.Len() {
		t.Errorf("%d keys, %d in order, cap 50", len(l.keys), l.order.Len())
	}
	for _, el := range l.keys {
		if f := el.Value.(*failures); len(f.times) > 5 {
			t.Errorf("key %s keeps %d times, max 5", f.key, len(f.times))
		}
	}
}
