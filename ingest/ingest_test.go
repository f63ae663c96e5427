package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/ingest"
	"github.com/apptbridge/apptbridge/mapping"
	"github.com/apptbridge/apptbridge/mllp"
	"github.com/apptbridge/apptbridge/store"
)

var now = time.Date(2026, 11, 27, 14, 3, 0, 0, time.UTC)

func msg(cid, trigger string, extraMSH string) []byte {
	return []byte("MSH|^~\\&|EHR|HOSP|APPTBRIDGE|CLINIC|20261127090000||SIU^" + trigger + "|" + cid + "|P|2.5.1" + extraMSH + "\r" +
		"SCH|A100^EHR|F100^EHR|||||ROUTINE|Normal|30|MIN|^^30^20261201150000\r" +
		"PID|1||MRN1^^^H^MR||DOE^JANE||19800101|F|||||(312)555-0100^PRN^CP\r" +
		"AIP|1||99^SMITH^ANNA\r")
}

func newMapper(t testing.TB) *mapping.Mapper {
	m, err := mapping.New(mapping.Config{DefaultTimezone: "America/Chicago", DefaultCountry: "US", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fakeStore is a Committer whose commit can block or fail.
type fakeStore struct {
	mu      sync.Mutex
	block   chan struct{} // if set, Ingest waits for it to close
	entered chan struct{} // if set, signalled when Ingest starts
	fail    error
	keys    map[store.DedupKey]store.Inbound
	appts   map[string]*apptbridge.Appointment
	commits int
}

func newFake() *fakeStore {
	return &fakeStore{keys: map[store.DedupKey]store.Inbound{}, appts: map[string]*apptbridge.Appointment{}}
}

func (f *fakeStore) Ingest(ctx context.Context, in *store.Inbound) (store.IngestResult, error) {
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return store.IngestResult{}, f.fail
	}
	if prev, ok := f.keys[in.Key]; ok {
		if prev.Hash == in.Hash {
			return store.IngestResult{Duplicate: true, Ack: prev.Ack}, nil
		}
		return store.IngestResult{Conflict: true}, nil
	}
	var res store.IngestResult
	if in.Event != nil {
		res.Outcome = apptbridge.Apply(f.appts[in.Event.AppointmentID], in.Event, apptbridge.ApplyContext{Now: now})
		if res.Outcome.Appointment != nil {
			f.appts[in.Event.AppointmentID] = res.Outcome.Appointment
		}
	}
	f.keys[in.Key] = *in
	f.commits++
	return res, nil
}

func newHandler(t testing.TB, st ingest.Committer) *ingest.Handler {
	return ingest.New(ingest.Config{Store: st, Mapper: newMapper(t), Now: func() time.Time { return now }})
}

func ackOf(t *testing.T, b []byte) *hl7.Message {
	t.Helper()
	m, err := hl7.Parse(b)
	if err != nil {
		t.Fatalf("unparseable ACK %q: %v", b, err)
	}
	return m
}

func TestAckCodes(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		code    string
		err3    string // ERR-3.1
		errLoc  string // ERR-2 segment^seq^field
		version string
	}{
		{"booked AA", string(msg("C1", "S12", "")), "AA", "", "", "2.5.1"},
		{"enhanced CA", string(msg("C2", "S12", "|||AL|NE")), "CA", "", "", "2.5.1"},
		{"MSH-15 NE original", string(msg("C3", "S12", "|||NE|AL")), "AA", "", "", "2.5.1"},
		{"S23 ignored AA", string(msg("C4", "S23", "")), "AA", "", "", "2.5.1"},
		{"unsupported trigger AR 201", string(msg("C5", "S99", "")), "AR", "201", "MSH^1^9", "2.5.1"},
		{"enhanced unsupported CR", string(msg("C6", "S99", "|||AL|NE")), "CR", "201", "MSH^1^9", "2.5.1"},
		{"not SIU AR 200", strings.Replace(string(msg("C7", "S12", "")), "SIU^S12", "ADT^A01", 1), "AR", "200", "MSH^1^9", "2.5.1"},
		{"bad version AR 203", strings.Replace(string(msg("C8", "S12", "")), "|2.5.1", "|3.0", 1), "AR", "203", "MSH^1^12", "3.0"},
		{"missing start AE 101", strings.Replace(string(msg("C9", "S12", "")), "^^30^20261201150000", "", 1), "AE", "101", "SCH^1^11", "2.5.1"},
		{"bad date AE 102", strings.Replace(string(msg("C10", "S12", "")), "20261201150000", "20261399150000", 1), "AE", "102", "SCH^1^11", "2.5.1"},
		{"enhanced content error CE", strings.Replace(string(msg("C11", "S12", "|||AL|NE")), "^^30^20261201150000", "", 1), "CE", "101", "SCH^1^11", "2.5.1"},
		{"missing appointment id AE 101", strings.Replace(string(msg("C12", "S12", "")), "SCH|A100^EHR|F100^EHR|", "SCH|||", 1), "AE", "101", "SCH^1^1", "2.5.1"},
		{"no MSH AE 100", "PID|1||X\rSCH|1\r", "AE", "100", "MSH", ""},
		{"bad charset AE 103", string(msg("C13", "S12", "||||||KLINGON")), "AE", "103", "MSH^1^18", "2.5.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandler(t, newFake())
			ack, err := h.ServeMLLP(context.Background(), []byte(tc.in))
			if tc.code[1] == 'A' && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			m := ackOf(t, ack)
			if got := m.Get("MSA-1"); got != tc.code {
				t.Fatalf("MSA-1 = %q, want %q; ack %q", got, tc.code, ack)
			}
			if got := m.Get("ERR-3.1"); got != tc.err3 {
				t.Errorf("ERR-3.1 = %q, want %q; ack %q", got, tc.err3, ack)
			}
			if tc.errLoc != "" && !strings.HasPrefix(m.Segment("ERR").Value(2, 1, 0, 0), tc.errLoc) {
				t.Errorf("ERR-2 = %q, want prefix %q", m.Segment("ERR").Value(2, 1, 0, 0), tc.errLoc)
			}
			if tc.err3 != "" && m.Get("ERR-4") != "E" {
				t.Errorf("ERR-4 = %q, want E", m.Get("ERR-4"))
			}
			if got := m.Get("MSH-12"); got != tc.version {
				t.Errorf("MSH-12 = %q, want %q", got, tc.version)
			}
			if !bytes.HasSuffix(ack, []byte("\r")) {
				t.Errorf("ACK does not end with \\r")
			}
		})
	}
}

func TestAckHeaderSwapsAndEchoes(t *testing.T) {
	h := newHandler(t, newFake())
	ack, _ := h.ServeMLLP(context.Background(), msg("CTRL-77", "S12", ""))
	m := ackOf(t, ack)
	for loc, want := range map[string]string{
		"MSH-3": "APPTBRIDGE", "MSH-4": "CLINIC", "MSH-5": "EHR", "MSH-6": "HOSP",
		"MSH-9": "ACK^S12^ACK", "MSA-2": "CTRL-77", "MSH-11": "P",
	} {
		if got := m.Segment(loc[:3]).Value(atoi(loc[4:]), 1, 0, 0); got != want {
			t.Errorf("%s = %q, want %q", loc, got, want)
		}
	}
}

func atoi(s string) (n int) {
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestDuplicateGetsStoredAckByteForByte(t *testing.T) {
	f := newFake()
	h := newHandler(t, f)
	first, _ := h.ServeMLLP(context.Background(), msg("D1", "S12", ""))
	time.Sleep(2 * time.Millisecond)
	second, _ := h.ServeMLLP(context.Background(), msg("D1", "S12", ""))
	if !bytes.Equal(first, second) {
		t.Fatalf("duplicate ACK differs:\n%q\n%q", first, second)
	}
	if f.commits != 1 {
		t.Fatalf("%d commits, want 1", f.commits)
	}
	// Same key, other content: AE 205 and nothing changes.
	other := bytes.Replace(msg("D1", "S12", ""), []byte("20261201150000"), []byte("20261202150000"), 1)
	third, _ := h.ServeMLLP(context.Background(), other)
	m := ackOf(t, third)
	if m.Get("MSA-1") != "AE" || m.Get("ERR-3.1") != "205" {
		t.Fatalf("conflict ACK %q, want AE 205", third)
	}
	if got := f.appts["A100"].AppointmentDatetime; got != "2026-12-01T15:00:00" {
		t.Fatalf("appointment changed by a conflicting message: %s", got)
	}
}

func TestStorageFailureIsAR207(t *testing.T) {
	for _, enhanced := range []bool{false, true} {
		f := newFake()
		f.fail = errors.New("disk full")
		h := newHandler(t, f)
		extra, want := "", "AR"
		if enhanced {
			extra, want = "|||AL|NE", "CR"
		}
		ack, err := h.ServeMLLP(context.Background(), msg("F1", "S12", extra))
		if err == nil {
			t.Error("want an error for logs")
		}
		m := ackOf(t, ack)
		if m.Get("MSA-1") != want || m.Get("ERR-3.1") != "207" {
			t.Fatalf("ACK %q, want %s 207", ack, want)
		}
		if strings.Contains(string(ack), "disk full") {
			t.Error("internal error text leaked into the ACK")
		}
		if len(f.keys) != 0 || len(f.appts) != 0 {
			t.Fatal("failed commit left state behind")
		}
	}
}

// countingConn records every Write on the server side of a connection.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, append([]byte(nil), p...))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *countingConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.writes)
}

type countingListener struct {
	net.Listener
	conns chan *countingConn
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &countingConn{Conn: c}
	l.conns <- cc
	return cc, nil
}

// TestNoAckByteBeforeCommit runs the handler behind a real MLLP server on a
// loopback socket with a store whose commit blocks: not one byte reaches
// the wire until the commit returns, then the ACK arrives in one write.
func TestNoAckByteBeforeCommit(t *testing.T) {
	f := newFake()
	f.block = make(chan struct{})
	f.entered = make(chan struct{}, 1)
	h := newHandler(t, f)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln, conns: make(chan *countingConn, 1)}
	srv := &mllp.Server{Handler: h}
	go srv.Serve(cl)
	defer srv.Close()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(mllp.Frame(msg("B1", "S12", ""))); err != nil {
		t.Fatal(err)
	}
	sc := <-cl.conns
	<-f.entered
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 1)
	if n, err := c.Read(buf); n != 0 || !errors.Is(err, timeoutErr(err)) {
		t.Fatalf("read %d bytes before commit returned (err %v)", n, err)
	}
	if sc.count() != 0 {
		t.Fatalf("server wrote %d times before commit returned", sc.count())
	}
	close(f.block)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	rd := mllp.NewReader(c, 1<<20)
	ack, err := rd.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if code := ackOf(t, ack).Get("MSA-1"); code != "AA" {
		t.Fatalf("MSA-1 %s", code)
	}
	if sc.count() != 1 {
		t.Fatalf("ACK written in %d writes, want 1", sc.count())
	}
}

func timeoutErr(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	return io.ErrUnexpectedEOF
}

// TestAckAfterCommitManyMessages: 1,000 messages over one connection, each
// ACK observed only after its own commit returned (RELIABILITY T03).
func TestAckAfterCommitManyMessages(t *testing.T) {
	var mu sync.Mutex
	committed := map[string]bool{}
	inner := newFake()
	st := committerFunc(func(ctx context.Context, in *store.Inbound) (store.IngestResult, error) {
		r, err := inner.Ingest(ctx, in)
		mu.Lock()
		committed[in.Key.ControlID] = true
		mu.Unlock()
		return r, err
	})
	h := newHandler(t, st)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mllp.Server{Handler: h}
	go srv.Serve(ln)
	defer srv.Close()
	c := &mllp.Client{Addr: ln.Addr().String()}
	defer c.Close()
	for i := 0; i < 1000; i++ {
		cid := "M" + itoa(i)
		ack, err := c.Send(context.Background(), bytes.Replace(msg(cid, "S12", ""), []byte("A100^"), []byte("A"+itoa(i)+"^"), 1))
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		ok := committed[cid]
		mu.Unlock()
		if !ok {
			t.Fatalf("ACK for %s received before its commit", cid)
		}
		if m := ackOf(t, ack); m.Get("MSA-1") != "AA" || m.Get("MSA-2") != cid {
			t.Fatalf("ACK %q", ack)
		}
	}
}

type committerFunc func(context.Context, *store.Inbound) (store.IngestResult, error)

func (f committerFunc) Ingest(ctx context.Context, in *store.Inbound) (store.IngestResult, error) {
	return f(ctx, in)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestMissingControlIDIsAE101(t *testing.T) {
	f := newFake()
	h := newHandler(t, f)
	ack, _ := h.ServeMLLP(context.Background(), msg("", "S12", ""))
	m := ackOf(t, ack)
	if m.Get("MSA-1") != "AE" || m.Get("ERR-3.1") != "101" || m.Get("ERR-2.3") != "10" {
		t.Fatalf("ACK %q, want AE 101 at MSH-10", ack)
	}
	if f.commits != 0 {
		t.Fatal("message without MSH-10 was stored")
	}
}

type nopStore struct{}

func (nopStore) Ingest(context.Context, *store.Inbound) (store.IngestResult, error) {
	return store.IngestResult{}, nil
}
