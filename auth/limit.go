package auth

import (
	"container/list"
	"sync"
	"time"
)

// Limiter defaults the server uses: 10 failed sign-ins per client IP in
// any 15 minutes, counting at most 10,000 IPs at once.
const (
	DefaultMaxFailures = 10
	DefaultWindow      = 15 * time.Minute
	DefaultMaxKeys     = 10_000
)

// Limiter counts failures (wrong passwords or codes) per key, normally the
// client IP, in a sliding window, and refuses a key that has had max of
// them in the last window until the oldest of them is window old.
//
// It is per process: each replica counts on its own, so with n replicas
// behind a load balancer a client may get up to n×max tries per window.
// The server counts in the store instead (web.StoreLimiter), with a
// Limiter as its fallback while the store fails.
// It counts only failures, so concurrent requests from one key that all
// pass Allowed before any calls Fail can overshoot max by their number.
//
// Memory is bounded: a key keeps at most max failure times, keys whose
// failures have all aged out are dropped, and at most DefaultMaxKeys keys
// are kept; past that, the key that failed least recently is forgotten
// (so a flood from many addresses costs bounded memory, at the price of
// forgetting the quietest of them).
//
// A Limiter is safe for concurrent use.
type Limiter struct {
	max     int
	window  time.Duration
	maxKeys int

	mu    sync.Mutex
	keys  map[string]*list.Element // of *failures
	order *list.List               // by last failure, least recent first
}

type failures struct {
	key   string
	times []time.Time // oldest first; at most max
}

// NewLimiter returns a Limiter allowing maxFailures failures per key per
// window; a maxFailures or window ≤ 0 means the default (10, 15 minutes).
func NewLimiter(maxFailures int, window time.Duration) *Limiter {
	if maxFailures <= 0 {
		maxFailures = DefaultMaxFailures
	}
	if window <= 0 {
		window = DefaultWindow
	}
	return &Limiter{
		max:     maxFailures,
		window:  window,
		maxKeys: DefaultMaxKeys,
		keys:    make(map[string]*list.Element),
		order:   list.New(),
	}
}

// Allowed reports whether key may try (again) at now; if not, retryAfter
// says how long until it may.
func (l *Limiter) Allowed(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(now)
	el := l.keys[key]
	if el == nil {
		return true, 0
	}
	f := el.Value.(*failures)
	f.times = l.recent(f.times, now)
	if len(f.times) == 0 {
		l.remove(el)
		return true, 0
	}
	if len(f.times) < l.max {
		return true, 0
	}
	return false, f.times[len(f.times)-l.max].Add(l.window).Sub(now)
}

// Fail records a failure of key at now.
func (l *Limiter) Fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(now)
	if el := l.keys[key]; el != nil {
		f := el.Value.(*failures)
		f.times = append(l.recent(f.times, now), now)
		if len(f.times) > l.max {
			f.times = append(f.times[:0], f.times[len(f.times)-l.max:]...)
		}
		l.order.MoveToBack(el)
		return
	}
	for len(l.keys) >= l.maxKeys {
		l.remove(l.order.Front())
	}
	l.keys[key] = l.order.PushBack(&failures{key: key, times: []time.Time{now}})
}

// Reset forgets key's failures (after it signed in).
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el := l.keys[key]; el != nil {
		l.remove(el)
	}
}

// recent drops the times that are window old or older at now.
func (l *Limiter) recent(times []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(times) && now.Sub(times[i]) >= l.window {
		i++
	}
	if i == 0 {
		return times
	}
	return append(times[:0], times[i:]...)
}

// prune drops the keys whose last failure is window old or older.
func (l *Limiter) prune(now time.Time) {
	for el := l.order.Front(); el != nil; el = l.order.Front() {
		f := el.Value.(*failures)
		if len(f.times) > 0 && now.Sub(f.times[len(f.times)-1]) < l.window {
			return
		}
		l.remove(el)
	}
}

func (l *Limiter) remove(el *list.Element) {
	delete(l.keys, el.Value.(*failures).key)
	l.order.Remove(el)
}
