package ingest

import (
	"bytes"
	"encoding/json"

	"github.com/apptbridge/apptbridge/hl7"
)

// line is one output line of `apptbridge map` for a message that does not
// map to an event (SPEC §2).
type line struct {
	MessageControlID string   `json:"message_control_id"`
	Ignored          bool     `json:"ignored,omitempty"`
	Reason           string   `json:"reason,omitempty"`
	Error            *lineErr `json:"error,omitempty"`
}

type lineErr struct {
	AckCode      string `json:"ack_code"`
	HL7ErrorCode int    `json:"hl7_error_code"`
	Location     string `json:"location,omitempty"`
	Message      string `json:"message"`
}

// Describe parses and maps one message and returns the JSON line that
// `apptbridge map` prints for it (with a trailing newline): the canonical
// event, an ignored line or an error line. ok is false for an error.
func Describe(m Mapper, opts hl7.ParseOptions, raw []byte) (out []byte, ok bool) {
	msg, err := hl7.ParseWith(raw, opts)
	if err != nil {
		return DescribeError(SalvageControlID(raw), err)
	}
	res, err := mapMessage(m, msg)
	if err != nil {
		return DescribeError(msg.ControlID(), err)
	}
	if res.Ignored || res.Event == nil {
		return encodeLine(line{MessageControlID: msg.ControlID(), Ignored: true, Reason: res.Reason}), true
	}
	return encodeLine(res.Event), true
}

// DescribeError returns the error line for a message that was rejected.
func DescribeError(controlID string, err error) ([]byte, bool) {
	c := Classify(err)
	return encodeLine(line{MessageControlID: controlID, Error: &lineErr{
		AckCode: string(c.AckCode), HL7ErrorCode: c.HL7Code, Location: c.Location.String(), Message: err.Error(),
	}}), false
}

func encodeLine(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte(`{"error":{"ack_code":"AR","hl7_error_code":207,"message":"cannot encode"}}` + "\n")
	}
	return b.Bytes()
}

// SalvageControlID finds MSH-10 in a message that did not parse.
func SalvageControlID(raw []byte) string {
	i := bytes.Index(raw, []byte("MSH"))
	if i < 0 || len(raw) < i+4 {
		return ""
	}
	l := raw[i:]
	if j := bytes.IndexAny(l, "\r\n"); j >= 0 {
		l = l[:j]
	}
	parts := bytes.Split(l, []byte{l[3]})
	if len(parts) > 9 {
		return string(parts[9])
	}
	return ""
}

// DescribeInput splits an input (one or many messages, MLLP-framed or not,
// FHS/BHS batches) and returns the `apptbridge map` line of every message,
// in order, and the messages themselves. Input from which no message
// splits off is described as one message (so "no MSH" reads as it does
// over MLLP); a batch that breaks part-way gives the lines of the messages
// before the break, then one error line. ok is false if any line is an
// error.
func DescribeInput(m Mapper, opts hl7.ParseOptions, input []byte) (lines [][]byte, msgs [][]byte, ok bool) {
	msgs, err := hl7.SplitBatch(input)
	if err != nil && len(msgs) == 0 {
		line, _ := Describe(m, opts, input)
		return [][]byte{line}, [][]byte{input}, false
	}
	ok = true
	for _, raw := range msgs {
		line, good := Describe(m, opts, raw)
		lines = append(lines, line)
		ok = ok && good
	}
	if err != nil {
		line, _ := DescribeError("", err)
		lines = append(lines, line)
		ok = false
	}
	return lines, msgs, ok
}
