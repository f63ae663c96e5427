package hl7

import (
	"math"
	"strings"
)

// ParseOptions tune Parse for one interface.
type ParseOptions struct {
	// DefaultCharset is used when MSH-18 is empty: "" or "UNICODE UTF-8"
	// (the default), "ASCII" or "8859/1" (any name MSH-18 may hold). An
	// unsupported name makes every message without MSH-18 fail with
	// ErrCharset.
	DefaultCharset string
}

// Parse parses one ER7-encoded message with default options.
func Parse(data []byte) (*Message, error) { return ParseWith(data, ParseOptions{}) }

// ParseWith parses one ER7-encoded message. Segments end in \r; \r\n is
// accepted, and a message without any \r is split on \n. The delimiters come
// from MSH-1 and MSH-2; the character set from MSH-18 (else
// opts.DefaultCharset). Errors are *ParseError values wrapping one of the
// package's sentinel errors. The input is copied; the caller may reuse it.
func ParseWith(data []byte, opts ParseOptions) (*Message, error) {
	data, off := trimMessage(data)
	if len(data) == 0 {
		return nil, &ParseError{Err: ErrEmpty}
	}
	if uint64(len(data)) > math.MaxUint32 { // field offsets are uint32
		return nil, &ParseError{Err: ErrTooLarge}
	}
	if len(data) < 3 || string(data[:3]) != "MSH" {
		return nil, &ParseError{Segment: 1, Offset: off, Err: ErrNoMSH}
	}
	d, err := parseDelimiters(data)
	if err != nil {
		err.(*ParseError).Offset += off
		return nil, err
	}
	// Split first, assuming UTF-8: MSH-18 is then at hand, and the work is
	// redone only when the text must be converted (delimiters and segment
	// names are ASCII, so the structure is the same either way).
	raw := string(data)
	m := &Message{Delims: d, text: raw}
	if err := m.split(); err != nil {
		err.(*ParseError).Offset += off
		return nil, err
	}
	msh := &m.segments[0]
	m.Charset = charsetName(msh.Field(18), d.Repetition)
	k := charsetOf(m.Charset, opts.DefaultCharset)
	if k == csUnknown {
		o, _ := msh.bounds(18)
		return nil, &ParseError{SegmentName: "MSH", Segment: 1, Field: 18, Offset: off + o, Err: ErrCharset}
	}
	if m.ascii {
		m.latin1 = k == csLatin1
	} else if text, latin1, changed := recode(raw, data, k); changed {
		m = &Message{Delims: d, text: text, latin1: latin1}
		if err := m.split(); err != nil {
			err.(*ParseError).Offset += off
			return nil, err
		}
		m.Charset = charsetName(m.segments[0].Field(18), d.Repetition)
	} else {
		m.latin1 = latin1
	}
	return m, nil
}

// trimMessage drops UTF-8 byte order marks, MLLP block characters (0x0B
// in front, 0x1C at the end) and surrounding whitespace and NULs. It
// returns the rest and how many bytes were dropped in front.
func trimMessage(b []byte) ([]byte, int) {
	rest := trimFront(b)
	off := len(b) - len(rest)
	for len(rest) > 0 && (isTrimByte(rest[len(rest)-1]) || rest[len(rest)-1] == 0x1C) {
		rest = rest[:len(rest)-1]
	}
	return rest, off
}

func trimFront(b []byte) []byte {
	for len(b) > 0 {
		switch {
		case isTrimByte(b[0]) || b[0] == 0x0B:
			b = b[1:]
		case len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF:
			b = b[3:]
		default:
			return b
		}
	}
	return b
}

func isTrimByte(c byte) bool {
	return c == '\r' || c == '\n' || c == ' ' || c == '\t' || c == 0
}

// split cuts m.text into segments and fields. Fields are recorded as end
// offsets in one shared slice, so a message costs a fixed number of
// allocations however many fields it has.
func (m *Message) split() error {
	if len(m.text) < 1<<16 {
		return splitText(m, &m.ends16)
	}
	return splitText(m, &m.ends32)
}

func splitText[T uint16 | uint32](m *Message, out *[]T) error {
	text := m.text
	sep := byte('\r')
	if strings.IndexByte(text, '\r') < 0 {
		sep = '\n'
	}
	fs := m.Delims.Field
	nseg := strings.Count(text, string(sep)) + 1
	ends := make([]T, 0, strings.Count(text, string(fs))+nseg)
	if nseg <= len(m.segbuf) {
		m.segments = m.segbuf[:0:nseg]
	} else {
		m.segments = make([]Segment, 0, nseg)
	}
	canon := sep == '\r'
	// ASCII so far: the scanned field text, plus segment names and
	// terminators, which are ASCII by construction; a line with \n
	// stripped or a blank line only holds ASCII whitespace.
	ascii := true
	for pos := 0; pos < len(text); {
		start, end := pos, len(text)
		if j := strings.IndexByte(text[pos:], sep); j >= 0 {
			end = pos + j
			pos = end + 1
		} else {
			pos = end
		}
		if sep == '\r' {
			// \r\n (and stray \n next to \r) belong to the terminator; a
			// lone \n inside a segment stays in its field.
			for start < end && text[start] == '\n' {
				start++
				canon = false
			}
			for end > start && text[end-1] == '\n' {
				end--
				canon = false
			}
		}
		line := text[start:end]
		if isBlank(line) {
			canon = false
			continue
		}
		idx := len(m.segments) + 1
		if len(line) < 3 || !validName(line[:3]) || (len(line) > 3 && line[3] != fs) {
			return &ParseError{Segment: idx, Offset: start, Err: ErrBadSegmentName}
		}
		name := line[:3]
		if name == "MSH" && idx > 1 {
			return &ParseError{SegmentName: name, Segment: idx, Offset: start, Err: ErrMultipleMessages}
		}
		e0 := len(ends)
		ends = append(ends, 3)
		if len(line) > 3 {
			var a bool
			ends, a = appendFieldEnds(ends, line, 4, fs)
			ascii = ascii && a
		}
		m.segments = append(m.segments, Segment{
			Name:  name,
			raw:   line,
			m:     m,
			e0:    uint32(e0),
			nends: uint32(len(ends) - e0),
			key:   nameKey(name),
			index: int32(idx),
			msh:   name == "MSH",
		})
	}
	if len(m.segments) == 0 || m.segments[0].Name != "MSH" {
		return &ParseError{Segment: 1, Err: ErrNoMSH}
	}
	*out = ends
	m.canon = canon
	m.ascii = ascii
	return nil
}

func isBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isTrimByte(s[i]) {
			return false
		}
	}
	return true
}

func validName(n string) bool {
	for i := 0; i < 3; i++ {
		c := n[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
