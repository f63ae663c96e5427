package hl7

import (
	"strings"
	"unicode/utf8"
)

// Unescape decodes the escape sequences of one primitive value (HL7 v2.5.1
// §2.7). With the escape character E (usually \):
//
//	EFE ESE ETE ERE EEE   field, component, subcomponent, repetition, escape
//	EPE                   truncation character (v2.7; kept as written when
//	                      the message has none)
//	EXhhhh…E              hex bytes: UTF-8 when valid, else one ISO 8859-1
//	                      character per byte; 16-bit units with a zero high
//	                      byte (\X000d\) give the low byte
//	E.brE E.spE E.ceE     line break "\n" (.sp and .ce also end the line)
//	E.fiE E.nfE E.in nE E.ti nE E.sk nE   formatting: dropped
//	EHE ENE               highlighting on/off: dropped
//	ECxxyyE EMxxyy[zz]E   character set switches: dropped
//	EZ…E                  locally defined: dropped
//
// Anything else, such as an odd-length or non-hex \X…\ or an escape
// character with no closing partner, is kept literally: the escape
// character is then an ordinary character and decoding goes on after it.
// Epic's double escape \E\X09\E\ thus reads as the text \X09\.
func Unescape(s string, d Delimiters) string {
	d = d.orDefault()
	e := d.Escape
	if e == 0 {
		return s
	}
	i := strings.IndexByte(s, e)
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for {
		b = append(b, s[:i]...)
		s = s[i:] // s[0] == e
		j := strings.IndexByte(s[1:], e)
		if j < 0 {
			b = append(b, s...)
			break
		}
		if out, ok := appendSequence(b, s[1:1+j], d); ok {
			b = out
			s = s[j+2:]
		} else {
			b = append(b, e)
			s = s[1:]
		}
		if i = strings.IndexByte(s, e); i < 0 {
			b = append(b, s...)
			break
		}
	}
	return string(b)
}

// appendSequence appends the decoded escape sequence seq (without its
// escape characters) and reports whether seq is one it understands.
func appendSequence(b []byte, seq string, d Delimiters) ([]byte, bool) {
	if len(seq) == 1 {
		switch seq[0] {
		case 'F':
			return append(b, d.Field), true
		case 'S':
			return append(b, d.Component), true
		case 'T':
			if d.Subcomponent == 0 {
				return b, false
			}
			return append(b, d.Subcomponent), true
		case 'R':
			return append(b, d.Repetition), true
		case 'E':
			return append(b, d.Escape), true
		case 'P':
			if d.Truncation == 0 {
				return b, false
			}
			return append(b, d.Truncation), true
		case 'H', 'N':
			return b, true
		}
		return b, false
	}
	if len(seq) == 0 {
		return b, false
	}
	switch seq[0] {
	case 'X':
		return appendHex(b, seq[1:])
	case 'Z':
		return b, true
	case 'C':
		return b, len(seq) == 5 && isHex(seq[1:])
	case 'M':
		return b, (len(seq) == 5 || len(seq) == 7) && isHex(seq[1:])
	case '.':
		return appendFormat(b, seq[1:])
	}
	return b, false
}

// appendFormat handles the formatted-text commands of the FT data type.
func appendFormat(b []byte, cmd string) ([]byte, bool) {
	if len(cmd) < 2 {
		return b, false
	}
	name, arg := cmd[:2], cmd[2:]
	switch name {
	case "br", "fi", "nf", "ce":
		if arg != "" {
			return b, false
		}
	case "sp", "sk", "in", "ti":
		if !validFormatArg(arg) {
			return b, false
		}
	default:
		return b, false
	}
	switch name {
	case "br", "sp", "ce":
		return append(b, '\n'), true
	}
	return b, true
}

// validFormatArg accepts "", "n", " n", "+n", " -n".
func validFormatArg(s string) bool {
	s = strings.TrimPrefix(s, " ")
	if s == "" {
		return true
	}
	if s[0] == '+' || s[0] == '-' {
		s = s[1:]
	}
	if s == "" || len(s) > 4 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// appendHex decodes the hex digits of a \X…\ sequence.
func appendHex(b []byte, h string) ([]byte, bool) {
	if len(h) == 0 || len(h)%2 != 0 || !isHex(h) {
		return b, false
	}
	n := len(h) / 2
	var tmp [64]byte
	raw := tmp[:0]
	if n > len(tmp) {
		raw = make([]byte, 0, n)
	}
	for i := 0; i < len(h); i += 2 {
		raw = append(raw, unhex(h[i])<<4|unhex(h[i+1]))
	}
	if len(raw)%2 == 0 && wideLatin1(raw) {
		for i := 1; i < len(raw); i += 2 {
			b = utf8.AppendRune(b, rune(raw[i]))
		}
		return b, true
	}
	if utf8.Valid(raw) {
		return append(b, raw...), true
	}
	for _, c := range raw {
		b = utf8.AppendRune(b, rune(c))
	}
	return b, true
}

// wideLatin1 reports whether raw looks like 16-bit big-endian units whose
// high bytes are all zero (a lab's "\X000d\").
func wideLatin1(raw []byte) bool {
	for i := 0; i < len(raw); i += 2 {
		if raw[i] != 0 || raw[i+1] == 0 {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// Escape encodes a plain value so that it can be written into a field:
// delimiters become \F\ \S\ \T\ \R\ \E\ (\P\ for the truncation
// character), "\n" becomes \.br\ and "\r" \X0D\. Unescape(Escape(s, d), d)
// == s for every s. A message without an escape character (MSH-2 of two
// characters) cannot carry delimiters in its values: they are replaced by
// spaces.
func Escape(s string, d Delimiters) string {
	d = d.orDefault()
	for i := 0; i < len(s); i++ {
		if c := s[i]; d.isDelim(c) || c == '\n' || c == '\r' {
			return string(appendEscaped(make([]byte, 0, len(s)+16), s, d))
		}
	}
	return s
}

// appendEscaped appends Escape(s, d) to b; d must not be the zero value.
func appendEscaped(b []byte, s string, d Delimiters) []byte {
	if d.Escape == 0 {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if d.isDelim(c) || c == '\r' || c == '\n' {
				c = ' '
			}
			b = append(b, c)
		}
		return b
	}
	for i := 0; i < len(s); i++ {
		var code string
		switch c := s[i]; {
		case c == d.Field:
			code = "F"
		case c == d.Component:
			code = "S"
		case d.Subcomponent != 0 && c == d.Subcomponent:
			code = "T"
		case c == d.Repetition:
			code = "R"
		case c == d.Escape:
			code = "E"
		case d.Truncation != 0 && c == d.Truncation:
			code = "P"
		case c == '\n':
			code = ".br"
			if d.isDelim('.') {
				code = "X0A" // a '.' delimiter would split \.br\
			}
		case c == '\r':
			code = "X0D"
		default:
			b = append(b, c)
			continue
		}
		b = append(b, d.Escape)
		b = append(b, code...)
		b = append(b, d.Escape)
	}
	return b
}
