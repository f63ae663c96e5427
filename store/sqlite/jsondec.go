package sqlite

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/apptbridge/apptbridge"
)

// decodeAppointment decodes a stored appointment state into a, as
// json.Unmarshal into a zero Appointment does. Decoding the state was the
// writer's largest cost per message after SQLite itself whenever the
// appointment was not cached, so the JSON that jsonEnc and json.Marshal
// write (the fields of jsonShape, each once, exact key case, no nulls) is
// decoded by hand: strings without escapes become substrings of state (one
// allocation for all of them: the caller's string). Anything else (another
// shape, an unknown or repeated key, a null, a number that is not a plain
// integer, a malformed document) goes to json.Unmarshal, so the result and
// the error are always json.Unmarshal's.
func decodeAppointment(state string, a *apptbridge.Appointment) error {
	*a = apptbridge.Appointment{}
	if fastJSON {
		d := jsonDec{s: state}
		if d.appointment(a) {
			return nil
		}
		*a = apptbridge.Appointment{}
	}
	return json.Unmarshal([]byte(state), a)
}

// jsonDec is a cursor over a JSON document; its methods report false for
// anything they do not handle (the caller then falls back).
type jsonDec struct {
	s string
	i int
}

// Keys of the decoded objects, as bits of a "seen" mask.
const (
	kEventID = iota
	kEventType
	kEventDatetimeUTC
	kPatientID
	kPatientFirstName
	kPatientLastName
	kPatientPhone
	kPatientLanguage
	kProviderID
	kProviderFirstName
	kProviderLastName
	kProviderCallbackPhone
	kAppointmentID
	kAppointmentPlacerID
	kAppointmentFillerID
	kAppointmentLocation
	kAppointmentLocationCode
	kAppointmentDatetime
	kAppointmentTimezone
	kAppointmentTZ
	kAppointmentDatetimeUTC
	kAppointmentDurationMinutes
	kAppointmentType
	kAppointmentReason
	kAppointmentStatus
	kSource
	kDisposition
	kConfirmed
	kRemindersSent
	kLadderBeforeOptOut
	kLastEHREventAt
	kCreatedAt
	kUpdatedAt
	kVersion
)

var appointmentKeys = map[string]int{
	"event_id":                     kEventID,
	"event_type":                   kEventType,
	"event_datetime_utc":           kEventDatetimeUTC,
	"patient_id":                   kPatientID,
	"patient_first_name":           kPatientFirstName,
	"patient_last_name":            kPatientLastName,
	"patient_phone":                kPatientPhone,
	"patient_language":             kPatientLanguage,
	"provider_id":                  kProviderID,
	"provider_first_name":          kProviderFirstName,
	"provider_last_name":           kProviderLastName,
	"provider_callback_phone":      kProviderCallbackPhone,
	"appointment_id":               kAppointmentID,
	"appointment_placer_id":        kAppointmentPlacerID,
	"appointment_filler_id":        kAppointmentFillerID,
	"appointment_location":         kAppointmentLocation,
	"appointment_location_code":    kAppointmentLocationCode,
	"appointment_datetime":         kAppointmentDatetime,
	"appointment_timezone":         kAppointmentTimezone,
	"appointment_tz":               kAppointmentTZ,
	"appointment_datetime_utc":     kAppointmentDatetimeUTC,
	"appointment_duration_minutes": kAppointmentDurationMinutes,
	"appointment_type":             kAppointmentType,
	"appointment_reason":           kAppointmentReason,
	"appointment_status":           kAppointmentStatus,
	"source":                       kSource,
	"disposition":                  kDisposition,
	"confirmed":                    kConfirmed,
	"reminders_sent":               kRemindersSent,
	"ladder_before_opt_out":        kLadderBeforeOptOut,
	"last_ehr_event_at":            kLastEHREventAt,
	"created_at":                   kCreatedAt,
	"updated_at":                   kUpdatedAt,
	"version":                      kVersion,
}

// Keys of Source.
const (
	kChannel = iota
	kMessageControlID
	kMessageType
	kSendingApplication
	kSendingFacility
	kReceivedAt
)

var sourceKeys = map[string]int{
	"channel":             kChannel,
	"message_control_id":  kMessageControlID,
	"message_type":        kMessageType,
	"sending_application": kSendingApplication,
	"sending_facility":    kSendingFacility,
	"received_at":         kReceivedAt,
}

func (d *jsonDec) appointment(a *apptbridge.Appointment) bool {
	ok := d.object(appointmentKeys, func(k int) bool {
		e := &a.Event
		switch k {
		case kEventID:
			return d.str(&e.EventID)
		case kEventType:
			var s string
			ok := d.str(&s)
			e.EventType = apptbridge.EventType(s)
			return ok
		case kEventDatetimeUTC:
			return d.time(&e.EventDatetimeUTC)
		case kPatientID:
			return d.str(&e.PatientID)
		case kPatientFirstName:
			return d.str(&e.PatientFirstName)
		case kPatientLastName:
			return d.str(&e.PatientLastName)
		case kPatientPhone:
			return d.str(&e.PatientPhone)
		case kPatientLanguage:
			return d.str(&e.PatientLanguage)
		case kProviderID:
			return d.str(&e.ProviderID)
		case kProviderFirstName:
			return d.str(&e.ProviderFirstName)
		case kProviderLastName:
			return d.str(&e.ProviderLastName)
		case kProviderCallbackPhone:
			return d.str(&e.ProviderCallbackPhone)
		case kAppointmentID:
			return d.str(&e.AppointmentID)
		case kAppointmentPlacerID:
			return d.str(&e.AppointmentPlacerID)
		case kAppointmentFillerID:
			return d.str(&e.AppointmentFillerID)
		case kAppointmentLocation:
			return d.str(&e.AppointmentLocation)
		case kAppointmentLocationCode:
			return d.str(&e.AppointmentLocationCode)
		case kAppointmentDatetime:
			return d.str(&e.AppointmentDatetime)
		case kAppointmentTimezone:
			return d.str(&e.AppointmentTimezone)
		case kAppointmentTZ:
			return d.str(&e.AppointmentTZ)
		case kAppointmentDatetimeUTC:
			return d.time(&e.AppointmentDatetimeUTC)
		case kAppointmentDurationMinutes:
			return d.int(&e.AppointmentDurationMinutes)
		case kAppointmentType:
			return d.str(&e.AppointmentType)
		case kAppointmentReason:
			return d.str(&e.AppointmentReason)
		case kAppointmentStatus:
			return d.str(&e.AppointmentStatus)
		case kSource:
			e.Source = new(apptbridge.Source)
			return d.source(e.Source)
		case kDisposition:
			var s string
			ok := d.str(&s)
			a.Disposition = apptbridge.Disposition(s)
			return ok
		case kConfirmed:
			return d.bool(&a.Confirmed)
		case kRemindersSent:
			return d.int(&a.RemindersSent)
		case kLadderBeforeOptOut:
			var s string
			ok := d.str(&s)
			a.LadderBeforeOptOut = apptbridge.Disposition(s)
			return ok
		case kLastEHREventAt:
			return d.time(&a.LastEHREventAt)
		case kCreatedAt:
			return d.time(&a.CreatedAt)
		case kUpdatedAt:
			return d.time(&a.UpdatedAt)
		case kVersion:
			v, ok := d.intN(64)
			a.Version = v
			return ok
		}
		return false
	})
	if !ok {
		return false
	}
	d.space()
	return d.i == len(d.s)
}

func (d *jsonDec) source(s *apptbridge.Source) bool {
	return d.object(sourceKeys, func(k int) bool {
		switch k {
		case kChannel:
			return d.str(&s.Channel)
		case kMessageControlID:
			return d.str(&s.MessageControlID)
		case kMessageType:
			return d.str(&s.MessageType)
		case kSendingApplication:
			return d.str(&s.SendingApplication)
		case kSendingFacility:
			return d.str(&s.SendingFacility)
		case kReceivedAt:
			return d.time(&s.ReceivedAt)
		}
		return false
	})
}

// object decodes {"key":value,...}, calling field for each key of keys
// (each at most once) with the cursor at its value.
func (d *jsonDec) object(keys map[string]int, field func(k int) bool) bool {
	d.space()
	if !d.byte('{') {
		return false
	}
	var seen uint64
	d.space()
	if d.byte('}') {
		return true
	}
	for {
		d.space()
		var key string
		if !d.str(&key) {
			return false
		}
		k, ok := keys[key]
		if !ok || seen&(1<<k) != 0 {
			return false
		}
		seen |= 1 << k
		d.space()
		if !d.byte(':') {
			return false
		}
		d.space()
		if !field(k) {
			return false
		}
		d.space()
		if d.byte('}') {
			return true
		}
		if !d.byte(',') {
			return false
		}
	}
}

func (d *jsonDec) space() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonDec) byte(c byte) bool {
	if d.i < len(d.s) && d.s[d.i] == c {
		d.i++
		return true
	}
	return false
}

// str decodes a JSON string: a substring of d.s when it has no escapes.
func (d *jsonDec) str(dst *string) bool {
	if !d.byte('"') {
		return false
	}
	start := d.i
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			*dst = d.s[start:d.i]
			d.i++
			return true
		case c == '\\':
			return d.unescape(dst, start)
		case c < ' ':
			return false
		case c < utf8.RuneSelf:
			d.i++
		default:
			r, size := utf8.DecodeRuneInString(d.s[d.i:])
			if r == utf8.RuneError && size == 1 {
				return false // json.Unmarshal replaces it: let it
			}
			d.i += size
		}
	}
	return false
}

// unescape decodes the rest of a string with escapes, as encoding/json's
// unquote does.
func (d *jsonDec) unescape(dst *string, start int) bool {
	b := make([]byte, 0, len(d.s)-start)
	b = append(b, d.s[start:d.i]...)
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			d.i++
			*dst = string(b)
			return true
		case c == '\\':
			d.i++
			if d.i >= len(d.s) {
				return false
			}
			switch e := d.s[d.i]; e {
			case '"', '\\', '/':
				b = append(b, e)
				d.i++
			case 'b':
				b = append(b, '\b')
				d.i++
			case 'f':
				b = append(b, '\f')
				d.i++
			case 'n':
				b = append(b, '\n')
				d.i++
			case 'r':
				b = append(b, '\r')
				d.i++
			case 't':
				b = append(b, '\t')
				d.i++
			case 'u':
				r := d.u4(d.i - 1)
				if r < 0 {
					return false
				}
				d.i += 5
				if utf16.IsSurrogate(r) {
					if r2 := d.u4(d.i); r2 >= 0 {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							d.i += 6
							b = utf8.AppendRune(b, dec)
							break
						}
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
			default:
				return false
			}
		case c < ' ':
			return false
		case c < utf8.RuneSelf:
			b = append(b, c)
			d.i++
		default:
			r, size := utf8.DecodeRuneInString(d.s[d.i:])
			if r == utf8.RuneError && size == 1 {
				return false
			}
			b = append(b, d.s[d.i:d.i+size]...)
			d.i += size
		}
	}
	return false
}

// u4 decodes the \uXXXX at i; -1 if there is none.
func (d *jsonDec) u4(i int) rune {
	if i+6 > len(d.s) || d.s[i] != '\\' || d.s[i+1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range []byte(d.s[i+2 : i+6]) {
		switch {
		case '0' <= c && c <= '9':
			c = c - '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// int decodes a plain integer (no fraction or exponent) into an int.
func (d *jsonDec) int(dst *int) bool {
	v, ok := d.intN(strconv.IntSize)
	*dst = int(v)
	return ok
}

// intN decodes a plain integer of bitSize bits.
func (d *jsonDec) intN(bitSize int) (int64, bool) {
	start := d.i
	if d.i < len(d.s) && d.s[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
		d.i++
	}
	n := d.i - digits
	if n == 0 || (n > 1 && d.s[digits] == '0') {
		return 0, false
	}
	if d.i < len(d.s) {
		switch d.s[d.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	v, err := strconv.ParseInt(d.s[start:d.i], 10, bitSize)
	return v, err == nil
}

func (d *jsonDec) bool(dst *bool) bool {
	switch {
	case len(d.s)-d.i >= 4 && d.s[d.i:d.i+4] == "true":
		*dst = true
		d.i += 4
	case len(d.s)-d.i >= 5 && d.s[d.i:d.i+5] == "false":
		*dst = false
		d.i += 5
	default:
		return false
	}
	return true
}

// time decodes a time as time.Time's UnmarshalJSON does (the string
// without escapes).
func (d *jsonDec) time(dst *time.Time) bool {
	start := d.i
	var s string
	if !d.str(&s) || d.i-start != len(s)+2 { // escapes: leave them to encoding/json
		return false
	}
	return dst.UnmarshalText([]byte(s)) == nil
}
