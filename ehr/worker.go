package ehr

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// Queue is the part of the store the worker uses (store.Outbox implements
// it).
type Queue interface {
	// ClaimRequest leases the next due request (order per appointment is
	// the store's job); nil when none is due.
	ClaimRequest(ctx context.Context, owner string, now time.Time, lease time.Duration) (*store.Request, error)
	// SaveRequest writes the request's mutable fields; store.ErrLeaseLost
	// when owner no longer holds it.
	SaveRequest(ctx context.Context, owner string, r *store.Request) error
	// NextRequestDue is the earliest NextAttemptAt of a request not final
	// (zero when none).
	NextRequestDue(ctx context.Context) (time.Time, error)
}

// Worker defaults.
const (
	DefaultLease         = 2 * time.Minute
	DefaultMaxARAttempts = 5
	DefaultMinBackoff    = time.Second
	DefaultMaxBackoff    = time.Minute
	DefaultPoll          = time.Second
)

// Worker sends the patients' CONFIRM/CANCEL requests to the EHR: it claims
// due requests from Queue, one at a time, delivers them through Channel
// and records each outcome. See the package documentation for the rules.
//
// Zero fields take the defaults. Call Run once per Worker; for more
// throughput run several Workers with distinct Owners on one Queue (the
// store keeps each appointment's requests in order).
type Worker struct {
	Queue   Queue
	Channel Channel
	// Owner names this worker in leases; default "ehr-<host>-<pid>-<random>".
	Owner string
	// Lease is how long a claimed request is ours (default 2 min). It must
	// exceed the longest delivery (dial + AckTimeout), else another worker
	// may send the request again while this one waits for the ACK.
	Lease time.Duration
	// MaxARAttempts is how many AR/CR answers in a row make a request dead
	// (default 5). Timeouts, disconnects and HTTP 408/425/429/5xx are
	// retried without limit, since they say nothing about the request.
	MaxARAttempts int
	// MinBackoff and MaxBackoff bound the wait before a retry: MinBackoff
	// doubled per attempt up to MaxBackoff, ±20 % jitter, never outside
	// [MinBackoff, MaxBackoff]. Defaults 1 s and 60 s.
	MinBackoff, MaxBackoff time.Duration
	// Poll is the longest idle sleep, a safety net for missed Kicks and
	// requests made by other processes (default 1 s).
	Poll time.Duration
	// Now is the clock of claims and NextAttemptAt; default time.Now.
	Now func() time.Time
	// Logger gets one line per attempt (ids, outcome, ACK code; never
	// patient data); nil logs nothing.
	Logger *zap.Logger
	// Metrics; nil creates unregistered ones.
	Metrics *Metrics

	jitter func() float64 // [0, 1); tests replace it

	initOnce sync.Once
	kick     chan struct{}

	// The link to the EHR (owned by Run's goroutine): consecutive
	// transport failures and the pause they impose on every request, so
	// an outage costs one connection attempt per backoff step, not one
	// per pending request.
	linkFailures int
	pauseUntil   time.Time
	log          *zap.Logger
}

func (w *Worker) init() {
	w.initOnce.Do(func() {
		w.kick = make(chan struct{}, 1)
		if w.Owner == "" {
			w.Owner = defaultOwner()
		}
		if w.Lease <= 0 {
			w.Lease = DefaultLease
		}
		if w.MaxARAttempts <= 0 {
			w.MaxARAttempts = DefaultMaxARAttempts
		}
		if w.MinBackoff <= 0 {
			w.MinBackoff = DefaultMinBackoff
		}
		if w.MaxBackoff <= 0 {
			w.MaxBackoff = DefaultMaxBackoff
		}
		w.MaxBackoff = max(w.MaxBackoff, w.MinBackoff)
		if w.Poll <= 0 {
			w.Poll = DefaultPoll
		}
		if w.Now == nil {
			w.Now = time.Now
		}
		if w.jitter == nil {
			w.jitter = rand.Float64
		}
		w.log = w.Logger
		if w.log == nil {
			w.log = zap.NewNop()
		}
		w.log = w.log.With(zap.String("worker", w.Owner))
		if w.Metrics == nil {
			w.Metrics = NewMetrics(nil)
		}
	})
}

func defaultOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	crand.Read(b[:])
	return "ehr-" + host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// Kick wakes the worker now (a new request was committed). It never
// blocks; kicks while the worker is busy coalesce into one.
func (w *Worker) Kick() {
	w.init()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run claims and delivers requests until ctx is done, then returns nil.
// When nothing is due it sleeps until the next request is due, a Kick, or
// Poll, whichever comes first. Queue errors are logged (once per distinct
// error) and retried after Poll. It returns an error only when Queue or
// Channel is missing.
func (w *Worker) Run(ctx context.Context) error {
	if w.Queue == nil || w.Channel == nil {
		return errors.New("ehr: Worker needs a Queue and a Channel")
	}
	w.init()
	if s, ok := w.Channel.(*MLLPSender); ok {
		if need := orDefault(s.DialTimeout, DefaultDialTimeout) + orDefault(s.AckTimeout, DefaultAckTimeout); w.Lease <= need {
			w.log.Warn("lease is not longer than dial + ACK timeout; a slow EHR may get a request twice",
				zap.Duration("lease", w.Lease), zap.Duration("dial_plus_ack_timeout", need))
		}
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var lastErr string
	for {
		if ctx.Err() != nil {
			return nil
		}
		if d := w.pauseUntil.Sub(w.Now()); d > 0 {
			// The EHR was unreachable: wait out the link's backoff
			// (kicks do not shorten it).
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
			continue
		}
		worked, err := w.step(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := time.Duration(0)
		switch {
		case err != nil:
			if s := err.Error(); s != lastErr {
				w.log.Error("claiming an EHR request failed; retrying", zap.Error(err))
				lastErr = s
			}
			wait = w.Poll
		case worked:
			if lastErr != "" {
				w.log.Info("EHR request queue readable again")
				lastErr = ""
			}
			continue
		default:
			wait = w.idleWait(ctx)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-w.kick:
		case <-timer.C:
		}
	}
}

// idleWait is how long to sleep when nothing could be claimed.
func (w *Worker) idleWait(ctx context.Context) time.Duration {
	due, err := w.Queue.NextRequestDue(ctx)
	if err != nil || due.IsZero() {
		return w.Poll
	}
	// A due time in the past belongs to a request we could not claim (an
	// older one of its appointment is in flight elsewhere): poll.
	if d := due.Sub(w.Now()); d > 0 && d < w.Poll {
		return d
	}
	return w.Poll
}

// step claims one due request and makes one attempt; false when none was
// due.
func (w *Worker) step(ctx context.Context) (bool, error) {
	r, err := w.Queue.ClaimRequest(ctx, w.Owner, w.Now(), w.Lease)
	if err != nil || r == nil {
		return false, err
	}
	w.attempt(ctx, r)
	return true, nil
}

// attempt delivers a claimed request once and records the outcome.
func (w *Worker) attempt(ctx context.Context, r *store.Request) {
	if r.ControlID == "" {
		r.ControlID = r.ID
	}
	log := w.log.With(zap.String("request_id", r.ID), zap.String("appointment_id", r.AppointmentID),
		zap.String("control_id", r.ControlID), zap.String("type", string(r.Type)))

	if len(r.Message) == 0 {
		msg, err := w.encode(r)
		if err != nil {
			r.Status = store.RequestDead
			r.LastError = err.Error()
			w.release(r)
			w.Metrics.Requests.WithLabelValues(Dead.String()).Inc()
			w.Metrics.DeadLetters.WithLabelValues(DeadUnsendable).Inc()
			log.Error("EHR request cannot be encoded; dead letter", zap.Error(err))
			w.save(ctx, r, log)
			return
		}
		r.Message = msg
	}

	// Recorded before sending: a crash from here on leaves the request
	// "sending", and the lease makes a worker take it up again.
	r.Status = store.RequestSending
	r.Attempts++
	if r.NextAttemptAt.Before(r.LeaseUntil) {
		r.NextAttemptAt = r.LeaseUntil // not due for others while we hold it
	}
	if err := w.Queue.SaveRequest(ctx, w.Owner, r); err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			log.Warn("lease lost before sending; another worker has the request")
		} else if ctx.Err() == nil {
			log.Error("recording the attempt failed; not sending", zap.Error(err))
		}
		return
	}

	start := time.Now()
	res := w.Channel.Deliver(ctx, r.ControlID, r.Message)
	elapsed := time.Since(start)
	now := w.Now()
	if res.AckCode != "" {
		r.AckCode, r.Ack = res.AckCode, res.Ack
	}
	prevErr := r.LastError
	outcome := res.Outcome
	deadReason := DeadRejected
	var next time.Duration
	switch outcome {
	case Acked:
		r.Status = store.RequestAcked
		r.LastError = ""
	case Dead:
		r.Status = store.RequestDead
		r.LastError = errText(res)
		if res.AckCode == "" {
			deadReason = DeadUnsendable
		}
	default:
		outcome = Retry
		r.LastError = errText(res)
		if !res.Rejected {
			// No answer from the EHR: the link is down (or hung). Back
			// off the link, not only this request.
			w.linkFailures++
			pause := w.backoff(w.linkFailures)
			w.pauseUntil = now.Add(pause)
		}
		if res.Rejected {
			n := rejections(prevErr, w.MaxARAttempts) + 1
			r.LastError = fmt.Sprintf("%s (rejection %d of %d)", errText(res), n, w.MaxARAttempts)
			if n >= w.MaxARAttempts {
				outcome, deadReason = Dead, DeadRetriesExhausted
			}
		}
		if outcome == Dead {
			r.Status = store.RequestDead
		} else {
			r.Status = store.RequestPending
			next = w.backoff(r.Attempts)
			if !res.Rejected {
				// Due when the link is tried again: once the EHR is back,
				// every waiting request goes without its own backoff.
				next = w.pauseUntil.Sub(now)
			}
			r.NextAttemptAt = now.Add(next)
		}
	}
	if outcome != Retry || res.Rejected {
		w.linkFailures = 0 // the EHR answered
	}
	w.release(r)
	w.Metrics.Requests.WithLabelValues(outcome.String()).Inc()
	w.Metrics.Duration.WithLabelValues(outcome.String()).Observe(elapsed.Seconds())

	fields := []zap.Field{zap.Int("attempts", r.Attempts), zap.String("ack_code", res.AckCode),
		zap.Duration("duration", elapsed)}
	switch outcome {
	case Acked:
		log.Info("EHR request acked", fields...)
	case Dead:
		w.Metrics.DeadLetters.WithLabelValues(deadReason).Inc()
		log.Error("EHR request is a dead letter", append(fields, zap.String("reason", deadReason), zap.String("error", r.LastError))...)
	default:
		log.Warn("EHR request not delivered; will retry", append(fields, zap.Duration("retry_in", next), zap.String("error", r.LastError))...)
	}
	w.save(ctx, r, log)
}

// save records the outcome of an attempt, even when ctx ended meanwhile
// (so a request interrupted by shutdown is pending again at once, not
// after its lease).
func (w *Worker) save(ctx context.Context, r *store.Request, log *zap.Logger) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := w.Queue.SaveRequest(sctx, w.Owner, r); err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			log.Warn("lease lost before the outcome was recorded; another worker has the request")
			return
		}
		log.Error("recording the outcome failed; the request will be sent again after its lease", zap.Error(err))
	}
}

// release gives up the lease of a request that is no longer in flight.
func (w *Worker) release(r *store.Request) {
	r.LeaseOwner, r.LeaseUntil = "", time.Time{}
}

// encode builds the request's message from its appointment snapshot.
func (w *Worker) encode(r *store.Request) ([]byte, error) {
	var a apptbridge.Appointment
	if err := json.Unmarshal(r.Snapshot, &a); err != nil {
		// json errors may quote the snapshot; say only what failed.
		return nil, fmt.Errorf("ehr: request %s: appointment snapshot is not valid JSON", r.ID)
	}
	return w.Channel.Encode(r.Type, &a, r.ControlID, w.Now())
}

// backoff is the wait before the next attempt after attempts failed ones.
func (w *Worker) backoff(attempts int) time.Duration {
	return backoff(attempts, w.MinBackoff, w.MaxBackoff, w.jitter())
}

// backoff returns lo·2^(n-1) with ±20 % jitter (u in [0, 1) maps to
// ×0.8…×1.2), clamped to [lo, hi].
func backoff(n int, lo, hi time.Duration, u float64) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	d = time.Duration(float64(d) * (0.8 + 0.4*u))
	return min(max(d, lo), hi)
}

// errText is the LastError of a failed attempt.
func errText(res Result) string {
	if res.Err != nil {
		return res.Err.Error()
	}
	return "ehr: " + res.Outcome.String()
}

var rejectionRE = regexp.MustCompile(`\(rejection (\d+) of \d+\)$`)

// rejections reads how many AR/CR answers in a row the previous LastError
// recorded (0 when the last attempt was no rejection). The count lives in
// LastError because the store has no field for it; an operator retry
// clears LastError, and a count at or over limit (a revived dead letter)
// starts again from 0.
func rejections(lastError string, limit int) int {
	m := rejectionRE.FindStringSubmatch(lastError)
	if m == nil {
		return 0
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n >= limit {
		return 0
	}
	return n
}
