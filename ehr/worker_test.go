package ehr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/store"
)

func TestWorkerAcked(t *testing.T) {
	q := &fakeQueue{}
	r := q.add(newRequest(t, "R1", "A1", apptbridge.Confirm))
	e := startEHR(t, "", nil)
	var inFlight []store.Request
	e.onMsg = func(m *hl7.Message) { inFlight = append(inFlight, q.get("R1")) }
	reg := prometheus.NewPedanticRegistry()
	w := fastWorker(q, fastSender(t, e.addr))
	w.Metrics = NewMetrics(reg)
	runWorker(t, w)
	waitFor(t, "acked", func() bool { return q.get(r.ID).Status == store.RequestAcked })

	got := q.get(r.ID)
	if got.Attempts != 1 || got.AckCode != "AA" || len(got.Ack) == 0 || got.LastError != "" {
		t.Errorf("request = attempts %d, ack code %q, ack %d bytes, last error %q", got.Attempts, got.AckCode, len(got.Ack), got.LastError)
	}
	if got.LeaseOwner != "" {
		t.Errorf("lease not released: %q", got.LeaseOwner)
	}
	msgs := e.messages()
	if len(msgs) != 1 {
		t.Fatalf("EHR got %d messages, want 1", len(msgs))
	}
	if !bytes.Equal(msgs[0], got.Message) {
		t.Error("the stored message is not what was sent")
	}
	if ids := e.received(); ids[0] != "ABR1" {
		t.Errorf("MSH-10 = %q, want the request's control id", ids[0])
	}
	// Recorded as in flight before the EHR saw it.
	if len(inFlight) != 1 || inFlight[0].Status != store.RequestSending || inFlight[0].Attempts != 1 || len(inFlight[0].Message) == 0 {
		t.Errorf("state while the EHR had the message: %+v", inFlight)
	}
	var statuses []string
	for _, s := range q.savesOf(r.ID) {
		statuses = append(statuses, s.Status)
	}
	if !slices.Equal(statuses, []string{store.RequestSending, store.RequestAcked}) {
		t.Errorf("saved statuses %v", statuses)
	}
	if v := counter(t, reg, "apptbridge_ehr_requests_total", "result", "acked"); v != 1 {
		t.Errorf("acked counter = %v", v)
	}
}

// TestWorkerEHRDownThenUp: nothing listens, the worker retries with
// backoff; once the EHR is up every request is delivered, each
// appointment's requests in order.
func TestWorkerEHRDownThenUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	q := &fakeQueue{}
	q.add(newRequest(t, "A-1", "A", apptbridge.Confirm))
	q.add(newRequest(t, "B-1", "B", apptbridge.Cancel))
	q.add(newRequest(t, "A-2", "A", apptbridge.Cancel))
	q.add(newRequest(t, "A-3", "A", apptbridge.Confirm))
	w := fastWorker(q, fastSender(t, addr))
	runWorker(t, w)

	waitFor(t, "retries while down", func() bool { return q.get("A-1").Attempts >= 3 && q.get("B-1").Attempts >= 3 })
	if n := q.get("A-2").Attempts; n != 0 {
		t.Fatalf("A-2 attempted %d times while A-1 was not delivered", n)
	}
	// The worker keeps retrying: A-1 may be between attempts (pending) or
	// in the next one (sending) when we look.
	down := q.get("A-1")
	if (down.Status != store.RequestPending && down.Status != store.RequestSending) || down.AckCode != "" ||
		!strings.Contains(down.LastError, "dial") {
		t.Errorf("while down: status %s, ack code %q, last error %q", down.Status, down.AckCode, down.LastError)
	}

	e := startEHR(t, addr, nil)
	waitFor(t, "all acked", func() bool {
		for _, id := range []string{"A-1", "A-2", "A-3", "B-1"} {
			if q.get(id).Status != store.RequestAcked {
				return false
			}
		}
		return true
	})
	var a []string
	for _, id := range e.received() {
		if strings.HasPrefix(id, "ABA-") {
			a = append(a, id)
		}
	}
	if !slices.Equal(a, []string{"ABA-1", "ABA-2", "ABA-3"}) {
		t.Errorf("appointment A's requests reached the EHR as %v", a)
	}
}

func TestWorkerARThenAA(t *testing.T) {
	q := &fakeQueue{}
	q.add(newRequest(t, "R1", "A1", apptbridge.Cancel))
	e := startEHR(t, "", func(i int, m *hl7.Message) reply {
		if i < 2 {
			return reply{code: "AR", errCode: 207, text: "busy"}
		}
		return reply{code: "AA"}
	})
	runWorker(t, fastWorker(q, fastSender(t, e.addr)))
	waitFor(t, "acked", func() bool { return q.get("R1").Status == store.RequestAcked })

	if got := q.get("R1"); got.Attempts != 3 || got.AckCode != "AA" || got.LastError != "" {
		t.Errorf("attempts %d, ack code %q, last error %q", got.Attempts, got.AckCode, got.LastError)
	}
	msgs := e.messages()
	if len(msgs) != 3 || !bytes.Equal(msgs[0], msgs[1]) || !bytes.Equal(msgs[1], msgs[2]) {
		t.Fatalf("EHR got %d messages; every attempt must resend the same bytes", len(msgs))
	}
	var errs []string
	for _, s := range q.savesOf("R1") {
		if s.Status == store.RequestPending {
			errs = append(errs, s.LastError)
		}
	}
	if len(errs) != 2 || !strings.HasSuffix(errs[0], "(rejection 1 of 5)") || !strings.HasSuffix(errs[1], "(rejection 2 of 5)") {
		t.Errorf("retry errors %q", errs)
	}
}

func TestWorkerARExhausted(t *testing.T) {
	q := &fakeQueue{}
	q.add(newRequest(t, "R1", "A1", apptbridge.Confirm))
	e := startEHR(t, "", func(i int, m *hl7.Message) reply { return reply{code: "AR"} })
	reg := prometheus.NewPedanticRegistry()
	w := fastWorker(q, fastSender(t, e.addr))
	w.Metrics = NewMetrics(reg)
	runWorker(t, w)
	waitFor(t, "dead", func() bool { return q.get("R1").Status == store.RequestDead })

	got := q.get("R1")
	if got.Attempts != 5 || got.AckCode != "AR" || !strings.HasSuffix(got.LastError, "(rejection 5 of 5)") {
		t.Errorf("attempts %d, ack code %q, last error %q", got.Attempts, got.AckCode, got.LastError)
	}
	if n := len(e.messages()); n != 5 {
		t.Errorf("EHR got %d messages, want 5", n)
	}
	if v := counter(t, reg, "apptbridge_ehr_dead_letters_total", "reason", DeadRetriesExhausted); v != 1 {
		t.Errorf("dead letters (retries exhausted) = %v", v)
	}
	if v := counter(t, reg, "apptbridge_ehr_requests_total", "result", "retry"); v != 4 {
		t.Errorf("retry counter = %v, want 4", v)
	}
}

func TestWorkerAEDead(t *testing.T) {
	q := &fakeQueue{}
	q.add(newRequest(t, "R1", "A1", apptbridge.Confirm))
	q.add(newRequest(t, "R2", "A1", apptbridge.Cancel))
	e := startEHR(t, "", func(i int, m *hl7.Message) reply {
		if m.ControlID() == "ABR1" {
			return reply{code: "AE", errCode: 204, text: "unknown appointment"}
		}
		return reply{code: "AA"}
	})
	reg := prometheus.NewPedanticRegistry()
	w := fastWorker(q, fastSender(t, e.addr))
	w.Metrics = NewMetrics(reg)
	runWorker(t, w)
	// A dead letter does not block the appointment's later requests.
	waitFor(t, "R2 acked", func() bool { return q.get("R2").Status == store.RequestAcked })

	got := q.get("R1")
	if got.Status != store.RequestDead || got.Attempts != 1 || got.AckCode != "AE" || !strings.Contains(got.LastError, "HL7 error 204") {
		t.Errorf("status %s, attempts %d, ack code %q, last error %q", got.Status, got.Attempts, got.AckCode, got.LastError)
	}
	if ids := e.received(); !slices.Equal(ids, []string{"ABR1", "ABR2"}) {
		t.Errorf("EHR got %v; an AE must not be resent", ids)
	}
	if v := counter(t, reg, "apptbridge_ehr_dead_letters_total", "reason", DeadRejected); v != 1 {
		t.Errorf("dead letters (rejected) = %v", v)
	}
}

// TestWorkerAckTimeout: no answer within AckTimeout → retry; the EHR sees
// the same control id (and bytes) again.
func TestWorkerAckTimeout(t *testing.T) {
	q := &fakeQueue{}
	q.add(newRequest(t, "R1", "A1", apptbridge.Confirm))
	e := startEHR(t, "", func(i int, m *hl7.Message) reply {
		if i == 0 {
			return reply{code: "AA", delay: time.Second} // too late
		}
		return reply{code: "AA"}
	})
	s := fastSender(t, e.addr)
	s.AckTimeout = 100 * time.Millisecond
	runWorker(t, fastWorker(q, s))
	waitFor(t, "acked", func() bool { return q.get("R1").Status == store.RequestAcked })

	if ids := e.received(); !slices.Equal(ids, []string{"ABR1", "ABR1"}) {
		t.Errorf("EHR got %v, want the same control id twice", ids)
	}
	if msgs := e.messages(); !bytes.Equal(msgs[0], msgs[1]) {
		t.Error("the resend differs from the first attempt")
	}
	saves := q.savesOf("R1")
	if len(saves) != 4 || saves[1].Status != store.RequestPending || !strings.Contains(saves[1].LastError, "timeout") {
		t.Errorf("saves %d; after the timeout: %+v", len(saves), saves[1])
	}
	if got := q.get("R1"); got.Attempts != 2 {
		t.Errorf("attempts %d, want 2", got.Attempts)
	}
}

func TestWorkerConnectionReuse(t *testing.T) {
	q := &fakeQueue{}
	for i := range 10 {
		q.add(newRequest(t, fmt.Sprint("R", i), fmt.Sprint("A", i%3), apptbridge.Confirm))
	}
	e := startEHR(t, "", nil)
	runWorker(t, fastWorker(q, fastSender(t, e.addr)))
	waitFor(t, "all acked", func() bool {
		for i := range 10 {
			if q.get(fmt.Sprint("R", i)).Status != store.RequestAcked {
				return false
			}
		}
		return true
	})
	if n := len(e.messages()); n != 10 {
		t.Errorf("EHR got %d messages, want 10", n)
	}
	if n := e.connections(); n != 1 {
		t.Errorf("%d TCP connections for 10 messages, want 1", n)
	}
}

func TestWorkerMSA2Mismatch(t *testing.T) {
	q := &fakeQueue{}
	q.add(newRequest(t, "R1", "A1", apptbridge.Confirm))
	e := startEHR(t, "", func(i int, m *hl7.Message) reply { return reply{code: "AA", wrongID: i == 0} })
	runWorker(t, fastWorker(q, fastSender(t, e.addr)))
	waitFor(t, "acked", func() bool { return q.get("R1").Status == store.RequestAcked })
	if got := q.get("R1"); got.Attempts != 2 {
		t.Errorf("attempts %d, want 2", got.Attempts)
	}
	if n := e.connections(); n != 2 {
		t.Errorf("%d connections, want 2 (a mismatched ACK closes the connection)", n)
	}
	if s := q.savesOf("R1"); !strings.Contains(s[1].LastError, "MSA-2") {
		t.Errorf("last error after the mismatch: %q", s[1].LastError)
	}
}

// scriptChannel is a Channel returning scripted results.
type scriptChannel struct {
	mu      sync.Mutex
	results []Result
	sent    []string // control ids
	encErr  error
}

func (c *scriptChannel) Encode(typ apptbridge.EventType, a *apptbridge.Appointment, controlID string, now time.Time) ([]byte, error) {
	if c.encErr != nil {
		return nil, c.encErr
	}
	return Build(typ, a, controlID, BuildOptions{Now: now})
}

func (c *scriptChannel) Deliver(ctx context.Context, controlID string, msg []byte) Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, controlID)
	if len(c.results) == 0 {
		return Result{Outcome: Acked, AckCode: "AA"}
	}
	r := c.results[0]
	c.results = c.results[1:]
	return r
}

var (
	resAR      = Result{Outcome: Retry, AckCode: "AR", Rejected: true, Err: errors.New("ehr: EHR answered AR")}
	resTimeout = Result{Outcome: Retry, Err: errors.New("ehr: send: mllp: ack timeout")}
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// stepWorker is a Worker driven by step() on a fake clock, with jitter
// fixed at the middle (×1.0).
func stepWorker(q Queue, ch Channel, clock *fakeClock) *Worker {
	w := &Worker{Queue: q, Channel: ch, Owner: "w", Now: clock.Now, jitter: func() float64 { return 0.5 }}
	w.init()
	return w
}

// TestWorkerBackoffSchedule: on a fake clock, each retry is due 1 s, 2 s,
// 4 s … later, capped at 60 s; nothing is claimed before it is due.
func TestWorkerBackoffSchedule(t *testing.T) {
	q := &fakeQueue{}
	q.add(newRequest(t, "R1", "A1", apptbridge.Confirm))
	ch := &scriptChannel{}
	for range 9 {
		ch.results = append(ch.results, resTimeout)
	}
	clock := &fakeClock{now: buildNow}
	w := stepWorker(q, ch, clock)
	ctx := context.Background()
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i, d := range want {
		if ok, err := w.step(ctx); !ok || err != nil {
			t.Fatalf("attempt %d: step = %v, %v", i+1, ok, err)
		}
		got := q.get("R1")
		if got.Status != store.RequestPending || !got.NextAttemptAt.Equal(clock.Now().Add(d*time.Second)) {
			t.Fatalf("attempt %d: status %s, next in %v, want %v", i+1, got.Status, got.NextAttemptAt.Sub(clock.Now()), d*time.Second)
		}
		clock.set(got.NextAttemptAt.Add(-time.Millisecond))
		if ok, _ := w.step(ctx); ok {
			t.Fatalf("attempt %d: claimed before it was due", i+1)
		}
		clock.set(got.NextAttemptAt)
	}
	if ok, _ := w.step(ctx); !ok || q.get("R1").Status != store.RequestAcked || q.get("R1").Attempts != 10 {
		t.Fatalf("final attempt: %+v", q.get("R1"))
	}
	// While down for a long time, timeouts never make a request dead.
}

func TestBackoff(t *testing.T) {
	lo, hi := time.Second, time.Minute
	for n := 1; n <= 40; n++ {
		for _, u := range []float64{0, 0.25, 0.5, 0.999} {
			d := backoff(n, lo, hi, u)
			if d < lo || d > hi {
				t.Fatalf("backoff(%d, u=%v) = %v outside [1s, 60s]", n, u, d)
			}
		}
	}
	cases := []struct {
		n    int
		u    float64
		want time.Duration
	}{
		{1, 0.5, time.Second}, {1, 0, time.Second}, {1, 0.999, 1199600 * time.Microsecond},
		{2, 0, 1600 * time.Millisecond}, {3, 1 - 1e-9, 4800 * time.Millisecond}, {6, 0.5, 32 * time.Second},
		{7, 0, 48 * time.Second}, {7, 0.999, time.Minute}, {1000, 0.5, time.Minute},
	}
	for _, c := range cases {
		if got := backoff(c.n, lo, hi, c.u); (got - c.want).Abs() > time.Millisecond {
			t.Errorf("backoff(%d, u=%v) = %v, want %v", c.n, c.u, got, c.want)
		}
	}
}

// TestWorkerRejectionsInARow: only AR answers in a row count; a timeout in
// between starts the count again.
func TestWorkerRejectionsInARow(t *testing.T) {
	q := &fakeQueue{}
	q.add(newRequest(t, "R1", "A1", apptbridge.Confirm))
	ch := &scriptChannel{results: []Result{resAR, resAR, resAR, resAR, resTimeout, resAR, resAR, resAR, resAR}}
	clock := &fakeClock{now: buildNow}
	w := stepWorker(q, ch, clock)
	for i := range 10 {
		clock.set(clock.Now().Add(time.Hour))
		if ok, err := w.step(context.Background()); !ok || err != nil {
			t.Fatalf("step %d: %v %v (%+v)", i, ok, err, q.get("R1"))
		}
	}
	if got := q.get("R1"); got.Status != store.RequestAcked || got.Attempts != 10 {
		t.Errorf("status %s after %d attempts, want acked after 10", got.Status, got.Attempts)
	}

	// An operator's retry of a request dead after 5 ARs (LastError kept
	// by a store that does not clear it) gets a full budget again.
	if n := rejections("ehr: EHR answered AR to X (rejection 5 of 5)", 5); n != 0 {
		t.Errorf("rejections at the limit = %d, want 0", n)
	}
	if n := rejections("ehr: EHR answered AR to X (rejection 3 of 5)", 5); n != 3 {
		t.Errorf("rejections = %d, want 3", n)
	}
}

func TestWorkerLeaseLost(t *testing.T) {
	q := &fakeQueue{}
	q.add(newRequest(t, "R1", "A1", apptbridge.Confirm))
	ch := &scriptChannel{}
	clock := &fakeClock{now: buildNow}
	core, logs := observer.New(zap.DebugLevel)
	w := stepWorker(q, ch, clock)
	w.log = zap.New(core)
	// Another worker took the request between our claim and our save.
	q.saveHook = func(r *store.Request) error { return store.ErrLeaseLost }
	if ok, err := w.step(context.Background()); !ok || err != nil {
		t.Fatalf("step = %v, %v", ok, err)
	}
	if len(ch.sent) != 0 {
		t.Error("sent although the lease was lost before sending")
	}
	if logs.FilterMessageSnippet("lease lost").Len() != 1 {
		t.Errorf("want one lease-lost log line, got %v", logs.All())
	}

	// Lost after sending: logged, and the worker moves on.
	q.saveHook = nil
	clock.set(clock.Now().Add(time.Hour))
	saves := 0
	q.saveHook = func(r *store.Request) error {
		saves++
		if saves == 2 {
			return store.ErrLeaseLost
		}
		return nil
	}
	if ok, err := w.step(context.Background()); !ok || err != nil {
		t.Fatalf("step = %v, %v", ok, err)
	}
	if len(ch.sent) != 1 || logs.FilterMessageSnippet("lease lost").Len() != 2 {
		t.Errorf("sent %d, logs %v", len(ch.sent), logs.All())
	}
}

func TestWorkerUnsendable(t *testing.T) {
	q := &fakeQueue{}
	bad := newRequest(t, "R1", "A1", apptbridge.Confirm)
	bad.Snapshot = []byte(`{"patient_first_name":"Jane", broken`)
	q.add(bad)
	wrongType := newRequest(t, "R2", "A2", apptbridge.OptedOut)
	q.add(wrongType)
	ch := &scriptChannel{}
	reg := prometheus.NewPedanticRegistry()
	w := stepWorker(q, ch, &fakeClock{now: buildNow})
	w.Metrics = NewMetrics(reg)
	for range 2 {
		if ok, err := w.step(context.Background()); !ok || err != nil {
			t.Fatalf("step = %v, %v", ok, err)
		}
	}
	for _, id := range []string{"R1", "R2"} {
		got := q.get(id)
		if got.Status != store.RequestDead || got.LastError == "" || got.Attempts != 0 {
			t.Errorf("%s: status %s, attempts %d, last error %q", id, got.Status, got.Attempts, got.LastError)
		}
		if strings.Contains(got.LastError, "Jane") {
			t.Errorf("%s: last error quotes the snapshot: %q", id, got.LastError)
		}
	}
	if len(ch.sent) != 0 {
		t.Error("an unencodable request was sent")
	}
	if v := counter(t, reg, "apptbridge_ehr_dead_letters_total", "reason", DeadUnsendable); v != 2 {
		t.Errorf("dead letters (unsendable) = %v", v)
	}
}

// TestWorkerControlIDFallback: a request without a control id uses its id.
func TestWorkerControlIDFallback(t *testing.T) {
	q := &fakeQueue{}
	r := newRequest(t, "R1", "A1", apptbridge.Confirm)
	r.ControlID = ""
	q.add(r)
	ch := &scriptChannel{}
	w := stepWorker(q, ch, &fakeClock{now: buildNow})
	w.step(context.Background())
	if got := q.get("R1"); got.ControlID != "R1" || !slices.Equal(ch.sent, []string{"R1"}) {
		t.Errorf("control id %q, sent %v", got.ControlID, ch.sent)
	}
}

// TestWorkerKick: with a long poll interval, only Kick wakes the worker
// for a request added while it sleeps. Kick never blocks.
func TestWorkerKick(t *testing.T) {
	q := &fakeQueue{}
	ch := &scriptChannel{}
	w := &Worker{Queue: q, Channel: ch, Poll: time.Hour}
	for range 100 {
		w.Kick() // before Run, many times: must not block
	}
	runWorker(t, w)
	time.Sleep(20 * time.Millisecond) // let it go idle (correctness does not depend on it)
	q.add(newRequest(t, "R1", "A1", apptbridge.Confirm))
	w.Kick()
	waitFor(t, "acked after Kick", func() bool { return q.get("R1").Status == store.RequestAcked })
}

// TestWorkerWakesWhenDue: the idle sleep ends when the next request is
// due, not after Poll.
func TestWorkerWakesWhenDue(t *testing.T) {
	q := &fakeQueue{}
	r := newRequest(t, "R1", "A1", apptbridge.Confirm)
	r.NextAttemptAt = time.Now().Add(50 * time.Millisecond)
	q.add(r)
	w := &Worker{Queue: q, Channel: &scriptChannel{}, Poll: time.Hour}
	runWorker(t, w)
	waitFor(t, "acked when due", func() bool { return q.get("R1").Status == store.RequestAcked })
}

func TestWorkerRunErrors(t *testing.T) {
	if err := (&Worker{}).Run(context.Background()); err == nil {
		t.Error("Run without Queue and Channel must fail")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (&Worker{Queue: &fakeQueue{}, Channel: &scriptChannel{}}).Run(ctx); err != nil {
		t.Errorf("Run after ctx ended = %v, want nil", err)
	}
}

// failingQueue fails claims a few times, then works.
type failingQueue struct {
	*fakeQueue
	mu    sync.Mutex
	fails int
}

func (q *failingQueue) ClaimRequest(ctx context.Context, owner string, now time.Time, lease time.Duration) (*store.Request, error) {
	q.mu.Lock()
	if q.fails > 0 {
		q.fails--
		q.mu.Unlock()
		return nil, errors.New("store: database is locked")
	}
	q.mu.Unlock()
	return q.fakeQueue.ClaimRequest(ctx, owner, now, lease)
}

func TestWorkerQueueErrors(t *testing.T) {
	fq := &fakeQueue{}
	fq.add(newRequest(t, "R1", "A1", apptbridge.Confirm))
	q := &failingQueue{fakeQueue: fq, fails: 3}
	core, logs := observer.New(zap.DebugLevel)
	w := &Worker{Queue: q, Channel: &scriptChannel{}, Poll: 5 * time.Millisecond, Logger: zap.New(core)}
	runWorker(t, w)
	waitFor(t, "acked after queue errors", func() bool { return fq.get("R1").Status == store.RequestAcked })
	if n := logs.FilterMessageSnippet("claiming an EHR request failed").Len(); n != 1 {
		t.Errorf("identical queue errors logged %d times, want once", n)
	}
}

// TestWorkerNoPHI runs deliveries that fail in every way with canary
// patient data in the appointment and in the EHR's answers, and scans the
// logs, the stored errors and the metrics for them.
func TestWorkerNoPHI(t *testing.T) {
	canaries := []string{"Zebulon", "Quixotefamily", "MRN-CANARY-77", "5550142", "CANARYPROV"}
	q := &fakeQueue{}
	for i, typ := range []apptbridge.EventType{apptbridge.Confirm, apptbridge.Cancel, apptbridge.Confirm, apptbridge.Cancel} {
		r := newRequest(t, fmt.Sprint("R", i), fmt.Sprint("A", i), typ)
		a := sampleAppointment()
		a.AppointmentID = fmt.Sprint("A", i)
		a.PatientFirstName, a.PatientLastName, a.PatientID = "Zebulon", "Quixotefamily", "MRN-CANARY-77"
		a.PatientPhone, a.ProviderLastName = "+13125550142", "CANARYPROV"
		r.Snapshot, _ = json.Marshal(a)
		q.add(r)
	}
	text := "patient Zebulon Quixotefamily MRN-CANARY-77 +13125550142"
	var mu sync.Mutex
	seen := map[string]int{}
	e := startEHR(t, "", func(_ int, m *hl7.Message) reply {
		mu.Lock()
		n := seen[m.ControlID()]
		seen[m.ControlID()]++
		mu.Unlock()
		switch m.ControlID() {
		case "ABR0":
			return reply{code: "AE", errCode: 204, text: text}
		case "ABR1":
			if n < 2 {
				return reply{code: "AR", errCode: 207, text: text}
			}
		case "ABR2":
			if n < 2 {
				return reply{code: text} // an MSA-1 made of patient data
			}
		case "ABR3":
			if n < 1 {
				return reply{code: "AA", delay: time.Second} // timeout
			}
		}
		return reply{code: "AA", text: text}
	})
	core, logs := observer.New(zap.DebugLevel)
	reg := prometheus.NewPedanticRegistry()
	sender := fastSender(t, e.addr)
	sender.AckTimeout = 200 * time.Millisecond
	w := fastWorker(q, sender)
	w.Logger = zap.New(core)
	w.Metrics = NewMetrics(reg)
	runWorker(t, w)
	waitFor(t, "all final", func() bool {
		for i := range 4 {
			if r := q.get(fmt.Sprint("R", i)); !r.Final() {
				return false
			}
		}
		return true
	})

	var dump strings.Builder
	for _, l := range logs.All() {
		fmt.Fprintf(&dump, "%s %v\n", l.Message, l.ContextMap())
	}
	for i := range 4 {
		for _, s := range q.savesOf(fmt.Sprint("R", i)) {
			fmt.Fprintf(&dump, "%s %s %s\n", s.LastError, s.AckCode, s.Status)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				fmt.Fprintf(&dump, "%s=%s\n", l.GetName(), l.GetValue())
			}
		}
	}
	if logs.Len() < 4 {
		t.Fatalf("only %d log lines", logs.Len())
	}
	for _, c := range canaries {
		if strings.Contains(dump.String(), c) {
			t.Errorf("canary %q leaked:\n%s", c, dump.String())
		}
	}
}

// counter reads one labelled counter from reg.
func counter(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, value)
	return 0
}
