package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/internal/runloop"
	"github.com/apptbridge/apptbridge/notify/twilio"
	"github.com/apptbridge/apptbridge/store"
)

// Sender sends texts; *twilio.Client is the production one. A nil Sender
// is the SMS sandbox: texts are kept with status "sandbox", never sent.
type Sender interface {
	Send(ctx context.Context, to, body string) (*twilio.Message, error)
	Find(ctx context.Context, to, body string, since time.Time) (*twilio.Message, error)
}

// Outbox is what the worker needs of the store.
type Outbox interface {
	Update(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error
	ClaimTexts(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*store.Text, error)
	SaveText(ctx context.Context, owner string, t *store.Text) error
	NextTextDue(ctx context.Context) (time.Time, error)
}

// Reasons a text is not sent (the text's Reason, and a metric label).
const (
	ReasonOptedOut      = "phone opted out"
	ReasonFlagged       = "phone flagged undeliverable"
	ReasonNoPhone       = "no mobile phone"
	ReasonNotActive     = "appointment no longer active"
	ReasonPast          = "appointment already past"
	ReasonTimeChanged   = "appointment time changed since"
	ReasonWindowMissed  = "outreach window does not open before the appointment"
	ReasonRender        = "template failed"
	ReasonRecipientStop = "recipient opted out at the carrier (21610)"
	ReasonPermanent     = "Twilio refused the text permanently"
	ReasonRetriesSpent  = "retries exhausted"
)

// Worker sends the outbox's texts: it claims due texts, checks each
// against the appointment's current state, marks the attempt durably,
// calls Twilio and records the MessageSid.
//
// Exactly once: a text is marked "attempting" (committed) before the
// create call. A text found "attempting" again (a crash, a timeout, a 5xx
// after the request was written) is reconciled first: Twilio's message
// list is searched for a text to that phone with that body created since
// the first attempt; if found, its SID is recorded and nothing is sent.
type Worker struct {
	Store     Outbox
	Sender    Sender // nil: sandbox
	Templates *Templates
	Vars      Vars
	Window    Window
	DefaultTZ *time.Location
	// Rate caps creates per second for the sender (0: no cap). A long
	// code sends one segment per second; a messaging service more.
	Rate float64
	// MaxAttempts bounds retries of 429s and ambiguous failures (default 10).
	MaxAttempts int
	Owner       string        // lease owner; default a random id
	Lease       time.Duration // default 2 minutes
	Batch       int           // texts claimed at once; default 32
	Now         func() time.Time
	Logger      *zap.Logger
	Metrics     *Metrics
	// OptOut runs the effects of a carrier opt-out (Twilio 21610) in tx:
	// the same as the patient's STOP.
	OptOut func(ctx context.Context, tx store.Tx, phone string, now time.Time) error

	once    sync.Once
	wake    *runloop.Wake
	limiter *limiter
}

func (w *Worker) init() {
	w.once.Do(func() {
		w.wake = runloop.NewWake()
		if w.Now == nil {
			w.Now = time.Now
		}
		if w.Logger == nil {
			w.Logger = zap.NewNop()
		}
		if w.Owner == "" {
			w.Owner = "notify-" + apptbridge.NewEventID()
		}
		if w.Lease <= 0 {
			w.Lease = 2 * time.Minute
		}
		if w.Batch <= 0 {
			w.Batch = 32
		}
		if w.MaxAttempts <= 0 {
			w.MaxAttempts = 10
		}
		if w.DefaultTZ == nil {
			w.DefaultTZ = time.UTC
		}
		w.limiter = newLimiter(w.Rate)
	})
}

// Kick wakes the worker (a text was committed). It never blocks.
func (w *Worker) Kick() {
	w.init()
	w.wake.Kick()
}

// maxSleep is the poll safety net: the worker looks at the outbox at least
// this often even if no one kicks it.
const maxSleep = time.Second

// Run sends texts until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	w.init()
	return runloop.Loop{
		Step:    w.RunOnce,
		Sleep:   w.sleep,
		OnError: func(err error) { w.Logger.Error("outbox: texts", zap.Error(err)) },
		Wake:    w.wake,
	}.Run(ctx)
}

// sleep is the time until the next due text, at most maxSleep.
func (w *Worker) sleep(ctx context.Context) time.Duration {
	if due, err := w.Store.NextTextDue(ctx); err == nil && !due.IsZero() {
		return min(due.Sub(w.Now()), maxSleep)
	}
	return maxSleep
}

// RunOnce claims the texts due now and handles each; it returns how many
// it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	w.init()
	texts, err := w.Store.ClaimTexts(ctx, w.Owner, w.Now(), w.Lease, w.Batch)
	if err != nil {
		return 0, fmt.Errorf("claim texts: %w", err)
	}
	var errs []error
	for _, t := range texts {
		if err := w.handle(ctx, t); err != nil {
			if errors.Is(err, store.ErrLeaseLost) {
				w.Logger.Warn("outbox: lease lost", zap.String("text_id", t.ID))
				continue
			}
			errs = append(errs, fmt.Errorf("text %s: %w", t.ID, err))
		}
	}
	return len(texts), errors.Join(errs...)
}

// handle takes one claimed text to its next state.
func (w *Worker) handle(ctx context.Context, t *store.Text) error {
	if t.Status == store.TextAttempting && w.Sender != nil {
		done, err := w.reconcile(ctx, t)
		if done || err != nil {
			return err
		}
	}
	// Pace creates before the attempt is marked, so a text never sits
	// "attempting" while it waits for its turn.
	if w.Sender != nil {
		if err := w.limiter.wait(ctx); err != nil {
			return err
		}
	}
	now := w.Now()
	var (
		verdict string
		decided store.Text
	)
	// The transaction works on a copy: it may run more than once, and
	// only a committed decision counts.
	err := w.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		decided = *t
		v, err := w.check(ctx, tx, &decided, now)
		if err != nil {
			return err
		}
		verdict = v
		return tx.SaveText(ctx, w.Owner, &decided)
	})
	if err != nil {
		return err
	}
	w.Metrics.text(decided.Kind, verdict)
	if verdict != verdictSend {
		return nil
	}
	*t = decided
	return w.send(ctx, t)
}

const (
	verdictSend     = "attempt"
	verdictCanceled = "canceled"
	verdictDeferred = "deferred"
)

// check decides, inside the transaction, whether the text may go now: it
// cancels it (with a reason), defers it to the outreach window's next
// opening, or renders its body and marks it "attempting".
func (w *Worker) check(ctx context.Context, tx store.Tx, t *store.Text, now time.Time) (string, error) {
	cancel := func(reason string) (string, error) {
		t.Status, t.Reason, t.LeaseOwner, t.LeaseUntil = store.TextCanceled, reason, "", time.Time{}
		return verdictCanceled, nil
	}
	if t.Phone == "" {
		return cancel(ReasonNoPhone)
	}
	if t.Kind != apptbridge.TextOptedIn {
		out, err := tx.OptedOut(ctx, t.Phone)
		if err != nil {
			return "", err
		}
		if out {
			return cancel(ReasonOptedOut)
		}
	}
	flagged, err := tx.PhoneFlagged(ctx, t.Phone)
	if err != nil {
		return "", err
	}
	if flagged {
		return cancel(ReasonFlagged)
	}
	var snap, cur *apptbridge.Appointment
	if len(t.Snapshot) > 0 {
		snap = new(apptbridge.Appointment)
		if err := json.Unmarshal(t.Snapshot, snap); err != nil {
			return "", fmt.Errorf("decode snapshot: %w", err)
		}
	}
	if t.AppointmentID != "" {
		if cur, err = tx.Appointment(ctx, t.AppointmentID); err != nil {
			return "", err
		}
	}
	if cur != nil {
		if reason := stillDue(t.Kind, snap, cur, now); reason != "" {
			return cancel(reason)
		}
	}
	if !t.Immediate {
		loc := Location(firstNonNil(cur, snap), w.DefaultTZ)
		if open := w.Window.Next(now, loc); open.After(now) {
			if cur != nil && !cur.AppointmentDatetimeUTC.IsZero() && t.Kind != apptbridge.TextNoshowed &&
				!open.Before(cur.AppointmentDatetimeUTC) {
				return cancel(ReasonWindowMissed)
			}
			t.NextAttemptAt, t.LeaseOwner, t.LeaseUntil = open, "", time.Time{}
			return verdictDeferred, nil
		}
	}
	if t.Kind == apptbridge.TextLoginCode && t.Body == "" {
		return cancel(ReasonRender) // its body is written when queued
	}
	if t.Kind != apptbridge.TextLoginCode && (t.Attempts == 0 || t.Body == "") {
		a := snap
		if a == nil {
			a = &apptbridge.Appointment{}
		}
		body, err := w.Templates.Render(t.Kind, a, w.Vars)
		if err != nil {
			w.Logger.Error("outbox: render", zap.String("text_id", t.ID), zap.String("kind", string(t.Kind)), zap.Error(err))
			return cancel(ReasonRender)
		}
		t.Body = body
	}
	t.Status = store.TextAttempting
	t.Attempts++
	t.NextAttemptAt = now.Add(w.Lease) // if we crash, reconcile after the lease
	return verdictSend, nil
}

func firstNonNil(a, b *apptbridge.Appointment) *apptbridge.Appointment {
	if a != nil {
		return a
	}
	return b
}

// stillDue says why a text about an appointment must no longer go, given
// the appointment's current state; "" when it may.
func stillDue(kind apptbridge.TextKind, snap, cur *apptbridge.Appointment, now time.Time) string {
	switch kind {
	case apptbridge.TextNoshowed, apptbridge.TextOptedIn, apptbridge.TextHelp, apptbridge.TextNotUnderstood:
		return ""
	}
	if !cur.AppointmentDatetimeUTC.IsZero() && !now.Before(cur.AppointmentDatetimeUTC) {
		return ReasonPast
	}
	switch kind {
	case apptbridge.TextBooked, apptbridge.TextRescheduled, apptbridge.TextModified, apptbridge.TextConfirmed,
		apptbridge.TextRemind1, apptbridge.TextRemind2:
		if !cur.Disposition.Active() {
			return ReasonNotActive
		}
	}
	if (kind == apptbridge.TextRemind1 || kind == apptbridge.TextRemind2) && snap != nil &&
		!snap.AppointmentDatetimeUTC.Equal(cur.AppointmentDatetimeUTC) {
		return ReasonTimeChanged
	}
	return ""
}

// send calls Twilio (or the sandbox) for a text marked "attempting" and
// records the result.
func (w *Worker) send(ctx context.Context, t *store.Text) error {
	if w.Sender == nil {
		now := w.Now()
		t.Status, t.SID, t.SentAt = store.TextSandbox, "", now
		t.LeaseOwner, t.LeaseUntil = "", time.Time{}
		if err := w.Store.SaveText(ctx, w.Owner, t); err != nil {
			return err
		}
		w.Metrics.text(t.Kind, store.TextSandbox)
		w.Logger.Info("text kept in the SMS sandbox", zap.String("text_id", t.ID),
			zap.String("appointment_id", t.AppointmentID), zap.String("kind", string(t.Kind)))
		return nil
	}
	start := time.Now()
	msg, err := w.Sender.Send(ctx, t.Phone, t.Body)
	w.Metrics.sendDuration(time.Since(start))
	now := w.Now()
	if err == nil {
		return w.sent(ctx, t, msg, now)
	}
	var te *twilio.Error
	errors.As(err, &te)
	code := 0
	var retryAfter time.Duration
	if te != nil {
		code, retryAfter = te.Code, te.RetryAfter
	}
	class := twilio.Classify(err)
	w.Logger.Warn("outbox: twilio create failed", zap.String("text_id", t.ID),
		zap.String("class", string(class)), zap.Int("code", code), zap.Int("attempt", t.Attempts))
	release := func() { t.LeaseOwner, t.LeaseUntil = "", time.Time{} }
	switch class {
	case twilio.ClassRetry, twilio.ClassConfig:
		// Not created: back to pending (no reconciliation needed).
		if t.Attempts >= w.MaxAttempts {
			t.Status, t.Reason, t.ErrorCode = store.TextFailed, ReasonRetriesSpent, code
			release()
			w.Metrics.text(t.Kind, "failed")
			return w.Store.SaveText(ctx, w.Owner, t)
		}
		t.Status, t.ErrorCode = store.TextPending, code
		t.NextAttemptAt = now.Add(max(retryAfter, backoff(t.Attempts, time.Second, 5*time.Minute)))
		if class == twilio.ClassConfig {
			t.NextAttemptAt = now.Add(time.Minute)
		}
		release()
		w.Metrics.text(t.Kind, "retry")
		return w.Store.SaveText(ctx, w.Owner, t)
	case twilio.ClassOptOut:
		t.Status, t.Reason, t.ErrorCode = store.TextFailed, ReasonRecipientStop, code
		release()
		w.Metrics.text(t.Kind, "failed")
		return w.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			x := *t
			if err := tx.SaveText(ctx, w.Owner, &x); err != nil {
				return err
			}
			if w.OptOut != nil {
				return w.OptOut(ctx, tx, t.Phone, now)
			}
			return tx.OptOut(ctx, t.Phone)
		})
	case twilio.ClassPermanent:
		t.Status, t.Reason, t.ErrorCode = store.TextFailed, ReasonPermanent, code
		release()
		w.Metrics.text(t.Kind, "failed")
		flag := te != nil && te.PermanentPhone()
		return w.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			x := *t
			if err := tx.SaveText(ctx, w.Owner, &x); err != nil {
				return err
			}
			if flag {
				return tx.FlagPhone(ctx, t.Phone, code)
			}
			return nil
		})
	default: // Ambiguous: Twilio may have created it; reconcile before any resend.
		if t.Attempts >= w.MaxAttempts {
			// One last look before giving up.
			if done, err := w.reconcile(ctx, t); done || err != nil {
				return err
			}
			t.Status, t.Reason, t.ErrorCode = store.TextFailed, ReasonRetriesSpent, code
			release()
			w.Metrics.text(t.Kind, "failed")
			return w.Store.SaveText(ctx, w.Owner, t)
		}
		t.ErrorCode = code
		t.NextAttemptAt = now.Add(backoff(t.Attempts, time.Second, 5*time.Minute))
		release()
		w.Metrics.text(t.Kind, "ambiguous")
		return w.Store.SaveText(ctx, w.Owner, t)
	}
}

// sent records Twilio's acceptance of a text.
func (w *Worker) sent(ctx context.Context, t *store.Text, msg *twilio.Message, now time.Time) error {
	t.SID, t.SentAt, t.ErrorCode, t.Reason = msg.SID, now, 0, ""
	t.Status = msg.Status
	if store.StatusRank(t.Status) <= store.StatusRank(store.TextAttempting) {
		t.Status = store.TwilioQueued
	}
	t.LeaseOwner, t.LeaseUntil = "", time.Time{}
	if t.Kind == apptbridge.TextLoginCode {
		// Twilio has it: the code need not be kept (only its hash is
		// checked), and nothing will reconcile this text again.
		t.Body = RedactedLoginCode
	}
	if err := w.Store.SaveText(ctx, w.Owner, t); err != nil {
		// Twilio has it; our record does not. The row stays
		// "attempting" and is reconciled (found, not resent) later.
		return err
	}
	w.Metrics.text(t.Kind, "sent")
	w.Logger.Info("text sent", zap.String("text_id", t.ID), zap.String("sid", t.SID),
		zap.String("appointment_id", t.AppointmentID), zap.String("kind", string(t.Kind)))
	return nil
}

// RedactedLoginCode replaces a sign-in code's body once Twilio has it.
const RedactedLoginCode = "(sign-in code, removed once sent)"

// reconcile looks for a text already created by an earlier attempt. done
// is true when it found one (and recorded it).
func (w *Worker) reconcile(ctx context.Context, t *store.Text) (bool, error) {
	if t.Body == "" {
		return false, nil // never rendered, so never sent
	}
	since := t.CreatedAt.Add(-time.Minute)
	msg, err := w.Sender.Find(ctx, t.Phone, t.Body, since)
	if err != nil {
		// Cannot tell: try later, never resend blind.
		t.NextAttemptAt = w.Now().Add(backoff(t.Attempts, time.Second, 5*time.Minute))
		t.LeaseOwner, t.LeaseUntil = "", time.Time{}
		w.Metrics.text(t.Kind, "reconcile-failed")
		if serr := w.Store.SaveText(ctx, w.Owner, t); serr != nil {
			return true, serr
		}
		return true, nil
	}
	if msg == nil {
		w.Metrics.reconciledResult("resend")
		return false, nil
	}
	w.Metrics.reconciledResult("found")
	return true, w.sent(ctx, t, msg, w.Now())
}

// backoff is the delay before attempt n+1: min doubling to max, ±20 %.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	j := time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return j
}

// limiter paces calls to rate per second (a token bucket of one).
type limiter struct {
	mu    sync.Mutex
	every time.Duration
	next  time.Time
}

func newLimiter(rate float64) *limiter {
	if rate <= 0 {
		return &limiter{}
	}
	return &limiter{every: time.Duration(float64(time.Second) / rate)}
}

func (l *limiter) wait(ctx context.Context) error {
	if l.every == 0 {
		return nil
	}
	l.mu.Lock()
	now := time.Now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(l.every)
	l.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
