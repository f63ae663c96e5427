package app

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/store"
)

// TestAdminBrowser drives the embedded admin page in headless Chromium
// against a whole App in SMS-sandbox mode (issue 5): sign-in with the
// texted code, dashboard, an appointment's timeline, a CSV export, the
// event simulator and the phone simulator up to the EHR receiving the
// patient's confirmation, a 390 px wide layout, the security headers —
// and no console error, exception or CSP violation on the way.
//
// Screenshots go to $APPTBRIDGE_ARTIFACTS (default: apptbridge-artifacts
// in the temp directory). APPTBRIDGE_UPDATE_SCREENSHOT=1 also copies the
// final dashboard to docs/admin-dashboard.png for the README.
//
// Without Chromium the test is skipped, except in CI (CI=true), where it
// fails.
func TestAdminBrowser(t *testing.T) {
	chrome := findChromium(t)
	artifacts := os.Getenv("APPTBRIDGE_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(os.TempDir(), "apptbridge-artifacts")
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}

	// The app: SMS sandbox (no Twilio credentials), sign-in on, a fake
	// EHR for patient requests, texts at any hour.
	const password = "correct horse battery"
	ehr := startEHR(t)
	logs := &syncBuffer{}
	zl := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(logs), zapcore.DebugLevel))
	cfg := testConfig(t, map[string]string{
		"APPLICATION_PASSWORD":     password,
		"EHR_MLLP_ADDR":            ehr.addr,
		"EHR_ACK_TIMEOUT":          "2s",
		"REMINDER_OUTREACH_START":  "0000",
		"REMINDER_OUTREACH_FINISH": "2400",
		"SMS_RATE_PER_SECOND":      "1000",
		"CUSTOMER_NAME":            "Lakeside Clinic",
		"CALLBACK_PHONE":           "+13125550100",
	})
	if !cfg.SandboxSMS() {
		t.Fatal("the test expects the SMS sandbox (no Twilio credentials)")
	}
	a, err := New(context.Background(), cfg, Options{Logger: zl, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	base := "http://" + a.HTTPAddr().String()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("app logs:\n%s", logs.String())
		}
	})

	// 1. A booking from the "EHR" over MLLP, before the browser.
	const apptID = "BRW100"
	l := &loop{app: a, ehr: ehr, base: base, logs: logs, mllpTo: a.MLLPAddr().String()}
	start := time.Now().Add(72 * time.Hour).Truncate(time.Minute)
	if code := l.send(t, siu("BRWC1", "S12", apptID, "(773)555-0188", start, "")); code != "AA" {
		t.Fatalf("S12 ACK %s, want AA", code)
	}

	// The browser. The deadline bounds the whole test: it ends Chromium.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", chrome, err)
	}

	// 9. Every console error, uncaught exception, browser log error
	// (failed loads, CSP refusals) and securitypolicyviolation event.
	var mu sync.Mutex
	var problems []string
	note := func(s string) {
		mu.Lock()
		problems = append(problems, s)
		mu.Unlock()
	}
	if err := chromedp.Listen(bctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				text += " " + d.Exception.Description
			}
			note(fmt.Sprintf("exception %s:%d: %s", d.URL, d.LineNumber+1, text))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, arg := range ev.Args {
					if arg.Value != nil {
						parts = append(parts, string(arg.Value))
					} else {
						parts = append(parts, arg.Description)
					}
				}
				note("console." + string(ev.Type) + ": " + strings.Join(parts, " "))
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				note(fmt.Sprintf("log %s %s: %s", ev.Entry.Source, ev.Entry.URL, ev.Entry.Text))
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(bctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `document.addEventListener('securitypolicyviolation', function (e) {
			console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') +
				' at ' + e.sourceFile + ':' + e.lineNumber);
		}, true);`,
	}); err != nil {
		t.Fatal(err)
	}

	const stepTimeout = 20 * time.Second
	failf := func(format string, args ...any) {
		t.Helper()
		sctx, c := context.WithTimeout(bctx, 5*time.Second)
		defer c()
		if b, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)); err == nil {
			p := filepath.Join(artifacts, "failure.png")
			if os.WriteFile(p, b, 0o644) == nil {
				t.Logf("screenshot at the failure: %s", p)
			}
		}
		if s, err := chromedp.Run(sctx, chromedp.Evaluate[string](
			`location.hash + ' | status: ' + document.getElementById('status').textContent`)); err == nil {
			t.Logf("page: %s", s)
		}
		mu.Lock()
		for _, p := range problems {
			t.Logf("browser: %s", p)
		}
		mu.Unlock()
		t.Fatalf(format, args...)
	}
	do := func(name string, acts ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, c := context.WithTimeout(bctx, stepTimeout)
		defer c()
		if err := chromedp.Do(sctx, acts...); err != nil {
			failf("%s: %v", name, err)
		}
	}
	// until waits for a JavaScript expression to be truthy.
	until := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](expr,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout))
	}
	str := func(expr string) string {
		t.Helper()
		sctx, c := context.WithTimeout(bctx, stepTimeout)
		defer c()
		v, err := chromedp.Run(sctx, chromedp.Evaluate[string](expr))
		if err != nil {
			failf("%s: %v", expr, err)
		}
		return v
	}
	num := func(expr string) int {
		t.Helper()
		sctx, c := context.WithTimeout(bctx, stepTimeout)
		defer c()
		v, err := chromedp.Run(sctx, chromedp.Evaluate[int](expr))
		if err != nil {
			failf("%s: %v", expr, err)
		}
		return v
	}
	shot := func(name string) string {
		t.Helper()
		sctx, c := context.WithTimeout(bctx, stepTimeout)
		defer c()
		b, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		if err != nil {
			failf("screenshot %s: %v", name, err)
		}
		p := filepath.Join(artifacts, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
		return p
	}
	t0 := time.Now()

	// 2. Sign in: password, then the code texted to the sandbox phone.
	do("open the page", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/"),
		chromedp.WaitVisible("#login-password"))
	do("password", chromedp.SendKeys("#login-password", password), chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#mfa-code"))
	code := sandboxLoginCode(t, a)
	do("code", chromedp.SendKeys("#mfa-code", code), chromedp.Click("#mfa-submit"),
		chromedp.WaitVisible("#dashboard"),
		until(`(function () {
			var e = document.querySelector('#dashboard [data-disposition="QUEUED"]');
			return !!e && Number(e.textContent) >= 1;
		})()`))
	if s := str(`document.getElementById('customer-name').textContent`); s != "Lakeside Clinic" {
		t.Errorf("header customer name %q", s)
	}
	shot("dashboard.png")

	// 3. The appointment's timeline: the HL7 message with its AA and the
	// event it made.
	row := `#appointments-table tbody tr[data-id="` + apptID + `"]`
	do("appointments", chromedp.Click("#nav-appointments"), chromedp.WaitVisible(row), chromedp.Click(row),
		chromedp.WaitVisible(`#timeline .timeline-item[data-kind="hl7-in"]`),
		until(`(function () {
			var h = document.querySelector('#timeline .timeline-item[data-kind="hl7-in"]');
			var e = document.querySelector('#timeline .timeline-item[data-kind="event"]');
			return !!h && !!e && /\bAA\b/.test(h.textContent);
		})()`))
	if h := str(`location.hash`); !strings.Contains(h, apptID) {
		t.Errorf("timeline route %q does not name %s", h, apptID)
	}
	shot("timeline.png")

	// 4. The history export: fetch → blob → <a download> → a file.
	dir := t.TempDir()
	dctx, cancelDownload := context.WithTimeout(bctx, stepTimeout)
	defer cancelDownload()
	progress := chromedp.Events(dctx, browser.DownloadProgress)
	if _, err := chromedp.Call(dctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior:      browser.SetDownloadBehaviorBehaviorAllowAndName,
		DownloadPath:  dir,
		EventsEnabled: new(true),
	}); err != nil {
		t.Fatal(err)
	}
	do("export", chromedp.Click("#nav-exports"), chromedp.WaitVisible("#export-history-csv"),
		chromedp.Click("#export-history-csv"))
	var file string
	for ev, err := range progress {
		if err != nil {
			failf("no finished download: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			failf("download %s canceled", ev.GUID)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			file = filepath.Join(dir, ev.GUID)
			break
		}
	}
	cancelDownload()
	checkHistoryCSV(t, file, apptID)

	// 5. The event simulator books a new appointment for a new phone.
	const simPhone = "+13125550142"
	loc, err := time.LoadLocation(cfg.DefaultTimezone)
	if err != nil {
		t.Fatal(err)
	}
	tomorrow := time.Now().In(loc).AddDate(0, 0, 1)
	simTime := time.Date(tomorrow.Year(), tomorrow.Month(), tomorrow.Day(), 10, 0, 0, 0, loc).Format("2006-01-02T15:04")
	do("simulator", chromedp.Click("#nav-simulator"), chromedp.WaitVisible("#sim-phone"),
		until(`document.querySelector('#sim-event-type option[value="BOOKED"]')`),
		chromedp.SetValue("#sim-event-type", "BOOKED"),
		chromedp.SetValue("#sim-phone", simPhone),
		chromedp.SetValue("#sim-time", simTime),
		chromedp.Click("#sim-submit"),
		chromedp.WaitVisible("#sim-result"),
		until(`(document.getElementById('sim-ack-code') || {}).textContent === 'AA'`))
	simID := str(`document.getElementById('sim-result').getAttribute('data-appointment-id') || ''`)
	if simID == "" || simID == apptID {
		failf("simulator result names appointment %q", simID)
	}
	t.Logf("simulated appointment %s at %s %s", simID, simTime, cfg.DefaultTimezone)

	// 6. The phone simulator: the booked text arrives, the patient
	// confirms, and the EHR gets the confirmation.
	do("phone", chromedp.Click("#nav-phone"), chromedp.WaitVisible("#phone-number"),
		chromedp.SetValue("#phone-number", simPhone), chromedp.Click("#phone-load"),
		until(`Array.from(document.querySelectorAll('#phone-messages .msg.out')).some(function (m) {
			var kind = m.querySelector('.msg-kind');
			return !!kind && kind.textContent === 'booked' && m.textContent.indexOf('CONFIRM APPT') >= 0;
		})`))
	shot("phone.png")
	outs := num(`document.querySelectorAll('#phone-messages .msg.out').length`)
	do("reply", chromedp.SendKeys("#phone-reply", "CONFIRM APPT"), chromedp.Click("#phone-send"),
		until(fmt.Sprintf(`document.querySelectorAll('#phone-messages .msg.out').length > %d &&
			Array.from(document.querySelectorAll('#phone-messages .msg.in')).some(function (m) {
				return m.textContent.indexOf('CONFIRM APPT') >= 0;
			})`, outs)))
	var confirm *hl7.Message
	waitFor(t, 15*time.Second, "the EHR to receive SIU^S14 for "+simID, func() bool {
		for _, b := range ehr.messages() {
			m, err := hl7.Parse(b)
			if err != nil {
				continue
			}
			if typ, trig, _ := m.Type(); typ == "SIU" && trig == "S14" && m.Get("SCH-1.1") == simID {
				confirm = m
				return true
			}
		}
		return false
	})
	if s := confirm.Get("SCH-25"); s != "Confirmed" {
		t.Errorf("EHR confirmation SCH-25 %q, want Confirmed", s)
	}
	for _, b := range ehr.messages() {
		if m, err := hl7.Parse(b); err == nil && m.Get("SCH-1.1") == apptID {
			t.Errorf("the EHR got a message for %s, which nobody answered", apptID)
		}
	}

	// 7. The dashboard at 390 px: no horizontal scroll.
	do("dashboard again", chromedp.Click("#nav-dashboard"), chromedp.WaitVisible("#dashboard"),
		until(`Number((document.querySelector('#dashboard .card-total-count') || {}).textContent) >= 2`),
		chromedp.EmulateViewport(390, 844),
		until(`window.innerWidth === 390`))
	shot("dashboard-390.png")
	if w := num(`document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("at 390 px the page is %d px wide (horizontal scroll)", w)
	}
	// A reload keeps the session (the token is in sessionStorage) and
	// clears the status line, for a clean picture of the dashboard.
	do("reload at 1280", chromedp.EmulateViewport(1280, 900), chromedp.Reload(),
		chromedp.WaitVisible("#dashboard"),
		until(`window.innerWidth === 1280 && document.getElementById('view-login').hidden &&
			Number((document.querySelector('#dashboard .card-total-count') || {}).textContent) >= 2`))
	// The route focuses its heading (a ring after a reload, by design);
	// the picture is for the README, so without it.
	do("blur", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`))
	final := shot("dashboard-final.png")
	if os.Getenv("APPTBRIDGE_UPDATE_SCREENSHOT") == "1" {
		b, err := os.ReadFile(final)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll("../docs", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("../docs/admin-dashboard.png", b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("updated docs/admin-dashboard.png")
	}

	// 8. Headers: the page's CSP, and no-store on the API the page uses,
	// with the token the page holds.
	token := str(`sessionStorage.getItem('apptbridge.token') || ''`)
	if token == "" {
		failf("no token in sessionStorage")
	}
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("GET / Content-Security-Policy %q lacks frame-ancestors 'none'", csp)
	}
	req, _ := http.NewRequest("GET", base+"/v1/stats", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/stats with the page's token: %d", resp.StatusCode)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("GET /v1/stats Cache-Control %q, want no-store", cc)
	}

	// 9. Nothing went wrong in the page.
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser: %s", p)
	}
	t.Logf("browser part took %v", time.Since(t0).Round(time.Millisecond))
}

// findChromium returns Chromium's (or Chrome's) path. Without one it
// skips the test, or fails it in CI.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI: no Chromium (chromium, chromium-browser or google-chrome) on PATH; the admin page's browser test needs one")
	}
	t.Skip("no Chromium on PATH (chromium, chromium-browser or google-chrome): skipping the admin page's browser test")
	return ""
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// sandboxLoginCode reads the sign-in code "from the sandbox phone": the
// newest login-code text to SandboxAdminPhone, once the outbox worker has
// kept it.
func sandboxLoginCode(t *testing.T, a *App) string {
	t.Helper()
	var code string
	waitFor(t, 10*time.Second, "the sign-in code in the SMS sandbox", func() bool {
		texts, err := a.Store().Texts(context.Background(), store.TextFilter{Phone: SandboxAdminPhone})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range texts { // newest first
			if x.Kind != apptbridge.TextLoginCode {
				continue
			}
			if x.Status != store.TextSandbox {
				return false
			}
			code = sixDigits.FindString(x.Body)
			return code != ""
		}
		return false
	})
	return code
}

// checkHistoryCSV checks a downloaded history export names appointment id.
func checkHistoryCSV(t *testing.T, file, id string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("downloaded history.csv: %v", err)
	}
	if len(rows) < 2 {
		t.Fatalf("downloaded history.csv has %d rows", len(rows))
	}
	col := slices.Index(rows[0], "appointment_id")
	if col < 0 {
		t.Fatalf("history.csv header lacks appointment_id: %v", rows[0])
	}
	for _, r := range rows[1:] {
		if col < len(r) && r[col] == id {
			return
		}
	}
	t.Fatalf("history.csv has no row for %s (%d rows)", id, len(rows)-1)
}
