package reminder

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// Metrics are the reminder metrics; a nil *Metrics records nothing.
// Labels are ordinals and the package's fixed reason strings.
type Metrics struct {
	planned  *prometheus.CounterVec
	sentC    *prometheus.CounterVec
	skippedC *prometheus.CounterVec
	deferC   prometheus.Counter
	lateness prometheus.Histogram
	expiredC prometheus.Counter
}

// NewMetrics registers the reminder metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		planned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apptbridge_reminders_planned_total",
			Help: "Reminders planned, by ordinal (a replan counts again).",
		}, []string{"ordinal"}),
		sentC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apptbridge_reminders_sent_total",
			Help: "Reminders sent (REMIND applied, text queued), by ordinal.",
		}, []string{"ordinal"}),
		skippedC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apptbridge_reminders_skipped_total",
			Help: "Reminders that will not be sent, by reason (at planning or at send time).",
		}, []string{"reason"}),
		deferC: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "apptbridge_reminders_deferred_total",
			Help: "Due reminders moved to a later time (outreach window closed or daily cap reached).",
		}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "apptbridge_reminder_lateness_seconds",
			Help:    "How long after its due time a reminder was sent.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600},
		}),
		expiredC: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "apptbridge_appointments_expired_total",
			Help: "Active appointments moved to EXPIRED at their time.",
		}),
	}
	reg.MustRegister(m.planned, m.sentC, m.skippedC, m.deferC, m.lateness, m.expiredC)
	return m
}

func (m *Metrics) sent(ordinal string, late time.Duration) {
	if m != nil {
		m.sentC.WithLabelValues(ordinal).Inc()
		m.lateness.Observe(max(late, 0).Seconds())
	}
}

func (m *Metrics) skipped(reason string) {
	if m != nil {
		m.skippedC.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) deferred() {
	if m != nil {
		m.deferC.Inc()
	}
}

func (m *Metrics) expired(n int) {
	if m != nil {
		m.expiredC.Add(float64(n))
	}
}

// Planner returns c.Plan counting what it plans and skips (the store
// calls it inside event transactions; a plan rolled back is still
// counted, which is rare and harmless for a rate).
func (m *Metrics) Planner(c Config) store.Planner {
	return func(a *apptbridge.Appointment, now time.Time) []store.Reminder {
		rows := c.Plan(a, now)
		if m != nil {
			for _, r := range rows {
				switch r.Status {
				case store.ReminderPlanned:
					m.planned.WithLabelValues(ordinalLabel(r.Ordinal)).Inc()
				case store.ReminderSkipped:
					m.skippedC.WithLabelValues(r.Reason).Inc()
				}
			}
		}
		return rows
	}
}

func ordinalLabel(n int) string {
	if n == 2 {
		return "2"
	}
	return "1"
}
