package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

func testIngestNew(t *testing.T, s store.Store) {
	ev := newEvent("A-1", apptbridge.Booked, base)
	in := newInbound(ev)
	o := ingestNew(t, s, in)
	if !o.Applied || o.From != apptbridge.DispNone || o.To != apptbridge.DispQueued ||
		o.Text != apptbridge.TextBooked || o.Suppressed != "" || o.Appointment == nil {
		t.Fatalf("outcome = %+v, want applied none→QUEUED with text booked", o)
	}
	if o.Appointment.Version != 1 || o.Appointment.EventID != ev.EventID {
		t.Errorf("outcome appointment version %d event %s, want 1 %s", o.Appointment.Version, o.Appointment.EventID, ev.EventID)
	}

	a := appointment(t, s, "A-1")
	sameJSON(t, "stored appointment", a, o.Appointment)
	checkInstant(t, "CreatedAt", a.CreatedAt)
	checkInstant(t, "UpdatedAt", a.UpdatedAt)

	h := history(t, s, "A-1")
	if len(h) != 1 {
		t.Fatalf("history has %d entries, want 1", len(h))
	}
	sameJSON(t, "history event", h[0].Event, store.NormalizeEvent(ev))
	if !h[0].Applied || h[0].Reason != "" || h[0].From != apptbridge.DispNone || h[0].To != apptbridge.DispQueued ||
		h[0].Text != apptbridge.TextBooked || h[0].Suppressed != "" {
		t.Errorf("history entry = %+v", h[0])
	}
	checkInstant(t, "RecordedAt", h[0].RecordedAt)

	r, err := s.Inbound(t.Context(), in.Key)
	if err != nil {
		t.Fatalf("Inbound: %v", err)
	}
	if r.Key != in.Key || r.Hash != in.Hash || r.MessageType != in.MessageType || r.AckCode != "AA" ||
		!bytes.Equal(r.Ack, in.Ack) || !bytes.Equal(r.Raw, in.Raw) || r.EventID != ev.EventID ||
		!r.ReceivedAt.Equal(in.ReceivedAt) {
		t.Errorf("inbound record = %+v, want the ingested message", r)
	}
	if n := countInbound(t, s); n != 1 {
		t.Errorf("CountInbound = %d, want 1", n)
	}
}

func testDuplicate(t *testing.T, s store.Store) {
	in := newInbound(newEvent("A-1", apptbridge.Booked, base))
	ingestNew(t, s, in)
	before := appointment(t, s, "A-1")

	// A resend is parsed again: new event id, and the ACK the pipeline
	// would build now may differ; the stored one must come back.
	again := *in
	ev := *in.Event
	ev.EventID = apptbridge.NewEventID()
	again.Event = &ev
	again.Ack = []byte("MSH|^~\\&|DIFFERENT ACK\r")
	for range 2 {
		res := ingest(t, s, &again)
		if !res.Duplicate || res.Conflict {
			t.Fatalf("resend: duplicate %v conflict %v, want duplicate", res.Duplicate, res.Conflict)
		}
		if !bytes.Equal(res.Ack, in.Ack) {
			t.Errorf("resend ack = %q, want the stored %q", res.Ack, in.Ack)
		}
		if res.Outcome.Appointment != nil || res.Outcome.Applied {
			t.Errorf("resend outcome = %+v, want zero", res.Outcome)
		}
	}
	if h := history(t, s, "A-1"); len(h) != 1 {
		t.Errorf("history has %d entries, want 1", len(h))
	}
	sameJSON(t, "appointment after resend", appointment(t, s, "A-1"), before)
	if n := countInbound(t, s); n != 1 {
		t.Errorf("CountInbound = %d, want 1", n)
	}
}

func testConflict(t *testing.T, s store.Store) {
	in := newInbound(newEvent("A-1", apptbridge.Booked, base))
	ingestNew(t, s, in)
	before := appointment(t, s, "A-1")

	other := newInbound(newEvent("A-1", apptbridge.Canceled, base.Add(time.Minute)))
	other.Key = in.Key
	res := ingest(t, s, other)
	if !res.Conflict || res.Duplicate {
		t.Fatalf("same key, other content: duplicate %v conflict %v, want conflict", res.Duplicate, res.Conflict)
	}
	if res.Outcome.Appointment != nil || res.Outcome.Applied {
		t.Errorf("conflict outcome = %+v, want zero", res.Outcome)
	}
	sameJSON(t, "appointment after conflict", appointment(t, s, "A-1"), before)
	if h := history(t, s, "A-1"); len(h) != 1 {
		t.Errorf("history has %d entries, want 1", len(h))
	}
	r, err := s.Inbound(t.Context(), in.Key)
	if err != nil {
		t.Fatalf("Inbound: %v", err)
	}
	if r.Hash != in.Hash || !bytes.Equal(r.Raw, in.Raw) {
		t.Error("stored message changed by a conflicting one")
	}
}

func testKeyIncludesSender(t *testing.T, s store.Store) {
	in := newInbound(newEvent("A-1", apptbridge.Booked, base))
	ingestNew(t, s, in)

	otherApp := newInbound(newEvent("A-2", apptbridge.Booked, base))
	otherApp.Key = in.Key
	otherApp.Key.SendingApplication = "EHR2"
	ingestNew(t, s, otherApp)

	otherFacility := newInbound(newEvent("A-3", apptbridge.Booked, base))
	otherFacility.Key = in.Key
	otherFacility.Key.SendingFacility = "CLINIC2"
	ingestNew(t, s, otherFacility)

	if n := countInbound(t, s); n != 3 {
		t.Errorf("CountInbound = %d, want 3", n)
	}
	for _, id := range []string{"A-1", "A-2", "A-3"} {
		appointment(t, s, id)
	}
	// Each key is a duplicate of itself only.
	for _, m := range []*store.Inbound{in, otherApp, otherFacility} {
		if res := ingest(t, s, m); !res.Duplicate || !bytes.Equal(res.Ack, m.Ack) {
			t.Errorf("resend of %+v: duplicate %v", m.Key, res.Duplicate)
		}
	}
}

func testNoEvent(t *testing.T, s store.Store) {
	in := newInbound(nil)
	res := ingest(t, s, in)
	if res.Duplicate || res.Conflict || res.Outcome.Appointment != nil || res.Outcome.Applied {
		t.Fatalf("S23 result = %+v, want new without outcome", res)
	}
	r, err := s.Inbound(t.Context(), in.Key)
	if err != nil {
		t.Fatalf("Inbound: %v", err)
	}
	if r.EventID != "" || r.MessageType != "SIU^S23" || !bytes.Equal(r.Ack, in.Ack) {
		t.Errorf("inbound record = %+v", r)
	}
	all, err := s.Appointments(t.Context(), store.Filter{})
	if err != nil {
		t.Fatalf("Appointments: %v", err)
	}
	if len(all) != 0 {
		t.Errorf("Appointments = %d, want none", len(all))
	}
	if res := ingest(t, s, in); !res.Duplicate {
		t.Error("resent S23 is not a duplicate")
	}
}

func testStale(t *testing.T, s store.Store) {
	ingestNew(t, s, newInbound(newEvent("A-1", apptbridge.Booked, base.Add(time.Hour))))
	before := appointment(t, s, "A-1")

	stale := newEvent("A-1", apptbridge.Modified, base)
	stale.AppointmentLocation = "Somewhere else"
	o := ingestNew(t, s, newInbound(stale))
	if o.Applied || o.Reason != apptbridge.ReasonStale || o.Text != apptbridge.TextNone {
		t.Fatalf("stale outcome = %+v, want not applied (stale)", o)
	}
	sameJSON(t, "appointment after stale event", appointment(t, s, "A-1"), before)
	h := history(t, s, "A-1")
	if len(h) != 2 {
		t.Fatalf("history has %d entries, want 2", len(h))
	}
	if h[1].Applied || h[1].Reason != apptbridge.ReasonStale || h[1].Event.EventID != stale.EventID ||
		h[1].From != apptbridge.DispQueued || h[1].To != apptbridge.DispQueued {
		t.Errorf("stale history entry = %+v", h[1])
	}
}

func testLifecycle(t *testing.T, s store.Store) {
	steps := []struct {
		typ  apptbridge.EventType
		to   apptbridge.Disposition
		text apptbridge.TextKind
	}{
		{apptbridge.Booked, apptbridge.DispQueued, apptbridge.TextBooked},
		{apptbridge.Modified, apptbridge.DispQueued, apptbridge.TextModified},
		{apptbridge.Confirmed, apptbridge.DispQueued, apptbridge.TextConfirmed},
		{apptbridge.Canceled, apptbridge.DispCanceled, apptbridge.TextCanceled},
	}
	var ids []string
	from := apptbridge.DispNone
	for i, st := range steps {
		ev := newEvent("A-1", st.typ, base.Add(time.Duration(i)*time.Minute))
		ids = append(ids, ev.EventID)
		o := ingestNew(t, s, newInbound(ev))
		if !o.Applied || o.From != from || o.To != st.to || o.Text != st.text {
			t.Fatalf("%s: outcome %+v, want %s→%s text %s", st.typ, o, from, st.to, st.text)
		}
		from = st.to
	}
	a := appointment(t, s, "A-1")
	if a.Disposition != apptbridge.DispCanceled || !a.Confirmed || a.Version != 4 || a.EventID != ids[3] {
		t.Errorf("final state: disposition %s confirmed %v version %d event %s", a.Disposition, a.Confirmed, a.Version, a.EventID)
	}
	h := history(t, s, "A-1")
	if len(h) != len(steps) {
		t.Fatalf("history has %d entries, want %d", len(h), len(steps))
	}
	from = apptbridge.DispNone
	for i, e := range h {
		if e.Event.EventID != ids[i] || e.Event.EventType != steps[i].typ || e.From != from || e.To != steps[i].to || !e.Applied {
			t.Errorf("history[%d] = %s %s %s→%s applied %v", i, e.Event.EventID, e.Event.EventType, e.From, e.To, e.Applied)
		}
		if i > 0 && e.Seq <= h[i-1].Seq {
			t.Errorf("history[%d].Seq = %d not after %d", i, e.Seq, h[i-1].Seq)
		}
		from = steps[i].to
	}
}

func testEveryEventKept(t *testing.T, s store.Store) {
	var (
		events   []*apptbridge.Event
		outcomes []apptbridge.Outcome
	)
	send := func(typ apptbridge.EventType, minute int) apptbridge.Outcome {
		ev := newEvent("A-1", typ, base.Add(time.Duration(minute)*time.Minute))
		o := ingestNew(t, s, newInbound(ev))
		events = append(events, ev)
		outcomes = append(outcomes, o)
		return o
	}
	// A reminder for an appointment never seen: recorded, nothing created.
	if o := send(apptbridge.Remind, 0); o.Applied || o.Appointment != nil {
		t.Errorf("remind before booking: %+v, want not applied, no appointment", o)
	}
	if _, err := s.Appointment(t.Context(), "A-1"); apptbridge.ErrorCode(err) != apptbridge.ENOTFOUND {
		t.Errorf("Appointment after an unapplied first event: %v, want ENOTFOUND", err)
	}
	send(apptbridge.Booked, 1)
	if o := send(apptbridge.Booked, 2); o.To != apptbridge.DispQueued || o.Text != apptbridge.TextNone {
		t.Errorf("repeat booking: %+v, want QUEUED without text", o)
	}
	send(apptbridge.Canceled, 3)
	if o := send(apptbridge.Modified, 4); o.To != apptbridge.DispCanceled || o.Text != apptbridge.TextNone {
		t.Errorf("modify after cancel: %+v, want CANCELED without text", o)
	}
	if o := send(apptbridge.Remind, 5); o.Applied {
		t.Errorf("remind after cancel: %+v, want not applied", o)
	}

	h := history(t, s, "A-1")
	if len(h) != len(events) {
		t.Fatalf("history has %d entries, want %d", len(h), len(events))
	}
	applied := 0
	for i, e := range h {
		o := outcomes[i]
		if e.Event.EventID != events[i].EventID || e.Applied != o.Applied || e.Reason != o.Reason ||
			e.From != o.From || e.To != o.To || e.Text != o.Text || e.Suppressed != o.Suppressed {
			t.Errorf("history[%d] = %+v, want event %s with outcome %+v", i, e, events[i].EventID, o)
		}
		if o.Applied {
			applied++
		}
	}
	a := appointment(t, s, "A-1")
	if a.Version != int64(applied) || a.Disposition != apptbridge.DispCanceled {
		t.Errorf("final version %d disposition %s, want %d CANCELED", a.Version, a.Disposition, applied)
	}
	sameJSON(t, "final state", a, outcomes[len(outcomes)-1].Appointment)
}

func testEventIDConflict(t *testing.T, s store.Store) {
	first := newEvent("A-1", apptbridge.Booked, base)
	ingestNew(t, s, newInbound(first))

	reused := newEvent("A-1", apptbridge.Canceled, base.Add(time.Minute))
	reused.EventID = first.EventID
	in := newInbound(reused)
	_, err := s.Ingest(t.Context(), in)
	wantCode(t, "reused event id", err, apptbridge.ECONFLICT)
	if n := countInbound(t, s); n != 1 {
		t.Errorf("CountInbound = %d, want 1 (nothing of the failed message stored)", n)
	}
	if h := history(t, s, "A-1"); len(h) != 1 {
		t.Errorf("history has %d entries, want 1", len(h))
	}
	if a := appointment(t, s, "A-1"); a.Disposition != apptbridge.DispQueued {
		t.Errorf("disposition = %s, want QUEUED", a.Disposition)
	}
	// The key was not stored: after fixing the event the message goes in.
	reused.EventID = apptbridge.NewEventID()
	ingestNew(t, s, in)
}

func testInvalid(t *testing.T, s store.Store) {
	_, err := s.Ingest(t.Context(), nil)
	wantCode(t, "nil inbound", err, apptbridge.EINVALID)

	in := newInbound(nil)
	in.Key.ControlID = ""
	_, err = s.Ingest(t.Context(), in)
	wantCode(t, "empty control id", err, apptbridge.EINVALID)

	ev := newEvent("A-1", apptbridge.Booked, base)
	ev.EventID = ""
	_, err = s.Ingest(t.Context(), newInbound(ev))
	wantCode(t, "empty event id", err, apptbridge.EINVALID)

	ev = newEvent("", apptbridge.Booked, base)
	_, err = s.Ingest(t.Context(), newInbound(ev))
	wantCode(t, "empty appointment id", err, apptbridge.EINVALID)

	wantCode(t, "OptOut empty phone", s.OptOut(t.Context(), ""), apptbridge.EINVALID)
	if n := countInbound(t, s); n != 0 {
		t.Errorf("CountInbound = %d, want 0", n)
	}
}

func testOptOut(t *testing.T, s store.Store) {
	const phone = "+15555550123"
	for range 2 { // idempotent
		if err := s.OptOut(t.Context(), phone); err != nil {
			t.Fatalf("OptOut: %v", err)
		}
	}
	ev := newEvent("A-1", apptbridge.Booked, base)
	ev.PatientPhone = phone
	o := ingestNew(t, s, newInbound(ev))
	if !o.Applied || o.Text != apptbridge.TextNone || o.Suppressed != apptbridge.SuppressPhoneOptedOut {
		t.Errorf("booking for an opted-out phone: %+v, want applied, text suppressed", o)
	}
	if h := history(t, s, "A-1"); len(h) != 1 || h[0].Suppressed != apptbridge.SuppressPhoneOptedOut {
		t.Errorf("history = %+v, want the suppression recorded", h)
	}

	// No phone in the event: the appointment's stored phone counts.
	ev = newEvent("A-1", apptbridge.Modified, base.Add(time.Minute))
	ev.PatientPhone = ""
	if o := ingestNew(t, s, newInbound(ev)); o.Suppressed != apptbridge.SuppressPhoneOptedOut {
		t.Errorf("event without phone for an opted-out appointment phone: %+v", o)
	}

	for range 2 {
		if err := s.OptIn(t.Context(), phone); err != nil {
			t.Fatalf("OptIn: %v", err)
		}
	}
	ev = newEvent("A-1", apptbridge.Modified, base.Add(2*time.Minute))
	ev.PatientPhone = phone
	if o := ingestNew(t, s, newInbound(ev)); o.Text != apptbridge.TextModified || o.Suppressed != "" {
		t.Errorf("after OptIn: %+v, want text modified", o)
	}

	// Another phone is unaffected by the list.
	if err := s.OptOut(t.Context(), phone); err != nil {
		t.Fatalf("OptOut: %v", err)
	}
	ev = newEvent("A-2", apptbridge.Booked, base)
	ev.PatientPhone = "+15555550124"
	if o := ingestNew(t, s, newInbound(ev)); o.Text != apptbridge.TextBooked {
		t.Errorf("other phone: %+v, want text booked", o)
	}
}

func testHistoryUnknown(t *testing.T, s store.Store) {
	h, err := s.History(t.Context(), "NO-SUCH")
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	if len(h) != 0 {
		t.Errorf("History = %d entries, want none", len(h))
	}
}

func testNotFound(t *testing.T, s store.Store) {
	_, err := s.Appointment(t.Context(), "NO-SUCH")
	wantCode(t, "Appointment", err, apptbridge.ENOTFOUND)
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Appointment error %v does not wrap store.ErrNotFound", err)
	}
	_, err = s.Inbound(t.Context(), store.DedupKey{SendingApplication: "EHR", SendingFacility: "CLINIC", ControlID: "NO-SUCH"})
	wantCode(t, "Inbound", err, apptbridge.ENOTFOUND)
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Inbound error %v does not wrap store.ErrNotFound", err)
	}
}
