package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// InboundSMS is a text from a patient, as Twilio's webhook (or the
// sandbox's phone simulator) delivers it.
type InboundSMS struct {
	SID        string // Twilio MessageSid: one effect per SID
	From       string // the patient's phone, E.164
	To         string // our number
	Body       string
	ReceivedAt time.Time
}

// ReplyResult is what a reply did.
type ReplyResult struct {
	Duplicate     bool   // the SID was seen before: nothing was done
	Intent        Intent // the keyword class
	AppointmentID string // the appointment it was matched to, "" for none
	Applied       bool   // the patient event changed the appointment
}

// Updater runs a write transaction (the store).
type Updater interface {
	Update(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error
}

// Replies handles patients' texts: keyword, correlation to an appointment,
// effect, answer, all committed in one transaction.
type Replies struct {
	Store   Updater
	Now     func() time.Time
	Logger  *zap.Logger
	Metrics *Metrics
	// OnCommit is called after a reply committed (to wake the outbox
	// and EHR workers). It must not block.
	OnCommit func(ReplyResult)
}

// errDuplicate rolls back a reply whose MessageSid is already stored.
var errDuplicate = errors.New("duplicate MessageSid")

// NotUnderstoodEvery is how often a phone is told "didn't understand" at
// most (a rolling window, so auto-responders cannot loop with us).
const NotUnderstoodEvery = 24 * time.Hour

// Handle applies one inbound text. It returns only after the effect is
// durable; an error means nothing was stored (the webhook answers 5xx and
// Twilio retries).
func (r *Replies) Handle(ctx context.Context, in InboundSMS) (ReplyResult, error) {
	if in.SID == "" || in.From == "" {
		return ReplyResult{}, &apptbridge.Error{Code: apptbridge.EINVALID, Message: "MessageSid and From required"}
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	if in.ReceivedAt.IsZero() {
		in.ReceivedAt = now
	}
	intent := Classify(in.Body)
	var res ReplyResult
	err := r.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		res = ReplyResult{Intent: intent}
		// A phone that texts us is reachable again.
		if err := tx.UnflagPhone(ctx, in.From); err != nil {
			return err
		}
		if err := r.apply(ctx, tx, in, intent, now, &res); err != nil {
			return err
		}
		// The inbound text, under the appointment it was matched to. Its
		// insert is the MessageSid check: a known SID rolls it all back.
		added, err := tx.AddText(ctx, &store.Text{
			ID:            apptbridge.NewEventID(),
			Direction:     store.DirIn,
			AppointmentID: res.AppointmentID,
			Kind:          apptbridge.TextReply,
			Phone:         in.From,
			Body:          in.Body,
			Status:        store.TextReceived,
			SID:           in.SID,
			SentAt:        in.ReceivedAt,
			CreatedAt:     in.ReceivedAt,
		})
		if err != nil {
			return err
		}
		if !added {
			return errDuplicate
		}
		return nil
	})
	if errors.Is(err, errDuplicate) {
		res, err = ReplyResult{Intent: intent, Duplicate: true}, nil
	}
	if err != nil {
		return ReplyResult{}, fmt.Errorf("reply %s: %w", in.SID, err)
	}
	if res.Duplicate {
		r.Metrics.reply("duplicate")
	} else {
		r.Metrics.reply(string(intent))
	}
	if r.Logger != nil {
		r.Logger.Info("reply", zap.String("sid", in.SID), zap.String("intent", string(intent)),
			zap.Bool("duplicate", res.Duplicate), zap.String("appointment_id", res.AppointmentID),
			zap.Bool("applied", res.Applied))
	}
	if r.OnCommit != nil && !res.Duplicate {
		r.OnCommit(res)
	}
	return res, nil
}

func (r *Replies) apply(ctx context.Context, tx store.Tx, in InboundSMS, intent Intent, now time.Time, res *ReplyResult) error {
	src := &apptbridge.Source{Channel: apptbridge.ChannelSMS, MessageControlID: in.SID, ReceivedAt: in.ReceivedAt}
	event := func(typ apptbridge.EventType, aid string) *apptbridge.Event {
		return &apptbridge.Event{EventID: apptbridge.NewEventID(), EventType: typ, EventDatetimeUTC: now,
			AppointmentID: aid, Source: src}
	}
	switch intent {
	case IntentConfirm, IntentCancel:
		aid, err := r.correlate(ctx, tx, in.From, now)
		if err != nil {
			return err
		}
		if aid == "" {
			// Nothing to confirm or cancel: say what we can (help has
			// the clinic's phone), at most once a day.
			return r.answerOncePerDay(ctx, tx, in.From, apptbridge.TextNotUnderstood, now)
		}
		typ := apptbridge.Confirm
		if intent == IntentCancel {
			typ = apptbridge.Cancel
		}
		ar, err := tx.Apply(ctx, event(typ, aid))
		if err != nil {
			return err
		}
		res.AppointmentID, res.Applied = aid, ar.Outcome.Applied
		return nil
	case IntentOptOut:
		return OptOutPhone(ctx, tx, in.From, now, src, res)
	case IntentOptIn:
		out, err := tx.OptedOut(ctx, in.From)
		if err != nil {
			return err
		}
		if !out {
			// YES/START from a phone that never opted out: most likely a
			// "yes" to a reminder. Tell them the words that work (once a
			// day) rather than "you have opted in".
			return r.answerOncePerDay(ctx, tx, in.From, apptbridge.TextNotUnderstood, now)
		}
		if err := tx.OptIn(ctx, in.From); err != nil {
			return err
		}
		appts, err := tx.ByPhone(ctx, in.From, true)
		if err != nil {
			return err
		}
		for i, a := range appts {
			ar, err := tx.Apply(ctx, event(apptbridge.OptedIn, a.AppointmentID))
			if err != nil {
				return err
			}
			res.Applied = res.Applied || ar.Outcome.Applied
			if i > 0 && ar.Text != nil {
				// One opted-in text per phone, not per appointment.
				if _, err := tx.CancelPendingTexts(ctx, a.AppointmentID,
					[]apptbridge.TextKind{apptbridge.TextOptedIn}, "one opted-in text per phone"); err != nil {
					return err
				}
			}
		}
		if len(appts) == 0 {
			return r.answer(ctx, tx, in.From, apptbridge.TextOptedIn, nil, now)
		}
		res.AppointmentID = appts[0].AppointmentID
		return nil
	case IntentHelp:
		appts, err := tx.ByPhone(ctx, in.From, false)
		if err != nil {
			return err
		}
		var about *apptbridge.Appointment
		if len(appts) > 0 {
			about = appts[0]
		}
		return r.answer(ctx, tx, in.From, apptbridge.TextHelp, about, now)
	default:
		return r.answerOncePerDay(ctx, tx, in.From, apptbridge.TextNotUnderstood, now)
	}
}

// correlate finds the appointment a CONFIRM/CANCEL reply is about: the one
// of the latest text that asked this phone for a reply and is still
// upcoming; failing that (its text failed, say), the phone's next upcoming
// active appointment.
func (r *Replies) correlate(ctx context.Context, tx store.Tx, phone string, now time.Time) (string, error) {
	aid, err := tx.LatestAsking(ctx, phone, now)
	if err != nil || aid != "" {
		return aid, err
	}
	appts, err := tx.ByPhone(ctx, phone, false)
	if err != nil {
		return "", err
	}
	for _, a := range appts {
		if a.AppointmentDatetimeUTC.After(now) {
			return a.AppointmentID, nil
		}
	}
	return "", nil
}

func (r *Replies) answerOncePerDay(ctx context.Context, tx store.Tx, phone string, kind apptbridge.TextKind, now time.Time) error {
	sent, err := tx.SentSince(ctx, phone, kind, now.Add(-NotUnderstoodEvery))
	if err != nil || sent {
		return err
	}
	appts, err := tx.ByPhone(ctx, phone, false)
	if err != nil {
		return err
	}
	var about *apptbridge.Appointment
	if len(appts) > 0 {
		about = appts[0]
	}
	return r.answer(ctx, tx, phone, kind, about, now)
}

// answer queues a text that answers the patient (sent at once).
func (r *Replies) answer(ctx context.Context, tx store.Tx, phone string, kind apptbridge.TextKind, about *apptbridge.Appointment, now time.Time) error {
	t := &store.Text{
		ID:            apptbridge.NewEventID(),
		Direction:     store.DirOut,
		Kind:          kind,
		Phone:         phone,
		Immediate:     true,
		Status:        store.TextPending,
		NextAttemptAt: now,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	if about != nil {
		snap, err := snapshot(about)
		if err != nil {
			return err
		}
		t.Snapshot, t.Language = snap, about.PatientLanguage
	}
	_, err := tx.AddText(ctx, t)
	return err
}

// OptOutPhone puts a phone on the opt-out list and every active
// appointment of it in OPTED-OUT (a STOP reply, or Twilio's 21610).
func OptOutPhone(ctx context.Context, tx store.Tx, phone string, now time.Time, src *apptbridge.Source, res *ReplyResult) error {
	if phone == "" {
		return errors.New("opt out: no phone")
	}
	if err := tx.OptOut(ctx, phone); err != nil {
		return err
	}
	appts, err := tx.ByPhone(ctx, phone, false)
	if err != nil {
		return err
	}
	for _, a := range appts {
		ar, err := tx.Apply(ctx, &apptbridge.Event{EventID: apptbridge.NewEventID(), EventType: apptbridge.OptedOut,
			EventDatetimeUTC: now, AppointmentID: a.AppointmentID, Source: src})
		if err != nil {
			return err
		}
		if res != nil {
			res.Applied = res.Applied || ar.Outcome.Applied
			if res.AppointmentID == "" {
				res.AppointmentID = a.AppointmentID
			}
		}
	}
	return nil
}

func snapshot(a *apptbridge.Appointment) ([]byte, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", a.AppointmentID, err)
	}
	return b, nil
}
