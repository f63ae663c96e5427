package mapping

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
)

func TestDecodeJSONAppointmentTime(t *testing.T) {
	type want struct{ wall, off, tz, utc string }
	tests := []struct {
		name    string
		def     string // DefaultTimezone
		changes map[string]any
		want    want
		fields  []string
	}{
		{"tz wall clock", "", map[string]any{"appointment_tz": "America/Chicago"},
			want{"2026-12-01T15:00:00", "-0600", "America/Chicago", "2026-12-01T21:00:00Z"}, nil},
		{"tz ignores Z", "", map[string]any{"appointment_tz": "America/Chicago", "appointment_datetime": "2026-12-01T15:00:00.000Z"},
			want{"2026-12-01T15:00:00", "-0600", "America/Chicago", "2026-12-01T21:00:00Z"}, nil},
		{"tz ignores offset", "", map[string]any{"appointment_tz": "America/Chicago", "appointment_datetime": "2026-12-01T15:00:00+09:00"},
			want{"2026-12-01T15:00:00", "-0600", "America/Chicago", "2026-12-01T21:00:00Z"}, nil},
		{"tz wins over a wrong timezone", "", map[string]any{"appointment_tz": "America/Chicago", "appointment_timezone": "-0700"},
			want{"2026-12-01T15:00:00", "-0600", "America/Chicago", "2026-12-01T21:00:00Z"}, nil},
		{"tz wins over location table", "", map[string]any{"appointment_tz": "America/Denver", "appointment_location_code": "PEDS"},
			want{"2026-12-01T15:00:00", "-0700", "America/Denver", "2026-12-01T22:00:00Z"}, nil},
		{"tz no seconds", "", map[string]any{"appointment_tz": "Europe/Paris", "appointment_datetime": "2026-07-01 09:30"},
			want{"2026-07-01T09:30:00", "+0200", "Europe/Paris", "2026-07-01T07:30:00Z"}, nil},
		// DST with appointment_tz.
		{"spring forward gap", "", map[string]any{"appointment_tz": "America/New_York", "appointment_datetime": "2026-03-08T02:30:00"},
			want{"2026-03-08T03:30:00", "-0400", "America/New_York", "2026-03-08T07:30:00Z"}, nil},
		{"spring forward gap Z", "", map[string]any{"appointment_tz": "America/New_York", "appointment_datetime": "2026-03-08T02:30:00.000Z"},
			want{"2026-03-08T03:30:00", "-0400", "America/New_York", "2026-03-08T07:30:00Z"}, nil},
		{"before spring forward", "", map[string]any{"appointment_tz": "America/New_York", "appointment_datetime": "2026-03-08T01:59:00"},
			want{"2026-03-08T01:59:00", "-0500", "America/New_York", "2026-03-08T06:59:00Z"}, nil},
		{"fall back first", "", map[string]any{"appointment_tz": "America/New_York", "appointment_datetime": "2026-11-01T01:30:00"},
			want{"2026-11-01T01:30:00", "-0400", "America/New_York", "2026-11-01T05:30:00Z"}, nil},
		{"fall back second by offset", "", map[string]any{"appointment_tz": "America/New_York", "appointment_datetime": "2026-11-01T01:30:00", "appointment_timezone": "-0500"},
			want{"2026-11-01T01:30:00", "-0500", "America/New_York", "2026-11-01T06:30:00Z"}, nil},
		{"fall back first by offset", "", map[string]any{"appointment_tz": "America/New_York", "appointment_datetime": "2026-11-01T01:30:00", "appointment_timezone": "-0400"},
			want{"2026-11-01T01:30:00", "-0400", "America/New_York", "2026-11-01T05:30:00Z"}, nil},
		{"gap offset does not help", "", map[string]any{"appointment_tz": "America/New_York", "appointment_datetime": "2026-03-08T02:30:00", "appointment_timezone": "-0500"},
			want{"2026-03-08T03:30:00", "-0400", "America/New_York", "2026-03-08T07:30:00Z"}, nil},
		{"after fall back", "", map[string]any{"appointment_tz": "America/New_York", "appointment_datetime": "2026-11-01T02:30:00"},
			want{"2026-11-01T02:30:00", "-0500", "America/New_York", "2026-11-01T07:30:00Z"}, nil},
		// appointment_timezone only.
		{"offset matches default", "America/Los_Angeles", map[string]any{"appointment_timezone": "-0700", "appointment_datetime": "2026-07-01T15:00:00Z"},
			want{"2026-07-01T15:00:00", "-0700", "America/Los_Angeles", "2026-07-01T22:00:00Z"}, nil},
		{"offset differs from default", "America/Los_Angeles", map[string]any{"appointment_timezone": "-0700", "appointment_datetime": "2026-12-01T15:00:00Z"},
			want{"2026-12-01T15:00:00", "-0700", "", "2026-12-01T22:00:00Z"}, nil},
		{"offset with colon", "", map[string]any{"appointment_timezone": "+05:30", "appointment_datetime": "2026-12-01T15:00:00"},
			want{"2026-12-01T15:00:00", "+0530", "", "2026-12-01T09:30:00Z"}, nil},
		{"offset and location zone", "", map[string]any{"appointment_timezone": "-0600", "appointment_location_code": "PEDS"},
			want{"2026-12-01T15:00:00", "-0600", "America/Chicago", "2026-12-01T21:00:00Z"}, nil},
		{"offset fixes the instant, location zone shows it", "", map[string]any{"appointment_timezone": "-0500", "appointment_location_code": "PEDS"},
			want{"2026-12-01T14:00:00", "-0600", "America/Chicago", "2026-12-01T20:00:00Z"}, nil},
		{"location without zone", "America/Denver", map[string]any{"appointment_timezone": "-0700", "appointment_location_code": "NOZONE"},
			want{"2026-12-01T15:00:00", "-0700", "America/Denver", "2026-12-01T22:00:00Z"}, nil},
		{"location with bad zone", "America/Denver", map[string]any{"appointment_timezone": "-0700", "appointment_location_code": "BADZONE"},
			want{"2026-12-01T15:00:00", "-0700", "America/Denver", "2026-12-01T22:00:00Z"}, nil},
		// No zone fields.
		{"default zone", "", nil,
			want{"2026-12-01T15:00:00", "-0500", "America/New_York", "2026-12-01T20:00:00Z"}, nil},
		{"location table zone", "", map[string]any{"appointment_location_code": "PEDS"},
			want{"2026-12-01T15:00:00", "-0600", "America/Chicago", "2026-12-01T21:00:00Z"}, nil},
		{"default zone gap", "", map[string]any{"appointment_datetime": "2026-03-08T02:30:00"},
			want{"2026-03-08T03:30:00", "-0400", "America/New_York", "2026-03-08T07:30:00Z"}, nil},
		{"explicit Z is an instant", "", map[string]any{"appointment_datetime": "2026-12-01T15:00:00Z"},
			want{"2026-12-01T10:00:00", "-0500", "America/New_York", "2026-12-01T15:00:00Z"}, nil},
		{"explicit offset is an instant", "", map[string]any{"appointment_datetime": "2026-12-01T15:00:00+0100"},
			want{"2026-12-01T09:00:00", "-0500", "America/New_York", "2026-12-01T14:00:00Z"}, nil},
		{"fraction truncated", "", map[string]any{"appointment_datetime": "2026-12-01T15:00:00.999"},
			want{"2026-12-01T15:00:00", "-0500", "America/New_York", "2026-12-01T20:00:00Z"}, nil},
		// appointment_datetime_utc.
		{"utc only", "", map[string]any{"appointment_datetime": del, "appointment_datetime_utc": "2026-12-01T21:00:00Z"},
			want{"2026-12-01T16:00:00", "-0500", "America/New_York", "2026-12-01T21:00:00Z"}, nil},
		{"utc with tz", "", map[string]any{"appointment_datetime": del, "appointment_datetime_utc": "2026-12-01T21:00:00.7Z", "appointment_tz": "America/Chicago"},
			want{"2026-12-01T15:00:00", "-0600", "America/Chicago", "2026-12-01T21:00:00Z"}, nil},
		{"utc with offset", "", map[string]any{"appointment_datetime": del, "appointment_datetime_utc": "2026-12-01T22:00:00+00:00", "appointment_timezone": "-0700"},
			want{"2026-12-01T15:00:00", "-0700", "", "2026-12-01T22:00:00Z"}, nil},
		{"utc with location", "", map[string]any{"appointment_datetime": del, "appointment_datetime_utc": "2026-12-01T21:00:00Z", "appointment_location_code": "PEDS"},
			want{"2026-12-01T15:00:00", "-0600", "America/Chicago", "2026-12-01T21:00:00Z"}, nil},
		{"all four consistent", "", map[string]any{"appointment_datetime": "2026-12-01T15:00:00", "appointment_timezone": "-0600", "appointment_tz": "America/Chicago", "appointment_datetime_utc": "2026-12-01T21:00:00Z"},
			want{"2026-12-01T15:00:00", "-0600", "America/Chicago", "2026-12-01T21:00:00Z"}, nil},
		{"utc and quirky local with offset", "", map[string]any{"appointment_datetime": "2021-05-05T12:00:00.000Z", "appointment_timezone": "-0700", "appointment_datetime_utc": "2021-05-05T19:00:00Z"},
			want{"2021-05-05T12:00:00", "-0700", "", "2021-05-05T19:00:00Z"}, nil},
		{"utc second fall-back 01:30", "", map[string]any{"appointment_datetime": "2026-11-01T01:30:00", "appointment_tz": "America/New_York", "appointment_datetime_utc": "2026-11-01T06:30:00Z"},
			want{"2026-11-01T01:30:00", "-0500", "America/New_York", "2026-11-01T06:30:00Z"}, nil},
		{"utc and explicit instant", "", map[string]any{"appointment_datetime": "2026-12-01T21:00:00Z", "appointment_datetime_utc": "2026-12-01T21:00:00Z"},
			want{"2026-12-01T16:00:00", "-0500", "America/New_York", "2026-12-01T21:00:00Z"}, nil},
		{"utc mismatch: UTC digits as local", "", map[string]any{"appointment_datetime": "2026-12-01T21:00:00", "appointment_tz": "America/Chicago", "appointment_datetime_utc": "2026-12-01T21:00:00Z"},
			want{}, []string{"appointment_datetime"}},
		{"utc mismatch: offset", "", map[string]any{"appointment_datetime": "2026-12-01T15:00:00", "appointment_timezone": "-0500", "appointment_datetime_utc": "2026-12-01T21:00:00Z"},
			want{}, []string{"appointment_datetime"}},
		// Required and optional.
		{"booked without time", "", map[string]any{"appointment_datetime": del}, want{}, []string{"appointment_datetime"}},
		{"rescheduled without time", "", map[string]any{"event_type": "RESCHEDULED", "appointment_datetime": ""}, want{}, []string{"appointment_datetime"}},
		{"booked with zone but no time", "", map[string]any{"appointment_datetime": nil, "appointment_tz": "America/Chicago"}, want{}, []string{"appointment_datetime"}},
		{"canceled without time", "", map[string]any{"event_type": "CANCELED", "appointment_datetime": del, "appointment_tz": "America/Chicago", "appointment_timezone": "-0600"},
			want{}, nil},
		{"modified without time", "", map[string]any{"event_type": "MODIFIED", "appointment_datetime": del}, want{}, nil},
		// Bad formats.
		{"date only", "", map[string]any{"appointment_datetime": "2026-12-01"}, want{}, []string{"appointment_datetime"}},
		{"US format", "", map[string]any{"appointment_datetime": "12/01/2026 3:00 PM"}, want{}, []string{"appointment_datetime"}},
		{"Feb 30", "", map[string]any{"appointment_datetime": "2026-02-30T10:00:00"}, want{}, []string{"appointment_datetime"}},
		{"hour 24", "", map[string]any{"appointment_datetime": "2026-12-01T24:00:00"}, want{}, []string{"appointment_datetime"}},
		{"second 60", "", map[string]any{"appointment_datetime": "2026-12-01T10:00:60"}, want{}, []string{"appointment_datetime"}},
		{"ten fraction digits", "", map[string]any{"appointment_datetime": "2026-12-01T10:00:00.1234567890"}, want{}, []string{"appointment_datetime"}},
		{"bad trailing", "", map[string]any{"appointment_datetime": "2026-12-01T10:00:00 EST"}, want{}, []string{"appointment_datetime"}},
		{"number", "", map[string]any{"appointment_datetime": 202612011000}, want{}, []string{"appointment_datetime"}},
		{"year 1800", "", map[string]any{"appointment_datetime": "1800-12-01T10:00:00"}, want{}, []string{"appointment_datetime"}},
		{"past 2199 in UTC", "", map[string]any{"appointment_datetime": "2199-12-31T23:00:00", "appointment_timezone": "-0500"}, want{}, []string{"appointment_datetime"}},
		{"offset -7", "", map[string]any{"appointment_timezone": "-7"}, want{}, []string{"appointment_timezone"}},
		{"offset +1500", "", map[string]any{"appointment_timezone": "+1500"}, want{}, []string{"appointment_timezone"}},
		{"offset UTC", "", map[string]any{"appointment_timezone": "UTC"}, want{}, []string{"appointment_timezone"}},
		{"offset number", "", map[string]any{"appointment_timezone": -700}, want{}, []string{"appointment_timezone"}},
		{"tz unknown", "", map[string]any{"appointment_tz": "Mars/Olympus_Mons"}, want{}, []string{"appointment_tz"}},
		{"tz Local", "", map[string]any{"appointment_tz": "Local"}, want{}, []string{"appointment_tz"}},
		{"tz path", "", map[string]any{"appointment_tz": "../../etc/passwd"}, want{}, []string{"appointment_tz"}},
		{"tz absolute", "", map[string]any{"appointment_tz": "/usr/share/zoneinfo/UTC"}, want{}, []string{"appointment_tz"}},
		{"utc without zone", "", map[string]any{"appointment_datetime_utc": "2026-12-01T21:00:00"}, want{}, []string{"appointment_datetime_utc"}},
		{"utc year 2200", "", map[string]any{"appointment_datetime_utc": "2200-01-01T00:00:00Z"}, want{}, []string{"appointment_datetime_utc"}},
		{"all four bad", "", map[string]any{"appointment_datetime": "soon", "appointment_timezone": "PST", "appointment_tz": "Pacific", "appointment_datetime_utc": "now"},
			want{}, []string{"appointment_datetime", "appointment_timezone", "appointment_tz", "appointment_datetime_utc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, errs := DecodeJSON(payload(t, minimal, tt.changes), testOpts(tt.def))
			if tt.fields != nil {
				if got := fieldsOf(errs); !slices.Equal(got, tt.fields) {
					t.Errorf("fields %v, want %v (%v)", got, tt.fields, errs)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatalf("unexpected errors: %v", errs)
			}
			got := want{ev.AppointmentDatetime, ev.AppointmentTimezone, ev.AppointmentTZ, ""}
			if !ev.AppointmentDatetimeUTC.IsZero() {
				got.utc = ev.AppointmentDatetimeUTC.Format(time.RFC3339Nano)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if ev.AppointmentDatetimeUTC.Location() != time.UTC {
				t.Errorf("appointment_datetime_utc not in UTC")
			}
		})
	}
}

// TestDecodeJSONTimeFieldsAgree: the four fields always agree, as
// SetAppointmentTime makes them.
func TestDecodeJSONTimeFieldsAgree(t *testing.T) {
	for _, tz := range []string{"", "America/Chicago", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu"} {
		for _, dt := range []string{"2026-03-08T02:30:00", "2026-11-01T01:30:00", "2026-10-04T02:15:00", "2026-03-29T01:30:00Z", "2026-04-05T01:45:00"} {
			for _, off := range []any{del, "-0500", "+0100", "+1030", "+0545"} {
				ev, errs := DecodeJSON(payload(t, minimal, map[string]any{"appointment_tz": tz, "appointment_datetime": dt, "appointment_timezone": off}), testOpts(""))
				if len(errs) > 0 {
					t.Fatalf("%s %s %v: %v", tz, dt, off, errs)
				}
				checkTimeFields(t, ev)
			}
		}
	}
}

func checkTimeFields(t *testing.T, ev *apptbridge.Event) {
	t.Helper()
	if ev.AppointmentDatetimeUTC.IsZero() {
		if ev.AppointmentDatetime != "" || ev.AppointmentTimezone != "" || ev.AppointmentTZ != "" {
			t.Errorf("time fields without an instant: %+v", *ev)
		}
		return
	}
	lt, err := time.Parse(apptbridge.LocalLayout+"-0700", ev.AppointmentDatetime+ev.AppointmentTimezone)
	if err != nil || !lt.Equal(ev.AppointmentDatetimeUTC) {
		t.Errorf("wall %s %s does not name %s (%v)", ev.AppointmentDatetime, ev.AppointmentTimezone, ev.AppointmentDatetimeUTC, err)
	}
	if ev.AppointmentTZ != "" {
		loc, err := time.LoadLocation(ev.AppointmentTZ)
		if err != nil {
			t.Fatal(err)
		}
		var want apptbridge.Event
		want.SetAppointmentTime(ev.AppointmentDatetimeUTC, loc)
		if want.AppointmentDatetime != ev.AppointmentDatetime || want.AppointmentTimezone != ev.AppointmentTimezone {
			t.Errorf("%s: %s %s, SetAppointmentTime gives %s %s", ev.AppointmentTZ, ev.AppointmentDatetime, ev.AppointmentTimezone,
				want.AppointmentDatetime, want.AppointmentTimezone)
		}
	}
}

func TestDecodeJSONLocationTable(t *testing.T) {
	// The table fills what the sender left out.
	ev, errs := DecodeJSON(payload(t, minimal, map[string]any{"appointment_location_code": "PEDS"}), testOpts(""))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ev.AppointmentLocation != "Pediatrics, 2nd floor" || ev.ProviderCallbackPhone != "+13125550100" || ev.AppointmentTZ != "America/Chicago" {
		t.Errorf("from table: %q %q %q", ev.AppointmentLocation, ev.ProviderCallbackPhone, ev.AppointmentTZ)
	}
	// The sender's values win.
	ev, errs = DecodeJSON(payload(t, minimal, map[string]any{"appointment_location_code": "PEDS",
		"appointment_location": "Main St", "provider_callback_phone": "8005552222"}), testOpts(""))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ev.AppointmentLocation != "Main St" || ev.ProviderCallbackPhone != "+18005552222" {
		t.Errorf("sender's values: %q %q", ev.AppointmentLocation, ev.ProviderCallbackPhone)
	}
	// A bad sender value is an error, not replaced by the table.
	_, errs = DecodeJSON(payload(t, minimal, map[string]any{"appointment_location_code": "PEDS", "provider_callback_phone": "12"}), testOpts(""))
	if got := fieldsOf(errs); !slices.Equal(got, []string{"provider_callback_phone"}) {
		t.Errorf("fields %v", got)
	}
	// An unusable table phone or zone is ignored; an unknown code is fine.
	for _, code := range []string{"BADZONE", "UNKNOWN"} {
		ev, errs = DecodeJSON(payload(t, minimal, map[string]any{"appointment_location_code": code}), testOpts(""))
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if ev.ProviderCallbackPhone != "" || ev.AppointmentTZ != "America/New_York" {
			t.Errorf("%s: %q %q", code, ev.ProviderCallbackPhone, ev.AppointmentTZ)
		}
	}
	// No Location func.
	o := testOpts("")
	o.Location = nil
	ev, errs = DecodeJSON(payload(t, minimal, map[string]any{"appointment_location_code": "PEDS"}), o)
	if len(errs) > 0 || ev.AppointmentLocation != "" || ev.AppointmentTZ != "America/New_York" {
		t.Errorf("no table: %v %+v", errs, ev)
	}
}

// FuzzDecodeJSONTime drives the appointment time rules with well-formed
// JSON: an accepted event has agreeing time fields and survives a round
// trip, and a rejected one names only time fields.
func FuzzDecodeJSONTime(f *testing.F) {
	f.Add("BOOKED", "2026-11-01T01:30:00", "-0500", "America/New_York", "", "")
	f.Add("BOOKED", "2026-03-08T02:30:00.000Z", "", "America/New_York", "", "PEDS")
	f.Add("RESCHEDULED", "2021-05-05T12:00:00.000Z", "-0700", "", "2021-05-05T19:00:00Z", "")
	f.Add("CANCELED", "", "+0530", "Asia/Kolkata", "2026-12-01T21:00:00.5+01:00", "NOZONE")
	f.Add("MODIFIED", "2026-10-04T02:15:00", "+1030", "Australia/Lord_Howe", "", "BADZONE")
	f.Add("BOOKED", "2199-12-31T23:59:59+14:59", "", "", "", "")
	o := testOpts("America/Los_Angeles")
	timeFields := map[string]bool{"appointment_datetime": true, "appointment_timezone": true, "appointment_tz": true, "appointment_datetime_utc": true}
	f.Fuzz(func(t *testing.T, typ, dt, off, tz, utc, code string) {
		m := map[string]any{"event_type": typ, "patient_id": "1", "appointment_id": "2", "appointment_datetime": dt,
			"appointment_timezone": off, "appointment_tz": tz, "appointment_datetime_utc": utc, "appointment_location_code": code}
		b, err := json.Marshal(m)
		if err != nil {
			t.Skip()
		}
		ev, errs := DecodeJSON(b, o)
		if len(errs) > 0 {
			for _, e := range errs {
				if !timeFields[e.Field] && e.Field != "event_type" && e.Field != "appointment_location_code" {
					t.Fatalf("unexpected error %+v", e)
				}
			}
			return
		}
		checkTimeFields(t, ev)
		roundTrip(t, ev, o)
	})
}
