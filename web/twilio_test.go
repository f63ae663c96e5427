package web_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/notify/twilio"
	"github.com/apptbridge/apptbridge/notify/twilio/twiliotest"
	"github.com/apptbridge/apptbridge/store"
)

const patientPhone = "+13125550199"

func newTwilioHarness(t *testing.T) (*harness, *twiliotest.Server) {
	t.Helper()
	h := newHarness(t, options{twilioToken: testToken})
	tw := twiliotest.NewServer(testAccount, testToken)
	t.Cleanup(func() { tw.Close() })
	return h, tw
}

// inbound delivers a signed inbound SMS through the Twilio-like server and
// requires 200.
func (h *harness) inbound(tw *twiliotest.Server, from, body string) string {
	h.t.Helper()
	sid, code, err := tw.Inbound(context.Background(), h.srv.URL+"/twilio/sms", from, ourNumber, body)
	if err != nil || code != http.StatusOK {
		h.t.Fatalf("inbound %q: HTTP %d, %v", body, code, err)
	}
	return sid
}

func TestTwilioSMSGenuine(t *testing.T) {
	t.Parallel()
	h, tw := newTwilioHarness(t)
	h.book("20000", "1000", patientPhone, "2026-12-01T15:00:00")
	h.markSent(store.TextSandbox)

	sid := "SM" + strings.Repeat("a", 32)
	r := h.signed("/twilio/sms", inboundForm(sid, patientPhone, "Confirm appt!"))
	if r.code != http.StatusOK {
		t.Fatalf("genuine inbound: %v", r)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
		t.Errorf("Content-Type %q, want text/xml (TwiML)", ct)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	if !strings.Contains(string(r.body), "<Response></Response>") {
		t.Errorf("TwiML %s", r.body)
	}
	in := h.texts(store.TextFilter{Direction: store.DirIn})
	if len(in) != 1 || in[0].SID != sid || in[0].Phone != patientPhone || in[0].Body != "Confirm appt!" ||
		in[0].AppointmentID != "20000" || in[0].Kind != apptbridge.TextReply || in[0].Status != store.TextReceived {
		t.Fatalf("inbound texts %+v", in)
	}
	reqs := h.requests(store.RequestFilter{})
	if len(reqs) != 1 || reqs[0].Type != apptbridge.Confirm || reqs[0].AppointmentID != "20000" {
		t.Fatalf("requests %+v", reqs)
	}
	if a := h.appointment("20000"); a.Disposition != apptbridge.DispQueued {
		t.Errorf("appointment %s, want QUEUED", a.Disposition)
	}

	// The Twilio-like server's own signed delivery is accepted too, and
	// many genuine requests at once are all accepted (T22).
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := fmt.Sprintf("+1312555%04d", 1000+i)
			_, code, err := tw.Inbound(context.Background(), h.srv.URL+"/twilio/sms", from, ourNumber, "what time?")
			if err != nil || code != http.StatusOK {
				errs <- fmt.Errorf("genuine %d: HTTP %d %v", i, code, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(h.texts(store.TextFilter{Direction: store.DirIn})); n != 101 {
		t.Errorf("%d inbound texts, want 101", n)
	}

	// PUBLIC_BASE_URL with a trailing slash signs the same.
	h2 := newHarness(t, options{twilioToken: testToken, trailingSlash: true})
	if r := h2.signed("/twilio/sms", inboundForm(sid, patientPhone, "HELP")); r.code != http.StatusOK {
		t.Errorf("PUBLIC_BASE_URL with a trailing slash: %v", r)
	}
}

// TestTwilioSMSMutants is T22: every tampered request is refused with 403
// and writes nothing.
func TestTwilioSMSMutants(t *testing.T) {
	t.Parallel()
	h, _ := newTwilioHarness(t)
	h.book("20000", "1000", patientPhone, "2026-12-01T15:00:00")
	h.markSent(store.TextSandbox)

	u, err := url.Parse(h.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(u.Host)
	p, _ := strconv.Atoi(port)
	good := h.srv.URL + "/twilio/sms"

	type mutant struct {
		name string
		form url.Values // what is posted
		sig  string     // the header ("" for none)
		path string     // default /twilio/sms
	}
	var mutants []mutant
	for _, body := range []string{"CONFIRM APPT", "STOP", "CANCEL APPT", "START"} {
		sid := "SM" + strings.Repeat("b", 31) + strconv.Itoa(len(body))
		base := inboundForm(sid, patientPhone, body)
		sign := func(u string, f url.Values) string { return twilio.Signature(testToken, u, f) }
		valid := sign(good, base)
		clone := func() url.Values {
			c := url.Values{}
			for k, v := range base {
				c[k] = append([]string(nil), v...)
			}
			return c
		}
		raw, _ := base64.StdEncoding.DecodeString(valid)
		for i := 0; i < len(raw); i += 5 {
			b := append([]byte(nil), raw...)
			b[i] ^= 0x01
			mutants = append(mutants, mutant{fmt.Sprintf("%s: signature byte %d", body, i), base,
				base64.StdEncoding.EncodeToString(b), ""})
		}
		mutants = append(mutants,
			mutant{body + ": signature truncated", base, valid[:len(valid)-2], ""},
			mutant{body + ": signature not base64", base, "not-a-signature!", ""},
			mutant{body + ": no header", base, "", ""},
			mutant{body + ": wrong token", base, twilio.Signature("ffffffffffffffffffffffffffffffff", good, base), ""},
			mutant{body + ": empty token", base, twilio.Signature("", good, base), ""},
			mutant{body + ": host changed", base, sign("http://localhost:"+port+"/twilio/sms", base), ""},
			mutant{body + ": other host", base, sign("http://appt.example.org:"+port+"/twilio/sms", base), ""},
			mutant{body + ": port changed", base, sign(fmt.Sprintf("http://%s:%d/twilio/sms", host, p+1), base), ""},
			mutant{body + ": scheme changed", base, sign("https://"+u.Host+"/twilio/sms", base), ""},
			mutant{body + ": path changed", base, sign(h.srv.URL+"/twilio/status", base), ""},
			mutant{body + ": query added", base, sign(good+"?a=1", base), ""},
			mutant{body + ": signed for the other endpoint", base, valid, "/twilio/status"},
		)
		for _, k := range []string{"Body", "From", "MessageSid", "To", "AccountSid"} {
			f := clone()
			f.Set(k, f.Get(k)+"x")
			mutants = append(mutants, mutant{body + ": changed " + k, f, valid, ""})
			f = clone()
			f.Del(k)
			mutants = append(mutants, mutant{body + ": missing " + k, f, valid, ""})
			f = clone()
			f.Add(k, "+13125550100")
			mutants = append(mutants, mutant{body + ": repeated " + k, f, valid, ""})
		}
		f := clone()
		f.Set("Extra", "1")
		mutants = append(mutants, mutant{body + ": extra param", f, valid, ""})
		f = clone()
		f.Set("Body", strings.ToLower(body))
		mutants = append(mutants, mutant{body + ": case of Body", f, valid, ""})
		// A repeated key signed as Twilio's libraries sign it is still
		// refused: twilio-go would check only the first value.
		f = clone()
		f.Add("Body", "CANCEL APPT")
		mutants = append(mutants, mutant{body + ": repeated Body, signed", f, sign(good, f), ""})
	}

	before := h.state(patientPhone)
	writes := h.st.writes.Load()
	for _, m := range mutants {
		path := m.path
		if path == "" {
			path = "/twilio/sms"
		}
		r := h.postForm(path, m.form, m.sig)
		if r.code != http.StatusForbidden {
			t.Errorf("%s: %v, want 403", m.name, r)
		}
	}
	if n := h.st.writes.Load() - writes; n != 0 {
		t.Errorf("%d store writes for %d mutants", n, len(mutants))
	}
	if after := h.state(patientPhone); !reflect.DeepEqual(before, after) {
		t.Errorf("mutants changed the store:\nbefore %+v\nafter  %+v", before, after)
	}
	if len(mutants) < 100 {
		t.Errorf("only %d mutants", len(mutants))
	}

	// The same tampering on the status callback.
	h.clock.Add(time.Minute)
	h.postEvent(simEvent("MODIFIED", "20000", "1000", patientPhone, "2026-12-01T15:00:00"))
	sent := h.markSent(store.TwilioQueued)
	if len(sent) == 0 || sent[0].SID == "" {
		t.Fatalf("no text to call back about: %+v", sent)
	}
	before = h.state(patientPhone)
	writes = h.st.writes.Load()
	sf := statusForm(sent[0].SID, "undelivered", 30005)
	statusURL := h.srv.URL + "/twilio/status"
	for name, sig := range map[string]string{
		"no header":    "",
		"wrong token":  twilio.Signature("ffffffffffffffffffffffffffffffff", statusURL, sf),
		"sms url":      twilio.Signature(testToken, good, sf),
		"scheme":       twilio.Signature(testToken, "https://"+u.Host+"/twilio/status", sf),
		"other status": twilio.Signature(testToken, statusURL, statusForm(sent[0].SID, "delivered", 0)),
	} {
		if r := h.postForm("/twilio/status", sf, sig); r.code != http.StatusForbidden {
			t.Errorf("status callback, %s: %v, want 403", name, r)
		}
	}
	if n := h.st.writes.Load() - writes; n != 0 {
		t.Errorf("%d store writes for bad status callbacks", n)
	}
	if after := h.state(patientPhone); !reflect.DeepEqual(before, after) {
		t.Errorf("bad status callbacks changed the store:\nbefore %+v\nafter  %+v", before, after)
	}

	// And the untampered requests are accepted.
	if r := h.signed("/twilio/status", sf); r.code != http.StatusNoContent {
		t.Errorf("genuine status callback: %v", r)
	}
	if r := h.signed("/twilio/sms", inboundForm("SM"+strings.Repeat("c", 32), patientPhone, "CONFIRM APPT")); r.code != http.StatusOK {
		t.Errorf("genuine inbound: %v", r)
	}
}

// TestTwilioSMSPortDropped: PUBLIC_BASE_URL has a non-default port, and
// the signature is over the URL without it (T22, "URL port" mutant): 403.
// twilio-go's RequestValidator alone would accept it (it tries the URL with
// any port removed); twilio.ValidateSignature allows only the default port.
func TestTwilioSMSPortDropped(t *testing.T) {
	t.Parallel()
	h, _ := newTwilioHarness(t)
	u, err := url.Parse(h.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	form := inboundForm("SM"+strings.Repeat("9", 32), patientPhone, "STOP")
	writes := h.st.writes.Load()
	r := h.postForm("/twilio/sms", form, twilio.Signature(testToken, "http://"+u.Hostname()+"/twilio/sms", form))
	if r.code != http.StatusForbidden {
		t.Errorf("port dropped: %v, want 403", r)
	}
	if n := h.st.writes.Load() - writes; n != 0 {
		t.Errorf("%d store writes", n)
	}
	// The default port added to a URL that has none is what Twilio may
	// sign: that stays accepted (checked with a PUBLIC_BASE_URL without a
	// port, the production shape).
	if !twilio.ValidateSignature(testToken, "https://appt.example.org/twilio/sms", form,
		twilio.Signature(testToken, "https://appt.example.org:443/twilio/sms", form)) {
		t.Error("a signature over the URL with :443 added is refused")
	}
	if twilio.ValidateSignature(testToken, "https://appt.example.org/twilio/sms", form,
		twilio.Signature(testToken, "https://appt.example.org:8443/twilio/sms", form)) {
		t.Error("a signature over the URL with :8443 added is accepted")
	}
}

// TestTwilioSMSReplay: the same valid request 100 times has one effect (T22).
func TestTwilioSMSReplay(t *testing.T) {
	t.Parallel()
	h, tw := newTwilioHarness(t)
	h.book("20000", "1000", patientPhone, "2026-12-01T15:00:00")
	h.markSent(store.TextSandbox)

	sid := "SM" + strings.Repeat("d", 32)
	form := inboundForm(sid, patientPhone, "CONFIRM APPT")
	sig := twilio.Signature(testToken, h.srv.URL+"/twilio/sms", form)
	var wg sync.WaitGroup
	codes := make(chan int, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- h.postForm("/twilio/sms", form, sig).code
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Errorf("replay: HTTP %d, want 200", c)
		}
	}
	// Twilio's own retry (same SID through the simulator).
	if code, err := tw.InboundWithSID(context.Background(), h.srv.URL+"/twilio/sms", sid, patientPhone, ourNumber, "CONFIRM APPT"); err != nil || code != http.StatusOK {
		t.Errorf("retry through the simulator: %d %v", code, err)
	}
	in := h.texts(store.TextFilter{Direction: store.DirIn})
	if len(in) != 1 {
		t.Errorf("%d inbound texts, want 1", len(in))
	}
	if reqs := h.requests(store.RequestFilter{}); len(reqs) != 1 || reqs[0].Type != apptbridge.Confirm {
		t.Errorf("requests %+v, want one CONFIRM", reqs)
	}
	if n := countKind(h.texts(store.TextFilter{}), store.DirOut, apptbridge.TextConfirmReceipt); n > 1 {
		t.Errorf("%d confirm receipts", n)
	}
	var a appointmentView
	h.get("/v1/appointments/20000", &a)
	confirms := 0
	for _, e := range a.History {
		if e.EventType == string(apptbridge.Confirm) {
			confirms++
		}
	}
	if confirms != 1 {
		t.Errorf("%d CONFIRM events in the history, want 1", confirms)
	}
}

func TestTwilioSMSBadRequests(t *testing.T) {
	t.Parallel()
	h, _ := newTwilioHarness(t)
	writes := h.st.writes.Load()

	// Over 64 KiB: 413, signed or not.
	big := inboundForm("SM"+strings.Repeat("e", 32), patientPhone, strings.Repeat("x", 70<<10))
	if r := h.signed("/twilio/sms", big); r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("signed 70 KiB body: %v, want 413", r)
	}
	if r := h.postForm("/twilio/sms", big, "bogus"); r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("unsigned 70 KiB body: %v, want 413", r)
	}
	if r := h.signed("/twilio/status", big); r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("70 KiB status callback: %v, want 413", r)
	}

	// Signed but without MessageSid (nor SmsSid), or From: 400.
	f := inboundForm("SMx", patientPhone, "HELP")
	f.Del("MessageSid")
	f.Del("SmsSid")
	f.Del("SmsMessageSid")
	if r := h.signed("/twilio/sms", f); r.code != http.StatusBadRequest {
		t.Errorf("no MessageSid: %v, want 400", r)
	}
	f = inboundForm("SMx", patientPhone, "HELP")
	f.Del("From")
	if r := h.signed("/twilio/sms", f); r.code != http.StatusBadRequest {
		t.Errorf("no From: %v, want 400", r)
	}
	// Status callback without a status.
	sf := statusForm("SMx", "", 0)
	if r := h.signed("/twilio/status", sf); r.code != http.StatusBadRequest {
		t.Errorf("status callback without status: %v, want 400", r)
	}
	// A body that is not a form.
	if r := h.postRaw("/twilio/sms", "%zz=%", "sig"); r.code != http.StatusBadRequest {
		t.Errorf("malformed form: %v, want 400", r)
	}
	if n := h.st.writes.Load() - writes; n != 0 {
		t.Errorf("%d store writes for bad webhook requests", n)
	}
	if s := h.state(); len(s.Texts) != 0 {
		t.Errorf("texts stored: %v", s.Texts)
	}

	// SmsSid alone (older webhooks) is enough.
	f = inboundForm("SM"+strings.Repeat("f", 32), patientPhone, "HELP")
	f.Del("MessageSid")
	if r := h.signed("/twilio/sms", f); r.code != http.StatusOK {
		t.Errorf("SmsSid only: %v, want 200", r)
	}
	if in := h.texts(store.TextFilter{Direction: store.DirIn}); len(in) != 1 || in[0].SID != f.Get("SmsSid") {
		t.Errorf("inbound texts %+v", in)
	}
	// Wrong method.
	if r := h.do(http.MethodGet, "/twilio/sms", "", "", nil); r.code != http.StatusMethodNotAllowed {
		t.Errorf("GET /twilio/sms: %v, want 405", r)
	}
}

// TestTwilioWebhooksOffInSandbox: without TWILIO_AUTH_TOKEN there is no
// Twilio, so its webhooks answer 403 whatever is sent.
func TestTwilioWebhooksOffInSandbox(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{sandbox: true})
	writes := h.st.writes.Load()
	form := inboundForm("SM"+strings.Repeat("a", 32), patientPhone, "STOP")
	for _, sig := range []string{"", twilio.Signature("", h.srv.URL+"/twilio/sms", form),
		twilio.Signature(testToken, h.srv.URL+"/twilio/sms", form)} {
		for _, path := range []string{"/twilio/sms", "/twilio/status"} {
			r := h.postForm(path, form, sig)
			if r.code != http.StatusForbidden {
				t.Errorf("sandbox %s (sig %q): %v, want 403", path, sig, r)
			}
			checkJSONHeaders(t, r)
		}
	}
	if n := h.st.writes.Load() - writes; n != 0 {
		t.Errorf("%d store writes", n)
	}
	if o, _ := h.phone(patientPhone); o {
		t.Error("sandbox webhook opted the phone out")
	}
}

// TestTwilioKeywords is T17/T18 through the webhook.
func TestTwilioKeywords(t *testing.T) {
	t.Parallel()
	type effect struct {
		disp     apptbridge.Disposition
		optedOut bool
		requests []apptbridge.EventType
		outKind  apptbridge.TextKind // a text queued for the phone by the reply
	}
	for _, c := range []struct {
		body string
		want effect
	}{
		{"CANCEL APPT", effect{apptbridge.DispQueued, false, []apptbridge.EventType{apptbridge.Cancel}, apptbridge.TextCancelReceipt}},
		{"  cancel   appt. ", effect{apptbridge.DispQueued, false, []apptbridge.EventType{apptbridge.Cancel}, apptbridge.TextCancelReceipt}},
		{"Cancel Appointment", effect{apptbridge.DispQueued, false, []apptbridge.EventType{apptbridge.Cancel}, apptbridge.TextCancelReceipt}},
		{"CONFIRM APPT", effect{apptbridge.DispQueued, false, []apptbridge.EventType{apptbridge.Confirm}, apptbridge.TextConfirmReceipt}},
		{"c", effect{apptbridge.DispQueued, false, []apptbridge.EventType{apptbridge.Confirm}, apptbridge.TextConfirmReceipt}},
		{"cancel", effect{apptbridge.DispOptedOut, true, nil, ""}},
		{"CANCEL!", effect{apptbridge.DispOptedOut, true, nil, ""}},
		{"Stop please", effect{apptbridge.DispOptedOut, true, nil, ""}},
		{"STOP", effect{apptbridge.DispOptedOut, true, nil, ""}},
		{"unsubscribe", effect{apptbridge.DispOptedOut, true, nil, ""}},
		{"opt out", effect{apptbridge.DispOptedOut, true, nil, ""}},
		{"help", effect{apptbridge.DispQueued, false, nil, apptbridge.TextHelp}},
		{"INFO", effect{apptbridge.DispQueued, false, nil, apptbridge.TextHelp}},
		{"cancel please", effect{apptbridge.DispQueued, false, nil, apptbridge.TextNotUnderstood}},
	} {
		t.Run(strings.TrimSpace(c.body), func(t *testing.T) {
			t.Parallel()
			h, tw := newTwilioHarness(t)
			h.book("20000", "1000", patientPhone, "2026-12-01T15:00:00")
			h.markSent(store.TextSandbox)
			h.inbound(tw, patientPhone, c.body)

			a := h.appointment("20000")
			if a.Disposition != c.want.disp {
				t.Errorf("disposition %s, want %s", a.Disposition, c.want.disp)
			}
			if o, _ := h.phone(patientPhone); o != c.want.optedOut {
				t.Errorf("phone opted out %v, want %v", o, c.want.optedOut)
			}
			var types []apptbridge.EventType
			for _, r := range h.requests(store.RequestFilter{}) {
				types = append(types, r.Type)
			}
			if !reflect.DeepEqual(types, c.want.requests) {
				t.Errorf("requests %v, want %v", types, c.want.requests)
			}
			var pending []apptbridge.TextKind
			for _, x := range h.texts(store.TextFilter{Direction: store.DirOut}) {
				if x.Status == store.TextPending {
					pending = append(pending, x.Kind)
				}
			}
			var want []apptbridge.TextKind
			if c.want.outKind != "" {
				want = []apptbridge.TextKind{c.want.outKind}
			}
			if !reflect.DeepEqual(pending, want) {
				t.Errorf("queued texts %v, want %v", pending, want)
			}
		})
	}
}

func TestTwilioOptOutAndBackIn(t *testing.T) {
	t.Parallel()
	h, tw := newTwilioHarness(t)
	h.book("20000", "1000", patientPhone, "2026-12-01T15:00:00")
	h.markSent(store.TextSandbox)

	h.clock.Add(time.Minute)
	h.inbound(tw, patientPhone, "Stop please")
	if a := h.appointment("20000"); a.Disposition != apptbridge.DispOptedOut {
		t.Fatalf("after STOP: %s", a.Disposition)
	}
	if o, _ := h.phone(patientPhone); !o {
		t.Fatal("phone not on the opt-out list")
	}
	// A CANCEL APPT while opted out asks nothing of the EHR.
	h.inbound(tw, patientPhone, "CANCEL APPT")
	if reqs := h.requests(store.RequestFilter{}); len(reqs) != 0 {
		t.Errorf("requests while opted out: %+v", reqs)
	}

	h.clock.Add(time.Minute)
	h.inbound(tw, patientPhone, "START")
	if a := h.appointment("20000"); a.Disposition != apptbridge.DispQueued {
		t.Errorf("after START: %s, want QUEUED (the ladder state)", a.Disposition)
	}
	if o, _ := h.phone(patientPhone); o {
		t.Error("phone still opted out after START")
	}
	if n := countKind(h.texts(store.TextFilter{}), store.DirOut, apptbridge.TextOptedIn); n != 1 {
		t.Errorf("%d opted-in texts, want 1", n)
	}

	// From REMINDED-1, STOP then START returns to REMINDED-1.
	h2, tw2 := newTwilioHarness(t)
	h2.book("30000", "1000", patientPhone, "2026-12-01T15:00:00")
	err := h2.db.Update(context.Background(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Apply(ctx, &apptbridge.Event{EventID: apptbridge.NewEventID(), EventType: apptbridge.Remind,
			EventDatetimeUTC: h2.clock.Now(), AppointmentID: "30000",
			Source: &apptbridge.Source{Channel: apptbridge.ChannelSystem}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if a := h2.appointment("30000"); a.Disposition != apptbridge.DispReminded1 {
		t.Fatalf("after REMIND: %s", a.Disposition)
	}
	h2.inbound(tw2, patientPhone, "STOP")
	h2.inbound(tw2, patientPhone, "unstop")
	if a := h2.appointment("30000"); a.Disposition != apptbridge.DispReminded1 {
		t.Errorf("after STOP, UNSTOP: %s, want REMINDED-1", a.Disposition)
	}
}

func TestTwilioNotUnderstoodOncePerDay(t *testing.T) {
	t.Parallel()
	h, tw := newTwilioHarness(t)
	h.book("20000", "1000", patientPhone, "2026-12-01T15:00:00")
	h.markSent(store.TextSandbox)

	notUnderstood := func() int {
		return countKind(h.texts(store.TextFilter{Phone: patientPhone}), store.DirOut, apptbridge.TextNotUnderstood)
	}
	h.inbound(tw, patientPhone, "what is this")
	h.clock.Add(3 * time.Hour)
	h.inbound(tw, patientPhone, "hello??")
	if n := notUnderstood(); n != 1 {
		t.Errorf("%d not-understood texts after two unknown replies in a day, want 1", n)
	}
	if n := len(h.texts(store.TextFilter{Direction: store.DirIn})); n != 2 {
		t.Errorf("%d inbound texts stored, want 2", n)
	}
	if reqs := h.requests(store.RequestFilter{}); len(reqs) != 0 {
		t.Errorf("requests %+v", reqs)
	}
	// A day later, one more.
	h.clock.Add(24 * time.Hour)
	h.inbound(tw, patientPhone, "hmm")
	if n := notUnderstood(); n != 2 {
		t.Errorf("%d not-understood texts a day later, want 2", n)
	}
}

// TestTwilioCorrelation: a reply goes to the appointment of the latest
// text that asked that phone for a reply.
func TestTwilioCorrelation(t *testing.T) {
	t.Parallel()
	h, tw := newTwilioHarness(t)
	// A is sooner, B later: a first-upcoming rule would pick A.
	h.book("A", "1000", patientPhone, "2026-12-01T15:00:00")
	h.markSent(store.TextSandbox)
	h.clock.Add(time.Hour)
	h.book("B", "1000", patientPhone, "2026-12-08T15:00:00")
	h.markSent(store.TextSandbox)

	h.clock.Add(time.Minute)
	h.inbound(tw, patientPhone, "CONFIRM APPT")
	reqs := h.requests(store.RequestFilter{})
	if len(reqs) != 1 || reqs[0].AppointmentID != "B" {
		t.Fatalf("requests %+v, want one for B (the latest text asking)", reqs)
	}
	if in := h.texts(store.TextFilter{Direction: store.DirIn}); len(in) != 1 || in[0].AppointmentID != "B" {
		t.Errorf("inbound text filed under %q, want B", in[0].AppointmentID)
	}

	// A text about A that asks for a reply goes out later: replies go to A.
	h.clock.Add(time.Hour)
	mod := simEvent("MODIFIED", "A", "1000", patientPhone, "2026-12-01T15:00:00")
	mod["event_datetime_utc"] = h.clock.Now().Format(time.RFC3339)
	mod["appointment_location"] = "Atlantic Primary Care"
	if out := h.postEvent(mod); out["text"] != "modified" {
		t.Fatalf("MODIFIED: %v", out)
	}
	h.markSent(store.TextSandbox)
	h.clock.Add(time.Minute)
	h.inbound(tw, patientPhone, "CANCEL APPT")
	reqs = h.requests(store.RequestFilter{})
	if len(reqs) != 2 || reqs[1].AppointmentID != "A" || reqs[1].Type != apptbridge.Cancel {
		t.Fatalf("requests %+v, want the second, CANCEL, for A", reqs)
	}

	// A text that does not ask (the receipts) changes nothing: a confirm
	// still goes to A.
	h.markSent(store.TextSandbox)
	h.clock.Add(time.Minute)
	h.inbound(tw, patientPhone, "C")
	reqs = h.requests(store.RequestFilter{})
	if len(reqs) != 3 || reqs[2].AppointmentID != "A" {
		t.Fatalf("requests %+v, want the third for A", reqs)
	}
	// The other phone's replies are its own business.
	h.inbound(tw, "+13125550100", "CONFIRM APPT")
	if n := len(h.requests(store.RequestFilter{})); n != 3 {
		t.Errorf("a stranger's CONFIRM made a request (%d)", n)
	}
}

func TestTwilioStatusCallbacks(t *testing.T) {
	t.Parallel()
	h, _ := newTwilioHarness(t)
	h.book("20000", "1000", patientPhone, "2026-12-01T15:00:00")
	sent := h.markSent(store.TwilioQueued)
	if len(sent) != 1 {
		t.Fatalf("%d texts sent", len(sent))
	}
	sid := sent[0].SID

	// Callbacks shuffled and duplicated, as Twilio may deliver them.
	var seq []string
	for _, s := range []string{"queued", "sending", "sent", "delivered"} {
		seq = append(seq, s, s, s)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 5; round++ {
		rng.Shuffle(len(seq), func(i, j int) { seq[i], seq[j] = seq[j], seq[i] })
		for _, s := range seq {
			if r := h.signed("/twilio/status", statusForm(sid, s, 0)); r.code != http.StatusNoContent {
				t.Fatalf("callback %s: %v", s, r)
			}
		}
		if got := h.texts(store.TextFilter{AppointmentID: "20000"})[0].Status; got != "delivered" {
			t.Fatalf("round %d (%v): status %s, want delivered", round, seq, got)
		}
	}
	// A late "sent" after delivered, and a late "undelivered" with an
	// error: delivered stays, nothing is flagged.
	h.signed("/twilio/status", statusForm(sid, "sent", 0))
	h.signed("/twilio/status", statusForm(sid, "undelivered", 30005))
	var a appointmentView
	h.get("/v1/appointments/20000", &a)
	if len(a.Texts) != 1 || a.Texts[0]["status"] != "delivered" || a.Texts[0]["sid"] != sid {
		t.Errorf("text %v, want delivered", a.Texts)
	}
	if _, f := h.phone(patientPhone); f {
		t.Error("a late undelivered after delivered flagged the phone")
	}
	// read is after delivered.
	h.signed("/twilio/status", statusForm(sid, "read", 0))
	if got := h.texts(store.TextFilter{AppointmentID: "20000"})[0].Status; got != "read" {
		t.Errorf("after read: %s", got)
	}

	// Undelivered with 30005 (unknown destination) flags the phone.
	other := "+13125550142"
	h.book("20001", "1001", other, "2026-12-01T16:00:00")
	sent = h.markSent(store.TwilioQueued)
	if len(sent) != 1 {
		t.Fatalf("%d texts sent", len(sent))
	}
	h.signed("/twilio/status", statusForm(sent[0].SID, "sent", 0))
	if r := h.signed("/twilio/status", statusForm(sent[0].SID, "undelivered", 30005)); r.code != http.StatusNoContent {
		t.Fatalf("undelivered callback: %v", r)
	}
	if _, f := h.phone(other); !f {
		t.Error("30005 did not flag the phone")
	}
	x := h.texts(store.TextFilter{AppointmentID: "20001"})[0]
	if x.Status != "undelivered" || x.ErrorCode != 30005 {
		t.Errorf("text %s %d, want undelivered 30005", x.Status, x.ErrorCode)
	}
	// A text from the phone clears the flag (it is reachable).
	tw := twiliotest.NewServer(testAccount, testToken)
	defer tw.Close()
	h.inbound(tw, other, "hello")
	if _, f := h.phone(other); f {
		t.Error("an inbound text did not clear the flag")
	}

	// Another code (30003, unreachable: retryable) flags nothing.
	third := "+13125550143"
	h.book("20002", "1002", third, "2026-12-01T17:00:00")
	sent = h.markSent(store.TwilioQueued)
	h.signed("/twilio/status", statusForm(sent[0].SID, "undelivered", 30003))
	if _, f := h.phone(third); f {
		t.Error("30003 flagged the phone")
	}

	// An unknown SID: 2xx (Twilio must not retry), nothing stored.
	before := h.state(patientPhone, other, third)
	if r := h.signed("/twilio/status", statusForm("SM"+strings.Repeat("0", 32), "undelivered", 30005)); r.code/100 != 2 {
		t.Errorf("unknown SID: %v, want 2xx", r)
	}
	if after := h.state(patientPhone, other, third); !reflect.DeepEqual(before, after) {
		t.Errorf("an unknown SID changed the store:\nbefore %+v\nafter  %+v", before, after)
	}
}

// TestTwilioCorrelationUpcomingOnly: the latest text asking for a reply
// counts only while its appointment is upcoming (SPEC §8): once A has
// started (still active: EXPIRE has not run yet), a reply goes to B.
func TestTwilioCorrelationUpcomingOnly(t *testing.T) {
	t.Parallel()
	h, tw := newTwilioHarness(t)
	h.book("B", "1000", patientPhone, "2026-12-08T15:00:00")
	h.markSent(store.TextSandbox)
	h.clock.Add(time.Hour)
	h.book("A", "1000", patientPhone, "2026-11-27T10:00:00") // 17:00Z today
	h.markSent(store.TextSandbox)
	h.clock.Add(4 * time.Hour) // 19:03Z: A has started, not yet expired
	if a := h.appointment("A"); a.Disposition != apptbridge.DispQueued {
		t.Fatalf("A %s", a.Disposition)
	}
	h.inbound(tw, patientPhone, "CONFIRM APPT")
	if reqs := h.requests(store.RequestFilter{}); len(reqs) != 1 || reqs[0].AppointmentID != "B" {
		t.Errorf("requests %+v, want one for B (A has started)", reqs)
	}
}

// TestTwilioSMSFromNormalized: a gateway that sends a national number
// reaches the same phone as Twilio's E.164.
func TestTwilioSMSFromNormalized(t *testing.T) {
	t.Parallel()
	h, tw := newTwilioHarness(t)
	h.book("20000", "1000", patientPhone, "2026-12-01T15:00:00")
	h.markSent(store.TextSandbox)
	h.inbound(tw, "(312) 555-0199", "STOP")
	if a := h.appointment("20000"); a.Disposition != apptbridge.DispOptedOut {
		t.Errorf("after STOP from a national number: %s", a.Disposition)
	}
	if o, _ := h.phone(patientPhone); !o {
		t.Error("the E.164 phone is not opted out")
	}
	if in := h.texts(store.TextFilter{Direction: store.DirIn}); len(in) != 1 || in[0].Phone != patientPhone {
		t.Errorf("inbound text %+v, want From stored as E.164", in)
	}
}
