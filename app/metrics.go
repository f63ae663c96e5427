package app

import (
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the process-level metrics owned by the wiring: MLLP
// connections (mllp is stdlib-only and exposes hooks), store commits and
// build info.
type metrics struct {
	connsOpen   prometheus.Gauge
	conns       *prometheus.CounterVec // by result: accepted, rejected
	junkBytes   prometheus.Counter
	frameErrors *prometheus.CounterVec // by reason
	commit      prometheus.Histogram
	batch       prometheus.Histogram
	ready       prometheus.Gauge
}

func newMetrics(r prometheus.Registerer, version, commit string) *metrics {
	m := &metrics{
		connsOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "apptbridge_mllp_connections_open",
			Help: "MLLP connections currently open.",
		}),
		conns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apptbridge_mllp_connections_total",
			Help: "MLLP connections by result (accepted, rejected: over the limit, not allowlisted or failed TLS).",
		}, []string{"result"}),
		junkBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "apptbridge_mllp_junk_bytes_total",
			Help: "Bytes skipped before an MLLP start block (0x0B).",
		}),
		frameErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apptbridge_mllp_frame_errors_total",
			Help: "MLLP framing errors that closed a connection, by reason.",
		}, []string{"reason"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "apptbridge_store_commit_seconds",
			Help:    "Duration of one durable store commit (one fsync, possibly for a batch of messages).",
			Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "apptbridge_store_commit_batch_size",
			Help:    "Messages committed together by one group commit.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128},
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "apptbridge_ready",
			Help: "1 when the process is ready to accept messages.",
		}),
	}
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "apptbridge_build_info",
		Help: "Build information; always 1.",
	}, []string{"version", "commit", "goversion"})
	info.WithLabelValues(version, commit, runtime.Version()).Set(1)
	start := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "apptbridge_start_time_seconds",
		Help: "Unix time the process started.",
	})
	start.Set(float64(time.Now().Unix()))
	r.MustRegister(m.connsOpen, m.conns, m.junkBytes, m.frameErrors, m.commit, m.batch, m.ready, info, start)
	return m
}
