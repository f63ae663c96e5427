package mapping

import (
	"slices"
	"testing"
)

func TestDurationMinutes(t *testing.T) {
	tests := []struct {
		q, unit string
		want    int
		ok      bool
	}{
		{"30", "", 30, true},
		{"30", "MIN", 30, true},
		{"30", "m", 30, true},
		{"30", "min", 30, true},
		{"30", "Min", 30, true},
		{"30", "minutes", 30, true},
		{"30", "MINUTES", 30, true},
		{"30", "M", 30, true},
		{"2", "H", 120, true},
		{"2", "h", 120, true},
		{"2", "hr", 120, true},
		{"2", "hours", 120, true},
		{"1.5", "hours", 90, true},
		{"10800", "S", 180, true},
		{"10800", "s", 180, true},
		{"90", "sec", 2, true}, // seconds round up
		{"61", "seconds", 2, true},
		{"60", "s", 1, true},
		{"1", "D", 1440, true},
		{"M30", "", 30, true}, // TQ duration style
		{"H2", "", 120, true},
		{"S90", "", 2, true},
		{"2 hours", "", 120, true},
		{" 45 ", " MIN ", 45, true},
		{"0.25", "h", 15, true},
		{"abc", "MIN", 0, false},
		{"30", "furlongs", 0, false},
		{"-5", "MIN", 0, false},
		{"1e3", "MIN", 0, false},
		{"99999999", "MIN", 0, false}, // over a month
		{"", "MIN", 0, false},
	}
	for _, tc := range tests {
		got, ok, zero := durationMinutes(tc.q, tc.unit)
		if got != tc.want || ok != tc.ok || zero {
			t.Errorf("durationMinutes(%q, %q) = %d, %v, %v; want %d, %v", tc.q, tc.unit, got, ok, zero, tc.want, tc.ok)
		}
	}
	if _, _, zero := durationMinutes("0", "MIN"); !zero {
		t.Error("0 is not zero")
	}
}

func TestDurationSources(t *testing.T) {
	m := newTestMapper(t, Config{})
	sch := func(dur, units, tq string) string {
		return "SCH|PL1|FL1|||||||" + dur + "|" + units + "|" + tq
	}
	start := "^^^202607011000"
	tests := []struct {
		name string
		segs []string
		want int
		warn string
	}{
		{"TQ1-6", []string{sch("60", "MIN", start), "TQ1|1|||||45^MIN|202607011000"}, 45, ""},
		{"TQ1-6 CE units", []string{sch("", "", start), "TQ1|1|||||2^h&hours&ISO+|202607011000"}, 120, ""},
		{"SCH-9/10", []string{sch("379", "MIN^MINUTES", start)}, 379, ""},
		{"SCH-9 no units", []string{sch("20", "", start)}, 20, ""},
		{"AIS-7/8 seconds", []string{sch("", "", start), "RGS|1", "AIS|1||X|202607011000|0|S|10800|S"}, 180, ""},
		{"AIL-9/10", []string{sch("", "", start), "RGS|1", "AIL|1||R|||202607011000|||45|m^Minutes"}, 45, ""},
		{"AIP-9/10", []string{sch("", "", start), "RGS|1", "AIP|1||D|||202607011000|||15|m^Minutes"}, 15, ""},
		{"AIG-11/12", []string{sch("", "", start), "RGS|1", "AIG|1||R|||||202607011000|0|MIN|5|MIN"}, 5, ""},
		{"SCH-11.3", []string{sch("", "", "^^30^202607011000")}, 30, ""},
		{"TQ1-8 end", []string{sch("", "", start), "TQ1|1||||||202607011000|202607011050"}, 50, ""},
		{"SCH-11.5 end", []string{sch("", "", "^^^202607011000^202607011001")}, 1, ""},
		{"non-numeric then next", []string{sch("abc", "MIN", start), "RGS|1", "AIS|1||X|202607011000|||25|MIN"}, 25, "SCH-9: unusable duration ignored"},
		{"unknown unit then next", []string{sch("3", "furlongs", "^^20^202607011000")}, 20, "SCH-9: unusable duration ignored"},
		{"zero skipped", []string{sch("0", "MIN", "^^20^202607011000")}, 20, ""},
		{"end before start", []string{sch("", "", "^^^202607011000^202607010900")}, 0, "SCH-11.5: end time not after start, ignored"},
		{"none", []string{sch("", "", start)}, 0, ""},
	}
	for _, tc := range tests {
		res := mapOK(t, m, append([]string{msh("S12", "2.5")}, tc.segs...)...)
		if res.Event.AppointmentDurationMinutes != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, res.Event.AppointmentDurationMinutes, tc.want)
		}
		if tc.warn == "" && len(res.Warnings) > 0 || tc.warn != "" && !slices.Contains(res.Warnings, tc.warn) {
			t.Errorf("%s: warnings %q, want %q", tc.name, res.Warnings, tc.warn)
		}
	}
}
