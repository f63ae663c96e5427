package mapping

import (
	"testing"
	"time"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestParseDTM(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	tests := []struct {
		in   string
		want string // RFC 3339 UTC; "" = error
	}{
		{"2026", "2026-01-01T05:00:00Z"},
		{"202602", "2026-02-01T05:00:00Z"},
		{"20260215", "2026-02-15T05:00:00Z"},
		{"2026021514", "2026-02-15T19:00:00Z"},
		{"202602151430", "2026-02-15T19:30:00Z"},
		{"20260215143059", "2026-02-15T19:30:59Z"},
		{"20260215143059.5", "2026-02-15T19:30:59.5Z"},
		{"20260215143059.1234", "2026-02-15T19:30:59.1234Z"},
		{"2010052711090000", "2010-05-27T15:09:00Z"},    // Epic 16 digits: hundredths
		{"2010052711090012", "2010-05-27T15:09:00.12Z"}, // ditto
		{"200803061000 ", "2008-03-06T15:00:00Z"},       // corepoint trailing space
		{"  200803061000", "2008-03-06T15:00:00Z"},
		{"20210924093000+0215", "2021-09-24T07:15:00Z"},
		{"20250409073500-0500", "2025-04-09T12:35:00Z"},
		{"202109141120+0215", "2021-09-14T09:05:00Z"},
		{"20260215143059.5-0330", "2026-02-15T18:00:59.5Z"},
		{"20240229", "2024-02-29T05:00:00Z"},
		{"", ""},
		{"2026-13-45", ""},
		{"20261345", ""},
		{"20260230", ""},
		{"20250229", ""},
		{"202602151", ""},
		{"20260215240000", ""},
		{"20260215236000", ""},
		{"20260215235960", ""},
		{"20260215143059.", ""},
		{"2026021514.5", ""},
		{"20260215143059+02", ""},
		{"20260215143059+1500", ""},
		{"20260215143059+0260", ""},
		{"20260215143059+02:00", ""},
		{"0999", ""},
		{"abcd", ""},
		{"201005271109000", ""},
		{"20100527110900000", ""},
		{"2010052711090000.5", ""},
		{"20260215143059.1234567890", ""},
		{"2026 0215", ""},
	}
	for _, tc := range tests {
		got, err := ParseDTM(tc.in, ny)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseDTM(%q) = %v, want error", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseDTM(%q): %v", tc.in, err)
			continue
		}
		if s := got.Format(time.RFC3339Nano); s != tc.want {
			t.Errorf("ParseDTM(%q) = %s, want %s", tc.in, s, tc.want)
		}
	}
}

// TestWallClockDST pins the DST rules: a time in the spring-forward gap
// moves forward; an ambiguous fall-back time takes the earlier instant.
func TestWallClockDST(t *testing.T) {
	tests := []struct {
		zone, in, wantUTC, wantLocal, wantOff string
	}{
		// America/New_York 2026-03-08: 02:00 EST → 03:00 EDT.
		{"America/New_York", "202603080130", "2026-03-08T06:30:00Z", "2026-03-08T01:30:00", "-0500"},
		{"America/New_York", "202603080200", "2026-03-08T07:00:00Z", "2026-03-08T03:00:00", "-0400"},
		{"America/New_York", "202603080230", "2026-03-08T07:30:00Z", "2026-03-08T03:30:00", "-0400"},
		{"America/New_York", "202603080259", "2026-03-08T07:59:00Z", "2026-03-08T03:59:00", "-0400"},
		{"America/New_York", "202603080300", "2026-03-08T07:00:00Z", "2026-03-08T03:00:00", "-0400"},
		// America/New_York 2026-11-01: 02:00 EDT → 01:00 EST; 01:xx twice.
		{"America/New_York", "202611010059", "2026-11-01T04:59:00Z", "2026-11-01T00:59:00", "-0400"},
		{"America/New_York", "202611010100", "2026-11-01T05:00:00Z", "2026-11-01T01:00:00", "-0400"},
		{"America/New_York", "202611010130", "2026-11-01T05:30:00Z", "2026-11-01T01:30:00", "-0400"},
		{"America/New_York", "202611010200", "2026-11-01T07:00:00Z", "2026-11-01T02:00:00", "-0500"},
		// Explicit offsets fix the instant, displayed in the zone.
		{"America/New_York", "202603080230-0500", "2026-03-08T07:30:00Z", "2026-03-08T03:30:00", "-0400"},
		{"America/New_York", "202611010130-0500", "2026-11-01T06:30:00Z", "2026-11-01T01:30:00", "-0500"},
		{"America/New_York", "202611010130-0400", "2026-11-01T05:30:00Z", "2026-11-01T01:30:00", "-0400"},
		{"America/New_York", "20210924093000+0215", "2021-09-24T07:15:00Z", "2021-09-24T03:15:00", "-0400"},
		{"America/New_York", "20260115093000+0215", "2026-01-15T07:15:00Z", "2026-01-15T02:15:00", "-0500"},
		// No DST.
		{"America/Phoenix", "202603080230", "2026-03-08T09:30:00Z", "2026-03-08T02:30:00", "-0700"},
		{"America/Phoenix", "202607010900", "2026-07-01T16:00:00Z", "2026-07-01T09:00:00", "-0700"},
		{"Pacific/Honolulu", "202611010130", "2026-11-01T11:30:00Z", "2026-11-01T01:30:00", "-1000"},
		{"Pacific/Honolulu", "202607010900", "2026-07-01T19:00:00Z", "2026-07-01T09:00:00", "-1000"},
		// Southern hemisphere and half-hour zones.
		{"Australia/Sydney", "202604050230", "2026-04-04T15:30:00Z", "2026-04-05T02:30:00", "+1100"},
		{"Australia/Sydney", "202610040230", "2026-10-03T16:30:00Z", "2026-10-04T03:30:00", "+1100"},
		{"Asia/Kolkata", "202601011200", "2026-01-01T06:30:00Z", "2026-01-01T12:00:00", "+0530"},
		{"Europe/London", "202603290130", "2026-03-29T01:30:00Z", "2026-03-29T02:30:00", "+0100"},
		{"Europe/London", "202610250130", "2026-10-25T00:30:00Z", "2026-10-25T01:30:00", "+0100"},
		// Far future and past, outside common tz tables.
		{"America/Chicago", "209907011200", "2099-07-01T17:00:00Z", "2099-07-01T12:00:00", "-0500"},
		{"America/Chicago", "190001011200", "1900-01-01T18:00:00Z", "1900-01-01T12:00:00", "-0600"},
	}
	for _, tc := range tests {
		loc := mustLoc(t, tc.zone)
		z := zoneFor(loc)
		d, err := parseDTM(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		got := d.instant(z)
		if s := got.UTC().Format(time.RFC3339); s != tc.wantUTC {
			t.Errorf("%s %s: instant %s, want %s", tc.zone, tc.in, s, tc.wantUTC)
		}
		wall, off := z.local(got)
		if wall != tc.wantLocal || off != tc.wantOff {
			t.Errorf("%s %s: local %s %s, want %s %s", tc.zone, tc.in, wall, off, tc.wantLocal, tc.wantOff)
		}
		// ParseDTM (no table) agrees with the table.
		p, err := ParseDTM(tc.in, loc)
		if err != nil || !p.Equal(got) {
			t.Errorf("%s %s: ParseDTM = %v, %v; table gives %v", tc.zone, tc.in, p, err, got)
		}
	}
}

// TestZoneTableMatchesTime checks the zone table against time.Location for
// instants every 7 hours over 1990–2060 in several zones, including the
// formatting done in place of (*apptbridge.Event).SetAppointmentTime.
func TestZoneTableMatchesTime(t *testing.T) {
	for _, name := range []string{"America/New_York", "America/Phoenix", "Pacific/Honolulu",
		"Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC", "America/St_Johns", "Africa/Casablanca"} {
		loc := mustLoc(t, name)
		z := zoneFor(loc)
		from := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
		to := time.Date(2060, 1, 1, 0, 0, 0, 0, time.UTC)
		step := 7 * time.Hour
		if testing.Short() {
			step = 97 * time.Hour
		}
		for at := from; at.Before(to); at = at.Add(step) {
			lt := at.In(loc)
			_, off := lt.Zone()
			if got := z.offsetAt(at.Unix()); got != off {
				t.Fatalf("%s %v: offset %d, want %d", name, at, got, off)
			}
			wall, offs := z.local(at)
			if wall != lt.Format("2006-01-02T15:04:05") || offs != lt.Format("-0700") {
				t.Fatalf("%s %v: local %s %s, want %s %s", name, at, wall, offs,
					lt.Format("2006-01-02T15:04:05"), lt.Format("-0700"))
			}
		}
	}
}

func FuzzParseDTM(f *testing.F) {
	for _, s := range []string{"2026", "20260215143059.1234+0215", "2010052711090000", "200803061000 ",
		"202603080230", "202611010130", "2026-13-45", "99991231235959.999999999-1459", "10000101"} {
		f.Add(s)
	}
	ny := mustLoc(f, "America/New_York")
	z := zoneFor(ny)
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDTM(s)
		if err != nil {
			return
		}
		got := d.instant(z)
		if p, err := ParseDTM(s, ny); err != nil || !p.Equal(got) {
			t.Fatalf("ParseDTM(%q) = %v, %v; instant %v", s, p, err, got)
		}
		if !d.hasOffset {
			// The wall clock reads back unless it fell in a gap (moved forward).
			wall, _ := z.local(got)
			want := time.Date(d.year, time.Month(d.month), d.day, d.hour, d.min, d.sec, 0, time.UTC)
			back, _ := time.Parse("2006-01-02T15:04:05", wall)
			if diff := back.Sub(want); diff < 0 || diff > 3*time.Hour {
				t.Fatalf("%q: wall %s drifts %v", s, wall, diff)
			}
		}
	})
}
