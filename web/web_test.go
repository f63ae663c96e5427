package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/web"
)

// appointmentView is GET /v1/appointments/{id} (SPEC §11).
type appointmentView struct {
	AppointmentID          string    `json:"appointment_id"`
	PatientID              string    `json:"patient_id"`
	PatientPhone           string    `json:"patient_phone"`
	ProviderCallbackPhone  string    `json:"provider_callback_phone"`
	AppointmentDatetime    string    `json:"appointment_datetime"`
	AppointmentTimezone    string    `json:"appointment_timezone"`
	AppointmentDatetimeUTC time.Time `json:"appointment_datetime_utc"`
	Disposition            string    `json:"disposition"`
	Confirmed              bool      `json:"confirmed"`
	RemindersSent          int       `json:"reminders_sent"`
	Version                int64     `json:"version"`
	History                []struct {
		EventID          string    `json:"event_id"`
		EventType        string    `json:"event_type"`
		EventDatetimeUTC time.Time `json:"event_datetime_utc"`
		Applied          bool      `json:"applied"`
		Reason           string    `json:"reason"`
		Channel          string    `json:"channel"`
	} `json:"history"`
	Texts    []map[string]any `json:"texts"`
	Requests []map[string]any `json:"requests"`
}

type errorView struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Fields  []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"fields"`
	} `json:"error"`
}

func (e errorView) fields() []string {
	var out []string
	for _, f := range e.Error.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestAuth(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	ctx := context.Background()

	// A revoked token (created revoked) and a token that was never stored.
	revoked, rh := web.NewToken()
	if err := h.db.CreateToken(ctx, &store.Token{ID: apptbridge.NewEventID(), Name: "old", Hash: rh,
		RevokedAt: t0.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	unknown, _ := web.NewToken()

	paths := []struct{ method, path string }{
		{http.MethodGet, "/v1/appointments"},
		{http.MethodGet, "/v1/appointments/20000"},
		{http.MethodGet, "/v1/requests"},
		{http.MethodPost, "/v1/events"},
		{http.MethodPost, "/v1/requests/x/retry"},
	}
	for _, p := range paths {
		for _, c := range []struct {
			name, header string
			wantErr      bool // WWW-Authenticate names error="invalid_token"
		}{
			{"no header", "", false},
			{"empty bearer", "Bearer ", false},
			{"basic", "Basic dXNlcjpwYXNz", false},
			{"unknown", "Bearer " + unknown, true},
			{"revoked", "Bearer " + revoked, true},
			{"token with junk", "Bearer " + h.token + "x", true},
		} {
			req, err := http.NewRequest(p.method, h.srv.URL+p.path, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			if c.header != "" {
				req.Header.Set("Authorization", c.header)
			}
			r := h.send(req)
			if r.code != http.StatusUnauthorized {
				t.Errorf("%s %s, %s: %v, want 401", p.method, p.path, c.name, r)
				continue
			}
			checkJSONHeaders(t, r)
			wa := r.header.Get("WWW-Authenticate")
			if !strings.HasPrefix(wa, "Bearer ") {
				t.Errorf("%s %s, %s: WWW-Authenticate %q", p.method, p.path, c.name, wa)
			}
			if got := strings.Contains(wa, `error="invalid_token"`); got != c.wantErr {
				t.Errorf("%s %s, %s: WWW-Authenticate %q, invalid_token %v, want %v", p.method, p.path, c.name, wa, got, c.wantErr)
			}
			var e errorView
			r.decode(t, &e)
			if e.Error.Code != "unauthorized" {
				t.Errorf("%s %s, %s: error %+v", p.method, p.path, c.name, e)
			}
			if strings.Contains(string(r.body), web.TokenPrefix) {
				t.Errorf("%s %s, %s: the answer echoes a token: %s", p.method, p.path, c.name, r.body)
			}
		}
	}

	// The live token works, with surrounding spaces too.
	for _, hdr := range []string{"Bearer " + h.token, "Bearer  " + h.token + " "} {
		req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/v1/appointments", nil)
		req.Header.Set("Authorization", hdr)
		r := h.send(req)
		if r.code != http.StatusOK {
			t.Fatalf("live token (%q): %v", hdr, r)
		}
		checkJSONHeaders(t, r)
		if r.header.Get("WWW-Authenticate") != "" {
			t.Errorf("200 with WWW-Authenticate")
		}
	}

	// A second token made by web.NewToken and stored works too; tokens differ.
	tok2, h2 := web.NewToken()
	if tok2 == h.token || h2 == web.HashToken(h.token) || web.HashToken(tok2) != h2 {
		t.Fatal("NewToken: tokens not distinct or hash not HashToken")
	}
	if err := h.db.CreateToken(ctx, &store.Token{ID: apptbridge.NewEventID(), Name: "second", Hash: h2}); err != nil {
		t.Fatal(err)
	}
	if r := h.do(http.MethodGet, "/v1/requests", tok2, "", nil); r.code != http.StatusOK {
		t.Fatalf("second token: %v", r)
	}
}

// TestPostEventOriginalPayload posts the original app's simulation event
// (ORIGINAL.md §1) unchanged and reads the appointment back.
func TestPostEventOriginalPayload(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	ev := simEvent("BOOKED", "20000", "1000", "(312) 555-0199", "2026-12-01T15:00:00.000Z")
	r := h.postJSON("/v1/events", ev)
	if r.code != http.StatusAccepted {
		t.Fatalf("POST /v1/events: %v", r)
	}
	checkJSONHeaders(t, r)
	var out map[string]any
	r.decode(t, &out)
	id, _ := out["event_id"].(string)
	if len(id) != 36 {
		t.Errorf("event_id %q, want a UUID", out["event_id"])
	}
	if out["appointment_id"] != "20000" || out["applied"] != true || out["disposition"] != "QUEUED" || out["text"] != "booked" {
		t.Errorf("answer %v", out)
	}
	if h.kicks.Load() == 0 {
		t.Error("a queued text did not kick the workers")
	}

	var a appointmentView
	h.get("/v1/appointments/20000", &a)
	if a.Disposition != "QUEUED" || a.PatientID != "1000" || a.Confirmed || a.RemindersSent != 0 {
		t.Errorf("appointment %+v", a)
	}
	if a.PatientPhone != "+13125550199" || a.ProviderCallbackPhone != "+18005552222" {
		t.Errorf("phones %q %q, want E.164", a.PatientPhone, a.ProviderCallbackPhone)
	}
	// "-0700" fixes the wall clock: 15:00 at -0700 is 22:00Z (the Z is the
	// original's quirk and is ignored).
	if want := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC); !a.AppointmentDatetimeUTC.Equal(want) ||
		a.AppointmentDatetime != "2026-12-01T15:00:00" || a.AppointmentTimezone != "-0700" {
		t.Errorf("time %s %s %s, want 15:00 -0700 = %s", a.AppointmentDatetime, a.AppointmentTimezone, a.AppointmentDatetimeUTC, want)
	}
	if len(a.History) != 1 || a.History[0].EventType != "BOOKED" || !a.History[0].Applied ||
		a.History[0].EventID != id || !a.History[0].EventDatetimeUTC.Equal(t0) || a.History[0].Channel != "http" {
		t.Errorf("history %+v", a.History)
	}
	if len(a.Texts) != 1 {
		t.Fatalf("texts %v, want one", a.Texts)
	}
	tx := a.Texts[0]
	if tx["kind"] != "booked" || tx["status"] != "pending" || tx["direction"] != "out" || tx["created_at"] == nil {
		t.Errorf("text %v", tx)
	}
	for _, k := range []string{"body", "phone"} {
		if _, ok := tx[k]; ok {
			t.Errorf("text shows %q to an API token: %v", k, tx)
		}
	}
	// SPEC §11: history, texts and requests are always there, [] when empty.
	var raw map[string]json.RawMessage
	h.get("/v1/appointments/20000", &raw)
	for _, k := range []string{"history", "texts", "requests"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("appointment JSON lacks %q", k)
		}
	}
	if string(raw["requests"]) != "[]" {
		t.Errorf("requests %s, want []", raw["requests"])
	}

	// Unknown appointment.
	r = h.do(http.MethodGet, "/v1/appointments/nope", h.token, "", nil)
	if r.code != http.StatusNotFound {
		t.Errorf("unknown appointment: %v", r)
	}
	checkJSONHeaders(t, r)
}

func TestPostEventInvalid(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	before := h.st.writes.Load()

	// Three bad fields in one request, with canary values that must not
	// come back.
	ev := simEvent("BOOKED", "20000", "1000", "CANARY-PHONE-77", "CANARY-DATE")
	delete(ev, "patient_id")
	ev["patient_first_name"] = "CanaryFirstName"
	r := h.postJSON("/v1/events", ev)
	if r.code != http.StatusBadRequest {
		t.Fatalf("invalid event: %v", r)
	}
	checkJSONHeaders(t, r)
	var e errorView
	r.decode(t, &e)
	got := strings.Join(e.fields(), ",")
	if got != "patient_id,patient_phone,appointment_datetime" {
		t.Errorf("fields %q, want patient_id,patient_phone,appointment_datetime (%s)", got, r.body)
	}
	for _, f := range e.Error.Fields {
		if f.Message == "" {
			t.Errorf("field %s without a message", f.Field)
		}
	}
	for _, canary := range []string{"CANARY", "Canary", "Jane", "Doe", "Pacific"} {
		if bytes.Contains(r.body, []byte(canary)) {
			t.Errorf("the answer echoes %q: %s", canary, r.body)
		}
	}

	for _, c := range []struct {
		name, body string
		want       int
	}{
		{"not JSON", "event_type=BOOKED&patient_id=1", http.StatusBadRequest},
		{"truncated", `{"event_type":"BOOKED"`, http.StatusBadRequest},
		{"array", `[{"event_type":"BOOKED"}]`, http.StatusBadRequest},
		{"empty", ``, http.StatusBadRequest},
		{"patient event type", `{"event_type":"CONFIRM","patient_id":"1","appointment_id":"2"}`, http.StatusBadRequest},
		{"too large", `{"x":"` + strings.Repeat("a", web.MaxBody) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		r := h.postJSON("/v1/events", c.body)
		if r.code != c.want {
			t.Errorf("%s: %v, want %d", c.name, r, c.want)
			continue
		}
		checkJSONHeaders(t, r)
		var e errorView
		r.decode(t, &e)
		if e.Error.Code == "" || e.Error.Message == "" {
			t.Errorf("%s: error body %s", c.name, r.body)
		}
	}
	// Exactly MaxBody is accepted (and judged on its content).
	pad := web.MaxBody - len(`{"x":""}`)
	if r := h.postJSON("/v1/events", `{"x":"`+strings.Repeat("a", pad)+`"}`); r.code != http.StatusBadRequest {
		t.Errorf("body of exactly MaxBody: %v, want 400 (not 413)", r)
	}
	if n := h.st.writes.Load() - before; n != 0 {
		t.Errorf("%d store writes for invalid events", n)
	}
	if s := h.state(); len(s.Appts) != 0 || len(s.Texts) != 0 {
		t.Errorf("invalid events stored something: %+v", s)
	}
}

func TestPostEventDuplicateAndStale(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	ev := simEvent("BOOKED", "20000", "1000", "+13125550199", "2026-12-01T15:00:00")
	ev["event_id"] = "0192F6E4-7B1A-7C3E-9F00-123456789ABC"
	first := h.postEvent(ev)
	if first["event_id"] != "0192f6e4-7b1a-7c3e-9f00-123456789abc" {
		t.Errorf("event_id %v, want it lower-cased", first["event_id"])
	}

	// The integrator retries: same event_id, even with other content.
	for _, body := range []map[string]any{ev, simEvent("MODIFIED", "20000", "1000", "+13125550199", "2026-12-01T16:00:00")} {
		body["event_id"] = ev["event_id"]
		r := h.postJSON("/v1/events", body)
		if r.code != http.StatusOK {
			t.Fatalf("duplicate event_id: %v, want 200", r)
		}
		checkJSONHeaders(t, r)
		var out map[string]any
		r.decode(t, &out)
		if out["duplicate"] != true || out["event_id"] != "0192f6e4-7b1a-7c3e-9f00-123456789abc" {
			t.Errorf("duplicate answer %v", out)
		}
	}
	var a appointmentView
	h.get("/v1/appointments/20000", &a)
	if len(a.History) != 1 || len(a.Texts) != 1 || a.AppointmentDatetime != "2026-12-01T15:00:00" {
		t.Errorf("after duplicates: %d history, %d texts, time %s", len(a.History), len(a.Texts), a.AppointmentDatetime)
	}

	// A MODIFIED the EHR made before the booking arrives late: stale.
	old := simEvent("MODIFIED", "20000", "1000", "+13125550199", "2026-12-01T16:00:00")
	old["event_datetime_utc"] = t0.Add(-time.Hour).Format(time.RFC3339)
	out := h.postEvent(old)
	if out["applied"] != false || out["reason"] != apptbridge.ReasonStale || out["disposition"] != "QUEUED" {
		t.Errorf("stale event answer %v", out)
	}
	if _, ok := out["text"]; ok {
		t.Errorf("stale event queued a text: %v", out)
	}
	h.get("/v1/appointments/20000", &a)
	if len(a.History) != 2 || a.History[1].Applied || a.History[1].Reason != apptbridge.ReasonStale ||
		a.History[1].EventType != "MODIFIED" {
		t.Errorf("history after the stale event %+v", a.History)
	}
	if a.AppointmentDatetime != "2026-12-01T15:00:00" || len(a.Texts) != 1 || a.Version != 1 {
		t.Errorf("the stale event changed the appointment: %+v", a)
	}
}

func TestListAppointments(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	// A1..A5: patient P1 for A1..A3, P2 for A4, A5; one a day from Dec 1.
	for i, id := range []string{"A1", "A2", "A3", "A4", "A5"} {
		pid := "P1"
		if i >= 3 {
			pid = "P2"
		}
		dt := time.Date(2026, 12, 1+i, 10, 0, 0, 0, time.UTC).Format("2006-01-02T15:04:05")
		h.book(id, pid, "+1312555010"+string(rune('1'+i)), dt)
	}
	h.postEvent(simEvent("CANCELED", "A2", "P1", "+13125550102", "2026-12-02T10:00:00"))

	type list struct {
		Appointments []struct {
			AppointmentID string `json:"appointment_id"`
			PatientID     string `json:"patient_id"`
			Disposition   string `json:"disposition"`
		} `json:"appointments"`
		NextAfter string `json:"next_after"`
	}
	ids := func(l list) string {
		var s []string
		for _, a := range l.Appointments {
			s = append(s, a.AppointmentID)
		}
		return strings.Join(s, ",")
	}
	for _, c := range []struct{ query, want string }{
		{"", "A1,A2,A3,A4,A5"},
		{"?patient_id=P1", "A1,A2,A3"},
		{"?patient_id=P2", "A4,A5"},
		{"?patient_id=nobody", ""},
		{"?disposition=CANCELED", "A2"},
		{"?disposition=canceled", "A2"},
		{"?disposition=QUEUED&patient_id=P1", "A1,A3"},
		{"?disposition=OPTED-OUT", ""},
		// A times are 10:00 at -0700 = 17:00Z.
		{"?from=2026-12-02", "A2,A3,A4,A5"},
		{"?to=2026-12-03", "A1,A2"},
		{"?from=2026-12-02&to=2026-12-04", "A2,A3"},
		{"?from=2026-12-02T17:00:00Z&to=2026-12-03T17:00:00Z", "A2"},
		{"?from=2026-12-02T10:00:00-07:00&to=2026-12-03T17:00:01Z", "A2,A3"},
	} {
		var l list
		h.get("/v1/appointments"+c.query, &l)
		if got := ids(l); got != c.want {
			t.Errorf("GET /v1/appointments%s: %q, want %q", c.query, got, c.want)
		}
		if l.Appointments == nil {
			t.Errorf("GET /v1/appointments%s: appointments is null, want a list", c.query)
		}
	}

	// Paging.
	var pages []string
	after := ""
	for i := 0; i < 10; i++ {
		var l list
		q := "/v1/appointments?limit=2"
		if after != "" {
			q += "&after=" + after
		}
		h.get(q, &l)
		pages = append(pages, ids(l))
		if l.NextAfter == "" {
			break
		}
		after = l.NextAfter
	}
	if got := strings.Join(pages, "|"); got != "A1,A2|A3,A4|A5" {
		t.Errorf("pages %q, want A1,A2|A3,A4|A5", got)
	}

	// Bad parameters: 400 naming each one, never echoing the value.
	for _, c := range []struct{ query, want string }{
		{"?disposition=CANARYDISP", "disposition"},
		{"?disposition=BOOKED", "disposition"},
		{"?from=CANARY", "from"},
		{"?to=2026-13-01", "to"},
		{"?limit=0", "limit"},
		{"?limit=1001", "limit"},
		{"?limit=CANARY", "limit"},
		{"?limit=-1", "limit"},
		{"?disposition=X&from=Y&limit=Z", "disposition,from,limit"},
	} {
		r := h.do(http.MethodGet, "/v1/appointments"+c.query, h.token, "", nil)
		if r.code != http.StatusBadRequest {
			t.Errorf("GET /v1/appointments%s: %v, want 400", c.query, r)
			continue
		}
		checkJSONHeaders(t, r)
		var e errorView
		r.decode(t, &e)
		if got := strings.Join(e.fields(), ","); got != c.want {
			t.Errorf("GET /v1/appointments%s: fields %q, want %q", c.query, got, c.want)
		}
		if bytes.Contains(r.body, []byte("CANARY")) {
			t.Errorf("GET /v1/appointments%s echoes the value: %s", c.query, r.body)
		}
	}
}

func TestRequestsRetry(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	ctx := context.Background()
	h.book("20000", "1000", "+13125550199", "2026-12-01T15:00:00")
	h.markSent(store.TextSandbox)
	// Two patient requests (through the reply path).
	for i, body := range []string{"CONFIRM APPT", "CANCEL APPT"} {
		res, err := h.replies.Handle(ctx, notifyInbound("SMreq"+string(rune('0'+i)), "+13125550199", body))
		if err != nil || res.AppointmentID != "20000" {
			t.Fatalf("reply %q: %+v %v", body, res, err)
		}
	}
	type reqList struct {
		Requests []struct {
			ID            string `json:"id"`
			AppointmentID string `json:"appointment_id"`
			Type          string `json:"type"`
			Status        string `json:"status"`
			ControlID     string `json:"message_control_id"`
			AckCode       string `json:"ack_code"`
			LastError     string `json:"last_error"`
		} `json:"requests"`
	}
	var all reqList
	h.get("/v1/requests", &all)
	if len(all.Requests) != 2 || all.Requests[0].Type != "CONFIRM" || all.Requests[1].Type != "CANCEL" ||
		all.Requests[0].Status != "pending" || all.Requests[0].ControlID == "" || all.Requests[0].AppointmentID != "20000" {
		t.Fatalf("requests %+v", all.Requests)
	}

	// The EHR rejects the first: dead letter.
	r, err := h.db.ClaimRequest(ctx, "ehr-test", h.clock.Now(), time.Minute)
	if err != nil || r == nil {
		t.Fatalf("claim: %v %v", r, err)
	}
	deadID := r.ID
	r.Status, r.AckCode, r.LastError, r.Attempts = store.RequestDead, "AE", "EHR rejected the request", 1
	r.LeaseOwner, r.LeaseUntil = "", time.Time{}
	if err := h.db.SaveRequest(ctx, "ehr-test", r); err != nil {
		t.Fatal(err)
	}

	var dead reqList
	h.get("/v1/requests?status=dead", &dead)
	if len(dead.Requests) != 1 || dead.Requests[0].ID != deadID || dead.Requests[0].AckCode != "AE" ||
		dead.Requests[0].LastError == "" {
		t.Fatalf("dead requests %+v", dead.Requests)
	}
	var pending reqList
	h.get("/v1/requests?status=pending", &pending)
	if len(pending.Requests) != 1 || pending.Requests[0].ID == deadID {
		t.Fatalf("pending requests %+v", pending.Requests)
	}
	var byAppt reqList
	h.get("/v1/requests?appointment_id=20000", &byAppt)
	if len(byAppt.Requests) != 2 {
		t.Errorf("requests of 20000: %+v", byAppt.Requests)
	}
	if r := h.do(http.MethodGet, "/v1/requests?status=CANARY", h.token, "", nil); r.code != http.StatusBadRequest ||
		bytes.Contains(r.body, []byte("CANARY")) {
		t.Errorf("bad status filter: %v", r)
	}

	kicks := h.kicks.Load()
	rr := h.do(http.MethodPost, "/v1/requests/"+deadID+"/retry", h.token, "", nil)
	if rr.code != http.StatusOK {
		t.Fatalf("retry: %v", rr)
	}
	checkJSONHeaders(t, rr)
	var out map[string]any
	rr.decode(t, &out)
	if out["id"] != deadID || out["status"] != "pending" {
		t.Errorf("retry answer %v", out)
	}
	if h.kicks.Load() == kicks {
		t.Error("retry did not kick the workers")
	}
	h.get("/v1/requests?status=dead", &dead)
	if len(dead.Requests) != 0 {
		t.Errorf("still dead after retry: %+v", dead.Requests)
	}
	var after appointmentView
	h.get("/v1/appointments/20000", &after)
	var st string
	for _, q := range after.Requests {
		if q["id"] == deadID {
			st, _ = q["status"].(string)
		}
	}
	if st != "pending" {
		t.Errorf("retried request status %q, want pending (%v)", st, after.Requests)
	}

	// Retrying a request that is not dead: 409; unknown: 404.
	if r := h.do(http.MethodPost, "/v1/requests/"+deadID+"/retry", h.token, "", nil); r.code != http.StatusConflict {
		t.Errorf("retry of a pending request: %v, want 409", r)
	}
	if r := h.do(http.MethodPost, "/v1/requests/no-such-request/retry", h.token, "", nil); r.code != http.StatusNotFound {
		t.Errorf("retry of an unknown request: %v, want 404", r)
	} else {
		checkJSONHeaders(t, r)
	}
	if r := h.do(http.MethodGet, "/v1/requests/"+deadID+"/retry", h.token, "", nil); r.code != http.StatusMethodNotAllowed {
		t.Errorf("GET retry: %v, want 405", r)
	}
}
