package mapping

import (
	"github.com/apptbridge/apptbridge"
	"os"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge/hl7"
)

func TestZZPerf(t *testing.T) {
	mode := os.Getenv("ZZMODE")
	if mode == "" {
		t.Skip()
	}
	raw := loadCorpus(t)
	msgs := make([]*hl7.Message, len(raw))
	for i, r := range raw {
		msgs[i], _ = hl7.Parse(r)
	}
	m := newTestMapper(t, Config{})
	n := 300000
	if os.Getenv("ZZN") != "" {
		n = 20000
	}
	switch mode {
	case "map":
		for i := 0; i < n; i++ {
			m.Map(msgs[i%len(msgs)])
		}
	case "parse":
		for i := 0; i < n; i++ {
			hl7.Parse(raw[i%len(raw)])
		}
	case "both":
		for i := 0; i < n; i++ {
			msg, _ := hl7.Parse(raw[i%len(raw)])
			m.Map(msg)
		}
	case "none":
	}
}

func BenchmarkZZOne(b *testing.B) {
	raw := loadCorpus(b)
	msg, _ := hl7.Parse(raw[0])
	m := newTestMapper(b, Config{})
	b.Run("map", func(b *testing.B) {
		for b.Loop() {
			m.Map(msg)
		}
	})
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			hl7.Parse(raw[0])
		}
	})
	b.Run("value", func(b *testing.B) {
		s := msg.Segment("PID")
		for b.Loop() {
			s.Value(13, 3, 3, 1)
		}
	})
	b.Run("eventid", func(b *testing.B) {
		for b.Loop() {
			_ = newTestEventID()
		}
	})
}

func newTestEventID() string { return apptbridgeNewEventID() }

var apptbridgeNewEventID = apptbridge.NewEventID

func BenchmarkZZParts(b *testing.B) {
	raw := loadCorpus(b)
	msg, _ := hl7.Parse(raw[0])
	m := newTestMapper(b, Config{})
	ev := &apptbridge.Event{}
	var res Result
	b.Run("location", func(b *testing.B) {
		for b.Loop() {
			m.mapLocation(msg, ev)
		}
	})
	b.Run("start", func(b *testing.B) {
		for b.Loop() {
			m.startTime(msg, m.zone, &res)
		}
	})
	b.Run("patient", func(b *testing.B) {
		for b.Loop() {
			m.mapPatient(msg, ev, &res)
		}
	})
	b.Run("phone", func(b *testing.B) {
		for b.Loop() {
			m.mobilePhone(msg, &res)
		}
	})
	b.Run("provider", func(b *testing.B) {
		for b.Loop() {
			m.mapProvider(msg, ev)
		}
	})
	b.Run("duration", func(b *testing.B) {
		for b.Loop() {
			m.duration(msg, time.Time{}, m.zone, &res)
		}
	})
	b.Run("segment", func(b *testing.B) {
		for b.Loop() {
			segment(msg.Segments(), "AIG")
		}
	})
	b.Run("alloc-event", func(b *testing.B) {
		for b.Loop() {
			sinkEv = &apptbridge.Event{}
		}
	})
}

var sinkEv *apptbridge.Event
