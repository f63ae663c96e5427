package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/mllp"
	"github.com/apptbridge/apptbridge/notify/twilio"
	"github.com/apptbridge/apptbridge/notify/twilio/twiliotest"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/web"
)

const (
	testAccount = "AC00000000000000000000000000000001"
	testToken   = "0123456789abcdef0123456789abcdef"
	testNumber  = "+15005550006"
)

// fakeEHR is an MLLP listener playing the EHR: it records every message
// and answers with the next scripted code (AA when the script is empty).
type fakeEHR struct {
	mu     sync.Mutex
	msgs   [][]byte
	script []string
	got    chan struct{}
	srv    *mllp.Server
	addr   string
}

func startEHR(t *testing.T) *fakeEHR {
	t.Helper()
	e := &fakeEHR{got: make(chan struct{}, 1000)}
	e.srv = &mllp.Server{Handler: mllp.HandlerFunc(func(ctx context.Context, msg []byte) ([]byte, error) {
		m, err := hl7.Parse(msg)
		if err != nil {
			return nil, err
		}
		e.mu.Lock()
		code := "AA"
		if len(e.script) > 0 {
			code, e.script = e.script[0], e.script[1:]
		}
		if code != "none" {
			e.msgs = append(e.msgs, append([]byte(nil), msg...))
		}
		e.mu.Unlock()
		if code == "none" {
			return nil, nil
		}
		e.got <- struct{}{}
		return hl7.BuildAck(m, hl7.AckOptions{Code: hl7.AckCode(code), Now: time.Now(), ControlID: "EHR1"}), nil
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	go e.srv.Serve(ln)
	t.Cleanup(func() { e.srv.Close() })
	return e
}

func (e *fakeEHR) messages() [][]byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([][]byte(nil), e.msgs...)
}

func (e *fakeEHR) wait(t *testing.T, n int, d time.Duration) [][]byte {
	t.Helper()
	deadline := time.After(d)
	for {
		if m := e.messages(); len(m) >= n {
			return m
		}
		select {
		case <-e.got:
		case <-deadline:
			t.Fatalf("EHR received %d messages, want %d", len(e.messages()), n)
		}
	}
}

// freeAddr returns a loopback address with a free port (PUBLIC_BASE_URL
// must be known before the server starts, since Twilio signs it).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type loop struct {
	app    *App
	tw     *twiliotest.Server
	ehr    *fakeEHR
	base   string // http://host:port
	token  string
	logs   *syncBuffer
	hook   string // the /twilio/sms URL
	mllpTo string
}

func startLoop(t *testing.T, env map[string]string) *loop {
	t.Helper()
	return startLoopWith(t, env, Options{})
}

// startLoopWith is startLoop with App options (the logger is the loop's).
func startLoopWith(t *testing.T, env map[string]string, opts Options) *loop {
	t.Helper()
	tw, err := twiliotest.Start(testAccount, testToken)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tw.Close() })
	l := &loop{tw: tw, logs: &syncBuffer{}}
	l.ehr = startEHR(t)
	httpAddr := freeAddr(t)
	l.base = "http://" + httpAddr
	l.hook = l.base + "/twilio/sms"
	cfg := map[string]string{
		"HTTP_ADDR":             httpAddr,
		"TWILIO_ACCOUNT_SID":    testAccount,
		"TWILIO_AUTH_TOKEN":     testToken,
		"TWILIO_PHONE_NUMBER":   testNumber,
		"TWILIO_API_BASE_URL":   tw.URL,
		"PUBLIC_BASE_URL":       l.base,
		"EHR_MLLP_ADDR":         l.ehr.addr,
		"EHR_ACK_TIMEOUT":       "2s",
		"EVENT_TEXTS_IN_WINDOW": "false",
		"SMS_RATE_PER_SECOND":   "1000",
		"CUSTOMER_NAME":         "Lakeside Clinic",
		"CALLBACK_PHONE":        "+13125550100",
	}
	for k, v := range env {
		cfg[k] = v
	}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(l.logs), zapcore.DebugLevel))
	opts.Logger = log
	a, err := New(context.Background(), testConfig(t, cfg), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	l.app = a
	l.mllpTo = a.MLLPAddr().String()
	tok, hash := web.NewToken()
	if err := a.Store().CreateToken(context.Background(), &store.Token{ID: "t1", Name: "test", Hash: hash}); err != nil {
		t.Fatal(err)
	}
	l.token = tok
	return l
}

// siu builds a scheduling message for appointment aid at start (UTC) for
// phone (national US digits).
func siu(cid, trigger, aid, phone string, start time.Time, extra string) []byte {
	return []byte("MSH|^~\\&|EHR|HOSP|APPTBRIDGE|CLINIC|" + time.Now().UTC().Format("20060102150405") + "+0000||SIU^" + trigger + "|" + cid + "|P|2.5.1\r" +
		"SCH|" + aid + "|F" + aid + "|||||Checkup|Normal|30|MIN|^^30^" + start.UTC().Format("20060102150405") + "+0000" + extra + "\r" +
		"PID|1||MRN" + aid + "^^^H^MR||Rivera^Ana||19800101|F|||||" + phone + "^PRN^CP\r" +
		"AIP|1||D1^Okafor^Grace\r" +
		"AIL|1||ROOM1^^^Lakeside Main\r")
}

func (l *loop) send(t *testing.T, msg []byte) string {
	t.Helper()
	c := &mllp.Client{Addr: l.mllpTo, AckTimeout: 10 * time.Second}
	defer c.Close()
	ack, err := c.Send(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := hl7.Parse(ack)
	if err != nil {
		t.Fatal(err)
	}
	return m.Get("MSA-1")
}

// postEvent posts a JSON event to /v1/events and returns the status.
func (l *loop) postEvent(t *testing.T, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest("POST", l.base+"/v1/events", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+l.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (l *loop) get(t *testing.T, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", l.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+l.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

type apptView struct {
	Disposition string `json:"disposition"`
	Confirmed   bool   `json:"confirmed"`
	History     []struct {
		EventType string `json:"event_type"`
		Applied   bool   `json:"applied"`
	} `json:"history"`
	Texts []struct {
		Kind   string `json:"kind"`
		Status string `json:"status"`
		Body   string `json:"body"`
	} `json:"texts"`
	Requests []struct {
		Type    string `json:"type"`
		Status  string `json:"status"`
		AckCode string `json:"ack_code"`
	} `json:"requests"`
}

// waitFor polls cond every 20 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPatientLoopEndToEnd(t *testing.T) {
	l := startLoop(t, nil)
	start := time.Now().Add(72 * time.Hour).Truncate(time.Minute)
	const phone = "+17735550142"

	// 1. Booking over MLLP → exactly one booked text at Twilio within 1 s.
	t0 := time.Now()
	if code := l.send(t, siu("C1", "S12", "A100", "(773)555-0142", start, "")); code != "AA" {
		t.Fatalf("ACK %s", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	msgs, err := l.tw.WaitMessages(ctx, 1)
	cancel()
	if err != nil {
		t.Fatalf("no text within 1 s of the ACK: %v", err)
	}
	t.Logf("booked text created %v after the message was sent", time.Since(t0).Round(time.Millisecond))
	if msgs[0].To != phone || msgs[0].From != testNumber || !strings.Contains(msgs[0].Body, "CONFIRM APPT") ||
		!strings.Contains(msgs[0].Body, "Ana") {
		t.Fatalf("booked text: to %q from %q body %q", msgs[0].To, msgs[0].From, msgs[0].Body)
	}
	if msgs[0].StatusCallback != l.base+"/twilio/status" {
		t.Errorf("StatusCallback = %q", msgs[0].StatusCallback)
	}
	bookedSID := msgs[0].SID

	// 2. The patient replies "confirm appt" → one SIU^S14 at the EHR and
	// a receipt text.
	sid, status, err := l.tw.Inbound(context.Background(), l.hook, phone, testNumber, " confirm appt ")
	if err != nil || status != 200 {
		t.Fatalf("inbound: status %d, %v", status, err)
	}
	got := l.ehr.wait(t, 1, 5*time.Second)
	m, err := hl7.Parse(got[0])
	if err != nil {
		t.Fatal(err)
	}
	if typ, trig, _ := m.Type(); typ != "SIU" || trig != "S14" || m.Get("SCH-25") != "Confirmed" || m.Get("SCH-1") != "A100" {
		t.Fatalf("EHR got %s^%s SCH-25 %q SCH-1 %q", typ, trig, m.Get("SCH-25"), m.Get("SCH-1"))
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	msgs, err = l.tw.WaitMessages(ctx, 2)
	cancel()
	if err != nil {
		t.Fatal("no receipt text:", err)
	}
	if msgs[1].To != phone || strings.Contains(msgs[1].Body, "CANCEL APPT to cancel") && strings.Contains(msgs[1].Body, "reminder") {
		t.Fatalf("receipt text: %q", msgs[1].Body)
	}

	// 3. The same MessageSid again → 200, nothing new.
	if status, err := l.tw.InboundWithSID(context.Background(), l.hook, sid, phone, testNumber, "confirm appt"); err != nil || status != 200 {
		t.Fatalf("replayed inbound: %d %v", status, err)
	}
	// 4. A bad signature → 403, nothing.
	form := url.Values{"MessageSid": {"SMbad"}, "From": {phone}, "To": {testNumber}, "Body": {"CANCEL APPT"}}
	req, _ := http.NewRequest("POST", l.hook, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twilio.Signature("wrong-token", l.hook, form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("bad signature: status %d, want 403", resp.StatusCode)
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(l.ehr.messages()); n != 1 {
		t.Fatalf("EHR got %d messages, want exactly 1", n)
	}
	if n := l.tw.Creates(); n != 2 {
		t.Fatalf("Twilio creates = %d, want 2 (booked, receipt)", n)
	}

	// 5. Status callbacks move the text forward only.
	for _, st := range []string{"delivered", "sent", "queued"} {
		if err := l.tw.Callback(context.Background(), bookedSID, st, 0); err != nil {
			t.Fatal(err)
		}
	}
	var v apptView
	waitFor(t, 5*time.Second, "request acked", func() bool {
		v = apptView{}
		l.get(t, "/v1/appointments/A100", &v)
		return len(v.Requests) == 1 && v.Requests[0].Status == store.RequestAcked
	})
	if v.Requests[0].Type != "CONFIRM" || v.Requests[0].AckCode != "AA" {
		t.Errorf("request %+v", v.Requests[0])
	}
	kinds := []string{}
	for _, x := range v.Texts {
		kinds = append(kinds, x.Kind+":"+x.Status)
		if x.Body != "" {
			t.Errorf("text body shown to an API token: %q", x.Body)
		}
	}
	if strings.Join(kinds, ",") != "booked:delivered,reply:received,confirm-receipt:queued" {
		t.Errorf("texts = %v", kinds)
	}

	// 6. STOP: the phone is opted out; a new booking for it gets no text.
	if _, status, err := l.tw.Inbound(context.Background(), l.hook, phone, testNumber, "Stop"); err != nil || status != 200 {
		t.Fatalf("STOP: %d %v", status, err)
	}
	l.get(t, "/v1/appointments/A100", &v)
	if v.Disposition != "OPTED-OUT" {
		t.Fatalf("after STOP disposition = %s", v.Disposition)
	}
	if code := l.send(t, siu("C2", "S12", "A101", "773-555-0142", start.Add(24*time.Hour), "")); code != "AA" {
		t.Fatalf("ACK %s", code)
	}
	time.Sleep(500 * time.Millisecond)
	if n := l.tw.Creates(); n != 2 {
		t.Fatalf("Twilio creates after STOP = %d, want still 2", n)
	}
	// START restores and answers once.
	if _, status, err := l.tw.Inbound(context.Background(), l.hook, phone, testNumber, "START"); err != nil || status != 200 {
		t.Fatalf("START: %d %v", status, err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	msgs, err = l.tw.WaitMessages(ctx, 3)
	cancel()
	if err != nil {
		t.Fatal("no opted-in text:", err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := l.tw.Creates(); n != 3 {
		t.Fatalf("creates after START = %d, want 3 (one opted-in text for the phone)", n)
	}
	l.get(t, "/v1/appointments/A100", &v)
	if v.Disposition != "QUEUED" {
		t.Fatalf("after START disposition = %s", v.Disposition)
	}
	for _, canary := range []string{"Rivera", "Ana", "5550142", "MRNA100", "confirm appt", "Okafor"} {
		if strings.Contains(l.logs.String(), canary) {
			t.Errorf("log contains PHI %q", canary)
		}
	}
	body := scrape(t, l.base)
	for _, want := range []string{`apptbridge_texts_total{kind="booked",status="sent"} 1`,
		`apptbridge_replies_total{intent="confirm"} 1`, `apptbridge_replies_total{intent="duplicate"} 1`,
		`apptbridge_outbox_depth{queue="texts"} 0`, `apptbridge_ehr_requests_total{result="acked"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

var _ = fmt.Sprint

// TestEventsCountedBySource: apptbridge_events_total counts EHR events
// from both doors, MLLP (source hl7) and POST /v1/events (source api), so
// a dashboard of events is not blind to an EHR that posts JSON.
func TestEventsCountedBySource(t *testing.T) {
	l := startLoop(t, nil)
	start := time.Now().Add(72 * time.Hour).Truncate(time.Minute)
	if code := l.send(t, siu("M1", "S12", "A700", "(773)555-0142", start, "")); code != "AA" {
		t.Fatalf("ACK %s", code)
	}
	body := `{"event_id":"` + apptbridge.NewEventID() + `","event_type":"BOOKED","patient_id":"P701","appointment_id":"A701",` +
		`"appointment_datetime_utc":"` + start.UTC().Format(time.RFC3339) + `","patient_phone":"+17735550143"}`
	if code := l.postEvent(t, []byte(body)); code != http.StatusAccepted {
		t.Fatalf("POST /v1/events: %d", code)
	}
	resp, err := http.Get(l.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`apptbridge_events_total{applied="true",source="hl7",type="BOOKED"} 1`,
		`apptbridge_events_total{applied="true",source="api",type="BOOKED"} 1`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
