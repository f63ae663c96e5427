package web_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/auth"
	"github.com/apptbridge/apptbridge/ingest"
	"github.com/apptbridge/apptbridge/internal/fakeclock"
	"github.com/apptbridge/apptbridge/mapping"
	"github.com/apptbridge/apptbridge/notify"
	"github.com/apptbridge/apptbridge/notify/twilio"
	"github.com/apptbridge/apptbridge/reminder"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/sqlite"
	"github.com/apptbridge/apptbridge/web"
)

// The tests run the real API over a real SQLite file, behind a real HTTP
// server, with a fixed clock that only moves when a test moves it.

const (
	testAccount = "AC00000000000000000000000000000001"
	testToken   = "0123456789abcdef0123456789abcdef"
	ourNumber   = "+15005550006"
)

// t0 is "now" at the start of every test: appointments in December 2026
// are upcoming.
var t0 = time.Date(2026, 11, 27, 14, 3, 0, 0, time.UTC)

// clock is the fake clock shared by the store and the code under test.
type clock = fakeclock.Clock

// countingStore is the real store with a counter of calls that may write:
// a rejected webhook must make none.
type countingStore struct {
	store.Store
	writes atomic.Int64
}

func (s *countingStore) Update(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	s.writes.Add(1)
	return s.Store.Update(ctx, fn)
}

func (s *countingStore) Ingest(ctx context.Context, in *store.Inbound) (store.IngestResult, error) {
	s.writes.Add(1)
	return s.Store.Ingest(ctx, in)
}

func (s *countingStore) OptOut(ctx context.Context, phone string) error {
	s.writes.Add(1)
	return s.Store.OptOut(ctx, phone)
}

func (s *countingStore) OptIn(ctx context.Context, phone string) error {
	s.writes.Add(1)
	return s.Store.OptIn(ctx, phone)
}

func (s *countingStore) Prune(ctx context.Context, keysBefore, rawBefore time.Time) (int, error) {
	s.writes.Add(1)
	return s.Store.Prune(ctx, keysBefore, rawBefore)
}

func (s *countingStore) ClaimTexts(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*store.Text, error) {
	s.writes.Add(1)
	return s.Store.ClaimTexts(ctx, owner, now, lease, limit)
}

func (s *countingStore) SaveText(ctx context.Context, owner string, t *store.Text) error {
	s.writes.Add(1)
	return s.Store.SaveText(ctx, owner, t)
}

func (s *countingStore) TextStatus(ctx context.Context, sid, status string, errorCode int) (*store.Text, bool, error) {
	s.writes.Add(1)
	return s.Store.TextStatus(ctx, sid, status, errorCode)
}

func (s *countingStore) ClaimRequest(ctx context.Context, owner string, now time.Time, lease time.Duration) (*store.Request, error) {
	s.writes.Add(1)
	return s.Store.ClaimRequest(ctx, owner, now, lease)
}

func (s *countingStore) SaveRequest(ctx context.Context, owner string, r *store.Request) error {
	s.writes.Add(1)
	return s.Store.SaveRequest(ctx, owner, r)
}

func (s *countingStore) RetryRequest(ctx context.Context, id string, now time.Time) error {
	s.writes.Add(1)
	return s.Store.RetryRequest(ctx, id, now)
}

func (s *countingStore) CreateToken(ctx context.Context, t *store.Token) error {
	s.writes.Add(1)
	return s.Store.CreateToken(ctx, t)
}

type options struct {
	twilioToken string // "" is the SMS sandbox
	sandbox     bool
	// baseURL overrides PUBLIC_BASE_URL (default: the test server's URL).
	baseURL string
	// trailingSlash: PUBLIC_BASE_URL is the server's URL with a "/".
	trailingSlash bool
	// auth turns the admin sign-in on (web.Config.Auth): adminPassword,
	// keys from adminSecret and salt (adminSalt when ""), codes texted to
	// adminPhone.
	auth bool
	salt string
	// ipLimit and account override the per-IP and account-wide failure
	// limits (default: 10 per 15 minutes, web.AccountFailures per
	// web.AccountWindow).
	ipLimit limit
	account limit
	// storeLimits counts failures in the store (web.StoreLimiter, as the
	// app does), shared with siblings; else in each API's memory.
	storeLimits bool
	// simulate wires web.Config.Simulate to the real ingest path, in
	// process (h.ingest).
	simulate bool
	// reminders plans reminders (REMINDER_FIRST_TIMING 4800, SECOND 2400,
	// window 0800–2100) in the store, as the app does.
	reminders bool
}

// limit is a failure limit: max failures per window.
type limit struct {
	max    int
	window time.Duration
}

type harness struct {
	t       *testing.T
	db      *sqlite.DB
	st      *countingStore
	clock   *clock
	srv     *httptest.Server
	mux     *http.ServeMux
	api     *web.API
	replies *notify.Replies
	token   string // a live API token
	opts    options
	kicks   atomic.Int64
	path    string // the SQLite file
	// keys are the admin token keys (opts.auth).
	keys *auth.Keys
	// ingest is the MLLP handler behind the simulator (opts.simulate).
	ingest *ingest.Handler
}

func newHarness(t testing.TB, o options) *harness {
	t.Helper()
	clk := fakeclock.New(t0)
	path := filepath.Join(t.TempDir(), "apptbridge.db")
	sopts := sqlite.Options{Now: clk.Now}
	if o.reminders {
		rc, err := reminder.NewConfig("4800", "2400", "0800", "2100", 3, nil)
		if err != nil {
			t.Fatal(err)
		}
		sopts.Planner = rc.Plan
	}
	db, err := sqlite.Open(context.Background(), path, sopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := &harness{db: db, path: path, st: &countingStore{Store: db}, clock: clk, opts: o}
	if tt, ok := t.(*testing.T); ok {
		h.t = tt
	}
	h.replies = &notify.Replies{Store: h.st, Now: clk.Now}
	if o.simulate {
		// As in the app, the mapper's zone is DEFAULT_TIMEZONE, the
		// simulator's too (web.Config.DefaultTimezone).
		m, err := mapping.New(mapping.Config{DefaultTimezone: "America/Chicago", DefaultCountry: "US", Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		h.ingest = ingest.New(ingest.Config{Store: h.st, Mapper: m, Now: clk.Now,
			OnCommit: func(store.IngestResult) { h.kicks.Add(1) }})
	}
	h.serve(t)

	tok, hash := web.NewToken()
	if !strings.HasPrefix(tok, web.TokenPrefix) {
		t.Fatalf("token %q lacks the prefix %q", tok, web.TokenPrefix)
	}
	if err := db.CreateToken(context.Background(), &store.Token{ID: apptbridge.NewEventID(), Name: "test", Hash: hash}); err != nil {
		t.Fatal(err)
	}
	h.token = tok
	return h
}

// serve starts the API on h's store behind a new test server.
func (h *harness) serve(t testing.TB) {
	t.Helper()
	o, clk := h.opts, h.clock
	jsonOpts := mapping.JSONOptions{DefaultTimezone: "America/New_York", DefaultCountry: "US", Now: clk.Now}
	h.mux = http.NewServeMux()
	h.srv = httptest.NewServer(h.mux)
	t.Cleanup(h.srv.Close)
	base := o.baseURL
	if base == "" {
		base = h.srv.URL
		if o.trailingSlash {
			base += "/"
		}
	}
	var ac *web.AuthConfig
	if o.auth {
		ac = h.authConfig(t, o.salt)
	}
	var simulate func(ctx context.Context, msg []byte) ([]byte, error)
	if h.ingest != nil {
		simulate = h.ingest.ServeMLLP
	}
	h.api = web.New(web.Config{
		Store:   h.st,
		Replies: h.replies,
		Decode: func(b []byte) (*apptbridge.Event, mapping.FieldErrors) {
			return mapping.DecodeJSON(b, jsonOpts)
		},
		TwilioAuthToken: o.twilioToken,
		PublicBaseURL:   base,
		Sandbox:         o.sandbox,
		DefaultCountry:  "US",
		Kick:            func() { h.kicks.Add(1) },
		Auth:            ac,
		MLLPAddr:        func() string { return "127.0.0.1:2575" },
		Simulate:        simulate,
		DefaultTimezone: "America/Chicago",
		Now:             clk.Now,
	})
	h.api.Register(h.mux)
}

// sibling is another process on h's store (same database, clock and API
// token) with its own API and server, its admin keys derived with salt.
func (h *harness) sibling(t *testing.T, salt string) *harness {
	t.Helper()
	s := &harness{t: t, db: h.db, path: h.path, st: h.st, clock: h.clock, replies: h.replies, token: h.token,
		opts: h.opts, ingest: h.ingest}
	s.opts.salt = salt
	s.serve(t)
	return s
}

// The admin sign-in of harnesses with options.auth.
const (
	adminPassword = "correct horse battery"
	adminPhone    = "+13125550100"
	adminSalt     = "test-salt-1"
)

// adminSecret is the store secret the harness's token keys derive from.
var adminSecret = []byte("harness-secret-0123456789abcdef!")

// adminHash is the password's argon2id hash, made once (it is slow on
// purpose, more so under -race).
var adminHash = sync.OnceValues(func() (*auth.PasswordHash, error) {
	return auth.NewPassword(adminPassword, "")
})

// authConfig is the admin sign-in with keys from adminSecret and salt.
func (h *harness) authConfig(t testing.TB, salt string) *web.AuthConfig {
	t.Helper()
	pw, err := adminHash()
	if err != nil {
		t.Fatal(err)
	}
	if salt == "" {
		salt = adminSalt
	}
	h.keys = auth.NewKeys(adminSecret, salt)
	c := &web.AuthConfig{
		Password:   pw,
		Keys:       h.keys,
		AdminPhone: adminPhone,
	}
	counter := func(prefix string, l, def limit) web.FailureCounter {
		l = cmp.Or(l, def)
		if h.opts.storeLimits {
			return web.NewStoreLimiter(h.st, prefix, l.max, l.window)
		}
		return web.Local(auth.NewLimiter(l.max, l.window))
	}
	c.Limiter = counter("ip:", h.opts.ipLimit, limit{10, 15 * time.Minute})
	c.Account = counter("account:", h.opts.account, limit{web.AccountFailures, web.AccountWindow})
	return c
}

// response is one HTTP answer, read in full.
type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r response) String() string { return fmt.Sprintf("HTTP %d %s", r.code, bytes.TrimSpace(r.body)) }

// do sends a request; token "" sends no Authorization header.
func (h *harness) do(method, path, token, contentType string, body io.Reader) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return h.send(req)
}

func (h *harness) send(req *http.Request) response {
	h.t.Helper()
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: b}
}

// get is an authenticated GET that must answer 200.
func (h *harness) get(path string, v any) {
	h.t.Helper()
	r := h.do(http.MethodGet, path, h.token, "", nil)
	if r.code != http.StatusOK {
		h.t.Fatalf("GET %s: %v", path, r)
	}
	checkJSONHeaders(h.t, r)
	r.decode(h.t, v)
}

func (h *harness) postJSON(path string, v any) response {
	h.t.Helper()
	var body []byte
	switch x := v.(type) {
	case string:
		body = []byte(x)
	case []byte:
		body = x
	default:
		var err error
		if body, err = json.Marshal(v); err != nil {
			h.t.Fatal(err)
		}
	}
	return h.do(http.MethodPost, path, h.token, "application/json", bytes.NewReader(body))
}

// postEvent posts an event that must be accepted (202) and returns the answer.
func (h *harness) postEvent(ev map[string]any) map[string]any {
	h.t.Helper()
	r := h.postJSON("/v1/events", ev)
	if r.code != http.StatusAccepted {
		h.t.Fatalf("POST /v1/events: %v", r)
	}
	var out map[string]any
	r.decode(h.t, &out)
	return out
}

func checkJSONHeaders(t *testing.T, r response) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
}

// simEvent is the original app's simulation event (ORIGINAL.md §1,
// functions/deployment/simulation-event.js) for one appointment.
func simEvent(eventType, appointmentID, patientID, phone, datetime string) map[string]any {
	return map[string]any{
		"event_type":              eventType,
		"event_datetime_utc":      t0.Format(time.RFC3339),
		"patient_id":              patientID,
		"patient_first_name":      "Jane",
		"patient_last_name":       "Doe",
		"patient_phone":           phone,
		"provider_id":             "afauci",
		"provider_first_name":     "Anthony",
		"provider_last_name":      "Diaz",
		"provider_callback_phone": "(800) 555-2222",
		"appointment_location":    "Pacific Primary Care",
		"appointment_id":          appointmentID,
		"appointment_timezone":    "-0700",
		"appointment_datetime":    datetime,
	}
}

// book posts a BOOKED event for an upcoming appointment.
func (h *harness) book(appointmentID, patientID, phone, datetime string) {
	h.t.Helper()
	out := h.postEvent(simEvent("BOOKED", appointmentID, patientID, phone, datetime))
	if out["applied"] != true || out["disposition"] != "QUEUED" {
		h.t.Fatalf("BOOKED %s: %v", appointmentID, out)
	}
}

var sidSeq atomic.Int64

// markSent plays the outbox worker: every text due now is marked sent
// with status (store.TextSandbox, or a Twilio status with a new SID) at the
// clock's time. It returns the texts it marked.
func (h *harness) markSent(status string) []*store.Text {
	h.t.Helper()
	ctx := context.Background()
	owner := "test-" + apptbridge.NewEventID()
	texts, err := h.db.ClaimTexts(ctx, owner, h.clock.Now(), time.Minute, 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, x := range texts {
		x.Status, x.SentAt, x.Attempts = status, h.clock.Now(), x.Attempts+1
		x.Body = "text " + string(x.Kind)
		x.LeaseOwner, x.LeaseUntil, x.NextAttemptAt = "", time.Time{}, time.Time{}
		if status != store.TextSandbox {
			x.SID = fmt.Sprintf("SM%032x", sidSeq.Add(1))
		}
		if err := h.db.SaveText(ctx, owner, x); err != nil {
			h.t.Fatal(err)
		}
	}
	return texts
}

// state is what a webhook could change, for "0 store writes" checks.
type state struct {
	Texts    []string
	Requests []string
	Appts    map[string]string // id → version/disposition
	Hist     map[string]int
	OptedOut map[string]bool
	Flagged  map[string]bool
}

func (h *harness) state(phones ...string) state {
	h.t.Helper()
	ctx := context.Background()
	s := state{Appts: map[string]string{}, Hist: map[string]int{}, OptedOut: map[string]bool{}, Flagged: map[string]bool{}}
	texts, err := h.db.Texts(ctx, store.TextFilter{Limit: 100000})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, x := range texts {
		s.Texts = append(s.Texts, x.ID+" "+x.Status+" "+x.SID)
	}
	reqs, err := h.db.Requests(ctx, store.RequestFilter{Limit: 100000})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, r := range reqs {
		s.Requests = append(s.Requests, r.ID+" "+r.Status)
	}
	appts, err := h.db.Appointments(ctx, store.Filter{Limit: 100000})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, a := range appts {
		s.Appts[a.AppointmentID] = fmt.Sprintf("v%d %s", a.Version, a.Disposition)
		hist, err := h.db.History(ctx, a.AppointmentID)
		if err != nil {
			h.t.Fatal(err)
		}
		s.Hist[a.AppointmentID] = len(hist)
	}
	for _, p := range phones {
		s.OptedOut[p], s.Flagged[p] = h.phone(p)
	}
	return s
}

// phone reports whether a phone is opted out and flagged (read in a
// transaction of the real store, not counted as a write).
func (h *harness) phone(p string) (optedOut, flagged bool) {
	h.t.Helper()
	err := h.db.Update(context.Background(), func(ctx context.Context, tx store.Tx) error {
		var err error
		if optedOut, err = tx.OptedOut(ctx, p); err != nil {
			return err
		}
		flagged, err = tx.PhoneFlagged(ctx, p)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return optedOut, flagged
}

func (h *harness) texts(f store.TextFilter) []*store.Text {
	h.t.Helper()
	if f.Limit == 0 {
		f.Limit = 100000
	}
	list, err := h.db.Texts(context.Background(), f)
	if err != nil {
		h.t.Fatal(err)
	}
	return list
}

func (h *harness) requests(f store.RequestFilter) []*store.Request {
	h.t.Helper()
	if f.Limit == 0 {
		f.Limit = 100000
	}
	list, err := h.db.Requests(context.Background(), f)
	if err != nil {
		h.t.Fatal(err)
	}
	return list
}

func (h *harness) appointment(id string) *apptbridge.Appointment {
	h.t.Helper()
	a, err := h.db.Appointment(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return a
}

// countKind counts texts of a kind and direction.
func countKind(list []*store.Text, dir string, kind apptbridge.TextKind) int {
	n := 0
	for _, x := range list {
		if x.Direction == dir && x.Kind == kind {
			n++
		}
	}
	return n
}

// --- Twilio side -----------------------------------------------------------

// inboundForm is the form Twilio posts for an inbound SMS.
func inboundForm(sid, from, body string) url.Values {
	return url.Values{
		"MessageSid":    {sid},
		"SmsSid":        {sid},
		"SmsMessageSid": {sid},
		"AccountSid":    {testAccount},
		"From":          {from},
		"To":            {ourNumber},
		"Body":          {body},
		"NumMedia":      {"0"},
		"NumSegments":   {"1"},
		"SmsStatus":     {"received"},
		"ApiVersion":    {"2010-04-01"},
	}
}

// statusForm is the form of a status callback.
func statusForm(sid, status string, errorCode int) url.Values {
	f := url.Values{
		"MessageSid":    {sid},
		"SmsSid":        {sid},
		"MessageStatus": {status},
		"SmsStatus":     {status},
		"AccountSid":    {testAccount},
		"To":            {"+13125550199"},
		"From":          {ourNumber},
		"ApiVersion":    {"2010-04-01"},
	}
	if errorCode != 0 {
		f.Set("ErrorCode", fmt.Sprint(errorCode))
	}
	return f
}

// postForm posts form to path with the X-Twilio-Signature sig ("" for no
// header).
func (h *harness) postForm(path string, form url.Values, sig string) response {
	h.t.Helper()
	return h.postRaw(path, form.Encode(), sig)
}

func (h *harness) postRaw(path, body, sig string) response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sig != "" {
		req.Header.Set(twilio.SignatureHeader, sig)
	}
	return h.send(req)
}

// signed posts form to path signed as Twilio would (over the server's
// public URL).
func (h *harness) signed(path string, form url.Values) response {
	h.t.Helper()
	return h.postForm(path, form, twilio.Signature(h.opts.twilioToken, h.srv.URL+path, form))
}

// notifyInbound is an inbound SMS for the reply handler, received now.
func notifyInbound(sid, from, body string) notify.InboundSMS {
	return notify.InboundSMS{SID: sid, From: from, To: ourNumber, Body: body}
}
