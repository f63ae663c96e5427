package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// signInFailures lists key's failures after since (newest first), failing
// t on an error.
func signInFailures(t *testing.T, s store.Store, key string, since time.Time, limit int) []time.Time {
	t.Helper()
	got, err := s.SignInFailures(t.Context(), key, since, limit)
	if err != nil {
		t.Fatalf("SignInFailures(%s): %v", key, err)
	}
	return got
}

func addSignInFailure(t *testing.T, s store.Store, key string, at time.Time, window time.Duration) {
	t.Helper()
	if err := s.AddSignInFailure(t.Context(), key, at, at.Add(window)); err != nil {
		t.Fatalf("AddSignInFailure(%s, %v): %v", key, at, err)
	}
}

// testAdminSignInFailures: failures are counted per key after since,
// newest first and limited; expired ones are deleted by the next
// failure of any key; Reset forgets one key.
func testAdminSignInFailures(t *testing.T, s store.Store) {
	const ip, other, account = "ip:192.0.2.1", "ip:192.0.2.2", "account:admin"
	const window = 15 * time.Minute
	at := func(d time.Duration) time.Time { return base.Add(d) }

	if got := signInFailures(t, s, ip, time.Time{}, 10); len(got) != 0 {
		t.Fatalf("failures of a new key: %v", got)
	}
	addSignInFailure(t, s, account, at(0), 24*time.Hour)
	for i := range 3 {
		addSignInFailure(t, s, ip, at(time.Duration(i)*time.Minute), window)
	}
	want := []time.Time{at(2 * time.Minute), at(time.Minute), at(0)}
	if got := signInFailures(t, s, ip, at(2*time.Minute-window), 10); !slices.Equal(got, want) {
		t.Errorf("failures in the window = %v, want %v (newest first, µs exact)", got, want)
	}
	if got := signInFailures(t, s, ip, at(0), 10); !slices.Equal(got, want[:2]) {
		t.Errorf("failures after the first (since is exclusive) = %v, want %v", got, want[:2])
	}
	if got := signInFailures(t, s, ip, time.Time{}, 2); !slices.Equal(got, want[:2]) {
		t.Errorf("failures limited to 2 = %v, want %v", got, want[:2])
	}
	if got := signInFailures(t, s, other, time.Time{}, 10); len(got) != 0 {
		t.Errorf("another key's failures: %v", got)
	}

	// Failures at one instant are each counted.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := s.AddSignInFailure(t.Context(), other, at(time.Minute), at(time.Minute+window)); err != nil {
				t.Errorf("concurrent AddSignInFailure: %v", err)
			}
		})
	}
	wg.Wait()
	if got := signInFailures(t, s, other, time.Time{}, 100); len(got) != 8 {
		t.Errorf("%d failures after 8 at one instant, want 8", len(got))
	}

	// A failure 17 minutes on deletes the expired rows of every key
	// (not just hides them: since is the zero time), not the account's.
	addSignInFailure(t, s, "ip:192.0.2.3", at(17*time.Minute), window)
	if got := signInFailures(t, s, ip, time.Time{}, 10); len(got) != 0 {
		t.Errorf("expired failures kept: %v", got)
	}
	if got := signInFailures(t, s, other, time.Time{}, 10); len(got) != 0 {
		t.Errorf("expired failures of another key kept: %v", got)
	}
	if got := signInFailures(t, s, account, time.Time{}, 10); !slices.Equal(got, []time.Time{at(0)}) {
		t.Errorf("the account's unexpired failure = %v, want [%v]", got, at(0))
	}

	// Reset forgets one key only; an unknown key is nothing to reset.
	addSignInFailure(t, s, ip, at(18*time.Minute), window)
	if err := s.ResetSignInFailures(t.Context(), ip); err != nil {
		t.Fatalf("ResetSignInFailures: %v", err)
	}
	if err := s.ResetSignInFailures(t.Context(), "ip:never"); err != nil {
		t.Fatalf("ResetSignInFailures(unknown): %v", err)
	}
	if got := signInFailures(t, s, ip, time.Time{}, 10); len(got) != 0 {
		t.Errorf("failures after Reset: %v", got)
	}
	if got := signInFailures(t, s, account, time.Time{}, 10); len(got) != 1 {
		t.Errorf("the account's failures after another key's Reset: %v", got)
	}

	ctx := t.Context()
	wantCode(t, "AddSignInFailure(no key)", s.AddSignInFailure(ctx, "", at(0), at(window)), apptbridge.EINVALID)
	wantCode(t, "AddSignInFailure(expired)", s.AddSignInFailure(ctx, ip, at(0), at(0)), apptbridge.EINVALID)
	_, err := s.SignInFailures(ctx, "", at(0), 10)
	wantCode(t, "SignInFailures(no key)", err, apptbridge.EINVALID)
	_, err = s.SignInFailures(ctx, ip, at(0), 0)
	wantCode(t, "SignInFailures(limit 0)", err, apptbridge.EINVALID)
}

// RunShared runs the contract of what processes on one database share.
// open returns two stores (as two processes would open them) on one new,
// empty database, closed by t.Cleanups it registers.
func RunShared(t *testing.T, open func(t *testing.T) (store.Store, store.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b store.Store)
	}{
		{"SignInFailuresShared", testSignInFailuresShared},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := open(t)
			tc.fn(t, a, b)
		})
	}
}

// testSignInFailuresShared: two processes count one key's failures
// together, and a Reset or pruning in one holds for the other.
func testSignInFailuresShared(t *testing.T, a, b store.Store) {
	const ip, window = "ip:198.51.100.7", 15 * time.Minute
	at := func(d time.Duration) time.Time { return base.Add(d) }
	for i := range 10 {
		s := a
		if i%2 == 1 {
			s = b
		}
		addSignInFailure(t, s, ip, at(time.Duration(i)*time.Second), window)
	}
	for name, s := range map[string]store.Store{"a": a, "b": b} {
		if got := signInFailures(t, s, ip, at(-window), 100); len(got) != 10 || !got[0].Equal(at(9*time.Second)) {
			t.Errorf("%s sees %d failures (newest %v), want 10 (newest %v)", name, len(got), got, at(9*time.Second))
		}
	}
	if err := b.ResetSignInFailures(t.Context(), ip); err != nil {
		t.Fatalf("ResetSignInFailures: %v", err)
	}
	if got := signInFailures(t, a, ip, time.Time{}, 100); len(got) != 0 {
		t.Errorf("a sees %d failures after b's Reset", len(got))
	}

	// b's expired failure is deleted by a's next failure.
	addSignInFailure(t, b, ip, at(0), window)
	addSignInFailure(t, a, "ip:198.51.100.8", at(window), window)
	if got := signInFailures(t, b, ip, time.Time{}, 100); len(got) != 0 {
		t.Errorf("b's expired failure kept after a's failure: %v", got)
	}
}
