package ehr

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge/hl7"
)

func ackFor(t *testing.T, controlID string, code hl7.AckCode, errs ...hl7.AckError) []byte {
	t.Helper()
	m, err := hl7.Parse([]byte("MSH|^~\\&|APPTBRIDGE|C|EPIC|N|20261127||SIU^S14^SIU_S12|" + controlID + "|P|2.5.1\r"))
	if err != nil {
		t.Fatal(err)
	}
	return hl7.BuildAck(m, hl7.AckOptions{Code: code, Errors: errs, ControlID: "X1", Now: buildNow})
}

func TestClassifyAck(t *testing.T) {
	const cid = "AB1"
	phi := hl7.AckError{Code: 207, Text: "patient Jane Doe MRN123 locked"}
	cases := []struct {
		name     string
		ack      []byte
		outcome  Outcome
		code     string
		rejected bool
		errHas   string
	}{
		{"AA", ackFor(t, cid, hl7.AA), Acked, "AA", false, ""},
		{"CA", ackFor(t, cid, hl7.CA), Acked, "CA", false, ""},
		{"AE", ackFor(t, cid, hl7.AE, phi), Dead, "AE", false, "HL7 error 207"},
		{"CE", ackFor(t, cid, hl7.CE), Dead, "CE", false, "CE"},
		{"AR", ackFor(t, cid, hl7.AR, phi), Retry, "AR", true, "HL7 error 207"},
		{"CR", ackFor(t, cid, hl7.CR), Retry, "CR", true, "CR"},
		{"unknown code", ackFor(t, cid, "ZZ"), Retry, "ZZ", true, "unknown MSA-1"},
		{"odd code", ackFor(t, cid, "Jane Doe"), Retry, "?", true, "unknown MSA-1"},
		{"other control id", ackFor(t, "AB2", hl7.AA), Retry, "", false, "MSA-2"},
		{"unparseable", []byte("HTTP/1.1 400 Bad Request\r\n"), Retry, "", false, "unreadable"},
		{"no MSA", []byte("MSH|^~\\&|E|F|A|B|2026||ACK|1|P|2.5.1\r"), Retry, "", false, "MSA-2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := classifyAck(cid, c.ack)
			if r.Outcome != c.outcome || r.AckCode != c.code || r.Rejected != c.rejected {
				t.Errorf("got %v %q rejected=%v, want %v %q rejected=%v", r.Outcome, r.AckCode, r.Rejected, c.outcome, c.code, c.rejected)
			}
			if c.errHas == "" && r.Err != nil {
				t.Errorf("unexpected error %v", r.Err)
			}
			if c.errHas != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), c.errHas)) {
				t.Errorf("error %v, want it to mention %q", r.Err, c.errHas)
			}
			if r.Err != nil && (strings.Contains(r.Err.Error(), "Jane") || strings.Contains(r.Err.Error(), "MRN123")) {
				t.Errorf("error repeats the EHR's text: %v", r.Err)
			}
		})
	}
}

func TestMLLPSenderDialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s := fastSender(t, addr)
	r := s.Deliver(context.Background(), "AB1", []byte("MSH|^~\\&|A\r"))
	if r.Outcome != Retry || r.AckCode != "" || r.Rejected || r.Err == nil {
		t.Fatalf("got %+v, want Retry without ack code", r)
	}
}

func TestMLLPSenderUnframable(t *testing.T) {
	e := startEHR(t, "", nil)
	s := fastSender(t, e.addr)
	r := s.Deliver(context.Background(), "AB1", []byte("MSH|^~\\&|A\x1c\r"))
	if r.Outcome != Dead || r.Err == nil {
		t.Fatalf("got %+v, want Dead", r)
	}
	if len(e.messages()) != 0 {
		t.Fatal("an unframable message reached the EHR")
	}
}

// TestMLLPSenderReconnects: a mismatched ACK closes the connection; the
// next message goes on a new one. An ACK timeout does the same.
func TestMLLPSenderReconnects(t *testing.T) {
	e := startEHR(t, "", func(i int, m *hl7.Message) reply {
		switch i {
		case 0:
			return reply{code: "AA", wrongID: true}
		case 2:
			return reply{code: "AA", delay: 500 * time.Millisecond}
		}
		return reply{code: "AA"}
	})
	s := fastSender(t, e.addr)
	s.AckTimeout = 100 * time.Millisecond
	msg := func(cid string) []byte {
		b, err := Build("CONFIRM", sampleAppointment(), cid, BuildOptions{Now: buildNow})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ctx := context.Background()
	if r := s.Deliver(ctx, "C1", msg("C1")); r.Outcome != Retry {
		t.Fatalf("mismatch: got %+v", r)
	}
	if r := s.Deliver(ctx, "C1", msg("C1")); r.Outcome != Acked {
		t.Fatalf("after mismatch: got %+v", r)
	}
	if r := s.Deliver(ctx, "C2", msg("C2")); r.Outcome != Retry || r.AckCode != "" {
		t.Fatalf("timeout: got %+v", r)
	}
	if r := s.Deliver(ctx, "C2", msg("C2")); r.Outcome != Acked {
		t.Fatalf("after timeout: got %+v", r)
	}
	if n := e.connections(); n != 3 {
		t.Errorf("%d connections, want 3 (first, after the mismatch, after the timeout)", n)
	}
	if err := s.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Errorf("Close: %v", err)
	}
}
