package web_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge/store"
)

// The admin API: the dashboard's stats, the audit log (T28), exports,
// the event simulator and an appointment's admin timeline.

// get200 is an authenticated GET that must answer 200 with JSON.
func (h *harness) get200(path, tok string, v any) response {
	h.t.Helper()
	r := h.call(http.MethodGet, path, tok, nil)
	if r.code != http.StatusOK {
		h.t.Fatalf("GET %s: %v", path, r)
	}
	checkJSONHeaders(h.t, r)
	if v != nil {
		r.decode(h.t, v)
	}
	return r
}

// simulate posts an event to the simulator, which must answer 200.
func (h *harness) simulate(tok string, ev map[string]any) simAnswer {
	h.t.Helper()
	r := h.call(http.MethodPost, "/v1/simulate/event", tok, ev)
	if r.code != http.StatusOK {
		h.t.Fatalf("simulate %v: %v", ev, r)
	}
	checkJSONHeaders(h.t, r)
	var out simAnswer
	r.decode(h.t, &out)
	return out
}

type simAnswer struct {
	AppointmentID string `json:"appointment_id"`
	ControlID     string `json:"message_control_id"`
	MessageType   string `json:"message_type"`
	AckCode       string `json:"ack_code"`
	AckText       string `json:"ack_text"`
}

// deadLetter makes a dead EHR request for appointment id (booked, its
// text sent to phone): the patient confirms, the EHR rejects it.
func (h *harness) deadLetter(id, phone string) string {
	h.t.Helper()
	ctx := context.Background()
	h.markSent(store.TextSandbox)
	res, err := h.replies.Handle(ctx, notifyInbound("SMdead"+id, phone, "CONFIRM APPT"))
	if err != nil || res.AppointmentID != id {
		h.t.Fatalf("reply: %+v %v", res, err)
	}
	r, err := h.db.ClaimRequest(ctx, "ehr-test", h.clock.Now(), time.Minute)
	if err != nil || r == nil {
		h.t.Fatalf("claim: %v %v", r, err)
	}
	r.Status, r.AckCode, r.LastError, r.Attempts = store.RequestDead, "AE", "EHR rejected the request", 1
	r.LeaseOwner, r.LeaseUntil = "", time.Time{}
	if err := h.db.SaveRequest(ctx, "ehr-test", r); err != nil {
		h.t.Fatal(err)
	}
	return r.ID
}

type auditView struct {
	Entries []struct {
		Seq      int64     `json:"seq"`
		At       time.Time `json:"at"`
		Actor    string    `json:"actor"`
		Action   string    `json:"action"`
		Target   string    `json:"target"`
		Detail   string    `json:"detail"`
		RemoteIP string    `json:"remote_ip"`
		Hash     string    `json:"hash"`
	} `json:"entries"`
	Verified bool   `json:"verified"`
	Error    string `json:"error"`
}

var hexHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

// TestAudit is T28: one hash-chained audit record per admin action, the
// log for administrators only, and tampering detected.
func TestAudit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{auth: true, simulate: true})
	type rec struct{ actor, action, target, detail string }
	var want []rec
	var at []time.Time
	step := func() { h.clock.Add(time.Minute) }

	mfaTok, code := h.startLogin()
	want, at = append(want, rec{"ip:127.0.0.1", "login", "", "password accepted; code texted"}), append(at, h.clock.Now())
	step()
	app := h.tokenOf("mfa", h.mfa(mfaTok, code))
	admin := "admin:" + claimsOf(t, app)["sid"].(string)
	want, at = append(want, rec{admin, "mfa", "", "signed in"}), append(at, h.clock.Now())
	step()

	sim := h.simulate(app, map[string]any{"event_type": "BOOKED", "appointment_id": "A-100", "phone": "+13125550199",
		"time": "2026-12-03T09:30"})
	if sim.AckCode != "AA" {
		t.Fatalf("simulate: %+v", sim)
	}
	want, at = append(want, rec{admin, "simulate.event", "A-100", "BOOKED " + sim.ControlID + " AA"}), append(at, h.clock.Now())
	step()

	h.get200("/v1/appointments/A-100", app, nil)
	want, at = append(want, rec{admin, "view.appointment", "A-100", ""}), append(at, h.clock.Now())
	step()

	for _, name := range []string{"state.csv", "state.ndjson", "history.csv", "history.ndjson"} {
		r := h.call(http.MethodGet, "/v1/export/"+name, app, nil)
		if r.code != http.StatusOK {
			t.Fatalf("export %s: %v", name, r)
		}
		want, at = append(want, rec{admin, "export", name, "rows=1"}), append(at, h.clock.Now())
		step()
	}

	reqID := h.deadLetter("A-100", "+13125550199")
	if r := h.call(http.MethodPost, "/v1/requests/"+reqID+"/retry", app, nil); r.code != http.StatusOK {
		t.Fatalf("retry: %v", r)
	}
	want, at = append(want, rec{admin, "retry", reqID, "dead letter back to pending"}), append(at, h.clock.Now())
	step()

	// Reads that are not audited actions add nothing.
	h.get200("/v1/stats", app, nil)
	h.get200("/v1/appointments", app, nil)
	h.get200("/v1/requests", app, nil)
	h.get200("/v1/audit", app, nil)
	h.get200("/v1/appointments/A-100", h.token, nil) // an API token's view is not an admin action
	h.call(http.MethodGet, "/v1/appointments/no-such-id", app, nil)

	getAudit := func(query string) auditView {
		t.Helper()
		var v auditView
		h.get200("/v1/audit"+query, app, &v)
		return v
	}
	check := func(what string, v auditView) {
		t.Helper()
		if !v.Verified || v.Error != "" {
			t.Errorf("%s: verified %v, error %q", what, v.Verified, v.Error)
		}
	}
	v := getAudit("")
	check("audit", v)
	if len(v.Entries) != len(want) {
		t.Fatalf("%d audit entries, want %d: %+v", len(v.Entries), len(want), v.Entries)
	}
	hashes := map[string]bool{}
	for i, e := range v.Entries {
		got := rec{e.Actor, e.Action, e.Target, e.Detail}
		if got != want[i] || e.Seq != int64(i+1) || !e.At.Equal(at[i]) || e.RemoteIP != "127.0.0.1" ||
			!hexHash.MatchString(e.Hash) || hashes[e.Hash] {
			t.Errorf("audit entry %d: %+v, want %+v at %v", i+1, e, want[i], at[i])
		}
		hashes[e.Hash] = true
		for _, s := range []string{code, mfaTok, app, adminPassword, "+13125550199"} {
			if strings.Contains(e.Actor+e.Target+e.Detail, s) {
				t.Errorf("audit entry %d shows a secret or PHI: %+v", i+1, e)
			}
		}
	}

	// The audit log is for administrators: an API token gets 403, but its
	// own actions are audited under its name.
	wantForbidden := `{"error":{"code":"forbidden","message":"the audit log is for signed-in administrators"}}`
	want403 := h.call(http.MethodGet, "/v1/audit", h.token, nil)
	if want403.code != http.StatusForbidden || !jsonEqual(want403.body, []byte(wantForbidden)) {
		t.Errorf("audit with an API token: %v", want403)
	}
	wantUnauthorized(t, "audit without a token", h.call(http.MethodGet, "/v1/audit", "", nil), bodyNoToken)
	if r := h.call(http.MethodGet, "/v1/export/state.csv", h.token, nil); r.code != http.StatusOK {
		t.Fatalf("export with an API token: %v", r)
	}
	want = append(want, rec{"token:test", "export", "state.csv", "rows=1"})

	// Paging.
	v = getAudit("?after=2&limit=3")
	check("page", v)
	if len(v.Entries) != 3 || v.Entries[0].Seq != 3 || v.Entries[2].Seq != 5 {
		t.Errorf("after=2&limit=3: %+v", v.Entries)
	}
	v = getAudit("?after=100")
	check("past the end", v)
	if v.Entries == nil || len(v.Entries) != 0 {
		t.Errorf("after=100: %+v", v.Entries)
	}
	for q, field := range map[string]string{"after=-1": "after", "after=x": "after", "limit=0": "limit", "limit=1001": "limit"} {
		r := h.call(http.MethodGet, "/v1/audit?"+q, app, nil)
		var e errorView
		if r.code == http.StatusBadRequest {
			r.decode(t, &e)
		}
		if r.code != http.StatusBadRequest || !reflect.DeepEqual(e.fields(), []string{field}) {
			t.Errorf("audit?%s: %v", q, r)
		}
	}
	v = getAudit("")
	if len(v.Entries) != len(want) || v.Entries[len(want)-1].Actor != "token:test" {
		t.Fatalf("audit after the API token's export: %+v", v.Entries)
	}

	// Append-only: the store refuses updates and deletes.
	raw, err := sql.Open("sqlite", "file:"+h.path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ctx := context.Background()
	if _, err := raw.ExecContext(ctx, `UPDATE audit_log SET detail = 'x' WHERE seq = 5`); err == nil ||
		!strings.Contains(err.Error(), "append-only") {
		t.Errorf("update of the audit log: %v", err)
	}
	if _, err := raw.ExecContext(ctx, `DELETE FROM audit_log WHERE seq = 5`); err == nil ||
		!strings.Contains(err.Error(), "append-only") {
		t.Errorf("delete from the audit log: %v", err)
	}
	// Someone with the file drops the trigger and edits rows: each
	// single-byte change is found, and naming the entry.
	if _, err := raw.ExecContext(ctx, `DROP TRIGGER audit_log_no_update`); err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0x01
		return c
	}
	tamperings := []struct {
		col   string
		seq   int
		edit  func(v any) any
		error string
	}{
		{"detail", 5, func(v any) any { return string(flip([]byte(v.(string)), 5)) }, "audit entry 5: its contents do not match its hash"},
		{"actor", 2, func(v any) any { return string(flip([]byte(v.(string)), 7)) }, "audit entry 2: its contents do not match its hash"},
		{"action", 4, func(v any) any { return string(flip([]byte(v.(string)), 0)) }, "audit entry 4: its contents do not match its hash"},
		{"target", 3, func(v any) any { return string(flip([]byte(v.(string)), 2)) }, "audit entry 3: its contents do not match its hash"},
		{"remote_ip", 6, func(v any) any { return string(flip([]byte(v.(string)), 8)) }, "audit entry 6: its contents do not match its hash"},
		{"at", 7, func(v any) any { return v.(int64) + 1 }, "audit entry 7: its contents do not match its hash"},
		{"hash", 8, func(v any) any { return flip(v.([]byte), 31) }, "audit entry 8: its contents do not match its hash"},
		{"prev_hash", 9, func(v any) any { return flip(v.([]byte), 0) }, "audit entry 9: does not link to the entry before it"},
		{"detail", 1, func(v any) any { return string(flip([]byte(v.(string)), 0)) }, "audit entry 1: its contents do not match its hash"},
		{"detail", len(want), func(v any) any { return string(flip([]byte(v.(string)), 5)) }, fmt.Sprintf("audit entry %d: its contents do not match its hash", len(want))},
	}
	for _, tc := range tamperings {
		var old any
		if err := raw.QueryRowContext(ctx, `SELECT `+tc.col+` FROM audit_log WHERE seq = ?`, tc.seq).Scan(&old); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.ExecContext(ctx, `UPDATE audit_log SET `+tc.col+` = ? WHERE seq = ?`, tc.edit(old), tc.seq); err != nil {
			t.Fatal(err)
		}
		v = getAudit("")
		if v.Verified || v.Error != tc.error {
			t.Errorf("%s of entry %d changed: verified %v, error %q; want %q", tc.col, tc.seq, v.Verified, v.Error, tc.error)
		}
		if len(v.Entries) != len(want) {
			t.Errorf("%s of entry %d changed: %d entries listed", tc.col, tc.seq, len(v.Entries))
		}
		if _, err := raw.ExecContext(ctx, `UPDATE audit_log SET `+tc.col+` = ? WHERE seq = ?`, old, tc.seq); err != nil {
			t.Fatal(err)
		}
		v = getAudit("")
		check(tc.col+" restored", v)
	}
	// A deleted entry breaks the chain too.
	if _, err := raw.ExecContext(ctx, `DROP TRIGGER audit_log_no_delete`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `DELETE FROM audit_log WHERE seq = 4`); err != nil {
		t.Fatal(err)
	}
	v = getAudit("")
	if v.Verified || v.Error != "audit entry 5: does not link to the entry before it" {
		t.Errorf("entry 4 deleted: verified %v, error %q", v.Verified, v.Error)
	}
	// Actions go on being recorded after a broken link.
	h.get200("/v1/appointments/A-100", app, nil)
	list := h.auditEntries()
	if last := list[len(list)-1]; last.Action != "view.appointment" || last.Seq != int64(len(want)+1) {
		t.Errorf("last entry after tampering: %+v", last)
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{auth: true, simulate: true, reminders: true})
	h.book("20001", "1001", "+13125550199", "2026-12-10T15:00:00")
	h.book("20002", "1002", "+13125550198", "2026-12-10T16:00:00")
	h.book("20003", "1003", "+13125550197", "2026-12-10T17:00:00")
	h.postEvent(simEvent("CANCELED", "20003", "1003", "+13125550197", "2026-12-10T17:00:00"))
	h.postEvent(simEvent("NOSHOWED", "20002", "1002", "+13125550198", "2026-12-10T16:00:00"))
	app := h.signIn()

	type statsView struct {
		Dispositions map[string]int `json:"dispositions"`
		Inbound      struct {
			LastHour       int        `json:"last_hour"`
			ErrorsLastHour int        `json:"errors_last_hour"`
			LastAt         *time.Time `json:"last_at"`
		} `json:"inbound"`
		Queues []struct {
			Queue  string     `json:"queue"`
			Depth  int        `json:"depth"`
			Oldest *time.Time `json:"oldest"`
		} `json:"queues"`
		Texts struct {
			Sent24h   int `json:"sent_24h"`
			Failed24h int `json:"failed_24h"`
		} `json:"texts"`
		Requests struct {
			Dead int `json:"dead"`
		} `json:"requests"`
		Reminders struct {
			Planned int        `json:"planned"`
			NextDue *time.Time `json:"next_due"`
		} `json:"reminders"`
		MLLP struct {
			Addr string `json:"addr"`
		} `json:"mllp"`
		Sandbox bool              `json:"sandbox"`
		Health  map[string]string `json:"health"`
	}
	var s statsView
	h.get200("/v1/stats", app, &s)
	wantDisp := map[string]int{"QUEUED": 1, "REMINDED-1": 0, "REMINDED-2": 0, "CANCELED": 1, "NOSHOWED": 1, "EXPIRED": 0, "OPTED-OUT": 0}
	if !reflect.DeepEqual(s.Dispositions, wantDisp) {
		t.Errorf("dispositions %v, want %v", s.Dispositions, wantDisp)
	}
	allOK := map[string]string{"mllp": "ok", "texts": "ok", "requests": "ok", "reminders": "ok"}
	if !reflect.DeepEqual(s.Health, allOK) {
		t.Errorf("health %v, want all ok", s.Health)
	}
	if s.Inbound.LastHour != 0 || s.Inbound.LastAt != nil || s.MLLP.Addr != "127.0.0.1:2575" || s.Sandbox ||
		s.Requests.Dead != 0 || s.Reminders.Planned != 2 || s.Reminders.NextDue == nil {
		t.Errorf("stats %+v", s)
	}
	var texts *int
	for i, q := range s.Queues {
		if q.Queue == "texts" {
			texts = &s.Queues[i].Depth
			if q.Depth == 0 || q.Oldest == nil || !q.Oldest.Equal(t0) {
				t.Errorf("texts queue %+v", q)
			}
		}
	}
	if texts == nil {
		t.Errorf("no texts queue in %+v", s.Queues)
	}
	// API tokens see the dashboard too; nobody else.
	var s2 statsView
	h.get200("/v1/stats", h.token, &s2)
	if !reflect.DeepEqual(s2.Dispositions, wantDisp) {
		t.Errorf("dispositions (API token) %v", s2.Dispositions)
	}
	wantUnauthorized(t, "stats without a token", h.call(http.MethodGet, "/v1/stats", "", nil), bodyNoToken)

	// An HL7 message counts as inbound; a booking moves the counts.
	h.simulate(app, map[string]any{"event_type": "BOOKED", "phone": "+13125550196", "time": "2026-12-11T10:00"})
	h.get200("/v1/stats", app, &s)
	if s.Dispositions["QUEUED"] != 2 || s.Inbound.LastHour != 1 || s.Inbound.ErrorsLastHour != 0 ||
		s.Inbound.LastAt == nil || !s.Inbound.LastAt.Equal(t0) {
		t.Errorf("after a simulated booking: %+v", s)
	}

	// Texts waiting over 5 minutes: warn; over 15: bad. A dead letter: bad.
	h.clock.Add(6 * time.Minute)
	h.get200("/v1/stats", app, &s)
	if s.Health["texts"] != "warn" {
		t.Errorf("texts waiting 6 minutes: health %v", s.Health)
	}
	h.clock.Add(10 * time.Minute)
	h.get200("/v1/stats", app, &s)
	if s.Health["texts"] != "bad" {
		t.Errorf("texts waiting 16 minutes: health %v", s.Health)
	}
	h.deadLetter("20001", "+13125550199")
	h.get200("/v1/stats", app, &s)
	if s.Requests.Dead != 1 || s.Health["requests"] != "bad" {
		t.Errorf("with a dead letter: %+v", s)
	}
}

func TestSimulate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{auth: true, simulate: true})
	app := h.signIn()
	simID := regexp.MustCompile(`^SIM[0-9A-F]{16}$`)

	// BOOKED with a national phone and a local time (DEFAULT_TIMEZONE
	// America/Chicago): a new appointment, QUEUED, at 09:30 CST.
	kicks := h.kicks.Load()
	sim := h.simulate(app, map[string]any{"event_type": "BOOKED", "phone": "(312) 555-0199", "time": "2026-12-03T09:30",
		"first_name": "Robin", "location": "Main Street Clinic", "provider": "Dr Diaz"})
	if sim.AckCode != "AA" || sim.AckText != "" || sim.MessageType != "SIU^S12" || !simID.MatchString(sim.ControlID) ||
		!regexp.MustCompile(`^SIM[0-9a-f]{8}$`).MatchString(sim.AppointmentID) {
		t.Fatalf("simulate BOOKED: %+v", sim)
	}
	if h.kicks.Load() == kicks {
		t.Error("the simulator did not wake the workers")
	}
	var v appointmentView
	h.get200("/v1/appointments/"+sim.AppointmentID, app, &v)
	if v.AppointmentID != sim.AppointmentID || v.Disposition != "QUEUED" || v.PatientPhone != "+13125550199" ||
		v.AppointmentDatetime != "2026-12-03T09:30:00" || v.AppointmentTimezone != "-0600" ||
		!v.AppointmentDatetimeUTC.Equal(time.Date(2026, 12, 3, 15, 30, 0, 0, time.UTC)) ||
		len(v.History) != 1 || v.History[0].EventType != "BOOKED" || !v.History[0].Applied || v.History[0].Channel != "mllp" {
		t.Errorf("simulated booking: %+v", v)
	}

	// An explicit zone, id and patient.
	sim2 := h.simulate(app, map[string]any{"event_type": "booked", "appointment_id": "SIM-LA_1", "patient_id": "P-9",
		"phone": "+13125550198", "time": "2026-12-03T09:30", "timezone": "America/Los_Angeles"})
	if sim2.AppointmentID != "SIM-LA_1" || sim2.AckCode != "AA" {
		t.Fatalf("simulate with a zone: %+v", sim2)
	}
	// 09:30 in Los Angeles is that instant; the appointment shows it in
	// the clinic's zone (the mapper's, mapping rule 11).
	h.get200("/v1/appointments/SIM-LA_1", app, &v)
	if v.PatientID != "P-9" || v.AppointmentDatetime != "2026-12-03T11:30:00" || v.AppointmentTimezone != "-0600" ||
		!v.AppointmentDatetimeUTC.Equal(time.Date(2026, 12, 3, 17, 30, 0, 0, time.UTC)) {
		t.Errorf("simulated booking in Los Angeles: %+v", v)
	}

	// CANCELED for the first.
	h.clock.Add(time.Minute)
	c := h.simulate(app, map[string]any{"event_type": "CANCELED", "appointment_id": sim.AppointmentID, "phone": "+13125550199"})
	if c.AckCode != "AA" || c.MessageType != "SIU^S15" || c.AppointmentID != sim.AppointmentID || c.ControlID == sim.ControlID {
		t.Fatalf("simulate CANCELED: %+v", c)
	}
	h.get200("/v1/appointments/"+sim.AppointmentID, app, &v)
	if v.Disposition != "CANCELED" || len(v.History) != 2 || v.History[1].EventType != "CANCELED" || !v.History[1].Applied {
		t.Errorf("after CANCELED: %+v", v)
	}

	// Invalid fields: 400 naming each, values not echoed, nothing sent.
	before := h.st.writes.Load()
	long := strings.Repeat("x", 61)
	for _, c := range []struct {
		ev     map[string]any
		fields []string
	}{
		{map[string]any{"event_type": "LUNCH", "appointment_id": "has spaces CANARY", "phone": "CANARY-PHONE", "time": "CANARY-TIME"},
			[]string{"event_type", "appointment_id", "phone", "time"}},
		{map[string]any{"event_type": "CANCELED", "phone": "+13125550199"}, []string{"appointment_id"}},
		{map[string]any{"event_type": "NOSHOWED", "phone": "+13125550199", "time": "2026-12-03T09:30"}, []string{"appointment_id"}},
		{map[string]any{"event_type": "BOOKED", "phone": "+13125550199"}, []string{"time"}},
		{map[string]any{"event_type": "RESCHEDULED", "appointment_id": "A1", "phone": "+13125550199"}, []string{"time"}},
		{map[string]any{"event_type": "BOOKED", "time": "2026-12-03T09:30"}, []string{"phone"}},
		{map[string]any{"event_type": "BOOKED", "phone": "+13125550199", "time": "12/03/2026 9:30"}, []string{"time"}},
		{map[string]any{"event_type": "BOOKED", "phone": "+13125550199", "time": "2026-12-03T09:30", "timezone": "Mars/CANARY"},
			[]string{"timezone"}},
		{map[string]any{"event_type": "BOOKED", "phone": "+13125550199", "time": "2026-12-03T09:30", "appointment_id": "a/b"},
			[]string{"appointment_id"}},
		{map[string]any{"event_type": "BOOKED", "phone": "+13125550199", "time": "2026-12-03T09:30", "appointment_id": strings.Repeat("A", 41)},
			[]string{"appointment_id"}},
		{map[string]any{"event_type": "BOOKED", "phone": "+13125550199", "time": "2026-12-03T09:30", "patient_id": "p 1"},
			[]string{"patient_id"}},
		{map[string]any{"event_type": "BOOKED", "phone": "+13125550199", "time": "2026-12-03T09:30", "first_name": long,
			"location": long, "provider": long}, []string{"first_name", "location", "provider"}},
		{map[string]any{"phone": "+13125550199", "time": "2026-12-03T09:30"}, []string{"event_type"}},
	} {
		r := h.call(http.MethodPost, "/v1/simulate/event", app, c.ev)
		want(t, fmt.Sprint(c.ev), r, http.StatusBadRequest, "", "CANARY", "has spaces", "12/03/2026", long, "a/b")
		var e errorView
		r.decode(t, &e)
		if e.Error.Code != "invalid" || e.Error.Message != "the simulated event has invalid fields" ||
			!reflect.DeepEqual(e.fields(), c.fields) {
			t.Errorf("simulate %v: %s, want fields %v", c.ev, r.body, c.fields)
		}
	}
	for _, body := range []string{`{"event_type":"BOOKED","phone":"+13125550199","time":"2026-12-03T09:30","mrn":"1"}`, `[]`, `{`} {
		r := h.call(http.MethodPost, "/v1/simulate/event", app, body)
		want(t, body, r, http.StatusBadRequest,
			`{"error":{"code":"invalid","message":"body must be {\"event_type\", \"phone\", \"time\", …} (see README)"}}`)
	}
	if n := h.st.writes.Load(); n != before {
		t.Errorf("%d store writes for refused simulations", n-before)
	}
	wantUnauthorized(t, "simulate without a token", h.call(http.MethodPost, "/v1/simulate/event", "",
		map[string]any{"event_type": "BOOKED", "phone": "+13125550199", "time": "2026-12-03T09:30"}), bodyNoToken)

	// Without an MLLP listener there is no simulator.
	off := newHarness(t, options{auth: true})
	want(t, "no simulator", off.call(http.MethodPost, "/v1/simulate/event", off.token,
		map[string]any{"event_type": "BOOKED", "phone": "+13125550199", "time": "2026-12-03T09:30"}),
		http.StatusServiceUnavailable, `{"error":{"code":"unavailable","message":"the simulator needs the MLLP listener"}}`)
}

func TestAdminAppointmentDetail(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{auth: true, simulate: true, reminders: true})
	app := h.signIn()
	sim := h.simulate(app, map[string]any{"event_type": "BOOKED", "appointment_id": "A-200", "phone": "+13125550199",
		"time": "2026-12-10T10:00", "first_name": "Robin"})
	h.markSent(store.TextSandbox)

	type detail struct {
		History []struct {
			EventID   string `json:"event_id"`
			ControlID string `json:"message_control_id"`
		} `json:"history"`
		Texts     []map[string]any `json:"texts"`
		Reminders []struct {
			Ordinal  int       `json:"ordinal"`
			StartUTC time.Time `json:"start_utc"`
			DueAt    time.Time `json:"due_at"`
			Status   string    `json:"status"`
		} `json:"reminders"`
		HL7In []struct {
			ControlID   string    `json:"message_control_id"`
			MessageType string    `json:"message_type"`
			ReceivedAt  time.Time `json:"received_at"`
			AckCode     string    `json:"ack_code"`
			EventID     string    `json:"event_id"`
			Raw         string    `json:"raw"`
			Ack         string    `json:"ack"`
		} `json:"hl7_in"`
	}

	// The administrator's view: reminders, the SIU with its ACK, bodies.
	var d detail
	r := h.get200("/v1/appointments/A-200", app, &d)
	start := time.Date(2026, 12, 10, 16, 0, 0, 0, time.UTC)
	if len(d.Reminders) != 2 || d.Reminders[0].Ordinal != 1 || d.Reminders[1].Ordinal != 2 ||
		d.Reminders[0].Status != "planned" || !d.Reminders[0].StartUTC.Equal(start) || !d.Reminders[0].DueAt.Before(start) {
		t.Errorf("reminders %+v", d.Reminders)
	}
	if len(d.HL7In) != 1 || len(d.History) != 1 {
		t.Fatalf("hl7_in %+v, history %+v", d.HL7In, d.History)
	}
	in := d.HL7In[0]
	if in.ControlID != sim.ControlID || in.AckCode != "AA" || !strings.HasPrefix(in.MessageType, "SIU^S12") ||
		in.EventID != d.History[0].EventID || d.History[0].ControlID != sim.ControlID || !in.ReceivedAt.Equal(t0) ||
		!strings.HasPrefix(in.Raw, "MSH|") || !strings.Contains(in.Raw, "|"+sim.ControlID+"|") ||
		!strings.Contains(in.Raw, "\rPID|") || !strings.Contains(in.Ack, "MSA|AA|"+sim.ControlID) {
		t.Errorf("hl7_in %+v (control id %s)", in, sim.ControlID)
	}
	if len(d.Texts) != 1 || d.Texts[0]["kind"] != "booked" || d.Texts[0]["body"] != "text booked" ||
		d.Texts[0]["phone"] != "+13125550199" {
		t.Errorf("texts (admin) %v", d.Texts)
	}

	// An API token's view: no bodies, no timeline extras, not audited.
	nAudit := len(h.auditEntries())
	r = h.get200("/v1/appointments/A-200", h.token, nil)
	var m map[string]any
	r.decode(t, &m)
	for _, k := range []string{"reminders", "hl7_in"} {
		if _, ok := m[k]; ok {
			t.Errorf("API token view has %q", k)
		}
	}
	for _, k := range []string{"history", "texts", "requests"} {
		if _, ok := m[k]; !ok {
			t.Errorf("API token view lacks %q", k)
		}
	}
	for _, x := range m["texts"].([]any) {
		tx := x.(map[string]any)
		if _, ok := tx["body"]; ok {
			t.Errorf("API token view has a text body: %v", tx)
		}
		if _, ok := tx["phone"]; ok {
			t.Errorf("API token view has a text's phone: %v", tx)
		}
	}
	if bytes.Contains(r.body, []byte("MSH|")) || bytes.Contains(r.body, []byte("text booked")) {
		t.Errorf("API token view shows HL7 or a body: %s", r.body)
	}
	if n := len(h.auditEntries()); n != nAudit {
		t.Errorf("the API token's view was audited (%d → %d entries)", nAudit, n)
	}

	// An appointment from /v1/events (no HL7) in a store without a
	// reminder plan: the administrator still gets [] for both.
	h2 := newHarness(t, options{auth: true})
	h2.book("20001", "1001", "+13125550199", "2026-12-01T15:00:00")
	var m2 map[string]any
	h2.get200("/v1/appointments/20001", h2.signIn(), &m2)
	for _, k := range []string{"reminders", "hl7_in"} {
		if l, ok := m2[k].([]any); !ok || len(l) != 0 {
			t.Errorf("admin view of an HTTP event's appointment: %s = %#v, want []", k, m2[k])
		}
	}

	// Unknown appointment: 404, not audited.
	nAudit = len(h.auditEntries())
	want(t, "unknown appointment", h.call(http.MethodGet, "/v1/appointments/nope", app, nil), http.StatusNotFound,
		`{"error":{"code":"not_found","message":"no appointment with that appointment_id"}}`)
	if n := len(h.auditEntries()); n != nAudit {
		t.Errorf("a 404 was audited")
	}
}
