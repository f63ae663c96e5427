package apptbridge

import "time"

// TextKind names the text a patient is sent as the result of an event.
type TextKind string

// Text kinds (template names).
const (
	TextNone           TextKind = ""
	TextBooked         TextKind = "booked"
	TextRescheduled    TextKind = "rescheduled"
	TextModified       TextKind = "modified"
	TextConfirmed      TextKind = "confirmed"
	TextCanceled       TextKind = "canceled"
	TextNoshowed       TextKind = "noshowed"
	TextRemind1        TextKind = "remind-1"
	TextRemind2        TextKind = "remind-2"
	TextConfirmReceipt TextKind = "confirm-receipt"
	TextCancelReceipt  TextKind = "cancel-receipt"
	TextOptedIn        TextKind = "opted-in"
	// Texts not caused by an appointment event.
	TextHelp          TextKind = "help"           // answer to HELP/INFO
	TextNotUnderstood TextKind = "not-understood" // answer to an unknown reply, once a day per phone
	TextReply         TextKind = "reply"          // an inbound text from a patient
	// TextLoginCode is the administrator's sign-in code: its body is
	// written when it is queued (no template), and cleared once Twilio
	// has it (kept in the SMS sandbox, whose phone simulator shows it).
	TextLoginCode TextKind = "login-code"
)

// AsksReply reports whether a text of kind k asks the patient to answer
// CONFIRM APPT or CANCEL APPT: replies are matched to the latest such text.
func (k TextKind) AsksReply() bool {
	switch k {
	case TextBooked, TextRescheduled, TextModified, TextRemind1, TextRemind2:
		return true
	}
	return false
}

// Immediate reports whether a text of kind k answers the patient's own
// message (sent at once, even outside the outreach window).
func (k TextKind) Immediate() bool {
	switch k {
	case TextConfirmReceipt, TextCancelReceipt, TextOptedIn, TextHelp, TextNotUnderstood, TextLoginCode:
		return true
	}
	return false
}

// Reasons recorded in the history when an event is not applied or a text
// is not sent. They are stable strings (tests and dashboards use them).
const (
	ReasonStale            = "stale: older than the last applied EHR event"
	ReasonNotActive        = "appointment not active"
	ReasonRepeat           = "repeat: nothing the patient sees changed"
	ReasonOptedOut         = "appointment opted out"
	ReasonNotRemindable    = "no reminder left on the ladder"
	ReasonNotDue           = "appointment time not reached"
	ReasonNotOptedOut      = "appointment not opted out"
	ReasonNoAppointment    = "no such appointment"
	ReasonAlreadySet       = "already in that state"
	ReasonUnknownEventType = "unknown event type"

	SuppressPhoneOptedOut = "phone opted out"
	SuppressNoPhone       = "no mobile phone"
	SuppressPast          = "appointment already past"
)

// ApplyContext is what Apply needs to know beyond the appointment itself.
type ApplyContext struct {
	Now           time.Time
	PhoneOptedOut bool // the appointment's phone is on the opt-out list
}

// Outcome is the result of applying one event to one appointment.
type Outcome struct {
	// Appointment is the state after the event: a copy that shares nothing
	// with the appointment passed to Apply. It is nil only when there was
	// no appointment and the event could not create one (a patient or
	// system event for an unknown appointment, ReasonNoAppointment).
	Appointment *Appointment
	// Applied is false when the event changed nothing (stale, or not
	// allowed from the current disposition); Reason says why. An EHR event
	// that is not stale is always applied, because it updates the
	// appointment's fields even where the disposition stays; Reason then
	// says why the disposition or the text did not change.
	Applied bool
	Reason  string
	From    Disposition
	To      Disposition
	// Text is the text to send the patient, TextNone for none;
	// Suppressed says why a text the transition calls for is not sent
	// (for a REMIND the event is then not applied at all, Reason being the
	// same string).
	Text       TextKind
	Suppressed string
	// Request is CONFIRM or CANCEL when the patient's request must be sent
	// to the EHR.
	Request EventType
}

// Apply runs one event through the disposition state machine of SPEC §6.
// cur is the appointment's current state, nil when the event is the first
// one seen for it. Apply never modifies cur. Events from the EHR always
// update the appointment's fields, even when the disposition stays.
//
// Rules beyond the table of SPEC §6:
//   - An EHR event whose EventDatetimeUTC is before the appointment's
//     LastEHREventAt is stale (ReasonStale) and changes nothing; an equal
//     time is not stale and a zero time is never stale. Patient and system
//     events are never stale.
//   - EHR events on an OPTED-OUT appointment keep it OPTED-OUT without a
//     text, but move the state it returns to on OPTED-IN
//     (LadderBeforeOptOut) as if they had been applied to it: a
//     RESCHEDULED resets the ladder to QUEUED, a CANCELED or NOSHOWED makes
//     OPTED-IN return to CANCELED or NOSHOWED (never back onto the
//     reminder ladder of an appointment the EHR canceled).
//   - A REMIND whose text would be suppressed (phone opted out, no phone,
//     appointment past) is not applied: the ladder does not climb and
//     RemindersSent does not count a reminder that was never sent. Reason
//     and Suppressed carry the suppression reason.
func Apply(cur *Appointment, e *Event, ctx ApplyContext) Outcome {
	from := DispNone
	if cur != nil {
		from = cur.Disposition
	}
	o := Outcome{From: from, To: from}
	unchanged := func(reason string) Outcome {
		o.Reason = reason
		o.Appointment = cur.clone()
		return o
	}
	switch {
	case !e.EventType.Valid():
		return unchanged(ReasonUnknownEventType)
	case cur == nil && !e.EventType.FromEHR():
		return unchanged(ReasonNoAppointment)
	case cur != nil && e.EventType.FromEHR() && !e.EventDatetimeUTC.IsZero() &&
		e.EventDatetimeUTC.Before(cur.LastEHREventAt):
		return unchanged(ReasonStale)
	}

	next := cur.clone()
	if next == nil {
		next = &Appointment{}
	}
	var (
		to     Disposition
		text   TextKind
		reason string
	)
	if e.EventType.FromEHR() {
		visibleBefore := visible(next)
		merge(next, e)
		if !e.EventDatetimeUTC.IsZero() {
			next.LastEHREventAt = e.EventDatetimeUTC
		}
		changed := !visible(next).equal(visibleBefore)
		if from == DispOptedOut {
			// Fields updated, no text; the event moves the state the
			// appointment returns to on OPTED-IN.
			shadow := next.LadderBeforeOptOut
			if shadow == DispNone || shadow == DispOptedOut {
				shadow = DispQueued
			}
			next.LadderBeforeOptOut, _, _ = ehrTransition(next, e.EventType, shadow, changed)
			to, reason = DispOptedOut, ReasonOptedOut
		} else {
			to, text, reason = ehrTransition(next, e.EventType, from, changed)
		}
	} else {
		var ok bool
		to, text, reason, ok = otherTransition(next, e.EventType, from, ctx.Now)
		if !ok {
			return unchanged(reason)
		}
		if e.EventType == Confirm || e.EventType == Cancel {
			o.Request = e.EventType
		}
	}

	if text != TextNone {
		o.Suppressed = suppressed(next, text, ctx)
		if o.Suppressed != "" {
			if e.EventType == Remind {
				// Not sent, so not counted and the ladder stays.
				return unchanged(o.Suppressed)
			}
			text = TextNone
		}
	}

	next.Disposition = to
	next.Version++
	next.EventID = e.EventID
	next.EventType = e.EventType
	if next.CreatedAt.IsZero() {
		next.CreatedAt = ctx.Now
	}
	next.UpdatedAt = ctx.Now
	o.Appointment = next
	o.Applied = true
	o.To = to
	o.Text = text
	o.Reason = reason
	return o
}

// ehrTransition is the SPEC §6 transition of an EHR event from d (never
// OPTED-OUT), on an appointment whose fields are already merged.
// changed says whether a field the patient sees changed. It sets the
// appointment's Confirmed and RemindersSent, not its Disposition.
func ehrTransition(a *Appointment, t EventType, d Disposition, changed bool) (Disposition, TextKind, string) {
	reset := func() {
		a.RemindersSent = 0
		a.Confirmed = false
	}
	switch t {
	case Booked:
		if d.Active() {
			if changed {
				return d, TextModified, ""
			}
			return d, TextNone, ReasonRepeat
		}
		reset()
		return DispQueued, TextBooked, ""
	case Rescheduled:
		reset()
		return DispQueued, TextRescheduled, ""
	case Modified:
		switch {
		case d == DispNone:
			return DispQueued, TextModified, ""
		case d.Active():
			return d, TextModified, ""
		}
		return d, TextNone, ReasonNotActive
	case Confirmed:
		switch {
		case d == DispNone || d.Active():
			if d == DispNone {
				d = DispQueued
			}
			if a.Confirmed {
				return d, TextNone, ReasonAlreadySet
			}
			a.Confirmed = true
			return d, TextConfirmed, ""
		}
		return d, TextNone, ReasonNotActive
	case Canceled:
		switch {
		case d == DispNone || d.Active():
			return DispCanceled, TextCanceled, ""
		case d == DispCanceled:
			return d, TextNone, ReasonAlreadySet
		}
		return d, TextNone, ReasonNotActive
	case Noshowed:
		switch {
		case d == DispNone || d.Active() || d == DispExpired:
			return DispNoshowed, TextNoshowed, ""
		case d == DispNoshowed:
			return d, TextNone, ReasonAlreadySet
		}
		return d, TextNone, ReasonNotActive
	}
	return d, TextNone, ReasonUnknownEventType
}

// otherTransition is the SPEC §6 transition of a patient or system event
// from d on an existing appointment; ok is false when it is not applied.
func otherTransition(a *Appointment, t EventType, d Disposition, now time.Time) (to Disposition, text TextKind, reason string, ok bool) {
	notActive := ReasonNotActive
	if d == DispOptedOut {
		notActive = ReasonOptedOut
	}
	switch t {
	case Remind:
		switch d {
		case DispQueued:
			a.RemindersSent++
			return DispReminded1, TextRemind1, "", true
		case DispReminded1:
			a.RemindersSent++
			return DispReminded2, TextRemind2, "", true
		case DispReminded2:
			return d, TextNone, ReasonNotRemindable, false
		}
		return d, TextNone, notActive, false
	case Expire:
		switch {
		case d == DispExpired:
			return d, TextNone, ReasonAlreadySet, false
		case !d.Active():
			return d, TextNone, notActive, false
		case a.AppointmentDatetimeUTC.IsZero() || now.Before(a.AppointmentDatetimeUTC):
			return d, TextNone, ReasonNotDue, false
		}
		return DispExpired, TextNone, "", true
	case Confirm, Cancel:
		if !d.Active() {
			return d, TextNone, notActive, false
		}
		if t == Cancel {
			return d, TextCancelReceipt, "", true
		}
		return d, TextConfirmReceipt, "", true
	case OptedOut:
		switch {
		case d == DispOptedOut:
			return d, TextNone, ReasonAlreadySet, false
		case !d.Active():
			return d, TextNone, ReasonNotActive, false
		}
		a.LadderBeforeOptOut = d
		return DispOptedOut, TextNone, "", true
	case OptedIn:
		if d != DispOptedOut {
			return d, TextNone, ReasonNotOptedOut, false
		}
		to := a.LadderBeforeOptOut
		if to == DispNone || to == DispOptedOut || !validDisposition(to) {
			to = DispQueued
		}
		a.LadderBeforeOptOut = DispNone
		return to, TextOptedIn, "", true
	}
	return d, TextNone, ReasonUnknownEventType, false
}

// suppressed says why text must not be sent, "" when it may.
func suppressed(a *Appointment, text TextKind, ctx ApplyContext) string {
	switch {
	case text != TextOptedIn && ctx.PhoneOptedOut:
		return SuppressPhoneOptedOut
	case a.PatientPhone == "":
		return SuppressNoPhone
	case text != TextNoshowed && !a.AppointmentDatetimeUTC.IsZero() &&
		!ctx.Now.Before(a.AppointmentDatetimeUTC):
		return SuppressPast
	}
	return ""
}

func validDisposition(d Disposition) bool {
	for _, x := range Dispositions {
		if x == d {
			return true
		}
	}
	return false
}

// clone returns a copy of a that shares no memory with it (nil for nil).
func (a *Appointment) clone() *Appointment {
	if a == nil {
		return nil
	}
	c := *a
	if a.Source != nil {
		src := *a.Source
		c.Source = &src
	}
	return &c
}

// visibleFields is what a patient sees in a text about the appointment.
type visibleFields struct {
	when                            time.Time
	location, first, last, callback string
}

func visible(a *Appointment) visibleFields {
	return visibleFields{a.AppointmentDatetimeUTC, a.AppointmentLocation,
		a.ProviderFirstName, a.ProviderLastName, a.ProviderCallbackPhone}
}

// equal compares instants with time.Time.Equal: the same instant in
// another location (or with a monotonic reading) is no visible change.
func (v visibleFields) equal(w visibleFields) bool {
	return v.when.Equal(w.when) && v.location == w.location && v.first == w.first &&
		v.last == w.last && v.callback == w.callback
}

// merge copies the event's non-empty fields onto the appointment.
func merge(a *Appointment, e *Event) {
	str := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	str(&a.AppointmentID, e.AppointmentID)
	str(&a.AppointmentPlacerID, e.AppointmentPlacerID)
	str(&a.AppointmentFillerID, e.AppointmentFillerID)
	str(&a.PatientID, e.PatientID)
	str(&a.PatientFirstName, e.PatientFirstName)
	str(&a.PatientLastName, e.PatientLastName)
	str(&a.PatientPhone, e.PatientPhone)
	str(&a.PatientLanguage, e.PatientLanguage)
	str(&a.ProviderID, e.ProviderID)
	str(&a.ProviderFirstName, e.ProviderFirstName)
	str(&a.ProviderLastName, e.ProviderLastName)
	str(&a.ProviderCallbackPhone, e.ProviderCallbackPhone)
	str(&a.AppointmentLocation, e.AppointmentLocation)
	str(&a.AppointmentLocationCode, e.AppointmentLocationCode)
	if !e.AppointmentDatetimeUTC.IsZero() {
		a.AppointmentDatetime = e.AppointmentDatetime
		a.AppointmentTimezone = e.AppointmentTimezone
		a.AppointmentTZ = e.AppointmentTZ
		a.AppointmentDatetimeUTC = e.AppointmentDatetimeUTC
	}
	if e.AppointmentDurationMinutes > 0 {
		a.AppointmentDurationMinutes = e.AppointmentDurationMinutes
	}
	str(&a.AppointmentType, e.AppointmentType)
	str(&a.AppointmentReason, e.AppointmentReason)
	str(&a.AppointmentStatus, e.AppointmentStatus)
	if !e.EventDatetimeUTC.IsZero() {
		a.EventDatetimeUTC = e.EventDatetimeUTC
	}
	if e.Source != nil {
		src := *e.Source
		a.Source = &src
	}
}
