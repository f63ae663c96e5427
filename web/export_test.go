package web_test

// The exports (/v1/export/{state,history}.{csv,ndjson}): headers, rows,
// filters, formula defusing and errors.

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// stateColumns are the canonical keys, in order: the state export's header.
var stateColumns = []string{"event_id", "event_type", "event_datetime_utc",
	"patient_id", "patient_first_name", "patient_last_name", "patient_phone", "patient_language",
	"provider_id", "provider_first_name", "provider_last_name", "provider_callback_phone",
	"appointment_id", "appointment_placer_id", "appointment_filler_id",
	"appointment_location", "appointment_location_code",
	"appointment_datetime", "appointment_timezone", "appointment_tz", "appointment_datetime_utc", "appointment_duration_minutes",
	"appointment_type", "appointment_reason", "appointment_status",
	"source.channel", "source.message_control_id", "source.message_type", "source.sending_application",
	"source.sending_facility", "source.received_at",
	"disposition", "confirmed", "reminders_sent", "ladder_before_opt_out", "last_ehr_event_at", "created_at", "updated_at", "version"}

// eventColumns are an event's keys (history rows end with them).
var eventColumns = stateColumns[:31]

var historyColumns = append([]string{"seq", "recorded_at", "applied", "reason", "from", "disposition", "text", "suppressed"},
	eventColumns...)

// readCSV parses a CSV export into its header and rows (as maps).
func readCSV(t *testing.T, r response) ([]string, []map[string]string) {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, r.body)
	}
	if len(recs) == 0 {
		t.Fatal("CSV without a header")
	}
	var rows []map[string]string
	for _, rec := range recs[1:] {
		m := map[string]string{}
		for i, c := range recs[0] {
			m[c] = rec[i]
		}
		rows = append(rows, m)
	}
	return recs[0], rows
}

// readNDJSON parses an NDJSON export.
func readNDJSON(t *testing.T, r response) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i, line := range bytes.Split(bytes.TrimSuffix(r.body, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("NDJSON line %d: %v: %s", i+1, err, line)
		}
		out = append(out, m)
	}
	return out
}

func (h *harness) export(name, tok string) response {
	h.t.Helper()
	r := h.call(http.MethodGet, "/v1/export/"+name, tok, nil)
	if r.code != http.StatusOK {
		h.t.Fatalf("export %s: %v", name, r)
	}
	file := strings.SplitN(strings.SplitN(name, "?", 2)[0], ".", 2)
	wantCD := fmt.Sprintf(`attachment; filename="apptbridge-%s-%s.%s"`, file[0], h.clock.Now().UTC().Format("20060102"), file[1])
	if cd := r.header.Get("Content-Disposition"); cd != wantCD {
		h.t.Errorf("export %s: Content-Disposition %q, want %q", name, cd, wantCD)
	}
	wantCT := "text/csv; charset=utf-8"
	if file[1] == "ndjson" {
		wantCT = "application/x-ndjson"
	}
	if ct := r.header.Get("Content-Type"); ct != wantCT {
		h.t.Errorf("export %s: Content-Type %q, want %q", name, ct, wantCT)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		h.t.Errorf("export %s: Cache-Control %q", name, cc)
	}
	return r
}

func ids(rows []map[string]string, key string) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, r[key])
	}
	return out
}

func TestExports(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{auth: true})
	ev := simEvent("BOOKED", "20001", "1001", "+13125550199", "2026-12-01T15:00:00")
	ev["patient_first_name"], ev["patient_last_name"] = "=HYPERLINK(1)", "@SUM(A1)"
	ev["appointment_location"] = "-2+3 Clinic"
	h.postEvent(ev)
	h.book("20002", "1002", "+13125550198", "2026-12-05T09:00:00")
	h.clock.Add(time.Hour)
	cancel := simEvent("CANCELED", "20002", "1002", "+13125550198", "2026-12-05T09:00:00")
	cancel["event_datetime_utc"] = h.clock.Now().Format(time.RFC3339)
	if out := h.postEvent(cancel); out["disposition"] != "CANCELED" {
		t.Fatalf("cancel: %v", out)
	}
	app := h.signIn()

	// state.csv: the canonical keys, one row per appointment, formulas
	// defused, phones and offsets left alone.
	header, rows := readCSV(t, h.export("state.csv", app))
	if !reflect.DeepEqual(header, stateColumns) {
		t.Errorf("state.csv header\n%q\nwant\n%q", header, stateColumns)
	}
	if got := ids(rows, "appointment_id"); !reflect.DeepEqual(got, []string{"20001", "20002"}) {
		t.Fatalf("state.csv rows %v", got)
	}
	a, b := rows[0], rows[1]
	for k, v := range map[string]string{
		"patient_first_name":       "'=HYPERLINK(1)",
		"patient_last_name":        "'@SUM(A1)",
		"appointment_location":     "'-2+3 Clinic",
		"patient_phone":            "+13125550199",
		"provider_callback_phone":  "+18005552222",
		"appointment_timezone":     "-0700",
		"appointment_datetime":     "2026-12-01T15:00:00",
		"appointment_datetime_utc": "2026-12-01T22:00:00Z",
		"disposition":              "QUEUED",
		"confirmed":                "false",
		"reminders_sent":           "0",
		"version":                  "1",
		"event_type":               "BOOKED",
		"patient_id":               "1001",
		"source.channel":           "http",
	} {
		if a[k] != v {
			t.Errorf("state.csv 20001 %s = %q, want %q", k, a[k], v)
		}
	}
	if b["disposition"] != "CANCELED" || b["event_type"] != "CANCELED" || b["patient_first_name"] != "Jane" {
		t.Errorf("state.csv 20002: %v", b)
	}

	// state.ndjson: the same, as JSON (no defusing needed).
	lines := readNDJSON(t, h.export("state.ndjson", app))
	if len(lines) != 2 || lines[0]["appointment_id"] != "20001" || lines[0]["patient_first_name"] != "=HYPERLINK(1)" ||
		lines[0]["disposition"] != "QUEUED" || lines[0]["confirmed"] != false || lines[0]["reminders_sent"] != float64(0) ||
		lines[1]["disposition"] != "CANCELED" {
		t.Errorf("state.ndjson %v", lines)
	}

	// history: one row per history entry, oldest first.
	var nHist int
	for _, id := range []string{"20001", "20002"} {
		hist, err := h.db.History(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		nHist += len(hist)
	}
	header, rows = readCSV(t, h.export("history.csv", app))
	if !reflect.DeepEqual(header, historyColumns) {
		t.Errorf("history.csv header\n%q\nwant\n%q", header, historyColumns)
	}
	if len(rows) != nHist || nHist != 3 {
		t.Fatalf("history.csv: %d rows, %d history entries (want 3)", len(rows), nHist)
	}
	type hrow struct{ id, typ, applied, to, from string }
	var got []hrow
	for _, r := range rows {
		got = append(got, hrow{r["appointment_id"], r["event_type"], r["applied"], r["disposition"], r["from"]})
	}
	wantRows := []hrow{{"20001", "BOOKED", "true", "QUEUED", ""}, {"20002", "BOOKED", "true", "QUEUED", ""},
		{"20002", "CANCELED", "true", "CANCELED", "QUEUED"}}
	if !reflect.DeepEqual(got, wantRows) {
		t.Errorf("history.csv rows %v, want %v", got, wantRows)
	}
	if rows[0]["patient_first_name"] != "'=HYPERLINK(1)" || rows[0]["seq"] == "" || rows[0]["recorded_at"] != t0.Format(time.RFC3339) {
		t.Errorf("history.csv row 1: %v", rows[0])
	}
	hl := readNDJSON(t, h.export("history.ndjson", app))
	if len(hl) != 3 || hl[2]["event_type"] != "CANCELED" || hl[2]["from"] != "QUEUED" || hl[2]["applied"] != true ||
		hl[0]["patient_first_name"] != "=HYPERLINK(1)" {
		t.Errorf("history.ndjson %v", hl)
	}

	// Filters: state on the appointment's time, history on when recorded.
	mid := url.QueryEscape(t0.Add(30 * time.Minute).Format(time.RFC3339))
	for _, c := range []struct {
		name string
		want []string
	}{
		{"state.csv?from=2026-12-03", []string{"20002"}},
		{"state.csv?to=2026-12-03", []string{"20001"}},
		{"state.csv?from=2026-12-01T22:00:00Z&to=2026-12-01T22:00:01Z", []string{"20001"}},
		{"state.csv?from=2027-01-01", []string{}},
		{"history.csv?from=" + mid, []string{"20002"}},
		{"history.csv?to=" + mid, []string{"20001", "20002"}},
		{"history.csv?from=2026-11-28", []string{}},
	} {
		_, rows := readCSV(t, h.export(c.name, app))
		if got := ids(rows, "appointment_id"); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if lines := readNDJSON(t, h.export("state.ndjson?from=2026-12-03", app)); len(lines) != 1 || lines[0]["appointment_id"] != "20002" {
		t.Errorf("state.ndjson?from: %v", lines)
	}
	if r := h.export("history.ndjson?from=2030-01-01", app); len(r.body) != 0 {
		t.Errorf("empty history.ndjson: %q", r.body)
	}

	// Bad dates: 400 naming the field, the value not echoed.
	for q, fields := range map[string][]string{
		"from=CANARY-DATE":                  {"from"},
		"to=2026-13-01":                     {"to"},
		"from=yesterday&to=CANARY":          {"from", "to"},
		"to=2026-12-01T25:00:00Z":           {"to"},
		"from=2026-12-01&to=12%2F01%2F2026": {"to"},
	} {
		for _, name := range []string{"state.csv", "history.ndjson"} {
			r := h.call(http.MethodGet, "/v1/export/"+name+"?"+q, app, nil)
			want(t, name+"?"+q, r, http.StatusBadRequest, "", "CANARY", "yesterday", "2026-13-01", "12/01/2026")
			var e errorView
			r.decode(t, &e)
			if e.Error.Code != "invalid" || !reflect.DeepEqual(e.fields(), fields) {
				t.Errorf("%s?%s: %s, want fields %v", name, q, r.body, fields)
			}
		}
	}

	// Unknown exports: 404.
	for _, name := range []string{"other.csv", "state.xml", "state", "history.json", "state.csv.gz", ".csv"} {
		r := h.call(http.MethodGet, "/v1/export/"+name, app, nil)
		want(t, name, r, http.StatusNotFound,
			`{"error":{"code":"not_found","message":"exports are state.csv, state.ndjson, history.csv and history.ndjson"}}`)
	}

	// Unauthenticated: 401, no data.
	for _, tok := range []string{"", "forged.token.here"} {
		r := h.call(http.MethodGet, "/v1/export/state.csv", tok, nil)
		if r.code != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" || bytes.Contains(r.body, []byte("20001")) ||
			r.header.Get("Content-Disposition") != "" {
			t.Errorf("export with token %q: %v", tok, r)
		}
	}
	// An API token may export (SPEC §11: /v1 takes either).
	if _, rows := readCSV(t, h.export("state.csv", h.token)); len(rows) != 2 {
		t.Errorf("API token export: %d rows", len(rows))
	}
}
