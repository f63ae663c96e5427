package twilio_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge/notify/twilio"
	"github.com/apptbridge/apptbridge/notify/twilio/twiliotest"
)

const (
	sid   = "AC0123456789abcdef0123456789abcdef"
	token = "0123456789abcdef0123456789abcdef"
	from  = "+15005550006"
	to    = "+15551234567"
	body  = "Reminder: appointment at 1:15 PM on Friday, November 12, 2021. Reply CONFIRM APPT or CANCEL APPT."
	cb    = "https://bridge.example.org/twilio/status"
)

var sidRE = regexp.MustCompile(`^SM[0-9a-f]{32}$`)

func start(t *testing.T) *twiliotest.Server {
	t.Helper()
	s, err := twiliotest.Start(sid, token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newClient(t *testing.T, base string, mutate ...func(*twilio.Config)) *twilio.Client {
	t.Helper()
	cfg := twilio.Config{AccountSID: sid, AuthToken: token, From: from, BaseURL: base, StatusCallback: cb}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := twilio.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// noPHI fails when err's text carries the phone number or the body.
func noPHI(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	s := err.Error()
	for _, canary := range []string{"5551234567", "Reminder", "CONFIRM"} {
		if strings.Contains(s, canary) {
			t.Errorf("error carries PHI %q: %s", canary, s)
		}
	}
}

func TestSend(t *testing.T) {
	s := start(t)
	c := newClient(t, s.URL)
	before := time.Now().Add(-time.Second)
	m, err := c.Send(context.Background(), to, body)
	if err != nil {
		t.Fatal(err)
	}
	if !sidRE.MatchString(m.SID) || m.Status != "queued" || m.To != to || m.Body != body || m.NumSegments != 1 || m.ErrorCode != 0 {
		t.Errorf("message = %+v", m)
	}
	if m.DateCreated.Before(before.Truncate(time.Second)) || m.DateCreated.After(time.Now().Add(time.Second)) {
		t.Errorf("DateCreated = %v", m.DateCreated)
	}
	got := s.Messages()
	if len(got) != 1 {
		t.Fatalf("server has %d messages", len(got))
	}
	g := got[0]
	if g.SID != m.SID || g.To != to || g.From != from || g.MessagingServiceSID != "" || g.Body != body || g.StatusCallback != cb {
		t.Errorf("server message = %+v", g)
	}
	if s.Calls() != 1 || s.Creates() != 1 {
		t.Errorf("calls %d creates %d", s.Calls(), s.Creates())
	}
}

func TestSendMessagingServiceWins(t *testing.T) {
	s := start(t)
	c := newClient(t, s.URL, func(c *twilio.Config) {
		c.MessagingServiceSID = "MG0123456789abcdef0123456789abcdef"
		c.StatusCallback = ""
	})
	m, err := c.Send(context.Background(), to, body)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != "accepted" {
		t.Errorf("status %q, want accepted", m.Status)
	}
	g := s.Messages()[0]
	if g.MessagingServiceSID != "MG0123456789abcdef0123456789abcdef" || g.From != "" || g.StatusCallback != "" {
		t.Errorf("server message = %+v", g)
	}
}

func TestSendScriptedErrors(t *testing.T) {
	tests := []struct {
		name       string
		resp       twiliotest.Response
		class      twilio.Class
		code, http int
		phone      bool
		retryAfter time.Duration
	}{
		{"429", twiliotest.Response{HTTPStatus: 429, RetryAfter: "2"}, twilio.ClassRetry, 20429, 429, false, 2 * time.Second},
		{"21611 queue", twiliotest.Response{Code: 21611}, twilio.ClassRetry, 21611, 400, false, 0},
		{"21610 stop", twiliotest.Response{Code: 21610}, twilio.ClassOptOut, 21610, 400, false, 0},
		{"21211", twiliotest.Response{Code: 21211}, twilio.ClassPermanent, 21211, 400, true, 0},
		{"21614", twiliotest.Response{Code: 21614}, twilio.ClassPermanent, 21614, 400, true, 0},
		{"30005", twiliotest.Response{Code: 30005}, twilio.ClassPermanent, 30005, 400, true, 0},
		{"30006", twiliotest.Response{Code: 30006}, twilio.ClassPermanent, 30006, 400, true, 0},
		{"21612", twiliotest.Response{Code: 21612}, twilio.ClassPermanent, 21612, 400, false, 0},
		{"21408", twiliotest.Response{Code: 21408}, twilio.ClassPermanent, 21408, 400, false, 0},
		{"21606", twiliotest.Response{Code: 21606}, twilio.ClassPermanent, 21606, 400, false, 0},
		{"500", twiliotest.Response{HTTPStatus: 500}, twilio.ClassAmbiguous, 20500, 500, false, 0},
		{"503 retry-after", twiliotest.Response{HTTPStatus: 503, RetryAfter: "7"}, twilio.ClassAmbiguous, 20503, 503, false, 7 * time.Second},
		{"502 html", twiliotest.Response{HTTPStatus: 502, Body: "<html>Bad Gateway</html>"}, twilio.ClassAmbiguous, 0, 502, false, 0},
		{"401", twiliotest.Response{HTTPStatus: 401}, twilio.ClassConfig, 20003, 401, false, 0},
		{"403", twiliotest.Response{HTTPStatus: 403, Code: 20003}, twilio.ClassConfig, 20003, 403, false, 0},
		{"404", twiliotest.Response{HTTPStatus: 404}, twilio.ClassConfig, 20404, 404, false, 0},
	}
	s := start(t)
	c := newClient(t, s.URL)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := s.Calls()
			s.Script(tt.resp)
			m, err := c.Send(context.Background(), to, body)
			if err == nil {
				t.Fatalf("Send = %+v, want an error", m)
			}
			var e *twilio.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not *twilio.Error", err, err)
			}
			if e.Class != tt.class || e.Code != tt.code || e.HTTPStatus != tt.http || e.PermanentPhone() != tt.phone || e.RetryAfter != tt.retryAfter {
				t.Errorf("error = %+v (phone %v), want class %q code %d http %d phone %v retry-after %v",
					e, e.PermanentPhone(), tt.class, tt.code, tt.http, tt.phone, tt.retryAfter)
			}
			if twilio.Classify(err) != tt.class {
				t.Errorf("Classify = %q", twilio.Classify(err))
			}
			noPHI(t, err)
			if s.Calls() != calls+1 {
				t.Errorf("calls %d, want %d", s.Calls(), calls+1)
			}
		})
	}
	if s.Creates() != 0 {
		t.Errorf("creates = %d, want 0", s.Creates())
	}
	// The script is used up: the next send succeeds.
	if _, err := c.Send(context.Background(), to, body); err != nil {
		t.Errorf("unscripted send: %v", err)
	}
}

func TestSend429ThenSuccess(t *testing.T) {
	s := start(t)
	c := newClient(t, s.URL)
	s.Script(twiliotest.Response{HTTPStatus: 429}, twiliotest.Response{HTTPStatus: 429}, twiliotest.Response{HTTPStatus: 429})
	var m *twilio.Message
	attempts := 0
	for {
		attempts++
		var err error
		m, err = c.Send(context.Background(), to, body)
		if err == nil {
			break
		}
		if twilio.Classify(err) != twilio.ClassRetry || attempts > 4 {
			t.Fatalf("attempt %d: %v", attempts, err)
		}
	}
	if attempts != 4 || s.Calls() != 4 || s.Creates() != 1 || m.SID != s.Messages()[0].SID {
		t.Errorf("attempts %d calls %d creates %d", attempts, s.Calls(), s.Creates())
	}
}

func TestWrongTokenIsConfig(t *testing.T) {
	s := start(t)
	c := newClient(t, s.URL, func(c *twilio.Config) { c.AuthToken = "ffffffffffffffffffffffffffffffff" })
	_, err := c.Send(context.Background(), to, body)
	var e *twilio.Error
	if !errors.As(err, &e) || e.Class != twilio.ClassConfig || e.HTTPStatus != 401 || e.Code != 20003 {
		t.Fatalf("Send = %v, want config 401/20003", err)
	}
	_, err = c.Find(context.Background(), to, body, time.Now())
	if twilio.Classify(err) != twilio.ClassConfig {
		t.Errorf("Find = %v, want config", err)
	}
	// Another account's path with good credentials: 404, also config.
	c2 := newClient(t, s.URL, func(c *twilio.Config) { c.AccountSID = "AC99" })
	if _, err := c2.Send(context.Background(), to, body); twilio.Classify(err) != twilio.ClassConfig {
		t.Errorf("other account: %v", err)
	}
	if s.Calls() != 2 || s.Creates() != 0 {
		t.Errorf("calls %d creates %d", s.Calls(), s.Creates())
	}
}

func TestTimeoutIsAmbiguousAndFindReconciles(t *testing.T) {
	s := start(t)
	c := newClient(t, s.URL, func(c *twilio.Config) { c.Timeout = 150 * time.Millisecond })
	since := time.Now()
	s.Script(twiliotest.Response{Delay: 3 * time.Second, Create: true})
	t0 := time.Now()
	_, err := c.Send(context.Background(), to, body)
	if twilio.Classify(err) != twilio.ClassAmbiguous {
		t.Fatalf("Send = %v, want ambiguous", err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("Send took %v despite a 150ms timeout", d)
	}
	noPHI(t, err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error does not wrap the deadline: %v", err)
	}
	m, err := c.Find(context.Background(), to, body, since)
	if err != nil {
		t.Fatal(err)
	}
	if m == nil || m.SID != s.Messages()[0].SID {
		t.Fatalf("Find = %+v, want %s", m, s.Messages()[0].SID)
	}
	// A timeout without Create: nothing to find, resend is safe.
	s.Script(twiliotest.Response{Delay: 3 * time.Second})
	if _, err := c.Send(context.Background(), to, "other text"); twilio.Classify(err) != twilio.ClassAmbiguous {
		t.Fatalf("Send = %v", err)
	}
	if m, err := c.Find(context.Background(), to, "other text", since); err != nil || m != nil {
		t.Errorf("Find = %+v, %v, want nil, nil", m, err)
	}
}

func TestCreated500FindFindsIt(t *testing.T) {
	s := start(t)
	c := newClient(t, s.URL)
	// Twilio's dates have whole seconds: a since later in the same second
	// must still match.
	since := time.Now()
	s.Script(twiliotest.Response{HTTPStatus: 500, Create: true})
	_, err := c.Send(context.Background(), to, body)
	if twilio.Classify(err) != twilio.ClassAmbiguous {
		t.Fatalf("Send = %v, want ambiguous", err)
	}
	if s.Creates() != 1 {
		t.Fatalf("creates %d", s.Creates())
	}
	want := s.Messages()[0]
	// Noise: the same text to someone else, sent later.
	if _, err := c.Send(context.Background(), "+15557654321", body); err != nil {
		t.Fatal(err)
	}
	m, err := c.Find(context.Background(), to, body, since)
	if err != nil || m == nil || m.SID != want.SID || m.Body != body || m.To != to {
		t.Fatalf("Find = %+v, %v; want %s", m, err, want.SID)
	}
	if m, err := c.Find(context.Background(), to, body+"!", since); err != nil || m != nil {
		t.Errorf("other body: Find = %+v, %v", m, err)
	}
	if m, err := c.Find(context.Background(), to, body, want.Created.Add(2*time.Second)); err != nil || m != nil {
		t.Errorf("later since: Find = %+v, %v", m, err)
	}
}

// countingServer mounts s behind a handler that counts list calls.
func countingServer(t *testing.T, s *twiliotest.Server) (*httptest.Server, *atomic.Int64) {
	var lists atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			lists.Add(1)
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return hs, &lists
}

func TestFindPaging(t *testing.T) {
	s := twiliotest.NewServer(sid, token)
	hs, lists := countingServer(t, s)
	c := newClient(t, hs.URL)
	ctx := context.Background()
	since := time.Now()
	for i := range 120 {
		if _, err := c.Send(ctx, to, fmt.Sprintf("text %d", i)); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if _, err := c.Send(ctx, "+15550000000", fmt.Sprintf("text %d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The oldest is on the third page of 50.
	lists.Store(0)
	m, err := c.Find(ctx, to, "text 0", since)
	if err != nil || m == nil || m.Body != "text 0" || m.To != to {
		t.Fatalf("Find = %+v, %v", m, err)
	}
	if n := lists.Load(); n != 3 {
		t.Errorf("Find made %d list calls, want 3", n)
	}
	// The newest is on the first.
	lists.Store(0)
	if m, err := c.Find(ctx, to, "text 119", since); err != nil || m == nil {
		t.Fatalf("Find = %+v, %v", m, err)
	}
	if n := lists.Load(); n != 1 {
		t.Errorf("Find made %d list calls, want 1", n)
	}
	// Absent: queued messages (date_sent null) never stop the walk.
	lists.Store(0)
	if m, err := c.Find(ctx, to, "never sent", since); err != nil || m != nil {
		t.Fatalf("Find = %+v, %v", m, err)
	}
	if n := lists.Load(); n != 3 {
		t.Errorf("Find made %d list calls, want 3", n)
	}
	// Once sent before since, the first message ends the walk.
	for _, msg := range s.Messages() {
		if err := s.SetStatus(msg.SID, "delivered"); err != nil {
			t.Fatal(err)
		}
	}
	lists.Store(0)
	if m, err := c.Find(ctx, to, "text 0", time.Now().Add(2*time.Second)); err != nil || m != nil {
		t.Fatalf("Find = %+v, %v", m, err)
	}
	if n := lists.Load(); n != 1 {
		t.Errorf("Find made %d list calls, want 1", n)
	}
}

func TestFindIgnoresInbound(t *testing.T) {
	s := start(t)
	c := newClient(t, s.URL)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hook.Close()
	since := time.Now()
	// Find filters on direction as well as To: an inbound message (here
	// oddly addressed to the patient's number) never matches.
	if _, _, err := s.Inbound(context.Background(), hook.URL, from, to, body); err != nil {
		t.Fatal(err)
	}
	if m, err := c.Find(context.Background(), to, body, since); err != nil || m != nil {
		t.Errorf("Find = %+v, %v, want nil", m, err)
	}
}

func TestCanceledContextIsRetry(t *testing.T) {
	s := start(t)
	c := newClient(t, s.URL)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Send(ctx, to, body)
	if twilio.Classify(err) != twilio.ClassRetry {
		t.Errorf("Send = %v, want retry (nothing written)", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error does not wrap context.Canceled: %v", err)
	}
	if s.Calls() != 0 {
		t.Errorf("calls = %d", s.Calls())
	}
}

func TestConnectionRefusedIsRetry(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := newClient(t, "http://"+addr)
	_, err = c.Send(context.Background(), to, body)
	if twilio.Classify(err) != twilio.ClassRetry {
		t.Errorf("Send = %v, want retry", err)
	}
	noPHI(t, err)
	_, err = c.Find(context.Background(), to, body, time.Now())
	if twilio.Classify(err) != twilio.ClassRetry {
		t.Errorf("Find = %v, want retry", err)
	}
	noPHI(t, err)
	if strings.Contains(err.Error(), "To=") {
		t.Errorf("Find error carries the query: %v", err)
	}
}

// TestResetAfterWriteIsAmbiguous: the server reads the whole request and
// drops the connection without an answer.
func TestResetAfterWriteIsAmbiguous(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var got atomic.Int64
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				if u, p, ok := req.BasicAuth(); ok && u == sid && p == token {
					got.Add(1)
				}
				_ = req.ParseForm()
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // RST
				}
			}()
		}
	}()
	c := newClient(t, "http://"+ln.Addr().String())
	_, err = c.Send(context.Background(), to, body)
	if twilio.Classify(err) != twilio.ClassAmbiguous {
		t.Errorf("Send = %v, want ambiguous", err)
	}
	noPHI(t, err)
	if got.Load() != 1 {
		t.Errorf("server saw %d authenticated requests, want 1", got.Load())
	}
}

func TestBaseURLRewrite(t *testing.T) {
	s := twiliotest.NewServer(sid, token)
	var paths []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.Method+" "+r.URL.Path)
		if ct := r.Header.Get("Content-Type"); r.Method == http.MethodPost && ct != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type %q", ct)
		}
		if r.Method == http.MethodPost {
			_ = r.ParseForm()
			if r.PostForm.Get("To") != to || r.PostForm.Get("From") != from || r.PostForm.Get("Body") != body || r.PostForm.Get("StatusCallback") != cb {
				t.Errorf("form = %v", r.PostForm)
			}
		}
		http.StripPrefix("/gw/twilio", s).ServeHTTP(w, r)
	}))
	defer hs.Close()
	c := newClient(t, hs.URL+"/gw/twilio/")
	if _, err := c.Send(context.Background(), to, body); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Find(context.Background(), to, body, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"POST /gw/twilio/2010-04-01/Accounts/" + sid + "/Messages.json",
		"GET /gw/twilio/2010-04-01/Accounts/" + sid + "/Messages.json",
	}
	if fmt.Sprint(paths) != fmt.Sprint(want) {
		t.Errorf("paths = %v, want %v", paths, want)
	}
}

func TestSendEmpty(t *testing.T) {
	s := start(t)
	c := newClient(t, s.URL)
	if _, err := c.Send(context.Background(), "", body); twilio.Classify(err) != twilio.ClassPermanent {
		t.Errorf("empty To: %v", err)
	}
	if _, err := c.Send(context.Background(), to, ""); twilio.Classify(err) != twilio.ClassPermanent {
		t.Errorf("empty Body: %v", err)
	}
	if s.Calls() != 0 {
		t.Errorf("calls = %d", s.Calls())
	}
}

func TestConcurrentSends(t *testing.T) {
	s := start(t)
	c := newClient(t, s.URL)
	const n = 40
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := c.Send(context.Background(), fmt.Sprintf("+1555000%04d", i), body)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msgs, err := s.WaitMessages(ctx, n)
	if err != nil || len(msgs) != n {
		t.Fatalf("WaitMessages = %d, %v", len(msgs), err)
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		if seen[m.SID] {
			t.Errorf("duplicate SID %s", m.SID)
		}
		seen[m.SID] = true
	}
}
