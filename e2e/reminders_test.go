package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/mllp"
	"github.com/apptbridge/apptbridge/notify/twilio/twiliotest"
)

// TestRemindersRealTime runs the reminder worker on the real clock through
// `apptbridge serve`: REMINDER_FIRST_TIMING=0002, SECOND=0001, an
// appointment 4 minutes ahead. The Twilio-like server must receive the
// booked text, reminder 1 within 5 s of T-2 min, reminder 2 within 5 s of
// T-1 min and nothing else; at T the appointment is EXPIRED with
// reminders_sent 2. It takes about four minutes.
func TestRemindersRealTime(t *testing.T) {
	if testing.Short() {
		t.Skip("four minutes of real time")
	}
	const (
		account = "AC00000000000000000000000000000003"
		token   = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
		phone   = "+13125550188"
	)
	tw, err := twiliotest.Start(account, token)
	if err != nil {
		t.Fatal(err)
	}
	defer tw.Close()
	sink := &logSink{}
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, sink,
		"TWILIO_ACCOUNT_SID="+account, "TWILIO_AUTH_TOKEN="+token, "TWILIO_PHONE_NUMBER=+15005550006",
		"TWILIO_API_BASE_URL="+tw.URL, "PUBLIC_BASE_URL=http://127.0.0.1:1",
		"REMINDER_FIRST_TIMING=0002", "REMINDER_SECOND_TIMING=0001",
		// The window is all day so the test does not depend on when it runs.
		"REMINDER_OUTREACH_START=0000", "REMINDER_OUTREACH_FINISH=2400",
		"SMS_RATE_PER_SECOND=50", "CUSTOMER_NAME=Lakeside Clinic")
	defer srv.stop(t)

	// Whole seconds: HL7 times carry no fractions.
	start := time.Now().Add(4 * time.Minute).Truncate(time.Second).Add(time.Second)
	msg := "MSH|^~\\&|EHR|HOSP|APPTBRIDGE|CLINIC|" + time.Now().UTC().Format("20060102150405") + "+0000||SIU^S12|RT1|P|2.5.1\r" +
		"SCH|R1|FR1|||||Checkup|Normal|4|MIN|^^4^" + start.UTC().Format("20060102150405") + "+0000\r" +
		"PID|1||MRNRT^^^H^MR||Rivera^Ana||19800101|F|||||(312)555-0188^PRN^CP\r" +
		"AIP|1||D1^Okafor^Grace\r"
	c := &mllp.Client{Addr: srv.mllpAddr, AckTimeout: 10 * time.Second}
	ack, err := c.Send(context.Background(), []byte(msg))
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	if m, err := hl7.Parse(ack); err != nil || m.Get("MSA-1") != "AA" {
		t.Fatalf("ACK %q %v", ack, err)
	}

	wait := func(n int, until time.Time) []twiliotest.Message {
		t.Helper()
		ctx, cancel := context.WithDeadline(context.Background(), until)
		defer cancel()
		msgs, err := tw.WaitMessages(ctx, n)
		if err != nil {
			t.Fatalf("waiting for text %d: %v (have %d)", n, err, len(tw.Messages()))
		}
		return msgs
	}
	msgs := wait(1, time.Now().Add(5*time.Second))
	if !strings.Contains(msgs[0].Body, "scheduled") {
		t.Errorf("first text is not the booking: %q", msgs[0].Body)
	}
	due1, due2 := start.Add(-2*time.Minute), start.Add(-time.Minute)
	msgs = wait(2, due1.Add(5*time.Second))
	late1 := msgs[1].Created.Sub(due1)
	if late1 < -time.Second || late1 > 5*time.Second || !strings.Contains(msgs[1].Body, "reminder") {
		t.Fatalf("reminder 1 at %v (due %v, %v late): %q", msgs[1].Created, due1, late1, msgs[1].Body)
	}
	msgs = wait(3, due2.Add(5*time.Second))
	late2 := msgs[2].Created.Sub(due2)
	if late2 < -time.Second || late2 > 5*time.Second || !strings.Contains(msgs[2].Body, "reminder") {
		t.Fatalf("reminder 2 at %v (due %v, %v late): %q", msgs[2].Created, due2, late2, msgs[2].Body)
	}
	t.Logf("reminder 1 sent %v after its due time, reminder 2 %v", late1.Round(time.Millisecond), late2.Round(time.Millisecond))

	// At the appointment time: EXPIRED with reminders_sent 2, and no
	// other text ever.
	tokenOut := createToken(t, dataDir)
	deadline := start.Add(10 * time.Second)
	var view struct {
		Disposition   string `json:"disposition"`
		RemindersSent int    `json:"reminders_sent"`
	}
	for {
		req, _ := http.NewRequest("GET", "http://"+srv.httpAddr+"/v1/appointments/R1", nil)
		req.Header.Set("Authorization", "Bearer "+tokenOut)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&view)
		resp.Body.Close()
		if view.Disposition == "EXPIRED" || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if view.Disposition != "EXPIRED" || view.RemindersSent != 2 {
		t.Fatalf("at the appointment time: %s with reminders_sent %d, want EXPIRED with 2", view.Disposition, view.RemindersSent)
	}
	if got := time.Since(start); got < 0 {
		t.Fatalf("expired %v before the appointment time", -got)
	}
	time.Sleep(2 * time.Second)
	if n := len(tw.Messages()); n != 3 {
		t.Fatalf("Twilio received %d texts, want exactly 3 (booked, reminder 1, reminder 2)", n)
	}
}

// createToken runs `apptbridge token create` on a data directory.
func createToken(t *testing.T, dataDir string) string {
	t.Helper()
	out, err := exec.Command(binary(t), "token", "create", "--data-dir", dataDir, "e2e").Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	return strings.TrimSpace(string(out))
}
