package s3

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/internal/runloop"
	"github.com/apptbridge/apptbridge/store"
)

// Queue is what the Worker needs of the store.
type Queue interface {
	ClaimArchive(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*store.ArchiveJob, error)
	ArchiveDone(ctx context.Context, owner string, id int64) error
	ArchiveFailed(ctx context.Context, owner string, id int64, next time.Time, lastError string) error
	NextArchiveDue(ctx context.Context) (time.Time, error)
}

// Writer writes a job's objects; *Archiver is the production one.
type Writer interface {
	Archive(ctx context.Context, job *store.ArchiveJob) error
}

// Metrics are the archive worker's Prometheus metrics. The queue's depth
// and oldest age are read from the store at scrape time (QueueCollector).
type Metrics struct {
	jobs *prometheus.CounterVec
}

// NewMetrics registers the archive worker's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apptbridge_archive_jobs_total",
			Help: "S3 archive jobs by result (ok, retry: S3 failed and the job waits, lease_lost).",
		}, []string{"result"}),
	}
	for _, r := range []string{"ok", "retry", "lease_lost"} {
		m.jobs.WithLabelValues(r)
	}
	reg.MustRegister(m.jobs)
	return m
}

var (
	archiveDepthDesc = prometheus.NewDesc("apptbridge_archive_depth",
		"S3 archive jobs waiting (events whose objects are not yet in S3).", nil, nil)
	archiveAgeDesc = prometheus.NewDesc("apptbridge_archive_oldest_age_seconds",
		"Age of the oldest waiting S3 archive job (0 when none): how far the data lake is behind.", nil, nil)
)

// QueueCollector reports the archive queue at scrape time, as the outbox
// reports its queues (apptbridge_outbox_depth, _oldest_age_seconds): the
// lag shows even when the worker is stuck. A failed store read reports
// nothing (the series go stale).
type QueueCollector struct {
	Queue interface {
		ArchiveQueue(ctx context.Context) (store.QueueStat, error)
	}
	Now func() time.Time // nil: time.Now
}

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- archiveDepthDesc
	ch <- archiveAgeDesc
}

// Collect implements prometheus.Collector.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.Queue.ArchiveQueue(ctx)
	if err != nil {
		return
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	age := 0.0
	if !st.Oldest.IsZero() {
		age = max(now().Sub(st.Oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(archiveDepthDesc, prometheus.GaugeValue, float64(st.Depth))
	ch <- prometheus.MustNewConstMetric(archiveAgeDesc, prometheus.GaugeValue, age)
}

func (m *Metrics) job(result string) {
	if m != nil {
		m.jobs.WithLabelValues(result).Inc()
	}
}

// Worker moves jobs from the store's archive queue to S3. Several workers
// (processes) may share a queue: jobs are leased, and those of one
// appointment go out one at a time, in order.
type Worker struct {
	Store  Queue
	Writer Writer
	Owner  string        // lease owner; default a random id
	Lease  time.Duration // default 2 minutes
	Batch  int           // jobs claimed (and written concurrently) at once; default 16
	// MaxBackoff caps the wait before a failed job is tried again
	// (default 5 minutes); the wait doubles from 1 s per attempt.
	MaxBackoff time.Duration
	// Timeout bounds one job's S3 calls; default 30 s.
	Timeout time.Duration
	// Poll is the longest wait between two looks at the queue (default
	// 1 s): it finds the jobs no Kick announced (those of other processes
	// sharing a PostgreSQL store). A Kick wakes the worker at once, and a
	// failed job's retry time shortens the wait.
	Poll    time.Duration
	Now     func() time.Time
	Logger  *zap.Logger // ids only: appointment, event and job ids
	Metrics *Metrics

	once sync.Once
	wake *runloop.Wake
}

func (w *Worker) init() {
	w.once.Do(func() {
		w.wake = runloop.NewWake()
		if w.Now == nil {
			w.Now = time.Now
		}
		if w.Logger == nil {
			w.Logger = zap.NewNop()
		}
		if w.Owner == "" {
			w.Owner = "archive-" + apptbridge.NewEventID()
		}
		if w.Lease <= 0 {
			w.Lease = 2 * time.Minute
		}
		if w.Batch <= 0 {
			w.Batch = 16
		}
		if w.MaxBackoff <= 0 {
			w.MaxBackoff = 5 * time.Minute
		}
		if w.Timeout <= 0 {
			w.Timeout = 30 * time.Second
		}
		if w.Poll <= 0 {
			w.Poll = defaultPoll
		}
	})
}

// Kick wakes the worker (archive jobs were committed: store.NotifyArchive
// calls it). It never blocks.
func (w *Worker) Kick() {
	w.init()
	w.wake.Kick()
}

// defaultPoll is Worker.Poll's default.
const defaultPoll = time.Second

// Run archives until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	w.init()
	return runloop.Loop{
		Step:    w.RunOnce,
		Sleep:   w.sleep,
		OnError: func(err error) { w.Logger.Warn("archive queue", zap.Error(err)) },
		Wake:    w.wake,
	}.Run(ctx)
}

// sleep is the time until the next due job (a failed one's retry), at
// most Poll.
func (w *Worker) sleep(ctx context.Context) time.Duration {
	if due, err := w.Store.NextArchiveDue(ctx); err == nil && !due.IsZero() {
		return min(due.Sub(w.Now()), w.Poll)
	}
	return w.Poll
}

// RunOnce claims one batch and writes it; it returns how many jobs it
// claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	w.init()
	jobs, err := w.Store.ClaimArchive(ctx, w.Owner, w.Now(), w.Lease, w.Batch)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.one(ctx, j)
		}()
	}
	wg.Wait()
	return len(jobs), nil
}

func (w *Worker) one(ctx context.Context, j *store.ArchiveJob) {
	jctx, cancel := context.WithTimeout(ctx, w.Timeout)
	err := w.Writer.Archive(jctx, j)
	cancel()
	log := w.Logger.With(zap.Int64("job", j.ID), zap.String("appointment_id", j.AppointmentID),
		zap.String("event_id", j.EventID))
	if err != nil {
		next := w.Now().Add(w.backoff(j.Attempts))
		serr := w.Store.ArchiveFailed(ctx, w.Owner, j.ID, next, errText(err))
		if errors.Is(serr, store.ErrLeaseLost) {
			w.Metrics.job("lease_lost")
			return
		}
		if serr != nil {
			log.Warn("archive job: record failure", zap.Error(serr))
		}
		w.Metrics.job("retry")
		log.Warn("archive job failed, will retry", zap.Int("attempts", j.Attempts+1),
			zap.Time("next_attempt_at", next), zap.String("error", errText(err)))
		return
	}
	if err := w.Store.ArchiveDone(ctx, w.Owner, j.ID); err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			w.Metrics.job("lease_lost")
			return
		}
		log.Warn("archive job: mark done", zap.Error(err))
		return
	}
	w.Metrics.job("ok")
	log.Debug("archived")
}

// backoff is the wait after the attempts-th failure: 1 s doubling, at
// most MaxBackoff, with ±20 % jitter.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.MaxBackoff
	if attempts < 20 {
		d = min(time.Second<<attempts, w.MaxBackoff)
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// errText is an error's text for the job's LastError and the log. SDK
// errors name the operation, the key (ids only) and S3's code; the
// archive's own errors carry ids only. It is cut to 500 bytes.
func errText(err error) string {
	s := err.Error()
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}
