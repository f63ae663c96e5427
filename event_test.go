package apptbridge_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST tests must not depend on the host's zoneinfo

	"github.com/google/uuid"

	"github.com/apptbridge/apptbridge"
)

func chicago(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func fullEvent(t *testing.T) apptbridge.Event {
	e := apptbridge.Event{
		EventID:                    "01936a2e-7c00-7000-8000-000000000001",
		EventType:                  apptbridge.Booked,
		EventDatetimeUTC:           time.Date(2026, 11, 27, 14, 3, 0, 0, time.UTC),
		PatientID:                  "1000",
		PatientFirstName:           "Jane",
		PatientLastName:            "Doe",
		PatientPhone:               "+13125550199",
		PatientLanguage:            "es",
		ProviderID:                 "afauci",
		ProviderFirstName:          "Anthony",
		ProviderLastName:           "Diaz",
		ProviderCallbackPhone:      "+18005552222",
		AppointmentID:              "20000",
		AppointmentPlacerID:        "20000",
		AppointmentFillerID:        "F-20000",
		AppointmentLocation:        "Pacific Primary Care",
		AppointmentLocationCode:    "PPC",
		AppointmentDurationMinutes: 30,
		AppointmentType:            "FOLLOWUP",
		AppointmentReason:          "checkup",
		AppointmentStatus:          "Booked",
		Source: &apptbridge.Source{
			Channel:            apptbridge.ChannelMLLP,
			MessageControlID:   "MSG00001",
			MessageType:        "SIU^S12",
			SendingApplication: "EPIC",
			SendingFacility:    "CLINIC",
			ReceivedAt:         time.Date(2026, 11, 27, 14, 3, 1, 0, time.UTC),
		},
	}
	e.SetAppointmentTime(time.Date(2026, 12, 1, 15, 0, 0, 0, chicago(t)), chicago(t))
	return e
}

// TestEventJSON pins the canonical event's JSON (SPEC §4): the field
// names, their order and the time formats.
func TestEventJSON(t *testing.T) {
	e := fullEvent(t)
	got, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{` +
		`"event_id":"01936a2e-7c00-7000-8000-000000000001",` +
		`"event_type":"BOOKED",` +
		`"event_datetime_utc":"2026-11-27T14:03:00Z",` +
		`"patient_id":"1000",` +
		`"patient_first_name":"Jane",` +
		`"patient_last_name":"Doe",` +
		`"patient_phone":"+13125550199",` +
		`"patient_language":"es",` +
		`"provider_id":"afauci",` +
		`"provider_first_name":"Anthony",` +
		`"provider_last_name":"Diaz",` +
		`"provider_callback_phone":"+18005552222",` +
		`"appointment_id":"20000",` +
		`"appointment_placer_id":"20000",` +
		`"appointment_filler_id":"F-20000",` +
		`"appointment_location":"Pacific Primary Care",` +
		`"appointment_location_code":"PPC",` +
		`"appointment_datetime":"2026-12-01T15:00:00",` +
		`"appointment_timezone":"-0600",` +
		`"appointment_tz":"America/Chicago",` +
		`"appointment_datetime_utc":"2026-12-01T21:00:00Z",` +
		`"appointment_duration_minutes":30,` +
		`"appointment_type":"FOLLOWUP",` +
		`"appointment_reason":"checkup",` +
		`"appointment_status":"Booked",` +
		`"source":{` +
		`"channel":"mllp",` +
		`"message_control_id":"MSG00001",` +
		`"message_type":"SIU^S12",` +
		`"sending_application":"EPIC",` +
		`"sending_facility":"CLINIC",` +
		`"received_at":"2026-11-27T14:03:01Z"}` +
		`}`
	if string(got) != want {
		t.Fatalf("JSON:\n got %s\nwant %s", got, want)
	}

	var back apptbridge.Event
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, e) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, e)
	}
}

func TestEventJSONMinimal(t *testing.T) {
	e := apptbridge.Event{EventID: "x", EventType: apptbridge.Remind, AppointmentID: "20000"}
	got, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"event_id":"x","event_type":"REMIND","appointment_id":"20000"}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// TestEventJSONOriginal decodes the original app's JSON (ORIGINAL.md §1,
// the simulation's example) unchanged.
func TestEventJSONOriginal(t *testing.T) {
	in := `{"event_type":"BOOKED","event_datetime_utc":"2021-07-01T18:00:00Z","patient_id":"1000",` +
		`"patient_first_name":"Jane","patient_last_name":"Doe","patient_phone":"+12223334444",` +
		`"provider_id":"afauci","provider_first_name":"Anthony","provider_last_name":"Diaz",` +
		`"provider_callback_phone":"(800) 555-2222","appointment_location":"Pacific Primary Care",` +
		`"appointment_id":"20000","appointment_timezone":"-0700","appointment_datetime":"2021-07-01T15:00:00"}`
	var e apptbridge.Event
	if err := json.Unmarshal([]byte(in), &e); err != nil {
		t.Fatal(err)
	}
	if e.EventType != apptbridge.Booked || e.AppointmentID != "20000" || e.PatientPhone != "+12223334444" ||
		e.AppointmentTimezone != "-0700" || e.AppointmentDatetime != "2021-07-01T15:00:00" ||
		!e.EventDatetimeUTC.Equal(time.Date(2021, 7, 1, 18, 0, 0, 0, time.UTC)) {
		t.Fatalf("got %+v", e)
	}
}

// TestAppointmentJSON: an appointment is one flat object, the event's
// fields plus the state machine's.
func TestAppointmentJSON(t *testing.T) {
	a := apptbridge.Appointment{Event: fullEvent(t), Disposition: apptbridge.DispReminded1,
		Confirmed: true, RemindersSent: 1, Version: 4}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"appointment_id": "20000", "disposition": "REMINDED-1",
		"confirmed": true, "reminders_sent": 1.0, "version": 4.0, "appointment_tz": "America/Chicago"} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	for _, k := range []string{"Event", "ladder_before_opt_out", "last_ehr_event_at"} {
		if _, ok := m[k]; ok {
			t.Errorf("unexpected key %q in %s", k, b)
		}
	}
	var back apptbridge.Appointment
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, a) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, a)
	}
}

func TestSetAppointmentTime(t *testing.T) {
	loc := chicago(t)
	tests := []struct {
		name    string
		in      time.Time
		local   string
		offset  string
		utc     string
		zoneArg *time.Location
	}{
		{"July is CDT", time.Date(2026, 7, 15, 15, 0, 0, 0, loc),
			"2026-07-15T15:00:00", "-0500", "2026-07-15T20:00:00Z", loc},
		{"December is CST", time.Date(2026, 12, 1, 15, 0, 0, 0, loc),
			"2026-12-01T15:00:00", "-0600", "2026-12-01T21:00:00Z", loc},
		{"instant given in UTC", time.Date(2026, 7, 15, 20, 0, 0, 0, time.UTC),
			"2026-07-15T15:00:00", "-0500", "2026-07-15T20:00:00Z", loc},
		{"instant given in another zone", time.Date(2026, 12, 1, 22, 0, 0, 0, time.FixedZone("EST", -5*3600)),
			"2026-12-01T21:00:00", "-0600", "2026-12-02T03:00:00Z", loc},
		// 1:30 happens twice on 2026-11-01 in Chicago.
		{"first 1:30 on fall-back day", time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC),
			"2026-11-01T01:30:00", "-0500", "2026-11-01T06:30:00Z", loc},
		{"second 1:30 on fall-back day", time.Date(2026, 11, 1, 7, 30, 0, 0, time.UTC),
			"2026-11-01T01:30:00", "-0600", "2026-11-01T07:30:00Z", loc},
		{"half-hour zone", time.Date(2026, 1, 10, 4, 0, 0, 0, time.UTC),
			"2026-01-10T09:30:00", "+0530", "2026-01-10T04:00:00Z", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			zone := tt.zoneArg
			if zone == nil {
				var err error
				if zone, err = time.LoadLocation("Asia/Kolkata"); err != nil {
					t.Fatal(err)
				}
			}
			var e apptbridge.Event
			e.SetAppointmentTime(tt.in, zone)
			if e.AppointmentDatetime != tt.local || e.AppointmentTimezone != tt.offset ||
				e.AppointmentTZ != zone.String() {
				t.Errorf("got %q %q %q, want %q %q %q", e.AppointmentDatetime, e.AppointmentTimezone,
					e.AppointmentTZ, tt.local, tt.offset, zone.String())
			}
			if got := e.AppointmentDatetimeUTC.Format(time.RFC3339); got != tt.utc {
				t.Errorf("UTC = %s, want %s", got, tt.utc)
			}
			if e.AppointmentDatetimeUTC.Location() != time.UTC {
				t.Errorf("AppointmentDatetimeUTC location = %v", e.AppointmentDatetimeUTC.Location())
			}
			// The local fields parse back to the same instant.
			back, err := time.Parse(apptbridge.LocalLayout+"-0700", e.AppointmentDatetime+e.AppointmentTimezone)
			if err != nil || !back.Equal(tt.in) {
				t.Errorf("local fields give %v (%v), want %v", back, err, tt.in)
			}
			b, _ := json.Marshal(e)
			if !strings.Contains(string(b), `"appointment_datetime_utc":"`+tt.utc+`"`) {
				t.Errorf("JSON %s lacks the UTC time %s", b, tt.utc)
			}
		})
	}
	t.Run("tz name", func(t *testing.T) {
		var e apptbridge.Event
		e.SetAppointmentTime(time.Date(2026, 7, 15, 20, 0, 0, 0, time.UTC), loc)
		if e.AppointmentTZ != "America/Chicago" {
			t.Errorf("AppointmentTZ = %q", e.AppointmentTZ)
		}
	})
	t.Run("monotonic reading stripped", func(t *testing.T) {
		var e apptbridge.Event
		now := time.Now()
		e.SetAppointmentTime(now, loc)
		if e.AppointmentDatetimeUTC != now.Round(0).UTC() {
			t.Errorf("AppointmentDatetimeUTC = %#v", e.AppointmentDatetimeUTC)
		}
	})
}

func TestEventTypes(t *testing.T) {
	ehr := map[apptbridge.EventType]bool{"BOOKED": true, "RESCHEDULED": true, "MODIFIED": true,
		"CONFIRMED": true, "CANCELED": true, "NOSHOWED": true}
	all := []apptbridge.EventType{"BOOKED", "RESCHEDULED", "MODIFIED", "CONFIRMED", "CANCELED",
		"NOSHOWED", "CONFIRM", "CANCEL", "OPTED-OUT", "OPTED-IN", "REMIND", "EXPIRE"}
	if !reflect.DeepEqual(apptbridge.EventTypes, all) {
		t.Fatalf("EventTypes = %v", apptbridge.EventTypes)
	}
	for _, typ := range all {
		if !typ.Valid() {
			t.Errorf("%s not valid", typ)
		}
		if typ.FromEHR() != ehr[typ] {
			t.Errorf("%s.FromEHR() = %v", typ, typ.FromEHR())
		}
	}
	for _, typ := range []apptbridge.EventType{"", "booked", "NOSHOW", "REMINDED-1", "OPTED_OUT"} {
		if typ.Valid() || typ.FromEHR() {
			t.Errorf("%q accepted", typ)
		}
	}
	wantDisp := []apptbridge.Disposition{"QUEUED", "REMINDED-1", "REMINDED-2", "CANCELED",
		"NOSHOWED", "EXPIRED", "OPTED-OUT"}
	if !reflect.DeepEqual(apptbridge.Dispositions, wantDisp) {
		t.Errorf("Dispositions = %v", apptbridge.Dispositions)
	}
}

func TestNewEventID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s := apptbridge.NewEventID()
		id, err := uuid.Parse(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if id.Version() != 7 {
			t.Fatalf("%q is version %d, want 7", s, id.Version())
		}
		if seen[s] {
			t.Fatalf("%q twice", s)
		}
		seen[s] = true
	}
}
