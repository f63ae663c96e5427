package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// The admin page's reads: dashboard counts and health, an appointment's
// whole timeline, the audit log.

// Health levels of a dashboard tile.
const (
	healthOK   = "ok"
	healthWarn = "warn"
	healthBad  = "bad"
)

type statsJSON struct {
	Dispositions map[apptbridge.Disposition]int `json:"dispositions"`
	Inbound      struct {
		LastHour       int        `json:"last_hour"`
		ErrorsLastHour int        `json:"errors_last_hour"`
		LastAt         *time.Time `json:"last_at"`
	} `json:"inbound"`
	Queues []queueJSON `json:"queues"`
	Texts  struct {
		Sent24h   int `json:"sent_24h"`
		Failed24h int `json:"failed_24h"`
	} `json:"texts"`
	Requests struct {
		Dead int `json:"dead"`
	} `json:"requests"`
	Reminders struct {
		Planned    int        `json:"planned"`
		NextDue    *time.Time `json:"next_due"`
		Sent24h    int        `json:"sent_24h"`
		Skipped24h int        `json:"skipped_24h"`
	} `json:"reminders"`
	MLLP struct {
		Addr string `json:"addr"`
	} `json:"mllp"`
	Sandbox bool              `json:"sandbox"`
	Health  map[string]string `json:"health"`
}

type queueJSON struct {
	Queue  string     `json:"queue"`
	Depth  int        `json:"depth"`
	Oldest *time.Time `json:"oldest"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func (a *API) stats(w http.ResponseWriter, r *http.Request) {
	now := a.cfg.Now()
	s, err := a.cfg.Store.Stats(r.Context(), now)
	if err != nil {
		a.internal(w, "stats", err)
		return
	}
	var out statsJSON
	out.Dispositions = make(map[apptbridge.Disposition]int, len(apptbridge.Dispositions))
	for _, d := range apptbridge.Dispositions {
		out.Dispositions[d] = s.Dispositions[d]
	}
	out.Inbound.LastHour, out.Inbound.ErrorsLastHour, out.Inbound.LastAt = s.InboundLastHour, s.InboundErrorLastHour, timePtr(s.InboundLastAt)
	out.Queues = []queueJSON{}
	for _, q := range s.Queues {
		out.Queues = append(out.Queues, queueJSON{Queue: q.Queue, Depth: q.Depth, Oldest: timePtr(q.Oldest)})
	}
	out.Texts.Sent24h, out.Texts.Failed24h = s.TextsSent24h, s.TextsFailed24h
	out.Requests.Dead = s.RequestsDead
	out.Reminders.Planned, out.Reminders.NextDue = s.RemindersPlanned, timePtr(s.RemindersNextDue)
	out.Reminders.Sent24h, out.Reminders.Skipped24h = s.RemindersSent24h, s.RemindersSkip24h
	if a.cfg.MLLPAddr != nil {
		out.MLLP.Addr = a.cfg.MLLPAddr()
	}
	out.Sandbox = a.cfg.Sandbox
	out.Health = health(s, now)
	writeJSON(w, http.StatusOK, out)
}

// health grades the dashboard's tiles. The thresholds are the alert
// rules' (deploy/prometheus/alerts.yml), so the page and the pager agree.
func health(s *store.Stats, now time.Time) map[string]string {
	h := map[string]string{"mllp": healthOK, "texts": healthOK, "requests": healthOK, "reminders": healthOK}
	if s.InboundLastHour > 0 {
		switch share := float64(s.InboundErrorLastHour) / float64(s.InboundLastHour); {
		case share > 0.20:
			h["mllp"] = healthBad
		case share > 0.05:
			h["mllp"] = healthWarn
		}
	}
	oldest := func(queue string) time.Duration {
		for _, q := range s.Queues {
			if q.Queue == queue && !q.Oldest.IsZero() {
				return now.Sub(q.Oldest)
			}
		}
		return 0
	}
	switch age := oldest("texts"); {
	case age > 15*time.Minute:
		h["texts"] = healthBad
	case age > 5*time.Minute || s.TextsFailed24h > 0:
		h["texts"] = healthWarn
	}
	switch {
	case s.RequestsDead > 0:
		h["requests"] = healthBad
	case oldest("requests") > 5*time.Minute:
		h["requests"] = healthWarn
	}
	if !s.RemindersNextDue.IsZero() && now.Sub(s.RemindersNextDue) > time.Minute {
		h["reminders"] = healthWarn // the worker is behind
	}
	return h
}

type reminderJSON struct {
	Ordinal  int       `json:"ordinal"`
	StartUTC time.Time `json:"start_utc"`
	DueAt    time.Time `json:"due_at"`
	Status   string    `json:"status"`
	Reason   string    `json:"reason,omitempty"`
	SentAt   time.Time `json:"sent_at,omitzero"`
	Updated  time.Time `json:"updated_at"`
}

type inboundJSON struct {
	ControlID   string    `json:"message_control_id"`
	MessageType string    `json:"message_type"`
	ReceivedAt  time.Time `json:"received_at"`
	AckCode     string    `json:"ack_code"`
	EventID     string    `json:"event_id,omitempty"`
	// Raw is the message (segments separated by \r) until RAW_RETENTION
	// prunes it; Ack the ACK sent.
	Raw string `json:"raw,omitempty"`
	Ack string `json:"ack,omitempty"`
}

// adminDetail adds what only an administrator sees to an appointment:
// its reminders and the HL7 messages that carried its events.
func (a *API) adminDetail(ctx context.Context, id string, out *appointmentJSON) error {
	rems, err := a.cfg.Store.RemindersOf(ctx, id)
	if err != nil {
		return err
	}
	out.Reminders = []reminderJSON{}
	for _, r := range rems {
		out.Reminders = append(out.Reminders, reminderJSON{Ordinal: r.Ordinal, StartUTC: r.StartUTC, DueAt: r.DueAt,
			Status: r.Status, Reason: r.Reason, SentAt: r.SentAt, Updated: r.UpdatedAt})
	}
	in, err := a.cfg.Store.InboundOf(ctx, id)
	if err != nil {
		return err
	}
	out.HL7In = []inboundJSON{}
	for _, m := range in {
		out.HL7In = append(out.HL7In, inboundJSON{ControlID: m.Key.ControlID, MessageType: m.MessageType,
			ReceivedAt: m.ReceivedAt, AckCode: m.AckCode, EventID: m.EventID, Raw: string(m.Raw), Ack: string(m.Ack)})
	}
	return nil
}

type auditJSON struct {
	Seq      int64     `json:"seq"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	Target   string    `json:"target,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	RemoteIP string    `json:"remote_ip,omitempty"`
	Hash     string    `json:"hash"`
}

// auditLog lists audit entries oldest first from ?after (a seq) and says
// whether the chain verifies from the first entry to the last listed.
func (a *API) auditLog(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	if !p.Admin() {
		writeError(w, http.StatusForbidden, "forbidden", "the audit log is for signed-in administrators", nil)
		return
	}
	q := r.URL.Query()
	var after int64
	limit := 100
	var ferrs []FieldError
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			ferrs = append(ferrs, FieldError{Field: "after", Message: "must be a sequence number"})
		}
		after = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			ferrs = append(ferrs, FieldError{Field: "limit", Message: "must be an integer from 1 to 1000"})
		}
		limit = n
	}
	if len(ferrs) > 0 {
		writeError(w, http.StatusBadRequest, "invalid", "invalid query parameters", ferrs)
		return
	}
	// Verify the chain from the start (the log is small: admin actions).
	var prev store.Hash
	var listed []*store.AuditEntry
	verr := error(nil)
	for seq := int64(0); ; {
		page, err := a.cfg.Store.Audit(r.Context(), store.AuditFilter{AfterSeq: seq, Limit: 1000})
		if err != nil {
			a.internal(w, "audit log", err)
			return
		}
		if verr == nil {
			if verr = store.VerifyAuditChain(prev, page); verr == nil && len(page) > 0 {
				prev = page[len(page)-1].Hash
			}
		}
		for _, e := range page {
			if e.Seq > after && len(listed) < limit {
				listed = append(listed, e)
			}
		}
		if len(page) < 1000 {
			break
		}
		seq = page[len(page)-1].Seq
	}
	out := struct {
		Entries  []auditJSON `json:"entries"`
		Verified bool        `json:"verified"`
		Error    string      `json:"error,omitempty"`
	}{Entries: []auditJSON{}, Verified: verr == nil}
	if verr != nil {
		out.Error = verr.Error()
	}
	for _, e := range listed {
		out.Entries = append(out.Entries, auditJSON{Seq: e.Seq, At: e.At, Actor: e.Actor, Action: e.Action,
			Target: e.Target, Detail: e.Detail, RemoteIP: e.RemoteIP, Hash: store.HexHash(e.Hash)})
	}
	writeJSON(w, http.StatusOK, out)
}
