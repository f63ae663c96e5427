// Package app wires apptbridge's parts into one running service: store,
// mapper, ingest pipeline, MLLP listener, HTTP listener and background
// jobs. It lives outside cmd so tests can start a whole service in-process.
package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/ingest"
	"github.com/apptbridge/apptbridge/mapping"
	"github.com/apptbridge/apptbridge/mllp"
	"github.com/apptbridge/apptbridge/reminder"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/s3"
	"github.com/apptbridge/apptbridge/web"
	"github.com/apptbridge/apptbridge/web/admin"
)

// Options are the process-level dependencies of an App.
type Options struct {
	Logger   *zap.Logger          // nil: no logs
	Registry *prometheus.Registry // nil: a new registry
	Now      func() time.Time     // nil: time.Now
	Version  string
	Commit   string
	// ArchivePoll is the S3 archive worker's longest wait between looks
	// at its queue (s3.Worker.Poll; 0: its default). Tests set it long to
	// show that committed jobs wake the worker.
	ArchivePoll time.Duration
}

// App is one running apptbridge service.
type App struct {
	cfg Config
	log *zap.Logger
	reg *prometheus.Registry
	m   *metrics
	now func() time.Time
	db  store.Store
	ing *ingest.Handler
	// events counts EHR events by source: MLLP (ingest) and POST /v1/events.
	events *ingest.Metrics
	pat    *patients
	// archive writes the S3 archive; nil without S3_BUCKET.
	archive *s3.Worker
	mllp    *mllp.Server
	http    *http.Server
	// metrics serves /metrics on METRICS_ADDR; nil when it is not set.
	metrics *http.Server
	// admin is the admin page's sign-in.
	admin *web.AuthConfig

	mllpLn, httpLn, metricsLn net.Listener
	ready                     atomic.Bool
	errc                      chan error
	stop                      context.CancelFunc
	wg                        sync.WaitGroup
	closeOnce                 sync.Once
}

// New builds an App from cfg: it opens the store and loads the mapping
// profile, but binds nothing yet (see Start).
func New(ctx context.Context, cfg Config, o Options) (*App, error) {
	a := &App{cfg: cfg, log: o.Logger, reg: o.Registry, now: o.Now, errc: make(chan error, 2)}
	if a.log == nil {
		a.log = zap.NewNop()
	}
	if a.reg == nil {
		a.reg = prometheus.NewRegistry()
		a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.m = newMetrics(a.reg, o.Version, o.Commit)

	mapper, err := NewMapper(cfg)
	if err != nil {
		return nil, err
	}
	defTZ, err := time.LoadLocation(cfg.DefaultTimezone)
	if err != nil {
		return nil, fmt.Errorf("DEFAULT_TIMEZONE: %w", err)
	}
	remCfg, err := reminder.NewConfig(cfg.ReminderFirstTiming, cfg.ReminderSecondTiming,
		cfg.ReminderOutreachStart, cfg.ReminderOutreachFinish, cfg.ReminderDailyCap, defTZ)
	if err != nil {
		return nil, err
	}
	remMetrics := reminder.NewMetrics(a.reg)
	db, err := openStore(ctx, cfg, StoreOptions{
		Now:     a.now,
		Planner: remMetrics.Planner(remCfg),
		// Archive jobs only when something will take them (S3_BUCKET).
		Archive: cfg.S3Bucket != "",
		// serve owns the embedded store: a crashed run's leases go now.
		ReleaseLeases: true,
		OnCommit: func(n int, d time.Duration) {
			a.m.commit.Observe(d.Seconds())
			a.m.batch.Observe(float64(n))
		},
	}, a.log)
	if err != nil {
		return nil, err
	}
	if cfg.S3Bucket != "" {
		// Every commit that wrote archive jobs (Ingest, and Tx.Apply by
		// the API, replies, reminders, expiries, opt-outs) wakes the
		// archive worker: the objects go out at once, not at its poll.
		db = store.NotifyArchive(db, func() {
			if a.archive != nil {
				a.archive.Kick()
			}
		})
	}
	a.db = db
	if a.admin, err = adminAuth(ctx, cfg, db); err != nil {
		db.Close()
		return nil, err
	}
	if a.pat, err = a.newPatients(cfg, mapper); err != nil {
		db.Close()
		return nil, err
	}
	a.pat.reminders = &reminder.Worker{
		Store:   db,
		Config:  remCfg,
		Now:     a.now,
		Logger:  a.log.Named("reminders"),
		Metrics: remMetrics,
		OnSent:  a.pat.texts.Kick,
	}
	if cfg.S3Bucket != "" {
		arch, err := s3.New(ctx, s3.Config{Bucket: cfg.S3Bucket, CustomerCode: cfg.CustomerCode,
			Region: cfg.AWSRegion, Endpoint: cfg.S3Endpoint, KMSKeyID: cfg.S3KMSKeyID})
		if err != nil {
			db.Close()
			return nil, err
		}
		a.archive = &s3.Worker{Store: db, Writer: arch, Now: a.now, Logger: a.log.Named("archive"),
			Metrics: s3.NewMetrics(a.reg), Poll: o.ArchivePoll}
		// The archive's depth and lag, read at scrape time.
		a.reg.MustRegister(&s3.QueueCollector{Queue: db})
	}
	a.events = ingest.NewMetrics(a.reg)
	a.ing = ingest.New(ingest.Config{
		OnCommit: a.afterIngest,
		Store:    db,
		Mapper:   mapper,
		Logger:   a.log.Named("ingest"),
		Metrics:  a.events,
		Now:      a.now,
		Parse:    hl7.ParseOptions{DefaultCharset: cfg.HL7Charset},
	})
	tlsConf, err := mllpTLS(cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	a.mllp = &mllp.Server{
		Handler:        a.ing,
		TLSConfig:      tlsConf,
		ReadTimeout:    cfg.MLLPReadTimeout,
		WriteTimeout:   cfg.MLLPWriteTimeout,
		IdleTimeout:    cfg.MLLPIdleTimeout,
		MaxMessageSize: cfg.MLLPMaxMessageBytes,
		MaxConns:       cfg.MLLPMaxConns,
		AllowedNets:    cfg.MLLPAllowedIPs,
		ConnState:      a.connState,
		OnJunk:         func(n int) { a.m.junkBytes.Add(float64(n)) },
		OnFrameError:   a.frameError,
		ErrorLog:       zap.NewStdLog(a.log.Named("mllp")),
	}
	a.http = a.httpServer(securityHeaders(a.routes()), "http")
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		a.opsRoutes(mux)
		a.metrics = a.httpServer(mux, "metrics")
	}
	return a, nil
}

// NewMapper builds the SIU mapper from the configuration.
func NewMapper(cfg Config) (*mapping.Mapper, error) {
	mc := mapping.Config{
		DefaultTimezone: cfg.DefaultTimezone,
		DefaultCountry:  cfg.DefaultCountry,
		CallbackPhone:   cfg.CallbackPhone,
	}
	if cfg.MappingProfile != "" {
		p, err := mapping.LoadProfile(cfg.MappingProfile)
		if err != nil {
			return nil, fmt.Errorf("MAPPING_PROFILE: %w", err)
		}
		mc.Profile = p
	}
	m, err := mapping.New(mc)
	if err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	return m, nil
}

func mllpTLS(cfg Config) (*tls.Config, error) {
	if cfg.MLLPTLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.MLLPTLSCert, cfg.MLLPTLSKey)
	if err != nil {
		return nil, fmt.Errorf("MLLP_TLS_CERT/MLLP_TLS_KEY: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.MLLPTLSClientCA != "" {
		pem, err := os.ReadFile(cfg.MLLPTLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("MLLP_TLS_CLIENT_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("MLLP_TLS_CLIENT_CA: no PEM certificates found")
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// Start binds both listeners (so address errors are returned here) and
// serves them in the background.
func (a *App) Start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", a.cfg.MLLPAddr)
	if err != nil {
		return fmt.Errorf("MLLP_ADDR: %w", err)
	}
	hl, err := lc.Listen(ctx, "tcp", a.cfg.HTTPAddr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	if a.metrics != nil {
		ml, err := lc.Listen(ctx, "tcp", a.cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			hl.Close()
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
		a.metricsLn = ml
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := a.metrics.Serve(ml); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.errc <- fmt.Errorf("metrics http: %w", err)
			}
		}()
	}
	a.mllpLn, a.httpLn = ln, hl
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.stop = cancel
	a.wg.Add(3)
	go func() {
		defer a.wg.Done()
		if err := a.mllp.Serve(ln); err != nil && !errors.Is(err, mllp.ErrServerClosed) {
			a.errc <- fmt.Errorf("mllp: %w", err)
		}
	}()
	go func() {
		defer a.wg.Done()
		if err := a.http.Serve(hl); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.errc <- fmt.Errorf("http: %w", err)
		}
	}()
	go func() {
		defer a.wg.Done()
		a.pruneLoop(bg)
	}()
	a.pat.run(bg, a)
	if a.archive != nil {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.archive.Run(bg)
		}()
	}
	a.ready.Store(true)
	a.m.ready.Set(1)
	a.log.Info("apptbridge ready",
		zap.String("mllp_addr", ln.Addr().String()),
		zap.String("http_addr", hl.Addr().String()),
		zap.String("metrics_addr", a.cfg.MetricsAddr),
		zap.Bool("mllp_tls", a.mllp.TLSConfig != nil),
		zap.String("store", a.cfg.StoreKind()),
		zap.String("store_location", a.cfg.StoreLocation()),
		zap.Bool("s3_archive", a.archive != nil))
	if a.cfg.SandboxSMS() {
		a.log.Info("SMS sandbox: no Twilio credentials are set, so no text is sent to any phone; texts are kept and shown by GET /v1/sandbox/texts")
	}
	if !a.cfg.LoginEnabled() {
		a.log.Info("admin page: sign-in is off until APPLICATION_PASSWORD (or APPLICATION_PASSWORD_HASH) is set")
	}
	if a.pat.ehr == nil {
		a.log.Info("no EHR_MLLP_ADDR or EHR_WEBHOOK_URL: patient requests are recorded and wait until an EHR is configured")
	}
	return nil
}

// afterIngest wakes the workers an ingested message concerns (the
// archive worker is woken by the store: store.NotifyArchive).
func (a *App) afterIngest(r store.IngestResult) {
	a.pat.afterIngest(r)
}

// MLLPAddr returns the bound MLLP address (after Start).
func (a *App) MLLPAddr() net.Addr { return a.mllpLn.Addr() }

// HTTPAddr returns the bound HTTP address (after Start).
func (a *App) HTTPAddr() net.Addr { return a.httpLn.Addr() }

// MetricsAddr returns the bound METRICS_ADDR listener's address; nil when
// METRICS_ADDR is not set.
func (a *App) MetricsAddr() net.Addr {
	if a.metricsLn == nil {
		return nil
	}
	return a.metricsLn.Addr()
}

// Store returns the app's store.
func (a *App) Store() store.Store { return a.db }

// Errors reports fatal serve errors.
func (a *App) Errors() <-chan error { return a.errc }

// Shutdown stops accepting, lets every connection finish and answer the
// message in hand, stops background jobs and closes the store.
func (a *App) Shutdown(ctx context.Context) error {
	var errs []error
	a.closeOnce.Do(func() {
		a.ready.Store(false)
		a.m.ready.Set(0)
		if a.stop != nil {
			if err := a.mllp.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("mllp shutdown: %w", err))
			}
			if err := a.http.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("http shutdown: %w", err))
			}
			if a.metrics != nil {
				if err := a.metrics.Shutdown(ctx); err != nil {
					errs = append(errs, fmt.Errorf("metrics shutdown: %w", err))
				}
			}
			a.stop()
			a.wg.Wait()
		}
		a.pat.close()
		if err := a.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
		a.log.Info("apptbridge stopped")
	})
	return errors.Join(errs...)
}

func (a *App) pruneLoop(ctx context.Context) {
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := a.now()
		n, err := a.db.Prune(ctx, now.Add(-a.cfg.DedupRetention), now.Add(-a.cfg.RawRetention))
		if err != nil && ctx.Err() == nil {
			a.log.Warn("prune failed", zap.Error(err))
		} else if n > 0 {
			a.log.Info("pruned old inbound messages", zap.Int("rows", n))
		}
		t.Reset(time.Hour)
	}
}

func (a *App) connState(c net.Conn, s mllp.ConnState) {
	switch s {
	case mllp.StateNew:
		a.m.connsOpen.Inc()
	case mllp.StateClosed:
		a.m.connsOpen.Dec()
		a.m.conns.WithLabelValues("accepted").Inc()
	case mllp.StateRejected:
		a.m.connsOpen.Dec()
		a.m.conns.WithLabelValues("rejected").Inc()
		a.log.Warn("mllp connection rejected", zap.String("remote", remoteIP(c)))
	}
}

func remoteIP(c net.Conn) string {
	if c == nil || c.RemoteAddr() == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return ""
	}
	return host
}

func (a *App) frameError(err error) {
	reason := "other"
	switch {
	case errors.Is(err, mllp.ErrFrameTooLarge):
		reason = "too_large"
	case errors.Is(err, os.ErrDeadlineExceeded):
		reason = "stall"
	case errors.Is(err, mllp.ErrMissingCR):
		reason = "missing_cr"
	default:
		reason = "truncated"
	}
	a.m.frameErrors.WithLabelValues(reason).Inc()
}

// httpServer is an HTTP server with the timeouts every listener of ours
// has (a slow or stalled client cannot hold a connection open).
func (a *App) httpServer(h http.Handler, name string) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(a.log.Named(name)),
	}
}

func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	a.pat.register(mux)
	mux.Handle("GET /{$}", admin.Handler())
	mux.Handle("GET /assets/", admin.Handler())
	if a.cfg.MetricsAddr == "" {
		a.opsRoutes(mux)
	} else {
		// The health checks stay on the public listener too: load
		// balancers probe the address they balance.
		a.healthRoutes(mux)
	}
	return mux
}

// opsRoutes adds /metrics and the health checks.
func (a *App) opsRoutes(mux *http.ServeMux) {
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	a.healthRoutes(mux)
}

// healthRoutes adds /healthz (the process answers) and /readyz (it is
// started and its store answers).
func (a *App) healthRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !a.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready: starting or stopping\n"))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.db.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready: store unavailable\n"))
			return
		}
		w.Write([]byte("ready\n"))
	})
}
