package mapping

// The appointment time of a JSON event: the four time fields, ISO 8601
// parsing with and without offsets, and the zone rules (DecodeJSON
// decisions 12–16).

import (
	"time"

	"github.com/apptbridge/apptbridge"
)

// appointmentTime fills the four appointment time fields (DecodeJSON
// decisions 12–16).
func (d *jsonDecoder) appointmentTime(ev *apptbridge.Event, locZone, defLoc *time.Location) {
	var (
		dt     *isoTime
		offset *int
		tz     *time.Location
		utc    *time.Time
	)
	if s, ok := d.str(fAppointmentDatetime); ok {
		if p, ok := parseISOTime(s); ok {
			dt = &p
		} else {
			d.fail(fAppointmentDatetime, msgLocalTime)
		}
	}
	if s, ok := d.str(fAppointmentTimezone); ok {
		if o, ok := parseOffset(s); ok {
			offset = &o
		} else {
			d.fail(fAppointmentTimezone, msgOffset)
		}
	}
	if s, ok := d.str(fAppointmentTZ); ok {
		if l, ok := loadIANA(s); ok {
			tz = l
		} else {
			d.fail(fAppointmentTZ, msgZone)
		}
	}
	if s, ok := d.str(fAppointmentDatetimeUTC); ok {
		if t, msg := parseRFC3339(s); msg != "" {
			d.fail(fAppointmentDatetimeUTC, msg)
		} else {
			utc = &t
		}
	}
	for _, f := range [...]int{fAppointmentDatetime, fAppointmentTimezone, fAppointmentTZ, fAppointmentDatetimeUTC} {
		if d.errs[f] != "" {
			return
		}
	}
	if dt == nil && utc == nil {
		if t := ev.EventType; t == apptbridge.Booked || t == apptbridge.Rescheduled {
			d.fail(fAppointmentDatetime, "required for BOOKED and RESCHEDULED")
		}
		return
	}

	var inst time.Time
	var disp *time.Location
	if utc != nil {
		inst = utc.Truncate(time.Second)
		switch {
		case tz != nil:
			disp = tz
		case locZone != nil:
			disp = locZone
		case offset != nil:
			disp = offsetZone(inst, *offset, defLoc)
		default:
			disp = defLoc
		}
		if dt != nil {
			i2, wallZone, _ := dt.resolve(offset, tz, locZone, defLoc)
			same := i2.Truncate(time.Second).Equal(inst)
			if !same && wallZone != nil {
				w := inst.In(wallZone)
				same = w.Year() == dt.year && int(w.Month()) == dt.month && w.Day() == dt.day &&
					w.Hour() == dt.hour && w.Minute() == dt.min && w.Second() == dt.sec
			}
			if !same {
				d.fail(fAppointmentDatetime, msgMismatch)
				return
			}
		}
		if !inRange(inst) {
			d.fail(fAppointmentDatetimeUTC, msgRange)
			return
		}
	} else {
		inst, _, disp = dt.resolve(offset, tz, locZone, defLoc)
		inst = inst.Truncate(time.Second)
		if !inRange(inst) {
			d.fail(fAppointmentDatetime, msgRange)
			return
		}
	}
	ev.SetAppointmentTime(inst, disp)
}

// resolve reads appointment_datetime (DecodeJSON decision 13 (a)–(d)).
// wallZone is the IANA zone it was read in as a wall clock, nil when an
// offset fixed it; disp is the zone that shows it (decision 14).
func (p *isoTime) resolve(offset *int, tz, locZone, defLoc *time.Location) (inst time.Time, wallZone, disp *time.Location) {
	wall := time.Date(p.year, time.Month(p.month), p.day, p.hour, p.min, p.sec, p.nsec, time.UTC)
	switch {
	case tz != nil:
		z := zone{loc: tz}
		inst = z.wall(p.year, p.month, p.day, p.hour, p.min, p.sec, p.nsec)
		if offset != nil { // the given offset picks one instant of an ambiguous time
			if alt := wall.Add(-time.Duration(*offset) * time.Second); z.offsetAt(alt.Unix()) == *offset {
				inst = alt
			}
		}
		return inst, tz, tz
	case offset != nil:
		inst = wall.Add(-time.Duration(*offset) * time.Second)
		if locZone != nil {
			return inst, nil, locZone
		}
		return inst, nil, offsetZone(inst, *offset, defLoc)
	}
	z := defLoc
	if locZone != nil {
		z = locZone
	}
	if p.hasZone {
		return wall.Add(-time.Duration(p.offset) * time.Second), nil, z
	}
	zz := zone{loc: z}
	return zz.wall(p.year, p.month, p.day, p.hour, p.min, p.sec, p.nsec), z, z
}

// offsetZone is defLoc when its offset at inst is offset, else a fixed
// zone with no name (so appointment_tz stays empty).
func offsetZone(inst time.Time, offset int, defLoc *time.Location) *time.Location {
	if _, o := inst.In(defLoc).Zone(); o == offset {
		return defLoc
	}
	return time.FixedZone("", offset)
}

var (
	minInstant = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxInstant = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func inRange(t time.Time) bool { return !t.Before(minInstant) && t.Before(maxInstant) }

// isoTime is a parsed YYYY-MM-DD[T ]HH:MM[:SS[.f…]][Z|±HH:MM|±HHMM].
type isoTime struct {
	year, month, day, hour, min, sec, nsec int

	hasSec  bool
	hasZone bool
	offset  int // seconds east of UTC when hasZone
}

func parseISOTime(s string) (isoTime, bool) {
	var p isoTime
	if len(s) < 16 || s[4] != '-' || s[7] != '-' || s[13] != ':' ||
		!allDigits(s[0:4]) || !allDigits(s[5:7]) || !allDigits(s[8:10]) || !allDigits(s[11:13]) || !allDigits(s[14:16]) {
		return p, false
	}
	switch s[10] {
	case 'T', 't', ' ':
	default:
		return p, false
	}
	p.year, p.month, p.day = atoi(s[0:4]), atoi(s[5:7]), atoi(s[8:10])
	p.hour, p.min = atoi(s[11:13]), atoi(s[14:16])
	rest := s[16:]
	if len(rest) >= 3 && rest[0] == ':' && allDigits(rest[1:3]) {
		p.sec, p.hasSec = atoi(rest[1:3]), true
		rest = rest[3:]
		if len(rest) > 0 && rest[0] == '.' {
			i := 1
			for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
				i++
			}
			if i == 1 || i > 10 {
				return p, false
			}
			ns := atoi(rest[1:i])
			for k := i - 1; k < 9; k++ {
				ns *= 10
			}
			p.nsec, rest = ns, rest[i:]
		}
	}
	switch rest {
	case "":
	case "Z", "z":
		p.hasZone = true
	default:
		o, ok := parseOffset(rest)
		if !ok {
			return p, false
		}
		p.hasZone, p.offset = true, o
	}
	if p.month < 1 || p.month > 12 || p.day < 1 || p.day > daysIn(p.year, p.month) ||
		p.hour > 23 || p.min > 59 || p.sec > 59 {
		return p, false
	}
	return p, true
}

// parseOffset reads ±HHMM or ±HH:MM (at most ±14:59) as seconds east of UTC.
func parseOffset(s string) (int, bool) {
	if len(s) == 6 && s[3] == ':' {
		s = s[:3] + s[4:]
	}
	if len(s) != 5 || (s[0] != '+' && s[0] != '-') || !allDigits(s[1:]) {
		return 0, false
	}
	h, m := atoi(s[1:3]), atoi(s[3:5])
	if h > 14 || m > 59 {
		return 0, false
	}
	o := h*3600 + m*60
	if s[0] == '-' {
		o = -o
	}
	return o, true
}

// parseRFC3339 reads an RFC 3339 date-time (seconds and zone required) as
// a UTC instant, or returns a PHI-free message.
func parseRFC3339(s string) (time.Time, string) {
	p, ok := parseISOTime(s)
	if !ok || !p.hasSec || !p.hasZone {
		return time.Time{}, msgRFC3339
	}
	t := time.Date(p.year, time.Month(p.month), p.day, p.hour, p.min, p.sec, p.nsec, time.UTC).
		Add(-time.Duration(p.offset) * time.Second)
	if !inRange(t) {
		return time.Time{}, msgRange
	}
	return t, ""
}
