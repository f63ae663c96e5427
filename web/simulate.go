package web

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/mapping"
)

// The event simulator (the original's simulation page): an operator picks
// an event, a phone and a time; a real SIU message is built and sent over
// MLLP to this service's own listener (Config.Simulate), so it takes the
// same path as the EHR's messages: framing, parse, mapping, duplicate
// keys, the state machine, texts. The ACK comes back to the page.

// simTriggers maps the simulator's events to the SIU trigger and SCH-25
// filler status the default mapping reads (mapping/doc.go rules 3–4).
var simTriggers = map[apptbridge.EventType]struct{ trigger, status string }{
	apptbridge.Booked:      {"S12", "Booked"},
	apptbridge.Rescheduled: {"S13", "Booked"},
	apptbridge.Modified:    {"S14", "Booked"},
	apptbridge.Confirmed:   {"S14", "Confirmed"},
	apptbridge.Canceled:    {"S15", "Cancelled"},
	apptbridge.Noshowed:    {"S26", "Noshow"},
}

type simEvent struct {
	EventType     string `json:"event_type"`
	AppointmentID string `json:"appointment_id"`
	PatientID     string `json:"patient_id"`
	FirstName     string `json:"first_name"`
	Phone         string `json:"phone"`
	Time          string `json:"time"`     // 2026-12-01T09:00, local
	Timezone      string `json:"timezone"` // IANA; default DEFAULT_TIMEZONE
	Location      string `json:"location"`
	Provider      string `json:"provider"`
}

// idChars are what a simulated id may hold (it lands in HL7 and URLs).
func validSimID(s string) bool {
	if len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (a *API) simulateEvent(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Simulate == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the simulator needs the MLLP listener", nil)
		return
	}
	var in simEvent
	if !decodeStrict(w, r, &in, `{"event_type", "phone", "time", …} (see README)`) {
		return
	}
	var ferrs []FieldError
	typ := apptbridge.EventType(strings.ToUpper(strings.TrimSpace(in.EventType)))
	trig, ok := simTriggers[typ]
	if !ok {
		ferrs = append(ferrs, FieldError{Field: "event_type", Message: "must be BOOKED, RESCHEDULED, MODIFIED, CONFIRMED, CANCELED or NOSHOWED"})
	}
	if in.AppointmentID == "" {
		if typ != apptbridge.Booked && ok {
			ferrs = append(ferrs, FieldError{Field: "appointment_id", Message: "required for every event but BOOKED"})
		}
		in.AppointmentID = "SIM" + randHex(4)
	} else if !validSimID(in.AppointmentID) {
		ferrs = append(ferrs, FieldError{Field: "appointment_id", Message: "letters, digits, - and _ only, at most 40"})
	}
	if in.PatientID == "" {
		in.PatientID = "SIMP" + randHex(3)
	} else if !validSimID(in.PatientID) {
		ferrs = append(ferrs, FieldError{Field: "patient_id", Message: "letters, digits, - and _ only, at most 40"})
	}
	phone, pok := mapping.NormalizePhone(in.Phone, a.cfg.DefaultCountry)
	if !pok {
		ferrs = append(ferrs, FieldError{Field: "phone", Message: "required: a mobile number (E.164 or national)"})
	}
	tzName := in.Timezone
	if tzName == "" {
		tzName = a.cfg.DefaultTimezone
	}
	loc, err := time.LoadLocation(tzName)
	if err != nil || tzName == "" {
		ferrs = append(ferrs, FieldError{Field: "timezone", Message: "must be an IANA zone like America/Chicago"})
		loc = time.UTC
	}
	var start time.Time
	switch {
	case in.Time == "" && (typ == apptbridge.Booked || typ == apptbridge.Rescheduled):
		ferrs = append(ferrs, FieldError{Field: "time", Message: "required for BOOKED and RESCHEDULED"})
	case in.Time != "":
		start, err = parseLocalTime(in.Time, loc)
		if err != nil {
			ferrs = append(ferrs, FieldError{Field: "time", Message: "must be YYYY-MM-DDTHH:MM (local time)"})
		}
	}
	for _, f := range []struct{ name, v string }{{"first_name", in.FirstName}, {"location", in.Location}, {"provider", in.Provider}} {
		if len(f.v) > 60 {
			ferrs = append(ferrs, FieldError{Field: f.name, Message: "at most 60 characters"})
		}
	}
	if len(ferrs) > 0 {
		writeError(w, http.StatusBadRequest, "invalid", "the simulated event has invalid fields", ferrs)
		return
	}
	now := a.cfg.Now()
	controlID := "SIM" + strings.ToUpper(randHex(8))
	msg := buildSimSIU(in, typ, trig.trigger, trig.status, phone, start, loc, controlID, now)
	ack, err := a.cfg.Simulate(r.Context(), msg)
	if err != nil {
		a.log.Warn("simulator: send", zap.String("control_id", controlID), zap.Error(err))
		writeError(w, http.StatusBadGateway, "mllp", "the MLLP listener did not answer: "+err.Error(), nil)
		return
	}
	code, text := "", ""
	if m, err := hl7.Parse(ack); err == nil {
		code, text = m.Get("MSA-1"), m.Get("MSA-3")
	}
	a.cfg.Kick()
	a.auditAs(r, "simulate.event", in.AppointmentID, string(typ)+" "+controlID+" "+code)
	writeJSON(w, http.StatusOK, map[string]any{"appointment_id": in.AppointmentID, "message_control_id": controlID,
		"message_type": "SIU^" + trig.trigger, "ack_code": code, "ack_text": text})
}

func parseLocalTime(v string, loc *time.Location) (time.Time, error) {
	var err error
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		var t time.Time
		if t, err = time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// buildSimSIU writes an HL7 v2.5.1 SIU the default mapping reads: SCH-1
// the appointment id, TQ1-7/SCH-11.4 the start with its offset, PID-3 the
// patient, PID-13 the mobile, AIL/AIP the location and provider.
func buildSimSIU(in simEvent, typ apptbridge.EventType, trigger, status, phone string, start time.Time,
	loc *time.Location, controlID string, now time.Time) []byte {
	const ts = "20060102150405-0700"
	fld := hl7.Fld
	first := in.FirstName
	if first == "" {
		first = "Alex"
	}
	b := hl7.NewBuilder(hl7.DefaultDelimiters)
	b.Segment("MSH", fld("APPTBRIDGE-SIM"), fld("SIMULATOR"), fld("APPTBRIDGE"), fld("CLINIC"),
		fld(now.In(loc).Format(ts)), fld(), fld("SIU", trigger, "SIU_S12"), fld(controlID), fld("P"), fld("2.5.1"))
	b.Segment("EVN", fld(trigger), fld(now.In(loc).Format(ts)))
	var tq hl7.Field
	startTS, endTS := "", ""
	if !start.IsZero() {
		startTS, endTS = start.Format(ts), start.Add(30*time.Minute).Format(ts)
		tq = fld("", "", "", startTS, endTS)
	}
	var dur, units hl7.Field
	if !start.IsZero() {
		dur, units = fld("30"), fld("min")
	}
	b.Segment("SCH", fld(in.AppointmentID, "SIM"), fld(), fld(), fld(), fld(), fld("Simulated "+strings.ToLower(string(typ))),
		fld(), fld("Follow-up"), dur, units, tq, fld(), fld(), fld(), fld(), fld(), fld(), fld(), fld(), fld(),
		fld(), fld(), fld(), fld(), fld(status))
	if !start.IsZero() {
		b.Segment("TQ1", fld("1"), fld(), fld(), fld(), fld(), fld("30", "min"), fld(startTS), fld(endTS))
	}
	b.Segment("PID", fld("1"), fld(), fld(in.PatientID, "", "", "SIM", "MR"), fld(), fld("Sample", first),
		fld(), fld(), fld(), fld(), fld(), fld(), fld(), fld(phone, "PRN", "CP"))
	b.Segment("RGS", fld("1"))
	if in.Location != "" {
		b.Segment("AIL", fld("1"), fld(), fld("", "", "", "", "", "", "", "", in.Location))
	}
	if in.Provider != "" {
		b.Segment("AIP", fld("1"), fld(), fld("SIMDR", in.Provider))
	}
	return b.Bytes()
}
