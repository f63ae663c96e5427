package hl7

import (
	"strconv"
	"strings"
	"time"
)

// AckCode is MSA-1 (HL7 table 0008).
type AckCode string

// Acknowledgment codes. AA/AE/AR answer in original mode (and are the
// application ACK in enhanced mode); CA/CE/CR are enhanced-mode accept
// ACKs. Accept, Error and Reject are mode-neutral: BuildAck turns them into
// the AA/CA, AE/CE or AR/CR of the message's Mode.
const (
	AA AckCode = "AA"
	AE AckCode = "AE"
	AR AckCode = "AR"
	CA AckCode = "CA"
	CE AckCode = "CE"
	CR AckCode = "CR"

	Accept AckCode = "A"
	Error  AckCode = "E"
	Reject AckCode = "R"
)

// Mode is the acknowledgment mode a message asks for.
type Mode int

// Acknowledgment modes.
const (
	Original Mode = iota // AA / AE / AR
	Enhanced             // CA / CE / CR accept ACK
)

func (m Mode) String() string {
	if m == Enhanced {
		return "enhanced"
	}
	return "original"
}

// Code returns c in this mode's family: in Original mode A, AA, CA give AA
// (and so on for E and R); in Enhanced mode they give CA. Unknown codes are
// returned unchanged.
func (m Mode) Code(c AckCode) AckCode {
	enh := m == Enhanced
	switch c {
	case Accept, AA, CA:
		return pick(enh, CA, AA)
	case Error, AE, CE:
		return pick(enh, CE, AE)
	case Reject, AR, CR:
		return pick(enh, CR, AR)
	}
	return c
}

func pick(cond bool, a, b AckCode) AckCode {
	if cond {
		return a
	}
	return b
}

// AckMode reports the acknowledgment mode a message asks for (HL7 v2.5.1
// §2.9 and SPEC §3): MSH-15 AL, ER or SU, or MSH-15 empty with MSH-16
// valued, is Enhanced; MSH-15 and MSH-16 both empty, or MSH-15 NE, is
// Original (a sender on MLLP still waits for one reply). Any other MSH-15
// value counts as Enhanced. A nil message is Original.
func AckMode(m *Message) Mode {
	if m == nil {
		return Original
	}
	msh := m.Segment("MSH")
	if msh == nil {
		return Original
	}
	return ackMode(msh.Value(15, 1, 1, 0), msh.Value(16, 1, 1, 0))
}

// AckModeOf is AckMode.
func AckModeOf(m *Message) Mode { return AckMode(m) }

func ackMode(accept, app string) Mode {
	accept = strings.ToUpper(strings.TrimSpace(accept))
	app = strings.TrimSpace(app)
	switch {
	case accept == "NE":
		return Original
	case accept != "":
		return Enhanced
	case app != "":
		return Enhanced
	}
	return Original
}

// AckError is one ERR segment (one ERR-1 repetition before v2.5).
type AckError struct {
	Location Location // ERR-2 (ERL); the zero Location leaves it empty
	Sequence int      // ERR-2.2: which occurrence of the segment (0 means 1)
	Code     int      // ERR-3, table 0357 (ErrorCodeText)
	Severity string   // ERR-4, table 0516: E, W or I (default E)
	Text     string   // ERR-8 user message; must not hold PHI
}

// AckOptions say what BuildAck writes.
type AckOptions struct {
	// Code is MSA-1. Accept, Error and Reject (and "") are resolved with
	// AckMode; "" means Accept without Errors and Error with them.
	Code AckCode
	// Text is MSA-3. When empty and there are Errors, the first error's
	// Text (else its table 0357 text) is used, since before v2.5 MSA-3 is
	// the only place a receiver shows it.
	Text   string
	Errors []AckError
	// Now is MSH-7, written YYYYMMDDHHMMSS±ZZZZ in Now's location; the zero
	// time means time.Now().
	Now time.Time
	// ControlID is MSH-10 of the ACK; "" means "ACK" + the original MSH-10.
	ControlID string
	// SendingApp and SendingFacility override MSH-3 and MSH-4 (plain text,
	// escaped; one component). By default they are the original MSH-5 and
	// MSH-6.
	SendingApp, SendingFacility string
}

// ackHeader is what an ACK copies from the message it answers. Fields are
// raw ER7 with the ACK's delimiters.
type ackHeader struct {
	sendApp, sendFac, recvApp, recvFac string // of the original
	trigger                            string // plain
	controlID, processing, version     string
	charset                            string
	mode                               Mode
	latin1                             bool
}

// BuildAck returns the ACK (ACK^<trigger>^ACK) answering orig, per SPEC §3
// and HL7 v2.5.1 §2.9 and §2.15: MSH swaps sender and receiver, keeps the
// original's delimiters, version (MSH-12, left out when the original has
// none), processing ID (MSH-11, default P) and character set (MSH-18, echoed
// when present; the bytes are then in that character set). MSA-2 is the
// original MSH-10 exactly as sent. Errors are written as ERR-2/3/4/8 from
// v2.5 on, as ERR-1 repetitions of one ERR segment for v2.1–2.4, and both
// ways when MSH-12 is missing or unreadable. The output ends in \r and
// depends only on orig and o. A nil orig gives BuildAckRaw(nil, o).
func BuildAck(orig *Message, o AckOptions) []byte {
	if orig == nil {
		return BuildAckRaw(nil, o)
	}
	msh := orig.Segment("MSH")
	if msh == nil {
		return BuildAckRaw(nil, o)
	}
	h := ackHeader{
		recvApp:    msh.Field(3),
		recvFac:    msh.Field(4),
		sendApp:    msh.Field(5),
		sendFac:    msh.Field(6),
		trigger:    msh.Value(9, 1, 2, 0),
		controlID:  msh.Field(10),
		processing: msh.Field(11),
		version:    msh.Field(12),
		charset:    msh.Field(18),
		mode:       AckMode(orig),
		latin1:     orig.latin1,
	}
	if o.Code == "" || o.Code == Accept || o.Code == Error || o.Code == Reject {
		o.Code = h.mode.Code(defaultCode(o))
	}
	return buildAck(orig.Delims, h, o)
}

func defaultCode(o AckOptions) AckCode {
	if o.Code != "" {
		return o.Code
	}
	if len(o.Errors) > 0 {
		return Error
	}
	return Accept
}

func buildAck(d Delimiters, h ackHeader, o AckOptions) []byte {
	b := NewBuilder(d)
	d = b.d
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	sendApp, sendFac := Raw(h.sendApp), Raw(h.sendFac)
	if o.SendingApp != "" {
		sendApp = Fld(o.SendingApp)
	}
	if o.SendingFacility != "" {
		sendFac = Fld(o.SendingFacility)
	}
	typ := Fld("ACK")
	if h.trigger != "" {
		typ = Fld("ACK", h.trigger, "ACK")
	}
	cid := Fld(o.ControlID)
	if o.ControlID == "" {
		cid = Raw("ACK" + h.controlID)
	}
	proc := Raw(h.processing)
	if strings.TrimSpace(h.processing) == "" {
		proc = Fld("P")
	}
	b.Segment("MSH", sendApp, sendFac, Raw(h.recvApp), Raw(h.recvFac),
		Fld(now.Format("20060102150405-0700")), Fld(), typ, cid, proc, Raw(h.version),
		Fld(), Fld(), Fld(), Fld(), Fld(), Raw(h.charset))
	b.latin1 = b.latin1 || h.latin1

	text := o.Text
	if text == "" && len(o.Errors) > 0 {
		text = o.Errors[0].Text
		if text == "" {
			text = ErrorCodeText(o.Errors[0].Code)
		}
	}
	b.Segment("MSA", Fld(string(o.Code)), Raw(h.controlID), Fld(text))

	v25, known := versionAtLeast(h.version, d, 2, 5)
	switch {
	case !known:
		for _, e := range o.Errors {
			b.Segment("ERR", e.eld(), e.erl(), e.cwe(), Fld(e.severity()), Fld(), Fld(), Fld(), Fld(e.Text))
		}
	case v25:
		for _, e := range o.Errors {
			b.Segment("ERR", Fld(), e.erl(), e.cwe(), Fld(e.severity()), Fld(), Fld(), Fld(), Fld(e.Text))
		}
	case len(o.Errors) > 0:
		// Up to v2.4 an ACK holds at most one ERR, with repeating ERR-1.
		reps := make([]Field, len(o.Errors))
		for i, e := range o.Errors {
			reps[i] = e.eld()
		}
		b.Segment("ERR", Reps(reps...))
	}
	return b.Bytes()
}

func (e *AckError) seq() string {
	if e.Location.Segment == "" {
		return ""
	}
	if e.Sequence > 0 {
		return strconv.Itoa(e.Sequence)
	}
	return "1"
}

func (e *AckError) severity() string {
	if e.Severity == "" {
		return "E"
	}
	return e.Severity
}

func itoa0(n int) string {
	if n <= 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// erl is ERR-2: segment^sequence^field^repetition^component^subcomponent.
func (e *AckError) erl() Field {
	l := e.Location
	if l.Segment == "" {
		return Fld()
	}
	rep := ""
	if l.Field > 0 {
		rep = strconv.Itoa(max(l.Rep, 1))
	}
	sub := ""
	if l.Comp > 0 {
		sub = itoa0(l.Sub)
	}
	return Fld(l.Segment, e.seq(), itoa0(l.Field), rep, itoa0(l.Comp), sub)
}

// cwe is ERR-3: code^text^HL70357.
func (e *AckError) cwe() Field {
	return Fld(strconv.Itoa(e.Code), ErrorCodeText(e.Code), "HL70357")
}

// eld is ERR-1 (before v2.5): segment^sequence^field^code&text&HL70357.
func (e *AckError) eld() Field {
	l := e.Location
	return Subs([]string{l.Segment}, []string{e.seq()}, []string{itoa0(l.Field)},
		[]string{strconv.Itoa(e.Code), ErrorCodeText(e.Code), "HL70357"})
}

// versionAtLeast compares MSH-12.1 (raw field v) with major.minor.
func versionAtLeast(v string, d Delimiters, major, minor int) (atLeast, known bool) {
	v = strings.TrimSpace(nth(nth(v, d.Repetition, 1), d.Component, 1))
	maj, rest, ok := strings.Cut(v, ".")
	if !ok {
		return false, false
	}
	mi, _, _ := strings.Cut(rest, ".")
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(mi)
	if err1 != nil || err2 != nil || a < 1 || b < 0 {
		return false, false
	}
	return a > major || a == major && b >= minor, true
}

// ErrorCodeText returns the HL7 table 0357 text for an error code, or ""
// for codes outside the table.
func ErrorCodeText(code int) string {
	switch code {
	case 0:
		return "Message accepted"
	case 100:
		return "Segment sequence error"
	case 101:
		return "Required field missing"
	case 102:
		return "Data type error"
	case 103:
		return "Table value not found"
	case 104:
		return "Value too long"
	case 200:
		return "Unsupported message type"
	case 201:
		return "Unsupported event code"
	case 202:
		return "Unsupported processing id"
	case 203:
		return "Unsupported version id"
	case 204:
		return "Unknown key identifier"
	case 205:
		return "Duplicate key identifier"
	case 206:
		return "Application record locked"
	case 207:
		return "Application internal error"
	}
	return ""
}
