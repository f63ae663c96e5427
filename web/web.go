// Package web is apptbridge's HTTP surface: the /v1 API for integrators
// (events in, appointments out, dead letters), Twilio's webhooks (/twilio/sms,
// /twilio/status) and the SMS sandbox's phone simulator endpoints. It
// holds no logic of its own: requests are decoded and checked here, then
// handed to the store, the reply handler and the workers.
//
// Every response is JSON (TwiML for Twilio's inbound webhook) with
// Cache-Control: no-store; error bodies name the field or rule that
// failed and never echo a value (no PHI).
package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/mapping"
	"github.com/apptbridge/apptbridge/notify"
	"github.com/apptbridge/apptbridge/notify/twilio"
	"github.com/apptbridge/apptbridge/store"
)

// MaxBody is the largest request body accepted (413 beyond).
const MaxBody = 64 << 10

// Config wires the API.
type Config struct {
	Store   store.Store
	Replies *notify.Replies
	// Decode turns a /v1/events body into an event (mapping.DecodeJSON
	// with the configured defaults).
	Decode func(b []byte) (*apptbridge.Event, mapping.FieldErrors)
	// TwilioAuthToken checks webhook signatures; empty in the SMS sandbox
	// (the Twilio webhooks then answer 403: there is no Twilio).
	TwilioAuthToken string
	// PublicBaseURL is this service's public URL as Twilio calls it
	// ("https://appt.example.org"): signatures are over it plus the path.
	PublicBaseURL string
	// Sandbox turns on the phone simulator endpoints.
	Sandbox bool
	// DefaultCountry reads phone numbers typed in the simulator.
	DefaultCountry string
	// Kick wakes the outbox and EHR workers after a commit.
	Kick func()
	// Auth is the admin sign-in; nil turns it off.
	Auth *AuthConfig
	// MLLPAddr returns the MLLP listener's address (shown on the
	// dashboard); nil for none.
	MLLPAddr func() string
	// Simulate sends an HL7 message to this service's own MLLP listener
	// and returns the ACK (the admin page's event simulator).
	Simulate func(ctx context.Context, msg []byte) ([]byte, error)
	// CountEvent counts an event posted to /v1/events that reached the
	// state machine (nil: not counted).
	CountEvent func(typ apptbridge.EventType, applied bool)
	// DefaultTimezone reads simulated times without a zone.
	DefaultTimezone string
	Logger          *zap.Logger
	Metrics         *notify.Metrics
	Now             func() time.Time
}

// API serves the HTTP endpoints.
type API struct {
	cfg Config
	log *zap.Logger
	// passwordSlots holds one token per password check in flight
	// (PasswordChecks; see login).
	passwordSlots chan struct{}
}

// New returns the API.
func New(cfg Config) *API {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Kick == nil {
		cfg.Kick = func() {}
	}
	if cfg.CountEvent == nil {
		cfg.CountEvent = func(apptbridge.EventType, bool) {}
	}
	return &API{cfg: cfg, log: cfg.Logger, passwordSlots: make(chan struct{}, PasswordChecks)}
}

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("POST /v1/events", a.auth(a.postEvent))
	mux.Handle("GET /v1/appointments", a.auth(a.listAppointments))
	mux.Handle("GET /v1/appointments/{id}", a.auth(a.getAppointment))
	mux.Handle("GET /v1/requests", a.auth(a.listRequests))
	mux.Handle("POST /v1/requests/{id}/retry", a.auth(a.retryRequest))
	mux.HandleFunc("POST /twilio/sms", a.twilioSMS)
	mux.HandleFunc("POST /twilio/status", a.twilioStatus)
	if a.cfg.Sandbox {
		mux.Handle("GET /v1/sandbox/texts", a.auth(a.sandboxTexts))
		mux.Handle("POST /v1/sandbox/sms", a.auth(a.sandboxSMS))
	}
	// The admin page's sign-in and API (admin.go, auth.go, export.go,
	// simulate.go).
	mux.HandleFunc("GET /auth/config", a.authConfig)
	mux.HandleFunc("POST /auth/login", a.login)
	mux.HandleFunc("POST /auth/mfa", a.mfa)
	mux.HandleFunc("POST /auth/refresh", a.refresh)
	mux.HandleFunc("POST /auth/logout", a.logout)
	mux.Handle("GET /v1/stats", a.auth(a.stats))
	mux.Handle("GET /v1/audit", a.auth(a.auditLog))
	mux.Handle("GET /v1/export/{name}", a.auth(a.export))
	mux.Handle("POST /v1/simulate/event", a.auth(a.simulateEvent))
}

// Principal kinds.
const (
	PrincipalToken = "token" // an API token (apptbridge token create)
	PrincipalAdmin = "admin" // a signed-in administrator (app token)
)

// Principal is who made an API call.
type Principal struct {
	Kind string // PrincipalToken or PrincipalAdmin
	Name string // the token's name, or the admin session's id
}

// Admin reports whether the caller is a signed-in administrator.
func (p Principal) Admin() bool { return p.Kind == PrincipalAdmin }

// Actor names the caller in the audit log.
func (p Principal) Actor() string { return p.Kind + ":" + p.Name }

type principalKey struct{}

// PrincipalFrom returns the caller of an authenticated request.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// auth requires a bearer API token (apptbridge token create) or an admin
// app token with an open session.
func (a *API) auth(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="apptbridge"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "a bearer API token or admin token is required", nil)
			return
		}
		var p Principal
		if strings.HasPrefix(tok, TokenPrefix) {
			t, err := a.cfg.Store.TokenByHash(r.Context(), HashToken(tok))
			if err != nil {
				if apptbridge.ErrorCode(err) != apptbridge.ENOTFOUND {
					a.internal(w, "token lookup", err)
					return
				}
				unauthorized(w, "unknown or revoked API token")
				return
			}
			p = Principal{Kind: PrincipalToken, Name: t.Name}
		} else {
			sess, ok := a.sessionOf(w, r, tok, r.Header.Get(pollHeader) == "")
			if !ok {
				return
			}
			p = Principal{Kind: PrincipalAdmin, Name: sess.ID}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// TokenPrefix starts every API token (so secret scanners can find them).
const TokenPrefix = "abt_"

// NewToken returns a new API token and the hash to store.
func NewToken() (string, store.Hash) {
	var b [32]byte
	rand.Read(b[:])
	tok := TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return tok, HashToken(tok)
}

// HashToken is the stored form of a token: SHA-256 (a token has 256 bits
// of entropy, so a fast hash is enough).
func HashToken(tok string) store.Hash { return sha256.Sum256([]byte(tok)) }

// FieldError is one problem with one input field.
type FieldError = mapping.FieldError

type errorBody struct {
	Error struct {
		Code    string       `json:"code"`
		Message string       `json:"message"`
		Fields  []FieldError `json:"fields,omitempty"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string, fields []FieldError) {
	var b errorBody
	b.Error.Code, b.Error.Message, b.Error.Fields = code, msg, fields
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// readBody reads at most MaxBody bytes; false (after answering 413/400)
// when the body is too large or unreadable.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body larger than %d bytes", MaxBody), nil)
		} else {
			writeError(w, http.StatusBadRequest, "bad_request", "unreadable body", nil)
		}
		return nil, false
	}
	return b, true
}

// internal answers 500 for an error the client cannot fix; the error is
// logged (store errors carry ids, never PHI).
func (a *API) internal(w http.ResponseWriter, op string, err error) {
	a.log.Error("api: "+op, zap.Error(err))
	writeError(w, http.StatusInternalServerError, "internal", op+" failed", nil)
}

func (a *API) postEvent(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	ev, ferrs := a.cfg.Decode(body)
	if len(ferrs) > 0 {
		writeError(w, http.StatusBadRequest, "invalid", "the event has invalid fields", ferrs)
		return
	}
	var res store.ApplyResult
	err := a.cfg.Store.Update(r.Context(), func(ctx context.Context, tx store.Tx) error {
		var err error
		res, err = tx.Apply(ctx, ev)
		return err
	})
	if apptbridge.ErrorCode(err) == apptbridge.ECONFLICT {
		// The same event_id again: an integrator's retry. Nothing new.
		writeJSON(w, http.StatusOK, map[string]any{"event_id": ev.EventID, "duplicate": true})
		return
	}
	if err != nil {
		a.internal(w, "store event", err)
		return
	}
	if res.Outcome.Applied {
		a.cfg.Kick() // a text, a request or a new reminder plan
	}
	o := res.Outcome
	a.cfg.CountEvent(ev.EventType, o.Applied)
	out := map[string]any{
		"event_id":       ev.EventID,
		"appointment_id": ev.AppointmentID,
		"applied":        o.Applied,
		"disposition":    o.To,
	}
	if o.Reason != "" {
		out["reason"] = o.Reason
	}
	if o.Text != apptbridge.TextNone {
		out["text"] = o.Text
	}
	if o.Suppressed != "" {
		out["suppressed"] = o.Suppressed
	}
	a.log.Info("event via http", zap.String("event_id", ev.EventID), zap.String("appointment_id", ev.AppointmentID),
		zap.String("event_type", string(ev.EventType)), zap.Bool("applied", o.Applied))
	writeJSON(w, http.StatusAccepted, out)
}

// appointmentJSON is an appointment as /v1 shows it (SPEC §11).
type appointmentJSON struct {
	*apptbridge.Appointment
	// Always present, [] when empty (SPEC §11 lists them).
	History  []historyJSON `json:"history"`
	Texts    []textJSON    `json:"texts"`
	Requests []requestJSON `json:"requests"`
	// For an administrator only (the admin page's timeline): [] when
	// empty, absent for an API token (omitzero: nil only).
	Reminders []reminderJSON `json:"reminders,omitzero"`
	HL7In     []inboundJSON  `json:"hl7_in,omitzero"`
}

type historyJSON struct {
	EventID          string    `json:"event_id"`
	EventType        string    `json:"event_type"`
	EventDatetimeUTC time.Time `json:"event_datetime_utc,omitzero"`
	Applied          bool      `json:"applied"`
	Reason           string    `json:"reason"`
	From             string    `json:"from"`
	To               string    `json:"to"`
	Text             string    `json:"text,omitempty"`
	Suppressed       string    `json:"suppressed,omitempty"`
	Channel          string    `json:"channel,omitempty"`
	ControlID        string    `json:"message_control_id,omitempty"`
	MessageType      string    `json:"message_type,omitempty"`
	RecordedAt       time.Time `json:"recorded_at"`
}

type textJSON struct {
	ID        string    `json:"id"`
	Direction string    `json:"direction"`
	Kind      string    `json:"kind"`
	Status    string    `json:"status"`
	Reason    string    `json:"reason,omitempty"`
	SID       string    `json:"sid,omitempty"`
	ErrorCode int       `json:"error_code,omitempty"`
	Attempts  int       `json:"attempts,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	SentAt    time.Time `json:"sent_at,omitzero"`
	// Body only where the caller may see it (the sandbox simulator; the
	// admin page later).
	Body          string `json:"body,omitempty"`
	Phone         string `json:"phone,omitempty"`
	AppointmentID string `json:"appointment_id,omitempty"`
}

type requestJSON struct {
	ID            string    `json:"id"`
	AppointmentID string    `json:"appointment_id"`
	Type          string    `json:"type"`
	Status        string    `json:"status"`
	AckCode       string    `json:"ack_code,omitempty"`
	ControlID     string    `json:"message_control_id"`
	Attempts      int       `json:"attempts"`
	LastError     string    `json:"last_error,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func toText(t *store.Text, withBody bool) textJSON {
	j := textJSON{ID: t.ID, Direction: t.Direction, Kind: string(t.Kind), Status: t.Status, Reason: t.Reason,
		SID: t.SID, ErrorCode: t.ErrorCode, Attempts: t.Attempts, CreatedAt: t.CreatedAt, SentAt: t.SentAt}
	if withBody {
		j.Body, j.Phone = t.Body, t.Phone
	}
	return j
}

func toRequest(r *store.Request) requestJSON {
	return requestJSON{ID: r.ID, AppointmentID: r.AppointmentID, Type: string(r.Type), Status: r.Status,
		AckCode: r.AckCode, ControlID: r.ControlID, Attempts: r.Attempts, LastError: r.LastError,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func (a *API) getAppointment(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx := r.Context()
	appt, err := a.cfg.Store.Appointment(ctx, id)
	if apptbridge.ErrorCode(err) == apptbridge.ENOTFOUND {
		writeError(w, http.StatusNotFound, "not_found", "no appointment with that appointment_id", nil)
		return
	}
	if err != nil {
		a.internal(w, "load appointment", err)
		return
	}
	hist, err := a.cfg.Store.History(ctx, id)
	if err != nil {
		a.internal(w, "load history", err)
		return
	}
	texts, err := a.cfg.Store.Texts(ctx, store.TextFilter{AppointmentID: id, Limit: 1000})
	if err != nil {
		a.internal(w, "load texts", err)
		return
	}
	reqs, err := a.cfg.Store.Requests(ctx, store.RequestFilter{AppointmentID: id, Limit: 1000})
	if err != nil {
		a.internal(w, "load requests", err)
		return
	}
	out := appointmentJSON{Appointment: appt, History: []historyJSON{}, Texts: []textJSON{}, Requests: []requestJSON{}}
	for _, h := range hist {
		j := historyJSON{EventID: h.Event.EventID, EventType: string(h.Event.EventType),
			EventDatetimeUTC: h.Event.EventDatetimeUTC, Applied: h.Applied, Reason: h.Reason,
			From: string(h.From), To: string(h.To), Text: string(h.Text), Suppressed: h.Suppressed,
			RecordedAt: h.RecordedAt}
		if s := h.Event.Source; s != nil {
			j.Channel, j.ControlID, j.MessageType = s.Channel, s.MessageControlID, s.MessageType
		}
		out.History = append(out.History, j)
	}
	p, _ := PrincipalFrom(ctx)
	// Texts oldest first, like the history; bodies for an administrator.
	for i := len(texts) - 1; i >= 0; i-- {
		out.Texts = append(out.Texts, toText(texts[i], p.Admin()))
	}
	for _, q := range reqs {
		out.Requests = append(out.Requests, toRequest(q))
	}
	if p.Admin() {
		if err := a.adminDetail(ctx, id, &out); err != nil {
			a.internal(w, "load timeline", err)
			return
		}
		a.auditAs(r, "view.appointment", id, "")
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) listAppointments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.Filter{PatientID: q.Get("patient_id"), Disposition: apptbridge.Disposition(strings.ToUpper(q.Get("disposition"))),
		After: q.Get("after")}
	var ferrs []FieldError
	if f.Disposition != "" && !validDisposition(f.Disposition) {
		ferrs = append(ferrs, FieldError{Field: "disposition", Message: "must be one of QUEUED REMINDED-1 REMINDED-2 CANCELED NOSHOWED EXPIRED OPTED-OUT"})
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(p.name); v != "" {
			t, err := parseTimeParam(v)
			if err != nil {
				ferrs = append(ferrs, FieldError{Field: p.name, Message: "must be RFC 3339 (2026-12-01T00:00:00Z) or a date (2026-12-01, UTC)"})
			}
			*p.dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			ferrs = append(ferrs, FieldError{Field: "limit", Message: "must be an integer from 1 to 1000"})
		}
		f.Limit = n
	}
	if len(ferrs) > 0 {
		writeError(w, http.StatusBadRequest, "invalid", "invalid query parameters", ferrs)
		return
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	list, err := a.cfg.Store.Appointments(r.Context(), f)
	if err != nil {
		a.internal(w, "list appointments", err)
		return
	}
	out := map[string]any{"appointments": list}
	if list == nil {
		out["appointments"] = []any{}
	}
	if len(list) == f.Limit {
		out["next_after"] = list[len(list)-1].AppointmentID
	}
	writeJSON(w, http.StatusOK, out)
}

func validDisposition(d apptbridge.Disposition) bool {
	for _, x := range apptbridge.Dispositions {
		if x == d {
			return true
		}
	}
	return false
}

func parseTimeParam(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	return time.Parse("2006-01-02", v)
}

func (a *API) listRequests(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.RequestFilter{AppointmentID: q.Get("appointment_id"), Status: q.Get("status"), Limit: 1000}
	switch f.Status {
	case "", store.RequestPending, store.RequestSending, store.RequestAcked, store.RequestDead:
	default:
		writeError(w, http.StatusBadRequest, "invalid", "invalid query parameters",
			[]FieldError{{Field: "status", Message: "must be pending, sending, acked or dead"}})
		return
	}
	list, err := a.cfg.Store.Requests(r.Context(), f)
	if err != nil {
		a.internal(w, "list requests", err)
		return
	}
	out := []requestJSON{}
	for _, q := range list {
		out = append(out, toRequest(q))
	}
	writeJSON(w, http.StatusOK, map[string]any{"requests": out})
}

func (a *API) retryRequest(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := a.cfg.Store.RetryRequest(r.Context(), id, a.cfg.Now())
	switch apptbridge.ErrorCode(err) {
	case "":
	case apptbridge.ENOTFOUND:
		writeError(w, http.StatusNotFound, "not_found", "no request with that id", nil)
		return
	case apptbridge.EINVALID:
		writeError(w, http.StatusConflict, "not_retryable", apptbridge.ErrorMessage(err), nil)
		return
	default:
		a.internal(w, "retry request", err)
		return
	}
	p, _ := PrincipalFrom(r.Context())
	a.log.Info("dead letter retried", zap.String("request_id", id), zap.String("by", p.Actor()))
	a.auditAs(r, "retry", id, "dead letter back to pending")
	a.cfg.Kick()
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "status": store.RequestPending})
}

// twilioSMS is Twilio's inbound message webhook.
func (a *API) twilioSMS(w http.ResponseWriter, r *http.Request) {
	form, ok := a.twilioForm(w, r)
	if !ok {
		return
	}
	in := notify.InboundSMS{SID: form.Get("MessageSid"), From: form.Get("From"), To: form.Get("To"),
		Body: form.Get("Body"), ReceivedAt: a.cfg.Now()}
	if in.SID == "" {
		in.SID = form.Get("SmsSid")
	}
	if in.SID == "" || in.From == "" {
		writeError(w, http.StatusBadRequest, "invalid", "MessageSid and From are required", nil)
		return
	}
	// Twilio sends E.164 already; a gateway may not. Phones are compared
	// byte for byte in the store, so normalize like HL7 phones are.
	if p, ok := mapping.NormalizePhone(in.From, a.cfg.DefaultCountry); ok {
		in.From = p
	}
	if _, err := a.cfg.Replies.Handle(r.Context(), in); err != nil {
		// Nothing was stored: a 5xx makes Twilio retry the webhook.
		a.internal(w, "reply", err)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response></Response>`))
}

// twilioStatus is Twilio's message status callback.
func (a *API) twilioStatus(w http.ResponseWriter, r *http.Request) {
	form, ok := a.twilioForm(w, r)
	if !ok {
		return
	}
	sid, status := form.Get("MessageSid"), form.Get("MessageStatus")
	if sid == "" {
		sid = form.Get("SmsSid")
	}
	if status == "" {
		status = form.Get("SmsStatus")
	}
	if sid == "" || status == "" {
		writeError(w, http.StatusBadRequest, "invalid", "MessageSid and MessageStatus are required", nil)
		return
	}
	code, _ := strconv.Atoi(form.Get("ErrorCode"))
	t, moved, err := a.cfg.Store.TextStatus(r.Context(), sid, status, code)
	switch {
	case apptbridge.ErrorCode(err) == apptbridge.ENOTFOUND:
		// Not ours (or not recorded yet): acknowledge, nothing to do.
		a.log.Warn("status callback for an unknown message", zap.String("sid", sid))
	case err != nil:
		a.internal(w, "status callback", err)
		return
	}
	a.cfg.Metrics.StatusCallback(status, moved)
	// Flagging is idempotent, so a retried callback (after a failure here)
	// flags the phone even though the status no longer moves; a late one
	// that lost to a further status does not.
	if t != nil && twilio.FlagsPhone(code) && (moved || t.Status == status) {
		err := a.cfg.Store.Update(r.Context(), func(ctx context.Context, tx store.Tx) error {
			return tx.FlagPhone(ctx, t.Phone, code)
		})
		if err != nil {
			a.internal(w, "flag phone", err)
			return
		}
		a.log.Info("phone flagged undeliverable", zap.String("sid", sid), zap.Int("code", code))
	}
	w.WriteHeader(http.StatusNoContent)
}

// twilioForm reads and authenticates a Twilio webhook: 403 without a
// valid X-Twilio-Signature (and always in the sandbox, which has no
// Twilio), 413 for a body over MaxBody.
func (a *API) twilioForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if a.cfg.TwilioAuthToken == "" {
		writeError(w, http.StatusForbidden, "forbidden", "Twilio webhooks are off in the SMS sandbox (no TWILIO_AUTH_TOKEN)", nil)
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body larger than %d bytes", MaxBody), nil)
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "bad_request", "unreadable form", nil)
		return nil, false
	}
	u := strings.TrimRight(a.cfg.PublicBaseURL, "/") + r.URL.RequestURI()
	if !twilio.ValidateSignature(a.cfg.TwilioAuthToken, u, r.PostForm, r.Header.Get("X-Twilio-Signature")) {
		a.log.Warn("twilio webhook with a bad signature", zap.String("path", r.URL.Path))
		writeError(w, http.StatusForbidden, "forbidden", "invalid X-Twilio-Signature", nil)
		return nil, false
	}
	return r.PostForm, true
}
