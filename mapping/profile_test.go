package mapping

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestExampleProfiles(t *testing.T) {
	y, err := LoadProfile("testdata/profile-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	j, err := LoadProfile("testdata/profile-example.json")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(y, j) {
		t.Fatalf("YAML and JSON examples differ:\n%+v\n%+v", y, j)
	}
	m := newTestMapper(t, Config{Profile: y})
	ev := mapOK(t, m, msh("S12", "2.5"), "SCH|PL1|FL1|||||||||^^^202607011000", "RGS|1", "AIL|1||CARDIO").Event
	if ev.AppointmentTZ != "America/Chicago" || ev.AppointmentLocation != "Cardiology, 5th floor" || ev.ProviderCallbackPhone != "+13125550111" {
		t.Fatalf("%+v", ev)
	}
}

// TestDefaultProfileRoundTrip: the built-in rules written out as JSON and
// YAML load back to the same behaviour.
func TestDefaultProfileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	b, err := json.MarshalIndent(DefaultProfile(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "p.json")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := LoadProfile(f)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.merged(); !reflect.DeepEqual(got, DefaultProfile()) {
		t.Fatalf("round trip differs:\n%+v\n%+v", got, DefaultProfile())
	}
	// The mapper's effective profile is the default with Config's values.
	m := newTestMapper(t, Config{DefaultTimezone: "America/Denver", DefaultCountry: "CA", CallbackPhone: "416 555 0123"})
	eff := m.Profile()
	if eff.DefaultTimezone != "America/Denver" || eff.DefaultCountry != "CA" || eff.CallbackPhone != "+14165550123" {
		t.Fatalf("effective %+v", eff)
	}
	// Samples map the same with the written-out defaults.
	a, bm := newTestMapper(t, Config{}), newTestMapper(t, Config{Profile: p})
	for _, f := range sampleFiles(t) {
		la, lb := mapSample(t, a, f), mapSample(t, bm, f)
		if !reflect.DeepEqual(la, lb) {
			t.Errorf("%s differs with the written-out default profile", f)
		}
	}
}

func TestLoadProfileErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ file, body, want string }{
		{"a.json", `{"triggers": {"S12": "BOOKED"}, "trigers": {}}`, `unknown field "trigers"`},
		{"b.yaml", "triggers:\n  S12: BOOKED\nphone:\n  feilds: [PID-13]\n", "field feilds not found"},
		{"c.yml", "locations:\n  X:\n    timezone: America/Chicago\n    tz: x\n", "field tz not found"},
		{"d.json", `{"triggers": {"S12": "BOOK"}}`, `triggers.S12: unknown event type "BOOK"`},
		{"e.json", `{"status_table": {"Confirmed": "CONFIRMED", "confirmed": "CANCELED"}}`, "listed twice"},
		{"f.json", `{"start_fields": ["SCH11.4"]}`, `start_fields[0]: "SCH11.4" is not a field location`},
		{"g.json", `{"locations": {"X": {"timezone": "Mars/Olympus"}}}`, `locations.X.timezone: "Mars/Olympus" is not an IANA time zone`},
		{"h.json", `{"default_timezone": "Local"}`, "default_timezone"},
		{"i.json", `{"default_country": "ZZ"}`, `default_country: "ZZ" is not a supported country`},
		{"j.json", `{"phone": {"rules": [{"lone": true, "any": true}]}}`, "phone.rules[0]: set exactly one"},
		{"k.json", `{"durations": [{"quantity": "SCH-9", "units": "AIS-8"}]}`, "same segment"},
		{"l.json", `{"durations": [{}]}`, "durations[0]: set quantity or end"},
		{"m.json", `{"id_field": "somewhere"}`, "id_field"},
		{"n.json", `{"callback_phone": "+1 123"}`, "callback_phone: not a usable phone number"},
		{"o.json", `{"default_country": "US", "locations": {"X": {"callback_phone": "12"}}}`, "locations.X.callback_phone"},
		{"p.txt", `{}`, "unknown extension"},
		{"q.json", `{} {}`, "data after"},
		{"r.json", `{"triggers": {"S 12": "BOOKED"}}`, "not a trigger event"},
		{"s.json", `{"start_required": ["SOON"]}`, "start_required[0]"},
		{"t.json", `{"versions": ["2.5|"]}`, "versions[0]"},
	}
	for _, tc := range tests {
		f := filepath.Join(dir, tc.file)
		if err := os.WriteFile(f, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadProfile(f)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.file, err, tc.want)
		}
	}
	if _, err := LoadProfile(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file: no error")
	}
	// A national callback number is checked by New, with Config's country.
	f := filepath.Join(dir, "gb.json")
	os.WriteFile(f, []byte(`{"locations": {"X": {"callback_phone": "020 7946 0000"}}}`), 0o600)
	p, err := LoadProfile(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{DefaultCountry: "GB", Profile: p}); err != nil {
		t.Errorf("GB: %v", err)
	}
	if _, err := New(Config{DefaultCountry: "US", Profile: p}); err == nil {
		t.Error("US: national GB callback accepted")
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{DefaultTimezone: "Nowhere/Town"}, "DefaultTimezone"},
		{Config{DefaultTimezone: "Local"}, "DefaultTimezone"},
		{Config{DefaultCountry: "Narnia"}, "DefaultCountry"},
		{Config{CallbackPhone: "12"}, "CallbackPhone"},
		{Config{Profile: &Profile{Triggers: map[string]string{"S12": "SOMETIMES"}}}, "triggers.S12"},
	}
	for _, tc := range tests {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
	m, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if p := m.Profile(); p.DefaultTimezone != "America/New_York" || p.DefaultCountry != "US" {
		t.Fatalf("defaults %+v", p)
	}
	// Profile values win over Config.
	m = newTestMapper(t, Config{DefaultTimezone: "America/Denver", Profile: &Profile{DefaultTimezone: "Europe/Paris", DefaultCountry: "FR"}})
	if p := m.Profile(); p.DefaultTimezone != "Europe/Paris" || p.DefaultCountry != "FR" {
		t.Fatalf("profile over config %+v", p)
	}
}

func TestProfileTriggersAndStatus(t *testing.T) {
	p := &Profile{
		Triggers:      map[string]string{"S12": "BOOKED", "S14": "MODIFIED", "S15": "IGNORE", "Z01": "CONFIRMED"},
		StatusRefines: []string{"S12", "S14"},
		StatusTable:   map[string]string{"ARRIVED": "CONFIRMED", "Pending": "MODIFIED"},
	}
	m := newTestMapper(t, Config{Profile: p})
	sch := func(status string) string {
		return "SCH|PL1|FL1|||||||||^^^202607011000||||||||||||||" + status
	}
	if ev := mapOK(t, m, msh("S12", "2.5"), sch("arrived")).Event; ev.EventType != "CONFIRMED" {
		t.Errorf("S12 arrived: %s", ev.EventType)
	}
	if ev := mapOK(t, m, msh("S14", "2.5"), sch("Confirmed")).Event; ev.EventType != "MODIFIED" {
		t.Errorf("S14 Confirmed (not in the table): %s", ev.EventType)
	}
	if ev := mapOK(t, m, msh("Z01", "2.5"), sch("")).Event; ev.EventType != "CONFIRMED" {
		t.Errorf("Z01: %s", ev.EventType)
	}
	if res := mapOK(t, m, msh("S15", "2.5"), sch("")); !res.Ignored || res.Reason != "SIU^S15: ignored by the mapping profile" {
		t.Errorf("S15: %+v", res)
	}
	if e := mapErr(t, m, msh("S13", "2.5"), sch("")); e.Code != 201 {
		t.Errorf("S13 not in the table: %v", e)
	}
	// An empty status table turns refinement off.
	m = newTestMapper(t, Config{Profile: &Profile{StatusTable: map[string]string{}}})
	if ev := mapOK(t, m, msh("S14", "2.5"), sch("Cancelled")).Event; ev.EventType != "MODIFIED" {
		t.Errorf("no table: %s", ev.EventType)
	}
	// Status read from another field (Epic OpTime's shifted SCH).
	m = newTestMapper(t, Config{Profile: &Profile{StatusField: "SCH-27.1"}})
	ev := mapOK(t, m, msh("S14", ""), "SCH||27756||||||||10800|S|^^^20260309142500|||||||||63263^^^^|||||27731|Cancelled^Cancelled^SCHEDULING").Event
	if ev.EventType != "CANCELED" || ev.AppointmentStatus != "Cancelled" {
		t.Errorf("SCH-27: %s %q", ev.EventType, ev.AppointmentStatus)
	}
}
