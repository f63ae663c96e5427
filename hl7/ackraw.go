package hl7

import (
	"bytes"
	"unicode/utf8"
)

// maxSalvage caps each header field BuildAckRaw copies (MSH-10 is at most
// 199 characters in v2.7).
const maxSalvage = 199

// BuildAckRaw returns an ACK for bytes that may not parse (no MSH, bad
// delimiters, unknown character set, bad segments). When data parses, it is
// BuildAck. Otherwise it salvages what it can from the first MSH line
// (found even after junk): its delimiters when MSH-1/MSH-2 are valid (else
// DefaultDelimiters, splitting on MSH-1 or '|'), MSH-3..6, MSH-9 trigger,
// MSH-10, MSH-11, MSH-12, MSH-15/16 (mode) and MSH-18 when it names a
// supported character set. Copied fields lose control characters and are
// cut to 199 bytes. Since such a message can only be answered at the
// accept level, o.Code is always mapped to the salvaged mode's family
// (AE becomes CE in enhanced mode); "" means Error. It always returns a
// valid ACK ending in \r.
func BuildAckRaw(data []byte, o AckOptions) []byte {
	if m, err := Parse(data); err == nil {
		if o.Code == "" {
			o.Code = Error
		}
		o.Code = AckMode(m).Code(o.Code)
		return BuildAck(m, o)
	}
	h, d := salvageHeader(data)
	if o.Code == "" {
		o.Code = Error
	}
	o.Code = h.mode.Code(o.Code)
	return buildAck(d, h, o)
}

// salvageHeader reads what it can of the first MSH line of data.
func salvageHeader(data []byte) (ackHeader, Delimiters) {
	var h ackHeader
	d := DefaultDelimiters
	i := bytes.Index(data, []byte("MSH"))
	if i < 0 {
		return h, d
	}
	line := data[i:]
	if j := bytes.IndexAny(line, "\r\n"); j >= 0 {
		line = line[:j]
	}
	fs := byte('|')
	if len(line) > 3 && validDelim(line[3]) {
		fs = line[3]
	}
	good := false
	if pd, err := parseDelimiters(line); err == nil {
		d, good = pd, true
	}
	// Fields by number: MSH-1 is the separator, MSH-2 starts at 4.
	var f [19][]byte
	if len(line) > 4 {
		n := 2
		for _, part := range bytes.Split(line[4:], []byte{fs}) {
			if n >= len(f) {
				break
			}
			f[n] = part
			n++
		}
	}
	// Character set: MSH-18 when supported; else UTF-8 when valid, else
	// ISO 8859-1 (as Parse does).
	cs := charsetName(string(f[18]), d.Repetition)
	k := lookupCharset(cs)
	if k == csUnknown {
		cs, k = "", csAuto
	}
	h.charset = cs
	h.latin1 = k == csLatin1 || k == csAuto && !utf8.Valid(line)
	text := func(b []byte) string { return salvageText(b, d, good, h.latin1) }
	h.recvApp, h.recvFac = text(f[3]), text(f[4])
	h.sendApp, h.sendFac = text(f[5]), text(f[6])
	h.controlID = text(f[10])
	h.processing = text(f[11])
	h.version = text(f[12])
	h.trigger = Unescape(nth(nth(text(f[9]), d.Repetition, 1), d.Component, 2), d)
	h.mode = ackMode(Unescape(nth(text(f[15]), d.Component, 1), d), Unescape(nth(text(f[16]), d.Component, 1), d))
	return h, d
}

// salvageText makes a raw header field safe to copy into an ACK written
// with d: control characters go, the length is capped, the bytes are read
// as ISO 8859-1 when latin1 (else invalid UTF-8 is dropped), and when d are
// not the message's own delimiters, d's field separator is escaped.
func salvageText(b []byte, d Delimiters, own, latin1 bool) string {
	if len(b) > maxSalvage {
		b = b[:maxSalvage]
	}
	out := make([]byte, 0, len(b))
	for _, c := range b {
		switch {
		case c < 0x20 || c == 0x7f:
		case !own && c == d.Field:
			out = append(out, `\F\`...) // d is DefaultDelimiters here
		case c >= 0x80 && latin1:
			out = append(out, latin1ToUTF8([]byte{c})...)
		default:
			out = append(out, c)
		}
	}
	if !latin1 && !utf8.Valid(out) {
		out = bytes.ToValidUTF8(out, nil)
	}
	return string(out)
}
