package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// The outbox half of the contract (store/outbox.go): the texts and EHR
// requests events write, Tx, claims with leases, status callbacks, queue
// stats and tokens. The store's clock is real time, so instants the store
// stamps are only checked against the real clock with a margin (clockSlack).

// clockSlack is how far the store's clock may be from the test's.
const clockSlack = 5 * time.Second

// phone2 and phone3 are phones other than newEvent's default one.
const (
	phone1 = "+15555550100" // newEvent's
	phone2 = "+15555550111"
	phone3 = "+15555550122"
)

// now returns the real time as a store keeps it.
func now() time.Time { return store.Instant(time.Now()) }

// update runs fn in s.Update and fails the test on error.
func update(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// listTexts returns the texts f selects (up to 1000), newest first.
func listTexts(t *testing.T, s store.Store, f store.TextFilter) []*store.Text {
	t.Helper()
	if f.Limit == 0 {
		f.Limit = 1000
	}
	l, err := s.Texts(t.Context(), f)
	if err != nil {
		t.Fatalf("Texts(%+v): %v", f, err)
	}
	return l
}

// textsOf returns an appointment's texts, oldest first.
func textsOf(t *testing.T, s store.Store, aid string) []*store.Text {
	t.Helper()
	l := listTexts(t, s, store.TextFilter{AppointmentID: aid})
	slices.Reverse(l)
	return l
}

// textByID returns the stored text with that id, failing when absent.
func textByID(t *testing.T, s store.Store, id string) *store.Text {
	t.Helper()
	for _, x := range listTexts(t, s, store.TextFilter{}) {
		if x.ID == id {
			return x
		}
	}
	t.Fatalf("text %s not found", id)
	return nil
}

// pendingOf returns the pending texts among l.
func pendingOf(l []*store.Text) []*store.Text {
	var out []*store.Text
	for _, x := range l {
		if x.Status == store.TextPending {
			out = append(out, x)
		}
	}
	return out
}

func listRequests(t *testing.T, s store.Store, f store.RequestFilter) []*store.Request {
	t.Helper()
	if f.Limit == 0 {
		f.Limit = 1000
	}
	l, err := s.Requests(t.Context(), f)
	if err != nil {
		t.Fatalf("Requests(%+v): %v", f, err)
	}
	return l
}

func requestIDs(l []*store.Request) []string {
	var ids []string
	for _, r := range l {
		ids = append(ids, r.ID)
	}
	return ids
}

// decodeSnapshot decodes a text's or request's appointment snapshot.
func decodeSnapshot(t *testing.T, what string, b []byte) *apptbridge.Appointment {
	t.Helper()
	var a apptbridge.Appointment
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%s: snapshot %q is not an appointment's JSON: %v", what, b, err)
	}
	return &a
}

// near fails unless tm is a stored instant within clockSlack of [from, to].
func near(t *testing.T, what string, tm, from, to time.Time) {
	t.Helper()
	checkInstant(t, what, tm)
	if tm.Before(from.Add(-clockSlack)) || tm.After(to.Add(clockSlack)) {
		t.Errorf("%s = %v, want between %v and %v (the store's clock)", what, tm, from, to)
	}
}

// book ingests a BOOKED of aid for phone starting at start, at event time at.
func book(t *testing.T, s store.Store, aid, phone string, start, at time.Time) *apptbridge.Event {
	t.Helper()
	ev := newEvent(aid, apptbridge.Booked, at)
	ev.PatientPhone = phone
	ev.SetAppointmentTime(start, time.UTC)
	ingestNew(t, s, newInbound(ev))
	return ev
}

// ehr ingests an EHR event of aid at event time at (mod may change it).
func ehr(t *testing.T, s store.Store, aid string, typ apptbridge.EventType, at time.Time, mod func(*apptbridge.Event)) (*apptbridge.Event, apptbridge.Outcome) {
	t.Helper()
	ev := newEvent(aid, typ, at)
	if mod != nil {
		mod(ev)
	}
	return ev, ingestNew(t, s, newInbound(ev))
}

// patient returns a patient event (CONFIRM, CANCEL…) for aid.
func patient(aid string, typ apptbridge.EventType) *apptbridge.Event {
	ev := newEvent(aid, typ, time.Now().UTC())
	ev.Source.Channel = apptbridge.ChannelSMS
	return ev
}

// applyTx applies ev in its own Update and returns the result.
func applyTx(t *testing.T, s store.Store, ev *apptbridge.Event) store.ApplyResult {
	t.Helper()
	var res store.ApplyResult
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		res, err = tx.Apply(ctx, ev)
		return err
	})
	return res
}

// claim claims up to limit texts and fails on error.
func claim(t *testing.T, s store.Store, owner string, at time.Time, lease time.Duration, limit int) []*store.Text {
	t.Helper()
	l, err := s.ClaimTexts(t.Context(), owner, at, lease, limit)
	if err != nil {
		t.Fatalf("ClaimTexts(%s): %v", owner, err)
	}
	if len(l) > limit {
		t.Fatalf("ClaimTexts(%s, limit %d) = %d texts", owner, limit, len(l))
	}
	for _, x := range l {
		if x.LeaseOwner != owner {
			t.Errorf("claimed text %s has lease owner %q, want %q", x.ID, x.LeaseOwner, owner)
		}
	}
	return l
}

// claimClock makes every claimText claim an hour after the previous one,
// so the short leases of earlier claims have all ended.
var claimClock atomic.Int64

// claimText claims the text with that id, due now, for owner. Every due
// text is claimed with it (for a minute, a claim time far ahead of the
// real clock: the next claimText claims an hour later).
func claimText(t *testing.T, s store.Store, owner, id string) *store.Text {
	t.Helper()
	at := time.Now().Add(time.Duration(claimClock.Add(1)) * time.Hour)
	for _, x := range claim(t, s, owner, at, time.Minute, 1000) {
		if x.ID == id {
			return x
		}
	}
	t.Fatalf("text %s not claimable", id)
	return nil
}

// markSent claims text id and saves it as sent at sentAt (a worker whose
// create call Twilio accepted).
func markSent(t *testing.T, s store.Store, id string, sentAt time.Time, sid string) {
	t.Helper()
	x := claimText(t, s, "sender", id)
	x.Status, x.SID, x.SentAt, x.Attempts, x.Body = store.TwilioSent, sid, sentAt, x.Attempts+1, "body"
	if err := s.SaveText(t.Context(), "sender", x); err != nil {
		t.Fatalf("SaveText(%s): %v", id, err)
	}
}

func ids(l []*store.Text) []string {
	var out []string
	for _, x := range l {
		out = append(out, x.ID)
	}
	return out
}

func kinds(l []*store.Text) []apptbridge.TextKind {
	var out []apptbridge.TextKind
	for _, x := range l {
		out = append(out, x.Kind)
	}
	return out
}

// outText returns an outbound text not caused by an event, due at due.
func outText(phone string, kind apptbridge.TextKind, due time.Time) *store.Text {
	return &store.Text{
		ID:            apptbridge.NewEventID(),
		Direction:     store.DirOut,
		Kind:          kind,
		Phone:         phone,
		Status:        store.TextPending,
		Immediate:     kind.Immediate(),
		NextAttemptAt: due,
		CreatedAt:     due,
		UpdatedAt:     due,
	}
}

// addTexts adds texts in one Update.
func addTexts(t *testing.T, s store.Store, l ...*store.Text) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, x := range l {
			ok, err := tx.AddText(ctx, x)
			if err != nil {
				return err
			}
			if !ok {
				return errors.New("AddText wrote nothing")
			}
		}
		return nil
	})
}

// testOutboxIngestText: a BOOKED with a phone writes one pending text.
func testOutboxIngestText(t *testing.T, s store.Store) {
	before := time.Now()
	ev := newEvent("A-1", apptbridge.Booked, base)
	in := newInbound(ev)
	ingestNew(t, s, in)
	after := time.Now()

	l := textsOf(t, s, "A-1")
	if len(l) != 1 {
		t.Fatalf("A-1 has %d texts, want 1", len(l))
	}
	x := l[0]
	if x.ID == "" || x.Direction != store.DirOut || x.AppointmentID != "A-1" || x.EventID != ev.EventID ||
		x.Kind != apptbridge.TextBooked || !x.AsksReply || x.Immediate || x.Phone != ev.PatientPhone ||
		x.Language != ev.PatientLanguage || x.Status != store.TextPending || x.Attempts != 0 ||
		x.SID != "" || x.ErrorCode != 0 || x.Reason != "" || !x.SentAt.IsZero() {
		t.Errorf("booked text = %+v", x)
	}
	near(t, "NextAttemptAt", x.NextAttemptAt, before, after)
	near(t, "CreatedAt", x.CreatedAt, before, after)
	snap := decodeSnapshot(t, "booked text", x.Snapshot)
	sameJSON(t, "booked text snapshot", snap, appointment(t, s, "A-1"))
	if snap.EventID != ev.EventID || snap.PatientPhone != ev.PatientPhone ||
		!snap.AppointmentDatetimeUTC.Equal(apptStart) || snap.AppointmentLocation != ev.AppointmentLocation {
		t.Errorf("snapshot does not hold the event's fields: %+v", snap)
	}
	if got := listTexts(t, s, store.TextFilter{Phone: ev.PatientPhone}); len(got) != 1 || got[0].ID != x.ID {
		t.Errorf("Texts(phone) = %v, want [%s]", ids(got), x.ID)
	}
	if got := listTexts(t, s, store.TextFilter{Direction: store.DirIn}); len(got) != 0 {
		t.Errorf("Texts(in) = %v, want none", ids(got))
	}

	// A duplicate message writes nothing.
	if res := ingest(t, s, in); !res.Duplicate {
		t.Fatalf("resend: %+v, want duplicate", res)
	}
	if l := textsOf(t, s, "A-1"); len(l) != 1 {
		t.Errorf("after a duplicate A-1 has %d texts, want 1", len(l))
	}

	// No phone, an opted-out phone, a past appointment: no text.
	if _, o := ehr(t, s, "A-2", apptbridge.Booked, base, func(e *apptbridge.Event) { e.PatientPhone = "" }); o.Suppressed != apptbridge.SuppressNoPhone {
		t.Errorf("booking without a phone: %+v, want suppressed (no phone)", o)
	}
	if err := s.OptOut(t.Context(), phone2); err != nil {
		t.Fatalf("OptOut: %v", err)
	}
	if _, o := ehr(t, s, "A-3", apptbridge.Booked, base, func(e *apptbridge.Event) { e.PatientPhone = phone2 }); o.Suppressed != apptbridge.SuppressPhoneOptedOut {
		t.Errorf("booking for an opted-out phone: %+v, want suppressed", o)
	}
	past := func(e *apptbridge.Event) {
		e.PatientPhone = phone3
		e.SetAppointmentTime(time.Now().Add(-time.Hour), time.UTC)
	}
	if _, o := ehr(t, s, "A-4", apptbridge.Booked, base, past); o.Suppressed != apptbridge.SuppressPast {
		t.Errorf("booking in the past: %+v, want suppressed", o)
	}
	for _, aid := range []string{"A-2", "A-3", "A-4"} {
		if l := textsOf(t, s, aid); len(l) != 0 {
			t.Errorf("%s has texts %v, want none", aid, kinds(l))
		}
	}
	if l := listTexts(t, s, store.TextFilter{}); len(l) != 1 {
		t.Errorf("store has %d texts, want 1", len(l))
	}
	if l := listRequests(t, s, store.RequestFilter{}); len(l) != 0 {
		t.Errorf("EHR events wrote %d requests, want none", len(l))
	}
}

// testOutboxPatientRequests: CONFIRM and CANCEL through Tx.Apply write a
// receipt and an EHR request.
func testOutboxPatientRequests(t *testing.T, s store.Store) {
	book(t, s, "A-1", phone1, apptStart, base)
	var controls []string
	var prevSeq int64
	for i, c := range []struct {
		typ     apptbridge.EventType
		receipt apptbridge.TextKind
	}{
		{apptbridge.Confirm, apptbridge.TextConfirmReceipt},
		{apptbridge.Cancel, apptbridge.TextCancelReceipt},
	} {
		ev := patient("A-1", c.typ)
		before := time.Now()
		res := applyTx(t, s, ev)
		after := time.Now()
		o := res.Outcome
		if !o.Applied || o.Text != c.receipt || o.Request != c.typ || o.To != apptbridge.DispQueued {
			t.Fatalf("%s: outcome %+v, want applied with %s and a %s request", c.typ, o, c.receipt, c.typ)
		}
		stored := appointment(t, s, "A-1")
		if stored.Version != int64(i+2) || stored.EventID != ev.EventID {
			t.Errorf("%s: stored version %d event %s, want %d %s", c.typ, stored.Version, stored.EventID, i+2, ev.EventID)
		}

		x := res.Text
		if x == nil {
			t.Fatalf("%s: ApplyResult.Text is nil", c.typ)
		}
		if x.Kind != c.receipt || !x.Immediate || x.AsksReply || x.Phone != phone1 || x.Direction != store.DirOut ||
			x.Status != store.TextPending || x.AppointmentID != "A-1" || x.EventID != ev.EventID || x.ID == "" {
			t.Errorf("%s: receipt text = %+v", c.typ, x)
		}
		got := textByID(t, s, x.ID)
		if got.Kind != c.receipt || !got.Immediate || got.AsksReply || got.Status != store.TextPending || got.EventID != ev.EventID {
			t.Errorf("%s: stored receipt = %+v", c.typ, got)
		}
		near(t, string(c.receipt)+" NextAttemptAt", got.NextAttemptAt, before, after)
		sameJSON(t, string(c.receipt)+" snapshot", decodeSnapshot(t, "receipt", got.Snapshot), stored)

		r := res.Request
		if r == nil {
			t.Fatalf("%s: ApplyResult.Request is nil", c.typ)
		}
		if r.Type != c.typ || r.AppointmentID != "A-1" || r.EventID != ev.EventID || r.Status != store.RequestPending ||
			r.ControlID == "" || len(r.ControlID) > 20 || r.ID == "" || r.Attempts != 0 {
			t.Errorf("%s: request = %+v", c.typ, r)
		}
		if slices.Contains(controls, r.ControlID) {
			t.Errorf("%s: control id %s reused", c.typ, r.ControlID)
		}
		controls = append(controls, r.ControlID)
		l := listRequests(t, s, store.RequestFilter{AppointmentID: "A-1"})
		if len(l) != i+1 {
			t.Fatalf("%s: A-1 has %d requests, want %d", c.typ, len(l), i+1)
		}
		sr := l[i]
		if sr.ID != r.ID || sr.Seq != r.Seq || sr.Type != c.typ || sr.ControlID != r.ControlID ||
			sr.Status != store.RequestPending || sr.EventID != ev.EventID {
			t.Errorf("%s: stored request = %+v, want %+v", c.typ, sr, r)
		}
		if sr.Seq <= prevSeq {
			t.Errorf("%s: Seq %d not after %d", c.typ, sr.Seq, prevSeq)
		}
		prevSeq = sr.Seq
		near(t, string(c.typ)+" request NextAttemptAt", sr.NextAttemptAt, before, after)
		sameJSON(t, string(c.typ)+" request snapshot", decodeSnapshot(t, "request", sr.Snapshot), stored)
	}
	// The booked text is still there, not superseded by receipts.
	if k := kinds(textsOf(t, s, "A-1")); !slices.Equal(k, []apptbridge.TextKind{
		apptbridge.TextBooked, apptbridge.TextConfirmReceipt, apptbridge.TextCancelReceipt}) {
		t.Errorf("A-1 texts = %v", k)
	}
	if p := pendingOf(textsOf(t, s, "A-1")); len(p) != 3 {
		t.Errorf("A-1 has %d pending texts, want 3", len(p))
	}

	// Not active: nothing written.
	cev, _ := ehr(t, s, "A-1", apptbridge.Canceled, base.Add(time.Minute), nil)
	nt, nr := len(textsOf(t, s, "A-1")), len(listRequests(t, s, store.RequestFilter{}))
	res := applyTx(t, s, patient("A-1", apptbridge.Confirm))
	if res.Outcome.Applied || res.Text != nil || res.Request != nil {
		t.Errorf("CONFIRM of a canceled appointment: %+v", res)
	}
	if n := len(textsOf(t, s, "A-1")); n != nt {
		t.Errorf("CONFIRM of a canceled appointment wrote %d texts", n-nt)
	}
	if n := len(listRequests(t, s, store.RequestFilter{})); n != nr {
		t.Errorf("CONFIRM of a canceled appointment wrote %d requests", n-nr)
	}

	// A known event id: ECONFLICT, nothing written.
	ev := newEvent("A-9", apptbridge.Booked, base)
	ev.EventID = cev.EventID
	err := s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Apply(ctx, ev)
		return err
	})
	wantCode(t, "Tx.Apply with a known event id", err, apptbridge.ECONFLICT)
	if _, err := s.Appointment(t.Context(), "A-9"); apptbridge.ErrorCode(err) != apptbridge.ENOTFOUND {
		t.Errorf("appointment of a conflicting event: %v, want ENOTFOUND", err)
	}
}

// testOutboxSupersede: a waiting text is replaced by a newer one.
func testOutboxSupersede(t *testing.T, s store.Store) {
	book(t, s, "A-1", phone1, apptStart, base)
	booked := textsOf(t, s, "A-1")[0]

	later := apptStart.Add(48 * time.Hour)
	rev, o := ehr(t, s, "A-1", apptbridge.Rescheduled, base.Add(time.Minute), func(e *apptbridge.Event) {
		e.SetAppointmentTime(later, time.UTC)
	})
	if o.Text != apptbridge.TextRescheduled {
		t.Fatalf("reschedule outcome %+v, want text rescheduled", o)
	}
	l := textsOf(t, s, "A-1")
	if len(l) != 2 {
		t.Fatalf("after RESCHEDULED A-1 has %d texts, want 2", len(l))
	}
	if l[0].ID != booked.ID || l[0].Status != store.TextCanceled || l[0].Reason == "" {
		t.Errorf("waiting booked text after RESCHEDULED: status %s reason %q, want canceled with a reason", l[0].Status, l[0].Reason)
	}
	x := l[1]
	if x.Status != store.TextPending || x.Kind != apptbridge.TextBooked || !x.AsksReply || x.EventID != rev.EventID {
		t.Errorf("new text = kind %s status %s asks %v event %s, want a pending booked text of %s",
			x.Kind, x.Status, x.AsksReply, x.EventID, rev.EventID)
	}
	if snap := decodeSnapshot(t, "rescheduled", x.Snapshot); !snap.AppointmentDatetimeUTC.Equal(later) {
		t.Errorf("new text's snapshot time %v, want %v", snap.AppointmentDatetimeUTC, later)
	}

	cev, _ := ehr(t, s, "A-1", apptbridge.Canceled, base.Add(2*time.Minute), nil)
	l = textsOf(t, s, "A-1")
	if len(l) != 3 {
		t.Fatalf("after CANCELED A-1 has %d texts, want 3", len(l))
	}
	if l[1].Status != store.TextCanceled || l[1].Reason == "" {
		t.Errorf("waiting detail text after CANCELED: status %s reason %q, want canceled", l[1].Status, l[1].Reason)
	}
	if p := pendingOf(l); len(p) != 1 || p[0].Kind != apptbridge.TextCanceled || p[0].AsksReply || p[0].EventID != cev.EventID {
		t.Errorf("pending texts after CANCELED = %v, want one canceled text", kinds(p))
	}

	// Texts already attempted (sent, attempting, or back to pending for a
	// retry) are never canceled.
	for _, c := range []struct {
		aid    string
		status string
	}{{"A-2", store.TwilioSent}, {"A-3", store.TextAttempting}, {"A-5", store.TextPending}} {
		book(t, s, c.aid, phone2, apptStart, base)
		b := textsOf(t, s, c.aid)[0]
		x := claimText(t, s, "w", b.ID)
		x.Status, x.Attempts = c.status, 1
		switch c.status {
		case store.TwilioSent:
			x.SID, x.SentAt = "SM-"+c.aid, now()
		case store.TextPending: // Twilio said 503: retry in a while
			x.ErrorCode, x.NextAttemptAt, x.LeaseOwner, x.LeaseUntil = 20503, now().Add(time.Hour), "", time.Time{}
		}
		if err := s.SaveText(t.Context(), "w", x); err != nil {
			t.Fatalf("SaveText: %v", err)
		}
		_, o := ehr(t, s, c.aid, apptbridge.Rescheduled, base.Add(time.Minute), func(e *apptbridge.Event) {
			e.SetAppointmentTime(later, time.UTC)
		})
		l := textsOf(t, s, c.aid)
		if len(l) != 2 || l[0].Status != c.status || l[1].Kind != o.Text || l[1].Status != store.TextPending {
			t.Errorf("%s: texts after RESCHEDULED of a %s booking: %v %+v", c.aid, c.status, kinds(l), l[0])
		}
		ehr(t, s, c.aid, apptbridge.Canceled, base.Add(2*time.Minute), nil)
		l = textsOf(t, s, c.aid)
		if len(l) != 3 || l[0].Status != c.status || l[1].Status != store.TextCanceled ||
			l[2].Kind != apptbridge.TextCanceled || l[2].Status != store.TextPending {
			t.Errorf("%s: texts after CANCELED: %v, first %s", c.aid, kinds(l), l[0].Status)
		}
	}

	// A text claimed but not yet attempted may be superseded; if it is,
	// its worker must not be able to resurrect it.
	book(t, s, "A-4", phone3, apptStart, base)
	b := claimText(t, s, "w4", textsOf(t, s, "A-4")[0].ID)
	ehr(t, s, "A-4", apptbridge.Modified, base.Add(time.Minute), func(e *apptbridge.Event) { e.AppointmentLocation = "Clinic B" })
	was := textByID(t, s, b.ID).Status
	b.Status, b.Attempts = store.TextAttempting, 1
	err := s.SaveText(t.Context(), "w4", b)
	switch was {
	case store.TextCanceled:
		if !errors.Is(err, store.ErrLeaseLost) {
			t.Errorf("SaveText of a superseded text: %v, want ErrLeaseLost", err)
		}
		if st := textByID(t, s, b.ID).Status; st != store.TextCanceled {
			t.Errorf("superseded text saved back to %s", st)
		}
	case store.TextPending:
		if err != nil {
			t.Errorf("SaveText of a claimed text: %v", err)
		}
	default:
		t.Errorf("claimed text has status %s after MODIFIED", was)
	}
	if p := pendingOf(textsOf(t, s, "A-4")); len(p) != 1 || p[0].Kind == apptbridge.TextNone {
		t.Errorf("A-4 pending texts = %v, want one", kinds(p))
	}
}
