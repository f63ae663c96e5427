package store_test

import (
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

func TestReminderPlanChange(t *testing.T) {
	at := time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)
	appt := func(d apptbridge.Disposition, start time.Time, phone string) *apptbridge.Appointment {
		a := &apptbridge.Appointment{Disposition: d}
		a.AppointmentDatetimeUTC, a.PatientPhone = start, phone
		return a
	}
	queued := appt(apptbridge.DispQueued, at, "+13125550100")
	for _, c := range []struct {
		name   string
		cur    *apptbridge.Appointment
		ev     apptbridge.EventType
		next   *apptbridge.Appointment
		notApp bool
		want   store.PlanChange
		reason string
	}{
		{"new booking", nil, apptbridge.Booked, queued, false, store.PlanReplace, "replanned"},
		{"not applied", queued, apptbridge.Booked, queued, true, store.PlanKeep, ""},
		{"modified, same time and phone", queued, apptbridge.Modified, queued, false, store.PlanKeep, ""},
		{"new time", queued, apptbridge.Modified, appt(apptbridge.DispQueued, at.Add(time.Hour), "+13125550100"), false, store.PlanReplace, "replanned"},
		{"new phone", queued, apptbridge.Modified, appt(apptbridge.DispQueued, at, "+13125550101"), false, store.PlanReplace, "replanned"},
		{"rescheduled to the same time", queued, apptbridge.Rescheduled, queued, false, store.PlanReplace, "replanned"},
		{"the ladder's own climb", queued, apptbridge.Remind, appt(apptbridge.DispReminded1, at, "+13125550100"), false, store.PlanKeep, ""},
		{"canceled", queued, apptbridge.Canceled, appt(apptbridge.DispCanceled, at, "+13125550100"), false, store.PlanCancel, "appointment CANCELED"},
		{"opted out", queued, apptbridge.OptedOut, appt(apptbridge.DispOptedOut, at, "+13125550100"), false, store.PlanCancel, "appointment OPTED-OUT"},
		{"already off the ladder", appt(apptbridge.DispCanceled, at, ""), apptbridge.Noshowed, appt(apptbridge.DispNoshowed, at, ""), false, store.PlanKeep, ""},
		{"opted back in", appt(apptbridge.DispOptedOut, at, "+13125550100"), apptbridge.OptedIn, queued, false, store.PlanReplace, "replanned"},
	} {
		o := apptbridge.Outcome{Applied: !c.notApp, Appointment: c.next}
		got, reason := store.ReminderPlanChange(c.cur, &apptbridge.Event{EventType: c.ev}, o)
		if got != c.want || reason != c.reason {
			t.Errorf("%s: got %v %q, want %v %q", c.name, got, reason, c.want, c.reason)
		}
	}
}
