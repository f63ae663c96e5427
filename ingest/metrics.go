package ingest

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apptbridge/apptbridge"
)

// Metrics are the ingest pipeline's Prometheus metrics. Labels never carry
// PHI: triggers, ACK codes, error reasons and event types only.
type Metrics struct {
	Messages    *prometheus.CounterVec   // by trigger
	Acks        *prometheus.CounterVec   // by code
	Duration    *prometheus.HistogramVec // by ack code
	ParseErrors *prometheus.CounterVec   // by reason
	Events      *prometheus.CounterVec   // by type, source, applied
	Duplicates  *prometheus.CounterVec   // by result: replayed, conflict
}

// NewMetrics registers the ingest metrics with r (nil: not registered).
func NewMetrics(r prometheus.Registerer) *Metrics {
	m := &Metrics{
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apptbridge_mllp_messages_total",
			Help: "Inbound HL7 messages by message type and trigger (e.g. SIU^S12).",
		}, []string{"trigger"}),
		Acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apptbridge_mllp_acks_total",
			Help: "ACKs sent by MSA-1 code.",
		}, []string{"code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "apptbridge_ingest_duration_seconds",
			Help:    "Time from a whole message read to its ACK ready, including the durable commit.",
			Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"code"}),
		ParseErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apptbridge_hl7_errors_total",
			Help: "Inbound messages rejected, by HL7 table 0357 error code.",
		}, []string{"reason"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apptbridge_events_total",
			Help: "Appointment events from the EHR by type, source (hl7: MLLP; api: POST /v1/events) and whether the state machine applied them.",
		}, []string{"type", "source", "applied"}),
		Duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apptbridge_mllp_duplicates_total",
			Help: "Messages whose MSH-3/4/10 key was already committed: replayed (same content) or conflict (other content).",
		}, []string{"result"}),
	}
	if r != nil {
		r.MustRegister(m.Messages, m.Acks, m.Duration, m.ParseErrors, m.Events, m.Duplicates)
	}
	return m
}

// CountEvent counts one EHR event that reached the state machine; source
// is "hl7" (this package) or "api" (POST /v1/events, counted by web).
func (m *Metrics) CountEvent(typ apptbridge.EventType, source string, applied bool) {
	m.Events.WithLabelValues(string(typ), source, strconv.FormatBool(applied)).Inc()
}
