package mapping

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/hl7"
)

// Test messages are built from segment lines; msh() and sch() make the
// usual first two.

func msh(trigger, version string) string {
	s := "MSH|^~\\&|APP|FAC|RCV|RFAC|20260115093000||SIU^" + trigger + "|CTRL1|P"
	if version != "-" {
		s += "|" + version
	}
	return s
}

const (
	schBasic = "SCH|PL1|FL1|||||ROUTINE^Routine visit|NEW^New patient|30|MIN|^^30^202602101430||||||(312)555-0199^WPN^PH||||||||Booked"
	pidBasic = "PID|1||MRN1^^^H^MR||DOE^JANE||19800101|F|||||(312)555-0142^PRN^CP^^1^312^5550142"
)

func parse(t testing.TB, segs ...string) *hl7.Message {
	t.Helper()
	m, err := hl7.Parse([]byte(strings.Join(segs, "\r") + "\r"))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return m
}

func mapOK(t *testing.T, m *Mapper, segs ...string) Result {
	t.Helper()
	res, err := m.Map(parse(t, segs...))
	if err != nil {
		t.Fatalf("Map: %v", err)
	}
	return res
}

func mapErr(t *testing.T, m *Mapper, segs ...string) *Error {
	t.Helper()
	res, err := m.Map(parse(t, segs...))
	if err == nil {
		t.Fatalf("Map: no error; event %+v", res.Event)
	}
	var me *Error
	if !errors.As(err, &me) {
		t.Fatalf("Map: %T is not *Error: %v", err, err)
	}
	return me
}

func TestTriggers(t *testing.T) {
	m := newTestMapper(t, Config{})
	tests := []struct {
		trigger string
		want    apptbridge.EventType
		ignored bool
		code    int
	}{
		{"S12", apptbridge.Booked, false, 0},
		{"S13", apptbridge.Rescheduled, false, 0},
		{"S14", apptbridge.Modified, false, 0},
		{"S15", apptbridge.Canceled, false, 0},
		{"S16", apptbridge.Canceled, false, 0},
		{"S17", apptbridge.Canceled, false, 0},
		{"S18", apptbridge.Modified, false, 0},
		{"S19", apptbridge.Modified, false, 0},
		{"S20", apptbridge.Modified, false, 0},
		{"S21", apptbridge.Modified, false, 0},
		{"S22", apptbridge.Modified, false, 0},
		{"S23", "", true, 0},
		{"S24", "", true, 0},
		{"S26", apptbridge.Noshowed, false, 0},
		{"s12", apptbridge.Booked, false, 0}, // case-insensitive
		{"S25", "", false, 201},
		{"S99", "", false, 201},
		{"S11", "", false, 201},
		{"", "", false, 201},
		{"S12^SIU_S12", apptbridge.Booked, false, 0}, // structure in MSH-9.3
	}
	for _, tc := range tests {
		t.Run(tc.trigger, func(t *testing.T) {
			segs := []string{msh(tc.trigger, "2.5"), schBasic, pidBasic}
			if tc.code != 0 {
				e := mapErr(t, m, segs...)
				if e.Code != tc.code || e.Location != "MSH-9.2" || e.AckCode() != "AR" || !errors.Is(e, ErrUnsupportedTrigger) {
					t.Fatalf("got %d %s %s", e.Code, e.Location, e.AckCode())
				}
				return
			}
			res := mapOK(t, m, segs...)
			if res.Ignored != tc.ignored {
				t.Fatalf("ignored = %v", res.Ignored)
			}
			if tc.ignored {
				if res.Event != nil || !strings.HasPrefix(res.Reason, "SIU^"+tc.trigger+": ") {
					t.Fatalf("ignored result %+v", res)
				}
				return
			}
			if res.Event.EventType != tc.want {
				t.Fatalf("event type %s, want %s", res.Event.EventType, tc.want)
			}
			if want := "SIU^" + strings.ToUpper(strings.Split(tc.trigger, "^")[0]); res.Event.Source.MessageType != want {
				t.Fatalf("message type %q, want %q", res.Event.Source.MessageType, want)
			}
		})
	}
}

func TestIgnoredNeedsNoSCH(t *testing.T) {
	m := newTestMapper(t, Config{})
	res := mapOK(t, m, msh("S23", "2.5"))
	if !res.Ignored || res.Reason != "SIU^S23: blocked slots have no appointment effect" {
		t.Fatalf("%+v", res)
	}
	res = mapOK(t, m, msh("S24", "2.5"))
	if !res.Ignored || res.Reason != "SIU^S24: opened slots have no appointment effect" {
		t.Fatalf("%+v", res)
	}
}

func TestStatusRefinement(t *testing.T) {
	m := newTestMapper(t, Config{})
	tests := []struct {
		trigger, status string
		want            apptbridge.EventType
	}{
		{"S14", "Confirmed", apptbridge.Confirmed},
		{"S14", "CONFIRMED", apptbridge.Confirmed},
		{"S14", "confirmed^Confirmed^L", apptbridge.Confirmed},
		{"S14", "Cancelled", apptbridge.Canceled},
		{"S14", "deleted", apptbridge.Canceled},
		{"S14", "Dc", apptbridge.Canceled},
		{"S14", "Noshow", apptbridge.Noshowed},
		{"S14", " Noshow ", apptbridge.Noshowed},
		{"S14", "Booked", apptbridge.Modified},
		{"S14", "ARRIVED", apptbridge.Modified},
		{"S14", "", apptbridge.Modified},
		{"S14", `""`, apptbridge.Modified},
		// Only S14 is refined.
		{"S12", "Confirmed", apptbridge.Booked},
		{"S13", "Cancelled", apptbridge.Rescheduled},
		{"S15", "Booked", apptbridge.Canceled},    // rimiti-2
		{"S26", "Cancelled", apptbridge.Noshowed}, // renalware-5
		{"S26", "Booked", apptbridge.Noshowed},    // rimiti-3
		{"S20", "Cancelled", apptbridge.Modified},
	}
	for _, tc := range tests {
		sch := "SCH|PL1|FL1|||||||30|MIN|^^30^202602101430||||||||||||||" + tc.status
		res := mapOK(t, m, msh(tc.trigger, "2.5"), sch, pidBasic)
		if res.Event.EventType != tc.want {
			t.Errorf("%s %q: %s, want %s", tc.trigger, tc.status, res.Event.EventType, tc.want)
		}
		if want := clean(strings.Split(tc.status, "^")[0]); res.Event.AppointmentStatus != want {
			t.Errorf("%s %q: status %q, want %q", tc.trigger, tc.status, res.Event.AppointmentStatus, want)
		}
	}
}

func TestVersions(t *testing.T) {
	m := newTestMapper(t, Config{})
	for _, v := range []string{"-", "", "2.1", "2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.2", "2.9", " 2.4 ", "2.5^^2.5", "2.5.1^USA"} {
		if _, err := m.Map(parse(t, msh("S12", v), schBasic)); err != nil {
			t.Errorf("version %q: %v", v, err)
		}
	}
	for _, v := range []string{"3.0", "abc", "2", "2.0", "2.10", "1.0", "V2.4", "2.5.", "2.5.x", "2.55"} {
		e := mapErr(t, m, msh("S12", v), schBasic)
		if e.Code != 203 || e.Location != "MSH-12" || e.AckCode() != "AR" || !errors.Is(e, ErrUnsupportedVersion) {
			t.Errorf("version %q: %d %s %s", v, e.Code, e.Location, e.AckCode())
		}
	}
	// A profile can require the version and narrow the list.
	f := false
	strict := newTestMapper(t, Config{Profile: &Profile{Versions: []string{"2.5"}, AllowMissingVersion: &f}})
	if _, err := strict.Map(parse(t, msh("S12", "2.5.1"), schBasic)); err != nil {
		t.Error(err)
	}
	for _, v := range []string{"-", "2.4"} {
		if e := mapErr(t, strict, msh("S12", v), schBasic); e.Code != 203 {
			t.Errorf("strict %q: %d", v, e.Code)
		}
	}
}

func TestErrors(t *testing.T) {
	m := newTestMapper(t, Config{})
	tests := []struct {
		name     string
		segs     []string
		code     int
		loc      string
		sentinel error
	}{
		{"non-SIU", []string{"MSH|^~\\&|A|B|C|D|20260115093000||ADT^A01|1|P|2.5", "PID|1"}, 200, "MSH-9", ErrUnsupportedType},
		{"SRM", []string{"MSH|^~\\&|A|B|C|D|20260115093000||SRM^S01|1|P|2.5", schBasic}, 200, "MSH-9", ErrUnsupportedType},
		{"no MSH-9", []string{"MSH|^~\\&|A|B|C|D|20260115093000|||1|P|2.5", schBasic}, 101, "MSH-9", ErrMissingField},
		{"unknown trigger", []string{msh("S99", "2.5"), schBasic}, 201, "MSH-9.2", ErrUnsupportedTrigger},
		{"S25", []string{msh("S25", "2.5"), schBasic}, 201, "MSH-9.2", ErrUnsupportedTrigger},
		{"bad version", []string{msh("S12", "3.0"), schBasic}, 203, "MSH-12", ErrUnsupportedVersion},
		{"no SCH", []string{msh("S12", "2.5"), pidBasic}, 100, "SCH", ErrMissingSegment},
		{"no SCH-1 and SCH-2", []string{msh("S12", "2.5"), "SCH|||||||||30|MIN|^^30^202602101430"}, 101, "SCH-1", ErrMissingField},
		{"null SCH-1 and SCH-2", []string{msh("S12", "2.5"), `SCH|""|""||||||||||^^30^202602101430`}, 101, "SCH-1", ErrMissingField},
		{"no start", []string{msh("S12", "2.5"), "SCH|PL1|FL1"}, 101, "SCH-11", ErrMissingField},
		{"no start S13", []string{msh("S13", "2.5"), "SCH|PL1|FL1"}, 101, "SCH-11", ErrMissingField},
		{"bad start", []string{msh("S12", "2.5"), "SCH|PL1|FL1|||||||||^^^2026-13-45"}, 102, "SCH-11.4", ErrBadValue},
		{"bad start digits", []string{msh("S12", "2.5"), "SCH|PL1|FL1|||||||||^^^20261345"}, 102, "SCH-11.4", ErrBadValue},
		{"date-only start", []string{msh("S12", "2.5"), "SCH|PL1|FL1|||||||||^^^20260210"}, 102, "SCH-11.4", ErrBadValue},
		{"bad TQ1-7", []string{msh("S12", "2.5"), schBasic, "TQ1|1||||||2026021014xx"}, 102, "TQ1-7", ErrBadValue},
		{"bad start on cancel", []string{msh("S15", "2.5"), "SCH|PL1|FL1|||||||||^^^2026-13-45"}, 102, "SCH-11.4", ErrBadValue},
		{"no MSH-7", []string{"MSH|^~\\&|A|B|C|D|||SIU^S12|1|P|2.5", schBasic}, 101, "MSH-7", ErrMissingField},
		{"bad MSH-7", []string{"MSH|^~\\&|A|B|C|D|yesterday||SIU^S12|1|P|2.5", schBasic}, 102, "MSH-7", ErrBadValue},
		{"bad EVN-2", []string{msh("S12", "2.5"), "EVN|S12|2026011509300", schBasic}, 102, "EVN-2", ErrBadValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mapErr(t, m, tc.segs...)
			if e.Code != tc.code || e.Location != tc.loc {
				t.Fatalf("got %d at %s, want %d at %s (%v)", e.Code, e.Location, tc.code, tc.loc, e)
			}
			if !errors.Is(e, tc.sentinel) {
				t.Fatalf("errors.Is(%v, %v) = false", e, tc.sentinel)
			}
			wantAck := "AE"
			if tc.code >= 200 {
				wantAck = "AR"
			}
			if e.AckCode() != wantAck {
				t.Fatalf("AckCode = %s, want %s", e.AckCode(), wantAck)
			}
			if apptbridge.ErrorCode(e) != apptbridge.EINVALID {
				t.Fatalf("apptbridge.ErrorCode = %s", apptbridge.ErrorCode(e))
			}
			if _, err := hl7.ParseLocation(e.Location); err != nil {
				t.Fatalf("location %q does not parse: %v", e.Location, err)
			}
		})
	}
}

// TestStartOptional: events other than BOOKED/RESCHEDULED may come without
// a start time (pkb-2's cancellation carries only the appointment id).
func TestStartOptional(t *testing.T) {
	m := newTestMapper(t, Config{})
	for _, trig := range []string{"S14", "S15", "S17", "S26", "S20"} {
		res := mapOK(t, m, msh(trig, "2.5"), "SCH|PL1")
		if res.Event.AppointmentDatetime != "" || !res.Event.AppointmentDatetimeUTC.IsZero() || res.Event.AppointmentTZ != "" {
			t.Errorf("%s: time fields set: %+v", trig, res.Event)
		}
		if !slices.Contains(res.Warnings, "no start time: the event carries no appointment time") {
			t.Errorf("%s: warnings %q", trig, res.Warnings)
		}
	}
	// S14 refined to CONFIRMED: not required either.
	mapOK(t, m, msh("S14", "2.5"), "SCH|PL1||||||||||||||||||||||||Confirmed")
	// A profile can require it for every event type.
	strict := newTestMapper(t, Config{Profile: &Profile{StartRequired: []string{"BOOKED", "RESCHEDULED", "MODIFIED", "CONFIRMED", "CANCELED", "NOSHOWED"}}})
	if e := mapErr(t, strict, msh("S15", "2.5"), "SCH|PL1"); e.Code != 101 || e.Location != "SCH-11" {
		t.Fatalf("%v", e)
	}
}

func TestAppointmentID(t *testing.T) {
	tests := []struct {
		idField, sch, want, placer, filler string
	}{
		{"", "SCH|PL1^EPIC|FL1^SCHED", "PL1", "PL1", "FL1"},
		{"", "SCH||FL1^SCHED", "FL1", "", "FL1"},
		{"", `SCH|""|FL1`, "FL1", "", "FL1"},
		{"placer", "SCH|PL1|FL1", "PL1", "PL1", "FL1"},
		{"filler", "SCH|PL1|FL1", "FL1", "PL1", "FL1"},
		{"filler", "SCH|PL1", "PL1", "PL1", ""},
		{"SCH-2.2", "SCH|PL1|FL1^SCHED", "SCHED", "PL1", "FL1"},
	}
	for _, tc := range tests {
		m := newTestMapper(t, Config{Profile: &Profile{IDField: tc.idField}})
		sch := tc.sch + strings.Repeat("|", 11-strings.Count(tc.sch, "|")) + "^^^202602101430"
		res := mapOK(t, m, msh("S12", "2.5"), sch)
		ev := res.Event
		if ev.AppointmentID != tc.want || ev.AppointmentPlacerID != tc.placer || ev.AppointmentFillerID != tc.filler {
			t.Errorf("%q %q: id %q placer %q filler %q", tc.idField, tc.sch, ev.AppointmentID, ev.AppointmentPlacerID, ev.AppointmentFillerID)
		}
	}
	m := newTestMapper(t, Config{Profile: &Profile{IDField: "filler"}})
	if e := mapErr(t, m, msh("S12", "2.5"), "SCH|||||||||||^^^202602101430"); e.Location != "SCH-2" {
		t.Errorf("filler: missing id at %s", e.Location)
	}
	m = newTestMapper(t, Config{Profile: &Profile{IDField: "SCH-2.2"}})
	if e := mapErr(t, m, msh("S12", "2.5"), "SCH|PL1|FL1||||||||^^^202602101430"); e.Location != "SCH-2" {
		t.Errorf("explicit: missing id at %s", e.Location)
	}
}

// TestStartSources checks each start field in order and the disagreement
// warning.
func TestStartSources(t *testing.T) {
	m := newTestMapper(t, Config{})
	const (
		a = "202602101430" // 19:30Z
		b = "202602111430"
	)
	sch := func(start string) string { return "SCH|PL1|FL1|||||||||^^^" + start }
	tests := []struct {
		name    string
		segs    []string
		wantUTC string
		warn    string
	}{
		{"TQ1-7", []string{sch(""), "TQ1|1||||||" + a}, "2026-02-10T19:30:00Z", ""},
		{"TQ1-7 TS components", []string{sch(""), "TQ1|1||||||" + a + "^M"}, "2026-02-10T19:30:00Z", ""},
		{"SCH-11.4", []string{sch(a)}, "2026-02-10T19:30:00Z", ""},
		{"SCH-11.4 TS subcomponents", []string{sch(a + "&M")}, "2026-02-10T19:30:00Z", ""},
		{"AIS-4", []string{sch(""), "RGS|1", "AIS|1||X^Y|" + a}, "2026-02-10T19:30:00Z", ""},
		{"AIP-6", []string{sch(""), "RGS|1", "AIP|1||1^DOC||" + "|" + a}, "2026-02-10T19:30:00Z", ""},
		{"AIL-6", []string{sch(""), "RGS|1", "AIL|1||ROOM|||" + a}, "2026-02-10T19:30:00Z", ""},
		{"AIG-8", []string{sch(""), "RGS|1", "AIG|1||RES|||||" + a}, "2026-02-10T19:30:00Z", ""},
		{"second AIS", []string{sch(""), "RGS|1", "AIS|1||X^Y|", "RGS|2", "AIS|2||X^Y|" + a}, "2026-02-10T19:30:00Z", ""},
		{"TQ1 over SCH", []string{sch(b), "TQ1|1||||||" + a}, "2026-02-10T19:30:00Z", "start times disagree: TQ1-7 (used) vs SCH-11.4"},
		{"SCH over AIS", []string{sch(a), "RGS|1", "AIS|1||X|" + b, "AIP|1||D|||" + a, "AIL|1||R|||" + b}, "2026-02-10T19:30:00Z", "start times disagree: SCH-11.4 (used) vs AIS-4, AIL-6"},
		{"same instant other form", []string{sch(a), "TQ1|1||||||20260210143000-0500"}, "2026-02-10T19:30:00Z", ""},
		{"unparseable later", []string{sch(a), "RGS|1", "AIS|1||X|junk"}, "2026-02-10T19:30:00Z", "AIS-4: unparseable start date/time ignored"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := mapOK(t, m, append([]string{msh("S12", "2.5")}, tc.segs...)...)
			if got := res.Event.AppointmentDatetimeUTC.Format(time.RFC3339); got != tc.wantUTC {
				t.Fatalf("start %s, want %s", got, tc.wantUTC)
			}
			if tc.warn == "" && len(res.Warnings) > 0 || tc.warn != "" && !slices.Contains(res.Warnings, tc.warn) {
				t.Fatalf("warnings %q, want %q", res.Warnings, tc.warn)
			}
		})
	}
	// A profile can read Epic OpTime's shifted SCH (timing in SCH-12).
	p := newTestMapper(t, Config{Profile: &Profile{StartFields: []string{"SCH-12.4", "AIS-4"}}})
	res := mapOK(t, p, msh("S14", ""), "SCH||27756||||||||10800|S|^^^20260309142500")
	if got := res.Event.AppointmentDatetime; got != "2026-03-09T14:25:00" {
		t.Fatalf("SCH-12.4: %s", got)
	}
}

func TestTimeFields(t *testing.T) {
	m := newTestMapper(t, Config{DefaultTimezone: "America/Chicago"})
	res := mapOK(t, m, msh("S12", "2.5"), "SCH|PL1|FL1|||||||||^^^202612011500")
	ev := res.Event
	if ev.AppointmentDatetime != "2026-12-01T15:00:00" || ev.AppointmentTimezone != "-0600" ||
		ev.AppointmentTZ != "America/Chicago" || ev.AppointmentDatetimeUTC.Format(time.RFC3339) != "2026-12-01T21:00:00Z" {
		t.Fatalf("%+v", ev)
	}
	// MSH-7 in the default zone.
	if got := ev.EventDatetimeUTC.Format(time.RFC3339); got != "2026-01-15T15:30:00Z" {
		t.Fatalf("event time %s", got)
	}
	// EVN-2 wins over MSH-7.
	res = mapOK(t, m, msh("S12", "2.5"), "EVN|S12|20260116080000-0500", "SCH|PL1|FL1|||||||||^^^202612011500")
	if got := res.Event.EventDatetimeUTC.Format(time.RFC3339); got != "2026-01-16T13:00:00Z" {
		t.Fatalf("EVN-2 event time %s", got)
	}
	// The same fields as apptbridge.Event.SetAppointmentTime.
	var want apptbridge.Event
	want.SetAppointmentTime(ev.AppointmentDatetimeUTC, mustLoc(t, "America/Chicago"))
	if want.AppointmentDatetime != ev.AppointmentDatetime || want.AppointmentTimezone != ev.AppointmentTimezone ||
		want.AppointmentTZ != ev.AppointmentTZ || !want.AppointmentDatetimeUTC.Equal(ev.AppointmentDatetimeUTC) {
		t.Fatalf("SetAppointmentTime gives %+v", want)
	}
	// Explicit offsets: the instant is fixed and shown in the zone.
	res = mapOK(t, m, msh("S12", "2.5"), "SCH|PL1|FL1|||||||||^^^20210924093000+0215")
	ev = res.Event
	if ev.AppointmentDatetime != "2021-09-24T02:15:00" || ev.AppointmentTimezone != "-0500" || ev.AppointmentDatetimeUTC.Format(time.RFC3339) != "2021-09-24T07:15:00Z" {
		t.Fatalf("offset: %+v", ev)
	}
}

func TestDSTInMessages(t *testing.T) {
	m := newTestMapper(t, Config{DefaultTimezone: "America/New_York"})
	tests := []struct{ in, local, off, utc string }{
		{"202603080230", "2026-03-08T03:30:00", "-0400", "2026-03-08T07:30:00Z"}, // gap: forward
		{"202611010130", "2026-11-01T01:30:00", "-0400", "2026-11-01T05:30:00Z"}, // ambiguous: earlier
		{"202611010130-0500", "2026-11-01T01:30:00", "-0500", "2026-11-01T06:30:00Z"},
		{"202603081200-0800", "2026-03-08T16:00:00", "-0400", "2026-03-08T20:00:00Z"},
	}
	for _, tc := range tests {
		ev := mapOK(t, m, msh("S12", "2.5"), "SCH|PL1|FL1|||||||||^^^"+tc.in).Event
		if ev.AppointmentDatetime != tc.local || ev.AppointmentTimezone != tc.off || ev.AppointmentDatetimeUTC.Format(time.RFC3339) != tc.utc {
			t.Errorf("%s: %s %s %s", tc.in, ev.AppointmentDatetime, ev.AppointmentTimezone, ev.AppointmentDatetimeUTC.Format(time.RFC3339))
		}
	}
	for _, tc := range []struct{ zone, local, off, utc string }{
		{"America/Phoenix", "2026-03-08T02:30:00", "-0700", "2026-03-08T09:30:00Z"},
		{"Pacific/Honolulu", "2026-03-08T02:30:00", "-1000", "2026-03-08T12:30:00Z"},
	} {
		ev := mapOK(t, newTestMapper(t, Config{DefaultTimezone: tc.zone}), msh("S12", "2.5"), "SCH|PL1|FL1|||||||||^^^202603080230").Event
		if ev.AppointmentDatetime != tc.local || ev.AppointmentTimezone != tc.off || ev.AppointmentTZ != tc.zone || ev.AppointmentDatetimeUTC.Format(time.RFC3339) != tc.utc {
			t.Errorf("%s: %+v", tc.zone, ev)
		}
	}
}

func TestLocationTable(t *testing.T) {
	p := &Profile{
		CallbackPhone: "+13125550100",
		Locations: map[string]LocationProfile{
			"CARDIO": {DisplayName: "Heart Clinic, 5th floor", CallbackPhone: "(312) 555-0111", Timezone: "America/Chicago"},
			"HONO":   {Timezone: "Pacific/Honolulu"},
			"MAIN":   {DisplayName: "Main Campus"},
		},
	}
	m := newTestMapper(t, Config{Profile: p})
	sch := "SCH|PL1|FL1|||||||||^^^202607011000||||||(608)555-0123"
	tests := []struct {
		name                         string
		segs                         []string
		loc, code, tz, local, offset string
		callback                     string
	}{
		{"table row", []string{sch, "RGS|1", "AIL|1||CARDIO^RM1^^MAIN^^C^^^Cardiology"},
			"Heart Clinic, 5th floor", "CARDIO", "America/Chicago", "2026-07-01T10:00:00", "-0500", "+13125550111"},
		{"zone only", []string{sch, "RGS|1", "AIL|1||HONO"},
			"HONO", "HONO", "Pacific/Honolulu", "2026-07-01T10:00:00", "-1000", "+16085550123"},
		{"facility code", []string{sch, "RGS|1", "AIL|1||^^^MAIN"},
			"Main Campus", "MAIN", "America/New_York", "2026-07-01T10:00:00", "-0400", "+16085550123"},
		{"description", []string{sch, "RGS|1", "AIL|1||X1^^^FAC^^^^^Pediatrics \\T\\ Teens"},
			"Pediatrics & Teens", "X1", "America/New_York", "2026-07-01T10:00:00", "-0400", "+16085550123"},
		{"PV1-3", []string{sch, "PV1|1|O|CARDIO^RM2"},
			"Heart Clinic, 5th floor", "CARDIO", "America/Chicago", "2026-07-01T10:00:00", "-0500", "+13125550111"},
		{"empty AIL-3 then PV1-3", []string{sch, "PV1|1|O|^^^^^^^^health centre", "RGS|1", "AIL|1||^"},
			"health centre", "", "America/New_York", "2026-07-01T10:00:00", "-0400", "+16085550123"},
		{"default callback", []string{"SCH|PL1|FL1|||||||||^^^202607011000", "RGS|1", "AIL|1||OTHER"},
			"OTHER", "OTHER", "America/New_York", "2026-07-01T10:00:00", "-0400", "+13125550100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := mapOK(t, m, append([]string{msh("S12", "2.5")}, tc.segs...)...).Event
			if ev.AppointmentLocation != tc.loc || ev.AppointmentLocationCode != tc.code || ev.AppointmentTZ != tc.tz ||
				ev.AppointmentDatetime != tc.local || ev.AppointmentTimezone != tc.offset || ev.ProviderCallbackPhone != tc.callback {
				t.Fatalf("got %q %q %s %s %s %s", ev.AppointmentLocation, ev.AppointmentLocationCode, ev.AppointmentTZ,
					ev.AppointmentDatetime, ev.AppointmentTimezone, ev.ProviderCallbackPhone)
			}
		})
	}
	// Config.CallbackPhone is the last resort when the profile has none.
	m = newTestMapper(t, Config{CallbackPhone: "312-555-0177"})
	if ev := mapOK(t, m, msh("S12", "2.5"), "SCH|PL1|FL1|||||||||^^^202607011000").Event; ev.ProviderCallbackPhone != "+13125550177" {
		t.Fatalf("config callback %q", ev.ProviderCallbackPhone)
	}
	// An unusable SCH-17 warns and falls through.
	res := mapOK(t, m, msh("S12", "2.5"), "SCH|PL1|FL1|||||||||^^^202607011000||||||555-01")
	if res.Event.ProviderCallbackPhone != "+13125550177" || !slices.Contains(res.Warnings, "SCH-17: unusable phone number") {
		t.Fatalf("%q %q", res.Event.ProviderCallbackPhone, res.Warnings)
	}
}

func TestProvider(t *testing.T) {
	m := newTestMapper(t, Config{})
	sch := "SCH|PL1|FL1|||||||||^^^202607011000|||||SCHID^SCHFAM^SCHGIV"
	tests := []struct {
		name              string
		segs              []string
		id, family, given string
	}{
		{"AIP-3", []string{sch, "PV1|1|O|||||PV^PVF^PVG", "RGS|1", "AIP|1||1210^GE^Robert^C|D"}, "1210", "GE", "Robert"},
		{"first valued AIP", []string{sch, "RGS|1", "AIP|1||", "RGS|2", "AIP|2||77^SECOND^S"}, "77", "SECOND", "S"},
		{"FN subcomponents", []string{sch, "RGS|1", "AIP|1||9941339109^Smith&Mr.&Smith^Adam^Mellie^Jr^Dr^MD"}, "9941339109", "Smith", "Adam"},
		{"AIP repeating", []string{sch, "RGS|1", "AIP|1||145251^SURGERY^PHYSICIAN~1103299990^SURGERY^PHYSICIAN^^^^^^^NPI"}, "145251", "SURGERY", "PHYSICIAN"},
		{"name only", []string{sch, "RGS|1", "AIP|||^Jones^Stuart^James^^Dr|^Doctor"}, "", "Jones", "Stuart"},
		{"SCH-16", []string{sch, "PV1|1|O|||||PV^PVF^PVG"}, "SCHID", "SCHFAM", "SCHGIV"},
		{"PV1-7", []string{"SCH|PL1|FL1|||||||||^^^202607011000", "PV1|1|O|||||PV^PVF^PVG"}, "PV", "PVF", "PVG"},
		{"none", []string{"SCH|PL1|FL1|||||||||^^^202607011000"}, "", "", ""},
	}
	for _, tc := range tests {
		ev := mapOK(t, m, append([]string{msh("S12", "2.5")}, tc.segs...)...).Event
		if ev.ProviderID != tc.id || ev.ProviderLastName != tc.family || ev.ProviderFirstName != tc.given {
			t.Errorf("%s: %q %q %q", tc.name, ev.ProviderID, ev.ProviderLastName, ev.ProviderFirstName)
		}
	}
}

func TestPatient(t *testing.T) {
	m := newTestMapper(t, Config{})
	sch := "SCH|PL1|FL1|||||||||^^^202607011000"
	tests := []struct {
		name                  string
		pid                   string
		id, last, first, lang string
	}{
		{"basic", "PID|1||MRN1^^^H^MR~SS1^^^SSA^SS||DOE^JANE^Q||19800101|F|||||||ENG^English^ISO6392", "MRN1", "DOE", "JANE", "en"},
		{"first valued CX.1", "PID|1||^^^X~MRN2^^^H^MR||DOE^JANE", "MRN2", "DOE", "JANE", ""},
		{"HL7 null name", `PID|1||M1||""^""`, "M1", "", "", ""},
		{"FN subcomponent", "PID|1||M1||EVERYMAN&&&&Aniston^ADAM^A~Josh&&&&Bing^^stanley", "M1", "EVERYMAN", "ADAM", ""},
		{"escaped name", "PID|1||M1||PRICE\\S\\WATERHOUSE^ANN", "M1", "PRICE^WATERHOUSE", "ANN", ""},
		{"no components", "PID|1||M1||TEST MP3^TEST MP3", "M1", "TEST MP3", "TEST MP3", ""},
		{"spa", "PID|1||M1||A^B||||||||||SPA", "M1", "A", "B", "es"},
		{"es", "PID|1||M1||A^B||||||||||es", "M1", "A", "B", "es"},
		{"FR", "PID|1||M1||A^B||||||||||FR", "M1", "A", "B", "fr"},
		{"en-US", "PID|1||M1||A^B||||||||||en-US", "M1", "A", "B", "en"},
		{"alternate id", "PID|1||M1||A^B||||||||||^English^^eng", "M1", "A", "B", "en"},
		{"text only", "PID|1||M1||A^B||||||||||^Spanish", "M1", "A", "B", "es"},
		{"unknown 2-letter", "PID|1||M1||A^B||||||||||XX", "M1", "A", "B", "xx"},
		{"unknown", "PID|1||M1||A^B||||||||||Klingon", "M1", "A", "B", ""},
		{"msfhir CWE", "PID|1||M1||A^B||||||||||ara^^HL70296^eng^English-us^HL70296", "M1", "A", "B", "ar"},
	}
	for _, tc := range tests {
		ev := mapOK(t, m, msh("S12", "2.5"), sch, tc.pid).Event
		if ev.PatientID != tc.id || ev.PatientLastName != tc.last || ev.PatientFirstName != tc.first || ev.PatientLanguage != tc.lang {
			t.Errorf("%s: %q %q %q %q", tc.name, ev.PatientID, ev.PatientLastName, ev.PatientFirstName, ev.PatientLanguage)
		}
	}
	// Identifier type selection.
	p := newTestMapper(t, Config{Profile: &Profile{PatientIDTypes: []string{"MR", "MRN"}}})
	for _, tc := range []struct{ pid, want string }{
		{"PID|1||SS1^^^SSA^SS~MRN9^^^H^MRN~MR7^^^H^MR", "MR7"},
		{"PID|1||SS1^^^SSA^SS~MRN9^^^H^mrn", "MRN9"},
		{"PID|1||SS1^^^SSA^SS~X^^^H^PI", "SS1"},
	} {
		if ev := mapOK(t, p, msh("S12", "2.5"), sch, tc.pid).Event; ev.PatientID != tc.want {
			t.Errorf("%s: %q, want %q", tc.pid, ev.PatientID, tc.want)
		}
	}
}

func TestConcurrentMap(t *testing.T) {
	m := newTestMapper(t, Config{})
	var msgs []*hl7.Message
	for _, f := range sampleFiles(t) {
		b := mustRead(t, f)
		msg, err := hl7.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, msg)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				m.Map(msgs[(g+i)%len(msgs)])
			}
		}()
	}
	wg.Wait()
}
