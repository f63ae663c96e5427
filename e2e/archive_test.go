package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/mllp"
	"github.com/apptbridge/apptbridge/store/s3/s3test"
)

// TestServeS3Archive runs `apptbridge serve` with S3_BUCKET, S3_ENDPOINT,
// CUSTOMER_CODE and AWS credentials pointed at a real versitygw, sends SIU
// messages over MLLP, and checks the data lake (SPEC §12): one history
// object per event and one state object per appointment, at the SPEC's
// keys, each byte for byte the line of the API's NDJSON export — through a
// patient id change (PID-3), a cancellation (disposition move), an
// appointment id that needs escaping, and a resent message (no new
// object).
func TestServeS3Archive(t *testing.T) {
	gw := s3test.Start(t)
	dataDir := t.TempDir()
	sink := &logSink{}
	srv := startServer(t, dataDir, sink, append(gw.Env(), "CUSTOMER_CODE=acme")...)
	defer srv.stop(t)

	start := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Minute).Format("20060102150405")
	msgAt := time.Now().UTC()
	msg := func(cid, trigger, aid, mrn string) []byte {
		msgAt = msgAt.Add(time.Second) // later messages are newer (not stale)
		return []byte("MSH|^~\\&|EHR|HOSP|APPTBRIDGE|CLINIC|" + msgAt.Format("20060102150405") + "+0000||SIU^" + trigger + "|" + cid + "|P|2.5.1\r" +
			"SCH|" + aid + "|F" + aid + "|||||Checkup|Normal|30|MIN|^^30^" + start + "+0000\r" +
			"PID|1||" + mrn + "^^^H^MR||Rivera^Ana||19800101|F|||||(773)555-0142^PRN^CP\r" +
			"AIP|1||D1^Okafor^Grace\r")
	}
	c := &mllp.Client{Addr: srv.mllpAddr, AckTimeout: 10 * time.Second}
	defer c.Close()
	send := func(b []byte) {
		t.Helper()
		ack, err := c.Send(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := hl7.Parse(ack); err != nil || m.Get("MSA-1") != "AA" {
			t.Fatalf("ACK %q %v", ack, err)
		}
	}
	first := msg("S3-1", "S12", "A1", "MRN1")
	send(first)
	send(msg("S3-2", "S14", "A1", "MRN2")) // the patient id changes
	send(msg("S3-3", "S12", "B/2", "MRN3"))
	send(msg("S3-4", "S15", "B/2", "MRN3")) // canceled: the state object moves
	send(first)                             // a resend: the stored ACK, no event

	tok := createToken(t, dataDir)
	export := func(name string) [][]byte {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+srv.httpAddr+"/v1/export/"+name, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("GET /v1/export/%s: %d %s", name, resp.StatusCode, b)
		}
		var lines [][]byte
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines = append(lines, append([]byte(nil), sc.Bytes()...))
		}
		return lines
	}
	// The keys as SPEC §12 spells them; the ids of this test need no
	// escaping but "B/2" (%2F).
	esc := func(s string) string { return strings.ReplaceAll(s, "/", "%2F") }
	want := map[string][]byte{}
	state := export("state.ndjson")
	for _, line := range state {
		var a struct {
			AppointmentID string `json:"appointment_id"`
			PatientID     string `json:"patient_id"`
			Disposition   string `json:"disposition"`
		}
		if err := json.Unmarshal(line, &a); err != nil {
			t.Fatal(err)
		}
		want[fmt.Sprintf("state/customer=acme/disposition=%s/appointment%s-patient%s.json",
			a.Disposition, esc(a.AppointmentID), esc(a.PatientID))] = line
	}
	history := export("history.ndjson")
	patientOf := map[string]string{} // the patient id each event left
	for _, line := range history {
		var h struct {
			RecordedAt    time.Time `json:"recorded_at"`
			EventID       string    `json:"event_id"`
			AppointmentID string    `json:"appointment_id"`
			PatientID     string    `json:"patient_id"`
		}
		if err := json.Unmarshal(line, &h); err != nil {
			t.Fatal(err)
		}
		patientOf[h.AppointmentID] = h.PatientID
		r := h.RecordedAt.UTC()
		want[fmt.Sprintf("history/customer=acme/dt=%s/appointment%s-patient%s-%d-%s.json",
			r.Format("2006-01-02"), esc(h.AppointmentID), esc(h.PatientID), r.UnixMilli(), h.EventID)] = line
	}
	if len(state) != 2 || len(history) != 4 {
		t.Fatalf("exports: %d appointments, %d events; want 2 and 4", len(state), len(history))
	}
	for _, k := range []string{
		"state/customer=acme/disposition=QUEUED/appointmentA1-patientMRN2.json",
		"state/customer=acme/disposition=CANCELED/appointmentB%2F2-patientMRN3.json",
	} {
		if _, ok := want[k]; !ok {
			t.Fatalf("the export has no appointment for %s; keys %v", k, s3test.Keys(want))
		}
	}

	// The objects arrive (the worker is woken by each commit).
	t0 := time.Now()
	var got map[string][]byte
	for {
		got = gw.Objects(t)
		if len(got) >= len(want) {
			ok := true
			for k := range want {
				if _, in := got[k]; !in {
					ok = false
				}
			}
			if ok {
				break
			}
		}
		if time.Since(t0) > 20*time.Second {
			t.Fatalf("after 20 s the bucket has %v, want %v", s3test.Keys(got), s3test.Keys(want))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d objects in S3 %v after the export", len(got), time.Since(t0).Round(time.Millisecond))
	// Nothing else: the state objects under the old patient id (A1,
	// MRN1) and the old disposition (B/2, QUEUED) are gone; the resend
	// wrote nothing.
	time.Sleep(500 * time.Millisecond)
	got = gw.Objects(t)
	if len(got) != len(want) {
		t.Errorf("bucket has %d objects, want %d:\n got  %v\n want %v", len(got), len(want), s3test.Keys(got), s3test.Keys(want))
	}
	for k, w := range want {
		if !bytes.Equal(got[k], w) {
			t.Errorf("%s =\n %s\nwant (the export's line)\n %s", k, got[k], w)
		}
	}
	if patientOf["A1"] != "MRN2" {
		t.Errorf("A1's last event has patient id %q, want MRN2 (PID-3)", patientOf["A1"])
	}

	// The lag metrics are at zero once everything is out.
	resp, err := http.Get("http://" + srv.httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"apptbridge_archive_depth 0\n", "apptbridge_archive_oldest_age_seconds 0\n",
		`apptbridge_archive_jobs_total{result="ok"} 4` + "\n"} {
		if !bytes.Contains(body, []byte(m)) {
			t.Errorf("/metrics lacks %q", strings.TrimSpace(m))
		}
	}
	// Logs name ids, never the patient.
	for _, line := range sink.all() {
		for _, phi := range []string{"Rivera", "555-0142", "5550142"} {
			if strings.Contains(line, phi) {
				t.Errorf("log line carries %q: %s", phi, line)
			}
		}
	}
}
