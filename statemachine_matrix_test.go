package apptbridge

import (
	"reflect"
	"testing"
)

// TestApplyMatrix checks every row of SPEC §6: 8 starting dispositions ×
// 12 event types, each expectation written out.
func TestApplyMatrix(t *testing.T) {
	const (
		rNone   = ""
		rRepeat = ReasonRepeat
		rNA     = ReasonNotActive
		rOO     = ReasonOptedOut
		rSet    = ReasonAlreadySet
		rNoA    = ReasonNoAppointment
		rNotOO  = ReasonNotOptedOut
		rLadder = ReasonNotRemindable
	)
	type row struct {
		from    Disposition
		ev      EventType
		applied bool
		to      Disposition
		text    TextKind
		req     EventType
		reason  string
		// after the event (checked when there is an appointment)
		ladder    Disposition // LadderBeforeOptOut
		sent      int         // RemindersSent
		confirmed bool
	}
	rows := []row{
		// from none: EHR events create the appointment; the others find none.
		{dNone, Booked, true, dQ, TextBooked, "", rNone, "", 0, false},
		{dNone, Rescheduled, true, dQ, TextRescheduled, "", rNone, "", 0, false},
		{dNone, Modified, true, dQ, TextModified, "", rNone, "", 0, false},
		{dNone, Confirmed, true, dQ, TextConfirmed, "", rNone, "", 0, true},
		{dNone, Canceled, true, dCx, TextCanceled, "", rNone, "", 0, false},
		{dNone, Noshowed, true, dNs, TextNoshowed, "", rNone, "", 0, false},
		{dNone, Remind, false, dNone, TextNone, "", rNoA, "", 0, false},
		{dNone, Expire, false, dNone, TextNone, "", rNoA, "", 0, false},
		{dNone, Confirm, false, dNone, TextNone, "", rNoA, "", 0, false},
		{dNone, Cancel, false, dNone, TextNone, "", rNoA, "", 0, false},
		{dNone, OptedOut, false, dNone, TextNone, "", rNoA, "", 0, false},
		{dNone, OptedIn, false, dNone, TextNone, "", rNoA, "", 0, false},

		// QUEUED (0 reminders sent, not confirmed)
		{dQ, Booked, true, dQ, TextNone, "", rRepeat, "", 0, false},
		{dQ, Rescheduled, true, dQ, TextRescheduled, "", rNone, "", 0, false},
		{dQ, Modified, true, dQ, TextModified, "", rNone, "", 0, false},
		{dQ, Confirmed, true, dQ, TextConfirmed, "", rNone, "", 0, true},
		{dQ, Canceled, true, dCx, TextCanceled, "", rNone, "", 0, false},
		{dQ, Noshowed, true, dNs, TextNoshowed, "", rNone, "", 0, false},
		{dQ, Remind, true, dR1, TextRemind1, "", rNone, "", 1, false},
		{dQ, Expire, true, dEx, TextNone, "", rNone, "", 0, false},
		{dQ, Confirm, true, dQ, TextConfirmReceipt, Confirm, rNone, "", 0, false},
		{dQ, Cancel, true, dQ, TextCancelReceipt, Cancel, rNone, "", 0, false},
		{dQ, OptedOut, true, dOO, TextNone, "", rNone, dQ, 0, false},
		{dQ, OptedIn, false, dQ, TextNone, "", rNotOO, "", 0, false},

		// REMINDED-1 (1 reminder sent, not confirmed)
		{dR1, Booked, true, dR1, TextNone, "", rRepeat, "", 1, false},
		{dR1, Rescheduled, true, dQ, TextRescheduled, "", rNone, "", 0, false},
		{dR1, Modified, true, dR1, TextModified, "", rNone, "", 1, false},
		{dR1, Confirmed, true, dR1, TextConfirmed, "", rNone, "", 1, true},
		{dR1, Canceled, true, dCx, TextCanceled, "", rNone, "", 1, false},
		{dR1, Noshowed, true, dNs, TextNoshowed, "", rNone, "", 1, false},
		{dR1, Remind, true, dR2, TextRemind2, "", rNone, "", 2, false},
		{dR1, Expire, true, dEx, TextNone, "", rNone, "", 1, false},
		{dR1, Confirm, true, dR1, TextConfirmReceipt, Confirm, rNone, "", 1, false},
		{dR1, Cancel, true, dR1, TextCancelReceipt, Cancel, rNone, "", 1, false},
		{dR1, OptedOut, true, dOO, TextNone, "", rNone, dR1, 1, false},
		{dR1, OptedIn, false, dR1, TextNone, "", rNotOO, "", 1, false},

		// REMINDED-2 (2 reminders sent, already confirmed)
		{dR2, Booked, true, dR2, TextNone, "", rRepeat, "", 2, true},
		{dR2, Rescheduled, true, dQ, TextRescheduled, "", rNone, "", 0, false},
		{dR2, Modified, true, dR2, TextModified, "", rNone, "", 2, true},
		{dR2, Confirmed, true, dR2, TextNone, "", rSet, "", 2, true},
		{dR2, Canceled, true, dCx, TextCanceled, "", rNone, "", 2, true},
		{dR2, Noshowed, true, dNs, TextNoshowed, "", rNone, "", 2, true},
		{dR2, Remind, false, dR2, TextNone, "", rLadder, "", 2, true},
		{dR2, Expire, true, dEx, TextNone, "", rNone, "", 2, true},
		{dR2, Confirm, true, dR2, TextConfirmReceipt, Confirm, rNone, "", 2, true},
		{dR2, Cancel, true, dR2, TextCancelReceipt, Cancel, rNone, "", 2, true},
		{dR2, OptedOut, true, dOO, TextNone, "", rNone, dR2, 2, true},
		{dR2, OptedIn, false, dR2, TextNone, "", rNotOO, "", 2, true},

		// CANCELED (1 reminder had been sent)
		{dCx, Booked, true, dQ, TextBooked, "", rNone, "", 0, false},
		{dCx, Rescheduled, true, dQ, TextRescheduled, "", rNone, "", 0, false},
		{dCx, Modified, true, dCx, TextNone, "", rNA, "", 1, false},
		{dCx, Confirmed, true, dCx, TextNone, "", rNA, "", 1, false},
		{dCx, Canceled, true, dCx, TextNone, "", rSet, "", 1, false},
		{dCx, Noshowed, true, dCx, TextNone, "", rNA, "", 1, false},
		{dCx, Remind, false, dCx, TextNone, "", rNA, "", 1, false},
		{dCx, Expire, false, dCx, TextNone, "", rNA, "", 1, false},
		{dCx, Confirm, false, dCx, TextNone, "", rNA, "", 1, false},
		{dCx, Cancel, false, dCx, TextNone, "", rNA, "", 1, false},
		{dCx, OptedOut, false, dCx, TextNone, "", rNA, "", 1, false},
		{dCx, OptedIn, false, dCx, TextNone, "", rNotOO, "", 1, false},

		// NOSHOWED (2 reminders had been sent)
		{dNs, Booked, true, dQ, TextBooked, "", rNone, "", 0, false},
		{dNs, Rescheduled, true, dQ, TextRescheduled, "", rNone, "", 0, false},
		{dNs, Modified, true, dNs, TextNone, "", rNA, "", 2, false},
		{dNs, Confirmed, true, dNs, TextNone, "", rNA, "", 2, false},
		{dNs, Canceled, true, dNs, TextNone, "", rNA, "", 2, false},
		{dNs, Noshowed, true, dNs, TextNone, "", rSet, "", 2, false},
		{dNs, Remind, false, dNs, TextNone, "", rNA, "", 2, false},
		{dNs, Expire, false, dNs, TextNone, "", rNA, "", 2, false},
		{dNs, Confirm, false, dNs, TextNone, "", rNA, "", 2, false},
		{dNs, Cancel, false, dNs, TextNone, "", rNA, "", 2, false},
		{dNs, OptedOut, false, dNs, TextNone, "", rNA, "", 2, false},
		{dNs, OptedIn, false, dNs, TextNone, "", rNotOO, "", 2, false},

		// EXPIRED (2 reminders had been sent)
		{dEx, Booked, true, dQ, TextBooked, "", rNone, "", 0, false},
		{dEx, Rescheduled, true, dQ, TextRescheduled, "", rNone, "", 0, false},
		{dEx, Modified, true, dEx, TextNone, "", rNA, "", 2, false},
		{dEx, Confirmed, true, dEx, TextNone, "", rNA, "", 2, false},
		{dEx, Canceled, true, dEx, TextNone, "", rNA, "", 2, false},
		{dEx, Noshowed, true, dNs, TextNoshowed, "", rNone, "", 2, false},
		{dEx, Remind, false, dEx, TextNone, "", rNA, "", 2, false},
		{dEx, Expire, false, dEx, TextNone, "", rSet, "", 2, false},
		{dEx, Confirm, false, dEx, TextNone, "", rNA, "", 2, false},
		{dEx, Cancel, false, dEx, TextNone, "", rNA, "", 2, false},
		{dEx, OptedOut, false, dEx, TextNone, "", rNA, "", 2, false},
		{dEx, OptedIn, false, dEx, TextNone, "", rNotOO, "", 2, false},

		// OPTED-OUT from REMINDED-1 (1 reminder sent): EHR events update
		// the fields and the state OPTED-IN returns to, never a text.
		{dOO, Booked, true, dOO, TextNone, "", rOO, dR1, 1, false},
		{dOO, Rescheduled, true, dOO, TextNone, "", rOO, dQ, 0, false},
		{dOO, Modified, true, dOO, TextNone, "", rOO, dR1, 1, false},
		{dOO, Confirmed, true, dOO, TextNone, "", rOO, dR1, 1, true},
		{dOO, Canceled, true, dOO, TextNone, "", rOO, dCx, 1, false},
		{dOO, Noshowed, true, dOO, TextNone, "", rOO, dNs, 1, false},
		{dOO, Remind, false, dOO, TextNone, "", rOO, dR1, 1, false},
		{dOO, Expire, false, dOO, TextNone, "", rOO, dR1, 1, false},
		{dOO, Confirm, false, dOO, TextNone, "", rOO, dR1, 1, false},
		{dOO, Cancel, false, dOO, TextNone, "", rOO, dR1, 1, false},
		{dOO, OptedOut, false, dOO, TextNone, "", rSet, dR1, 1, false},
		{dOO, OptedIn, true, dR1, TextOptedIn, "", rNone, "", 1, false},
	}

	// The table must be the full matrix, each pair once.
	seen := map[[2]string]bool{}
	for _, r := range rows {
		k := [2]string{string(r.from), string(r.ev)}
		if seen[k] {
			t.Fatalf("duplicate row %v", k)
		}
		seen[k] = true
	}
	if want := (len(Dispositions) + 1) * len(EventTypes); len(rows) != want || len(seen) != want {
		t.Fatalf("matrix has %d rows, want %d", len(rows), want)
	}

	for _, r := range rows {
		name := string(r.from)
		if name == "" {
			name = "none"
		}
		t.Run(name+"/"+string(r.ev), func(t *testing.T) {
			cur := fixture(r.from)
			e := eventOf(r.ev)
			ctx := ApplyContext{Now: tNow}
			if r.ev == Expire {
				ctx.Now = tLate
			}
			o := apply(t, cur, e, ctx)

			if o.Applied != r.applied || o.To != r.to || o.Text != r.text ||
				o.Request != r.req || o.Reason != r.reason {
				t.Fatalf("got applied=%v to=%q text=%q req=%q reason=%q\nwant applied=%v to=%q text=%q req=%q reason=%q",
					o.Applied, o.To, o.Text, o.Request, o.Reason,
					r.applied, r.to, r.text, r.req, r.reason)
			}
			if o.From != r.from {
				t.Errorf("From = %q, want %q", o.From, r.from)
			}
			if o.Suppressed != "" {
				t.Errorf("Suppressed = %q, want none", o.Suppressed)
			}
			if cur == nil && !r.applied {
				if o.Appointment != nil {
					t.Fatalf("Appointment = %+v, want nil", o.Appointment)
				}
				return
			}
			a := o.Appointment
			if a == nil {
				t.Fatal("Appointment is nil")
			}
			if a.Disposition != r.to {
				t.Errorf("Appointment.Disposition = %q, want %q", a.Disposition, r.to)
			}
			if a.LadderBeforeOptOut != r.ladder {
				t.Errorf("LadderBeforeOptOut = %q, want %q", a.LadderBeforeOptOut, r.ladder)
			}
			if a.RemindersSent != r.sent {
				t.Errorf("RemindersSent = %d, want %d", a.RemindersSent, r.sent)
			}
			if a.Confirmed != r.confirmed {
				t.Errorf("Confirmed = %v, want %v", a.Confirmed, r.confirmed)
			}
			if !r.applied {
				if !reflect.DeepEqual(a, cur) {
					t.Errorf("not applied, yet the appointment changed:\n got %+v\nwant %+v", a, cur)
				}
				return
			}
			wantVersion := int64(1)
			if cur != nil {
				wantVersion = cur.Version + 1
			}
			if a.Version != wantVersion {
				t.Errorf("Version = %d, want %d", a.Version, wantVersion)
			}
			if a.EventID != e.EventID || a.EventType != r.ev {
				t.Errorf("last event = %q/%q, want %q/%q", a.EventID, a.EventType, e.EventID, r.ev)
			}
			if !a.UpdatedAt.Equal(ctx.Now) {
				t.Errorf("UpdatedAt = %v, want %v", a.UpdatedAt, ctx.Now)
			}
			wantCreated := tLastEHR
			if cur == nil {
				wantCreated = ctx.Now
			}
			if !a.CreatedAt.Equal(wantCreated) {
				t.Errorf("CreatedAt = %v, want %v", a.CreatedAt, wantCreated)
			}
			if r.ev.FromEHR() {
				if !a.LastEHREventAt.Equal(tEvent) {
					t.Errorf("LastEHREventAt = %v, want %v", a.LastEHREventAt, tEvent)
				}
				if a.Source == nil || a.Source.MessageControlID != e.Source.MessageControlID {
					t.Errorf("Source not merged: %+v", a.Source)
				}
			} else if !a.LastEHREventAt.Equal(cur.LastEHREventAt) {
				t.Errorf("a %s event moved LastEHREventAt to %v", r.ev, a.LastEHREventAt)
			}
		})
	}
}
