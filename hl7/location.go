package hl7

import "strconv"

// Location addresses a value: segment name, field, repetition, component,
// subcomponent (1-based; 0 = whole).
type Location struct {
	Segment string
	Field   int
	Rep     int
	Comp    int
	Sub     int
}

// String formats the location as SEG-F[R].C.S (parts that are 0 omitted).
func (l Location) String() string {
	b := make([]byte, 0, 24)
	b = append(b, l.Segment...)
	if l.Field > 0 {
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(l.Field), 10)
		if l.Rep > 1 {
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(l.Rep), 10)
			b = append(b, ']')
		}
		if l.Comp > 0 {
			b = append(b, '.')
			b = strconv.AppendInt(b, int64(l.Comp), 10)
			if l.Sub > 0 {
				b = append(b, '.')
				b = strconv.AppendInt(b, int64(l.Sub), 10)
			}
		}
	}
	return string(b)
}

// ParseLocation parses "SEG-F[R].C.S"; "SEG-F", "SEG-F.C" and "SEG" also
// work. Numbers are positive decimals. Errors wrap ErrBadSegmentName.
func ParseLocation(s string) (Location, error) {
	l, ok := parseLocation(s)
	if !ok {
		name := ""
		if len(s) >= 3 && validName(s[:3]) {
			name = s[:3]
		}
		return l, &ParseError{SegmentName: name, Err: ErrBadSegmentName}
	}
	return l, nil
}

// parseLocation is ParseLocation without the error allocation; Get uses it
// on every call.
func parseLocation(s string) (Location, bool) {
	var l Location
	if len(s) < 3 || !validName(s[:3]) {
		return Location{}, false
	}
	l.Segment = s[:3]
	if len(s) == 3 {
		return l, true
	}
	if s[3] != '-' {
		return Location{}, false
	}
	i := 4
	var ok bool
	if l.Field, i, ok = locNum(s, i); !ok {
		return Location{}, false
	}
	if i < len(s) && s[i] == '[' {
		if l.Rep, i, ok = locNum(s, i+1); !ok || i >= len(s) || s[i] != ']' {
			return Location{}, false
		}
		i++
	}
	if i < len(s) && s[i] == '.' {
		if l.Comp, i, ok = locNum(s, i+1); !ok {
			return Location{}, false
		}
		if i < len(s) && s[i] == '.' {
			if l.Sub, i, ok = locNum(s, i+1); !ok {
				return Location{}, false
			}
		}
	}
	if i != len(s) {
		return Location{}, false
	}
	return l, true
}

// locNum reads a positive decimal (at most 6 digits) at s[i:].
func locNum(s string, i int) (n, next int, ok bool) {
	j := i
	for j < len(s) && j-i < 7 && s[j] >= '0' && s[j] <= '9' {
		n = n*10 + int(s[j]-'0')
		j++
	}
	if j == i || j-i > 6 || n == 0 {
		return 0, j, false
	}
	return n, j, true
}
