package ehr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/hl7"
)

// Profile selects the HL7 messages Build writes.
type Profile string

// Profiles.
const (
	// ProfileSIU (the default): SIU^S14 with SCH-25 "Confirmed" for a
	// confirmation, SIU^S15 with SCH-25 "Cancelled" for a cancellation.
	ProfileSIU Profile = "siu"
	// ProfileSRM: SRM^S03 (request appointment modification) for a
	// confirmation and SRM^S04 (request appointment cancellation) for a
	// cancellation, as the original app's EHR integration guide maps them.
	ProfileSRM Profile = "srm"
)

// Validate reports whether p is a known profile ("" is ProfileSIU).
func (p Profile) Validate() error {
	switch p {
	case "", ProfileSIU, ProfileSRM:
		return nil
	}
	return fmt.Errorf("ehr: unknown profile %q (want siu or srm)", string(p))
}

// BuildOptions say how Build writes a message.
type BuildOptions struct {
	Profile Profile // "" means ProfileSIU
	// SendingApplication and SendingFacility are MSH-3 and MSH-4: ours
	// ("APPTBRIDGE" when empty, and CUSTOMER_CODE).
	SendingApplication, SendingFacility string
	// Now is MSH-7; the zero time means time.Now().
	Now time.Time
}

// DefaultSendingApplication is MSH-3 when BuildOptions leaves it empty.
const DefaultSendingApplication = "APPTBRIDGE"

// Values written into the requests (documented in doc.go).
const (
	hl7Version     = "2.5.1"
	reasonPatient  = "patient request" // SCH-6 / ARQ-6, and ARQ-7 of a cancel
	reasonConfirm  = "Confirmed"       // ARQ-7 of a confirm
	statusConfirm  = "Confirmed"       // SCH-25 of SIU^S14
	statusCanceled = "Cancelled"       // SCH-25 of SIU^S15 (table 0278 spelling)
	tsLayout       = "20060102150405-0700"
	charsetUTF8    = "UNICODE UTF-8"
)

// errNoAppointmentID is returned when the appointment has no id at all.
var errNoAppointmentID = errors.New("ehr: appointment has no placer, filler or appointment id")

// Build returns the HL7 v2.5.1 message (ER7, segments ending in \r, UTF-8)
// that asks the EHR to record a patient's request: typ is
// apptbridge.Confirm or apptbridge.Cancel, a the appointment as it was
// when the patient replied, controlID MSH-10 (the same on every attempt).
//
// Profile siu writes SIU^S14^SIU_S12 (confirm; SCH-25 Confirmed) or
// SIU^S15^SIU_S12 (cancel; SCH-25 Cancelled), with SCH-6 "patient
// request"; profile srm writes SRM^S03^SRM_S01 (confirm) or
// SRM^S04^SRM_S01 (cancel) with an ARQ segment. Both carry PID, RGS|1, AIL
// and AIP; see the package documentation for every field. Values are
// escaped with the message's delimiters; control characters in them become
// spaces. MSH-18 is "UNICODE UTF-8" when a value is not ASCII, else empty.
//
// Errors (never carrying appointment data): a nil appointment, a type other
// than Confirm/Cancel, an empty controlID, an unknown profile, and an
// appointment without any id.
func Build(typ apptbridge.EventType, a *apptbridge.Appointment, controlID string, o BuildOptions) ([]byte, error) {
	if a == nil {
		return nil, errors.New("ehr: build: nil appointment")
	}
	if typ != apptbridge.Confirm && typ != apptbridge.Cancel {
		return nil, fmt.Errorf("ehr: build: event type %q is not CONFIRM or CANCEL", string(typ))
	}
	if strings.TrimSpace(controlID) == "" {
		return nil, errors.New("ehr: build: empty control id")
	}
	if err := o.Profile.Validate(); err != nil {
		return nil, err
	}
	p := newParts(a)
	if p.placer == "" && p.filler == "" {
		return nil, errNoAppointmentID
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	msg := build(typ, &p, clean(controlID), o, "")
	if !isASCII(msg) {
		msg = build(typ, &p, clean(controlID), o, charsetUTF8)
	}
	return msg, nil
}

// parts are the appointment's values as written, cleaned of control
// characters.
type parts struct {
	placer, filler                    string
	patientID, family, given, phone   string
	language                          string
	providerID, provFamily, provGiven string
	locCode, locName                  string
	recvApp, recvFac                  string
	start, end                        string // TS, local time with offset
	duration                          int    // minutes
}

func newParts(a *apptbridge.Appointment) parts {
	p := parts{
		placer:     clean(a.AppointmentPlacerID),
		filler:     clean(a.AppointmentFillerID),
		patientID:  clean(a.PatientID),
		family:     clean(a.PatientLastName),
		given:      clean(a.PatientFirstName),
		phone:      clean(a.PatientPhone),
		language:   clean(a.PatientLanguage),
		providerID: clean(a.ProviderID),
		provFamily: clean(a.ProviderLastName),
		provGiven:  clean(a.ProviderFirstName),
		locCode:    clean(a.AppointmentLocationCode),
		locName:    clean(a.AppointmentLocation),
		duration:   max(a.AppointmentDurationMinutes, 0),
	}
	if p.placer == "" {
		p.placer = clean(a.AppointmentID)
	}
	if a.Source != nil {
		p.recvApp = clean(a.Source.SendingApplication)
		p.recvFac = clean(a.Source.SendingFacility)
	}
	if t, ok := appointmentStart(a); ok {
		p.start = t.Format(tsLayout)
		if p.duration > 0 {
			p.end = t.Add(time.Duration(p.duration) * time.Minute).Format(tsLayout)
		}
	}
	return p
}

// appointmentStart returns the start in the appointment's local time: the
// instant (AppointmentDatetimeUTC, else the local wall clock read with its
// offset) in the IANA zone AppointmentTZ, else at the fixed offset
// AppointmentTimezone, else in UTC.
func appointmentStart(a *apptbridge.Appointment) (time.Time, bool) {
	var loc *time.Location
	if a.AppointmentTZ != "" {
		if l, err := time.LoadLocation(a.AppointmentTZ); err == nil {
			loc = l
		}
	}
	var fixed *time.Location
	if off, err := time.Parse("-0700", a.AppointmentTimezone); err == nil {
		_, secs := off.Zone()
		fixed = time.FixedZone("", secs)
	}
	if loc == nil {
		loc = fixed
	}
	if loc == nil {
		loc = time.UTC
	}
	t := a.AppointmentDatetimeUTC
	if t.IsZero() && a.AppointmentDatetime != "" {
		in := fixed
		if in == nil {
			in = loc
		}
		lt, err := time.ParseInLocation(apptbridge.LocalLayout, a.AppointmentDatetime, in)
		if err != nil {
			return time.Time{}, false
		}
		t = lt
	}
	if t.IsZero() {
		return time.Time{}, false
	}
	return t.In(loc), true
}

func build(typ apptbridge.EventType, p *parts, controlID string, o BuildOptions, charset string) []byte {
	fld := hl7.Fld
	sendApp := clean(o.SendingApplication)
	if sendApp == "" {
		sendApp = DefaultSendingApplication
	}
	srm := o.Profile == ProfileSRM
	var msgType hl7.Field
	switch {
	case srm && typ == apptbridge.Confirm:
		msgType = fld("SRM", "S03", "SRM_S01")
	case srm:
		msgType = fld("SRM", "S04", "SRM_S01")
	case typ == apptbridge.Confirm:
		msgType = fld("SIU", "S14", "SIU_S12")
	default:
		msgType = fld("SIU", "S15", "SIU_S12")
	}

	b := hl7.NewBuilder(hl7.DefaultDelimiters)
	// MSH-3 … MSH-18; MSH-15/16 empty: original acknowledgment mode.
	b.Segment("MSH", fld(sendApp), fld(clean(o.SendingFacility)), fld(p.recvApp), fld(p.recvFac),
		fld(o.Now.Format(tsLayout)), fld(), msgType, fld(controlID), fld("P"), fld(hl7Version),
		fld(), fld(), fld(), fld(), fld(), fld(charset))

	var durUnits hl7.Field
	dur := ""
	if p.duration > 0 {
		dur = strconv.Itoa(p.duration)
		durUnits = fld("min", "minutes", "UCUM")
	}
	if srm {
		reason := reasonPatient
		if typ == apptbridge.Confirm {
			reason = reasonConfirm
		}
		// ARQ-1 placer id, -2 filler id, -6 request event reason, -7
		// reason, -9/-10 duration, -11 requested start (DR: start^end).
		b.Segment("ARQ", fld(p.placer), fld(p.filler), fld(), fld(), fld(),
			fld(reasonPatient), fld(reason), fld(), fld(dur), durUnits, fld(p.start, p.end))
	} else {
		status := statusCanceled
		if typ == apptbridge.Confirm {
			status = statusConfirm
		}
		// SCH-1 placer id, -2 filler id, -6 event reason, -9/-10
		// duration, -11 TQ (4 start, 5 end), -16 filler contact (the
		// provider), -25 filler status.
		b.Segment("SCH", fld(p.placer), fld(p.filler), fld(), fld(), fld(),
			fld(reasonPatient), fld(), fld(), fld(dur), durUnits, fld("", "", "", p.start, p.end),
			fld(), fld(), fld(), fld(), p.provider(), fld(), fld(), fld(), fld(),
			fld(), fld(), fld(), fld(), fld(status))
		if p.start != "" {
			// TQ1-1 set id, -6 service duration (CQ), -7 start, -8 end:
			// where v2.5.1 puts timing (SCH-11 is kept for older readers).
			var cq hl7.Field
			if p.duration > 0 {
				cq = fld(dur, "min")
			}
			b.Segment("TQ1", fld("1"), fld(), fld(), fld(), fld(), cq, fld(p.start), fld(p.end))
		}
	}

	// PID-1 set id, -3 patient id, -5 name, -13 phone, -15 language.
	var phone hl7.Field
	if p.phone != "" {
		// XTN-1 (for older readers), -2 use PRN, -3 equipment CP (the
		// mobile the patient replied from), -12 unformatted number.
		phone = fld(p.phone, "PRN", "CP", "", "", "", "", "", "", "", "", p.phone)
	}
	b.Segment("PID", fld("1"), fld(), fld(p.patientID), fld(), fld(p.family, p.given),
		fld(), fld(), fld(), fld(), fld(), fld(), fld(), phone, fld(), fld(p.language))
	b.Segment("RGS", fld("1"))
	if p.locCode != "" || p.locName != "" {
		// AIL-3 PL: 1 point of care (the code), 9 description.
		b.Segment("AIL", fld("1"), fld(), fld(p.locCode, "", "", "", "", "", "", "", p.locName))
	}
	if p.providerID != "" || p.provFamily != "" || p.provGiven != "" {
		b.Segment("AIP", fld("1"), fld(), p.provider())
	}
	return b.Bytes()
}

// provider is the XCN id^family^given.
func (p *parts) provider() hl7.Field {
	return hl7.Fld(p.providerID, p.provFamily, p.provGiven)
}

// clean replaces ASCII control characters (segment terminators, MLLP block
// characters, tabs, line breaks) with spaces and trims the result: none of
// them belongs in an id, a name or a phone number, and 0x1C could not even
// be framed.
func clean(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] < 0x20 || b[j] == 0x7f {
					b[j] = ' '
				}
			}
			return strings.TrimSpace(string(b))
		}
	}
	return strings.TrimSpace(s)
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
