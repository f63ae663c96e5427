package web

import (
	"context"
	"time"

	"github.com/apptbridge/apptbridge/auth"
	"github.com/apptbridge/apptbridge/store"
)

// FailureCounter counts failed sign-in steps per key (a client IP, the
// account) in a sliding window and refuses a key that failed too often
// (AuthConfig.Limiter and Account). Implementations: Local (this
// process's memory) and StoreLimiter (the store, shared by every process
// on it).
type FailureCounter interface {
	// Allowed reports whether key may try (again) at now; if not,
	// retryAfter says how long until it may. With an error (the counts
	// could not be read), ok and retryAfter are still the answer to
	// apply, the implementation's fallback; the error is logged.
	Allowed(ctx context.Context, key string, now time.Time) (ok bool, retryAfter time.Duration, err error)
	// Fail records a failure of key at now.
	Fail(ctx context.Context, key string, now time.Time) error
	// Reset forgets key's failures (after it signed in).
	Reset(ctx context.Context, key string) error
}

// Local is a FailureCounter in this process's memory only (l): for
// tests, and what a StoreLimiter falls back to.
func Local(l *auth.Limiter) FailureCounter { return local{l} }

type local struct{ l *auth.Limiter }

func (c local) Allowed(_ context.Context, key string, now time.Time) (bool, time.Duration, error) {
	ok, after := c.l.Allowed(key, now)
	return ok, after, nil
}

func (c local) Fail(_ context.Context, key string, now time.Time) error {
	c.l.Fail(key, now)
	return nil
}

func (c local) Reset(_ context.Context, key string) error {
	c.l.Reset(key)
	return nil
}

// SignInFailures is the part of the store a StoreLimiter uses
// (store.Admin has it).
type SignInFailures interface {
	AddSignInFailure(ctx context.Context, key string, at, expires time.Time) error
	SignInFailures(ctx context.Context, key string, since time.Time, limit int) ([]time.Time, error)
	ResetSignInFailures(ctx context.Context, key string) error
}

// StoreLimiter is a FailureCounter whose counts are in the store, so
// every process on it (several serve processes behind a load balancer on
// one PostgreSQL database) counts a key's failures together, and a
// restart forgets none. It refuses a key like auth.Limiter: after Max
// failures in the last Window, until the oldest of those is Window old.
//
// The store keys are Prefix+key ("ip:192.0.2.1", "account:admin"); each
// failure's row expires Window after it and is deleted by a later
// failure (store.Admin.AddSignInFailure), so the table stays small.
//
// When the store fails, a StoreLimiter does not refuse everyone (a
// database outage would lock the operators out) nor allow everyone (it
// would give unlimited guesses): it answers from Local, an in-process
// auth.Limiter with the same Max and Window that is told every failure
// and reset too, so it holds this process's recent failures, as
// throttling did before counts were shared.
type StoreLimiter struct {
	Store  SignInFailures
	Prefix string
	Max    int
	Window time.Duration
	Local  *auth.Limiter
}

// NewStoreLimiter returns a StoreLimiter on s counting keys under prefix,
// with an in-process fallback of the same limits; a max or window ≤ 0
// means auth's defaults (10, 15 minutes).
func NewStoreLimiter(s SignInFailures, prefix string, max int, window time.Duration) *StoreLimiter {
	if max <= 0 {
		max = auth.DefaultMaxFailures
	}
	if window <= 0 {
		window = auth.DefaultWindow
	}
	return &StoreLimiter{Store: s, Prefix: prefix, Max: min(max, store.MaxPageSize), Window: window,
		Local: auth.NewLimiter(max, window)}
}

// Allowed implements FailureCounter: it reads key's newest Max failures
// in the window.
func (l *StoreLimiter) Allowed(ctx context.Context, key string, now time.Time) (bool, time.Duration, error) {
	times, err := l.Store.SignInFailures(ctx, l.Prefix+key, now.Add(-l.Window), l.Max)
	if err != nil {
		ok, after := l.Local.Allowed(key, now)
		return ok, after, err
	}
	if len(times) < l.Max {
		return true, 0, nil
	}
	return false, times[l.Max-1].Add(l.Window).Sub(now), nil
}

// Fail implements FailureCounter: the failure is counted in Local, then
// stored.
func (l *StoreLimiter) Fail(ctx context.Context, key string, now time.Time) error {
	l.Local.Fail(key, now)
	return l.Store.AddSignInFailure(ctx, l.Prefix+key, now, now.Add(l.Window))
}

// Reset implements FailureCounter.
func (l *StoreLimiter) Reset(ctx context.Context, key string) error {
	l.Local.Reset(key)
	return l.Store.ResetSignInFailures(ctx, l.Prefix+key)
}
