package apptbridge

import (
	"reflect"
	"testing"
	"time"
)

// Fixture times. The appointment is in the future at tNow; tLate is after
// it (used for EXPIRE); tLastEHR is the time of the last applied EHR event.
var (
	tNow     = time.Date(2026, 11, 27, 14, 3, 0, 0, time.UTC)
	tAppt    = time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC) // 15:00 in Chicago
	tLate    = tAppt.Add(time.Hour)
	tLastEHR = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	tEvent   = tNow.Add(-time.Minute) // newer than tLastEHR
)

// fixtureEvent is the EHR view of the fixture appointment: the same fields
// the appointment holds, so an EHR event built from it changes nothing the
// patient sees.
func fixtureEvent() Event {
	return Event{
		EventID:                    "ev-prev",
		EventType:                  Booked,
		EventDatetimeUTC:           tLastEHR,
		PatientID:                  "1000",
		PatientFirstName:           "Jane",
		PatientLastName:            "Doe",
		PatientPhone:               "+13125550199",
		PatientLanguage:            "en",
		ProviderID:                 "afauci",
		ProviderFirstName:          "Anthony",
		ProviderLastName:           "Diaz",
		ProviderCallbackPhone:      "+18005552222",
		AppointmentID:              "20000",
		AppointmentPlacerID:        "20000",
		AppointmentFillerID:        "F-20000",
		AppointmentLocation:        "Pacific Primary Care",
		AppointmentLocationCode:    "PPC",
		AppointmentDatetime:        "2026-12-01T15:00:00",
		AppointmentTimezone:        "-0600",
		AppointmentTZ:              "America/Chicago",
		AppointmentDatetimeUTC:     tAppt,
		AppointmentDurationMinutes: 30,
		AppointmentType:            "FOLLOWUP",
		AppointmentReason:          "checkup",
		AppointmentStatus:          "Booked",
		Source: &Source{Channel: ChannelMLLP, MessageControlID: "MSG-prev",
			MessageType: "SIU^S12", SendingApplication: "EHR", SendingFacility: "CLINIC",
			ReceivedAt: tLastEHR},
	}
}

// fixture returns the appointment in disposition d (nil for DispNone),
// with bookkeeping that fits d.
func fixture(d Disposition) *Appointment {
	if d == DispNone {
		return nil
	}
	a := &Appointment{
		Event:          fixtureEvent(),
		Disposition:    d,
		LastEHREventAt: tLastEHR,
		CreatedAt:      tLastEHR,
		UpdatedAt:      tLastEHR,
		Version:        3,
	}
	switch d {
	case DispReminded1:
		a.RemindersSent = 1
	case DispReminded2:
		a.RemindersSent = 2
		a.Confirmed = true
	case DispCanceled:
		a.RemindersSent = 1
	case DispNoshowed, DispExpired:
		a.RemindersSent = 2
	case DispOptedOut:
		a.RemindersSent = 1
		a.LadderBeforeOptOut = DispReminded1
	}
	return a
}

// eventOf returns an event of type t for the fixture appointment. EHR
// events repeat the fixture's fields with a newer event time; patient and
// system events carry only the appointment id.
func eventOf(t EventType) *Event {
	if t.FromEHR() {
		e := fixtureEvent()
		e.EventID = "ev-" + string(t)
		e.EventType = t
		e.EventDatetimeUTC = tEvent
		e.Source = &Source{Channel: ChannelMLLP, MessageControlID: "MSG-" + string(t),
			MessageType: "SIU^S14", SendingApplication: "EHR", SendingFacility: "CLINIC",
			ReceivedAt: tNow}
		return &e
	}
	ch := ChannelSMS
	if t == Remind || t == Expire {
		ch = ChannelSystem
	}
	return &Event{EventID: "ev-" + string(t), EventType: t, EventDatetimeUTC: tEvent,
		AppointmentID: "20000", Source: &Source{Channel: ch, ReceivedAt: tNow}}
}

// deepCopy copies a without sharing memory (test-side, independent of
// the package's own clone).
func deepCopy(a *Appointment) *Appointment {
	if a == nil {
		return nil
	}
	c := *a
	if a.Source != nil {
		s := *a.Source
		c.Source = &s
	}
	return &c
}

// apply runs Apply and checks that cur is not modified and that the
// outcome shares no memory with cur.
func apply(t *testing.T, cur *Appointment, e *Event, ctx ApplyContext) Outcome {
	t.Helper()
	before := deepCopy(cur)
	ev := *e
	o := Apply(cur, e, ctx)
	if !reflect.DeepEqual(cur, before) {
		t.Fatalf("Apply modified cur:\nbefore %+v\nafter  %+v", before, cur)
	}
	if !reflect.DeepEqual(*e, ev) {
		t.Fatalf("Apply modified the event")
	}
	if cur != nil && o.Appointment != nil {
		if o.Appointment == cur {
			t.Fatalf("Outcome.Appointment is cur itself")
		}
		if cur.Source != nil && o.Appointment.Source == cur.Source {
			t.Fatalf("Outcome.Appointment.Source shares memory with cur.Source")
		}
	}
	return o
}

const (
	dNone = DispNone
	dQ    = DispQueued
	dR1   = DispReminded1
	dR2   = DispReminded2
	dCx   = DispCanceled
	dNs   = DispNoshowed
	dEx   = DispExpired
	dOO   = DispOptedOut
)

// TestApplyMatrix is SPEC §6 from every starting disposition for every
// event type (8×12), written out row by row.
func TestApplyStale(t *testing.T) {
	for _, typ := range []EventType{Booked, Rescheduled, Modified, Confirmed, Canceled, Noshowed} {
		for _, from := range Dispositions {
			t.Run(string(from)+"/"+string(typ), func(t *testing.T) {
				cur := fixture(from)
				cur.LastEHREventAt = tEvent
				e := eventOf(typ)
				e.EventDatetimeUTC = tEvent.Add(-time.Second)
				e.AppointmentDatetimeUTC = tAppt.Add(24 * time.Hour) // would change things
				e.AppointmentLocation = "Elsewhere"
				o := apply(t, cur, e, ApplyContext{Now: tNow})
				if o.Applied || o.Reason != ReasonStale || o.To != from || o.From != from ||
					o.Text != TextNone || o.Request != "" {
					t.Fatalf("stale %s: %+v", typ, o)
				}
				if !reflect.DeepEqual(o.Appointment, cur) {
					t.Fatalf("stale event changed the appointment:\n got %+v\nwant %+v", o.Appointment, cur)
				}
			})
		}
	}

	t.Run("equal time is not stale", func(t *testing.T) {
		cur := fixture(dQ)
		e := eventOf(Modified)
		e.EventDatetimeUTC = cur.LastEHREventAt
		o := apply(t, cur, e, ApplyContext{Now: tNow})
		if !o.Applied || o.Reason == ReasonStale || o.Text != TextModified {
			t.Fatalf("got %+v", o)
		}
	})
	t.Run("equal instant in another zone is not stale", func(t *testing.T) {
		cur := fixture(dQ)
		e := eventOf(Modified)
		e.EventDatetimeUTC = cur.LastEHREventAt.In(time.FixedZone("X", -6*3600))
		if o := apply(t, cur, e, ApplyContext{Now: tNow}); !o.Applied {
			t.Fatalf("got %+v", o)
		}
	})
	t.Run("zero event time is never stale", func(t *testing.T) {
		cur := fixture(dQ)
		e := eventOf(Canceled)
		e.EventDatetimeUTC = time.Time{}
		o := apply(t, cur, e, ApplyContext{Now: tNow})
		if !o.Applied || o.To != dCx {
			t.Fatalf("got %+v", o)
		}
		if !o.Appointment.LastEHREventAt.Equal(cur.LastEHREventAt) {
			t.Errorf("a zero event time moved LastEHREventAt to %v", o.Appointment.LastEHREventAt)
		}
	})
	t.Run("zero LastEHREventAt makes nothing stale", func(t *testing.T) {
		cur := fixture(dQ)
		cur.LastEHREventAt = time.Time{}
		e := eventOf(Canceled)
		e.EventDatetimeUTC = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
		if o := apply(t, cur, e, ApplyContext{Now: tNow}); !o.Applied {
			t.Fatalf("got %+v", o)
		}
	})
	t.Run("patient and system events are never stale", func(t *testing.T) {
		for _, typ := range []EventType{Confirm, Cancel, OptedOut, Remind} {
			cur := fixture(dQ)
			e := eventOf(typ)
			e.EventDatetimeUTC = tLastEHR.Add(-48 * time.Hour)
			if o := apply(t, cur, e, ApplyContext{Now: tNow}); !o.Applied {
				t.Errorf("%s: got %+v", typ, o)
			}
		}
	})
	t.Run("a non-disposition EHR update moves LastEHREventAt", func(t *testing.T) {
		// MODIFIED on CANCELED changes no disposition but is applied, so a
		// later-arriving older BOOKED is stale.
		cur := fixture(dCx)
		e := eventOf(Modified)
		o := apply(t, cur, e, ApplyContext{Now: tNow})
		if !o.Applied || !o.Appointment.LastEHREventAt.Equal(tEvent) {
			t.Fatalf("got %+v", o)
		}
		old := eventOf(Booked)
		old.EventDatetimeUTC = tEvent.Add(-time.Second)
		if o2 := apply(t, o.Appointment, old, ApplyContext{Now: tNow}); o2.Applied || o2.Reason != ReasonStale {
			t.Fatalf("got %+v", o2)
		}
	})
}

// TestApplyOutOfOrder is RELIABILITY T08: late and out-of-order EHR
// events never leave a cancelled appointment on the reminder ladder.
func TestApplyOutOfOrder(t *testing.T) {
	at := func(typ EventType, minutes int) *Event {
		e := eventOf(typ)
		e.EventDatetimeUTC = tLastEHR.Add(time.Duration(minutes) * time.Minute)
		return e
	}
	ctx := ApplyContext{Now: tNow}
	remindNotApplied := func(t *testing.T, a *Appointment) {
		t.Helper()
		if o := apply(t, a, eventOf(Remind), ctx); o.Applied || o.Text != TextNone {
			t.Fatalf("REMIND on a canceled appointment: %+v", o)
		}
	}

	t.Run("S15 before S14", func(t *testing.T) {
		o := apply(t, nil, at(Booked, 1), ctx)
		o = apply(t, o.Appointment, at(Canceled, 3), ctx)
		late := at(Modified, 2)
		late.AppointmentLocation = "Moved"
		o = apply(t, o.Appointment, late, ctx)
		if o.Applied || o.Reason != ReasonStale || o.Appointment.Disposition != dCx ||
			o.Appointment.AppointmentLocation == "Moved" {
			t.Fatalf("got %+v", o)
		}
		remindNotApplied(t, o.Appointment)
	})
	t.Run("S12 after S15", func(t *testing.T) {
		o := apply(t, nil, at(Canceled, 5), ctx)
		if o.To != dCx {
			t.Fatalf("first-seen CANCELED: %+v", o)
		}
		o = apply(t, o.Appointment, at(Booked, 1), ctx)
		if o.Applied || o.Reason != ReasonStale || o.Appointment.Disposition != dCx {
			t.Fatalf("got %+v", o)
		}
		remindNotApplied(t, o.Appointment)
	})
	t.Run("opt out, EHR cancels, opt in", func(t *testing.T) {
		o := apply(t, fixture(dR1), eventOf(OptedOut), ctx)
		o = apply(t, o.Appointment, eventOf(Canceled), ApplyContext{Now: tNow, PhoneOptedOut: true})
		if !o.Applied || o.To != dOO || o.Text != TextNone || o.Appointment.LadderBeforeOptOut != dCx {
			t.Fatalf("CANCELED while opted out: %+v", o)
		}
		o = apply(t, o.Appointment, eventOf(OptedIn), ctx)
		if !o.Applied || o.To != dCx || o.Text != TextOptedIn || o.Appointment.LadderBeforeOptOut != "" {
			t.Fatalf("OPTED-IN: %+v", o)
		}
		remindNotApplied(t, o.Appointment)
	})
	t.Run("opt out, EHR cancels then rebooks, opt in", func(t *testing.T) {
		o := apply(t, fixture(dR2), eventOf(OptedOut), ctx)
		o = apply(t, o.Appointment, at(Canceled, 10), ctx)
		o = apply(t, o.Appointment, at(Booked, 20), ctx)
		if o.To != dOO || o.Appointment.LadderBeforeOptOut != dQ || o.Appointment.RemindersSent != 0 ||
			o.Appointment.Confirmed {
			t.Fatalf("BOOKED while opted out after CANCELED: %+v %+v", o, o.Appointment)
		}
		o = apply(t, o.Appointment, eventOf(OptedIn), ctx)
		if o.To != dQ {
			t.Fatalf("OPTED-IN: %+v", o)
		}
	})
}

func TestApplyRescheduledOptedOut(t *testing.T) {
	cur := fixture(dOO)
	cur.Confirmed = true
	newTime := tAppt.Add(72 * time.Hour)
	e := eventOf(Rescheduled)
	e.SetAppointmentTime(newTime, time.FixedZone("CST", -6*3600))
	e.AppointmentTZ = "America/Chicago"
	o := apply(t, cur, e, ApplyContext{Now: tNow, PhoneOptedOut: true})
	if !o.Applied || o.To != dOO || o.Text != TextNone || o.Suppressed != "" || o.Reason != ReasonOptedOut {
		t.Fatalf("got %+v", o)
	}
	a := o.Appointment
	if !a.AppointmentDatetimeUTC.Equal(newTime) || a.AppointmentDatetime != "2026-12-04T15:00:00" {
		t.Errorf("time not moved: %v %q", a.AppointmentDatetimeUTC, a.AppointmentDatetime)
	}
	if a.Disposition != dOO || a.LadderBeforeOptOut != dQ || a.RemindersSent != 0 || a.Confirmed {
		t.Errorf("ladder not reset: %+v", a)
	}
	if a.Version != cur.Version+1 {
		t.Errorf("Version = %d", a.Version)
	}
}

func TestApplyExpire(t *testing.T) {
	for _, from := range []Disposition{dQ, dR1, dR2} {
		t.Run(string(from), func(t *testing.T) {
			cur := fixture(from)
			o := apply(t, cur, eventOf(Expire), ApplyContext{Now: tAppt.Add(-time.Second)})
			if o.Applied || o.Reason != ReasonNotDue || o.To != from {
				t.Fatalf("before the time: %+v", o)
			}
			o = apply(t, cur, eventOf(Expire), ApplyContext{Now: tAppt})
			if !o.Applied || o.To != dEx || o.Text != TextNone {
				t.Fatalf("at the time: %+v", o)
			}
		})
	}
	t.Run("no appointment time", func(t *testing.T) {
		cur := fixture(dQ)
		cur.AppointmentDatetimeUTC = time.Time{}
		if o := apply(t, cur, eventOf(Expire), ApplyContext{Now: tLate}); o.Applied || o.Reason != ReasonNotDue {
			t.Fatalf("got %+v", o)
		}
	})
}

func TestApplyRemindLadder(t *testing.T) {
	ctx := ApplyContext{Now: tNow}
	a := fixture(dQ)
	want := []struct {
		applied bool
		to      Disposition
		text    TextKind
		sent    int
		reason  string
	}{
		{true, dR1, TextRemind1, 1, ""},
		{true, dR2, TextRemind2, 2, ""},
		{false, dR2, TextNone, 2, ReasonNotRemindable},
		{false, dR2, TextNone, 2, ReasonNotRemindable},
	}
	for i, w := range want {
		o := apply(t, a, eventOf(Remind), ctx)
		if o.Applied != w.applied || o.To != w.to || o.Text != w.text || o.Reason != w.reason ||
			o.Appointment.RemindersSent != w.sent {
			t.Fatalf("REMIND #%d: %+v sent=%d", i+1, o, o.Appointment.RemindersSent)
		}
		a = o.Appointment
	}
	// RESCHEDULED starts a new ladder.
	o := apply(t, a, eventOf(Rescheduled), ctx)
	if o.To != dQ || o.Appointment.RemindersSent != 0 || o.Appointment.Confirmed {
		t.Fatalf("RESCHEDULED: %+v", o.Appointment)
	}
	o = apply(t, o.Appointment, eventOf(Remind), ctx)
	if o.Text != TextRemind1 || o.Appointment.RemindersSent != 1 {
		t.Fatalf("REMIND after RESCHEDULED: %+v", o)
	}
}

func TestApplySuppression(t *testing.T) {
	past := tAppt.Add(time.Minute)
	tests := []struct {
		name       string
		from       Disposition
		ev         EventType
		now        time.Time
		optedOut   bool
		noPhone    bool
		applied    bool
		to         Disposition
		text       TextKind
		suppressed string
		reason     string
	}{
		{"booked to opted-out phone", dNone, Booked, tNow, true, false, true, dQ, TextNone, SuppressPhoneOptedOut, ""},
		{"canceled to opted-out phone", dQ, Canceled, tNow, true, false, true, dCx, TextNone, SuppressPhoneOptedOut, ""},
		{"confirm receipt to opted-out phone", dQ, Confirm, tNow, true, false, true, dQ, TextNone, SuppressPhoneOptedOut, ""},
		{"opted-in text despite opt-out list", dOO, OptedIn, tNow, true, false, true, dR1, TextOptedIn, "", ""},
		{"booked without phone", dNone, Booked, tNow, false, true, true, dQ, TextNone, SuppressNoPhone, ""},
		{"modified without phone", dR1, Modified, tNow, false, true, true, dR1, TextNone, SuppressNoPhone, ""},
		{"opted-in without phone", dOO, OptedIn, tNow, false, true, true, dR1, TextNone, SuppressNoPhone, ""},
		{"canceled after the time", dQ, Canceled, past, false, false, true, dCx, TextNone, SuppressPast, ""},
		{"rescheduled to a past time", dR1, Rescheduled, past, false, false, true, dQ, TextNone, SuppressPast, ""},
		{"noshowed after the time is sent", dR2, Noshowed, past, false, false, true, dNs, TextNoshowed, "", ""},
		{"noshowed from expired", dEx, Noshowed, past, false, false, true, dNs, TextNoshowed, "", ""},
		{"noshowed to opted-out phone", dQ, Noshowed, past, true, false, true, dNs, TextNone, SuppressPhoneOptedOut, ""},
		// A reminder that cannot be sent does not climb the ladder.
		{"remind to opted-out phone", dQ, Remind, tNow, true, false, false, dQ, TextNone, SuppressPhoneOptedOut, SuppressPhoneOptedOut},
		{"remind without phone", dR1, Remind, tNow, false, true, false, dR1, TextNone, SuppressNoPhone, SuppressNoPhone},
		{"remind after the time", dQ, Remind, past, false, false, false, dQ, TextNone, SuppressPast, SuppressPast},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := fixture(tt.from)
			e := eventOf(tt.ev)
			if tt.noPhone {
				if cur != nil {
					cur.PatientPhone = ""
				}
				e.PatientPhone = ""
			}
			if tt.ev == Rescheduled {
				e.AppointmentDatetimeUTC = past.Add(-time.Hour)
			}
			o := apply(t, cur, e, ApplyContext{Now: tt.now, PhoneOptedOut: tt.optedOut})
			if o.Applied != tt.applied || o.To != tt.to || o.Text != tt.text ||
				o.Suppressed != tt.suppressed || o.Reason != tt.reason {
				t.Fatalf("got applied=%v to=%q text=%q suppressed=%q reason=%q",
					o.Applied, o.To, o.Text, o.Suppressed, o.Reason)
			}
			if !tt.applied && !reflect.DeepEqual(o.Appointment, cur) {
				t.Fatalf("not applied, yet changed: %+v", o.Appointment)
			}
			if tt.ev == Confirm && o.Request != Confirm {
				t.Errorf("the request goes to the EHR even when the receipt is suppressed; Request = %q", o.Request)
			}
		})
	}
}

func TestApplyBookedRepeat(t *testing.T) {
	chicago := time.FixedZone("CST", -6*3600)
	tests := []struct {
		name   string
		change func(e *Event)
		text   TextKind
		reason string
		check  func(t *testing.T, a *Appointment)
	}{
		{"identical", func(e *Event) {}, TextNone, ReasonRepeat, nil},
		{"same instant in another location", func(e *Event) {
			e.AppointmentDatetimeUTC = e.AppointmentDatetimeUTC.In(chicago)
		}, TextNone, ReasonRepeat, nil},
		{"empty fields", func(e *Event) {
			*e = Event{EventID: e.EventID, EventType: Booked, EventDatetimeUTC: e.EventDatetimeUTC,
				AppointmentID: e.AppointmentID}
		}, TextNone, ReasonRepeat, nil},
		{"invisible fields", func(e *Event) {
			e.AppointmentType = "NEW"
			e.PatientLanguage = "es"
			e.AppointmentDurationMinutes = 45
			e.AppointmentStatus = "Pending"
		}, TextNone, ReasonRepeat, func(t *testing.T, a *Appointment) {
			if a.AppointmentType != "NEW" || a.PatientLanguage != "es" ||
				a.AppointmentDurationMinutes != 45 || a.AppointmentStatus != "Pending" {
				t.Errorf("fields not updated on a repeat: %+v", a.Event)
			}
		}},
		{"time", func(e *Event) {
			e.SetAppointmentTime(tAppt.Add(time.Hour), chicago)
		}, TextModified, "", func(t *testing.T, a *Appointment) {
			if !a.AppointmentDatetimeUTC.Equal(tAppt.Add(time.Hour)) || a.AppointmentDatetime != "2026-12-01T16:00:00" {
				t.Errorf("time not updated: %+v", a.Event)
			}
		}},
		{"location", func(e *Event) { e.AppointmentLocation = "North Clinic" }, TextModified, "", nil},
		{"provider first name", func(e *Event) { e.ProviderFirstName = "Ana" }, TextModified, "", nil},
		{"provider last name", func(e *Event) { e.ProviderLastName = "Ruiz" }, TextModified, "", nil},
		{"callback phone", func(e *Event) { e.ProviderCallbackPhone = "+18005553333" }, TextModified, "", nil},
	}
	for _, from := range []Disposition{dQ, dR1, dR2} {
		for _, tt := range tests {
			t.Run(string(from)+"/"+tt.name, func(t *testing.T) {
				cur := fixture(from)
				e := eventOf(Booked)
				tt.change(e)
				o := apply(t, cur, e, ApplyContext{Now: tNow})
				if !o.Applied || o.To != from || o.Text != tt.text || o.Reason != tt.reason {
					t.Fatalf("got %+v", o)
				}
				a := o.Appointment
				if a.RemindersSent != cur.RemindersSent || a.Confirmed != cur.Confirmed {
					t.Errorf("a repeat BOOKED reset the ladder: %+v", a)
				}
				if tt.check != nil {
					tt.check(t, a)
				}
			})
		}
	}
}

func TestApplyMerge(t *testing.T) {
	cur := fixture(dQ)
	e := &Event{EventID: "ev-sparse", EventType: Modified, EventDatetimeUTC: tEvent,
		AppointmentID: "20000", AppointmentLocation: "North Clinic"}
	o := apply(t, cur, e, ApplyContext{Now: tNow})
	if !o.Applied {
		t.Fatalf("got %+v", o)
	}
	want := deepCopy(cur)
	want.AppointmentLocation = "North Clinic"
	want.EventID = "ev-sparse"
	want.EventType = Modified
	want.EventDatetimeUTC = tEvent
	want.LastEHREventAt = tEvent
	want.Version = cur.Version + 1
	want.UpdatedAt = tNow
	if !reflect.DeepEqual(o.Appointment, want) {
		t.Fatalf("merge:\n got %+v\nwant %+v", o.Appointment, want)
	}

	t.Run("every field", func(t *testing.T) {
		full := eventOf(Modified)
		full.PatientID = "p2"
		full.PatientFirstName = "Ann"
		full.PatientLastName = "Roe"
		full.PatientPhone = "+13125550100"
		full.PatientLanguage = "es"
		full.ProviderID = "x"
		full.ProviderFirstName = "Bo"
		full.ProviderLastName = "Li"
		full.ProviderCallbackPhone = "+18005550000"
		full.AppointmentPlacerID = "P2"
		full.AppointmentFillerID = "F2"
		full.AppointmentLocation = "L2"
		full.AppointmentLocationCode = "LC2"
		full.SetAppointmentTime(tAppt.Add(time.Hour), time.FixedZone("EST", -5*3600))
		full.AppointmentTZ = "America/New_York"
		full.AppointmentDurationMinutes = 90
		full.AppointmentType = "T2"
		full.AppointmentReason = "R2"
		full.AppointmentStatus = "S2"
		o := apply(t, cur, full, ApplyContext{Now: tNow})
		got := o.Appointment.Event
		wantEv := *full
		wantEv.Source = &Source{}
		*wantEv.Source = *full.Source
		if !reflect.DeepEqual(got, wantEv) {
			t.Fatalf("merge of a full event:\n got %+v\nwant %+v", got, wantEv)
		}
		if o.Appointment.Source == full.Source {
			t.Error("Appointment.Source shares memory with the event's Source")
		}
	})
}

func TestApplyFirstSeen(t *testing.T) {
	o := apply(t, nil, eventOf(Booked), ApplyContext{Now: tNow})
	a := o.Appointment
	if !o.Applied || a.Disposition != dQ || a.Version != 1 || !a.CreatedAt.Equal(tNow) ||
		a.AppointmentID != "20000" || a.PatientPhone != "+13125550199" || !a.LastEHREventAt.Equal(tEvent) {
		t.Fatalf("got %+v", a)
	}
	for _, typ := range []EventType{"", "BOGUS", "booked"} {
		o := apply(t, nil, &Event{EventType: typ, AppointmentID: "1"}, ApplyContext{Now: tNow})
		if o.Applied || o.Appointment != nil || o.Reason != ReasonUnknownEventType {
			t.Errorf("%q on none: %+v", typ, o)
		}
		cur := fixture(dQ)
		o = apply(t, cur, &Event{EventType: typ, AppointmentID: "1"}, ApplyContext{Now: tNow})
		if o.Applied || !reflect.DeepEqual(o.Appointment, cur) || o.Reason != ReasonUnknownEventType {
			t.Errorf("%q on QUEUED: %+v", typ, o)
		}
	}
}

func TestApplyConfirmedOnce(t *testing.T) {
	ctx := ApplyContext{Now: tNow}
	o := apply(t, fixture(dR1), eventOf(Confirmed), ctx)
	if o.Text != TextConfirmed || !o.Appointment.Confirmed {
		t.Fatalf("first: %+v", o)
	}
	o = apply(t, o.Appointment, eventOf(Confirmed), ctx)
	if !o.Applied || o.Text != TextNone || o.Reason != ReasonAlreadySet || o.To != dR1 {
		t.Fatalf("second: %+v", o)
	}
}

func TestApplyOptOutRoundTrip(t *testing.T) {
	ctx := ApplyContext{Now: tNow}
	for _, from := range []Disposition{dQ, dR1, dR2} {
		o := apply(t, fixture(from), eventOf(OptedOut), ctx)
		if o.To != dOO || o.Text != TextNone || o.Appointment.LadderBeforeOptOut != from {
			t.Fatalf("%s OPTED-OUT: %+v", from, o)
		}
		o = apply(t, o.Appointment, eventOf(OptedIn), ApplyContext{Now: tNow, PhoneOptedOut: true})
		if o.To != from || o.Text != TextOptedIn || o.Appointment.LadderBeforeOptOut != "" {
			t.Fatalf("%s OPTED-IN: %+v", from, o)
		}
	}
	t.Run("unknown ladder state returns to QUEUED", func(t *testing.T) {
		for _, l := range []Disposition{"", dOO, "BOGUS"} {
			cur := fixture(dOO)
			cur.LadderBeforeOptOut = l
			if o := apply(t, cur, eventOf(OptedIn), ctx); o.To != dQ {
				t.Errorf("ladder %q: %+v", l, o)
			}
		}
	})
}

func TestDispositionActive(t *testing.T) {
	for _, d := range append([]Disposition{DispNone}, Dispositions...) {
		want := d == dQ || d == dR1 || d == dR2
		if d.Active() != want {
			t.Errorf("%q.Active() = %v", d, d.Active())
		}
	}
}
