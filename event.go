// Package apptbridge is the domain of the apptbridge service: appointment
// events, appointments and the disposition state machine that every input
// channel (HL7 over MLLP, the HTTP API, patient replies, the reminder
// worker) goes through. It imports only the standard library and uuid.
package apptbridge

import (
	"time"

	"github.com/google/uuid"
)

// EventType is the kind of an appointment event.
type EventType string

// Event types from the EHR, from the patient and from apptbridge itself.
const (
	Booked      EventType = "BOOKED"
	Rescheduled EventType = "RESCHEDULED"
	Modified    EventType = "MODIFIED"
	Confirmed   EventType = "CONFIRMED"
	Canceled    EventType = "CANCELED"
	Noshowed    EventType = "NOSHOWED"

	Confirm  EventType = "CONFIRM"
	Cancel   EventType = "CANCEL"
	OptedOut EventType = "OPTED-OUT"
	OptedIn  EventType = "OPTED-IN"

	Remind EventType = "REMIND"
	Expire EventType = "EXPIRE"
)

// EventTypes lists every event type in a stable order.
var EventTypes = []EventType{Booked, Rescheduled, Modified, Confirmed, Canceled, Noshowed,
	Confirm, Cancel, OptedOut, OptedIn, Remind, Expire}

// Valid reports whether t is a known event type.
func (t EventType) Valid() bool {
	for _, x := range EventTypes {
		if x == t {
			return true
		}
	}
	return false
}

// FromEHR reports whether the event type is one an EHR sends.
func (t EventType) FromEHR() bool {
	switch t {
	case Booked, Rescheduled, Modified, Confirmed, Canceled, Noshowed:
		return true
	}
	return false
}

// Channels an event can arrive on.
const (
	ChannelMLLP   = "mllp"
	ChannelHTTP   = "http"
	ChannelSMS    = "sms"
	ChannelSystem = "system"
)

// Source says where an event came from.
type Source struct {
	Channel            string    `json:"channel"`
	MessageControlID   string    `json:"message_control_id,omitempty"`
	MessageType        string    `json:"message_type,omitempty"`
	SendingApplication string    `json:"sending_application,omitempty"`
	SendingFacility    string    `json:"sending_facility,omitempty"`
	ReceivedAt         time.Time `json:"received_at,omitzero"`
}

// Event is the canonical appointment event (SPEC §4): one flat JSON object
// whose field names are the original app's, plus apptbridge's own. All
// instants are UTC; AppointmentDatetime is the local wall clock at the
// appointment (no zone) and AppointmentTimezone its UTC offset (±HHMM).
type Event struct {
	EventID          string    `json:"event_id"`
	EventType        EventType `json:"event_type"`
	EventDatetimeUTC time.Time `json:"event_datetime_utc,omitzero"`

	PatientID        string `json:"patient_id,omitempty"`
	PatientFirstName string `json:"patient_first_name,omitempty"`
	PatientLastName  string `json:"patient_last_name,omitempty"`
	PatientPhone     string `json:"patient_phone,omitempty"`
	PatientLanguage  string `json:"patient_language,omitempty"`

	ProviderID            string `json:"provider_id,omitempty"`
	ProviderFirstName     string `json:"provider_first_name,omitempty"`
	ProviderLastName      string `json:"provider_last_name,omitempty"`
	ProviderCallbackPhone string `json:"provider_callback_phone,omitempty"`

	AppointmentID       string `json:"appointment_id"`
	AppointmentPlacerID string `json:"appointment_placer_id,omitempty"` // SCH-1.1
	AppointmentFillerID string `json:"appointment_filler_id,omitempty"` // SCH-2.1

	AppointmentLocation     string `json:"appointment_location,omitempty"`
	AppointmentLocationCode string `json:"appointment_location_code,omitempty"`

	AppointmentDatetime        string    `json:"appointment_datetime,omitempty"` // 2006-01-02T15:04:05, local
	AppointmentTimezone        string    `json:"appointment_timezone,omitempty"` // -0600
	AppointmentTZ              string    `json:"appointment_tz,omitempty"`       // America/Chicago
	AppointmentDatetimeUTC     time.Time `json:"appointment_datetime_utc,omitzero"`
	AppointmentDurationMinutes int       `json:"appointment_duration_minutes,omitempty"`

	AppointmentType   string `json:"appointment_type,omitempty"`   // SCH-8
	AppointmentReason string `json:"appointment_reason,omitempty"` // SCH-7
	AppointmentStatus string `json:"appointment_status,omitempty"` // SCH-25 as sent

	Source *Source `json:"source,omitempty"`
}

// LocalLayout is the layout of Event.AppointmentDatetime.
const LocalLayout = "2006-01-02T15:04:05"

func init() {
	// Event ids are minted for every inbound message; reading crypto/rand
	// in 512-byte blocks instead of 16 bytes per id is a measurable share
	// of the parse+map cost. The pool still draws from crypto/rand. It must
	// be enabled before any concurrent use, hence init.
	uuid.EnableRandPool()
}

// NewEventID returns a new UUIDv7 string.
func NewEventID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// SetAppointmentTime fills the four appointment time fields from an instant
// and the IANA zone it is displayed in.
func (e *Event) SetAppointmentTime(t time.Time, loc *time.Location) {
	lt := t.In(loc)
	e.AppointmentDatetime = lt.Format(LocalLayout)
	e.AppointmentTimezone = lt.Format("-0700")
	e.AppointmentTZ = loc.String()
	e.AppointmentDatetimeUTC = t.UTC()
}
