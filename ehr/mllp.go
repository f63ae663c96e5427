package ehr

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/mllp"
)

// MLLPSender defaults.
const (
	DefaultDialTimeout = 5 * time.Second
	DefaultAckTimeout  = 30 * time.Second
)

// MLLPSender sends HL7 requests to the EHR over MLLP (SPEC §9) and
// classifies each ACK. It keeps one persistent connection, dialed on first
// use and reused; any error, timeout or unexpected ACK closes it and the
// next Deliver dials again. One message is in flight at a time.
//
// The zero value with Addr set is usable; fields must not change after
// first use. It implements Channel: Encode writes the message with Build
// and Options.
type MLLPSender struct {
	Addr        string        // EHR_MLLP_ADDR, host:port
	TLSConfig   *tls.Config   // dial with TLS when set (Certificates for mutual TLS)
	DialTimeout time.Duration // connect + TLS handshake; default DefaultDialTimeout
	AckTimeout  time.Duration // write + wait for the ACK; default DefaultAckTimeout
	// Options are the profile and sending application/facility Encode
	// writes (Options.Now is ignored: Encode's now is used).
	Options BuildOptions

	once   sync.Once
	mu     sync.Mutex // one Deliver at a time
	client *mllp.Client
}

var _ Channel = (*MLLPSender)(nil)

// Encode implements Encoder with Build.
func (s *MLLPSender) Encode(typ apptbridge.EventType, a *apptbridge.Appointment, controlID string, now time.Time) ([]byte, error) {
	o := s.Options
	o.Now = now
	return Build(typ, a, controlID, o)
}

func (s *MLLPSender) init() {
	s.once.Do(func() {
		s.client = &mllp.Client{
			Addr:        s.Addr,
			TLSConfig:   s.TLSConfig,
			DialTimeout: orDefault(s.DialTimeout, DefaultDialTimeout),
			AckTimeout:  orDefault(s.AckTimeout, DefaultAckTimeout),
		}
	})
}

// Deliver sends msg as one MLLP frame and reads the ACK:
//
//   - AA, CA → Acked;
//   - AR, CR, or an MSA-1 it does not know → Retry (Rejected);
//   - AE, CE → Dead;
//   - dial error, write error, disconnect, no ACK within AckTimeout,
//     ctx done → Retry, connection closed;
//   - an ACK that does not parse or whose MSA-2 is not controlID → Retry,
//     connection closed (a stray ACK must not answer the next message);
//   - a message that cannot be framed (contains 0x1C) → Dead.
func (s *MLLPSender) Deliver(ctx context.Context, controlID string, msg []byte) Result {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	ack, err := s.client.Send(ctx, msg)
	if err != nil {
		if errors.Is(err, mllp.ErrInvalidPayload) {
			return Result{Outcome: Dead, Err: fmt.Errorf("ehr: message %s cannot be framed: %w", controlID, err)}
		}
		// mllp errors carry addresses, sizes and causes, never content.
		return Result{Outcome: Retry, Err: fmt.Errorf("ehr: send %s: %w", controlID, err)}
	}
	res := classifyAck(controlID, ack)
	if res.Outcome == Retry {
		s.client.Close()
	}
	return res
}

// classifyAck maps an ACK to a Result.
func classifyAck(controlID string, ack []byte) Result {
	m, err := hl7.Parse(ack)
	if err != nil {
		// A ParseError names positions and sentinels, not values.
		return Result{Outcome: Retry, Ack: ack, Err: fmt.Errorf("ehr: unreadable ACK for %s: %w", controlID, err)}
	}
	if m.Get("MSA-2") != controlID {
		return Result{Outcome: Retry, Ack: ack, Err: fmt.Errorf("ehr: ACK does not answer %s (MSA-2 differs)", controlID)}
	}
	code := strings.ToUpper(strings.TrimSpace(m.Get("MSA-1")))
	res := Result{AckCode: safeCode(code), Ack: ack}
	switch hl7.AckCode(code) {
	case hl7.AA, hl7.CA:
		res.Outcome = Acked
	case hl7.AE, hl7.CE:
		res.Outcome = Dead
		res.Err = fmt.Errorf("ehr: EHR answered %s to %s%s", code, controlID, errCodes(m))
	case hl7.AR, hl7.CR:
		res.Outcome, res.Rejected = Retry, true
		res.Err = fmt.Errorf("ehr: EHR answered %s to %s%s", code, controlID, errCodes(m))
	default:
		res.Outcome, res.Rejected = Retry, true
		res.Err = fmt.Errorf("ehr: ACK for %s has unknown MSA-1 %q", controlID, res.AckCode)
	}
	return res
}

// errCodes lists the table 0357 codes of the ACK's ERR segments (ERR-3.1,
// or ERR-1.4.1 before v2.5): numbers only, never the EHR's texts.
func errCodes(m *hl7.Message) string {
	var codes []string
	for _, e := range m.All("ERR") {
		for _, c := range []string{e.Value(3, 1, 1, 0), e.Value(1, 1, 4, 1)} {
			if c != "" && len(c) <= 6 && strings.Trim(c, "0123456789") == "" {
				codes = append(codes, c)
				break
			}
		}
	}
	if len(codes) == 0 {
		return ""
	}
	return " (HL7 error " + strings.Join(codes, ", ") + ")"
}

// safeCode returns an MSA-1 value fit for logs and storage: up to four
// letters or digits, else "?".
func safeCode(c string) string {
	if c == "" || len(c) > 4 {
		return "?"
	}
	for i := 0; i < len(c); i++ {
		if b := c[i]; !(b >= 'A' && b <= 'Z' || b >= '0' && b <= '9') {
			return "?"
		}
	}
	return c
}

// Close closes the connection, if any. A later Deliver dials again.
func (s *MLLPSender) Close() error {
	s.init()
	return s.client.Close()
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
