package sqlite

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apptbridge/apptbridge"
)

// The writer stores every event and appointment state as JSON. encoding/json
// took about a tenth of the writer's time per message, so the writer
// encodes the three types it stores by hand, byte for byte as json.Marshal
// does (field order, omitempty/omitzero, HTML-safe string escaping,
// invalid UTF-8 as U+FFFD, times as RFC 3339 with nanoseconds; the tests
// compare the two). The encoder was written for the fields listed in
// jsonShape; if the types change (a field added, renamed or retagged),
// fastJSON is false and json.Marshal is used until the encoder is updated
// (TestJSONShape fails meanwhile).

// jsonShape is the shape of Event, Source and Appointment the encoder
// knows: see shapeOf.
const jsonShape = `Event{EventID string "json:\"event_id\""; EventType apptbridge.EventType "json:\"event_type\""; ` +
	`EventDatetimeUTC time.Time "json:\"event_datetime_utc,omitzero\""; PatientID string "json:\"patient_id,omitempty\""; ` +
	`PatientFirstName string "json:\"patient_first_name,omitempty\""; PatientLastName string "json:\"patient_last_name,omitempty\""; ` +
	`PatientPhone string "json:\"patient_phone,omitempty\""; PatientLanguage string "json:\"patient_language,omitempty\""; ` +
	`ProviderID string "json:\"provider_id,omitempty\""; ProviderFirstName string "json:\"provider_first_name,omitempty\""; ` +
	`ProviderLastName string "json:\"provider_last_name,omitempty\""; ProviderCallbackPhone string "json:\"provider_callback_phone,omitempty\""; ` +
	`AppointmentID string "json:\"appointment_id\""; AppointmentPlacerID string "json:\"appointment_placer_id,omitempty\""; ` +
	`AppointmentFillerID string "json:\"appointment_filler_id,omitempty\""; AppointmentLocation string "json:\"appointment_location,omitempty\""; ` +
	`AppointmentLocationCode string "json:\"appointment_location_code,omitempty\""; AppointmentDatetime string "json:\"appointment_datetime,omitempty\""; ` +
	`AppointmentTimezone string "json:\"appointment_timezone,omitempty\""; AppointmentTZ string "json:\"appointment_tz,omitempty\""; ` +
	`AppointmentDatetimeUTC time.Time "json:\"appointment_datetime_utc,omitzero\""; AppointmentDurationMinutes int "json:\"appointment_duration_minutes,omitempty\""; ` +
	`AppointmentType string "json:\"appointment_type,omitempty\""; AppointmentReason string "json:\"appointment_reason,omitempty\""; ` +
	`AppointmentStatus string "json:\"appointment_status,omitempty\""; Source *apptbridge.Source "json:\"source,omitempty\""; } ` +
	`Source{Channel string "json:\"channel\""; MessageControlID string "json:\"message_control_id,omitempty\""; ` +
	`MessageType string "json:\"message_type,omitempty\""; SendingApplication string "json:\"sending_application,omitempty\""; ` +
	`SendingFacility string "json:\"sending_facility,omitempty\""; ReceivedAt time.Time "json:\"received_at,omitzero\""; } ` +
	`Appointment{Event apptbridge.Event ""; Disposition apptbridge.Disposition "json:\"disposition\""; Confirmed bool "json:\"confirmed\""; ` +
	`RemindersSent int "json:\"reminders_sent\""; LadderBeforeOptOut apptbridge.Disposition "json:\"ladder_before_opt_out,omitempty\""; ` +
	`LastEHREventAt time.Time "json:\"last_ehr_event_at,omitzero\""; CreatedAt time.Time "json:\"created_at,omitzero\""; ` +
	`UpdatedAt time.Time "json:\"updated_at,omitzero\""; Version int64 "json:\"version\""; } `

// fastJSON: the types have the shape the hand encoder was written for.
var fastJSON = shapeOf(apptbridge.Event{}, apptbridge.Source{}, apptbridge.Appointment{}) == jsonShape

// shapeOf describes the fields of the structs: name, type and tag.
func shapeOf(vs ...any) string {
	var b strings.Builder
	for _, v := range vs {
		t := reflect.TypeOf(v)
		b.WriteString(t.Name() + "{")
		for i := range t.NumField() {
			f := t.Field(i)
			fmt.Fprintf(&b, "%s %s %q; ", f.Name, f.Type, string(f.Tag))
		}
		b.WriteString("} ")
	}
	return b.String()
}

// jsonEnc appends JSON to buf. lossy records that a string was not valid
// UTF-8, so that decoding the output does not give back the input.
type jsonEnc struct {
	buf   []byte
	lossy bool
	err   error
	comma bool // a field was written in the current object
}

// encodeEvent sets e.buf to the JSON of ev (reusing its memory).
func (e *jsonEnc) encodeEvent(ev *apptbridge.Event) error {
	e.reset()
	if !fastJSON {
		return e.marshal(ev)
	}
	e.buf = append(e.buf, '{')
	e.eventFields(ev)
	e.buf = append(e.buf, '}')
	return e.err
}

// encodeAppointment sets e.buf to the JSON of a (reusing its memory).
func (e *jsonEnc) encodeAppointment(a *apptbridge.Appointment) error {
	e.reset()
	if !fastJSON {
		return e.marshal(a)
	}
	e.buf = append(e.buf, '{')
	e.eventFields(&a.Event)
	e.str("disposition", string(a.Disposition))
	e.key("confirmed")
	e.buf = strconv.AppendBool(e.buf, a.Confirmed)
	e.key("reminders_sent")
	e.buf = strconv.AppendInt(e.buf, int64(a.RemindersSent), 10)
	e.strOmitEmpty("ladder_before_opt_out", string(a.LadderBeforeOptOut))
	e.timeOmitZero("last_ehr_event_at", a.LastEHREventAt)
	e.timeOmitZero("created_at", a.CreatedAt)
	e.timeOmitZero("updated_at", a.UpdatedAt)
	e.key("version")
	e.buf = strconv.AppendInt(e.buf, a.Version, 10)
	e.buf = append(e.buf, '}')
	return e.err
}

func (e *jsonEnc) reset() {
	e.buf = e.buf[:0]
	e.lossy, e.err, e.comma = false, nil, false
}

// marshal is the fallback: json.Marshal, marked lossy (not cached) since
// the strings are not checked.
func (e *jsonEnc) marshal(v any) error {
	b, err := json.Marshal(v)
	e.buf = append(e.buf, b...)
	e.lossy = true
	return err
}

func (e *jsonEnc) eventFields(ev *apptbridge.Event) {
	e.str("event_id", ev.EventID)
	e.str("event_type", string(ev.EventType))
	e.timeOmitZero("event_datetime_utc", ev.EventDatetimeUTC)
	e.strOmitEmpty("patient_id", ev.PatientID)
	e.strOmitEmpty("patient_first_name", ev.PatientFirstName)
	e.strOmitEmpty("patient_last_name", ev.PatientLastName)
	e.strOmitEmpty("patient_phone", ev.PatientPhone)
	e.strOmitEmpty("patient_language", ev.PatientLanguage)
	e.strOmitEmpty("provider_id", ev.ProviderID)
	e.strOmitEmpty("provider_first_name", ev.ProviderFirstName)
	e.strOmitEmpty("provider_last_name", ev.ProviderLastName)
	e.strOmitEmpty("provider_callback_phone", ev.ProviderCallbackPhone)
	e.str("appointment_id", ev.AppointmentID)
	e.strOmitEmpty("appointment_placer_id", ev.AppointmentPlacerID)
	e.strOmitEmpty("appointment_filler_id", ev.AppointmentFillerID)
	e.strOmitEmpty("appointment_location", ev.AppointmentLocation)
	e.strOmitEmpty("appointment_location_code", ev.AppointmentLocationCode)
	e.strOmitEmpty("appointment_datetime", ev.AppointmentDatetime)
	e.strOmitEmpty("appointment_timezone", ev.AppointmentTimezone)
	e.strOmitEmpty("appointment_tz", ev.AppointmentTZ)
	e.timeOmitZero("appointment_datetime_utc", ev.AppointmentDatetimeUTC)
	if ev.AppointmentDurationMinutes != 0 {
		e.key("appointment_duration_minutes")
		e.buf = strconv.AppendInt(e.buf, int64(ev.AppointmentDurationMinutes), 10)
	}
	e.strOmitEmpty("appointment_type", ev.AppointmentType)
	e.strOmitEmpty("appointment_reason", ev.AppointmentReason)
	e.strOmitEmpty("appointment_status", ev.AppointmentStatus)
	if s := ev.Source; s != nil {
		e.key("source")
		e.buf = append(e.buf, '{')
		e.comma = false
		e.str("channel", s.Channel)
		e.strOmitEmpty("message_control_id", s.MessageControlID)
		e.strOmitEmpty("message_type", s.MessageType)
		e.strOmitEmpty("sending_application", s.SendingApplication)
		e.strOmitEmpty("sending_facility", s.SendingFacility)
		e.timeOmitZero("received_at", s.ReceivedAt)
		e.buf = append(e.buf, '}')
		e.comma = true
	}
}

// key writes the separator and "name": (names need no escaping).
func (e *jsonEnc) key(name string) {
	if e.comma {
		e.buf = append(e.buf, ',')
	}
	e.comma = true
	e.buf = append(e.buf, '"')
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, '"', ':')
}

func (e *jsonEnc) str(name, v string) {
	e.key(name)
	e.string(v)
}

func (e *jsonEnc) strOmitEmpty(name, v string) {
	if v != "" {
		e.str(name, v)
	}
}

func (e *jsonEnc) timeOmitZero(name string, t time.Time) {
	if t.IsZero() {
		return
	}
	e.key(name)
	e.buf = append(e.buf, '"')
	b, err := t.AppendText(e.buf)
	if err != nil {
		if e.err == nil {
			e.err = fmt.Errorf("json: error calling MarshalJSON for type time.Time: %w", err)
		}
		return
	}
	e.buf = append(b, '"')
}

const hexDigits = "0123456789abcdef"

// string appends s quoted as encoding/json does with HTML escaping.
func (e *jsonEnc) string(s string) {
	dst := append(e.buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			e.lossy = true
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	e.buf = append(dst, '"')
}
