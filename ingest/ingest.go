package ingest

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/mapping"
	"github.com/apptbridge/apptbridge/store"
)

// Committer is the part of the store the pipeline needs.
type Committer interface {
	Ingest(ctx context.Context, in *store.Inbound) (store.IngestResult, error)
}

// Mapper maps a parsed SIU message to an event.
type Mapper interface {
	Map(msg *hl7.Message) (mapping.Result, error)
}

// Config wires a Handler.
type Config struct {
	Store   Committer
	Mapper  Mapper
	Logger  *zap.Logger // nil: no logs
	Metrics *Metrics    // nil: unregistered metrics
	Now     func() time.Time
	// Parse options for this interface (default character set).
	Parse hl7.ParseOptions
	// AckControlID returns MSH-10 for the next ACK; nil uses a
	// process-unique generator.
	AckControlID func() string
	// OnCommit, when set, is called after every committed new message
	// (for example to wake outbox workers). It must not block.
	OnCommit func(store.IngestResult)
}

// Handler processes one message at a time per call; it is safe for
// concurrent use by many connections. It implements mllp.Handler.
type Handler struct {
	cfg Config
	log *zap.Logger
	m   *Metrics
	seq atomic.Uint64
}

// New returns a Handler.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, log: cfg.Logger, m: cfg.Metrics}
	if h.log == nil {
		h.log = zap.NewNop()
	}
	if h.m == nil {
		h.m = NewMetrics(nil)
	}
	if h.cfg.Now == nil {
		h.cfg.Now = time.Now
	}
	if h.cfg.AckControlID == nil {
		start := strconv.FormatInt(time.Now().UnixMilli(), 36)
		h.cfg.AckControlID = func() string {
			return "A" + start + "-" + strconv.FormatUint(h.seq.Add(1), 10)
		}
	}
	return h
}

// ServeMLLP handles one message and returns its ACK. It never returns a
// nil reply: every message gets exactly one ACK.
func (h *Handler) ServeMLLP(ctx context.Context, raw []byte) ([]byte, error) {
	r := h.Process(ctx, raw)
	return r.Ack, r.Err
}

// Reply is the full result of processing one message.
type Reply struct {
	Ack     []byte
	Code    hl7.AckCode // MSA-1 sent
	Result  store.IngestResult
	Mapped  mapping.Result
	Err     error // why the message was not accepted (no PHI)
	Trigger string
}

// Process runs parse → map → commit → ACK for one message.
func (h *Handler) Process(ctx context.Context, raw []byte) Reply {
	start := time.Now()
	now := h.cfg.Now()
	r := h.process(ctx, raw, now)
	code := string(r.Code)
	h.m.Acks.WithLabelValues(code).Inc()
	h.m.Duration.WithLabelValues(code).Observe(time.Since(start).Seconds())
	return r
}

func (h *Handler) process(ctx context.Context, raw []byte, now time.Time) Reply {
	msg, err := hl7.ParseWith(raw, h.cfg.Parse)
	if err != nil {
		c := Classify(err)
		h.m.Messages.WithLabelValues("unparseable").Inc()
		h.m.ParseErrors.WithLabelValues(strconv.Itoa(c.HL7Code)).Inc()
		ack := hl7.BuildAckRaw(raw, hl7.AckOptions{
			Code:      c.AckCode,
			Text:      "message rejected: " + hl7ErrorText(c.HL7Code),
			Errors:    []hl7.AckError{{Location: c.Location, Code: c.HL7Code, Severity: "E", Text: shortErr(err)}},
			Now:       now,
			ControlID: h.cfg.AckControlID(),
		})
		h.log.Warn("hl7 message rejected", zap.Int("hl7_error", c.HL7Code), zap.String("location", c.Location.String()), zap.Error(err))
		return Reply{Ack: ack, Code: c.AckCode, Err: err, Trigger: "unparseable"}
	}
	mode := hl7.AckModeOf(msg)
	typ, trig, _ := msg.Type()
	trigger := typ + "^" + trig
	h.m.Messages.WithLabelValues(labelTrigger(typ, trig)).Inc()
	cid := msg.ControlID()
	logf := []zap.Field{zap.String("control_id", cid), zap.String("trigger", trigger)}

	res, err := mapMessage(h.cfg.Mapper, msg)
	if err != nil {
		c := Classify(err)
		ackc := mode.Code(c.AckCode)
		h.m.ParseErrors.WithLabelValues(strconv.Itoa(c.HL7Code)).Inc()
		ack := h.ack(msg, now, ackc, hl7ErrorText(c.HL7Code), hl7.AckError{Location: c.Location, Code: c.HL7Code, Severity: "E", Text: shortErr(err)})
		h.log.Warn("hl7 message rejected", append(logf, zap.Int("hl7_error", c.HL7Code), zap.String("location", c.Location.String()), zap.Error(err))...)
		return Reply{Ack: ack, Code: ackc, Err: err, Trigger: trigger}
	}
	for _, w := range res.Warnings {
		h.log.Info("mapping warning", append(logf, zap.String("warning", w))...)
	}

	okCode := mode.Code("AA")
	ack := h.ack(msg, now, okCode, "")
	in := &store.Inbound{
		Key: store.DedupKey{
			SendingApplication: msg.Get("MSH-3"),
			SendingFacility:    msg.Get("MSH-4"),
			ControlID:          cid,
		},
		Hash:        store.HashString(msg.String()),
		Raw:         raw,
		MessageType: trigger,
		ReceivedAt:  now,
		Event:       res.Event,
		Ack:         ack,
		AckCode:     string(okCode),
	}
	sr, err := h.cfg.Store.Ingest(ctx, in)
	if err != nil {
		c := mode.Code("AR")
		h.m.ParseErrors.WithLabelValues("207").Inc()
		h.log.Error("commit failed; message not accepted", append(logf, zap.Error(err))...)
		return Reply{Ack: h.ack(msg, now, c, "storage failure, resend later",
			hl7.AckError{Code: 207, Severity: "E", Text: "application internal error"}), Code: c, Err: err, Trigger: trigger, Mapped: res}
	}
	switch {
	case sr.Duplicate:
		h.m.Duplicates.WithLabelValues("replayed").Inc()
		h.log.Info("duplicate message; stored ACK replayed", logf...)
		return Reply{Ack: sr.Ack, Code: ackCodeOf(sr.Ack, okCode), Result: sr, Trigger: trigger, Mapped: res}
	case sr.Conflict:
		c := mode.Code("AE")
		h.m.Duplicates.WithLabelValues("conflict").Inc()
		h.log.Warn("duplicate key with different content", logf...)
		loc, _ := hl7.ParseLocation("MSH-10")
		err := apptbridge.Errorf(apptbridge.ECONFLICT, "MSH-10 already used for a message with other content")
		return Reply{Ack: h.ack(msg, now, c, "duplicate key identifier",
			hl7.AckError{Location: loc, Code: 205, Severity: "E", Text: "MSH-3/4/10 already used for a message with other content"}),
			Code: c, Result: sr, Err: err, Trigger: trigger, Mapped: res}
	}
	if e := res.Event; e != nil {
		o := sr.Outcome
		h.m.CountEvent(e.EventType, "hl7", o.Applied)
		h.log.Info("event committed", append(logf,
			zap.String("event_id", e.EventID),
			zap.String("event_type", string(e.EventType)),
			zap.String("appointment_id", e.AppointmentID),
			zap.Bool("applied", o.Applied),
			zap.String("reason", o.Reason),
			zap.String("from", string(o.From)),
			zap.String("to", string(o.To)),
			zap.String("text", string(o.Text)),
			zap.String("text_suppressed", o.Suppressed))...)
	} else {
		h.log.Info("message committed without appointment effect", append(logf, zap.String("reason", res.Reason))...)
	}
	if h.cfg.OnCommit != nil {
		h.cfg.OnCommit(sr)
	}
	return Reply{Ack: ack, Code: okCode, Result: sr, Trigger: trigger, Mapped: res}
}

func (h *Handler) ack(msg *hl7.Message, now time.Time, code hl7.AckCode, text string, errs ...hl7.AckError) []byte {
	return hl7.BuildAck(msg, hl7.AckOptions{
		Code:      code,
		Text:      text,
		Errors:    errs,
		Now:       now,
		ControlID: h.cfg.AckControlID(),
	})
}

// errNoControlID rejects a message without MSH-10: it can be neither
// acknowledged (MSA-2) nor de-duplicated.
var errNoControlID = &mapping.Error{Code: mapping.CodeRequiredMissing, Location: "MSH-10",
	Reason: "MSH-10 message control id is required", Err: mapping.ErrMissingField}

// mapMessage maps msg and applies the pipeline's own checks.
func mapMessage(m Mapper, msg *hl7.Message) (mapping.Result, error) {
	res, err := m.Map(msg)
	if err == nil && msg.ControlID() == "" {
		return mapping.Result{}, errNoControlID
	}
	return res, err
}

// Classification is how a rejected message is answered.
type Classification struct {
	AckCode  hl7.AckCode // original-mode code: AE or AR
	HL7Code  int         // table 0357
	Location hl7.Location
}

// Classify maps a parse or mapping error to its original-mode ACK code,
// table 0357 code and ERR-2 location. Unknown errors are AR 207.
func Classify(err error) Classification {
	var pe *hl7.ParseError
	var me *mapping.Error
	switch {
	case errors.As(err, &me):
		loc, _ := hl7.ParseLocation(me.Location)
		c := Classification{AckCode: "AR", HL7Code: me.Code, Location: loc}
		if me.AckCode() == "AE" {
			c.AckCode = "AE"
		}
		return c
	case errors.As(err, &pe):
		loc := hl7.Location{Segment: "MSH"}
		if pe.SegmentName != "" {
			loc.Segment = pe.SegmentName
		}
		loc.Field = pe.Field
		code := 100 // empty, no MSH, bad segment name, bad batch
		switch {
		case errors.Is(err, hl7.ErrBadDelimiters):
			code = 102
		case errors.Is(err, hl7.ErrCharset):
			code = 103
		}
		return Classification{AckCode: "AE", HL7Code: code, Location: loc}
	}
	return Classification{AckCode: "AR", HL7Code: 207}
}

func hl7ErrorText(code int) string {
	switch code {
	case 100:
		return "segment sequence error"
	case 101:
		return "required field missing"
	case 102:
		return "data type error"
	case 103:
		return "table value not found"
	case 200:
		return "unsupported message type"
	case 201:
		return "unsupported event code"
	case 203:
		return "unsupported version id"
	case 205:
		return "duplicate key identifier"
	default:
		return "application internal error"
	}
}

// shortErr returns a client-safe error text. Parse and mapping errors carry
// only locations and codes, never field values.
func shortErr(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// labelTrigger bounds the label's cardinality to well-formed triggers.
func labelTrigger(typ, trig string) string {
	ok := func(s string, n int) bool {
		if len(s) != n {
			return false
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return false
			}
		}
		return true
	}
	if typ == "SIU" && ok(trig, 3) {
		return typ + "^" + trig
	}
	return "other"
}

// ackCodeOf reads MSA-1 from stored ACK bytes.
func ackCodeOf(ack []byte, def hl7.AckCode) hl7.AckCode {
	m, err := hl7.Parse(ack)
	if err != nil {
		return def
	}
	if c := m.Get("MSA-1"); c != "" {
		return hl7.AckCode(c)
	}
	return def
}
