package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/hl7"
)

// Profile is a site's mapping rules. Every key is optional: a key that is
// set replaces the built-in rule of that name as a whole (lists and tables
// are not merged with the defaults); a key that is absent keeps the
// built-in rule. DefaultProfile returns the built-in rules.
//
// Field locations are written SEG-F[.C[.S]] (e.g. "SCH-11.4", "TQ1-7",
// "PID-13"), optionally with a repetition: "SCH-11[2].4".
type Profile struct {
	// Name is free text shown by tools.
	Name string `json:"name,omitempty" yaml:"name,omitempty"`

	// DefaultTimezone (IANA), DefaultCountry (ISO 3166 alpha-2) and
	// CallbackPhone override Config's values when set.
	DefaultTimezone string `json:"default_timezone,omitempty" yaml:"default_timezone,omitempty"`
	DefaultCountry  string `json:"default_country,omitempty" yaml:"default_country,omitempty"`
	CallbackPhone   string `json:"callback_phone,omitempty" yaml:"callback_phone,omitempty"`

	// Versions lists accepted MSH-12.1 values; "2.5" also accepts
	// "2.5.1". AllowMissingVersion accepts an empty or absent MSH-12.
	Versions            []string `json:"versions,omitempty" yaml:"versions,omitempty"`
	AllowMissingVersion *bool    `json:"allow_missing_version,omitempty" yaml:"allow_missing_version,omitempty"`

	// Triggers maps an SIU trigger event (MSH-9.2) to an event type
	// (BOOKED RESCHEDULED MODIFIED CONFIRMED CANCELED NOSHOWED) or IGNORE.
	// Triggers not listed are rejected (AR 201).
	Triggers map[string]string `json:"triggers,omitempty" yaml:"triggers,omitempty"`

	// StatusTable maps a filler status code (StatusField, compared
	// case-insensitively) to the event type that replaces the trigger's
	// for the triggers in StatusRefines.
	StatusField   string            `json:"status_field,omitempty" yaml:"status_field,omitempty"`
	StatusRefines []string          `json:"status_refines,omitempty" yaml:"status_refines,omitempty"`
	StatusTable   map[string]string `json:"status_table,omitempty" yaml:"status_table,omitempty"`

	// IDField picks appointment_id: "placer" (SCH-1.1, else SCH-2.1),
	// "filler" (SCH-2.1, else SCH-1.1) or one explicit location.
	IDField string `json:"id_field,omitempty" yaml:"id_field,omitempty"`

	// PatientIDField (CX, repeating) is read from the repetition whose CX.5
	// identifier type is the first of PatientIDTypes found, else from the
	// first repetition.
	PatientIDField   string   `json:"patient_id_field,omitempty" yaml:"patient_id_field,omitempty"`
	PatientIDTypes   []string `json:"patient_id_types,omitempty" yaml:"patient_id_types,omitempty"`
	PatientNameField string   `json:"patient_name_field,omitempty" yaml:"patient_name_field,omitempty"`
	LanguageField    string   `json:"language_field,omitempty" yaml:"language_field,omitempty"`

	// StartFields: the first valued one is the appointment start.
	StartFields []string `json:"start_fields,omitempty" yaml:"start_fields,omitempty"`
	// StartRequired lists the event types (after SCH-25 refinement) for
	// which a missing start time is an error (AE 101); other events may
	// come without one and then carry no appointment time.
	StartRequired []string `json:"start_required,omitempty" yaml:"start_required,omitempty"`
	// Durations: the first usable source gives the duration.
	Durations []DurationSource `json:"durations,omitempty" yaml:"durations,omitempty"`

	// Phone selects the patient's mobile number.
	Phone *PhoneProfile `json:"phone,omitempty" yaml:"phone,omitempty"`

	// ProviderFields (XCN) and LocationFields (PL): the first valued one
	// is used.
	ProviderFields []string `json:"provider_fields,omitempty" yaml:"provider_fields,omitempty"`
	LocationFields []string `json:"location_fields,omitempty" yaml:"location_fields,omitempty"`

	// TypeField and ReasonField (CE): with no component given, the text
	// (component 2) else the identifier (component 1).
	TypeField   string `json:"type_field,omitempty" yaml:"type_field,omitempty"`
	ReasonField string `json:"reason_field,omitempty" yaml:"reason_field,omitempty"`

	// Locations maps a location code (PL-1, else PL-4.1 facility) to a
	// display name, callback phone and IANA zone.
	Locations map[string]LocationProfile `json:"locations,omitempty" yaml:"locations,omitempty"`
}

// DurationSource is one place a duration can come from: a quantity with
// optional units (a location in the same segment), or an end time (the
// duration is end − start).
type DurationSource struct {
	Quantity string `json:"quantity,omitempty" yaml:"quantity,omitempty"`
	Units    string `json:"units,omitempty" yaml:"units,omitempty"`
	End      string `json:"end,omitempty" yaml:"end,omitempty"`
}

// PhoneProfile selects the patient's mobile number. Rules are tried in
// order; within a rule, Fields in order and their repetitions in order.
// The first repetition that matches a rule and carries a number wins.
type PhoneProfile struct {
	Fields         []string    `json:"fields,omitempty" yaml:"fields,omitempty"`
	Rules          []PhoneRule `json:"rules,omitempty" yaml:"rules,omitempty"`
	NeverUse       []string    `json:"never_use,omitempty" yaml:"never_use,omitempty"`
	NeverEquipment []string    `json:"never_equipment,omitempty" yaml:"never_equipment,omitempty"`
}

// PhoneRule is one step of the phone selection. Exactly one kind is set:
// Equipment and/or Use (XTN-3 equipment type / XTN-2 use code, any of the
// listed codes, case-insensitive; both set means both must match), Lone
// (the only numbered repetition of the first field that has any), or Any
// (the first numbered repetition).
type PhoneRule struct {
	Equipment []string `json:"equipment,omitempty" yaml:"equipment,omitempty"`
	Use       []string `json:"use,omitempty" yaml:"use,omitempty"`
	Lone      bool     `json:"lone,omitempty" yaml:"lone,omitempty"`
	Any       bool     `json:"any,omitempty" yaml:"any,omitempty"`
}

// LocationProfile is one row of the location table.
type LocationProfile struct {
	DisplayName   string `json:"display_name,omitempty" yaml:"display_name,omitempty"`
	CallbackPhone string `json:"callback_phone,omitempty" yaml:"callback_phone,omitempty"`
	Timezone      string `json:"timezone,omitempty" yaml:"timezone,omitempty"`
}

// Ignore is the trigger-table value for triggers that are acknowledged
// and recorded but have no appointment effect.
const Ignore = "IGNORE"

// DefaultProfile returns the built-in rules (SPEC §5) as a profile. Its
// default_timezone, default_country and callback_phone are empty: those
// come from Config.
func DefaultProfile() *Profile {
	t := true
	return &Profile{
		Name:                "built-in",
		Versions:            []string{"2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "2.8", "2.9"},
		AllowMissingVersion: &t,
		Triggers: map[string]string{
			"S12": "BOOKED", "S13": "RESCHEDULED", "S14": "MODIFIED",
			"S15": "CANCELED", "S16": "CANCELED", "S17": "CANCELED",
			"S18": "MODIFIED", "S19": "MODIFIED", "S20": "MODIFIED", "S21": "MODIFIED", "S22": "MODIFIED",
			"S23": Ignore, "S24": Ignore,
			"S26": "NOSHOWED",
		},
		StatusField:   "SCH-25.1",
		StatusRefines: []string{"S14"},
		StatusTable: map[string]string{
			"Confirmed": "CONFIRMED",
			"Cancelled": "CANCELED", "Deleted": "CANCELED", "Dc": "CANCELED",
			"Noshow": "NOSHOWED",
		},
		IDField:          "placer",
		PatientIDField:   "PID-3",
		PatientIDTypes:   []string{},
		PatientNameField: "PID-5",
		LanguageField:    "PID-15",
		StartFields:      []string{"TQ1-7", "SCH-11.4", "AIS-4", "AIP-6", "AIL-6", "AIG-8"},
		StartRequired:    []string{"BOOKED", "RESCHEDULED"},
		Durations: []DurationSource{
			{Quantity: "TQ1-6.1", Units: "TQ1-6.2"},
			{Quantity: "SCH-9", Units: "SCH-10"},
			{Quantity: "AIS-7", Units: "AIS-8"},
			{Quantity: "AIL-9", Units: "AIL-10"},
			{Quantity: "AIP-9", Units: "AIP-10"},
			{Quantity: "AIG-11", Units: "AIG-12"},
			{Quantity: "SCH-11.3"},
			{End: "TQ1-8"},
			{End: "SCH-11.5"},
		},
		Phone: &PhoneProfile{
			Fields: []string{"PID-13", "PID-14"},
			Rules: []PhoneRule{
				{Equipment: []string{"CP"}},
				{Use: []string{"PRS", "ORN", "MOBILE", "CELL"}},
				{Use: []string{"PRN"}},
				{Lone: true},
			},
			NeverUse:       []string{"NET", "EMAIL", "X.400"},
			NeverEquipment: []string{"Internet", "X.400", "FX", "BP", "MD", "TDD", "TTY"},
		},
		ProviderFields: []string{"AIP-3", "SCH-16", "PV1-7"},
		LocationFields: []string{"AIL-3", "PV1-3"},
		TypeField:      "SCH-8",
		ReasonField:    "SCH-7",
		Locations:      map[string]LocationProfile{},
	}
}

// LoadProfile reads a profile from a .json, .yaml or .yml file. Unknown
// keys are errors that name the key; the profile is validated (the same
// checks as New, with the country of the profile or "US").
func LoadProfile(path string) (*Profile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mapping profile: %w", err)
	}
	var p Profile
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".json":
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("mapping profile %s: %w", filepath.Base(path), err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, fmt.Errorf("mapping profile %s: data after the JSON object", filepath.Base(path))
		}
	case ".yaml", ".yml":
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("mapping profile %s: %w", filepath.Base(path), err)
		}
	default:
		return nil, fmt.Errorf("mapping profile %s: unknown extension %q (want .json, .yaml or .yml)", filepath.Base(path), ext)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("mapping profile %s: %w", filepath.Base(path), err)
	}
	return &p, nil
}

// Validate checks the profile on its own (with "America/New_York" and
// "US" standing in for unset Config values).
func (p *Profile) Validate() error {
	_, err := compile(Config{}, p, true)
	return err
}

// merged returns the effective profile: p's keys over the defaults.
func (p *Profile) merged() *Profile {
	d := DefaultProfile()
	if p == nil {
		return d
	}
	if p.Name != "" {
		d.Name = p.Name
	}
	d.DefaultTimezone, d.DefaultCountry, d.CallbackPhone = p.DefaultTimezone, p.DefaultCountry, p.CallbackPhone
	if p.Versions != nil {
		d.Versions = p.Versions
	}
	if p.AllowMissingVersion != nil {
		d.AllowMissingVersion = p.AllowMissingVersion
	}
	if p.Triggers != nil {
		d.Triggers = p.Triggers
	}
	if p.StatusField != "" {
		d.StatusField = p.StatusField
	}
	if p.StatusRefines != nil {
		d.StatusRefines = p.StatusRefines
	}
	if p.StatusTable != nil {
		d.StatusTable = p.StatusTable
	}
	if p.IDField != "" {
		d.IDField = p.IDField
	}
	if p.PatientIDField != "" {
		d.PatientIDField = p.PatientIDField
	}
	if p.PatientIDTypes != nil {
		d.PatientIDTypes = p.PatientIDTypes
	}
	if p.PatientNameField != "" {
		d.PatientNameField = p.PatientNameField
	}
	if p.LanguageField != "" {
		d.LanguageField = p.LanguageField
	}
	if p.StartFields != nil {
		d.StartFields = p.StartFields
	}
	if p.StartRequired != nil {
		d.StartRequired = p.StartRequired
	}
	if p.Durations != nil {
		d.Durations = p.Durations
	}
	if p.Phone != nil {
		if p.Phone.Fields != nil {
			d.Phone.Fields = p.Phone.Fields
		}
		if p.Phone.Rules != nil {
			d.Phone.Rules = p.Phone.Rules
		}
		if p.Phone.NeverUse != nil {
			d.Phone.NeverUse = p.Phone.NeverUse
		}
		if p.Phone.NeverEquipment != nil {
			d.Phone.NeverEquipment = p.Phone.NeverEquipment
		}
	}
	if p.ProviderFields != nil {
		d.ProviderFields = p.ProviderFields
	}
	if p.LocationFields != nil {
		d.LocationFields = p.LocationFields
	}
	if p.TypeField != "" {
		d.TypeField = p.TypeField
	}
	if p.ReasonField != "" {
		d.ReasonField = p.ReasonField
	}
	if p.Locations != nil {
		d.Locations = p.Locations
	}
	return d
}

// fieldRef is a compiled field location.
type fieldRef struct {
	name                  string // as written, for warnings and errors
	field                 string // SEG-F, for errors about the whole field
	seg                   string
	si                    int // index of seg in Mapper.segKeys
	num, rep, comp, sub   int
	compGiven, repIsGiven bool
}

func parseRef(key, s string) (fieldRef, error) {
	s = strings.TrimSpace(s)
	l, err := hl7.ParseLocation(s)
	if err != nil || l.Field == 0 || !validSegName(l.Segment) {
		return fieldRef{}, fmt.Errorf("%s: %q is not a field location like SCH-11.4", key, s)
	}
	r := fieldRef{name: s, seg: l.Segment, num: l.Field, rep: l.Rep, comp: l.Comp, sub: l.Sub,
		compGiven: l.Comp > 0, repIsGiven: l.Rep > 0}
	r.field = hl7.Location{Segment: l.Segment, Field: l.Field}.String()
	if r.rep == 0 {
		r.rep = 1
	}
	return r, nil
}

func validSegName(n string) bool {
	if len(n) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		c := n[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func parseRefs(key string, list []string) ([]fieldRef, error) {
	out := make([]fieldRef, 0, len(list))
	for i, s := range list {
		r, err := parseRef(fmt.Sprintf("%s[%d]", key, i), s)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

var ehrEventTypes = []apptbridge.EventType{apptbridge.Booked, apptbridge.Rescheduled, apptbridge.Modified,
	apptbridge.Confirmed, apptbridge.Canceled, apptbridge.Noshowed}

func parseEventType(key, v string, allowIgnore bool) (apptbridge.EventType, bool, error) {
	u := strings.ToUpper(strings.TrimSpace(v))
	if allowIgnore && u == Ignore {
		return "", true, nil
	}
	if slices.Contains(ehrEventTypes, apptbridge.EventType(u)) {
		return apptbridge.EventType(u), false, nil
	}
	want := "BOOKED, RESCHEDULED, MODIFIED, CONFIRMED, CANCELED, NOSHOWED"
	if allowIgnore {
		want += " or IGNORE"
	}
	return "", false, fmt.Errorf("%s: unknown event type %q (want %s)", key, v, want)
}

func validTrigger(t string) bool {
	if len(t) == 0 || len(t) > 8 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// loadZone loads an IANA zone; "Local" and "" are refused.
func loadZone(key, name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("%s: %q is not an IANA time zone", key, name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %q is not an IANA time zone", key, name)
	}
	return loc, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
