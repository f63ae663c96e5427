package mapping

import (
	"encoding/json"
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
	segKeys      []uint32 // segment names used, packed by segKey; see view
}

// Indexes of the segments the mapper reads directly in Mapper.segKeys.
const (
	siMSH = iota
	siSCH
	siEVN
)

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
	var p Profile
	b, err := json.Marshal(m.profile)
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	if err != nil { // cannot happen: Profile is plain data
		p = *m.profile
	}
	p.DefaultTimezone = m.zone.name
	p.DefaultCountry = m.country.iso
	p.CallbackPhone = m.callback
	return &p
}

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
func (r *fieldRef) first(v *view) (string, *hl7.Segment) {
	for j := v.start(r.si); j < len(v.segs); j++ {
		if !v.is(j, r.si) {
			continue
		}
		s := &v.segs[j]
		if s.Field(r.num) == "" {
			continue
		}
		if val := r.prim(s, v.d); val != "" {
			return val, s
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
	var v view
	v.init(msg, m.segKeys)
	d := v.d
	msh := v.seg(siMSH)
	if msh == nil {
		return res, newErr(CodeSegmentSequence, "MSH", "MSH segment missing", ErrMissingSegment)
	}
	code := val(msh, d, 9, 1, 1, 1)
	if code == "" {
		return res, newErr(CodeRequiredMissing, "MSH-9", "message type missing", ErrMissingField)
	}
	if !eqFold(code, "SIU") {
		return res, newErr(CodeUnsupportedType, "MSH-9", "unsupported message type (only SIU)", ErrUnsupportedType)
	}
	if err := m.checkVersion(val(msh, d, 12, 1, 1, 1)); err != nil {
		return res, err
	}
	trig := m.lookupTrigger(val(msh, d, 9, 1, 2, 1))
	if trig == nil {
		return res, newErr(CodeUnsupportedEvent, "MSH-9.2", "unsupported trigger event", ErrUnsupportedTrigger)
	}
	if trig.ignore {
		res.Ignored, res.Reason = true, trig.reason
		return res, nil
	}
	sch := v.seg(siSCH)
	if sch == nil {
		return res, newErr(CodeSegmentSequence, "SCH", "SCH segment missing", ErrMissingSegment)
	}

	ev := &apptbridge.Event{EventType: trig.event}
	// Appointment ids.
	ev.AppointmentPlacerID = val(sch, d, 1, 1, 1, 1)
	ev.AppointmentFillerID = val(sch, d, 2, 1, 1, 1)
	for i := range m.idRefs {
		if id, _ := m.idRefs[i].first(&v); id != "" {
			ev.AppointmentID = id
			break
		}
	}
	if ev.AppointmentID == "" {
		return res, newErr(CodeRequiredMissing, m.idRefs[0].field, "appointment id missing", ErrMissingField)
	}

	// Location first: its zone reads the times.
	st := m.mapLocation(&v, ev)
	zone := m.zone
	if st != nil {
		zone = st.zone
	}

	// Status, and the event type it refines.
	ev.AppointmentStatus, _ = m.statusRef.first(&v)
	if trig.refine && ev.AppointmentStatus != "" {
		for _, e := range m.status {
			if eqFoldUnicode(e.code, ev.AppointmentStatus) {
				ev.EventType = e.event
				break
			}
		}
	}

	// Start time.
	start, found, err := m.startTime(&v, zone, &res)
	switch {
	case err != nil:
		return res, err
	case found:
		ev.AppointmentDatetime, ev.AppointmentTimezone = zone.local(start)
		ev.AppointmentTZ = zone.name
		ev.AppointmentDatetimeUTC = start.UTC()
	case slices.Contains(m.startReq, ev.EventType):
		return res, newErr(CodeRequiredMissing, "SCH-11", "appointment start time missing", ErrMissingField)
	default:
		res.Warnings = append(res.Warnings, "no start time: the event carries no appointment time")
	}

	// Event time: EVN-2, else MSH-7, in the default zone.
	if evn := v.seg(siEVN); evn != nil {
		if s := val(evn, d, 2, 1, 1, 1); s != "" {
			t, err := parseDTM(s)
			if err != nil {
				return res, newErr(CodeDataType, "EVN-2", "unparseable date/time", ErrBadValue)
			}
			ev.EventDatetimeUTC = t.instant(m.zone).UTC()
		}
	}
	if ev.EventDatetimeUTC.IsZero() {
		s := val(msh, d, 7, 1, 1, 1)
		if s == "" {
			return res, newErr(CodeRequiredMissing, "MSH-7", "message date/time missing", ErrMissingField)
		}
		t, err := parseDTM(s)
		if err != nil {
			return res, newErr(CodeDataType, "MSH-7", "unparseable date/time", ErrBadValue)
		}
		ev.EventDatetimeUTC = t.instant(m.zone).UTC()
	}

	ev.AppointmentDurationMinutes = m.duration(&v, start, found, zone, &res)

	// Patient.
	m.mapPatient(&v, ev, &res)

	// Provider and callback phone.
	m.mapProvider(&v, ev)
	switch {
	case st != nil && st.callback != "":
		ev.ProviderCallbackPhone = st.callback
	default:
		if n := xtnNumberOf(sch, d, 17); n.ok() {
			if e, ok := n.normalize(m.country); ok {
				ev.ProviderCallbackPhone = e
			} else {
				res.Warnings = append(res.Warnings, "SCH-17: unusable phone number")
			}
		}
		if ev.ProviderCallbackPhone == "" {
			ev.ProviderCallbackPhone = m.callback
		}
	}

	ev.AppointmentType = m.ceText(&v, &m.typeRef)
	ev.AppointmentReason = m.ceText(&v, &m.reasonRef)

	ev.Source = &apptbridge.Source{
		Channel:            m.channel,
		MessageControlID:   msh.Value(10, 1, 0, 0),
		MessageType:        trig.msgType,
		SendingApplication: val(msh, d, 3, 1, 1, 1),
		SendingFacility:    val(msh, d, 4, 1, 1, 1),
		ReceivedAt:         m.now().UTC(),
	}
	ev.EventID = apptbridge.NewEventID()
	res.Event = ev
	return res, nil
}

// eqFoldUnicode compares status codes case-insensitively (they may be
// non-ASCII in a site's table).
func eqFoldUnicode(a, b string) bool {
	if len(a) == len(b) && eqFold(a, b) {
		return true
	}
	if isASCII(a) && isASCII(b) {
		return false
	}
	return strings.EqualFold(a, b)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
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
func (m *Mapper) ceText(v *view, r *fieldRef) string {
	if r.compGiven {
		s, _ := r.first(v)
		return s
	}
	var c comps
	for j := v.start(r.si); j < len(v.segs); j++ {
		if !v.is(j, r.si) {
			continue
		}
		s := &v.segs[j]
		f := s.Field(r.num)
		if f == "" {
			continue
		}
		c.load(s, v.d, r.num, r.rep, part(f, v.d.Repetition, r.rep), 2)
		if t := c.get(2); t != "" {
			return t
		}
		if t := c.get(1); t != "" {
			return t
		}
	}
	return ""
}

// mapLocation fills the location fields from the first valued PL and
// returns the location table row that applies, or nil.
func (m *Mapper) mapLocation(v *view, ev *apptbridge.Event) *site {
	var c comps
	for i := range m.locRefs {
		r := &m.locRefs[i]
		for j := v.start(r.si); j < len(v.segs); j++ {
			if !v.is(j, r.si) {
				continue
			}
			s := &v.segs[j]
			f := s.Field(r.num)
			if f == "" {
				continue
			}
			c.load(s, v.d, r.num, r.rep, part(f, v.d.Repetition, r.rep), 9)
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

// startTime returns the first valued start field (found) and warns about
// the other valued ones that disagree or cannot be read. The error is for
// an unparseable first value.
func (m *Mapper) startTime(v *view, zone *zone, res *Result) (start time.Time, found bool, err error) {
	used, usedRaw := -1, ""
	var disagree []string
	for i := range m.start {
		r := &m.start[i]
		s, _ := r.first(v)
		if s == "" || (used >= 0 && s == usedRaw) {
			continue
		}
		d, err := parseDTM(s)
		if err == nil && d.digits < 12 {
			err = errBadDTM // a start needs hours and minutes
		}
		if used < 0 {
			if err != nil {
				return start, false, newErr(CodeDataType, r.name, "unparseable start date/time", ErrBadValue)
			}
			start, used, usedRaw = d.instant(zone), i, s
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
	if len(disagree) > 0 {
		res.Warnings = append(res.Warnings, "start times disagree: "+m.start[used].name+" (used) vs "+strings.Join(disagree, ", "))
	}
	return start, used >= 0, nil
}
