package twiliotest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
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
	body  = "Reply CONFIRM APPT to confirm."
)

var (
	sidRE  = regexp.MustCompile(`^SM[0-9a-f]{32}$`)
	dateRE = regexp.MustCompile(`^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} \+0000$`)
)

func start(t *testing.T) *twiliotest.Server {
	t.Helper()
	s, err := twiliotest.Start(sid, token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func messagesURL(s *twiliotest.Server) string {
	return s.URL + "/2010-04-01/Accounts/" + sid + "/Messages.json"
}

// do sends a raw request and decodes the JSON answer.
func do(t *testing.T, method, u string, form url.Values, auth bool) (int, http.Header, map[string]any) {
	t.Helper()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if auth {
		req.SetBasicAuth(sid, token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: decode: %v", method, u, err)
	}
	return resp.StatusCode, resp.Header, out
}

func TestCreateJSONShape(t *testing.T) {
	s := start(t)
	status, _, m := do(t, http.MethodPost, messagesURL(s), url.Values{
		"To": {to}, "From": {from}, "Body": {body}, "StatusCallback": {"https://x.example/status"},
	}, true)
	if status != http.StatusCreated {
		t.Fatalf("status %d: %v", status, m)
	}
	sm, _ := m["sid"].(string)
	if !sidRE.MatchString(sm) {
		t.Errorf("sid %q", sm)
	}
	want := map[string]any{
		"account_sid": sid, "to": to, "from": from, "body": body, "status": "queued",
		"num_segments": "1", "num_media": "0", "direction": "outbound-api", "api_version": "2010-04-01",
		"date_sent": nil, "error_code": nil, "error_message": nil, "price": nil, "messaging_service_sid": nil,
		"uri": "/2010-04-01/Accounts/" + sid + "/Messages/" + sm + ".json",
	}
	for k, v := range want {
		got, present := m[k]
		if !present || got != v {
			t.Errorf("%s = %#v (present %v), want %#v", k, got, present, v)
		}
	}
	for _, k := range []string{"date_created", "date_updated"} {
		if v, _ := m[k].(string); !dateRE.MatchString(v) {
			t.Errorf("%s = %q, not Twilio's RFC 2822 form", k, v)
		}
	}
	if _, ok := m["subresource_uris"].(map[string]any); !ok {
		t.Errorf("subresource_uris = %#v", m["subresource_uris"])
	}

	// With a Messaging Service: accepted, num_segments "0", from null.
	status, _, m = do(t, http.MethodPost, messagesURL(s), url.Values{
		"To": {to}, "MessagingServiceSid": {"MG0123456789abcdef0123456789abcdef"}, "Body": {body},
	}, true)
	if status != 201 || m["status"] != "accepted" || m["num_segments"] != "0" || m["from"] != nil ||
		m["messaging_service_sid"] != "MG0123456789abcdef0123456789abcdef" {
		t.Errorf("messaging service create: %d %v", status, m)
	}

	// Fetch.
	status, _, f := do(t, http.MethodGet, s.URL+"/2010-04-01/Accounts/"+sid+"/Messages/"+sm+".json", nil, true)
	if status != 200 || f["sid"] != sm || f["body"] != body {
		t.Errorf("fetch: %d %v", status, f)
	}
	status, _, f = do(t, http.MethodGet, s.URL+"/2010-04-01/Accounts/"+sid+"/Messages/SMnope.json", nil, true)
	if status != 404 || f["code"] != float64(20404) {
		t.Errorf("fetch unknown: %d %v", status, f)
	}
}

func TestCreateErrors(t *testing.T) {
	s := start(t)
	checkErr := func(name string, status int, m map[string]any, wantStatus, wantCode int) {
		t.Helper()
		if status != wantStatus || m["code"] != float64(wantCode) || m["status"] != float64(wantStatus) ||
			m["more_info"] != fmt.Sprintf("https://www.twilio.com/docs/errors/%d", wantCode) || m["message"] == "" {
			t.Errorf("%s: %d %v, want %d code %d", name, status, m, wantStatus, wantCode)
		}
	}
	form := url.Values{"To": {to}, "From": {from}, "Body": {body}}
	status, h, m := do(t, http.MethodPost, messagesURL(s), form, false)
	checkErr("no auth", status, m, 401, 20003)
	if h.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	status, _, m = do(t, http.MethodGet, messagesURL(s), nil, false)
	checkErr("list no auth", status, m, 401, 20003)
	status, _, m = do(t, http.MethodPost, messagesURL(s), url.Values{"From": {from}, "Body": {body}}, true)
	checkErr("no To", status, m, 400, 21604)
	status, _, m = do(t, http.MethodPost, messagesURL(s), url.Values{"To": {to}, "Body": {body}}, true)
	checkErr("no From", status, m, 400, 21603)
	status, _, m = do(t, http.MethodPost, messagesURL(s), url.Values{"To": {to}, "From": {from}}, true)
	checkErr("no Body", status, m, 400, 21602)
	status, _, m = do(t, http.MethodPost, messagesURL(s), url.Values{"To": {to}, "From": {from}, "Body": {strings.Repeat("x", 1601)}}, true)
	checkErr("long Body", status, m, 400, 21617)
	status, _, m = do(t, http.MethodPost, s.URL+"/2010-04-01/Accounts/AC1/Messages.json", form, true)
	checkErr("other account", status, m, 404, 20404)
	status, _, m = do(t, http.MethodPut, messagesURL(s), form, true)
	checkErr("PUT", status, m, 405, 20004)
	status, _, m = do(t, http.MethodGet, s.URL+"/nope", nil, true)
	checkErr("path", status, m, 404, 20404)

	s.Script(twiliotest.Response{Code: 21211}, twiliotest.Response{HTTPStatus: 429, RetryAfter: "3"})
	status, _, m = do(t, http.MethodPost, messagesURL(s), form, true)
	checkErr("scripted 21211", status, m, 400, 21211)
	if !strings.Contains(m["message"].(string), to) {
		t.Errorf("21211 message %q does not quote the number as Twilio does", m["message"])
	}
	status, h, m = do(t, http.MethodPost, messagesURL(s), form, true)
	checkErr("scripted 429", status, m, 429, 20429)
	if h.Get("Retry-After") != "3" {
		t.Errorf("Retry-After %q", h.Get("Retry-After"))
	}
	// Calls counts every create call, Creates only those that created.
	if s.Calls() != 8 || s.Creates() != 0 {
		t.Errorf("calls %d creates %d, want 8 and 0", s.Calls(), s.Creates())
	}
}

func TestListPagingAndFilters(t *testing.T) {
	s := start(t)
	c, err := twilio.New(twilio.Config{AccountSID: sid, AuthToken: token, From: from, BaseURL: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 5 {
		if _, err := c.Send(ctx, to, fmt.Sprintf("t%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Send(ctx, "+15550000000", "other"); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"To": {to}, "PageSize": {"2"}}
	status, _, page := do(t, http.MethodGet, messagesURL(s)+"?"+q.Encode(), nil, true)
	if status != 200 {
		t.Fatalf("list: %d %v", status, page)
	}
	var bodies []string
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		for _, m := range page["messages"].([]any) {
			bodies = append(bodies, m.(map[string]any)["body"].(string))
		}
		if pages == 0 {
			if page["page"] != float64(0) || page["page_size"] != float64(2) || page["start"] != float64(0) ||
				page["end"] != float64(1) || page["previous_page_uri"] != nil || page["first_page_uri"] == "" || page["uri"] == "" {
				t.Errorf("first page = %v", page)
			}
		}
		next, _ := page["next_page_uri"].(string)
		if next == "" {
			break
		}
		if !strings.Contains(next, "To=%2B15551234567") || !strings.Contains(next, "PageSize=2") {
			t.Errorf("next_page_uri %q lost the filters", next)
		}
		_, _, page = do(t, http.MethodGet, s.URL+next, nil, true)
	}
	if got := strings.Join(bodies, ","); got != "t4,t3,t2,t1,t0" {
		t.Errorf("bodies %s, want newest first t4..t0", got)
	}
	// Page=N without a token.
	_, _, page = do(t, http.MethodGet, messagesURL(s)+"?"+url.Values{"To": {to}, "PageSize": {"2"}, "Page": {"2"}}.Encode(), nil, true)
	if ms := page["messages"].([]any); len(ms) != 1 || ms[0].(map[string]any)["body"] != "t0" || page["previous_page_uri"] == nil {
		t.Errorf("page 2 = %v", page)
	}

	// DateSent filters see only sent messages.
	msgs := s.Messages()
	if err := s.SetStatus(msgs[1].SID, "delivered"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetStatus("SMnope", "sent"); err == nil {
		t.Error("SetStatus of an unknown SID succeeded")
	}
	today := time.Now().UTC().Format("2006-01-02")
	for _, tc := range []struct {
		q    url.Values
		want int
	}{
		{url.Values{"DateSent": {today}}, 1},
		{url.Values{"DateSent>": {today}}, 1},
		{url.Values{"DateSent<": {today}}, 1},
		{url.Values{"DateSent>": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}}, 1},
		{url.Values{"DateSent>": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}}, 0},
		{url.Values{"DateSent<": {"2000-01-01"}}, 0},
		{url.Values{"From": {from}}, 6},
		{url.Values{"From": {"+19999999999"}}, 0},
		{url.Values{}, 6},
	} {
		_, _, page := do(t, http.MethodGet, messagesURL(s)+"?"+tc.q.Encode(), nil, true)
		if n := len(page["messages"].([]any)); n != tc.want {
			t.Errorf("%v: %d messages, want %d", tc.q, n, tc.want)
		}
	}
	status, _, page = do(t, http.MethodGet, messagesURL(s)+"?DateSent=yesterday", nil, true)
	if status != 400 {
		t.Errorf("bad DateSent: %d %v", status, page)
	}
	m, _ := s.Message(msgs[1].SID)
	if m.Status != "delivered" || m.Sent.IsZero() {
		t.Errorf("after SetStatus: %+v", m)
	}
}

func TestScriptForAndDelay(t *testing.T) {
	s := start(t)
	c, err := twilio.New(twilio.Config{AccountSID: sid, AuthToken: token, From: from, BaseURL: s.URL, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s.Script(twiliotest.Response{Code: 21610})
	s.ScriptFor("+15550000001", twiliotest.Response{Code: 21211})
	// The per-recipient queue goes first for its recipient; others use the
	// shared queue.
	if _, err := c.Send(ctx, "+15550000001", body); twilio.Classify(err) != twilio.ClassPermanent {
		t.Errorf("ScriptFor: %v", err)
	}
	if _, err := c.Send(ctx, "+15550000001", body); twilio.Classify(err) != twilio.ClassOptOut {
		t.Errorf("shared script: %v", err)
	}
	if _, err := c.Send(ctx, "+15550000001", body); err != nil {
		t.Errorf("unscripted: %v", err)
	}
	// A plain Delay the caller does not wait for creates nothing.
	s.Script(twiliotest.Response{Delay: time.Second})
	if _, err := c.Send(ctx, to, body); twilio.Classify(err) != twilio.ClassAmbiguous {
		t.Errorf("delay: %v", err)
	}
	// Delay with Create: created at once.
	s.Script(twiliotest.Response{Delay: time.Second, Create: true, HTTPStatus: 201})
	if _, err := c.Send(ctx, to, body); twilio.Classify(err) != twilio.ClassAmbiguous {
		t.Errorf("delay+create: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if s.Creates() != 2 || s.Calls() != 5 {
		t.Errorf("creates %d calls %d, want 2 and 5", s.Creates(), s.Calls())
	}
	// A Delay the caller waits for answers 201 and creates.
	c2, _ := twilio.New(twilio.Config{AccountSID: sid, AuthToken: token, From: from, BaseURL: s.URL})
	s.Script(twiliotest.Response{Delay: 50 * time.Millisecond})
	if m, err := c2.Send(ctx, to, body); err != nil || m.SID == "" {
		t.Errorf("waited delay: %+v %v", m, err)
	}
	if s.Creates() != 3 {
		t.Errorf("creates %d, want 3", s.Creates())
	}
}

func TestCloseEndsDelay(t *testing.T) {
	s, err := twiliotest.Start(sid, token)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := twilio.New(twilio.Config{AccountSID: sid, AuthToken: token, From: from, BaseURL: s.URL})
	s.Script(twiliotest.Response{Delay: time.Minute})
	done := make(chan error, 1)
	go func() {
		_, err := c.Send(context.Background(), to, body)
		done <- err
	}()
	for s.Calls() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	t0 := time.Now()
	s.Close()
	select {
	case err := <-done:
		if twilio.Classify(err) != twilio.ClassAmbiguous {
			t.Errorf("Send = %v, want ambiguous", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the delayed call")
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
}

// receiver is an httptest webhook that checks signatures like apptbridge's
// webhook will: against its configured URL.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	forms  []url.Values
	valid  []bool
	status int
}

func newReceiver(t *testing.T, path string) *receiver {
	rc := &receiver{status: http.StatusOK}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		full := rc.URL + path
		ok := r.URL.Path == path && twilio.ValidateSignature(token, full, r.PostForm, r.Header.Get(twilio.SignatureHeader))
		rc.mu.Lock()
		rc.forms = append(rc.forms, r.PostForm)
		rc.valid = append(rc.valid, ok)
		st := rc.status
		rc.mu.Unlock()
		if !ok {
			st = http.StatusForbidden
		}
		w.WriteHeader(st)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() ([]url.Values, []bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]url.Values(nil), rc.forms...), append([]bool(nil), rc.valid...)
}

func TestCallback(t *testing.T) {
	s := start(t)
	rc := newReceiver(t, "/twilio/status")
	c, _ := twilio.New(twilio.Config{AccountSID: sid, AuthToken: token, From: from, BaseURL: s.URL, StatusCallback: rc.URL + "/twilio/status"})
	ctx := context.Background()
	m, err := c.Send(ctx, to, body)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Callback(ctx, m.SID, "sent", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Callback(ctx, m.SID, "undelivered", 30006); err != nil {
		t.Fatal(err)
	}
	forms, valid := rc.got()
	if len(forms) != 2 || !valid[0] || !valid[1] {
		t.Fatalf("forms %v valid %v", forms, valid)
	}
	f := forms[0]
	for k, v := range map[string]string{"MessageSid": m.SID, "SmsSid": m.SID, "MessageStatus": "sent", "SmsStatus": "sent",
		"AccountSid": sid, "To": to, "From": from, "ApiVersion": "2010-04-01"} {
		if f.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, f.Get(k), v)
		}
	}
	if _, ok := f["ErrorCode"]; ok {
		t.Error("ErrorCode sent with code 0")
	}
	if forms[1].Get("ErrorCode") != "30006" || forms[1].Get("MessageStatus") != "undelivered" {
		t.Errorf("second callback %v", forms[1])
	}
	got, _ := s.Message(m.SID)
	if got.Status != "undelivered" || got.ErrorCode != 30006 {
		t.Errorf("message after callbacks: %+v", got)
	}
	// Errors: unknown SID, no StatusCallback, a non-2xx answer.
	if err := s.Callback(ctx, "SMnope", "sent", 0); err == nil {
		t.Error("unknown SID: no error")
	}
	c2, _ := twilio.New(twilio.Config{AccountSID: sid, AuthToken: token, From: from, BaseURL: s.URL})
	m2, _ := c2.Send(ctx, to, body)
	if err := s.Callback(ctx, m2.SID, "sent", 0); err == nil {
		t.Error("no StatusCallback: no error")
	}
	rc.mu.Lock()
	rc.status = 500
	rc.mu.Unlock()
	if err := s.Callback(ctx, m.SID, "delivered", 0); err == nil || !strings.Contains(err.Error(), "HTTP 500") {
		t.Errorf("500 answer: %v", err)
	}
}

func TestInbound(t *testing.T) {
	s := start(t)
	rc := newReceiver(t, "/twilio/sms")
	ctx := context.Background()
	msid, status, err := s.Inbound(ctx, rc.URL+"/twilio/sms", to, from, "confirm appt")
	if err != nil || status != 200 || !sidRE.MatchString(msid) {
		t.Fatalf("Inbound = %q, %d, %v", msid, status, err)
	}
	status, err = s.InboundWithSID(ctx, rc.URL+"/twilio/sms", msid, to, from, "confirm appt")
	if err != nil || status != 200 {
		t.Fatalf("InboundWithSID = %d, %v", status, err)
	}
	forms, valid := rc.got()
	if len(forms) != 2 || !valid[0] || !valid[1] {
		t.Fatalf("forms %v valid %v", forms, valid)
	}
	for _, f := range forms {
		for k, v := range map[string]string{"MessageSid": msid, "SmsSid": msid, "SmsMessageSid": msid, "AccountSid": sid,
			"From": to, "To": from, "Body": "confirm appt", "NumMedia": "0", "NumSegments": "1", "ApiVersion": "2010-04-01"} {
			if f.Get(k) != v {
				t.Errorf("%s = %q, want %q", k, f.Get(k), v)
			}
		}
	}
	// The webhook's status comes back; a wrong URL fails its signature check.
	status, err = s.InboundWithSID(ctx, rc.URL+"/other", msid, to, from, "x")
	if err != nil || status != http.StatusForbidden {
		t.Errorf("wrong path: %d %v", status, err)
	}
	// Inbound messages are listed (as by Twilio) but are not creates.
	if s.Creates() != 0 || len(s.Messages()) != 0 {
		t.Errorf("creates %d messages %d", s.Creates(), len(s.Messages()))
	}
	if m, ok := s.Message(msid); !ok || m.Direction != "inbound" || m.Status != "received" {
		t.Errorf("Message(%s) = %+v, %v", msid, m, ok)
	}
	// Transport errors are errors.
	if _, _, err := s.Inbound(ctx, "http://127.0.0.1:1/x", to, from, "x"); err == nil {
		t.Error("unreachable webhook: no error")
	}
}

func TestLoggerHasNoPHI(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		s := twiliotest.NewServer(sid, token)
		var mu sync.Mutex
		var lines []string
		s.Logger = func(format string, args ...any) {
			mu.Lock()
			lines = append(lines, fmt.Sprintf(format, args...))
			mu.Unlock()
		}
		s.Verbose = verbose
		created := make(chan twiliotest.Message, 10)
		s.OnCreate = func(m twiliotest.Message) { created <- m }
		if err := s.Open("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		c, _ := twilio.New(twilio.Config{AccountSID: sid, AuthToken: token, From: from, BaseURL: s.URL})
		m, err := c.Send(context.Background(), to, body)
		if err != nil {
			t.Fatal(err)
		}
		s.Script(twiliotest.Response{Code: 21211})
		_, _ = c.Send(context.Background(), to, body)
		hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		_, _, _ = s.Inbound(context.Background(), hook.URL, to, from, body)
		hook.Close()
		s.Close()
		if got := <-created; got.SID != m.SID {
			t.Errorf("OnCreate got %s, want %s", got.SID, m.SID)
		}
		mu.Lock()
		all := strings.Join(lines, "\n")
		mu.Unlock()
		if len(lines) != 3 || !strings.Contains(all, m.SID) {
			t.Errorf("lines:\n%s", all)
		}
		if strings.Contains(all, "5551234567") || strings.Contains(all, "5005550006") {
			t.Errorf("log carries a phone number:\n%s", all)
		}
		if hasBody := strings.Contains(all, "CONFIRM APPT"); hasBody != verbose {
			t.Errorf("verbose=%v but body logged=%v:\n%s", verbose, hasBody, all)
		}
	}
}

func TestWaitMessages(t *testing.T) {
	s := start(t)
	c, _ := twilio.New(twilio.Config{AccountSID: sid, AuthToken: token, From: from, BaseURL: s.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.WaitMessages(ctx, 1); err == nil {
		t.Error("WaitMessages returned without messages")
	}
	go func() {
		for i := range 3 {
			_, _ = c.Send(context.Background(), to, fmt.Sprint("m", i))
		}
	}()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	msgs, err := s.WaitMessages(ctx2, 3)
	if err != nil || len(msgs) != 3 || msgs[0].Body != "m0" || msgs[2].Body != "m2" {
		t.Fatalf("WaitMessages = %+v, %v", msgs, err)
	}
}

func TestListenAndShutdown(t *testing.T) {
	s, err := twiliotest.Listen("127.0.0.1:0", sid, token)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Errorf("URL %q", s.URL)
	}
	if err := s.Open("127.0.0.1:0"); err == nil {
		t.Error("second Open succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Error(err)
	}
	if _, err := http.Get(s.URL); err == nil {
		t.Error("server still answers after Shutdown")
	}
}

func TestSegments(t *testing.T) {
	tests := []struct {
		body string
		want int
	}{
		{"", 0},
		{"hi", 1},
		{strings.Repeat("a", 160), 1},
		{strings.Repeat("a", 161), 2},
		{strings.Repeat("a", 306), 2},
		{strings.Repeat("a", 307), 3},
		{strings.Repeat("€", 80), 1}, // extension: 2 septets each
		{strings.Repeat("€", 81), 2},
		{strings.Repeat("ñ", 160), 1}, // in the GSM basic set
		{strings.Repeat("á", 70), 1},  // not GSM: UCS-2
		{strings.Repeat("á", 71), 2},
		{strings.Repeat("😀", 35), 1}, // surrogate pairs: 2 units each
		{strings.Repeat("😀", 36), 2},
	}
	for _, tt := range tests {
		if got := twiliotest.Segments(tt.body); got != tt.want {
			t.Errorf("Segments(%d×%q) = %d, want %d", len([]rune(tt.body)), []rune(tt.body + " ")[0], got, tt.want)
		}
	}
}
