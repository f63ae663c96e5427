package ehr

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the outbound request metrics. Labels carry outcomes and
// reasons only, never patient data or ids.
type Metrics struct {
	// Requests counts delivery attempts by result: acked, retry, dead.
	Requests *prometheus.CounterVec
	// Duration is the time of one delivery attempt (connect, send, wait
	// for the ACK), by result.
	Duration *prometheus.HistogramVec
	// DeadLetters counts requests that became dead letters, by reason:
	// rejected (AE/CE, HTTP 4xx), retries_exhausted (AR/CR
	// MaxARAttempts times in a row), unsendable (the request could not be
	// encoded or framed). The number currently dead is the store's to
	// tell (status dead), since an operator retry revives them.
	DeadLetters *prometheus.CounterVec
}

// Dead letter reasons (label values of Metrics.DeadLetters).
const (
	DeadRejected         = "rejected"
	DeadRetriesExhausted = "retries_exhausted"
	DeadUnsendable       = "unsendable"
)

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered, for tests and callers without metrics).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apptbridge_ehr_requests_total",
			Help: "Attempts to deliver a patient request to the EHR, by result (acked, retry, dead).",
		}, []string{"result"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "apptbridge_ehr_request_duration_seconds",
			Help:    "Time of one delivery attempt to the EHR, from connect to ACK, by result.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"result"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apptbridge_ehr_dead_letters_total",
			Help: "Patient requests that became dead letters (not resent without an operator), by reason.",
		}, []string{"reason"}),
	}
	for _, r := range []Outcome{Acked, Retry, Dead} {
		m.Requests.WithLabelValues(r.String())
	}
	for _, r := range []string{DeadRejected, DeadRetriesExhausted, DeadUnsendable} {
		m.DeadLetters.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.Requests, m.Duration, m.DeadLetters)
	}
	return m
}
