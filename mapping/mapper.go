package mapping

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/hl7"
)

// Config configures a Mapper.
type Config struct {
	// DefaultTimezone is the IANA zone of times without an offset when the
	// location table has no zone for the appointment's location, and of
	// MSH-7/EVN-2. Default "America/New_York".
	DefaultTimezone string
	// DefaultCountry (ISO 3166 alpha-2) reads national phone numbers.
	// Default "US". See SupportedCountries.
	DefaultCountry string
	// CallbackPhone is the provider callback phone when neither the
	// location table nor SCH-17 gives one.
	CallbackPhone string
	// Profile overrides the built-in rules; nil = DefaultProfile(). Its
	// default_timezone, default_country and callback_phone, when set,
	// win over the fields above.
	Profile *Profile
	// Now gives Source.ReceivedAt; default time.Now.
	Now func() time.Time
	// Channel is Source.Channel; default "mllp".
	Channel string
}

// Result is the outcome of mapping one message that was not an error.
type Result struct {
	Event   *apptbridge.Event // nil when Ignored
	Ignored bool              // S23/S24 or a trigger the profile ignores
	Reason  string            // why it was ignored
	// Warnings name field locations and counts only, never values.
	Warnings []string
}

// Mapper maps SIU messages to canonical events. It is immutable after New
// and safe for concurrent use.
type Mapper struct {
	profile  *Profile // effective
	zone     *zone
	country  *country
	callback string
	now      func() time.Time
	channel  string

	versions     []string
	allowNoVers  bool
	triggers     map[string]*trigger
	statusRef    fieldRef
	status       []statusEntry
	idRefs       []fieldRef
	patIDRef     fieldRef
	patIDTypes   []string
	nameRef      fieldRef
	langRef      fieldRef
	start        []fieldRef
	startReq     []apptbridge.EventType
	durations    []durationSource
	phoneFields  []fieldRef
	phoneRules   []PhoneRule
	neverUse     []string
	neverEquip   []string
	providerRefs []fieldRef
	locRefs      []fieldRef
	typeRef      fieldRef
	reasonRef    fieldRef
	locations    map[string]*site
}

type trigger struct {
	event   apptbridge.EventType
	ignore  bool
	refine  bool
	msgType string // "SIU^S12"
	reason  string // when ignored
}

type statusEntry struct {
	code  string
	event apptbridge.EventType
}

type durationSource struct {
	qty, units, end fieldRef
	hasUnits, isEnd bool
}

type site struct {
	display  string
	callback string // E.164
	zone     *zone
}

// New validates cfg and its profile and precomputes the lookup tables.
func New(cfg Config) (*Mapper, error) {
	return compile(cfg, cfg.Profile, false)
}

// Profile returns the effective rules (a copy): the profile's keys over
// the built-in ones, with the time zone, country and callback phone in
// effect.
func (m *Mapper) Profile() *Profile {
	p := *m.profile
	p.DefaultTimezone = m.zone.name
	p.DefaultCountry = m.country.iso
	p.CallbackPhone = m.callback
	return &p
}

// compile builds a Mapper. profileOnly is set by Profile.Validate, when the
// Config (and so the country of national callback numbers) is not known.
func compile(cfg Config, prof *Profile, profileOnly bool) (*Mapper, error) {
	p := prof.merged()
	m := &Mapper{profile: p, now: cfg.Now, channel: cfg.Channel}
	if m.now == nil {
		m.now = time.Now
	}
	if m.channel == "" {
		m.channel = apptbridge.ChannelMLLP
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Zone, country, callback.
	zoneName, zoneKey := "America/New_York", "default timezone"
	if cfg.DefaultTimezone != "" {
		zoneName, zoneKey = cfg.DefaultTimezone, "DefaultTimezone"
	}
	if p.DefaultTimezone != "" {
		zoneName, zoneKey = p.DefaultTimezone, "default_timezone"
	}
	z, err := loadZone(zoneKey, zoneName)
	add(err)
	if z == nil {
		z = time.UTC
	}
	m.zone = zoneFor(z)
	cc, ccKey := "US", "default country"
	if cfg.DefaultCountry != "" {
		cc, ccKey = cfg.DefaultCountry, "DefaultCountry"
	}
	phonesChecked := true
	if p.DefaultCountry != "" {
		cc, ccKey = p.DefaultCountry, "default_country"
	} else if profileOnly {
		// The country comes later from Config, so national callback
		// numbers cannot be checked yet.
		phonesChecked = false
	}
	m.country = countryByISO(strings.TrimSpace(cc))
	if m.country == nil {
		add(fmt.Errorf("%s: %q is not a supported country (supported: %s)", ccKey, cc, strings.Join(SupportedCountries(), " ")))
		m.country = &countries[0]
	}
	callback := cfg.CallbackPhone
	cbKey := "CallbackPhone"
	if p.CallbackPhone != "" {
		callback, cbKey = p.CallbackPhone, "callback_phone"
	}
	if callback != "" {
		if e, ok := normalizePhone(m.country, false, callback); ok {
			m.callback = e
		} else if phonesChecked || strings.HasPrefix(strings.TrimSpace(callback), "+") {
			add(fmt.Errorf("%s: not a usable phone number for country %s", cbKey, m.country.iso))
		}
	}

	// Versions.
	for i, v := range p.Versions {
		v = strings.TrimSpace(v)
		if v == "" || strings.ContainsAny(v, " |^~\\&") {
			add(fmt.Errorf("versions[%d]: %q is not a version", i, v))
			continue
		}
		m.versions = append(m.versions, v)
	}
	m.allowNoVers = p.AllowMissingVersion == nil || *p.AllowMissingVersion

	// Trigger table and status refinement.
	refines := map[string]bool{}
	for i, t := range p.StatusRefines {
		u := strings.ToUpper(strings.TrimSpace(t))
		if !validTrigger(u) {
			add(fmt.Errorf("status_refines[%d]: %q is not a trigger event like S14", i, t))
		}
		refines[u] = true
	}
	m.triggers = make(map[string]*trigger, len(p.Triggers))
	for _, k := range sortedKeys(p.Triggers) {
		u := strings.ToUpper(strings.TrimSpace(k))
		if !validTrigger(u) {
			add(fmt.Errorf("triggers: %q is not a trigger event like S12", k))
			continue
		}
		if _, dup := m.triggers[u]; dup {
			add(fmt.Errorf("triggers.%s: listed twice", k))
			continue
		}
		ev, ign, err := parseEventType("triggers."+k, p.Triggers[k], true)
		if err != nil {
			add(err)
			continue
		}
		t := &trigger{event: ev, ignore: ign, refine: refines[u], msgType: "SIU^" + u}
		if ign {
			switch u {
			case "S23":
				t.reason = "SIU^S23: blocked slots have no appointment effect"
			case "S24":
				t.reason = "SIU^S24: opened slots have no appointment effect"
			default:
				t.reason = "SIU^" + u + ": ignored by the mapping profile"
			}
		}
		m.triggers[u] = t
	}
	for _, k := range sortedKeys(p.StatusTable) {
		code := strings.TrimSpace(k)
		if code == "" {
			add(errors.New("status_table: empty status code"))
			continue
		}
		for _, e := range m.status {
			if strings.EqualFold(e.code, code) {
				add(fmt.Errorf("status_table.%s: listed twice (codes are case-insensitive)", k))
			}
		}
		ev, _, err := parseEventType("status_table."+k, p.StatusTable[k], false)
		if err != nil {
			add(err)
			continue
		}
		m.status = append(m.status, statusEntry{code: code, event: ev})
	}
	m.statusRef, err = parseRef("status_field", p.StatusField)
	add(err)

	// Appointment id.
	switch strings.ToLower(strings.TrimSpace(p.IDField)) {
	case "placer":
		m.idRefs = mustRefs("SCH-1.1", "SCH-2.1")
	case "filler":
		m.idRefs = mustRefs("SCH-2.1", "SCH-1.1")
	default:
		r, err := parseRef("id_field", p.IDField)
		if err != nil {
			add(fmt.Errorf("id_field: %q is not placer, filler or a field location", p.IDField))
		} else {
			m.idRefs = []fieldRef{r}
		}
	}

	// Patient.
	m.patIDRef, err = parseRef("patient_id_field", p.PatientIDField)
	add(err)
	for _, t := range p.PatientIDTypes {
		if t = strings.TrimSpace(t); t != "" {
			m.patIDTypes = append(m.patIDTypes, t)
		}
	}
	m.nameRef, err = parseRef("patient_name_field", p.PatientNameField)
	add(err)
	m.langRef, err = parseRef("language_field", p.LanguageField)
	add(err)

	// Times.
	m.start, err = parseRefs("start_fields", p.StartFields)
	add(err)
	if len(p.StartFields) == 0 {
		add(errors.New("start_fields: empty"))
	}
	for i, t := range p.StartRequired {
		ev, _, err := parseEventType(fmt.Sprintf("start_required[%d]", i), t, false)
		add(err)
		if err == nil {
			m.startReq = append(m.startReq, ev)
		}
	}
	for i, d := range p.Durations {
		key := fmt.Sprintf("durations[%d]", i)
		var ds durationSource
		switch {
		case d.End != "" && (d.Quantity != "" || d.Units != ""):
			add(fmt.Errorf("%s: set either end or quantity (with units)", key))
			continue
		case d.End != "":
			ds.isEnd = true
			ds.end, err = parseRef(key+".end", d.End)
		case d.Quantity != "":
			ds.qty, err = parseRef(key+".quantity", d.Quantity)
			if err == nil && d.Units != "" {
				ds.units, err = parseRef(key+".units", d.Units)
				ds.hasUnits = true
				if err == nil && ds.units.seg != ds.qty.seg {
					err = fmt.Errorf("%s: quantity and units must be in the same segment", key)
				}
			}
		default:
			err = fmt.Errorf("%s: set quantity or end", key)
		}
		if err != nil {
			add(err)
			continue
		}
		m.durations = append(m.durations, ds)
	}

	// Phone.
	m.phoneFields, err = parseRefs("phone.fields", p.Phone.Fields)
	add(err)
	for i, r := range p.Phone.Rules {
		kinds := 0
		if len(r.Equipment) > 0 || len(r.Use) > 0 {
			kinds++
		}
		if r.Lone {
			kinds++
		}
		if r.Any {
			kinds++
		}
		if kinds != 1 {
			add(fmt.Errorf("phone.rules[%d]: set exactly one of equipment/use, lone, any", i))
			continue
		}
		m.phoneRules = append(m.phoneRules, r)
	}
	m.neverUse, m.neverEquip = p.Phone.NeverUse, p.Phone.NeverEquipment

	// Provider, location, type, reason.
	m.providerRefs, err = parseRefs("provider_fields", p.ProviderFields)
	add(err)
	m.locRefs, err = parseRefs("location_fields", p.LocationFields)
	add(err)
	m.typeRef, err = parseRef("type_field", p.TypeField)
	add(err)
	m.reasonRef, err = parseRef("reason_field", p.ReasonField)
	add(err)

	m.locations = make(map[string]*site, len(p.Locations))
	for _, code := range sortedKeys(p.Locations) {
		l := p.Locations[code]
		key := "locations." + code
		if strings.TrimSpace(code) == "" {
			add(errors.New("locations: empty location code"))
			continue
		}
		s := &site{display: strings.TrimSpace(l.DisplayName), zone: m.zone}
		if l.Timezone != "" {
			z, err := loadZone(key+".timezone", l.Timezone)
			add(err)
			if z != nil {
				s.zone = zoneFor(z)
			}
		}
		if l.CallbackPhone != "" {
			if e, ok := normalizePhone(m.country, false, l.CallbackPhone); ok {
				s.callback = e
			} else if phonesChecked || strings.HasPrefix(strings.TrimSpace(l.CallbackPhone), "+") {
				add(fmt.Errorf("%s.callback_phone: not a usable phone number for country %s", key, m.country.iso))
			}
		}
		m.locations[code] = s
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

func mustRefs(locs ...string) []fieldRef {
	out := make([]fieldRef, len(locs))
	for i, l := range locs {
		r, err := parseRef("built-in", l)
		if err != nil {
			panic(err)
		}
		out[i] = r
	}
	return out
}

// isNull reports an empty value or the HL7 null "".
func isNull(s string) bool { return s == "" || s == `""` }

// clean trims spaces and turns the HL7 null "" into "".
func clean(s string) string {
	s = trimSpace(s)
	if s == `""` {
		return ""
	}
	return s
}

// prim returns the primitive value at r in segment s: the given component
// (first when none) and subcomponent (first when none).
func (r *fieldRef) prim(s *hl7.Segment, d *hl7.Delimiters) string {
	c, sub := r.comp, r.sub
	if c == 0 {
		c = 1
	}
	if sub == 0 {
		sub = 1
	}
	return val(s, d, r.num, r.rep, c, sub)
}

// first returns the first valued primitive at r across the segments named
// r.seg, and the segment it came from.
func (r *fieldRef) first(msg *hl7.Message) (string, *hl7.Segment) {
	segs := msg.Segments()
	for i := range segs {
		s := &segs[i]
		if !sameName(s.Name, r.seg) || s.Field(r.num) == "" {
			continue
		}
		if v := r.prim(s, &msg.Delims); v != "" {
			return v, s
		}
	}
	return "", nil
}

// Map maps one parsed message. A non-nil error is always an *Error.
func (m *Mapper) Map(msg *hl7.Message) (Result, error) {
	var res Result
	if msg == nil {
		return res, newErr(CodeSegmentSequence, "MSH", "no message", ErrMissingSegment)
	}
	msh := segment(msg.Segments(), "MSH")
	if msh == nil {
		return res, newErr(CodeSegmentSequence, "MSH", "MSH segment missing", ErrMissingSegment)
	}
	code := val(msh, &msg.Delims, 9, 1, 1, 1)
	if code == "" {
		return res, newErr(CodeRequiredMissing, "MSH-9", "message type missing", ErrMissingField)
	}
	if !strings.EqualFold(code, "SIU") {
		return res, newErr(CodeUnsupportedType, "MSH-9", "unsupported message type (only SIU)", ErrUnsupportedType)
	}
	if err := m.checkVersion(val(msh, &msg.Delims, 12, 1, 1, 1)); err != nil {
		return res, err
	}
	trig := m.lookupTrigger(val(msh, &msg.Delims, 9, 1, 2, 1))
	if trig == nil {
		return res, newErr(CodeUnsupportedEvent, "MSH-9.2", "unsupported trigger event", ErrUnsupportedTrigger)
	}
	if trig.ignore {
		res.Ignored, res.Reason = true, trig.reason
		return res, nil
	}
	sch := segment(msg.Segments(), "SCH")
	if sch == nil {
		return res, newErr(CodeSegmentSequence, "SCH", "SCH segment missing", ErrMissingSegment)
	}

	ev := &apptbridge.Event{EventType: trig.event}
	// Appointment ids.
	ev.AppointmentPlacerID = val(sch, &msg.Delims, 1, 1, 1, 1)
	ev.AppointmentFillerID = val(sch, &msg.Delims, 2, 1, 1, 1)
	for i := range m.idRefs {
		if v, _ := m.idRefs[i].first(msg); v != "" {
			ev.AppointmentID = v
			break
		}
	}
	if ev.AppointmentID == "" {
		return res, newErr(CodeRequiredMissing, m.idRefs[0].field, "appointment id missing", ErrMissingField)
	}

	// Location first: its zone reads the times.
	st := m.mapLocation(msg, ev)
	zone := m.zone
	if st != nil {
		zone = st.zone
	}
	d := &msg.Delims

	// Status, and the event type it refines.
	ev.AppointmentStatus, _ = m.statusRef.first(msg)
	if trig.refine && ev.AppointmentStatus != "" {
		for _, e := range m.status {
			if strings.EqualFold(e.code, ev.AppointmentStatus) {
				ev.EventType = e.event
				break
			}
		}
	}

	// Start time.
	start, err := m.startTime(msg, zone, &res)
	if err != nil {
		var me *Error
		if !errors.As(err, &me) || me.Code != CodeRequiredMissing || slices.Contains(m.startReq, ev.EventType) {
			return res, err
		}
		res.Warnings = append(res.Warnings, "no start time: the event carries no appointment time")
	} else {
		ev.AppointmentDatetime, ev.AppointmentTimezone = zone.local(start)
		ev.AppointmentTZ = zone.name
		ev.AppointmentDatetimeUTC = start.UTC()
	}

	// Event time: EVN-2, else MSH-7, in the default zone.
	if evn := segment(msg.Segments(), "EVN"); evn != nil {
		if v := val(evn, &msg.Delims, 2, 1, 1, 1); v != "" {
			d, err := parseDTM(v)
			if err != nil {
				return res, newErr(CodeDataType, "EVN-2", "unparseable date/time", ErrBadValue)
			}
			ev.EventDatetimeUTC = d.instant(m.zone).UTC()
		}
	}
	if ev.EventDatetimeUTC.IsZero() {
		v := val(msh, &msg.Delims, 7, 1, 1, 1)
		if v == "" {
			return res, newErr(CodeRequiredMissing, "MSH-7", "message date/time missing", ErrMissingField)
		}
		d, err := parseDTM(v)
		if err != nil {
			return res, newErr(CodeDataType, "MSH-7", "unparseable date/time", ErrBadValue)
		}
		ev.EventDatetimeUTC = d.instant(m.zone).UTC()
	}

	ev.AppointmentDurationMinutes = m.duration(msg, start, zone, &res)

	// Patient.
	m.mapPatient(msg, ev, &res)

	// Provider and callback phone.
	m.mapProvider(msg, ev)
	switch {
	case st != nil && st.callback != "":
		ev.ProviderCallbackPhone = st.callback
	default:
		if v := xtnNumberOf(sch, d, 17); v.ok() {
			if e, ok := v.normalize(m.country); ok {
				ev.ProviderCallbackPhone = e
			} else {
				res.Warnings = append(res.Warnings, "SCH-17: unusable phone number")
			}
		}
		if ev.ProviderCallbackPhone == "" {
			ev.ProviderCallbackPhone = m.callback
		}
	}

	ev.AppointmentType = m.ceText(msg, &m.typeRef)
	ev.AppointmentReason = m.ceText(msg, &m.reasonRef)

	ev.Source = &apptbridge.Source{
		Channel:            m.channel,
		MessageControlID:   msh.Value(10, 1, 0, 0),
		MessageType:        trig.msgType,
		SendingApplication: val(msh, &msg.Delims, 3, 1, 1, 1),
		SendingFacility:    val(msh, &msg.Delims, 4, 1, 1, 1),
		ReceivedAt:         m.now().UTC(),
	}
	ev.EventID = apptbridge.NewEventID()
	res.Event = ev
	return res, nil
}

func (m *Mapper) checkVersion(v string) error {
	if v == "" {
		if m.allowNoVers {
			return nil
		}
		return newErr(CodeUnsupportedVersion, "MSH-12", "version missing", ErrUnsupportedVersion)
	}
	for _, a := range m.versions {
		if v == a {
			return nil
		}
		if len(v) > len(a)+1 && v[:len(a)] == a && v[len(a)] == '.' && allDigitsDots(v[len(a)+1:]) {
			return nil
		}
	}
	return newErr(CodeUnsupportedVersion, "MSH-12", "unsupported version", ErrUnsupportedVersion)
}

func allDigitsDots(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			return false
		}
	}
	return s != "" && s[0] != '.' && s[len(s)-1] != '.'
}

func (m *Mapper) lookupTrigger(t string) *trigger {
	if t == "" {
		return nil
	}
	if tr, ok := m.triggers[t]; ok {
		return tr
	}
	if len(t) <= 8 {
		var b [8]byte
		for i := 0; i < len(t); i++ {
			c := t[i]
			if c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			b[i] = c
		}
		return m.triggers[string(b[:len(t)])]
	}
	return nil
}

// ceText returns a CE's text (component 2), else its identifier; with a
// component in the location, just that component.
func (m *Mapper) ceText(msg *hl7.Message, r *fieldRef) string {
	if r.compGiven {
		v, _ := r.first(msg)
		return v
	}
	d := &msg.Delims
	var c comps
	segs := msg.Segments()
	for i := range segs {
		s := &segs[i]
		if !sameName(s.Name, r.seg) {
			continue
		}
		f := s.Field(r.num)
		if f == "" {
			continue
		}
		c.load(s, d, r.num, r.rep, part(f, d.Repetition, r.rep), 2)
		if v := c.get(2); v != "" {
			return v
		}
		if v := c.get(1); v != "" {
			return v
		}
	}
	return ""
}

// mapLocation fills the location fields from the first valued PL and
// returns the location table row that applies, or nil.
func (m *Mapper) mapLocation(msg *hl7.Message, ev *apptbridge.Event) *site {
	d := &msg.Delims
	var c comps
	segs := msg.Segments()
	for i := range m.locRefs {
		r := &m.locRefs[i]
		for j := range segs {
			s := &segs[j]
			if !sameName(s.Name, r.seg) {
				continue
			}
			f := s.Field(r.num)
			if f == "" {
				continue
			}
			c.load(s, d, r.num, r.rep, part(f, d.Repetition, r.rep), 9)
			poc, room, facility, desc := c.get(1), c.get(2), c.get(4), c.get(9)
			if poc == "" && room == "" && facility == "" && desc == "" {
				continue
			}
			ev.AppointmentLocationCode = poc
			if poc == "" {
				ev.AppointmentLocationCode = facility
			}
			switch {
			case desc != "":
				ev.AppointmentLocation = desc
			case poc != "":
				ev.AppointmentLocation = poc
			case facility != "":
				ev.AppointmentLocation = facility
			default:
				ev.AppointmentLocation = room
			}
			var st *site
			if poc != "" {
				st = m.locations[poc]
			}
			if st == nil && facility != "" {
				st = m.locations[facility]
			}
			if st != nil && st.display != "" {
				ev.AppointmentLocation = st.display
			}
			return st
		}
	}
	return nil
}

// startTime returns the first valued start field and warns about the
// other valued ones that disagree or cannot be read.
func (m *Mapper) startTime(msg *hl7.Message, zone *zone, res *Result) (time.Time, error) {
	var start time.Time
	used, usedRaw := -1, ""
	var disagree []string
	for i := range m.start {
		r := &m.start[i]
		v, _ := r.first(msg)
		if v == "" || (used >= 0 && v == usedRaw) {
			continue
		}
		d, err := parseDTM(v)
		if err == nil && d.digits < 12 {
			err = errBadDTM // a start needs hours and minutes
		}
		if used < 0 {
			if err != nil {
				return start, newErr(CodeDataType, r.name, "unparseable start date/time", ErrBadValue)
			}
			start, used, usedRaw = d.instant(zone), i, v
			continue
		}
		if err != nil {
			res.Warnings = append(res.Warnings, r.name+": unparseable start date/time ignored")
			continue
		}
		if !d.instant(zone).Equal(start) {
			disagree = append(disagree, r.name)
		}
	}
	if used < 0 {
		return start, newErr(CodeRequiredMissing, "SCH-11", "appointment start time missing", ErrMissingField)
	}
	if len(disagree) > 0 {
		res.Warnings = append(res.Warnings, "start times disagree: "+m.start[used].name+" (used) vs "+strings.Join(disagree, ", "))
	}
	return start, nil
}

// maxDurationMinutes bounds a believable appointment (about 31 days).
const maxDurationMinutes = 31 * 24 * 60

// duration returns the duration in whole minutes (seconds round up) from
// the first usable source, or 0.
func (m *Mapper) duration(msg *hl7.Message, start time.Time, zone *zone, res *Result) int {
	for i := range m.durations {
		ds := &m.durations[i]
		if ds.isEnd {
			if start.IsZero() {
				continue
			}
			v, _ := ds.end.first(msg)
			if v == "" {
				continue
			}
			d, err := parseDTM(v)
			if err != nil || d.digits < 12 {
				res.Warnings = append(res.Warnings, ds.end.name+": unparseable end date/time ignored")
				continue
			}
			mins := ceilMinutes(d.instant(zone).Sub(start))
			if mins <= 0 || mins > maxDurationMinutes {
				res.Warnings = append(res.Warnings, ds.end.name+": end time not after start, ignored")
				continue
			}
			return int(mins)
		}
		q, s := ds.qty.first(msg)
		if q == "" {
			continue
		}
		unit := ""
		if ds.hasUnits {
			unit = ds.units.prim(s, &msg.Delims)
		}
		mins, ok, zero := durationMinutes(q, unit)
		if zero {
			continue
		}
		if !ok {
			res.Warnings = append(res.Warnings, ds.qty.name+": unusable duration ignored")
			continue
		}
		return mins
	}
	return 0
}

func ceilMinutes(d time.Duration) int64 {
	if d <= 0 {
		return int64(d / time.Minute)
	}
	return int64((d + time.Minute - 1) / time.Minute)
}

// durationMinutes converts a quantity and unit to whole minutes (seconds
// round up). The quantity may be decimal ("1.5") or TQ-style with a unit
// letter ("M30", "H2", "S90"); an empty unit means minutes. zero reports a
// zero quantity (treated as absent).
func durationMinutes(q, unit string) (mins int, ok, zero bool) {
	q = trimSpace(q)
	if i := strings.IndexByte(q, ' '); i > 0 && unit == "" { // "2 hours"
		q, unit = q[:i], trimSpace(q[i+1:])
	}
	if len(q) > 1 && (q[0] < '0' || q[0] > '9') && q[0] != '.' && unit == "" {
		unit, q = q[:1], q[1:]
	}
	// Parse a non-negative decimal in thousandths.
	var whole, frac int64
	fracDigits := 0
	seenDot, seenDigit := false, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c >= '0' && c <= '9':
			seenDigit = true
			if seenDot {
				if fracDigits < 3 {
					frac = frac*10 + int64(c-'0')
					fracDigits++
				}
			} else {
				whole = whole*10 + int64(c-'0')
				if whole > 1e9 {
					return 0, false, false
				}
			}
		case c == '.' && !seenDot:
			seenDot = true
		default:
			return 0, false, false
		}
	}
	if !seenDigit {
		return 0, false, false
	}
	for ; fracDigits < 3; fracDigits++ {
		frac *= 10
	}
	milli := whole*1000 + frac // quantity × 1000
	if milli == 0 {
		return 0, false, true
	}
	var perUnitSec int64
	switch normUnit(unit) {
	case unitMin:
		perUnitSec = 60
	case unitHour:
		perUnitSec = 3600
	case unitSec:
		perUnitSec = 1
	case unitDay:
		perUnitSec = 86400
	default:
		return 0, false, false
	}
	msec := milli * perUnitSec // seconds × 1000
	m := (msec + 60000 - 1) / 60000
	if m <= 0 || m > maxDurationMinutes {
		return 0, false, false
	}
	return int(m), true, false
}

const (
	unitUnknown = iota
	unitMin
	unitHour
	unitSec
	unitDay
)

func normUnit(u string) int {
	u = trimSpace(u)
	switch {
	case u == "":
		return unitMin
	case u == "M" || u == "m":
		return unitMin
	case u == "H" || u == "h":
		return unitHour
	case u == "S" || u == "s":
		return unitSec
	case u == "D" || u == "d":
		return unitDay
	}
	for _, w := range [...]struct {
		s string
		u int
	}{{"min", unitMin}, {"mins", unitMin}, {"minute", unitMin}, {"minutes", unitMin},
		{"hr", unitHour}, {"hrs", unitHour}, {"hour", unitHour}, {"hours", unitHour},
		{"sec", unitSec}, {"secs", unitSec}, {"second", unitSec}, {"seconds", unitSec},
		{"day", unitDay}, {"days", unitDay}} {
		if strings.EqualFold(u, w.s) {
			return w.u
		}
	}
	return unitUnknown
}
