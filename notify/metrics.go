package notify

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apptbridge/apptbridge"
)

// Metrics are the texting metrics. A nil *Metrics records nothing.
// Labels are kinds, statuses and intents only: never a phone or a body.
type Metrics struct {
	texts      *prometheus.CounterVec
	replies    *prometheus.CounterVec
	reconciled *prometheus.CounterVec
	sendTime   prometheus.Histogram
	statuses   *prometheus.CounterVec
}

// NewMetrics registers the texting metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		texts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apptbridge_texts_total",
			Help: "Outbound texts by kind and outcome of an outbox step (attempt, sent, sandbox, deferred, canceled, retry, ambiguous, failed).",
		}, []string{"kind", "status"}),
		replies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apptbridge_replies_total",
			Help: "Inbound patient texts by intent (confirm, cancel, opt-out, opt-in, help, unknown, duplicate).",
		}, []string{"intent"}),
		reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apptbridge_texts_reconciled_total",
			Help: "Ambiguous text attempts looked up at Twilio before any resend, by result (found, resend).",
		}, []string{"result"}),
		sendTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "apptbridge_twilio_request_duration_seconds",
			Help:    "Time of Twilio message create calls.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}),
		statuses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apptbridge_text_status_callbacks_total",
			Help: "Twilio status callbacks by reported status and whether they moved the text forward.",
		}, []string{"status", "moved"}),
	}
	reg.MustRegister(m.texts, m.replies, m.reconciled, m.sendTime, m.statuses)
	return m
}

func (m *Metrics) text(kind apptbridge.TextKind, status string) {
	if m != nil {
		m.texts.WithLabelValues(string(kind), status).Inc()
	}
}

func (m *Metrics) reply(intent string) {
	if m != nil {
		m.replies.WithLabelValues(intent).Inc()
	}
}

func (m *Metrics) reconciledResult(result string) {
	if m != nil {
		m.reconciled.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) sendDuration(d time.Duration) {
	if m != nil {
		m.sendTime.Observe(d.Seconds())
	}
}

// StatusCallback counts one status callback.
func (m *Metrics) StatusCallback(status string, moved bool) {
	if m == nil {
		return
	}
	mv := "false"
	if moved {
		mv = "true"
	}
	switch status {
	case "accepted", "scheduled", "queued", "sending", "sent", "delivered", "undelivered", "failed", "read", "canceled", "receiving", "received":
	default:
		status = "other"
	}
	m.statuses.WithLabelValues(status, mv).Inc()
}
