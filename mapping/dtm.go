package mapping

import (
	"errors"
	"time"
)

// errBadDTM is returned by parseDTM; it carries no part of the value.
var errBadDTM = errors.New("not an HL7 DTM value")

// dtm is a parsed HL7 DTM/TS value.
type dtm struct {
	year, month, day, hour, min, sec, nsec int

	digits    int  // date/time digits before any fraction: 4, 6, 8, 10, 12 or 14
	hasOffset bool // an explicit ±ZZZZ was present
	offset    int  // seconds east of UTC when hasOffset
}

// parseDTM parses YYYY[MM[DD[HH[MM[SS[.S…]]]]]][+/-ZZZZ]. Surrounding
// spaces are trimmed. Epic's 16-digit form (YYYYMMDDHHMMSS followed by two
// digits) is read as hundredths of a second. It never allocates.
func parseDTM(s string) (dtm, error) {
	var d dtm
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	// Split off the offset: the first '+' or '-'.
	main, off := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '+' || s[i] == '-' {
			main, off = s[:i], s[i:]
			break
		}
	}
	frac := ""
	for i := 0; i < len(main); i++ {
		if main[i] == '.' {
			main, frac = main[:i], main[i+1:]
			if frac == "" {
				return d, errBadDTM
			}
			break
		}
	}
	if !allDigits(main) {
		return d, errBadDTM
	}
	switch len(main) {
	case 4, 6, 8, 10, 12, 14:
	case 16: // Epic: 14 digits + hundredths without the dot
		if frac != "" {
			return d, errBadDTM
		}
		main, frac = main[:14], main[14:]
	default:
		return d, errBadDTM
	}
	if frac != "" && (len(main) != 14 || len(frac) > 9 || !allDigits(frac)) {
		return d, errBadDTM
	}
	d.digits = len(main)
	d.year = atoi(main[0:4])
	d.month, d.day = 1, 1
	if len(main) >= 6 {
		d.month = atoi(main[4:6])
	}
	if len(main) >= 8 {
		d.day = atoi(main[6:8])
	}
	if len(main) >= 10 {
		d.hour = atoi(main[8:10])
	}
	if len(main) >= 12 {
		d.min = atoi(main[10:12])
	}
	if len(main) >= 14 {
		d.sec = atoi(main[12:14])
	}
	if frac != "" {
		ns := atoi(frac)
		for i := len(frac); i < 9; i++ {
			ns *= 10
		}
		d.nsec = ns
	}
	if d.year < 1000 || d.month < 1 || d.month > 12 || d.day < 1 || d.day > daysIn(d.year, d.month) ||
		d.hour > 23 || d.min > 59 || d.sec > 59 {
		return d, errBadDTM
	}
	if off != "" {
		if len(off) != 5 || !allDigits(off[1:]) {
			return d, errBadDTM
		}
		h, m := atoi(off[1:3]), atoi(off[3:5])
		if h > 14 || m > 59 {
			return d, errBadDTM
		}
		d.hasOffset = true
		d.offset = h*3600 + m*60
		if off[0] == '-' {
			d.offset = -d.offset
		}
	}
	return d, nil
}

// instant returns the instant d names: with an explicit offset that offset
// fixes it; otherwise d is a wall-clock time in z (see zone.wall).
func (d dtm) instant(z *zone) time.Time {
	if d.hasOffset {
		w := time.Date(d.year, time.Month(d.month), d.day, d.hour, d.min, d.sec, d.nsec, time.UTC)
		return w.Add(-time.Duration(d.offset) * time.Second)
	}
	return z.wall(d.year, d.month, d.day, d.hour, d.min, d.sec, d.nsec)
}

// ParseDTM parses an HL7 DTM/TS value (see the package documentation for
// the accepted forms). Values without an explicit offset are wall-clock
// times in loc. The returned time is in UTC.
func ParseDTM(s string, loc *time.Location) (time.Time, error) {
	d, err := parseDTM(s)
	if err != nil {
		return time.Time{}, err
	}
	if loc == nil {
		loc = time.UTC
	}
	z := zone{loc: loc} // no table: plain time.Location lookups
	return d.instant(&z).UTC(), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

// atoi converts a short all-digit string (checked by the caller).
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
