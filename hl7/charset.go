package hl7

import (
	"bytes"
	"unicode/utf8"
)

// charset is how a message's bytes are turned into text.
type charset uint8

const (
	csAuto    charset = iota // UTF-8 when valid, else ISO 8859-1 (MSH-18 empty or ASCII)
	csUTF8                   // UTF-8; each run of invalid bytes becomes U+FFFD
	csLatin1                 // ISO 8859-1, read as its Windows-1252 superset
	csUnknown                // not supported
)

// lookupCharset maps an MSH-18 value (table 0211, plus common spellings)
// to a charset. Case, spaces and punctuation are ignored.
func lookupCharset(name string) charset {
	switch name {
	case "":
		return csAuto
	case "UNICODE UTF-8":
		return csUTF8
	case "8859/1":
		return csLatin1
	case "ASCII":
		return csAuto
	}
	var buf [16]byte
	n := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
		default:
			continue
		}
		if n == len(buf) {
			return csUnknown
		}
		buf[n] = c
		n++
	}
	switch string(buf[:n]) {
	case "", "ascii", "usascii", "isoir6":
		return csAuto
	case "unicodeutf8", "utf8", "unicode":
		return csUTF8
	case "88591", "iso88591", "latin1", "isoir100":
		return csLatin1
	}
	return csUnknown
}

// charsetName returns the first repetition of an MSH-18 value, trimmed.
func charsetName(v string, rep byte) string {
	for i := 0; i < len(v); i++ {
		if v[i] == rep {
			v = v[:i]
			break
		}
	}
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// charsetOf returns how to read a message whose MSH-18 is name (def when
// name is empty).
func charsetOf(name, def string) charset {
	if name != "" {
		return lookupCharset(name)
	}
	if k := lookupCharset(def); k != csUTF8 {
		return k
	}
	return csAuto // only an explicit MSH-18 makes invalid bytes U+FFFD
}

// recode returns data as UTF-8 text read with charset k, whether it was
// read as ISO 8859-1, and whether the text differs from text, which is
// string(data), already made by the caller.
func recode(text string, data []byte, k charset) (string, bool, bool) {
	switch k {
	case csLatin1:
		if isASCII(data) {
			return text, true, false
		}
		return latin1ToUTF8(data), true, true
	case csUTF8:
		if utf8.ValidString(text) {
			return text, false, false
		}
		return string(bytes.ToValidUTF8(data, []byte("\uFFFD"))), false, true
	default: // csAuto
		if utf8.ValidString(text) {
			return text, false, false
		}
		return latin1ToUTF8(data), true, true
	}
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// cp1252 holds the Windows-1252 characters for bytes 0x80–0x9F. Text
// labelled ISO 8859-1 is read as Windows-1252, as the WHATWG Encoding
// Standard does for the labels "iso-8859-1" and "latin1": real senders
// mean it (curly quotes, €). Undefined bytes map to the C1 control.
var cp1252 = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}

func latin1ToUTF8(b []byte) string {
	i := 0
	for i < len(b) && b[i] < 0x80 {
		i++
	}
	if i == len(b) {
		return string(b)
	}
	out := make([]byte, i, len(b)+len(b)/4+8)
	copy(out, b[:i])
	for _, c := range b[i:] {
		switch {
		case c < 0x80:
			out = append(out, c)
		case c < 0xA0:
			out = utf8.AppendRune(out, cp1252[c-0x80])
		default:
			out = utf8.AppendRune(out, rune(c))
		}
	}
	return string(out)
}

// appendLatin1 appends s (UTF-8) encoded as Windows-1252/ISO 8859-1; it is
// the inverse of latin1ToUTF8. Characters without a byte become '?'.
func appendLatin1(dst []byte, s string) []byte {
	for _, r := range s {
		switch {
		case r < 0x80 || r >= 0xA0 && r <= 0xFF:
			dst = append(dst, byte(r))
		default:
			c := byte('?')
			for i, x := range cp1252 {
				if x == r {
					c = byte(0x80 + i)
					break
				}
			}
			dst = append(dst, c)
		}
	}
	return dst
}
