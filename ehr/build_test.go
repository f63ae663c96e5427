package ehr

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/mapping"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var buildNow = time.Date(2026, 11, 27, 14, 3, 0, 0, time.UTC)

var goldenCases = []struct {
	file    string
	profile Profile
	typ     apptbridge.EventType
	msgType string
}{
	{"siu_s14_confirm.hl7", ProfileSIU, apptbridge.Confirm, "SIU^S14^SIU_S12"},
	{"siu_s15_cancel.hl7", "", apptbridge.Cancel, "SIU^S15^SIU_S12"},
	{"srm_s03_confirm.hl7", ProfileSRM, apptbridge.Confirm, "SRM^S03^SRM_S01"},
	{"srm_s04_cancel.hl7", ProfileSRM, apptbridge.Cancel, "SRM^S04^SRM_S01"},
}

// TestBuildGolden compares each message with testdata/<name>.hl7. The
// files hold the message with \n after each segment instead of \r, so that
// they read well in diffs (the parser and `apptbridge send` accept both).
// Run with -update to rewrite them.
func TestBuildGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.file, func(t *testing.T) {
			got, err := Build(c.typ, sampleAppointment(), "AB0123456789ABCDEF01",
				BuildOptions{Profile: c.profile, SendingFacility: "CLINIC1", Now: buildNow})
			if err != nil {
				t.Fatal(err)
			}
			if bytes.ContainsAny(got, "\n") || !bytes.HasSuffix(got, []byte("\r")) {
				t.Fatalf("segments must end in \\r only: %q", got)
			}
			text := bytes.ReplaceAll(got, []byte("\r"), []byte("\n"))
			path := filepath.Join("testdata", c.file)
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, text, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(text, want) {
				t.Errorf("%s differs (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, text, want)
			}
			m, err := hl7.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			typ, trig, st := m.Type()
			if typ+"^"+trig+"^"+st != c.msgType {
				t.Errorf("MSH-9 = %s^%s^%s, want %s", typ, trig, st, c.msgType)
			}
		})
	}
}

// TestBuildRoundTrip parses every built message and checks the key fields.
func TestBuildRoundTrip(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.file, func(t *testing.T) {
			a := sampleAppointment()
			raw, err := Build(c.typ, a, "CTRL-1", BuildOptions{Profile: c.profile, SendingFacility: "CLINIC1", Now: buildNow})
			if err != nil {
				t.Fatal(err)
			}
			m, err := hl7.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if hl7.AckMode(m) != hl7.Original {
				t.Error("want original acknowledgment mode (MSH-15/16 empty)")
			}
			want := map[string]string{
				"MSH-3": "APPTBRIDGE", "MSH-4": "CLINIC1", "MSH-5": "EPIC", "MSH-6": "NORTH",
				"MSH-7": "20261127140300+0000", "MSH-10": "CTRL-1", "MSH-11": "P", "MSH-12": "2.5.1",
				"MSH-15": "", "MSH-16": "", "MSH-18": "",
				"PID-3.1": "MRN123", "PID-5.1": "Doe", "PID-5.2": "Jane",
				"PID-13.1": "+13125550199", "PID-13.2": "PRN", "PID-13.3": "CP", "PID-13.12": "+13125550199",
				"PID-15": "en", "RGS-1": "1",
				"AIL-3.1": "NC1", "AIL-3.9": "North Clinic",
				"AIP-3.1": "P77", "AIP-3.2": "House", "AIP-3.3": "Gregory",
			}
			srm := c.profile == ProfileSRM
			if srm {
				want["ARQ-1"] = "A1001"
				want["ARQ-2"] = "F2002"
				want["ARQ-6"] = "patient request"
				want["ARQ-9"] = "30"
				want["ARQ-10.1"] = "min"
				want["ARQ-11.1"] = "20261201150000-0600"
				want["ARQ-11.2"] = "20261201153000-0600"
				want["ARQ-7"] = map[apptbridge.EventType]string{apptbridge.Confirm: "Confirmed", apptbridge.Cancel: "patient request"}[c.typ]
				if m.Segment("SCH") != nil {
					t.Error("SRM must not carry SCH")
				}
			} else {
				want["SCH-1"] = "A1001"
				want["SCH-2"] = "F2002"
				want["SCH-6"] = "patient request"
				want["SCH-9"] = "30"
				want["SCH-10.1"] = "min"
				want["SCH-11.4"] = "20261201150000-0600"
				want["SCH-11.5"] = "20261201153000-0600"
				want["SCH-16.1"] = "P77"
				want["SCH-16.2"] = "House"
				want["TQ1-7"] = "20261201150000-0600"
				want["SCH-25"] = map[apptbridge.EventType]string{apptbridge.Confirm: "Confirmed", apptbridge.Cancel: "Cancelled"}[c.typ]
				if m.Segment("ARQ") != nil {
					t.Error("SIU must not carry ARQ")
				}
			}
			for loc, w := range want {
				if got := m.Get(loc); got != w {
					t.Errorf("%s = %q, want %q", loc, got, w)
				}
			}
			if !bytes.Equal(hl7.Encode(m), raw) {
				t.Error("Encode(Parse(msg)) differs from msg")
			}
		})
	}
}

// TestBuildEscaping: delimiters and escape characters in values are
// escaped and parse back to the same values; control characters become
// spaces; non-ASCII text sets MSH-18.
func TestBuildEscaping(t *testing.T) {
	a := sampleAppointment()
	a.PatientLastName = `O'Brien|Smith^Jr~&\E\`
	a.PatientFirstName = `Ana\Maria & "Bo"`
	a.PatientID = `MRN^1&2|3`
	a.AppointmentPlacerID = `A|1^2`
	a.AppointmentFillerID = `F~9\T\`
	a.ProviderLastName = `Dr. Who^Is~It`
	a.AppointmentLocation = `Room 1|2 & 3 \ North`
	a.AppointmentLocationCode = `N^C`
	a.Source.SendingApplication = `EP|IC`
	for _, p := range []Profile{ProfileSIU, ProfileSRM} {
		raw, err := Build(apptbridge.Cancel, a, `C|1`, BuildOptions{Profile: p, Now: buildNow})
		if err != nil {
			t.Fatal(err)
		}
		m, err := hl7.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		idSeg := "SCH"
		if p == ProfileSRM {
			idSeg = "ARQ"
		}
		for loc, want := range map[string]string{
			"PID-5.1": a.PatientLastName, "PID-5.2": a.PatientFirstName, "PID-3.1": a.PatientID,
			idSeg + "-1.1": a.AppointmentPlacerID, idSeg + "-2.1": a.AppointmentFillerID,
			"AIP-3.2": a.ProviderLastName, "AIL-3.9": a.AppointmentLocation, "AIL-3.1": a.AppointmentLocationCode,
			"MSH-5.1": "EP|IC", "MSH-10": "C|1",
		} {
			if got := m.Get(loc); got != want {
				t.Errorf("%s: %s = %q, want %q", p, loc, got, want)
			}
		}
		if n := len(m.Segment("PID").Field(5)); n == 0 || strings.Count(m.Segment("PID").Field(5), "^") != 1 {
			t.Errorf("PID-5 should have exactly two components: %q", m.Segment("PID").Field(5))
		}
	}

	b := sampleAppointment()
	b.PatientFirstName = "Ja\rne\x1c"
	b.PatientLastName = "Do\ne\x0b"
	raw, err := Build(apptbridge.Confirm, b, "C1", BuildOptions{Now: buildNow})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := hl7.Parse(raw)
	if bytes.ContainsAny(raw, "\x1c\x0b\n") || bytes.Count(raw, []byte("\r")) != len(m.Segments()) {
		t.Fatalf("control characters leaked: %q", raw)
	}
	if got := m.Get("PID-5.2"); got != "Ja ne" {
		t.Errorf("given = %q, want %q", got, "Ja ne")
	}
	if got := m.Get("PID-5.1"); got != "Do e" {
		t.Errorf("family = %q, want %q", got, "Do e")
	}
	if got := m.Get("MSH-18"); got != "" {
		t.Errorf("ASCII message: MSH-18 = %q, want empty", got)
	}

	c := sampleAppointment()
	c.PatientLastName = "Muñoz-Łukasiewicz"
	raw, err = Build(apptbridge.Confirm, c, "C1", BuildOptions{Now: buildNow})
	if err != nil {
		t.Fatal(err)
	}
	m, err = hl7.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Get("MSH-18"); got != "UNICODE UTF-8" {
		t.Errorf("MSH-18 = %q, want UNICODE UTF-8", got)
	}
	if got := m.Get("PID-5.1"); got != c.PatientLastName {
		t.Errorf("family = %q, want %q", got, c.PatientLastName)
	}
}

// TestBuildMapsBack runs the SIU messages through apptbridge's own SIU
// mapper: a receiver reading them the way apptbridge reads SIU gets the
// appointment back, and the event the request stands for.
func TestBuildMapsBack(t *testing.T) {
	mp, err := mapping.New(mapping.Config{DefaultTimezone: "America/New_York", Now: func() time.Time { return buildNow }})
	if err != nil {
		t.Fatal(err)
	}
	for typ, want := range map[apptbridge.EventType]apptbridge.EventType{
		apptbridge.Confirm: apptbridge.Confirmed,
		apptbridge.Cancel:  apptbridge.Canceled,
	} {
		a := sampleAppointment()
		raw, err := Build(typ, a, "C1", BuildOptions{Now: buildNow})
		if err != nil {
			t.Fatal(err)
		}
		m, err := hl7.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		res, err := mp.Map(m)
		if err != nil {
			t.Fatalf("%s: map: %v", typ, err)
		}
		e := res.Event
		if e == nil {
			t.Fatalf("%s: ignored: %s", typ, res.Reason)
		}
		if e.EventType != want {
			t.Errorf("%s: event type %s, want %s", typ, e.EventType, want)
		}
		got := []string{e.AppointmentID, e.AppointmentPlacerID, e.AppointmentFillerID, e.PatientID,
			e.PatientFirstName, e.PatientLastName, e.PatientPhone, e.ProviderID, e.ProviderFirstName,
			e.ProviderLastName, e.AppointmentLocationCode, e.AppointmentLocation}
		exp := []string{a.AppointmentID, a.AppointmentPlacerID, a.AppointmentFillerID, a.PatientID,
			a.PatientFirstName, a.PatientLastName, a.PatientPhone, a.ProviderID, a.ProviderFirstName,
			a.ProviderLastName, a.AppointmentLocationCode, a.AppointmentLocation}
		for i := range got {
			if got[i] != exp[i] {
				t.Errorf("%s: field %d = %q, want %q", typ, i, got[i], exp[i])
			}
		}
		if !e.AppointmentDatetimeUTC.Equal(a.AppointmentDatetimeUTC) {
			t.Errorf("%s: start %v, want %v", typ, e.AppointmentDatetimeUTC, a.AppointmentDatetimeUTC)
		}
		if e.AppointmentDurationMinutes != a.AppointmentDurationMinutes {
			t.Errorf("%s: duration %d, want %d", typ, e.AppointmentDurationMinutes, a.AppointmentDurationMinutes)
		}
		if len(res.Warnings) > 0 {
			t.Errorf("%s: mapping warnings %v", typ, res.Warnings)
		}
	}
}

func TestBuildStartTime(t *testing.T) {
	base := func() *apptbridge.Appointment {
		a := sampleAppointment()
		a.AppointmentDatetimeUTC = time.Time{}
		a.AppointmentDatetime, a.AppointmentTimezone, a.AppointmentTZ = "", "", ""
		return a
	}
	summer := time.Date(2026, 7, 1, 20, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		set  func(a *apptbridge.Appointment)
		want string
	}{
		{"IANA zone, DST", func(a *apptbridge.Appointment) {
			a.AppointmentDatetimeUTC, a.AppointmentTZ, a.AppointmentTimezone = summer, "America/Chicago", "-0500"
		}, "20260701150000-0500"},
		{"offset only", func(a *apptbridge.Appointment) {
			a.AppointmentDatetimeUTC, a.AppointmentTimezone = summer, "+0530"
		}, "20260702013000+0530"},
		{"unknown zone falls back to offset", func(a *apptbridge.Appointment) {
			a.AppointmentDatetimeUTC, a.AppointmentTZ, a.AppointmentTimezone = summer, "Mars/Olympus", "-0300"
		}, "20260701170000-0300"},
		{"instant only", func(a *apptbridge.Appointment) { a.AppointmentDatetimeUTC = summer }, "20260701200000+0000"},
		{"local wall clock only", func(a *apptbridge.Appointment) {
			a.AppointmentDatetime, a.AppointmentTimezone = "2026-07-01T15:00:00", "-0500"
		}, "20260701150000-0500"},
		{"no time", func(a *apptbridge.Appointment) {}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := base()
			c.set(a)
			raw, err := Build(apptbridge.Confirm, a, "C1", BuildOptions{Now: buildNow})
			if err != nil {
				t.Fatal(err)
			}
			m, _ := hl7.Parse(raw)
			if got := m.Get("SCH-11.4"); got != c.want {
				t.Errorf("SCH-11.4 = %q, want %q", got, c.want)
			}
			if c.want == "" && m.Segment("TQ1") != nil {
				t.Error("TQ1 without a start time")
			}
		})
	}
}

func TestBuildDefaultsAndFallbacks(t *testing.T) {
	a := sampleAppointment()
	a.AppointmentPlacerID = ""
	a.Source = nil
	a.PatientPhone, a.AppointmentLocation, a.AppointmentLocationCode = "", "", ""
	a.ProviderID, a.ProviderFirstName, a.ProviderLastName = "", "", ""
	raw, err := Build(apptbridge.Confirm, a, "C1", BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := hl7.Parse(raw)
	if got := m.Get("SCH-1"); got != "A1001" {
		t.Errorf("SCH-1 = %q, want the appointment id", got)
	}
	if got := m.Get("MSH-3"); got != DefaultSendingApplication {
		t.Errorf("MSH-3 = %q", got)
	}
	if m.Get("MSH-5") != "" || m.Get("MSH-7") == "" {
		t.Errorf("MSH-5 = %q (want empty), MSH-7 = %q (want now)", m.Get("MSH-5"), m.Get("MSH-7"))
	}
	if m.Segment("AIL") != nil || m.Segment("AIP") != nil || m.Get("PID-13") != "" {
		t.Error("empty location/provider/phone must leave AIL, AIP, PID-13 out")
	}
	if m.Segment("RGS") == nil {
		t.Error("RGS is required")
	}
}

func TestBuildErrors(t *testing.T) {
	a := sampleAppointment()
	noID := sampleAppointment()
	noID.AppointmentID, noID.AppointmentPlacerID, noID.AppointmentFillerID = "", "", ""
	cases := []struct {
		name string
		typ  apptbridge.EventType
		a    *apptbridge.Appointment
		cid  string
		o    BuildOptions
	}{
		{"nil appointment", apptbridge.Confirm, nil, "C1", BuildOptions{}},
		{"wrong type", apptbridge.Booked, a, "C1", BuildOptions{}},
		{"empty control id", apptbridge.Confirm, a, " ", BuildOptions{}},
		{"unknown profile", apptbridge.Confirm, a, "C1", BuildOptions{Profile: "fhir"}},
		{"no appointment id", apptbridge.Cancel, noID, "C1", BuildOptions{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Build(c.typ, c.a, c.cid, c.o); err == nil {
				t.Fatal("want an error")
			} else if s := err.Error(); strings.Contains(s, "Jane") || strings.Contains(s, "MRN123") || strings.Contains(s, "5550199") {
				t.Errorf("error carries patient data: %s", s)
			}
		})
	}
}
