package notify

import (
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
)

func TestParseWindow(t *testing.T) {
	for _, tc := range []struct {
		start, finish string
		want          Window
		ok            bool
	}{
		{"0800", "2100", Window{480, 1260}, true},
		{"0000", "2400", Window{0, 1440}, true},
		{"0830", "0830", Window{}, false},
		{"2100", "0800", Window{}, false},
		{"800", "2100", Window{}, false},
		{"0860", "2100", Window{}, false},
		{"0800", "2401", Window{}, false},
		{"08:0", "2100", Window{}, false},
	} {
		w, err := ParseWindow(tc.start, tc.finish)
		if (err == nil) != tc.ok || (tc.ok && w != tc.want) {
			t.Errorf("ParseWindow(%q, %q) = %v, %v", tc.start, tc.finish, w, err)
		}
	}
}

func TestWindowNext(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	w := Window{Start: 8 * 60, Finish: 21 * 60}
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, ny) }
	for _, tc := range []struct {
		now, want time.Time
	}{
		{at(2026, 12, 1, 10, 0), at(2026, 12, 1, 10, 0)}, // open
		{at(2026, 12, 1, 7, 59), at(2026, 12, 1, 8, 0)},  // before opening
		{at(2026, 12, 1, 21, 0), at(2026, 12, 2, 8, 0)},  // finish is exclusive
		{at(2026, 12, 31, 23, 30), at(2027, 1, 1, 8, 0)}, // year end
		{at(2026, 3, 7, 22, 0), at(2026, 3, 8, 8, 0)},    // spring forward night: 08:00 EDT
		{at(2026, 10, 31, 22, 0), at(2026, 11, 1, 8, 0)}, // fall back night: 08:00 EST
		{at(2026, 11, 1, 1, 30), at(2026, 11, 1, 8, 0)},  // inside the repeated hour
	} {
		got := w.Next(tc.now, ny)
		if !got.Equal(tc.want) {
			t.Errorf("Next(%v) = %v, want %v", tc.now, got.In(ny), tc.want)
		}
		if !w.Open(got, ny) {
			t.Errorf("Next(%v) = %v is not open", tc.now, got.In(ny))
		}
	}
	if !(Window{}).Open(at(2026, 1, 1, 3, 0), ny) {
		t.Error("the zero window is always open")
	}
}

func TestLocation(t *testing.T) {
	def, _ := time.LoadLocation("America/Chicago")
	if l := Location(&apptbridge.Appointment{Event: apptbridge.Event{AppointmentTZ: "America/Denver"}}, def); l.String() != "America/Denver" {
		t.Errorf("IANA zone: %v", l)
	}
	l := Location(&apptbridge.Appointment{Event: apptbridge.Event{AppointmentTimezone: "-0700"}}, def)
	if _, off := time.Date(2026, 7, 1, 0, 0, 0, 0, l).Zone(); off != -7*3600 {
		t.Errorf("offset zone: %v", off)
	}
	if l := Location(&apptbridge.Appointment{}, def); l != def {
		t.Errorf("default: %v", l)
	}
}

func TestDisplayPhone(t *testing.T) {
	for in, want := range map[string]string{
		"+13125550100":  "(312) 555-0100",
		"+442071838750": "+442071838750",
		"":              "",
		"+1312555010":   "+1312555010",
	} {
		if got := displayPhone(in); got != want {
			t.Errorf("displayPhone(%q) = %q, want %q", in, got, want)
		}
	}
}
