package ehr

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

var webhookSecret = []byte("test-secret-not-real")

// fakeWebhook is an EHR webhook endpoint that verifies every request and
// answers with the scripted statuses (200 after the script ends).
type fakeWebhook struct {
	srv      *httptest.Server
	mu       sync.Mutex
	statuses []int
	bodies   []string
	keys     []string
	verifyOK []bool
	headers  []http.Header
}

func startWebhook(t *testing.T, statuses ...int) *fakeWebhook {
	t.Helper()
	f := &fakeWebhook{statuses: statuses}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		err := VerifyWebhook(webhookSecret, r.Header.Get(HeaderTimestamp), body, r.Header.Get(HeaderSignature), time.Now(), 0)
		f.mu.Lock()
		f.bodies = append(f.bodies, string(body))
		f.keys = append(f.keys, r.Header.Get(HeaderIdempotencyKey))
		f.verifyOK = append(f.verifyOK, err == nil)
		f.headers = append(f.headers, r.Header.Clone())
		code := http.StatusOK
		if len(f.statuses) > 0 {
			code, f.statuses = f.statuses[0], f.statuses[1:]
		}
		f.mu.Unlock()
		if err != nil {
			code = http.StatusUnauthorized
		}
		w.WriteHeader(code)
		io.WriteString(w, `{"ok":`+strconv.FormatBool(code < 300)+`}`)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeWebhook) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.bodies)
}

func TestWebhookBody(t *testing.T) {
	a := sampleAppointment()
	for typ, want := range map[apptbridge.EventType]string{
		apptbridge.Confirm: `{"event_type":"Confirm","appointment_id":"A1001","provider_id":"P77","patient_id":"MRN123"}`,
		apptbridge.Cancel:  `{"event_type":"Cancel","appointment_id":"A1001","provider_id":"P77","patient_id":"MRN123"}`,
	} {
		got, err := (&WebhookSender{}).Encode(typ, a, "C1", buildNow)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s: body %s, want %s", typ, got, want)
		}
	}
	if _, err := EncodeWebhook(apptbridge.Remind, a); err == nil {
		t.Error("REMIND must not encode")
	}
	if _, err := EncodeWebhook(apptbridge.Confirm, nil); err == nil {
		t.Error("nil appointment must not encode")
	}
}

func TestWebhookDeliver(t *testing.T) {
	cases := []struct {
		status  int
		outcome Outcome
	}{
		{200, Acked}, {201, Acked}, {204, Acked},
		{408, Retry}, {425, Retry}, {429, Retry}, {500, Retry}, {502, Retry}, {503, Retry},
		{400, Dead}, {401, Dead}, {404, Dead}, {409, Dead}, {422, Dead}, {301, Dead},
	}
	for _, c := range cases {
		t.Run(strconv.Itoa(c.status), func(t *testing.T) {
			f := startWebhook(t, c.status)
			if c.status == 301 {
				f.srv.Config.Handler = http.RedirectHandler("/elsewhere", http.StatusMovedPermanently)
			}
			now := time.Now()
			s := &WebhookSender{URL: f.srv.URL, Secret: webhookSecret, Now: func() time.Time { return now }}
			body, _ := EncodeWebhook(apptbridge.Confirm, sampleAppointment())
			r := s.Deliver(context.Background(), "AB1", body)
			if r.Outcome != c.outcome || r.AckCode != strconv.Itoa(c.status) {
				t.Fatalf("got %v %q (%v), want %v %d", r.Outcome, r.AckCode, r.Err, c.outcome, c.status)
			}
			if (r.Err == nil) != (c.outcome == Acked) {
				t.Errorf("err = %v", r.Err)
			}
			if c.status == 301 {
				return
			}
			if len(r.Ack) == 0 && c.status != http.StatusNoContent {
				t.Error("response body not kept")
			}
			if !f.verifyOK[0] {
				t.Error("signature did not verify")
			}
			h := f.headers[0]
			if h.Get("Content-Type") != "application/json" || h.Get(HeaderIdempotencyKey) != "AB1" ||
				h.Get(HeaderTimestamp) != strconv.FormatInt(now.Unix(), 10) ||
				!strings.HasPrefix(h.Get(HeaderSignature), "sha256=") {
				t.Errorf("headers %v", h)
			}
			if f.bodies[0] != string(body) {
				t.Errorf("body %s", f.bodies[0])
			}
		})
	}
}

func TestWebhookTransportError(t *testing.T) {
	f := startWebhook(t)
	url := f.srv.URL + "/hook?token=sekrit-token"
	f.srv.Close()
	s := &WebhookSender{URL: url, Secret: webhookSecret}
	r := s.Deliver(context.Background(), "AB1", []byte(`{}`))
	if r.Outcome != Retry || r.AckCode != "" || r.Err == nil {
		t.Fatalf("got %+v, want Retry without a status", r)
	}
	if strings.Contains(r.Err.Error(), "sekrit") {
		t.Errorf("error repeats the URL: %v", r.Err)
	}
	bad := &WebhookSender{URL: "http://[::1", Secret: webhookSecret}
	if r := bad.Deliver(context.Background(), "AB1", []byte(`{}`)); r.Outcome != Dead {
		t.Errorf("invalid URL: %+v", r)
	}
}

func TestVerifyWebhook(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"event_type":"Confirm","appointment_id":"A1"}`)
	sig := Sign(webhookSecret, ts, body)
	if !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
		t.Fatalf("signature %q", sig)
	}
	if err := VerifyWebhook(webhookSecret, ts, body, sig, now.Add(4*time.Minute), 0); err != nil {
		t.Fatalf("valid request: %v", err)
	}
	cases := []struct {
		name      string
		secret    []byte
		ts, sig   string
		body      []byte
		at        time.Time
		tolerance time.Duration
		want      error
	}{
		{"tampered body", webhookSecret, ts, sig, []byte(`{"event_type":"Cancel","appointment_id":"A1"}`), now, 0, ErrWebhookSignature},
		{"other secret", []byte("other"), ts, sig, body, now, 0, ErrWebhookSignature},
		{"signature for another timestamp", webhookSecret, strconv.FormatInt(now.Unix()+1, 10), sig, body, now, 0, ErrWebhookSignature},
		{"no prefix", webhookSecret, ts, strings.TrimPrefix(sig, "sha256="), body, now, 0, ErrWebhookSignature},
		{"empty signature", webhookSecret, ts, "", body, now, 0, ErrWebhookSignature},
		{"stale", webhookSecret, ts, sig, body, now.Add(6 * time.Minute), 0, ErrWebhookTimestamp},
		{"future", webhookSecret, ts, sig, body, now.Add(-6 * time.Minute), 0, ErrWebhookTimestamp},
		{"tight tolerance", webhookSecret, ts, sig, body, now.Add(31 * time.Second), 30 * time.Second, ErrWebhookTimestamp},
		{"malformed timestamp", webhookSecret, "yesterday", sig, body, now, 0, ErrWebhookTimestamp},
		{"empty timestamp", webhookSecret, "", sig, body, now, 0, ErrWebhookTimestamp},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := VerifyWebhook(c.secret, c.ts, c.body, c.sig, c.at, c.tolerance); !errors.Is(err, c.want) {
				t.Errorf("got %v, want %v", err, c.want)
			}
		})
	}
}

// TestWebhookWorker: 500 → retry, then 200 → acked; 400 → dead; each
// attempt is signed afresh and carries the same Idempotency-Key and body.
func TestWebhookWorker(t *testing.T) {
	f := startWebhook(t, 500, 500, 200)
	q := &fakeQueue{}
	q.add(newRequest(t, "R1", "A1", apptbridge.Confirm))
	runWorker(t, fastWorker(q, &WebhookSender{URL: f.srv.URL, Secret: webhookSecret}))
	waitFor(t, "acked", func() bool { return q.get("R1").Status == store.RequestAcked })
	got := q.get("R1")
	if got.Attempts != 3 || got.AckCode != "200" {
		t.Errorf("attempts %d, ack code %q", got.Attempts, got.AckCode)
	}
	f.mu.Lock()
	for i := range f.bodies {
		if f.bodies[i] != f.bodies[0] || f.keys[i] != "ABR1" || !f.verifyOK[i] {
			t.Errorf("attempt %d: key %q, verified %v, body %s", i+1, f.keys[i], f.verifyOK[i], f.bodies[i])
		}
	}
	f.mu.Unlock()
	var body WebhookBody
	if err := json.Unmarshal(got.Message, &body); err != nil || body.EventType != "Confirm" || body.AppointmentID != "A1" {
		t.Errorf("stored message %s (%v)", got.Message, err)
	}

	g := startWebhook(t, 400)
	q2 := &fakeQueue{}
	q2.add(newRequest(t, "R2", "A2", apptbridge.Cancel))
	runWorker(t, fastWorker(q2, &WebhookSender{URL: g.srv.URL, Secret: webhookSecret}))
	waitFor(t, "dead", func() bool { return q2.get("R2").Status == store.RequestDead })
	if got := q2.get("R2"); got.Attempts != 1 || got.AckCode != "400" || g.calls() != 1 {
		t.Errorf("attempts %d, ack code %q, calls %d", got.Attempts, got.AckCode, g.calls())
	}
}
