package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

func testAppointments(t *testing.T, s store.Store) {
	at := func(h int) time.Time { return apptStart.Add(time.Duration(h) * time.Hour) }
	seed := []struct {
		id, patient string
		start       time.Time
		cancel      bool
	}{
		{"A-1", "P-1", at(1), false},
		{"A-2", "P-1", at(2), true},
		{"A-3", "P-2", at(3), false},
		{"A-4", "P-2", at(4), false},
		{"A-5", "P-3", time.Time{}, false}, // no start time known
	}
	for _, sd := range seed {
		ev := newEvent(sd.id, apptbridge.Booked, base)
		ev.PatientID = sd.patient
		ev.AppointmentDatetime, ev.AppointmentTimezone, ev.AppointmentTZ = "", "", ""
		ev.AppointmentDatetimeUTC = time.Time{}
		if !sd.start.IsZero() {
			ev.SetAppointmentTime(sd.start, time.UTC)
		}
		ingestNew(t, s, newInbound(ev))
		if sd.cancel {
			cancel := *ev
			cancel.EventID = apptbridge.NewEventID()
			cancel.EventType = apptbridge.Canceled
			cancel.EventDatetimeUTC = base.Add(time.Minute)
			ingestNew(t, s, newInbound(&cancel))
		}
	}
	cases := []struct {
		name string
		f    store.Filter
		want []string
	}{
		{"all", store.Filter{}, []string{"A-1", "A-2", "A-3", "A-4", "A-5"}},
		{"patient", store.Filter{PatientID: "P-1"}, []string{"A-1", "A-2"}},
		{"disposition", store.Filter{Disposition: apptbridge.DispCanceled}, []string{"A-2"}},
		{"queued", store.Filter{Disposition: apptbridge.DispQueued}, []string{"A-1", "A-3", "A-4", "A-5"}},
		{"from-to", store.Filter{From: at(2), To: at(4)}, []string{"A-2", "A-3"}},
		{"from", store.Filter{From: at(3)}, []string{"A-3", "A-4"}},
		{"to", store.Filter{To: at(2)}, []string{"A-1"}},
		{"from-zone", store.Filter{From: at(2).In(time.FixedZone("X", -6*3600))}, []string{"A-2", "A-3", "A-4"}},
		{"patient+disposition", store.Filter{PatientID: "P-2", Disposition: apptbridge.DispQueued}, []string{"A-3", "A-4"}},
		{"patient none", store.Filter{PatientID: "P-9"}, nil},
		{"page 1", store.Filter{Limit: 2}, []string{"A-1", "A-2"}},
		{"page 2", store.Filter{After: "A-2", Limit: 2}, []string{"A-3", "A-4"}},
		{"page 3", store.Filter{After: "A-4", Limit: 2}, []string{"A-5"}},
		{"page 4", store.Filter{After: "A-5", Limit: 2}, nil},
		{"page with filter", store.Filter{PatientID: "P-2", After: "A-3"}, []string{"A-4"}},
	}
	for _, c := range cases {
		got, err := s.Appointments(t.Context(), c.f)
		if err != nil {
			t.Fatalf("%s: Appointments: %v", c.name, err)
		}
		var ids []string
		for _, a := range got {
			ids = append(ids, a.AppointmentID)
		}
		if !slices.Equal(ids, c.want) {
			t.Errorf("%s: Appointments(%+v) = %v, want %v", c.name, c.f, ids, c.want)
		}
	}
	got, err := s.Appointments(t.Context(), store.Filter{PatientID: "P-1"})
	if err != nil || len(got) != 2 {
		t.Fatalf("Appointments: %v %v", got, err)
	}
	sameJSON(t, "listed appointment", got[0], appointment(t, s, "A-1"))
}

func testPrune(t *testing.T, s store.Store) {
	day := 24 * time.Hour
	old := newInbound(nil)
	old.ReceivedAt = base.Add(-10 * day)
	mid := newInbound(nil)
	mid.ReceivedAt = base.Add(-3 * day)
	recent := newInbound(nil)
	recent.ReceivedAt = base
	for _, in := range []*store.Inbound{old, mid, recent} {
		ingest(t, s, in)
	}

	n, err := s.Prune(t.Context(), base.Add(-7*day), base.Add(-day))
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if n != 2 {
		t.Errorf("Prune touched %d rows, want 2 (1 key deleted, 1 raw cleared)", n)
	}
	if _, err := s.Inbound(t.Context(), old.Key); apptbridge.ErrorCode(err) != apptbridge.ENOTFOUND {
		t.Errorf("pruned key: Inbound error %v, want ENOTFOUND", err)
	}
	r, err := s.Inbound(t.Context(), mid.Key)
	if err != nil {
		t.Fatalf("Inbound(mid): %v", err)
	}
	if r.Raw != nil || !bytes.Equal(r.Ack, mid.Ack) || r.Hash != mid.Hash {
		t.Errorf("mid record: raw %q, ack kept %v, want raw cleared and key kept", r.Raw, bytes.Equal(r.Ack, mid.Ack))
	}
	r, err = s.Inbound(t.Context(), recent.Key)
	if err != nil {
		t.Fatalf("Inbound(recent): %v", err)
	}
	if !bytes.Equal(r.Raw, recent.Raw) {
		t.Error("recent record lost its raw message")
	}
	if n := countInbound(t, s); n != 2 {
		t.Errorf("CountInbound = %d, want 2", n)
	}
	if n, err := s.Prune(t.Context(), base.Add(-7*day), base.Add(-day)); err != nil || n != 0 {
		t.Errorf("second Prune = %d, %v, want 0", n, err)
	}
	// A key with raw cleared is still a duplicate; a pruned key is new again.
	if res := ingest(t, s, mid); !res.Duplicate || !bytes.Equal(res.Ack, mid.Ack) {
		t.Errorf("resend of a raw-pruned message: %+v, want duplicate", res)
	}
	if res := ingest(t, s, old); res.Duplicate || res.Conflict {
		t.Errorf("resend of a key-pruned message: %+v, want new", res)
	}
}

func testTimes(t *testing.T, s store.Store) {
	zone := time.FixedZone("UTC-5", -5*3600)
	evAt := time.Date(2030, 1, 2, 3, 4, 5, 123456789, zone)
	start := time.Date(2099, 7, 8, 9, 10, 11, 987654321, zone)
	ev := newEvent("A-1", apptbridge.Booked, evAt)
	ev.SetAppointmentTime(start, zone)
	ev.Source.ReceivedAt = evAt
	in := newInbound(ev)
	in.ReceivedAt = evAt

	o := ingestNew(t, s, in)
	if !o.Appointment.EventDatetimeUTC.Equal(store.Instant(evAt)) {
		t.Errorf("outcome event time = %v, want %v", o.Appointment.EventDatetimeUTC, store.Instant(evAt))
	}
	a := appointment(t, s, "A-1")
	sameJSON(t, "appointment", a, o.Appointment)
	for what, tm := range map[string]time.Time{
		"EventDatetimeUTC": a.EventDatetimeUTC, "AppointmentDatetimeUTC": a.AppointmentDatetimeUTC,
		"LastEHREventAt": a.LastEHREventAt, "Source.ReceivedAt": a.Source.ReceivedAt,
		"CreatedAt": a.CreatedAt, "UpdatedAt": a.UpdatedAt,
	} {
		checkInstant(t, what, tm)
	}
	if !a.EventDatetimeUTC.Equal(store.Instant(evAt)) || !a.AppointmentDatetimeUTC.Equal(store.Instant(start)) ||
		!a.LastEHREventAt.Equal(store.Instant(evAt)) || !a.Source.ReceivedAt.Equal(store.Instant(evAt)) {
		t.Errorf("appointment instants %v %v %v %v, want %v %v", a.EventDatetimeUTC, a.AppointmentDatetimeUTC,
			a.LastEHREventAt, a.Source.ReceivedAt, store.Instant(evAt), store.Instant(start))
	}
	if a.AppointmentDatetime != "2099-07-08T09:10:11" || a.AppointmentTimezone != "-0500" {
		t.Errorf("local wall clock %s %s changed", a.AppointmentDatetime, a.AppointmentTimezone)
	}

	h := history(t, s, "A-1")
	if len(h) != 1 {
		t.Fatalf("history has %d entries, want 1", len(h))
	}
	sameJSON(t, "history event", h[0].Event, store.NormalizeEvent(ev))
	checkInstant(t, "history EventDatetimeUTC", h[0].Event.EventDatetimeUTC)
	checkInstant(t, "RecordedAt", h[0].RecordedAt)

	r, err := s.Inbound(t.Context(), in.Key)
	if err != nil {
		t.Fatalf("Inbound: %v", err)
	}
	checkInstant(t, "ReceivedAt", r.ReceivedAt)
	if !r.ReceivedAt.Equal(store.Instant(evAt)) {
		t.Errorf("ReceivedAt = %v, want %v", r.ReceivedAt, store.Instant(evAt))
	}

	// Exact round trip of a UTC microsecond instant; zero ReceivedAt is
	// the store's clock.
	in2 := newInbound(nil)
	in2.ReceivedAt = time.Time{}
	before := time.Now().Add(-time.Minute)
	ingest(t, s, in2)
	r, err = s.Inbound(t.Context(), in2.Key)
	if err != nil {
		t.Fatalf("Inbound: %v", err)
	}
	checkInstant(t, "defaulted ReceivedAt", r.ReceivedAt)
	if r.ReceivedAt.Before(before) {
		t.Errorf("defaulted ReceivedAt = %v, want about now", r.ReceivedAt)
	}
	in3 := newInbound(nil)
	in3.ReceivedAt = base
	ingest(t, s, in3)
	r, err = s.Inbound(t.Context(), in3.Key)
	if err != nil {
		t.Fatalf("Inbound: %v", err)
	}
	if !r.ReceivedAt.Equal(base) || r.ReceivedAt.Location() != time.UTC {
		t.Errorf("ReceivedAt = %v, want exactly %v", r.ReceivedAt, base)
	}
}

func testClosed(t *testing.T, s store.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	ingestNew(t, s, newInbound(newEvent("A-1", apptbridge.Booked, base)))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	_, err := s.Ingest(t.Context(), newInbound(newEvent("A-2", apptbridge.Booked, base)))
	if err == nil || !errors.Is(err, store.ErrClosed) {
		t.Errorf("Ingest after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Appointment(t.Context(), "A-1"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Appointment after Close: %v, want ErrClosed", err)
	}
	if err := s.OptOut(t.Context(), "+15555550100"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("OptOut after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Prune(t.Context(), base, base); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Prune after Close: %v, want ErrClosed", err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping after Close: nil, want an error")
	}
}
