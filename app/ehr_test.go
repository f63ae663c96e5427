package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/mllp"
	"github.com/apptbridge/apptbridge/notify/twilio/twiliotest"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/web"
)

// Answers of the scripted EHR peer (besides the ACK codes AA, AR, AE).
const (
	peerDrop = "drop" // read the message, close the connection without an ACK (reset mid-ACK)
	peerSlow = "slow" // read the message, answer AA only after the sender's ACK timeout
)

// ehrArrival is one message the EHR peer read.
type ehrArrival struct {
	controlID string // MSH-10
	trigger   string // S14, S15
	apptID    string // SCH-1
	confirmed string // SCH-25
	answer    string // what the peer answered (AA, AR, AE, drop, slow)
	raw       []byte
	at        time.Time
}

// ehrPeer is an MLLP EHR listening on a fixed address (so it can come up
// where the app has been dialing in vain). Answers are chosen per MSH-10
// from byID (consumed in order), after the first firstAR arrivals, whatever
// they are, got AR; anything else gets AA. Unlike startEHR it records every
// arrival, with the answer given, even when no ACK is sent.
type ehrPeer struct {
	mu       sync.Mutex
	arrivals []ehrArrival
	byID     map[string][]string
	firstAR  int
	srv      *mllp.Server
}

func startEHRPeerAt(t *testing.T, addr string, firstAR int, byID map[string][]string) *ehrPeer {
	t.Helper()
	p := &ehrPeer{byID: byID, firstAR: firstAR}
	p.srv = &mllp.Server{Handler: mllp.HandlerFunc(func(ctx context.Context, msg []byte) ([]byte, error) {
		m, err := hl7.Parse(msg)
		if err != nil {
			return nil, err
		}
		_, trig, _ := m.Type()
		a := ehrArrival{controlID: m.Get("MSH-10"), trigger: trig, apptID: m.Get("SCH-1"),
			confirmed: m.Get("SCH-25"), raw: append([]byte(nil), msg...), at: time.Now()}
		p.mu.Lock()
		switch q := p.byID[a.controlID]; {
		case p.firstAR > 0:
			p.firstAR--
			a.answer = "AR"
		case len(q) > 0:
			a.answer, p.byID[a.controlID] = q[0], q[1:]
		default:
			a.answer = "AA"
		}
		p.arrivals = append(p.arrivals, a)
		p.mu.Unlock()
		code := a.answer
		switch a.answer {
		case peerDrop:
			return nil, nil
		case peerSlow:
			select {
			case <-time.After(1500 * time.Millisecond): // > EHR_ACK_TIMEOUT
			case <-ctx.Done():
			}
			code = "AA"
		}
		return hl7.BuildAck(m, hl7.AckOptions{Code: hl7.AckCode(code), Now: time.Now(), ControlID: "EHR-" + a.controlID}), nil
	})}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("EHR peer cannot listen on %s: %v", addr, err)
	}
	go p.srv.Serve(ln)
	t.Cleanup(func() { p.srv.Close() })
	return p
}

func (p *ehrPeer) all() []ehrArrival {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ehrArrival(nil), p.arrivals...)
}

func (p *ehrPeer) of(controlID string) []ehrArrival {
	var out []ehrArrival
	for _, a := range p.all() {
		if a.controlID == controlID {
			out = append(out, a)
		}
	}
	return out
}

// testMaxBackoff caps the EHR worker's backoff in this test (production:
// ehr.DefaultMaxBackoff, 60 s); the first step stays the real 1 s.
const testMaxBackoff = 2 * time.Second

// startEHRLoop starts an App like startLoop, but on a given DATA_DIR and
// HTTP address (so a restart keeps the store and PUBLIC_BASE_URL), with
// EHR_MLLP_ADDR at ehrAddr and an existing Twilio-like server. It returns
// a loop for the helpers (ehr is nil; token is set by the caller).
func startEHRLoop(t *testing.T, tw *twiliotest.Server, dataDir, httpAddr, ehrAddr string) *loop {
	t.Helper()
	l := &loop{tw: tw, logs: &syncBuffer{}, base: "http://" + httpAddr}
	l.hook = l.base + "/twilio/sms"
	cfg := map[string]string{
		"DATA_DIR":              dataDir,
		"HTTP_ADDR":             httpAddr,
		"TWILIO_ACCOUNT_SID":    testAccount,
		"TWILIO_AUTH_TOKEN":     testToken,
		"TWILIO_PHONE_NUMBER":   testNumber,
		"TWILIO_API_BASE_URL":   tw.URL,
		"PUBLIC_BASE_URL":       l.base,
		"EHR_MLLP_ADDR":         ehrAddr,
		"EHR_ACK_TIMEOUT":       "1s",
		"EVENT_TEXTS_IN_WINDOW": "false",
		"SMS_RATE_PER_SECOND":   "1000",
		"CUSTOMER_NAME":         "Lakeside Clinic",
		"CALLBACK_PHONE":        "+13125550100",
	}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(l.logs), zapcore.DebugLevel))
	a, err := New(context.Background(), testConfig(t, cfg), Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if a.pat.ehr == nil {
		t.Fatal("no EHR worker")
	}
	// Set before Start, so before the worker's first use (no race).
	a.pat.ehr.MaxBackoff = testMaxBackoff
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	l.app = a
	l.mllpTo = a.MLLPAddr().String()
	return l
}

type reqView struct {
	ID            string `json:"id"`
	AppointmentID string `json:"appointment_id"`
	Type          string `json:"type"`
	Status        string `json:"status"`
	AckCode       string `json:"ack_code"`
	ControlID     string `json:"message_control_id"`
	Attempts      int    `json:"attempts"`
	LastError     string `json:"last_error"`
}

func (l *loop) requests(t *testing.T, query string) []reqView {
	t.Helper()
	var out struct {
		Requests []reqView `json:"requests"`
	}
	if code := l.get(t, "/v1/requests"+query, &out); code != http.StatusOK {
		t.Fatalf("GET /v1/requests%s: %d", query, code)
	}
	return out.Requests
}

func (l *loop) retry(t *testing.T, id string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", l.base+"/v1/requests/"+id+"/retry", nil)
	req.Header.Set("Authorization", "Bearer "+l.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (l *loop) reply(t *testing.T, phone, body string) {
	t.Helper()
	if _, status, err := l.tw.Inbound(context.Background(), l.hook, phone, testNumber, body); err != nil || status != 200 {
		t.Fatalf("inbound %q from %s: status %d, %v", body, phone, status, err)
	}
}

// metricValue reads one sample (name with labels, as exposed) from a scrape.
func metricValue(t *testing.T, body, sample string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", sample, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not exposed", sample)
	return 0
}

// attemptLog is one "EHR request …" log line of the worker.
type attemptLog struct {
	Msg       string  `json:"msg"`
	TS        float64 `json:"ts"`
	RequestID string  `json:"request_id"`
	ControlID string  `json:"control_id"`
	Attempts  int     `json:"attempts"`
	RetryIn   float64 `json:"retry_in"` // seconds
	Error     string  `json:"error"`
}

const (
	logRetry = "EHR request not delivered; will retry"
	logDead  = "EHR request is a dead letter"
	logAcked = "EHR request acked"
)

func attemptLogs(t *testing.T, logs string) []attemptLog {
	t.Helper()
	var out []attemptLog
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, `"EHR request `) {
			continue
		}
		var a attemptLog
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, a)
	}
	return out
}

func countMsg(ls []attemptLog, msg string) int {
	n := 0
	for _, a := range ls {
		if a.Msg == msg {
			n++
		}
	}
	return n
}

var refusedRE = regexp.MustCompile(`(?i)connection refused|connect`)

// TestEHROutageRestartARAE: "EHR down for a while, then AR, then AE:
// requests arrive in order once it is back; AE lands in dead letters; no
// request is lost across a restart." (SPEC §9, RELIABILITY T09/T10)
func TestEHROutageRestartARAE(t *testing.T) {
	ctx := context.Background()
	tw, err := twiliotest.Start(testAccount, testToken)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tw.Close() })
	dataDir := t.TempDir()
	httpAddr := freeAddr(t)
	ehrAddr := freeAddr(t) // nothing listens here until the EHR "comes back"

	// ---- Phase 1: first process, EHR down. ----
	l1 := startEHRLoop(t, tw, dataDir, httpAddr, ehrAddr)
	tok, hash := web.NewToken()
	if err := l1.app.Store().CreateToken(ctx, &store.Token{ID: "t1", Name: "test", Hash: hash}); err != nil {
		t.Fatal(err)
	}
	l1.token = tok

	start := time.Now().Add(72 * time.Hour).Truncate(time.Minute)
	appts := []struct{ id, hl7Phone, phone string }{
		{"E1", "(773)555-0151", "+17735550151"}, // confirm (before restart), cancel (after)
		{"E2", "(773)555-0152", "+17735550152"}, // confirm, cancel (both before restart)
		{"E3", "(773)555-0153", "+17735550153"}, // confirm: the EHR answers AE
		{"E4", "(773)555-0154", "+17735550154"}, // cancel (after restart)
	}
	for i, a := range appts {
		if code := l1.send(t, siu(fmt.Sprintf("EB%d", i), "S12", a.id, a.hl7Phone, start.Add(time.Duration(i)*time.Hour), "")); code != "AA" {
			t.Fatalf("booking %s: ACK %s", a.id, code)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = tw.WaitMessages(wctx, len(appts))
	cancel()
	if err != nil {
		t.Fatalf("booked texts: %v", err)
	}

	l1.reply(t, appts[0].phone, "CONFIRM APPT")
	l1.reply(t, appts[1].phone, "Confirm appt")
	l1.reply(t, appts[2].phone, "confirm appt")
	l1.reply(t, appts[1].phone, "CANCEL APPT")

	// Every request is tried, and retried after a backoff, while the EHR
	// is down (a refused dial is a retry, never a dead letter). E2's cancel
	// is held behind E2's confirm (order per appointment).
	blocked := func(r reqView) bool {
		return r.Type == "CANCEL" && (r.AppointmentID == "E1" || r.AppointmentID == "E2")
	}
	before := waitDown(t, l1, 4, func(reqView) int { return 2 }, blocked)
	m1 := scrape(t, l1.base)
	if v := metricValue(t, m1, `apptbridge_ehr_requests_total{result="retry"}`); v < 6 {
		t.Errorf("first process: retry attempts = %v, want ≥ 6 (3 requests × 2)", v)
	}
	for _, res := range []string{"acked", "dead"} {
		if v := metricValue(t, m1, `apptbridge_ehr_requests_total{result="`+res+`"}`); v != 0 {
			t.Errorf("first process: %s = %v while the EHR is down", res, v)
		}
	}

	// ---- Restart while the EHR is still down. ----
	if err := l1.app.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	// What the first process showed just before it stopped.
	afterStop := map[string]reqView{}
	for _, r := range before {
		afterStop[r.ID] = r
	}
	l2 := startEHRLoop(t, tw, dataDir, httpAddr, ehrAddr)
	l2.token = tok // the token is in the store
	got := l2.requests(t, "")
	if len(got) != len(before) {
		t.Fatalf("after restart: %d requests, want %d", len(got), len(before))
	}
	for _, r := range got {
		b, ok := afterStop[r.ID]
		switch {
		case !ok:
			t.Fatalf("after restart: unknown request %s", r.ID)
		case r.Status != store.RequestPending:
			t.Fatalf("after restart: request %s is %s, want pending", r.ID, r.Status)
		case b.ControlID != "" && r.ControlID != b.ControlID:
			t.Errorf("request %s: MSH-10 changed across the restart: %s → %s", r.ID, b.ControlID, r.ControlID)
		case r.Attempts < b.Attempts:
			t.Errorf("request %s: attempts went back from %d to %d", r.ID, b.Attempts, r.Attempts)
		}
	}
	// More replies to the new process, still with the EHR down.
	l2.reply(t, appts[0].phone, "CANCEL APPT")
	l2.reply(t, appts[3].phone, "cancel appt")
	// The second process works the first one's requests (each is tried
	// again) and its own.
	atRestart := map[string]int{}
	for _, r := range got {
		atRestart[r.ID] = r.Attempts
	}
	waitDown(t, l2, 6, func(r reqView) int { return atRestart[r.ID] + 1 }, blocked)

	// The final set of requests and their MSH-10s (the store assigns the
	// control id when the request is made; the worker would fall back to
	// the request id).
	all := l2.requests(t, "")
	if len(all) != 6 {
		t.Fatalf("%d requests, want 6", len(all))
	}
	type key struct{ appt, typ string }
	reqs := map[key]reqView{}
	for _, r := range all {
		if r.ControlID == "" {
			r.ControlID = r.ID
		}
		reqs[key{r.AppointmentID, r.Type}] = r
	}
	for _, k := range []key{{"E1", "CONFIRM"}, {"E1", "CANCEL"}, {"E2", "CONFIRM"}, {"E2", "CANCEL"}, {"E3", "CONFIRM"}, {"E4", "CANCEL"}} {
		if _, ok := reqs[k]; !ok {
			t.Fatalf("no %s request for %s", k.typ, k.appt)
		}
	}
	cid := func(appt, typ string) string { return reqs[key{appt, typ}].ControlID }
	aeID := cid("E3", "CONFIRM")

	// ---- The EHR comes back. ----
	// The first arrival, whatever it is, gets AR; E1's confirm gets AR
	// twice more (E1's cancel must wait for it); E2's confirm loses its
	// ACK (connection reset mid-ACK); E4's cancel is answered only after
	// the ACK timeout; E3's confirm gets AE (dead letter), then AA when an
	// operator retries it.
	upAt := time.Now()
	peer := startEHRPeerAt(t, ehrAddr, 1, map[string][]string{
		cid("E1", "CONFIRM"): {"AR", "AR"},
		cid("E2", "CONFIRM"): {peerDrop},
		cid("E4", "CANCEL"):  {peerSlow},
		aeID:                 {"AE"},
	})
	waitFor(t, 30*time.Second, "every request final after the EHR is back", func() bool {
		for _, r := range l2.requests(t, "") {
			if r.Status != store.RequestAcked && r.Status != store.RequestDead {
				return false
			}
		}
		return true
	})
	t.Logf("all requests final %v after the EHR came back", time.Since(upAt).Round(10*time.Millisecond))

	// The AE one, and only it, is a dead letter.
	dead := l2.requests(t, "?status=dead")
	if len(dead) != 1 || dead[0].ControlID != aeID || dead[0].AckCode != "AE" {
		t.Fatalf("dead letters = %+v, want only E3's confirm (%s) with AE", dead, aeID)
	}
	if n := len(l2.requests(t, "?status=acked")); n != 5 {
		t.Fatalf("acked requests = %d, want 5", n)
	}
	// Not resent: wait until more than a backoff cap plus a poll has
	// passed since the AE, and it still arrived only once.
	aeArr := peer.of(aeID)
	if len(aeArr) == 0 || aeArr[len(aeArr)-1].answer != "AE" {
		t.Fatalf("arrivals of %s: %+v", aeID, aeArr)
	}
	if d := time.Until(aeArr[len(aeArr)-1].at.Add(testMaxBackoff + 1500*time.Millisecond)); d > 0 {
		time.Sleep(d)
	}
	if n := len(peer.of(aeID)); n != len(aeArr) {
		t.Fatalf("dead letter %s resent by itself: %d arrivals, then %d", aeID, len(aeArr), n)
	}
	mDead := scrape(t, l2.base)
	for sample, want := range map[string]float64{
		`apptbridge_ehr_requests_total{result="dead"}`:         1,
		`apptbridge_ehr_dead_letters_total{reason="rejected"}`: 1,
		`apptbridge_outbox_depth{queue="dead_requests"}`:       1,
		`apptbridge_outbox_depth{queue="requests"}`:            0,
	} {
		if v := metricValue(t, mDead, sample); v != want {
			t.Errorf("%s = %v, want %v", sample, v, want)
		}
	}

	// An operator retries it: it goes again, with the same MSH-10, and is
	// acked. A request that is not dead cannot be retried.
	if code := l2.retry(t, reqs[key{"E1", "CONFIRM"}].ID); code != http.StatusConflict {
		t.Errorf("retry of an acked request: %d, want 409", code)
	}
	if code := l2.retry(t, "no-such-request"); code != http.StatusNotFound {
		t.Errorf("retry of an unknown request: %d, want 404", code)
	}
	if code := l2.retry(t, dead[0].ID); code != http.StatusOK {
		t.Fatalf("retry of the dead letter: %d", code)
	}
	waitFor(t, 10*time.Second, "the retried dead letter acked", func() bool {
		rs := l2.requests(t, "?appointment_id=E3")
		return len(rs) == 1 && rs[0].Status == store.RequestAcked
	})
	if n := len(l2.requests(t, "?status=dead")); n != 0 {
		t.Errorf("dead letters after the retry: %d", n)
	}

	// ---- What the EHR received. ----
	arr := peer.all()
	for i, a := range arr {
		t.Logf("arrival %2d: %s %s^%s → %s", i, a.apptID, "SIU", a.trigger, a.answer)
	}
	byCID := map[string][]int{}
	for i, a := range arr {
		byCID[a.controlID] = append(byCID[a.controlID], i)
	}
	for k, r := range reqs {
		idx := byCID[r.ControlID]
		if len(idx) == 0 {
			t.Errorf("%s %s (%s) never arrived", k.appt, k.typ, r.ControlID)
			continue
		}
		wantTrig := map[string]string{"CONFIRM": "S14", "CANCEL": "S15"}[k.typ]
		wantSCH25 := map[string]string{"CONFIRM": "Confirmed", "CANCEL": "Cancelled"}[k.typ]
		first := arr[idx[0]]
		var answers []string
		for n, i := range idx {
			a := arr[i]
			answers = append(answers, a.answer)
			if a.apptID != k.appt || a.trigger != wantTrig || a.confirmed != wantSCH25 {
				t.Errorf("%s %s: got SIU^%s SCH-1 %q SCH-25 %q", k.appt, k.typ, a.trigger, a.apptID, a.confirmed)
			}
			// Every attempt sends the same bytes (so the same MSH-10).
			if !bytes.Equal(a.raw, first.raw) {
				t.Errorf("%s %s: attempt %d differs from the first", k.appt, k.typ, n+1)
			}
			// Every answer but the last asked for another attempt; the
			// last is the one AA (no duplicate beyond the injected faults).
			last := n == len(idx)-1
			if last != (a.answer == "AA") {
				t.Errorf("%s %s: answers %v: want non-AA answers then exactly one AA", k.appt, k.typ, answers)
			}
		}
		// And no other message for this appointment and type carried
		// another MSH-10.
		for _, a := range arr {
			if a.apptID == k.appt && a.trigger == wantTrig && a.controlID != r.ControlID {
				t.Errorf("%s %s arrived with MSH-10 %s, want %s on every attempt", k.appt, k.typ, a.controlID, r.ControlID)
			}
		}
	}
	// The dead letter: after its AE exactly one more arrival, the
	// operator's retry, answered AA (an AR before the AE is the first
	// arrival's, when it happened to be this request).
	var aeAnswers []string
	for _, i := range byCID[aeID] {
		aeAnswers = append(aeAnswers, arr[i].answer)
	}
	if a := strings.Join(aeAnswers, " "); a != "AE AA" && a != "AR AE AA" {
		t.Errorf("dead letter %s: answers [%s], want [AE AA] (one automatic attempt, one by the operator)", aeID, a)
	}
	if n := len(byCID[cid("E1", "CONFIRM")]); n < 3 {
		t.Errorf("E1's confirm arrived %d times, want ≥ 3 (AR, AR, AA)", n)
	}
	if len(arr) != 6+countNonAA(arr) {
		t.Errorf("%d arrivals for 6 requests and %d injected faults", len(arr), countNonAA(arr))
	}
	// Order per appointment: nothing of the cancel before the confirm's
	// last attempt.
	for _, appt := range []string{"E1", "E2"} {
		c, x := byCID[cid(appt, "CONFIRM")], byCID[cid(appt, "CANCEL")]
		if len(c) > 0 && len(x) > 0 && x[0] < c[len(c)-1] {
			t.Errorf("%s: cancel (arrival %d) went before the confirm was acked (arrival %d)", appt, x[0], c[len(c)-1])
		}
	}

	// ---- Metrics and logs of the second process agree. ----
	logs2 := attemptLogs(t, l2.logs.String())
	m2 := scrape(t, l2.base)
	for res, msg := range map[string]string{"acked": logAcked, "retry": logRetry, "dead": logDead} {
		v := metricValue(t, m2, `apptbridge_ehr_requests_total{result="`+res+`"}`)
		if int(v) != countMsg(logs2, msg) {
			t.Errorf("apptbridge_ehr_requests_total{result=%q} = %v, log lines %d", res, v, countMsg(logs2, msg))
		}
	}
	if v := metricValue(t, m2, `apptbridge_ehr_requests_total{result="acked"}`); v != 6 {
		t.Errorf("acked = %v, want 6 (5 + the retried dead letter)", v)
	}
	if v := metricValue(t, m2, `apptbridge_ehr_requests_total{result="dead"}`); v != 1 {
		t.Errorf("dead = %v, want 1", v)
	}
	injected := countNonAA(arr) - 1 // the AE is counted as dead
	if v := metricValue(t, m2, `apptbridge_ehr_requests_total{result="retry"}`); int(v) < injected+1 {
		t.Errorf("retry = %v, want ≥ %d (AR/reset/timeout answers) + the refused dials", v, injected)
	}

	// ---- Backoff while down: each request waits 1 s…cap between
	// attempts; and how often the worker dialed the dead address. ----
	logs1 := attemptLogs(t, l1.logs.String())
	downLogs := append(append([]attemptLog(nil), logs1...), logs2...)
	perReq := map[string][]attemptLog{}
	var refused []float64
	for _, a := range downLogs {
		perReq[a.RequestID] = append(perReq[a.RequestID], a)
		if a.Msg == logRetry {
			if a.RetryIn < 1 || a.RetryIn > testMaxBackoff.Seconds() {
				t.Errorf("request %s attempt %d: retry_in %.3fs outside [1s, %v]", a.RequestID, a.Attempts, a.RetryIn, testMaxBackoff)
			}
			if a.TS < float64(upAt.UnixNano())/1e9 && refusedRE.MatchString(a.Error) {
				refused = append(refused, a.TS)
			}
		}
	}
	for id, ls := range perReq {
		for i := 1; i < len(ls); i++ {
			if gap := ls[i].TS - ls[i-1].TS; gap < 0.95 && ls[i].Attempts > ls[i-1].Attempts && ls[i-1].Msg == logRetry {
				t.Errorf("request %s: attempts %d and %d only %.3fs apart", id, ls[i-1].Attempts, ls[i].Attempts, gap)
			}
		}
	}
	if len(refused) == 0 {
		t.Fatal("no refused dial logged while the EHR was down")
	}
	sort.Float64s(refused)
	burst := 0
	for i := range refused {
		j := i
		for j < len(refused) && refused[j]-refused[i] < 1 {
			j++
		}
		burst = max(burst, j-i)
	}
	t.Logf("EHR down: %d refused dials; at most %d within 1 s (RELIABILITY T09 asks ≤ 1 connect/s)", len(refused), burst)
}

// waitDown waits, while the EHR is down, until l has n requests, none in
// flight, each pending with at least least(r) attempts (blocked ones: none),
// and returns them.
func waitDown(t *testing.T, l *loop, n int, least func(reqView) int, blocked func(reqView) bool) []reqView {
	t.Helper()
	var rs []reqView
	// Generous: it returns as soon as the condition holds (about 3 s),
	// and a CI machine running -race packages side by side once needed
	// more than 10 s.
	waitFor(t, 30*time.Second, fmt.Sprintf("%d requests attempted while the EHR is down", n), func() bool {
		rs = l.requests(t, "")
		if len(rs) != n {
			return false
		}
		for _, r := range rs {
			switch {
			case r.Status != store.RequestPending && r.Status != store.RequestSending:
				t.Fatalf("EHR down: request %s %s is %s (%s)", r.AppointmentID, r.Type, r.Status, r.LastError)
			case r.Status == store.RequestSending:
				return false // an attempt in flight: look again
			case blocked(r):
				if r.Attempts != 0 {
					t.Fatalf("%s's cancel was tried (%d attempts) before its confirm was acked", r.AppointmentID, r.Attempts)
				}
			case r.Attempts < least(r):
				return false
			}
		}
		return true
	})
	return rs
}

func countNonAA(arr []ehrArrival) int {
	n := 0
	for _, a := range arr {
		if a.answer != "AA" {
			n++
		}
	}
	return n
}
