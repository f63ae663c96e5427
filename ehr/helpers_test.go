package ehr

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/mllp"
	"github.com/apptbridge/apptbridge/store"
)

// sampleAppointment is a synthetic appointment (no real person).
func sampleAppointment() *apptbridge.Appointment {
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		panic(err)
	}
	a := &apptbridge.Appointment{Disposition: apptbridge.DispReminded1}
	a.EventID = "0190c5a2-0000-7000-8000-000000000001"
	a.EventType = apptbridge.Booked
	a.AppointmentID = "A1001"
	a.AppointmentPlacerID = "A1001"
	a.AppointmentFillerID = "F2002"
	a.PatientID = "MRN123"
	a.PatientFirstName = "Jane"
	a.PatientLastName = "Doe"
	a.PatientPhone = "+13125550199"
	a.PatientLanguage = "en"
	a.ProviderID = "P77"
	a.ProviderFirstName = "Gregory"
	a.ProviderLastName = "House"
	a.AppointmentLocation = "North Clinic"
	a.AppointmentLocationCode = "NC1"
	a.SetAppointmentTime(time.Date(2026, 12, 1, 15, 0, 0, 0, loc), loc)
	a.AppointmentDurationMinutes = 30
	a.Source = &apptbridge.Source{Channel: apptbridge.ChannelMLLP, MessageControlID: "MSG1",
		MessageType: "SIU^S12", SendingApplication: "EPIC", SendingFacility: "NORTH"}
	return a
}

// fakeQueue is an in-memory Queue with the store's semantics: requests of
// one appointment go in Seq order (one not final blocks the later ones), a
// claim leases a request and makes it not due until the lease ends, a save
// by an owner that no longer holds the lease fails with ErrLeaseLost.
type fakeQueue struct {
	mu    sync.Mutex
	reqs  []*store.Request // in Seq order
	saves []store.Request  // every successful save, in order
	// saveHook, if set, may fail a save (called with the lock held).
	saveHook func(r *store.Request) error
	seq      int64
}

func (q *fakeQueue) add(r *store.Request) *store.Request {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	r.Seq = q.seq
	if r.Status == "" {
		r.Status = store.RequestPending
	}
	q.reqs = append(q.reqs, r)
	return r
}

func (q *fakeQueue) ClaimRequest(ctx context.Context, owner string, now time.Time, lease time.Duration) (*store.Request, error) {
	if owner == "" || lease <= 0 {
		return nil, errors.New("fake: owner and lease required")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	blocked := map[string]bool{}
	var best *store.Request
	for _, r := range q.reqs {
		if r.Final() || blocked[r.AppointmentID] {
			continue
		}
		blocked[r.AppointmentID] = true
		if r.NextAttemptAt.After(now) {
			continue
		}
		if best == nil || r.NextAttemptAt.Before(best.NextAttemptAt) {
			best = r
		}
	}
	if best == nil {
		return nil, nil
	}
	until := now.Add(lease)
	best.LeaseOwner, best.LeaseUntil, best.NextAttemptAt = owner, until, until
	c := *best
	return &c, nil
}

func (q *fakeQueue) SaveRequest(ctx context.Context, owner string, r *store.Request) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.saveHook != nil {
		if err := q.saveHook(r); err != nil {
			return err
		}
	}
	for _, s := range q.reqs {
		if s.ID != r.ID {
			continue
		}
		if s.LeaseOwner != owner {
			return store.ErrLeaseLost
		}
		s.Status, s.Attempts, s.NextAttemptAt = r.Status, r.Attempts, r.NextAttemptAt
		s.LeaseOwner, s.LeaseUntil = r.LeaseOwner, r.LeaseUntil
		s.Message, s.Ack, s.AckCode, s.LastError = r.Message, r.Ack, r.AckCode, r.LastError
		s.ControlID = r.ControlID
		q.saves = append(q.saves, *s)
		return nil
	}
	return errors.New("fake: no such request")
}

func (q *fakeQueue) NextRequestDue(ctx context.Context) (time.Time, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var due time.Time
	for _, r := range q.reqs {
		if !r.Final() && (due.IsZero() || r.NextAttemptAt.Before(due)) {
			due = r.NextAttemptAt
		}
	}
	return due, nil
}

// get returns a copy of the request with that id.
func (q *fakeQueue) get(id string) store.Request {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range q.reqs {
		if r.ID == id {
			return *r
		}
	}
	return store.Request{}
}

// savesOf returns the saved states of one request, in order.
func (q *fakeQueue) savesOf(id string) []store.Request {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []store.Request
	for _, s := range q.saves {
		if s.ID == id {
			out = append(out, s)
		}
	}
	return out
}

// newRequest makes a pending request for an appointment (its snapshot is
// sampleAppointment with that id).
func newRequest(t testing.TB, id, apptID string, typ apptbridge.EventType) *store.Request {
	t.Helper()
	a := sampleAppointment()
	a.AppointmentID, a.AppointmentPlacerID = apptID, apptID
	snap, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return &store.Request{ID: id, AppointmentID: apptID, EventID: "ev-" + id, Type: typ,
		Snapshot: snap, ControlID: "AB" + id, Status: store.RequestPending}
}

// reply is how the fake EHR answers one message.
type reply struct {
	code    string        // MSA-1; "" sends nothing and closes the connection
	delay   time.Duration // wait before answering (longer than AckTimeout: no answer in time)
	wrongID bool          // MSA-2 names another control id
	errCode int           // ERR-3 code for AE/AR
	text    string        // MSA-3 and ERR-8 text
}

// fakeEHR is an MLLP listener on loopback playing the EHR.
type fakeEHR struct {
	addr   string
	srv    *mllp.Server
	mu     sync.Mutex
	msgs   [][]byte
	conns  int
	answer func(i int, m *hl7.Message) reply
	onMsg  func(m *hl7.Message) // called before answering, if set
}

// startEHR listens on addr ("" for a free port) and answers with answer
// (nil: always AA). The server is closed when the test ends.
func startEHR(t *testing.T, addr string, answer func(i int, m *hl7.Message) reply) *fakeEHR {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	e := &fakeEHR{addr: ln.Addr().String(), answer: answer}
	e.srv = &mllp.Server{
		Handler: mllp.HandlerFunc(e.serve),
		ConnState: func(_ net.Conn, s mllp.ConnState) {
			if s == mllp.StateNew {
				e.mu.Lock()
				e.conns++
				e.mu.Unlock()
			}
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		e.srv.Close()
		<-done
	})
	return e
}

func (e *fakeEHR) serve(ctx context.Context, raw []byte) ([]byte, error) {
	m, err := hl7.Parse(raw)
	if err != nil {
		return nil, err
	}
	if e.onMsg != nil {
		e.onMsg(m)
	}
	e.mu.Lock()
	i := len(e.msgs)
	e.msgs = append(e.msgs, raw)
	e.mu.Unlock()
	r := reply{code: "AA"}
	if e.answer != nil {
		r = e.answer(i, m)
	}
	if r.delay > 0 {
		select {
		case <-time.After(r.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if r.code == "" {
		return nil, errors.New("fake EHR: no answer")
	}
	o := hl7.AckOptions{Code: hl7.AckCode(r.code), ControlID: "EHRACK" + m.ControlID(),
		Now: time.Date(2026, 11, 27, 14, 3, 1, 0, time.UTC), Text: r.text}
	if r.errCode != 0 {
		o.Errors = []hl7.AckError{{Code: r.errCode, Text: r.text}}
	}
	ack := hl7.BuildAck(m, o)
	if r.wrongID {
		other, _ := hl7.Parse([]byte("MSH|^~\\&|APPTBRIDGE||EPIC||20261127||SIU^S14|OTHER123|P|2.5.1\r"))
		ack = hl7.BuildAck(other, o)
	}
	return ack, nil
}

// received returns the control ids of the messages received, in order.
func (e *fakeEHR) received() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ids []string
	for _, raw := range e.msgs {
		m, _ := hl7.Parse(raw)
		ids = append(ids, m.ControlID())
	}
	return ids
}

func (e *fakeEHR) messages() [][]byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([][]byte(nil), e.msgs...)
}

func (e *fakeEHR) connections() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.conns
}

// runWorker runs w until the test ends.
func runWorker(t *testing.T, w *Worker) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// waitFor polls cond until it holds; it fails the test after 10 s (a hang,
// not a speed assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fastWorker is a Worker with test-sized backoff and poll interval.
func fastWorker(q Queue, ch Channel) *Worker {
	return &Worker{Queue: q, Channel: ch, Owner: "test-worker", MinBackoff: 5 * time.Millisecond,
		MaxBackoff: 20 * time.Millisecond, Poll: 20 * time.Millisecond}
}

// fastSender is an MLLPSender to addr with test-sized timeouts.
func fastSender(t *testing.T, addr string) *MLLPSender {
	s := &MLLPSender{Addr: addr, DialTimeout: time.Second, AckTimeout: 2 * time.Second,
		Options: BuildOptions{SendingFacility: "CLINIC1"}}
	t.Cleanup(func() { s.Close() })
	return s
}
