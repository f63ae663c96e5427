package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/app"
	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/mllp"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/sqlite"
	"github.com/apptbridge/apptbridge/web"
)

const sample = "MSH|^~\\&|EHR|HOSP|APPTBRIDGE|CLINIC|20261127090000||SIU^S12|CMD1|P|2.5.1\r" +
	"SCH|A1^EHR|F1^EHR|||||ROUTINE|Normal|30|MIN|^^30^20261201150000\r" +
	"PID|1||MRN1^^^H^MR||DOE^JANE||19800101|F|||||(312)555-0100^PRN^CP\r"

func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestMapPrintsOneLinePerMessage(t *testing.T) {
	t.Setenv("DEFAULT_TIMEZONE", "America/Chicago")
	bad := strings.Replace(sample, "CMD1", "CMD2", 1)
	bad = strings.Replace(bad, "^^30^20261201150000", "", 1)
	ignored := strings.Replace(strings.Replace(sample, "CMD1", "CMD3", 1), "SIU^S12", "SIU^S23", 1)
	code, out, _ := runCmd(t, sample+"\n"+bad+"\n"+ignored, "map")
	if code != 1 {
		t.Errorf("exit %d, want 1 (one message is an error)", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), out)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
		t.Fatal(err)
	}
	if ev["event_type"] != "BOOKED" || ev["appointment_datetime"] != "2026-12-01T15:00:00" ||
		ev["appointment_timezone"] != "-0600" || ev["appointment_tz"] != "America/Chicago" ||
		ev["appointment_datetime_utc"] != "2026-12-01T21:00:00Z" || ev["patient_phone"] != "+13125550100" {
		t.Errorf("event line: %s", lines[0])
	}
	var e struct {
		MessageControlID string `json:"message_control_id"`
		Error            struct {
			AckCode      string `json:"ack_code"`
			HL7ErrorCode int    `json:"hl7_error_code"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil || e.MessageControlID != "CMD2" || e.Error.AckCode != "AE" || e.Error.HL7ErrorCode != 101 {
		t.Errorf("error line: %s", lines[1])
	}
	if !strings.Contains(lines[2], `"ignored":true`) || !strings.Contains(lines[2], `"message_control_id":"CMD3"`) {
		t.Errorf("ignored line: %s", lines[2])
	}
	// --tz overrides DEFAULT_TIMEZONE.
	_, out, _ = runCmd(t, sample, "map", "--tz", "Pacific/Honolulu")
	if !strings.Contains(out, `"appointment_timezone":"-1000"`) {
		t.Errorf("--tz ignored: %s", out)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, ".env")
	os.WriteFile(env, []byte("REMINDER_FIRST_TIMING=0100\nREMINDER_SECOND_TIMING=0200\nDEFAULT_TIMEZONE=Nowhere/Land\n"), 0o600)
	code, out, _ := runCmd(t, "", "check", "--env-file", env)
	if code != 1 || !strings.Contains(out, "REMINDER_SECOND_TIMING") || !strings.Contains(out, "DEFAULT_TIMEZONE") || !strings.Contains(out, "2 problem(s)") {
		t.Errorf("check: exit %d\n%s", code, out)
	}
	os.WriteFile(env, []byte("# defaults\n"), 0o600)
	if code, out, _ := runCmd(t, "", "check", "--env-file", env); code != 0 || !strings.Contains(out, "SMS sandbox") {
		t.Errorf("check defaults: exit %d\n%s", code, out)
	}
	if code, out, _ := runCmd(t, "", "check", "--list"); code != 0 || !strings.Contains(out, "MLLP_ADDR") {
		t.Errorf("check --list: exit %d\n%s", code, out)
	}
}

func TestVersionAndUsage(t *testing.T) {
	if code, out, _ := runCmd(t, "", "version"); code != 0 || !strings.HasPrefix(out, "apptbridge ") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, _, errs := runCmd(t, "", "frobnicate"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: %d %q", code, errs)
	}
}

func TestConformanceCommand(t *testing.T) {
	code, out, _ := runCmd(t, "", "conformance")
	if !strings.Contains(out, "passed,") {
		t.Fatalf("no summary line:\n%s", out)
	}
	if code != 0 {
		t.Errorf("conformance failed:\n%s", out)
	}
}

// TestSendAgainstServe runs `send` against an in-process service.
func TestSendAgainstServe(t *testing.T) {
	cfg, errs := app.Load(func(k string) string {
		return map[string]string{"DATA_DIR": t.TempDir(), "MLLP_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0"}[k]
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	a, err := app.New(context.Background(), cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	dir := t.TempDir()
	good := filepath.Join(dir, "good.hl7")
	os.WriteFile(good, []byte(sample), 0o600)
	code, out, errs2 := runCmd(t, "", "send", "--addr", a.MLLPAddr().String(), good, good)
	if code != 0 || strings.Count(out, "CMD1\tAA") != 2 {
		t.Fatalf("send: exit %d\n%s%s", code, out, errs2)
	}
	bad := filepath.Join(dir, "bad.hl7")
	os.WriteFile(bad, []byte(strings.Replace(sample, "SIU^S12", "SIU^S99", 1)), 0o600)
	code, out, _ = runCmd(t, "", "send", "--addr", a.MLLPAddr().String(), bad)
	if code != 1 || !strings.Contains(out, "CMD1\tAR") || !strings.Contains(out, "201") {
		t.Fatalf("send bad: exit %d\n%s", code, out)
	}
}

// TestServeStopsOnSignalContext runs cmdServe and cancels its context, as
// SIGTERM does.
func TestServeStopsOnSignalContext(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	mllpAddr := ln.Addr().String()
	ln.Close()
	t.Setenv("DATA_DIR", t.TempDir())
	t.Setenv("HTTP_ADDR", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var errb bytes.Buffer
	go func() { done <- cmdServe(ctx, []string{"--mllp-addr", mllpAddr}, &errb) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", mllpAddr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not listen: %s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exit %d: %s", code, errb.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestEHRSimAnswers(t *testing.T) {
	for _, answer := range []string{"AA", "AE"} {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		ctx, cancel := context.WithCancel(context.Background())
		var out, errb bytes.Buffer
		done := make(chan int)
		go func() { done <- cmdEHRSim(ctx, []string{"--listen", addr, "--answer", answer}, &out, &errb) }()
		c := &mllp.Client{Addr: addr, DialTimeout: time.Second}
		var ack []byte
		var err error
		for i := 0; i < 100; i++ {
			if ack, err = c.Send(context.Background(), []byte(sample)); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		m, err := hl7.Parse(ack)
		if err != nil || m.Get("MSA-1") != answer || m.Get("MSA-2") != "CMD1" {
			t.Errorf("--answer %s: ack %q", answer, ack)
		}
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("ehr-sim exit %d: %s", code, errb.String())
		}
		if !strings.Contains(out.String(), "SIU^S12\tCMD1") || strings.Contains(out.String(), "DOE") {
			t.Errorf("ehr-sim log line: %q", out.String())
		}
	}
}

func TestTokenCreate(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCmd(t, "", "token", "create", "--data-dir", dir, "mirth-prod")
	tok := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(tok, web.TokenPrefix) || len(tok) < 40 || !strings.Contains(errOut, "shown only now") {
		t.Fatalf("token create: exit %d out %q err %q", code, out, errOut)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "apptbridge.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.TokenByHash(context.Background(), web.HashToken(tok))
	if err != nil || got.Name != "mirth-prod" {
		t.Fatalf("stored token: %+v %v", got, err)
	}
	// The token itself is not stored: its hash is.
	files, _ := filepath.Glob(filepath.Join(dir, "apptbridge.db*")) // with -wal
	for _, f := range files {
		if raw, _ := os.ReadFile(f); bytes.Contains(raw, []byte(tok)) {
			t.Errorf("%s holds the token in clear", filepath.Base(f))
		}
	}
	if code, _, _ := runCmd(t, "", "token", "create", "--data-dir", dir); code != 2 {
		t.Errorf("token create without a name: exit %d, want 2", code)
	}
	if code, _, _ := runCmd(t, "", "token", "list"); code != 2 {
		t.Errorf("token list: exit %d, want 2 (usage)", code)
	}
}

// TestTokenCreateKeepsLeases: `token create` may run beside serve on the
// same SQLite file; it must not free the lease of a text serve is sending
// (only serve, which owns the store, releases a crashed run's leases).
func TestTokenCreateKeepsLeases(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	path := filepath.Join(dir, "apptbridge.db")
	db, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = db.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.AddText(ctx, &store.Text{ID: apptbridge.NewEventID(), Direction: store.DirOut,
			Kind: apptbridge.TextHelp, Phone: "+13125550100", Immediate: true, NextAttemptAt: now})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if xs, err := db.ClaimTexts(ctx, "serve", now, time.Hour, 10); err != nil || len(xs) != 1 {
		t.Fatalf("claim: %d texts, %v", len(xs), err)
	}
	db.Close()
	if code, _, errOut := runCmd(t, "", "token", "create", "--data-dir", dir, "beside-serve"); code != 0 {
		t.Fatalf("token create: exit %d: %s", code, errOut)
	}
	db, err = sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if xs, err := db.ClaimTexts(ctx, "other", time.Now(), time.Hour, 10); err != nil || len(xs) != 0 {
		t.Fatalf("after token create another worker claims %d texts (%v): serve's lease was released", len(xs), err)
	}
}
