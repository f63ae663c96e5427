package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/apptbridge/apptbridge"
	"github.com/google/uuid"
)

// FieldError is one problem with one field of a JSON event. Field is the
// canonical field name ("" for the body as a whole); Message names the
// rule and never echoes the value, so it carries no PHI.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// FieldErrors lists every problem found in one JSON event. As an error it
// unwraps to an *apptbridge.Error with code EINVALID (→ HTTP 400). Test
// DecodeJSON's result with len(errs) > 0: a nil FieldErrors stored in an
// error variable is not a nil error.
type FieldErrors []FieldError

// Error joins the field errors: "invalid event: patient_id: required; …".
func (fe FieldErrors) Error() string {
	var b strings.Builder
	b.WriteString("invalid event")
	for i, e := range fe {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if e.Field != "" {
			b.WriteString(e.Field)
			b.WriteString(": ")
		}
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap makes apptbridge.ErrorCode(fe) EINVALID.
func (fe FieldErrors) Unwrap() error {
	return &apptbridge.Error{Code: apptbridge.EINVALID, Message: "invalid event"}
}

// JSONOptions configures DecodeJSON.
type JSONOptions struct {
	// DefaultTimezone (IANA) reads and shows appointment times that come
	// with no zone of their own. Default "America/New_York".
	DefaultTimezone string
	// DefaultCountry (ISO 3166 alpha-2) reads national phone numbers.
	// Default "US". See SupportedCountries.
	DefaultCountry string
	// Now gives Source.ReceivedAt and a missing event_datetime_utc.
	// Default time.Now.
	Now func() time.Time
	// Location, optional, looks up appointment_location_code in the
	// location table: display name, callback phone, IANA zone.
	Location func(code string) (display, callback, tz string, ok bool)
}

// Validate checks DefaultTimezone and DefaultCountry.
func (o JSONOptions) Validate() error {
	if _, _, msg := o.resolve(); msg != "" {
		return &apptbridge.Error{Code: apptbridge.EINVALID, Message: "mapping: " + msg}
	}
	return nil
}

// JSONOptions returns options under which DecodeJSON reads JSON events as
// m reads HL7: m's effective default zone and country (profile over
// Config), its clock, and its location table. A location's zone is given
// only when the profile sets one (HL7 falls back to the default zone
// itself; DecodeJSON applies decision 14 instead). Config.CallbackPhone is
// not used: a JSON event carries its own provider_callback_phone.
func (m *Mapper) JSONOptions() JSONOptions {
	return JSONOptions{
		DefaultTimezone: m.zone.name,
		DefaultCountry:  m.country.iso,
		Now:             m.now,
		Location: func(code string) (display, callback, tz string, ok bool) {
			s := m.locations[code]
			if s == nil {
				return "", "", "", false
			}
			if s.zone != m.zone {
				tz = s.zone.name
			}
			return s.display, s.callback, tz, true
		},
	}
}

// resolve returns the default zone and country, or a PHI-free message.
func (o JSONOptions) resolve() (*time.Location, *country, string) {
	name := o.DefaultTimezone
	if name == "" {
		name = "America/New_York"
	}
	loc, ok := loadIANA(name)
	if !ok {
		return nil, nil, "server configuration: DefaultTimezone is not an IANA time zone"
	}
	cc := strings.TrimSpace(o.DefaultCountry)
	if cc == "" {
		cc = "US"
	}
	c := countryByISO(cc)
	if c == nil {
		return nil, nil, "server configuration: DefaultCountry is not a supported country"
	}
	return loc, c, ""
}

// Indexes of the canonical fields, in apptbridge.Event order.
const (
	fEventID = iota
	fEventType
	fEventDatetimeUTC
	fPatientID
	fPatientFirstName
	fPatientLastName
	fPatientPhone
	fPatientLanguage
	fProviderID
	fProviderFirstName
	fProviderLastName
	fProviderCallbackPhone
	fAppointmentID
	fAppointmentPlacerID
	fAppointmentFillerID
	fAppointmentLocation
	fAppointmentLocationCode
	fAppointmentDatetime
	fAppointmentTimezone
	fAppointmentTZ
	fAppointmentDatetimeUTC
	fAppointmentDurationMinutes
	fAppointmentType
	fAppointmentReason
	fAppointmentStatus
	nJSONFields
)

var jsonFieldNames = [nJSONFields]string{
	"event_id", "event_type", "event_datetime_utc",
	"patient_id", "patient_first_name", "patient_last_name", "patient_phone", "patient_language",
	"provider_id", "provider_first_name", "provider_last_name", "provider_callback_phone",
	"appointment_id", "appointment_placer_id", "appointment_filler_id",
	"appointment_location", "appointment_location_code",
	"appointment_datetime", "appointment_timezone", "appointment_tz", "appointment_datetime_utc",
	"appointment_duration_minutes",
	"appointment_type", "appointment_reason", "appointment_status",
}

var jsonFieldIndex = func() map[string]int {
	m := make(map[string]int, nJSONFields)
	for i, n := range jsonFieldNames {
		m[n] = i
	}
	return m
}()

// Limits (runes).
const (
	maxIDLen   = 64
	maxNameLen = 100
	maxTextLen = 200
)

const (
	msgRequired  = "required"
	msgEventType = "must be one of BOOKED, RESCHEDULED, MODIFIED, CONFIRMED, CANCELED, NOSHOWED"
	msgRFC3339   = "must be an RFC 3339 date-time with seconds and a zone, such as 2026-11-27T14:03:00Z"
	msgLocalTime = "must be a date and time such as 2026-12-01T15:00:00"
	msgOffset    = "must be a UTC offset ±HHMM such as -0600"
	msgZone      = "must be an IANA time zone name such as America/Chicago"
	msgRange     = "must lie in the years 1900 to 2199"
	msgPhone     = "must be a phone number: E.164 such as +13125550199, or a national number of the default country"
	msgLanguage  = "must be an ISO 639-1 language code such as en or es"
	msgDuration  = "must be a whole number of minutes from 1 to 1440"
	msgMismatch  = "does not match appointment_datetime_utc"
)

// DecodeJSON decodes one canonical event (SPEC §4) as an integrator posts
// it to /v1/events, usually the original app's payload (ORIGINAL.md §1)
// unchanged. It returns every field error, not just the first; on any
// error the event is nil. Where the SPEC is silent it does the following.
//
// Body
//
//  1. The body is one JSON object (its size is limited by the caller). A
//     UTF-8 byte order mark is skipped. Invalid UTF-8, malformed JSON and
//     data after the object each give one FieldError with Field "" and
//     the 0-based byte offset in b of the offending byte (len(b) for a
//     truncated body), and nothing else is checked. Any other top-level
//     value (array, string, …) is one FieldError{Field: ""}.
//  2. Keys match exactly (case-sensitive, as in the original's
//     JavaScript). Unknown keys (v1's appointment_date, appointment_month,
//     appointment_day_of_week, appointment_time_of_day, flow_sid, …) are
//     ignored whatever their value, and so is "source": Source is always
//     {Channel: "http", ReceivedAt: Now()}. A known key given twice is an
//     error for that field; a duplicated unknown key is ignored. Field in
//     a FieldError is therefore always "" or one of the canonical field
//     names, never text from the body.
//  3. null means absent. Values are strings or numbers (the original sent
//     everything as strings): a number is taken as its literal text
//     ("patient_id": 1000 is "1000"). true/false, objects and arrays are
//     errors. Strings are trimmed of surrounding white space; a string that
//     is empty after trimming is absent.
//  4. Every field error is reported, at most one per field (the first rule
//     that fails), ordered as the fields of apptbridge.Event. Messages name
//     the rule, never the value. On any error the event is nil.
//
// Identity
//
//  5. event_type is required, upper-cased, and must be an EHR type: BOOKED
//     RESCHEDULED MODIFIED CONFIRMED CANCELED NOSHOWED. "CANCELLED" is read
//     as CANCELED and "NOSHOW" (hls-ehr's OpenEMR trigger) as NOSHOWED.
//     Patient and system types (CONFIRM, CANCEL, OPTED-OUT, OPTED-IN,
//     REMIND, EXPIRE) are errors: they do not come from an EHR.
//  6. event_id is optional; when given it must be a UUID of any version in
//     the 8-4-4-4-12 form (any case; stored lower-case); the nil and max
//     UUIDs are refused (they would collide across senders). Absent →
//     apptbridge.NewEventID().
//  7. event_datetime_utc is optional, RFC 3339 (see 12); absent → Now().
//  8. patient_id and appointment_id are required; they, provider_id,
//     appointment_placer_id, appointment_filler_id and
//     appointment_location_code are at most 64 characters (runes), all
//     printable (unicode.IsPrint: letters, marks, digits, punctuation,
//     symbols and the ASCII space; no control, format or other space
//     characters).
//  9. Names (patient_ and provider_ first_name and last_name) are at most
//     100 characters; appointment_location, appointment_type,
//     appointment_reason and appointment_status at most 200. They may hold
//     any Unicode letter (the original's ASCII-only name regex is not
//     kept), commas and '=' (which broke the original's parsing), but no
//     control characters (Cc) or line/paragraph separators.
//
// Phones and language
//
//  10. patient_phone and provider_callback_phone are normalized to E.164
//     with NormalizePhone and JSONOptions.DefaultCountry: "(800) 555-2222"
//     → "+18005552222". A number that cannot be normalized is an error
//     (hls-ehr's placeholder "1112223333" is not a valid NANP number: area
//     codes and exchanges start with 2–9). Absent or empty patient_phone
//     means no texts; it is not an error.
//  11. patient_language is an ISO 639-1 code, lower-cased; a BCP 47 tag is
//     cut to its language ("es-MX", "en_US" → "es", "en"). Anything else
//     (three-letter codes, names such as "Spanish") is an error.
//
// Appointment time
//
//  12. Formats. RFC 3339 fields (event_datetime_utc,
//     appointment_datetime_utc): YYYY-MM-DDTHH:MM:SS[.f…] with Z or an
//     offset ±HH:MM (±HHMM and a space or lower-case t for T are also
//     read), fractional seconds up to 9 digits, converted to UTC.
//     appointment_datetime: YYYY-MM-DDTHH:MM[:SS[.f…]] with an optional
//     trailing Z or offset (see below). appointment_timezone: ±HHMM (also
//     ±HH:MM), at most ±14:59. appointment_tz: an IANA zone name
//     (time.LoadLocation; "Local" refused). Instants must lie in the years
//     1900–2199. Appointment instants are truncated to whole seconds.
//  13. Which instant. appointment_datetime_utc, when present, fixes the
//     instant. Otherwise appointment_datetime is a wall clock and its
//     trailing Z or offset is IGNORED when appointment_tz or
//     appointment_timezone is given (the original read the clock digits
//     as local time, so integrators send local time with "Z" or ".000Z").
//     The first that applies: (a) appointment_tz present: wall clock in
//     that zone; a time in the spring-forward gap moves forward by the gap
//     (02:30 on 2026-03-08 in New York → 03:30 EDT), an ambiguous
//     fall-back time takes the first, earlier instant (01:30 on 2026-11-01
//     → 01:30 EDT) unless appointment_timezone names the other one's
//     offset ("-0500" → 01:30 EST); these are the HL7 rules (package
//     decision 10, same helper), and appointment_timezone is otherwise not
//     used: the IANA zone decides the offset. (b) appointment_timezone
//     present: the wall clock at that fixed offset (the original's
//     meaning). (c) the value ends in Z or an offset: that instant. (d) a
//     wall clock in the location's zone (see 14), else in DefaultTimezone
//     (SPEC §4), with the rules of (a).
//  14. Which zone shows it (appointment_tz, and so appointment_datetime and
//     appointment_timezone): appointment_tz if given; else the zone the
//     location table (JSONOptions.Location for appointment_location_code)
//     gives; else, when appointment_timezone was given, DefaultTimezone if
//     its offset at that instant equals the given offset, or else no IANA
//     zone (appointment_tz empty, wall clock and offset as given); else
//     DefaultTimezone. The four fields are then filled by
//     (*apptbridge.Event).SetAppointmentTime, so they always agree: e.g.
//     "-0700" with DefaultTimezone America/New_York keeps -0700 and an
//     empty appointment_tz, while a location zone shows that zone's wall
//     clock and offset at the instant (as HL7: package decision 11).
//  15. When both appointment_datetime_utc and appointment_datetime are
//     given they must agree (to the second): appointment_datetime read by
//     13 (a)–(d) must be the same instant, or (read as a wall clock in an
//     IANA zone) show the same wall clock at it, as it does for the second
//     01:30 of a fall-back night. Otherwise appointment_datetime is an
//     error: sending UTC digits there is a common integration bug.
//  16. An appointment time (appointment_datetime or
//     appointment_datetime_utc) is required for BOOKED and RESCHEDULED and
//     optional otherwise; without one the event carries no time fields
//     (the state machine keeps the stored time), and appointment_timezone
//     and appointment_tz are checked but not used.
//
// Other fields
//
//  17. appointment_duration_minutes: a whole number 1–1440, as a JSON
//     number or a numeric string ("30"); fractions, exponents, signs and 0
//     are errors.
//  18. Location table: when JSONOptions.Location knows
//     appointment_location_code, its zone is used as in 14, its display
//     name fills an absent appointment_location and its callback phone an
//     absent provider_callback_phone (the sender's own values win; an
//     unusable table phone or zone is ignored).
//  19. Options: DefaultTimezone defaults to America/New_York and
//     DefaultCountry to US (as Config); Now to time.Now. Invalid options
//     are a server fault: call JSONOptions.Validate at start-up. DecodeJSON
//     reports them as one FieldError{Field: ""} starting with "server
//     configuration".
func DecodeJSON(b []byte, o JSONOptions) (*apptbridge.Event, FieldErrors) {
	defLoc, ctry, msg := o.resolve()
	if msg != "" {
		return nil, FieldErrors{{Message: msg}}
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	received := now().UTC()

	var d jsonDecoder
	if fe := d.scan(b); fe != nil {
		return nil, FieldErrors{*fe}
	}
	ev := &apptbridge.Event{Source: &apptbridge.Source{Channel: apptbridge.ChannelHTTP, ReceivedAt: received}}

	// Identity.
	if s, ok := d.str(fEventType); ok {
		switch t := apptbridge.EventType(strings.ToUpper(s)); t {
		case "CANCELLED":
			ev.EventType = apptbridge.Canceled
		case "NOSHOW":
			ev.EventType = apptbridge.Noshowed
		default:
			if t.FromEHR() {
				ev.EventType = t
			} else {
				d.fail(fEventType, msgEventType)
			}
		}
	} else {
		d.fail(fEventType, msgRequired)
	}
	if s, ok := d.str(fEventID); ok {
		id, err := uuid.Parse(s)
		switch {
		case err != nil || len(s) != 36:
			d.fail(fEventID, "must be a UUID such as 0192f6e4-7b1a-7c3e-9f00-123456789abc")
		case id == uuid.Nil || id == uuid.Max:
			d.fail(fEventID, "must not be the nil or max UUID")
		default:
			ev.EventID = id.String()
		}
	} else if d.absent(fEventID) {
		ev.EventID = apptbridge.NewEventID()
	}
	if s, ok := d.str(fEventDatetimeUTC); ok {
		if t, msg := parseRFC3339(s); msg != "" {
			d.fail(fEventDatetimeUTC, msg)
		} else {
			ev.EventDatetimeUTC = t
		}
	} else {
		ev.EventDatetimeUTC = received
	}

	// Patient and provider.
	ev.PatientID = d.id(fPatientID, true)
	ev.PatientFirstName = d.text(fPatientFirstName, maxNameLen)
	ev.PatientLastName = d.text(fPatientLastName, maxNameLen)
	ev.PatientPhone = d.phone(fPatientPhone, ctry)
	if s, ok := d.str(fPatientLanguage); ok {
		if l, ok := isoLanguage(s); ok {
			ev.PatientLanguage = l
		} else {
			d.fail(fPatientLanguage, msgLanguage)
		}
	}
	ev.ProviderID = d.id(fProviderID, false)
	ev.ProviderFirstName = d.text(fProviderFirstName, maxNameLen)
	ev.ProviderLastName = d.text(fProviderLastName, maxNameLen)
	ev.ProviderCallbackPhone = d.phone(fProviderCallbackPhone, ctry)

	// Appointment.
	ev.AppointmentID = d.id(fAppointmentID, true)
	ev.AppointmentPlacerID = d.id(fAppointmentPlacerID, false)
	ev.AppointmentFillerID = d.id(fAppointmentFillerID, false)
	ev.AppointmentLocation = d.text(fAppointmentLocation, maxTextLen)
	ev.AppointmentLocationCode = d.id(fAppointmentLocationCode, false)
	var locZone *time.Location
	if ev.AppointmentLocationCode != "" && o.Location != nil {
		if display, callback, tz, ok := o.Location(ev.AppointmentLocationCode); ok {
			if l, ok := loadIANA(tz); ok {
				locZone = l
			}
			if ev.AppointmentLocation == "" && d.absent(fAppointmentLocation) {
				ev.AppointmentLocation = display
			}
			if ev.ProviderCallbackPhone == "" && d.absent(fProviderCallbackPhone) && callback != "" {
				if e, ok := normalizePhone(ctry, false, callback); ok {
					ev.ProviderCallbackPhone = e
				}
			}
		}
	}
	d.appointmentTime(ev, locZone, defLoc)
	if s, ok := d.str(fAppointmentDurationMinutes); ok {
		if len(s) > 9 || !allDigits(s) || atoi(s) < 1 || atoi(s) > 1440 {
			d.fail(fAppointmentDurationMinutes, msgDuration)
		} else {
			ev.AppointmentDurationMinutes = atoi(s)
		}
	}
	ev.AppointmentType = d.text(fAppointmentType, maxTextLen)
	ev.AppointmentReason = d.text(fAppointmentReason, maxTextLen)
	ev.AppointmentStatus = d.text(fAppointmentStatus, maxTextLen)

	if errs := d.errors(); len(errs) > 0 {
		return nil, errs
	}
	return ev, nil
}

// jsonDecoder holds the raw values of the known fields and their errors.
type jsonDecoder struct {
	raw  [nJSONFields][]byte // nil: key absent
	errs [nJSONFields]string
}

func (d *jsonDecoder) fail(f int, msg string) {
	if d.errs[f] == "" {
		d.errs[f] = msg
	}
}

func (d *jsonDecoder) errors() FieldErrors {
	var out FieldErrors
	for f, m := range d.errs {
		if m != "" {
			out = append(out, FieldError{Field: jsonFieldNames[f], Message: m})
		}
	}
	return out
}

// absent reports whether field f is absent (missing, null or blank) and
// has no error.
func (d *jsonDecoder) absent(f int) bool {
	if d.errs[f] != "" {
		return false
	}
	_, ok := d.str(f)
	return !ok && d.errs[f] == ""
}

// scan checks the body and collects the raw values of the known keys.
func (d *jsonDecoder) scan(b []byte) *FieldError {
	base := 0
	if bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		b, base = b[3:], 3
	}
	if !utf8.Valid(b) {
		i := 0
		for i < len(b) {
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return &FieldError{Message: "the body is not valid UTF-8 (at byte offset " + strconv.Itoa(base+i) + ")"}
	}
	// A full validity check first: its offsets are absolute and it also
	// catches data after the object.
	if !json.Valid(b) {
		var whole json.RawMessage
		err := json.Unmarshal(b, &whole)
		// SyntaxError.Offset counts the bytes read, the bad one included.
		off, what := len(b), "malformed JSON: unexpected end of input"
		var se *json.SyntaxError
		if errors.As(err, &se) && !strings.HasPrefix(se.Error(), "unexpected end") && se.Offset > 0 && int(se.Offset) <= len(b) {
			off, what = int(se.Offset)-1, "malformed JSON: unexpected character"
		}
		return &FieldError{Message: what + " at byte offset " + strconv.Itoa(base+off)}
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return &FieldError{Message: "the body must be one JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // '{'
		return &FieldError{Message: "malformed JSON"}
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return &FieldError{Message: "malformed JSON"}
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return &FieldError{Message: "malformed JSON"}
		}
		f, known := jsonFieldIndex[key]
		if !known {
			continue
		}
		if d.raw[f] != nil {
			d.fail(f, "duplicate key")
			continue
		}
		d.raw[f] = v
	}
	return nil
}

// str returns field f as trimmed text; ok is false when it is absent,
// null, blank or of the wrong type (then an error is recorded).
func (d *jsonDecoder) str(f int) (string, bool) {
	v := d.raw[f]
	if v == nil || d.errs[f] != "" {
		return "", false
	}
	switch v[0] {
	case 'n': // null
		return "", false
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			d.fail(f, "must be a string or a number")
			return "", false
		}
		s = strings.TrimSpace(s)
		return s, s != ""
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return string(v), true
	}
	d.fail(f, "must be a string or a number")
	return "", false
}

// id reads an identifier: at most maxIDLen printable characters.
func (d *jsonDecoder) id(f int, required bool) string {
	s, ok := d.str(f)
	if !ok {
		if required {
			d.fail(f, msgRequired)
		}
		return ""
	}
	if utf8.RuneCountInString(s) > maxIDLen {
		d.fail(f, "must be at most 64 characters")
		return ""
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			d.fail(f, "must contain only printable characters")
			return ""
		}
	}
	return s
}

// text reads free text: at most max characters, no control characters.
func (d *jsonDecoder) text(f, max int) string {
	s, ok := d.str(f)
	if !ok {
		return ""
	}
	if utf8.RuneCountInString(s) > max {
		d.fail(f, "must be at most "+strconv.Itoa(max)+" characters")
		return ""
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			d.fail(f, "must not contain control characters")
			return ""
		}
	}
	return s
}

func (d *jsonDecoder) phone(f int, c *country) string {
	s, ok := d.str(f)
	if !ok {
		return ""
	}
	e, ok := NormalizePhone(s, c.iso)
	if !ok {
		d.fail(f, msgPhone)
		return ""
	}
	return e
}

// isoLanguage returns the ISO 639-1 code of a two-letter code or a BCP 47
// tag with a two-letter language ("es-MX"), lower-cased.
func isoLanguage(s string) (string, bool) {
	parts := strings.Split(strings.ReplaceAll(s, "_", "-"), "-")
	if len(parts[0]) != 2 || !isASCIILetter(parts[0][0]) || !isASCIILetter(parts[0][1]) {
		return "", false
	}
	for _, sub := range parts[1:] { // subtags: 1–8 letters or digits each
		if len(sub) == 0 || len(sub) > 8 {
			return "", false
		}
		for i := 0; i < len(sub); i++ {
			if !isASCIILetter(sub[i]) && (sub[i] < '0' || sub[i] > '9') {
				return "", false
			}
		}
	}
	return strings.ToLower(parts[0]), true
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// locCache holds the zones loaded by name (only valid names are kept, so
// it is bounded by the size of the tz database).
var locCache sync.Map // string → *time.Location

// loadIANA loads an IANA zone by name. Names are checked first (letters,
// digits, / _ + -; at most 64 bytes), so no odd path reaches the file
// system; "Local" is refused.
func loadIANA(name string) (*time.Location, bool) {
	if name == "" || len(name) > 64 || name == "Local" || name[0] == '/' {
		return nil, false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isASCIILetter(c) && (c < '0' || c > '9') && c != '/' && c != '_' && c != '+' && c != '-' {
			return nil, false
		}
	}
	if l, ok := locCache.Load(name); ok {
		return l.(*time.Location), true
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, false
	}
	locCache.Store(name, l)
	return l, true
}
