package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge/store/s3"
	"github.com/apptbridge/apptbridge/store/s3/s3test"
)

// TestArchiveWakesOnCommit: with the archive worker's poll set to an hour,
// the S3 objects of events committed by every path — an SIU over MLLP
// (Ingest), a JSON event (Tx.Apply by the API) and a patient's reply
// (Tx.Apply by the replies) — are in S3 within seconds: the commit wakes
// the worker (store.NotifyArchive), its poll plays no part.
func TestArchiveWakesOnCommit(t *testing.T) {
	gw := s3test.Start(t)
	env := map[string]string{"CUSTOMER_CODE": "acme"}
	for _, kv := range gw.Env() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "S3_") || k == "AWS_REGION" {
			env[k] = v
		} else {
			t.Setenv(k, v)
		}
	}
	l := startLoopWith(t, env, Options{ArchivePoll: time.Hour})
	// The worker's first look at the (empty) queue at start is over: from
	// now on only a wake makes it look again within the hour.
	time.Sleep(200 * time.Millisecond)
	ctx := context.Background()

	// inS3 waits until every history entry of aid and its state object
	// are in S3, and returns how long that took.
	inS3 := func(what, aid string, n int) time.Duration {
		t.Helper()
		t0 := time.Now()
		var want []string
		waitFor(t, 10*time.Second, what+": history and state objects in S3", func() bool {
			h, err := l.app.Store().History(ctx, aid)
			if err != nil || len(h) < n {
				return false
			}
			a, err := l.app.Store().Appointment(ctx, aid)
			if err != nil {
				return false
			}
			want = []string{s3.StateKey("acme", a.Disposition, aid, a.PatientID)}
			for _, x := range h {
				want = append(want, s3.HistoryKey("acme", x.RecordedAt, aid, a.PatientID, x.Event.EventID))
			}
			objs := gw.Objects(t)
			for _, k := range want {
				if _, ok := objs[k]; !ok {
					return false
				}
			}
			body, _ := json.Marshal(a)
			return bytes.Equal(objs[want[0]], body)
		})
		d := time.Since(t0)
		t.Logf("%s: %d objects in S3 %v after the answer", what, len(want), d.Round(time.Millisecond))
		return d
	}

	start := time.Now().Add(72 * time.Hour).Truncate(time.Minute)
	// 1. Ingest (MLLP).
	if code := l.send(t, siu("C1", "S12", "A100", "(773)555-0142", start, "")); code != "AA" {
		t.Fatalf("ACK %s", code)
	}
	inS3("SIU over MLLP", "A100", 1)

	// 2. Tx.Apply by the API: POST /v1/events.
	ev, _ := json.Marshal(map[string]any{
		"event_type": "BOOKED", "event_datetime_utc": time.Now().UTC().Format(time.RFC3339),
		"patient_id": "P200", "patient_first_name": "Ana", "patient_last_name": "Rivera",
		"patient_phone": "(773) 555-0143", "appointment_id": "A200",
		"appointment_datetime": start.UTC().Format("2006-01-02T15:04:05Z"), "appointment_timezone": "+0000",
	})
	if code := l.postEvent(t, ev); code != http.StatusAccepted {
		t.Fatalf("POST /v1/events: %d", code)
	}
	inS3("POST /v1/events", "A200", 1)

	// 3. Tx.Apply by the replies: the patient of A100 confirms.
	if _, status, err := l.tw.Inbound(ctx, l.hook, "+17735550142", testNumber, "confirm appt"); err != nil || status != 200 {
		t.Fatalf("inbound: %d %v", status, err)
	}
	inS3("patient reply", "A100", 2)

	// Everything is written: the lag gauges are at zero.
	m := scrape(t, l.base)
	for _, want := range []string{"apptbridge_archive_depth 0", "apptbridge_archive_oldest_age_seconds 0",
		`apptbridge_archive_jobs_total{result="ok"} 3`} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
