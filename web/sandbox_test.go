package web_test

import (
	"bytes"
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/notify"
	"github.com/apptbridge/apptbridge/store"
)

type sandboxTexts struct {
	Texts []struct {
		ID            string `json:"id"`
		Direction     string `json:"direction"`
		Kind          string `json:"kind"`
		Status        string `json:"status"`
		Body          string `json:"body"`
		Phone         string `json:"phone"`
		AppointmentID string `json:"appointment_id"`
	} `json:"texts"`
}

// runWorker runs the real outbox worker once in sandbox mode (no Sender):
// due texts are rendered and kept with status "sandbox".
func (h *harness) runWorker() {
	h.t.Helper()
	tmpl, err := notify.LoadTemplates("")
	if err != nil {
		h.t.Fatal(err)
	}
	w := &notify.Worker{Store: h.db, Templates: tmpl,
		Vars: notify.Vars{CustomerName: "Owl Clinic", CallbackPhone: "+18005552222"}, Now: h.clock.Now}
	if _, err := w.RunOnce(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

func TestSandbox(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{sandbox: true})
	h.book("20000", "1000", "(312) 555-0199", "2026-12-01T15:00:00")
	h.book("20001", "1001", "+13125550142", "2026-12-02T15:00:00")
	h.runWorker()

	var st sandboxTexts
	h.get("/v1/sandbox/texts?phone="+strings.ReplaceAll("(312) 555-0199", " ", "%20"), &st)
	if len(st.Texts) != 1 {
		t.Fatalf("texts of the phone: %+v", st.Texts)
	}
	x := st.Texts[0]
	if x.Kind != "booked" || x.Status != store.TextSandbox || x.Direction != "out" || x.Phone != "+13125550199" ||
		x.AppointmentID != "20000" {
		t.Errorf("sandbox text %+v", x)
	}
	if !strings.Contains(x.Body, "Jane") || !strings.Contains(x.Body, "CANCEL APPT") {
		t.Errorf("sandbox text body %q: want the rendered booked text", x.Body)
	}
	// E.164 in the query reads the same; no phone lists every text.
	h.get("/v1/sandbox/texts?phone=%2B13125550199", &st)
	if len(st.Texts) != 1 {
		t.Errorf("texts by E.164: %d", len(st.Texts))
	}
	h.get("/v1/sandbox/texts", &st)
	if len(st.Texts) != 2 {
		t.Errorf("all texts: %d, want 2", len(st.Texts))
	}
	h.get("/v1/sandbox/texts?limit=1", &st)
	if len(st.Texts) != 1 {
		t.Errorf("limit=1: %d texts", len(st.Texts))
	}

	// A reply typed in the simulator goes through the reply path.
	r := h.postJSON("/v1/sandbox/sms", `{"from":"(312) 555-0199","body":"Confirm APPT"}`)
	if r.code != http.StatusOK {
		t.Fatalf("sandbox sms: %v", r)
	}
	checkJSONHeaders(t, r)
	var out map[string]any
	r.decode(t, &out)
	if out["intent"] != string(notify.IntentConfirm) || out["appointment_id"] != "20000" || out["applied"] != true {
		t.Errorf("sandbox sms answer %v", out)
	}
	reqs := h.requests(store.RequestFilter{})
	if len(reqs) != 1 || reqs[0].Type != apptbridge.Confirm || reqs[0].AppointmentID != "20000" {
		t.Fatalf("requests %+v, want one CONFIRM for 20000", reqs)
	}
	// Simulator use is an audited admin action (no phone, no body).
	audit, err := h.db.Audit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 1 || audit[0].Action != "simulate.sms" || audit[0].Target != "20000" ||
		audit[0].Actor != "token:test" || audit[0].Detail != "reply "+string(notify.IntentConfirm) {
		t.Errorf("audit after a simulated reply: %+v", audit)
	}
	h.runWorker()
	h.get("/v1/sandbox/texts?phone=3125550199", &st)
	var kinds []string
	for _, x := range st.Texts {
		kinds = append(kinds, x.Direction+":"+x.Kind)
		if x.Direction == "in" && x.Body != "Confirm APPT" {
			t.Errorf("inbound body %q", x.Body)
		}
		if x.Kind == string(apptbridge.TextConfirmReceipt) && (x.Status != store.TextSandbox || x.Body == "") {
			t.Errorf("receipt %+v", x)
		}
	}
	// The reply and its receipt share a created_at (the test clock stands
	// still): compare as a set.
	sort.Strings(kinds)
	if got := strings.Join(kinds, ","); got != "in:reply,out:booked,out:confirm-receipt" {
		t.Errorf("texts of the phone: %s", got)
	}

	// STOP from the simulator opts the phone out, like Twilio's webhook.
	r = h.postJSON("/v1/sandbox/sms", map[string]string{"from": "+13125550142", "body": "STOP"})
	if r.code != http.StatusOK {
		t.Fatalf("sandbox STOP: %v", r)
	}
	if a := h.appointment("20001"); a.Disposition != apptbridge.DispOptedOut {
		t.Errorf("after STOP: %s", a.Disposition)
	}
	if o, _ := h.phone("+13125550142"); !o {
		t.Error("phone not opted out")
	}
	// Each simulator message is a new message (no replay dedup by body).
	h.postJSON("/v1/sandbox/sms", `{"from":"(312) 555-0199","body":"Confirm APPT"}`)
	if n := len(h.requests(store.RequestFilter{})); n != 2 {
		t.Errorf("%d requests after a second CONFIRM, want 2", n)
	}

	// Bad input: 400 naming the field, never echoing it.
	writes := h.st.writes.Load()
	for _, c := range []struct {
		body  string
		code  int
		field string
	}{
		{`{"from":"CANARY","body":"CONFIRM APPT"}`, 400, "from"},
		{`{"from":"","body":"CONFIRM APPT"}`, 400, "from"},
		{`{"body":"CONFIRM APPT"}`, 400, "from"},
		{`{"from":"+13125550199","body":"` + strings.Repeat("C", 1601) + `"}`, 400, "body"},
		{`{"from":"CANARY","body":"` + strings.Repeat("C", 1601) + `"}`, 400, "from,body"},
		{`{"from":"+13125550199","body":"x","extra":1}`, 400, ""},
		{`not json`, 400, ""},
		{`{"from":"` + strings.Repeat("1", 70<<10) + `"}`, 413, ""},
	} {
		r := h.postJSON("/v1/sandbox/sms", c.body)
		if r.code != c.code {
			t.Errorf("%.60s: %v, want %d", c.body, r, c.code)
			continue
		}
		checkJSONHeaders(t, r)
		var e errorView
		r.decode(t, &e)
		if got := strings.Join(e.fields(), ","); got != c.field {
			t.Errorf("%.60s: fields %q, want %q", c.body, got, c.field)
		}
		if bytes.Contains(r.body, []byte("CANARY")) {
			t.Errorf("%.60s: echoes the value: %s", c.body, r.body)
		}
	}
	for _, q := range []struct{ query, field string }{
		{"?phone=CANARY", "phone"},
		{"?limit=0", "limit"},
		{"?limit=x", "limit"},
	} {
		r := h.do(http.MethodGet, "/v1/sandbox/texts"+q.query, h.token, "", nil)
		var e errorView
		if r.code == http.StatusBadRequest {
			r.decode(t, &e)
		}
		if r.code != http.StatusBadRequest || strings.Join(e.fields(), ",") != q.field || bytes.Contains(r.body, []byte("CANARY")) {
			t.Errorf("GET /v1/sandbox/texts%s: %v, want 400 naming %s", q.query, r, q.field)
		}
	}
	if n := h.st.writes.Load() - writes; n != 0 {
		t.Errorf("%d store writes for bad simulator input", n)
	}

	// The simulator needs an API token too.
	if r := h.do(http.MethodGet, "/v1/sandbox/texts", "", "", nil); r.code != http.StatusUnauthorized {
		t.Errorf("sandbox texts without a token: %v", r)
	}
	if r := h.do(http.MethodPost, "/v1/sandbox/sms", "", "application/json",
		strings.NewReader(`{"from":"+13125550199","body":"STOP"}`)); r.code != http.StatusUnauthorized {
		t.Errorf("sandbox sms without a token: %v", r)
	}
}

// TestSandboxOff: without Sandbox the simulator does not exist.
func TestSandboxOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{twilioToken: testToken})
	if r := h.do(http.MethodGet, "/v1/sandbox/texts", h.token, "", nil); r.code != http.StatusNotFound {
		t.Errorf("GET /v1/sandbox/texts: %v, want 404", r)
	}
	r := h.postJSON("/v1/sandbox/sms", `{"from":"+13125550199","body":"STOP"}`)
	if r.code != http.StatusNotFound {
		t.Errorf("POST /v1/sandbox/sms: %v, want 404", r)
	}
	if o, _ := h.phone("+13125550199"); o {
		t.Error("opted out through a simulator that is off")
	}
}
