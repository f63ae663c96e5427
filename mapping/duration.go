package mapping

import (
	"strings"
	"time"
)

// maxDurationMinutes bounds a believable appointment (about 31 days).
const maxDurationMinutes = 31 * 24 * 60

// duration returns the duration in whole minutes (seconds round up) from
// the first usable source, or 0.
func (m *Mapper) duration(v *view, start time.Time, hasStart bool, zone *zone, res *Result) int {
	for i := range m.durations {
		ds := &m.durations[i]
		if ds.isEnd {
			if !hasStart {
				continue
			}
			e, _ := ds.end.first(v)
			if e == "" {
				continue
			}
			d, err := parseDTM(e)
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
		q, s := ds.qty.first(v)
		if q == "" {
			continue
		}
		unit := ""
		if ds.hasUnits {
			unit = ds.units.prim(s, v.d)
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
		if eqFold(u, w.s) {
			return w.u
		}
	}
	return unitUnknown
}
