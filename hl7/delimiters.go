package hl7

// Delimiters are a message's encoding characters, taken from MSH-1 and MSH-2.
// Truncation is the v2.7 truncation character (0 when absent). The zero
// Delimiters stands for DefaultDelimiters wherever a function takes one.
type Delimiters struct {
	Field        byte
	Component    byte
	Repetition   byte
	Escape       byte
	Subcomponent byte
	Truncation   byte
}

// DefaultDelimiters are |^~\& (no truncation character).
var DefaultDelimiters = Delimiters{Field: '|', Component: '^', Repetition: '~', Escape: '\\', Subcomponent: '&'}

// EncodingCharacters returns MSH-2 as it would be written (without MSH-1):
// component, repetition, escape, subcomponent and, when set, truncation.
func (d Delimiters) EncodingCharacters() string {
	d = d.orDefault()
	b := make([]byte, 0, 5)
	for _, c := range [...]byte{d.Component, d.Repetition, d.Escape, d.Subcomponent, d.Truncation} {
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

// orDefault returns DefaultDelimiters for the zero value.
func (d Delimiters) orDefault() Delimiters {
	if d.Field == 0 {
		return DefaultDelimiters
	}
	return d
}

// isDelim reports whether c is one of the message's delimiter characters.
func (d Delimiters) isDelim(c byte) bool {
	return c == d.Field || c == d.Component || c == d.Repetition ||
		(d.Escape != 0 && c == d.Escape) || (d.Subcomponent != 0 && c == d.Subcomponent) ||
		(d.Truncation != 0 && c == d.Truncation)
}

// parseDelimiters reads MSH-1 and MSH-2 from data, which starts with "MSH".
// MSH-2 may hold 2 to 5 characters (v2.7 adds the truncation character);
// all must be distinct printable ASCII punctuation.
func parseDelimiters(data []byte) (Delimiters, error) {
	var d Delimiters
	if len(data) < 4 || !validDelim(data[3]) {
		return d, &ParseError{SegmentName: "MSH", Segment: 1, Field: 1, Offset: 3, Err: ErrBadDelimiters}
	}
	fs := data[3]
	d.Field = fs
	var enc [5]byte
	n := 0
	for i := 4; i < len(data) && data[i] != fs && data[i] != '\r' && data[i] != '\n'; i++ {
		if n == len(enc) {
			return d, &ParseError{SegmentName: "MSH", Segment: 1, Field: 2, Offset: i, Err: ErrBadDelimiters}
		}
		c := data[i]
		if !validDelim(c) || c == fs {
			return d, &ParseError{SegmentName: "MSH", Segment: 1, Field: 2, Offset: i, Err: ErrBadDelimiters}
		}
		for _, p := range enc[:n] {
			if p == c {
				return d, &ParseError{SegmentName: "MSH", Segment: 1, Field: 2, Offset: i, Err: ErrBadDelimiters}
			}
		}
		enc[n] = c
		n++
	}
	if n < 2 {
		return d, &ParseError{SegmentName: "MSH", Segment: 1, Field: 2, Offset: 4, Err: ErrBadDelimiters}
	}
	d.Component, d.Repetition, d.Escape, d.Subcomponent, d.Truncation = enc[0], enc[1], enc[2], enc[3], enc[4]
	return d, nil
}

// validDelim: printable ASCII punctuation only (no letters, digits, space).
func validDelim(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	return !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z')
}
