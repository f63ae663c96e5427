package mapping

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/google/uuid"
)

// simulationPayload is the original's simulation-event.js body
// (ORIGINAL.md §1) verbatim, with its three inputs filled in: the
// patient's first name and phone, and appointment_datetime as the
// original computes it (an ISO string with Z that is really local time).
const simulationPayload = `{"event_type":"BOOKED","event_datetime_utc":"2021-06-30T22:00:00.123Z","patient_id":"1000","patient_first_name":"Jane","patient_last_name":"Doe","patient_phone":"(312) 555-0199","provider_id":"afauci","provider_first_name":"Anthony","provider_last_name":"Diaz","provider_callback_phone":"(800) 555-2222","appointment_location":"Pacific Primary Care","appointment_id":"20000","appointment_timezone":"-0700","appointment_datetime":"2021-07-01T15:00:00.000Z"}`

// hlsEHRPayload is bochoi-twlo/hls-ehr's
// assets/ehr/mirth/twilio_inbound_payload_template.json verbatim.
const hlsEHRPayload = `{
"event_type": "BOOKED",
"event_datetime_utc": "2021-05-04T19:41:19Z",
"patient_id": "1000",
"patient_first_name": "Jame",
"patient_last_name": "Doe",
"patient_phone": "1112223333",
"provider_id": "afauci",
"provider_first_name": "Anthony",
"provider_last_name": "Fauci",
"provider_callback_phone": "8001112222",
"appointment_location": "Cloud City Healthcare Clinic",
"appointment_id": "2000",
"appointment_timezone": "-0700",
"appointment_date": "2021-05-05",
"appointment_datetime": "2021-05-05T12:00:00.000Z",
"appointment_month": "May",
"appointment_day_of_week": "Wednesday",
"appointment_time_of_day": "12:00 PM"
}
`

var testNow = time.Date(2021, 6, 30, 22, 0, 5, 0, time.UTC)

func testOpts(tz string) JSONOptions {
	return JSONOptions{
		DefaultTimezone: tz,
		DefaultCountry:  "US",
		Now:             func() time.Time { return testNow },
		Location: func(code string) (string, string, string, bool) {
			switch code {
			case "PEDS":
				return "Pediatrics, 2nd floor", "+13125550100", "America/Chicago", true
			case "NOZONE":
				return "Annex", "", "", true
			case "BADZONE":
				return "Annex", "not a phone", "Nowhere/Town", true
			}
			return "", "", "", false
		},
	}
}

func mustUTC(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v.UTC()
}

func fieldsOf(errs FieldErrors) []string {
	out := []string{}
	for _, e := range errs {
		out = append(out, e.Field)
	}
	return out
}

const del = "\x00delete"

// payload returns base (a JSON object) with changes applied: a value of
// del removes the key, nil writes null, anything else is marshaled.
func payload(t testing.TB, base string, changes map[string]any) []byte {
	t.Helper()
	m := map[string]any{}
	if err := json.Unmarshal([]byte(base), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range changes {
		if v == del {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeJSONOriginalSimulation(t *testing.T) {
	ev, errs := DecodeJSON([]byte(simulationPayload), testOpts("America/Los_Angeles"))
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	id, err := uuid.Parse(ev.EventID)
	if err != nil || id.Version() != 7 {
		t.Errorf("event_id %q: not a UUIDv7 (%v)", ev.EventID, err)
	}
	want := apptbridge.Event{
		EventID:                ev.EventID,
		EventType:              apptbridge.Booked,
		EventDatetimeUTC:       mustUTC(t, "2021-06-30T22:00:00.123Z"),
		PatientID:              "1000",
		PatientFirstName:       "Jane",
		PatientLastName:        "Doe",
		PatientPhone:           "+13125550199",
		ProviderID:             "afauci",
		ProviderFirstName:      "Anthony",
		ProviderLastName:       "Diaz",
		ProviderCallbackPhone:  "+18005552222",
		AppointmentID:          "20000",
		AppointmentLocation:    "Pacific Primary Care",
		AppointmentDatetime:    "2021-07-01T15:00:00",
		AppointmentTimezone:    "-0700",
		AppointmentTZ:          "America/Los_Angeles",
		AppointmentDatetimeUTC: mustUTC(t, "2021-07-01T22:00:00Z"),
		Source:                 &apptbridge.Source{Channel: "http", ReceivedAt: testNow},
	}
	if !reflect.DeepEqual(*ev, want) {
		t.Errorf("got  %+v\nwant %+v", *ev, want)
	}

	// Same instant with a default zone whose offset differs: -0700 is kept,
	// no IANA zone is invented.
	ev, errs = DecodeJSON([]byte(simulationPayload), testOpts("America/New_York"))
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if ev.AppointmentDatetime != "2021-07-01T15:00:00" || ev.AppointmentTimezone != "-0700" || ev.AppointmentTZ != "" ||
		!ev.AppointmentDatetimeUTC.Equal(mustUTC(t, "2021-07-01T22:00:00Z")) {
		t.Errorf("New York default: %s %s %q %s", ev.AppointmentDatetime, ev.AppointmentTimezone, ev.AppointmentTZ, ev.AppointmentDatetimeUTC)
	}

	// test-deployment.private.js sends all six EHR types with the same body.
	for _, typ := range []string{"BOOKED", "RESCHEDULED", "MODIFIED", "CONFIRMED", "CANCELED", "NOSHOWED"} {
		ev, errs := DecodeJSON(payload(t, simulationPayload, map[string]any{"event_type": typ}), testOpts(""))
		if len(errs) > 0 {
			t.Errorf("%s: %v", typ, errs)
			continue
		}
		if string(ev.EventType) != typ || !ev.AppointmentDatetimeUTC.Equal(mustUTC(t, "2021-07-01T22:00:00Z")) {
			t.Errorf("%s: got %s at %s", typ, ev.EventType, ev.AppointmentDatetimeUTC)
		}
	}
}

func TestDecodeJSONHLSEHRMirth(t *testing.T) {
	// The template's phones are placeholders that are not NANP numbers
	// (area code 111, exchange 111): exactly those two fields fail.
	_, errs := DecodeJSON([]byte(hlsEHRPayload), testOpts(""))
	if got, want := fieldsOf(errs), []string{"patient_phone", "provider_callback_phone"}; !slices.Equal(got, want) {
		t.Fatalf("fields %v, want %v (%v)", got, want, errs)
	}
	// The same shape with real-looking national numbers (no +).
	b := strings.NewReplacer(`"1112223333"`, `"3125550199"`, `"8001112222"`, `"8005552222"`).Replace(hlsEHRPayload)
	ev, errs := DecodeJSON([]byte(b), testOpts("America/Phoenix"))
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if ev.PatientPhone != "+13125550199" || ev.ProviderCallbackPhone != "+18005552222" {
		t.Errorf("phones %q %q", ev.PatientPhone, ev.ProviderCallbackPhone)
	}
	// "2021-05-05T12:00:00.000Z" with "-0700" is noon at -0700: 19:00Z.
	if !ev.AppointmentDatetimeUTC.Equal(mustUTC(t, "2021-05-05T19:00:00Z")) || ev.AppointmentDatetime != "2021-05-05T12:00:00" ||
		ev.AppointmentTimezone != "-0700" || ev.AppointmentTZ != "America/Phoenix" {
		t.Errorf("time: %s %s %q %s", ev.AppointmentDatetime, ev.AppointmentTimezone, ev.AppointmentTZ, ev.AppointmentDatetimeUTC)
	}
	if !ev.EventDatetimeUTC.Equal(mustUTC(t, "2021-05-04T19:41:19Z")) {
		t.Errorf("event_datetime_utc %s", ev.EventDatetimeUTC)
	}
}

// minimal is a valid event with only what is required.
const minimal = `{"event_type":"BOOKED","patient_id":"1000","appointment_id":"2000","appointment_datetime":"2026-12-01T15:00:00"}`

func TestDecodeJSONRules(t *testing.T) {
	long := func(n int) string { return strings.Repeat("é", n) }
	tests := []struct {
		name    string
		changes map[string]any
		fields  []string // exactly these field errors; nil = valid
		check   func(*apptbridge.Event) bool
	}{
		// event_type
		{"type lower case", map[string]any{"event_type": "booked"}, nil, func(e *apptbridge.Event) bool { return e.EventType == apptbridge.Booked }},
		{"type spaces", map[string]any{"event_type": " modified "}, nil, func(e *apptbridge.Event) bool { return e.EventType == apptbridge.Modified }},
		{"type CANCELLED", map[string]any{"event_type": "Cancelled"}, nil, func(e *apptbridge.Event) bool { return e.EventType == apptbridge.Canceled }},
		{"type NOSHOW", map[string]any{"event_type": "NOSHOW"}, nil, func(e *apptbridge.Event) bool { return e.EventType == apptbridge.Noshowed }},
		{"type missing", map[string]any{"event_type": del}, []string{"event_type"}, nil},
		{"type null", map[string]any{"event_type": nil}, []string{"event_type"}, nil},
		{"type empty", map[string]any{"event_type": ""}, []string{"event_type"}, nil},
		{"type patient", map[string]any{"event_type": "CONFIRM"}, []string{"event_type"}, nil},
		{"type system", map[string]any{"event_type": "REMIND"}, []string{"event_type"}, nil},
		{"type opted-out", map[string]any{"event_type": "OPTED-OUT"}, []string{"event_type"}, nil},
		{"type unknown", map[string]any{"event_type": "DELETED"}, []string{"event_type"}, nil},
		{"type number", map[string]any{"event_type": 12}, []string{"event_type"}, nil},
		{"type bool", map[string]any{"event_type": true}, []string{"event_type"}, nil},
		// event_id
		{"id upper case v7", map[string]any{"event_id": "0192F6E4-7B1A-7C3E-9F00-123456789ABC"}, nil,
			func(e *apptbridge.Event) bool { return e.EventID == "0192f6e4-7b1a-7c3e-9f00-123456789abc" }},
		{"id v4", map[string]any{"event_id": "6ba7b810-9dad-41d1-80b4-00c04fd430c8"}, nil,
			func(e *apptbridge.Event) bool { return e.EventID == "6ba7b810-9dad-41d1-80b4-00c04fd430c8" }},
		{"id absent generated", map[string]any{"event_id": nil}, nil, func(e *apptbridge.Event) bool { return len(e.EventID) == 36 }},
		{"id not uuid", map[string]any{"event_id": "evt-1"}, []string{"event_id"}, nil},
		{"id braces", map[string]any{"event_id": "{6ba7b810-9dad-41d1-80b4-00c04fd430c8}"}, []string{"event_id"}, nil},
		{"id urn", map[string]any{"event_id": "urn:uuid:6ba7b810-9dad-41d1-80b4-00c04fd430c8"}, []string{"event_id"}, nil},
		{"id no hyphens", map[string]any{"event_id": "6ba7b8109dad41d180b400c04fd430c8"}, []string{"event_id"}, nil},
		{"id nil uuid", map[string]any{"event_id": "00000000-0000-0000-0000-000000000000"}, []string{"event_id"}, nil},
		{"id number", map[string]any{"event_id": 7}, []string{"event_id"}, nil},
		// event_datetime_utc
		{"event time offset", map[string]any{"event_datetime_utc": "2026-11-27T14:03:00+02:00"}, nil,
			func(e *apptbridge.Event) bool {
				return e.EventDatetimeUTC.Equal(time.Date(2026, 11, 27, 12, 3, 0, 0, time.UTC))
			}},
		{"event time nanos", map[string]any{"event_datetime_utc": "2026-11-27T14:03:00.123456789Z"}, nil,
			func(e *apptbridge.Event) bool { return e.EventDatetimeUTC.Nanosecond() == 123456789 }},
		{"event time absent", map[string]any{"event_datetime_utc": del}, nil, func(e *apptbridge.Event) bool { return e.EventDatetimeUTC.Equal(testNow) }},
		{"event time no zone", map[string]any{"event_datetime_utc": "2026-11-27T14:03:00"}, []string{"event_datetime_utc"}, nil},
		{"event time no seconds", map[string]any{"event_datetime_utc": "2026-11-27T14:03Z"}, []string{"event_datetime_utc"}, nil},
		{"event time date only", map[string]any{"event_datetime_utc": "2026-11-27"}, []string{"event_datetime_utc"}, nil},
		{"event time words", map[string]any{"event_datetime_utc": "yesterday"}, []string{"event_datetime_utc"}, nil},
		{"event time 1899", map[string]any{"event_datetime_utc": "1899-12-31T23:59:59Z"}, []string{"event_datetime_utc"}, nil},
		{"event time month 13", map[string]any{"event_datetime_utc": "2026-13-01T00:00:00Z"}, []string{"event_datetime_utc"}, nil},
		// patient_id, appointment_id
		{"patient id number", map[string]any{"patient_id": 1000}, nil, func(e *apptbridge.Event) bool { return e.PatientID == "1000" }},
		{"patient id trimmed", map[string]any{"patient_id": "  MRN 1000 "}, nil, func(e *apptbridge.Event) bool { return e.PatientID == "MRN 1000" }},
		{"patient id unicode", map[string]any{"patient_id": "Ñ-1000"}, nil, nil},
		{"patient id 64", map[string]any{"patient_id": long(64)}, nil, nil},
		{"patient id 65", map[string]any{"patient_id": long(65)}, []string{"patient_id"}, nil},
		{"patient id missing", map[string]any{"patient_id": del}, []string{"patient_id"}, nil},
		{"patient id blank", map[string]any{"patient_id": "   "}, []string{"patient_id"}, nil},
		{"patient id NUL", map[string]any{"patient_id": "10\u000000"}, []string{"patient_id"}, nil},
		{"patient id NBSP", map[string]any{"patient_id": "10\u00a000"}, []string{"patient_id"}, nil},
		{"patient id object", map[string]any{"patient_id": map[string]any{"id": "1"}}, []string{"patient_id"}, nil},
		{"patient id array", map[string]any{"patient_id": []any{"1"}}, []string{"patient_id"}, nil},
		{"appointment id missing", map[string]any{"appointment_id": del}, []string{"appointment_id"}, nil},
		{"appointment id tab", map[string]any{"appointment_id": "20\t00"}, []string{"appointment_id"}, nil},
		{"appointment id 65", map[string]any{"appointment_id": strings.Repeat("9", 65)}, []string{"appointment_id"}, nil},
		// names and text
		{"names unicode", map[string]any{"patient_first_name": "José Ñúñez", "patient_last_name": "O'Brien-李", "provider_first_name": "Zoë", "provider_last_name": "Ørsted"}, nil,
			func(e *apptbridge.Event) bool {
				return e.PatientFirstName == "José Ñúñez" && e.PatientLastName == "O'Brien-李"
			}},
		{"name 100", map[string]any{"patient_last_name": long(100)}, nil, nil},
		{"name 101", map[string]any{"patient_last_name": long(101)}, []string{"patient_last_name"}, nil},
		{"name newline", map[string]any{"patient_first_name": "Jane\nDoe"}, []string{"patient_first_name"}, nil},
		{"name line separator", map[string]any{"provider_first_name": "A\u2028B"}, []string{"provider_first_name"}, nil},
		{"name DEL", map[string]any{"provider_last_name": "A\u007fB"}, []string{"provider_last_name"}, nil},
		{"name bool", map[string]any{"patient_first_name": false}, []string{"patient_first_name"}, nil},
		{"location comma equals", map[string]any{"appointment_location": "Suite 5, Bldg B=2"}, nil,
			func(e *apptbridge.Event) bool { return e.AppointmentLocation == "Suite 5, Bldg B=2" }},
		{"location 201", map[string]any{"appointment_location": long(201)}, []string{"appointment_location"}, nil},
		{"type reason status", map[string]any{"appointment_type": "Follow-up", "appointment_reason": "Cough, 3 days", "appointment_status": "Booked"}, nil,
			func(e *apptbridge.Event) bool {
				return e.AppointmentType == "Follow-up" && e.AppointmentReason == "Cough, 3 days" && e.AppointmentStatus == "Booked"
			}},
		{"type 201", map[string]any{"appointment_type": long(201)}, []string{"appointment_type"}, nil},
		{"reason control", map[string]any{"appointment_reason": "a\u0001b"}, []string{"appointment_reason"}, nil},
		{"status 201", map[string]any{"appointment_status": long(201)}, []string{"appointment_status"}, nil},
		{"provider id", map[string]any{"provider_id": 42}, nil, func(e *apptbridge.Event) bool { return e.ProviderID == "42" }},
		{"provider id 65", map[string]any{"provider_id": long(65)}, []string{"provider_id"}, nil},
		{"placer filler code", map[string]any{"appointment_placer_id": "P1", "appointment_filler_id": "F1", "appointment_location_code": "CLINIC-1"}, nil,
			func(e *apptbridge.Event) bool {
				return e.AppointmentPlacerID == "P1" && e.AppointmentFillerID == "F1" && e.AppointmentLocationCode == "CLINIC-1"
			}},
		{"placer 65", map[string]any{"appointment_placer_id": long(65)}, []string{"appointment_placer_id"}, nil},
		{"filler control", map[string]any{"appointment_filler_id": "F\r1"}, []string{"appointment_filler_id"}, nil},
		{"location code 65", map[string]any{"appointment_location_code": long(65)}, []string{"appointment_location_code"}, nil},
		// phones
		{"phone national", map[string]any{"patient_phone": "3125550199"}, nil, func(e *apptbridge.Event) bool { return e.PatientPhone == "+13125550199" }},
		{"phone number type", map[string]any{"patient_phone": 3125550199}, nil, func(e *apptbridge.Event) bool { return e.PatientPhone == "+13125550199" }},
		{"phone E.164 foreign", map[string]any{"patient_phone": "+44 20 7946 0000"}, nil, func(e *apptbridge.Event) bool { return e.PatientPhone == "+442079460000" }},
		{"phone empty", map[string]any{"patient_phone": ""}, nil, func(e *apptbridge.Event) bool { return e.PatientPhone == "" }},
		{"phone null", map[string]any{"patient_phone": nil}, nil, func(e *apptbridge.Event) bool { return e.PatientPhone == "" }},
		{"phone area 1xx", map[string]any{"patient_phone": "1112223333"}, []string{"patient_phone"}, nil},
		{"phone words", map[string]any{"patient_phone": "call me"}, []string{"patient_phone"}, nil},
		{"phone short", map[string]any{"patient_phone": "555-0199"}, []string{"patient_phone"}, nil},
		{"callback", map[string]any{"provider_callback_phone": "(800) 555-2222"}, nil,
			func(e *apptbridge.Event) bool { return e.ProviderCallbackPhone == "+18005552222" }},
		{"callback bad", map[string]any{"provider_callback_phone": "800-CALL-NOW"}, []string{"provider_callback_phone"}, nil},
		// patient_language
		{"language es-MX", map[string]any{"patient_language": "es-MX"}, nil, func(e *apptbridge.Event) bool { return e.PatientLanguage == "es" }},
		{"language EN", map[string]any{"patient_language": "EN"}, nil, func(e *apptbridge.Event) bool { return e.PatientLanguage == "en" }},
		{"language en_US", map[string]any{"patient_language": "en_US"}, nil, func(e *apptbridge.Event) bool { return e.PatientLanguage == "en" }},
		{"language zh-Hant-TW", map[string]any{"patient_language": "zh-Hant-TW"}, nil, func(e *apptbridge.Event) bool { return e.PatientLanguage == "zh" }},
		{"language 639-2", map[string]any{"patient_language": "spa"}, []string{"patient_language"}, nil},
		{"language name", map[string]any{"patient_language": "Spanish"}, []string{"patient_language"}, nil},
		{"language one letter", map[string]any{"patient_language": "e"}, []string{"patient_language"}, nil},
		{"language trailing dash", map[string]any{"patient_language": "es-"}, []string{"patient_language"}, nil},
		{"language non-ASCII", map[string]any{"patient_language": "ñe"}, []string{"patient_language"}, nil},
		// duration
		{"duration number", map[string]any{"appointment_duration_minutes": 30}, nil, func(e *apptbridge.Event) bool { return e.AppointmentDurationMinutes == 30 }},
		{"duration string", map[string]any{"appointment_duration_minutes": " 45 "}, nil, func(e *apptbridge.Event) bool { return e.AppointmentDurationMinutes == 45 }},
		{"duration 1440", map[string]any{"appointment_duration_minutes": "1440"}, nil, func(e *apptbridge.Event) bool { return e.AppointmentDurationMinutes == 1440 }},
		{"duration 1", map[string]any{"appointment_duration_minutes": 1}, nil, nil},
		{"duration 0", map[string]any{"appointment_duration_minutes": 0}, []string{"appointment_duration_minutes"}, nil},
		{"duration 1441", map[string]any{"appointment_duration_minutes": 1441}, []string{"appointment_duration_minutes"}, nil},
		{"duration fraction", map[string]any{"appointment_duration_minutes": 30.5}, []string{"appointment_duration_minutes"}, nil},
		{"duration negative", map[string]any{"appointment_duration_minutes": "-5"}, []string{"appointment_duration_minutes"}, nil},
		{"duration words", map[string]any{"appointment_duration_minutes": "30 min"}, []string{"appointment_duration_minutes"}, nil},
		{"duration huge", map[string]any{"appointment_duration_minutes": "99999999999999999999"}, []string{"appointment_duration_minutes"}, nil},
		// unknown keys and source
		{"v1 extras ignored", map[string]any{"appointment_date": "2021-05-05", "appointment_month": "May", "appointment_day_of_week": "Wednesday",
			"appointment_time_of_day": "12:00 PM", "flow_sid": "FW123", "extra": map[string]any{"nested": []any{1, true, nil}}}, nil, nil},
		{"source ignored", map[string]any{"source": map[string]any{"channel": "mllp", "received_at": "2000-01-01T00:00:00Z"}}, nil,
			func(e *apptbridge.Event) bool {
				return e.Source.Channel == "http" && e.Source.ReceivedAt.Equal(testNow)
			}},
		{"source wrong type ignored", map[string]any{"source": 5}, nil, nil},
		// several at once
		{"several", map[string]any{"event_type": "CONFIRM", "patient_id": del, "patient_phone": "123", "patient_language": "Spanish",
			"appointment_datetime": "tomorrow", "appointment_duration_minutes": 0},
			[]string{"event_type", "patient_id", "patient_phone", "patient_language", "appointment_datetime", "appointment_duration_minutes"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, errs := DecodeJSON(payload(t, minimal, tt.changes), testOpts(""))
			if tt.fields == nil {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				if ev == nil || ev.EventID == "" || ev.Source == nil {
					t.Fatalf("bad event %+v", ev)
				}
				if tt.check != nil && !tt.check(ev) {
					t.Errorf("check failed: %+v", *ev)
				}
				return
			}
			if ev != nil {
				t.Errorf("event returned with errors")
			}
			if got := fieldsOf(errs); !slices.Equal(got, tt.fields) {
				t.Errorf("fields %v, want %v (%v)", got, tt.fields, errs)
			}
			for _, e := range errs {
				if e.Message == "" {
					t.Errorf("%s: empty message", e.Field)
				}
			}
		})
	}
}

func TestDecodeJSONBody(t *testing.T) {
	tests := []struct {
		name, body string
		msg        string // the single error's message contains this
	}{
		{"empty", ``, "unexpected end of input at byte offset 0"},
		{"blank", "  \n", "unexpected end of input at byte offset 3"},
		{"truncated", `{"event_type":`, "unexpected end of input at byte offset 14"},
		{"trailing comma", `{"event_type":"BOOKED",}`, "unexpected character at byte offset 23"},
		{"missing colon", `{"event_type" "BOOKED"}`, "unexpected character at byte offset 14"},
		{"bad escape", `{"patient_id":"a\q"}`, "unexpected character at byte offset 17"},
		{"second object", `{} {}`, "unexpected character at byte offset 3"},
		{"garbage after", "{}\nx", "unexpected character at byte offset 3"},
		{"BOM then garbage", "\xef\xbb\xbf{]", "unexpected character at byte offset 4"},
		{"array", `[{"event_type":"BOOKED"}]`, "one JSON object"},
		{"string", `"BOOKED"`, "one JSON object"},
		{"null", `null`, "one JSON object"},
		{"number", ` 42 `, "one JSON object"},
		{"invalid UTF-8", "{\"patient_id\":\"\xff\"}", "not valid UTF-8 (at byte offset 15)"},
		{"Latin-1 name", "{\"patient_first_name\":\"Jos\xe9\"}", "not valid UTF-8 (at byte offset 26)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, errs := DecodeJSON([]byte(tt.body), testOpts(""))
			if ev != nil || len(errs) != 1 || errs[0].Field != "" || !strings.Contains(errs[0].Message, tt.msg) {
				t.Errorf("got %v %v, want one body error containing %q", ev, errs, tt.msg)
			}
		})
	}
	// A byte order mark is skipped.
	if _, errs := DecodeJSON(append([]byte("\xef\xbb\xbf"), minimal...), testOpts("")); len(errs) > 0 {
		t.Errorf("BOM: %v", errs)
	}
	// Whitespace around the object is fine.
	if _, errs := DecodeJSON([]byte("\r\n "+minimal+"\n"), testOpts("")); len(errs) > 0 {
		t.Errorf("whitespace: %v", errs)
	}
}

func TestDecodeJSONDuplicateKeys(t *testing.T) {
	tests := []struct {
		body   string
		fields []string
	}{
		{`{"event_type":"BOOKED","patient_id":"1","patient_id":"2","appointment_id":"3","appointment_datetime":"2026-12-01T15:00:00"}`, []string{"patient_id"}},
		{`{"event_type":"BOOKED","event_type":"CANCELED","patient_id":"1","appointment_id":"3"}`, []string{"event_type"}},
		// null counts: the key is there twice.
		{`{"event_type":"BOOKED","patient_id":"1","appointment_id":"3","appointment_datetime":"2026-12-01T15:00:00","patient_phone":null,"patient_phone":"3125550199"}`, []string{"patient_phone"}},
		// Keys are compared after unescaping.
		{`{"event_type":"BOOKED","patient_id":"1","pati\u0065nt_id":"2","appointment_id":"3","appointment_datetime":"2026-12-01T15:00:00"}`, []string{"patient_id"}},
		// Unknown keys and source may repeat.
		{`{"event_type":"BOOKED","patient_id":"1","appointment_id":"3","appointment_datetime":"2026-12-01T15:00:00","x":1,"x":2,"source":{},"source":{}}`, nil},
		// Keys are case-sensitive: Patient_ID is an unknown key.
		{`{"event_type":"BOOKED","patient_id":"1","Patient_ID":"2","appointment_id":"3","appointment_datetime":"2026-12-01T15:00:00"}`, nil},
	}
	for i, tt := range tests {
		_, errs := DecodeJSON([]byte(tt.body), testOpts(""))
		if got := fieldsOf(errs); !slices.Equal(got, append([]string{}, tt.fields...)) {
			t.Errorf("%d: fields %v, want %v (%v)", i, got, tt.fields, errs)
		}
	}
}

// TestDecodeJSONNoPHIInErrors plants a canary in every field, each value
// breaking a rule, and checks that no error text contains one.
func TestDecodeJSONNoPHIInErrors(t *testing.T) {
	canary := []string{"CANARY", "1998887777", "99999", "Zork"}
	body := map[string]any{
		"event_id":                     "CANARY-id",
		"event_type":                   "CANARYTYPE",
		"event_datetime_utc":           "CANARY 1999",
		"patient_id":                   "CANARYMRN\u0007",
		"patient_first_name":           "CANARY\nGIVEN",
		"patient_last_name":            strings.Repeat("CANARYNAME", 11),
		"patient_phone":                "1998887777",
		"patient_language":             "CANARYLANG",
		"provider_id":                  strings.Repeat("CANARYDOC", 8),
		"provider_first_name":          "CANARY\u0000",
		"provider_last_name":           "CANARY\u2029X",
		"provider_callback_phone":      "CANARY 1998887777",
		"appointment_id":               "CANARYAPPT\u001b",
		"appointment_placer_id":        "CANARY\u0085X",
		"appointment_filler_id":        "CANARY\u200b",
		"appointment_location":         strings.Repeat("CANARY, Suite=", 15),
		"appointment_location_code":    "CANARY\u00a0X",
		"appointment_datetime":         "CANARY-12-01T15:00:00",
		"appointment_timezone":         "+9999",
		"appointment_tz":               "Zork/CANARY",
		"appointment_datetime_utc":     "CANARY",
		"appointment_duration_minutes": "99999",
		"appointment_type":             strings.Repeat("CANARY", 34),
		"appointment_reason":           "CANARY\u0001",
		"appointment_status":           "CANARY\u007f",
	}
	b, _ := json.Marshal(body)
	ev, errs := DecodeJSON(b, testOpts(""))
	if ev != nil {
		t.Fatal("event returned")
	}
	want := make([]string, 0, len(jsonFieldNames))
	for _, n := range jsonFieldNames {
		want = append(want, n)
	}
	if got := fieldsOf(errs); !slices.Equal(got, want) {
		t.Errorf("fields %v\nwant   %v", got, want)
	}
	texts := []string{errs.Error()}
	for _, e := range errs {
		texts = append(texts, e.Message)
	}
	// Type errors and duplicates too.
	for _, extra := range []string{
		`{"patient_id":{"CANARY":1},"appointment_id":["CANARY"],"event_type":true}`,
		`{"patient_id":"CANARY","patient_id":"CANARY"}`,
		`{"patient_id":"CANARY` + "\xff" + `"}`,
		`{"patient_id":"CANARY"} CANARY`,
		`{"CANARY":1,"patient_id":CANARY}`,
	} {
		_, errs := DecodeJSON([]byte(extra), testOpts(""))
		if len(errs) == 0 {
			t.Errorf("%q: no errors", extra)
		}
		texts = append(texts, errs.Error())
		for _, e := range errs {
			texts = append(texts, e.Field, e.Message)
		}
	}
	for _, s := range texts {
		for _, c := range canary {
			if strings.Contains(s, c) {
				t.Errorf("%q contains %q", s, c)
			}
		}
	}
}

func TestFieldErrors(t *testing.T) {
	_, errs := DecodeJSON([]byte(`{"event_type":"BOOKED"}`), testOpts(""))
	if got, want := errs.Error(), "invalid event: patient_id: required; appointment_id: required; appointment_datetime: required for BOOKED and RESCHEDULED"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var err error = errs
	if apptbridge.ErrorCode(err) != apptbridge.EINVALID {
		t.Errorf("ErrorCode = %q", apptbridge.ErrorCode(err))
	}
	var fe FieldErrors
	if !errors.As(err, &fe) || len(fe) != 3 {
		t.Errorf("errors.As: %v", fe)
	}
	b, _ := json.Marshal(errs[0])
	if string(b) != `{"field":"patient_id","message":"required"}` {
		t.Errorf("JSON %s", b)
	}
	if got := (FieldErrors{{Message: "x"}}).Error(); got != "invalid event: x" {
		t.Errorf("body error text %q", got)
	}
}

func TestJSONOptions(t *testing.T) {
	// Zero options: America/New_York, US, time.Now.
	before := time.Now()
	ev, errs := DecodeJSON([]byte(minimal), JSONOptions{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ev.AppointmentTZ != "America/New_York" || ev.Source.ReceivedAt.Before(before.Add(-time.Second)) || !ev.EventDatetimeUTC.Equal(ev.Source.ReceivedAt) {
		t.Errorf("defaults: %+v %+v", *ev, *ev.Source)
	}
	if ev.Source.ReceivedAt.Location() != time.UTC {
		t.Errorf("received_at not UTC")
	}
	if err := (JSONOptions{}).Validate(); err != nil {
		t.Error(err)
	}
	ev, errs = DecodeJSON(payload(t, minimal, map[string]any{"patient_phone": "020 7946 0000"}), JSONOptions{DefaultCountry: "GB", DefaultTimezone: "Europe/London"})
	if len(errs) > 0 || ev.PatientPhone != "+442079460000" || ev.AppointmentTZ != "Europe/London" {
		t.Errorf("GB: %v %+v", errs, ev)
	}
	for _, o := range []JSONOptions{{DefaultTimezone: "Nowhere/Town"}, {DefaultTimezone: "Local"}, {DefaultCountry: "ZZ"}} {
		if err := o.Validate(); err == nil || apptbridge.ErrorCode(err) != apptbridge.EINVALID {
			t.Errorf("%+v: Validate = %v", o, err)
		}
		ev, errs := DecodeJSON([]byte(minimal), o)
		if ev != nil || len(errs) != 1 || errs[0].Field != "" || !strings.HasPrefix(errs[0].Message, "server configuration") {
			t.Errorf("%+v: %v", o, errs)
		}
	}
}

// TestJSONFieldNames: the decoder knows exactly the JSON names of
// apptbridge.Event (but source), in its order.
func TestJSONFieldNames(t *testing.T) {
	var names []string
	rt := reflect.TypeFor[apptbridge.Event]()
	for i := range rt.NumField() {
		n, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if n != "source" {
			names = append(names, n)
		}
	}
	if !slices.Equal(names, jsonFieldNames[:]) {
		t.Errorf("Event fields %v\ndecoder       %v", names, jsonFieldNames)
	}
}

// TestDecodeJSONRoundTrip: an event marshaled and decoded again is the
// same event.
func TestDecodeJSONRoundTrip(t *testing.T) {
	for _, b := range [][]byte{
		[]byte(simulationPayload),
		payload(t, minimal, map[string]any{"appointment_tz": "America/New_York", "appointment_datetime": "2026-11-01T01:30:00", "appointment_timezone": "-0500",
			"appointment_duration_minutes": 30, "patient_language": "es-MX", "appointment_location_code": "PEDS"}),
		payload(t, minimal, map[string]any{"appointment_timezone": "+1459", "appointment_datetime": "2026-12-01T15:00:00.5"}),
		payload(t, minimal, map[string]any{"event_type": "CANCELED", "appointment_datetime": del}),
	} {
		ev, errs := DecodeJSON(b, testOpts("America/Los_Angeles"))
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		roundTrip(t, ev, testOpts("America/Los_Angeles"))
	}
}

func roundTrip(t *testing.T, ev *apptbridge.Event, o JSONOptions) {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	ev2, errs := DecodeJSON(b, o)
	if len(errs) > 0 {
		t.Fatalf("round trip of %s: %v", b, errs)
	}
	a, c := *ev, *ev2
	a.Source, c.Source = nil, nil
	if !reflect.DeepEqual(a, c) {
		t.Errorf("round trip of %s:\ngot  %+v\nwant %+v", b, c, a)
	}
}

func TestDecodeJSONConcurrent(t *testing.T) {
	zones := []string{"America/Chicago", "Europe/Berlin", "Asia/Tokyo", "Australia/Sydney", "America/Sao_Paulo"}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				z := zones[(i+j)%len(zones)]
				ev, errs := DecodeJSON(payload(t, minimal, map[string]any{"appointment_tz": z}), JSONOptions{DefaultTimezone: zones[j%len(zones)]})
				if len(errs) > 0 || ev.AppointmentTZ != z {
					t.Errorf("%s: %v", z, errs)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// FuzzDecodeJSON: DecodeJSON never panics; it returns either an event
// with the required fields or at least one error naming a known field;
// an accepted event has consistent time fields and survives a round trip.
func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(simulationPayload))
	f.Add([]byte(hlsEHRPayload))
	f.Add([]byte(minimal))
	f.Add([]byte(`{"event_type":"noshow","patient_id":1,"appointment_id":2,"appointment_datetime_utc":"2026-11-01T06:30:00Z","appointment_tz":"America/New_York","appointment_datetime":"2026-11-01T01:30:00"}`))
	f.Add([]byte(`{"event_type":"CANCELLED","patient_id":"1","appointment_id":"2","appointment_timezone":"-0500","appointment_location_code":"PEDS"}`))
	f.Add([]byte(`{"event_type":"BOOKED","patient_id":"1","appointment_id":"2","appointment_datetime":"2026-03-08T02:30:00","appointment_tz":"America/New_York","appointment_duration_minutes":"30"}`))
	f.Add([]byte(`{"event_type":"BOOKED","patient_id":"1","patient_id":"1","appointment_id":"2"}`))
	f.Add([]byte(`{"event_type":"BOOKED","event_id":"6ba7b810-9dad-41d1-80b4-00c04fd430c8","patient_id":"\u00d1","appointment_id":"2","appointment_datetime":"2199-12-31T23:59:59+14:59"}`))
	f.Add([]byte("\xef\xbb\xbf{}"))
	f.Add([]byte(`[`))
	o := testOpts("America/Los_Angeles")
	known := map[string]bool{"": true}
	for _, n := range jsonFieldNames {
		known[n] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, errs := DecodeJSON(data, o)
		if len(errs) > 0 {
			if ev != nil {
				t.Fatalf("event and errors")
			}
			seen := map[string]bool{}
			for _, e := range errs {
				if !known[e.Field] || e.Message == "" || seen[e.Field] {
					t.Fatalf("bad error %+v in %v", e, errs)
				}
				seen[e.Field] = true
			}
			return
		}
		if ev == nil || ev.EventID == "" || ev.AppointmentID == "" || ev.PatientID == "" || !ev.EventType.FromEHR() ||
			ev.Source == nil || ev.Source.Channel != apptbridge.ChannelHTTP {
			t.Fatalf("bad event %+v", ev)
		}
		if (ev.EventType == apptbridge.Booked || ev.EventType == apptbridge.Rescheduled) && ev.AppointmentDatetimeUTC.IsZero() {
			t.Fatalf("%s without a time", ev.EventType)
		}
		checkTimeFields(t, ev)
		roundTrip(t, ev, o)
	})
}

func TestMapperJSONOptions(t *testing.T) {
	now := func() time.Time { return testNow }
	m, err := New(Config{DefaultTimezone: "America/Denver", DefaultCountry: "US", Now: now, Profile: &Profile{
		DefaultCountry: "CA",
		Locations: map[string]LocationProfile{
			"PEDS":  {DisplayName: "Pediatrics", CallbackPhone: "(416) 555-0123", Timezone: "America/Chicago"},
			"ANNEX": {DisplayName: "Annex"},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	o := m.JSONOptions()
	if o.DefaultTimezone != "America/Denver" || o.DefaultCountry != "CA" || !o.Now().Equal(testNow) || o.Validate() != nil {
		t.Errorf("options %+v", o)
	}
	if d, cb, tz, ok := o.Location("PEDS"); !ok || d != "Pediatrics" || cb != "+14165550123" || tz != "America/Chicago" {
		t.Errorf("PEDS: %q %q %q %v", d, cb, tz, ok)
	}
	if d, cb, tz, ok := o.Location("ANNEX"); !ok || d != "Annex" || cb != "" || tz != "" {
		t.Errorf("ANNEX: %q %q %q %v", d, cb, tz, ok)
	}
	if _, _, _, ok := o.Location("peds"); ok {
		t.Error("codes match exactly")
	}
	ev, errs := DecodeJSON(payload(t, minimal, map[string]any{"appointment_location_code": "PEDS"}), o)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ev.AppointmentTZ != "America/Chicago" || ev.AppointmentLocation != "Pediatrics" || ev.ProviderCallbackPhone != "+14165550123" {
		t.Errorf("event %+v", *ev)
	}
	// ANNEX has no zone of its own: -0600 is not Denver's offset in December, so no IANA zone.
	ev, errs = DecodeJSON(payload(t, minimal, map[string]any{"appointment_location_code": "ANNEX", "appointment_timezone": "-0600"}), o)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ev.AppointmentTZ != "" || ev.AppointmentTimezone != "-0600" || ev.AppointmentDatetime != "2026-12-01T15:00:00" {
		t.Errorf("ANNEX: %q %q %q", ev.AppointmentTZ, ev.AppointmentTimezone, ev.AppointmentDatetime)
	}
}
