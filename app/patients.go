package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/ehr"
	"github.com/apptbridge/apptbridge/mapping"
	"github.com/apptbridge/apptbridge/notify"
	"github.com/apptbridge/apptbridge/notify/twilio"
	"github.com/apptbridge/apptbridge/reminder"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/web"
)

// patients is the patient loop: the outbox worker that texts, the reply
// handler, the EHR request worker and the HTTP API over them.
type patients struct {
	texts   *notify.Worker
	replies *notify.Replies
	ehr     *ehr.Worker // nil when no EHR is configured
	ehrConn interface{ Close() error }
	api     *web.API
	// reminders is set by App.New (it needs the store's planner).
	reminders *reminder.Worker
}

// newPatients builds the patient loop from the configuration.
func (a *App) newPatients(cfg Config, mapper *mapping.Mapper) (*patients, error) {
	p := &patients{}
	tmpl, err := notify.LoadTemplates(cfg.TemplatesDir)
	if err != nil {
		return nil, fmt.Errorf("TEMPLATES_DIR: %w", err)
	}
	defTZ, err := time.LoadLocation(cfg.DefaultTimezone)
	if err != nil {
		return nil, fmt.Errorf("DEFAULT_TIMEZONE: %w", err)
	}
	var window notify.Window
	if cfg.EventTextsInWindow {
		if window, err = notify.ParseWindow(cfg.ReminderOutreachStart, cfg.ReminderOutreachFinish); err != nil {
			return nil, err
		}
	}
	nm := notify.NewMetrics(a.reg)
	p.texts = &notify.Worker{
		Store:     a.db,
		Templates: tmpl,
		Vars:      notify.Vars{CustomerName: cfg.CustomerName, CallbackPhone: cfg.CallbackPhone},
		Window:    window,
		DefaultTZ: defTZ,
		Rate:      cfg.SMSRatePerSecond,
		Now:       a.now,
		Logger:    a.log.Named("texts"),
		Metrics:   nm,
		OptOut: func(ctx context.Context, tx store.Tx, phone string, now time.Time) error {
			src := &apptbridge.Source{Channel: apptbridge.ChannelSystem, ReceivedAt: now}
			return notify.OptOutPhone(ctx, tx, phone, now, src, nil)
		},
	}
	if !cfg.SandboxSMS() {
		callback := ""
		if cfg.PublicBaseURL != "" {
			callback = strings.TrimRight(cfg.PublicBaseURL, "/") + "/twilio/status"
		}
		c, err := twilio.New(twilio.Config{
			AccountSID:          cfg.TwilioAccountSID,
			AuthToken:           cfg.TwilioAuthToken.Value(),
			From:                cfg.TwilioPhoneNumber,
			MessagingServiceSID: cfg.TwilioMessagingServiceSID,
			BaseURL:             cfg.TwilioAPIBaseURL,
			StatusCallback:      callback,
		})
		if err != nil {
			return nil, fmt.Errorf("twilio: %w", err)
		}
		p.texts.Sender = c
	}
	p.replies = &notify.Replies{
		Store:    a.db,
		Now:      a.now,
		Logger:   a.log.Named("replies"),
		Metrics:  nm,
		OnCommit: func(notify.ReplyResult) { p.kick() },
	}

	var ch ehr.Channel
	switch {
	case cfg.EHRMLLPAddr != "":
		s := &ehr.MLLPSender{Addr: cfg.EHRMLLPAddr, AckTimeout: cfg.EHRAckTimeout,
			Options: ehr.BuildOptions{Profile: ehr.Profile(cfg.EHRProfile), SendingFacility: cfg.CustomerCode}}
		ch, p.ehrConn = s, s
	case cfg.EHRWebhookURL != "":
		ch = &ehr.WebhookSender{URL: cfg.EHRWebhookURL, Secret: []byte(cfg.EHRWebhookSecret.Value())}
	}
	if ch != nil {
		p.ehr = &ehr.Worker{
			Queue:         a.db,
			Channel:       ch,
			Lease:         cfg.EHRAckTimeout + time.Minute,
			MaxARAttempts: cfg.EHRMaxARAttempts,
			Now:           a.now,
			Logger:        a.log.Named("ehr"),
			Metrics:       ehr.NewMetrics(a.reg),
		}
	}

	// JSON events read times, phones and locations like HL7 ones.
	jsonOpts := mapper.JSONOptions()
	jsonOpts.Now = a.now
	if err := jsonOpts.Validate(); err != nil {
		return nil, fmt.Errorf("JSON events: %w", err)
	}
	p.api = web.New(web.Config{
		Store:   a.db,
		Replies: p.replies,
		Decode: func(b []byte) (*apptbridge.Event, mapping.FieldErrors) {
			return mapping.DecodeJSON(b, jsonOpts)
		},
		TwilioAuthToken: cfg.TwilioAuthToken.Value(),
		PublicBaseURL:   cfg.PublicBaseURL,
		Sandbox:         cfg.SandboxSMS(),
		DefaultCountry:  cfg.DefaultCountry,
		Kick:            p.kick,
		CountEvent: func(typ apptbridge.EventType, applied bool) {
			a.events.CountEvent(typ, "api", applied)
		},
		Auth:            a.admin,
		MLLPAddr:        a.boundMLLPAddr,
		Simulate:        a.simulate,
		DefaultTimezone: cfg.DefaultTimezone,
		Logger:          a.log.Named("api"),
		Metrics:         nm,
		Now:             a.now,
	})
	a.reg.MustRegister(&queueCollector{db: a.db})
	return p, nil
}

// kick wakes the workers after a commit that may have queued work.
func (p *patients) kick() {
	p.texts.Kick()
	if p.reminders != nil {
		p.reminders.Kick()
	}
	if p.ehr != nil {
		p.ehr.Kick()
	}
}

// afterIngest wakes the workers when an ingested message queued a text or
// a request.
func (p *patients) afterIngest(r store.IngestResult) {
	if r.Outcome.Text != apptbridge.TextNone || r.Outcome.Request != "" {
		p.kick()
	} else if r.Outcome.Applied && p.reminders != nil {
		p.reminders.Kick() // the plan may have changed
	}
}

func (p *patients) register(mux *http.ServeMux) { p.api.Register(mux) }

// run starts the workers; they stop when ctx ends.
func (p *patients) run(ctx context.Context, a *App) {
	a.wg.Add(2)
	go func() {
		defer a.wg.Done()
		p.texts.Run(ctx)
	}()
	go func() {
		defer a.wg.Done()
		p.reminders.Run(ctx)
	}()
	if p.ehr != nil {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := p.ehr.Run(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("ehr worker stopped", zap.Error(err))
			}
		}()
	}
}

func (p *patients) close() {
	if p.ehrConn != nil {
		p.ehrConn.Close()
	}
}

// queueCollector reports the outbox's depth and oldest age per queue at
// scrape time.
type queueCollector struct{ db store.Outbox }

var (
	queueDepthDesc = prometheus.NewDesc("apptbridge_outbox_depth",
		"Outbox rows not yet final, per queue (texts, requests; dead_requests are the dead letters).", []string{"queue"}, nil)
	queueAgeDesc = prometheus.NewDesc("apptbridge_outbox_oldest_age_seconds",
		"Age of the oldest row per queue (0 when empty).", []string{"queue"}, nil)
	queueOverdueDesc = prometheus.NewDesc("apptbridge_outbox_overdue_seconds",
		"How long the earliest due row of a queue has been waiting for the worker (0 when nothing is due; "+
			"rows held for the outreach window or a retry backoff are not due yet).", []string{"queue"}, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- queueAgeDesc
	ch <- queueOverdueDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	stats, err := c.db.QueueStats(ctx)
	if err != nil {
		return
	}
	now := time.Now()
	for _, s := range stats {
		ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(s.Depth), s.Queue)
		age := 0.0
		if !s.Oldest.IsZero() {
			age = max(now.Sub(s.Oldest).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, age, s.Queue)
	}
	for _, q := range []struct {
		name string
		next func(context.Context) (time.Time, error)
	}{{"texts", c.db.NextTextDue}, {"requests", c.db.NextRequestDue}} {
		next, err := q.next(ctx)
		if err != nil {
			continue
		}
		overdue := 0.0
		if !next.IsZero() {
			overdue = max(now.Sub(next).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(queueOverdueDesc, prometheus.GaugeValue, overdue, q.name)
	}
}
