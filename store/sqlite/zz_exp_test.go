package sqlite

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

func expData() (*apptbridge.Event, *apptbridge.Appointment) {
	in := testInbound("B1-01", apptbridge.Booked)
	ev := store.NormalizeEvent(in.Event)
	ev.PatientFirstName, ev.PatientLastName = "Jane", "Doe"
	ev.ProviderID, ev.ProviderFirstName, ev.ProviderLastName = "PR-1", "John", "Smith"
	ev.AppointmentLocation, ev.AppointmentType = "Main clinic", "Follow-up"
	ev.AppointmentDurationMinutes = 30
	ev.Source = &apptbridge.Source{Channel: "mllp", MessageControlID: "T1", MessageType: "SIU^S12", SendingApplication: "EHR", SendingFacility: "CLINIC", ReceivedAt: time.Now().UTC().Truncate(time.Microsecond)}
	o := apptbridge.Apply(nil, ev, apptbridge.ApplyContext{Now: time.Now().UTC().Truncate(time.Microsecond)})
	return ev, o.Appointment
}

func BenchmarkExpMarshalEvent(b *testing.B) {
	ev, _ := expData()
	b.ReportAllocs()
	for b.Loop() {
		json.Marshal(ev)
	}
}
func BenchmarkExpMarshalAppt(b *testing.B) {
	_, a := expData()
	x, _ := json.Marshal(a)
	b.Log(len(x))
	b.ReportAllocs()
	for b.Loop() {
		json.Marshal(a)
	}
}
func BenchmarkExpUnmarshalAppt(b *testing.B) {
	_, a := expData()
	x, _ := json.Marshal(a)
	b.ReportAllocs()
	for b.Loop() {
		var c apptbridge.Appointment
		json.Unmarshal(x, &c)
	}
}
