package hl7

import "strings"

// Message is a parsed HL7 v2 message in ER7 (pipe) encoding. Parsing is
// lazy: fields are kept as substrings of one decoded copy of the input, and
// components, repetitions and subcomponents are split only when asked for.
// Values returned by Value/Get are unescaped; Field returns raw ER7 text.
// A Message is immutable and safe for concurrent reads.
type Message struct {
	Delims   Delimiters
	Charset  string // MSH-18 as sent ("" when absent)
	text     string // decoded (UTF-8) message text, trimmed
	segments []Segment
	// Field offsets of all segments, in one slice: ends16 when the text is
	// shorter than 64 KiB (nearly always), else ends32. See Segment.e0.
	ends16 []uint16
	ends32 []uint32
	latin1 bool        // text was read as ISO 8859-1; Encode writes it back so
	canon  bool        // text is exactly the segments joined by \r
	ascii  bool        // text is all ASCII (set by split)
	segbuf [16]Segment // backs segments for typical messages (one allocation less)
}

// Segment is one segment. For MSH, field 1 is the field separator and field
// 2 the encoding characters, as in the standard's numbering.
type Segment struct {
	Name string
	raw  string   // the whole segment, without terminator
	m    *Message // delimiters and field offsets
	// The message's ends[e0+k] is the offset in raw where field k ends
	// (k = 0: the name; k < nends); field k starts one byte after the end of
	// field k-1. For MSH, ends[e0+k] ends MSH-(k+1).
	e0, nends uint32
	key       uint32 // Name packed for fast lookup
	index     int32  // 1-based position in the message
	msh       bool   // Name == "MSH": field numbers shift by one
}

// nameKey packs a three-byte segment name.
func nameKey(n string) uint32 {
	if len(n) != 3 {
		return 0
	}
	return uint32(n[0]) | uint32(n[1])<<8 | uint32(n[2])<<16
}

// Segments returns all segments in order.
func (m *Message) Segments() []Segment { return m.segments }

// Segment returns the first segment with the given name, or nil.
func (m *Message) Segment(name string) *Segment {
	k := nameKey(name)
	for i := range m.segments {
		if m.segments[i].key == k {
			return &m.segments[i]
		}
	}
	return nil
}

// All returns every segment with the given name, in order.
func (m *Message) All(name string) []*Segment {
	k := nameKey(name)
	var out []*Segment
	for i := range m.segments {
		if m.segments[i].key == k {
			out = append(out, &m.segments[i])
		}
	}
	return out
}

// Get returns the unescaped value at a location such as "PID-3",
// "SCH-11.4", "PID-13[2].3" (repetition 2) or "AIP-3.1.2", taken from the
// first segment with that name. It returns "" when absent or malformed.
func (m *Message) Get(loc string) string {
	l, ok := parseLocation(loc)
	if !ok {
		return ""
	}
	s := m.Segment(l.Segment)
	if s == nil {
		return ""
	}
	return s.Value(l.Field, l.Rep, l.Comp, l.Sub)
}

// String returns the message text (UTF-8) with \r segment terminators and
// no final terminator.
func (m *Message) String() string {
	if m.canon {
		return m.text
	}
	var b strings.Builder
	for i := range m.segments {
		if i > 0 {
			b.WriteByte('\r')
		}
		b.WriteString(m.segments[i].raw)
	}
	return b.String()
}

// ControlID returns MSH-10.
func (m *Message) ControlID() string { return m.Get("MSH-10") }

// Version returns MSH-12.1.
func (m *Message) Version() string { return m.Get("MSH-12.1") }

// Type returns MSH-9's message code, trigger event and structure.
func (m *Message) Type() (code, trigger, structure string) {
	msh := m.Segment("MSH")
	if msh == nil {
		return "", "", ""
	}
	return msh.Value(9, 1, 1, 0), msh.Value(9, 1, 2, 0), msh.Value(9, 1, 3, 0)
}

// Index is the segment's 1-based position in the message.
func (s *Segment) Index() int { return int(s.index) }

// Raw returns the segment's ER7 text without terminator.
func (s *Segment) Raw() string { return s.raw }

// NumFields returns the highest field number present.
func (s *Segment) NumFields() int {
	if s.nends == 0 {
		return 0
	}
	if s.msh {
		return int(s.nends)
	}
	return int(s.nends) - 1
}

// Field returns the raw (still escaped) ER7 text of field n (1-based), or "".
func (s *Segment) Field(n int) string {
	start, end := s.bounds(n)
	return s.raw[start:end]
}

// bounds returns where field n lies in raw (an empty range when absent).
func (s *Segment) bounds(n int) (start, end int) {
	if s.msh {
		if n == 1 {
			return 3, 4
		}
		n--
	}
	if n <= 0 || n >= int(s.nends) {
		return 0, 0
	}
	i := int(s.e0) + n
	if e := s.m.ends16; e != nil {
		return int(e[i-1]) + 1, int(e[i])
	}
	e := s.m.ends32
	return int(e[i-1]) + 1, int(e[i])
}

// Reps returns the number of repetitions of field n (0 when empty).
func (s *Segment) Reps(n int) int {
	f := s.Field(n)
	if f == "" {
		return 0
	}
	if s.msh && n <= 2 {
		return 1
	}
	return strings.Count(f, string(s.m.Delims.Repetition)) + 1
}

// Value returns the unescaped value of field, repetition, component and
// subcomponent (all 1-based; rep 0 means 1; comp 0 means the whole
// repetition; sub 0 means the whole component). Missing parts give "".
// With comp 0 or sub 0 the returned text keeps its inner delimiters.
// MSH-1 and MSH-2 are returned as written.
func (s *Segment) Value(field, rep, comp, sub int) string {
	f := s.Field(field)
	if f == "" {
		return ""
	}
	if s.msh && field <= 2 {
		return f
	}
	d := &s.m.Delims
	if rep <= 0 {
		rep = 1
	}
	v := nth(f, d.Repetition, rep)
	if comp > 0 {
		v = nth(v, d.Component, comp)
		if sub > 0 && d.Subcomponent != 0 {
			v = nth(v, d.Subcomponent, sub)
		} else if sub > 1 {
			v = ""
		}
	}
	return Unescape(v, *d)
}

// nth returns the n-th (1-based) part of s split on sep, without allocating.
func nth(s string, sep byte, n int) string {
	for i := 1; ; i++ {
		j := strings.IndexByte(s, sep)
		if i == n {
			if j < 0 {
				return s
			}
			return s[:j]
		}
		if j < 0 {
			return ""
		}
		s = s[j+1:]
	}
}
