package app

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/mllp"
)

// syncBuffer collects every log byte written.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testConfig(t *testing.T, env map[string]string) Config {
	t.Helper()
	base := map[string]string{"DATA_DIR": t.TempDir(), "MLLP_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0"}
	for k, v := range env {
		base[k] = v
	}
	cfg, errs := Load(func(k string) string { return base[k] })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return cfg
}

func startApp(t *testing.T, logs io.Writer) *App {
	t.Helper()
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(logs), zapcore.DebugLevel))
	return startWith(t, testConfig(t, nil), Options{Logger: log, Version: "test", Commit: "abc"})
}

// startWith builds and starts an App on cfg; it is shut down when the
// test ends (Shutdown is idempotent: a test may call it first).
func startWith(t *testing.T, cfg Config, opts Options) *App {
	t.Helper()
	a, err := New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	return a
}

const (
	canaryGiven  = "XYLOPHONEGIVEN"
	canaryFamily = "MARMALADEFAMILY"
	canaryMRN    = "MRNPLANT77"
	canaryPhone  = "7735550142"
	canaryNote   = "SECRETNOTECANARY"
)

func canaryMsg(cid, trigger, extra string) []byte {
	return []byte("MSH|^~\\&|EHR|HOSP|APPTBRIDGE|CLINIC|20261127090000||SIU^" + trigger + "|" + cid + "|P|2.5.1\r" +
		"SCH|APPT1||||||" + canaryNote + "|Normal|30|MIN|^^30^" + extra + "\r" +
		"NTE|1||" + canaryNote + "\r" +
		"PID|1||" + canaryMRN + "^^^H^MR||" + canaryFamily + "^" + canaryGiven + "||19800101|F|||||(773)555-0142^PRN^CP\r" +
		"AIP|1||99^" + canaryFamily + "^" + canaryGiven + "\r")
}

// TestEndToEndInProcess sends real messages over MLLP to a started App and
// checks ACKs, stored state, metrics, health endpoints — and that no log
// line carries PHI (SPEC §13: canary names, phone, MRN, note text).
func TestEndToEndInProcess(t *testing.T) {
	logs := &syncBuffer{}
	a := startApp(t, logs)
	c := &mllp.Client{Addr: a.MLLPAddr().String()}
	defer c.Close()
	ctx := context.Background()
	send := func(b []byte) *hl7.Message {
		t.Helper()
		ack, err := c.Send(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		m, err := hl7.Parse(ack)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := send(canaryMsg("E1", "S12", "20261201150000")); m.Get("MSA-1") != "AA" {
		t.Fatalf("S12: %s", m.Get("MSA-1"))
	}
	if m := send(canaryMsg("E2", "S15", "20261201150000")); m.Get("MSA-1") != "AA" {
		t.Fatalf("S15: %s", m.Get("MSA-1"))
	}
	if m := send(canaryMsg("E3", "S12", "notadate")); m.Get("MSA-1") != "AE" {
		t.Fatalf("bad date: %s", m.Get("MSA-1"))
	}
	if m := send([]byte("garbage " + canaryFamily)); m.Get("MSA-1") != "AE" {
		t.Fatalf("garbage: %s", m.Get("MSA-1"))
	}
	ap, err := a.Store().Appointment(ctx, "APPT1")
	if err != nil {
		t.Fatal(err)
	}
	if ap.Disposition != apptbridge.DispCanceled {
		t.Fatalf("disposition %s, want CANCELED", ap.Disposition)
	}
	if ap.PatientPhone != "+17735550142" {
		t.Fatalf("phone %q", ap.PatientPhone)
	}

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + a.HTTPAddr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz %d", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("/readyz %d", code)
	}
	code, metrics := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics %d", code)
	}
	for _, want := range []string{
		`apptbridge_mllp_acks_total{code="AA"} 2`,
		`apptbridge_mllp_acks_total{code="AE"} 2`,
		`apptbridge_mllp_messages_total{trigger="SIU^S12"} 2`,
		`apptbridge_events_total{applied="true",source="hl7",type="CANCELED"} 1`,
		`apptbridge_hl7_errors_total{reason="102"} 1`,
		`apptbridge_build_info{commit="abc"`,
		`apptbridge_store_commit_seconds_count`,
		`apptbridge_ingest_duration_seconds_bucket`,
		`apptbridge_mllp_connections_open 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	c.Close()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	all := logs.String() + metrics
	if !strings.Contains(all, `"control_id":"E1"`) {
		t.Fatal("logs do not name the control id; is the logger wired?")
	}
	for _, canary := range []string{canaryGiven, canaryFamily, canaryMRN, canaryPhone, "555-0142", canaryNote} {
		if strings.Contains(all, canary) {
			t.Errorf("PHI canary %q found in logs or metrics", canary)
		}
	}
}

func TestReadyzNotReadyAfterShutdown(t *testing.T) {
	a := startApp(t, io.Discard)
	addr := a.HTTPAddr().String()
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	client := http.Client{Timeout: time.Second}
	if resp, err := client.Get("http://" + addr + "/readyz"); err == nil {
		resp.Body.Close()
		t.Fatalf("HTTP still served after shutdown: %d", resp.StatusCode)
	}
}

func TestConfigCheckListsEveryProblem(t *testing.T) {
	_, errs := Load(func(k string) string {
		return map[string]string{
			"DEFAULT_TIMEZONE":        "Mars/Olympus",
			"REMINDER_FIRST_TIMING":   "0160",
			"REMINDER_SECOND_TIMING":  "4800",
			"REMINDER_OUTREACH_START": "2200",
			"TWILIO_ACCOUNT_SID":      "XX1",
			"MLLP_MAX_MESSAGE_BYTES":  "lots",
		}[k]
	})
	text := ""
	for _, e := range errs {
		text += e.Error() + "\n"
	}
	for _, want := range []string{"DEFAULT_TIMEZONE", "REMINDER_FIRST_TIMING", "REMINDER_OUTREACH_START", "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN", "MLLP_MAX_MESSAGE_BYTES"} {
		if !strings.Contains(text, want) {
			t.Errorf("no problem reported for %s in:\n%s", want, text)
		}
	}
	_, errs = Load(func(k string) string {
		return map[string]string{"REMINDER_FIRST_TIMING": "4800", "REMINDER_SECOND_TIMING": "4800"}[k]
	})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "REMINDER_SECOND_TIMING") {
		t.Errorf("second >= first: %v", errs)
	}
	_, errs = Load(func(k string) string { return map[string]string{"REMINDER_SECOND_TIMING": "0000"}[k] })
	if len(errs) != 0 {
		t.Errorf("0000 turns the second reminder off, got %v", errs)
	}
	// Admin sign-in settings: each problem named, never the value.
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"APPLICATION_PASSWORD": "short"}, "APPLICATION_PASSWORD: use at least 12"},
		{map[string]string{"APPLICATION_PASSWORD": "correct horse battery", "APPLICATION_PASSWORD_HASH": "$argon2id$x"}, "set one, not both"},
		{map[string]string{"APPLICATION_PASSWORD_HASH": "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA"}, "APPLICATION_PASSWORD_HASH:"},
		{map[string]string{"APPLICATION_PASSWORD": "correct horse battery", "TWILIO_ACCOUNT_SID": "AC1",
			"TWILIO_AUTH_TOKEN": "abc", "TWILIO_PHONE_NUMBER": "+13125550100"}, "ADMINISTRATOR_PHONE_NUMBER: needed"},
		{map[string]string{"ADMINISTRATOR_PHONE_NUMBER": "312-555-0100"}, "ADMINISTRATOR_PHONE_NUMBER: must be E.164"},
	} {
		_, errs := Load(func(k string) string { return c.env[k] })
		text := ""
		for _, e := range errs {
			text += e.Error() + "\n"
		}
		if !strings.Contains(text, c.want) {
			t.Errorf("%v: want a problem %q in:\n%s", c.env, c.want, text)
		}
		if strings.Contains(text, "correct horse") || strings.Contains(text, "c2FsdA") {
			t.Errorf("%v: a problem echoes the secret:\n%s", c.env, text)
		}
	}
	if cfg, errs := Load(func(k string) string {
		return map[string]string{"APPLICATION_PASSWORD": "correct horse battery"}[k]
	}); len(errs) != 0 || !cfg.LoginEnabled() || cfg.AdminPhone() != SandboxAdminPhone {
		t.Errorf("sandbox sign-in: %v, enabled %v, phone %q", errs, cfg.LoginEnabled(), cfg.AdminPhone())
	}
	if s := Secret("hunter2").String(); s != "<secret>" {
		t.Errorf("Secret prints %q", s)
	}
}

// TestReadmeListsEveryVariable keeps README.md's configuration table in
// step with Vars.
func TestReadmeListsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars {
		if !strings.Contains(string(b), "| `"+v.Name+"` |") {
			t.Errorf("README.md configuration table lacks %s", v.Name)
		}
	}
	lines := strings.SplitN(string(b), "\n", 6)
	if !strings.HasPrefix(lines[3], "make run") || !strings.HasPrefix(lines[4], "make test") {
		t.Errorf("README.md must open with the two set-up commands, got %q", lines[:5])
	}
}

// TestMetricsAddr: with METRICS_ADDR, /metrics moves to its own listener
// (404 on the public one, which must face Twilio), the health checks
// answer on both, and the listener closes with the app.
func TestMetricsAddr(t *testing.T) {
	a := startWith(t, testConfig(t, map[string]string{"METRICS_ADDR": "127.0.0.1:0"}), Options{Logger: zap.NewNop()})
	get := func(addr net.Addr, path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr.String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if a.MetricsAddr() == nil {
		t.Fatal("MetricsAddr is nil with METRICS_ADDR set")
	}
	if code, body := get(a.MetricsAddr(), "/metrics"); code != 200 || !strings.Contains(body, "apptbridge_build_info") {
		t.Fatalf("/metrics on METRICS_ADDR: %d", code)
	}
	if code, _ := get(a.HTTPAddr(), "/metrics"); code != http.StatusNotFound {
		t.Fatalf("/metrics on HTTP_ADDR: %d, want 404", code)
	}
	for _, addr := range []net.Addr{a.HTTPAddr(), a.MetricsAddr()} {
		for _, p := range []string{"/healthz", "/readyz"} {
			if code, _ := get(addr, p); code != 200 {
				t.Errorf("%s on %s: %d", p, addr, code)
			}
		}
	}
	if code, _ := get(a.MetricsAddr(), "/v1/appointments"); code != http.StatusNotFound {
		t.Errorf("/v1 on METRICS_ADDR: %d, want 404 (only the ops routes)", code)
	}
	maddr := a.MetricsAddr().String()
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", maddr, time.Second); err == nil {
		c.Close()
		t.Fatal("METRICS_ADDR still accepts connections after Shutdown")
	}
}

// TestMetricsAddrInUse: a METRICS_ADDR that cannot be bound fails Start
// with the variable named, and leaves no listener behind.
func TestMetricsAddrInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	a, err := New(context.Background(), testConfig(t, map[string]string{"METRICS_ADDR": busy.Addr().String()}), Options{Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	err = a.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "METRICS_ADDR") {
		t.Fatalf("Start = %v, want an error naming METRICS_ADDR", err)
	}
}
