package mllp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// write is one client write, followed by an optional pause.
type write struct {
	data  []byte
	pause time.Duration
}

func bytewise(p []byte, pause time.Duration) []write {
	ws := make([]write, len(p))
	for i := range p {
		ws[i] = write{p[i : i+1], pause}
	}
	return ws
}

func chunked(p []byte, size int, pause time.Duration) []write {
	var ws []write
	for len(p) > 0 {
		n := min(size, len(p))
		ws = append(ws, write{p[:n], pause})
		p = p[n:]
	}
	return ws
}

func TestServerTorture(t *testing.T) {
	msh := "MSH|^~\\&|EPIC|HOSP|APPTBRIDGE|HOSP|20250101120000||SIU^S12^SIU_S12|CTRL1|P|2.5.1\rSCH|A1\r"
	tests := []struct {
		name      string
		writes    []write
		want      []string // replies, in order
		junk      int      // junk reported by the time the last reply arrived
		missingCR bool
	}{
		{name: "plain", writes: []write{{data: Frame([]byte(msh))}}, want: []string{msh}},
		{name: "junk before SB", writes: []write{{data: cat("GET / HTTP/1.1\r\n", fr("A"))}}, want: []string{"A"}, junk: 16},
		{name: "junk in own write", writes: []write{{data: []byte("\x00\xff"), pause: 20 * time.Millisecond}, {data: Frame([]byte("A"))}}, want: []string{"A"}, junk: 2},
		{name: "two frames per write", writes: []write{{data: cat(fr("1"), fr("2"))}}, want: []string{"1", "2"}},
		{name: "three frames, trailing LF", writes: []write{{data: cat(fr("1"), "\n", fr("2"), "\n", fr("3"))}}, want: []string{"1", "2", "3"}, junk: 2},
		{name: "1-byte writes", writes: bytewise(Frame([]byte(msh)), time.Millisecond), want: []string{msh}},
		{name: "split over many writes", writes: chunked(cat(fr(msh), fr("2")), 7, 2*time.Millisecond), want: []string{msh, "2"}},
		{name: "missing CR, sender waits", writes: []write{{data: []byte("\x0bA\x1c")}}, want: []string{"A"}},
		{name: "missing CR twice", writes: []write{{data: []byte("\x0bA\x1c\x0bB\x1c\r")}}, want: []string{"A", "B"}, missingCR: true},
		{name: "empty frame", writes: []write{{data: cat(fr(""), fr("B"))}}, want: []string{"", "B"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder()
			s := &Server{Handler: &echoHandler{}}
			rec.hook(s)
			c := dial(t, startServer(t, s))
			go func() {
				for _, w := range tt.writes {
					if _, err := c.Write(w.data); err != nil {
						return
					}
					time.Sleep(w.pause)
				}
			}()
			rd := NewReader(c, 0)
			for i, want := range tt.want {
				if got := readReply(t, c, rd); got != "ACK|"+want {
					t.Fatalf("reply %d = %q, want %q", i, got, "ACK|"+want)
				}
			}
			if got := rec.junkBytes(); got != tt.junk {
				t.Errorf("junk = %d, want %d", got, tt.junk)
			}
			if got := rec.hasFrameError(ErrMissingCR); got != tt.missingCR {
				t.Errorf("ErrMissingCR reported = %v, want %v", got, tt.missingCR)
			}
			// The connection is still usable.
			if got := roundTrip(t, c, rd, "again"); got != "ACK|again" {
				t.Errorf("follow-up reply = %q", got)
			}
		})
	}
}

// TestServerBadConnections runs misbehaving clients next to a healthy one
// that must keep getting replies while the bad one is dealt with.
func TestServerBadConnections(t *testing.T) {
	const stallTimeout = 300 * time.Millisecond
	tests := []struct {
		name        string
		readTimeout time.Duration
		run         func(c net.Conn)
		min         time.Duration // earliest acceptable close
		wantErr     error         // frame error reported
	}{
		{
			name:        "3 MiB frame",
			readTimeout: time.Minute,
			run: func(c net.Conn) {
				go c.Write(Frame(bytes.Repeat([]byte("x"), 3<<20)))
			},
			wantErr: ErrFrameTooLarge,
		},
		{
			name:        "10 MiB without end block",
			readTimeout: time.Minute,
			run: func(c net.Conn) {
				go func() {
					c.Write([]byte{startBlock})
					chunk := bytes.Repeat([]byte("y"), 64<<10)
					for range 160 {
						if _, err := c.Write(chunk); err != nil {
							return
						}
					}
				}()
			},
			wantErr: ErrFrameTooLarge,
		},
		{
			name:        "stall mid-frame",
			readTimeout: stallTimeout,
			run:         func(c net.Conn) { c.Write([]byte("\x0bMSH|^~\\&|partial")) },
			min:         stallTimeout - 50*time.Millisecond,
			wantErr:     os.ErrDeadlineExceeded,
		},
		{
			name:        "slowloris inside a frame",
			readTimeout: stallTimeout,
			run: func(c net.Conn) {
				go func() {
					c.Write([]byte{startBlock})
					for range 1000 {
						time.Sleep(50 * time.Millisecond)
						if _, err := c.Write([]byte("x")); err != nil {
							return
						}
					}
				}()
			},
			min:     stallTimeout - 50*time.Millisecond,
			wantErr: os.ErrDeadlineExceeded,
		},
		{
			name:        "EOF mid-frame",
			readTimeout: time.Minute,
			run:         func(c net.Conn) { c.Write([]byte("\x0bMSH|")); c.(*net.TCPConn).CloseWrite() },
			wantErr:     io.ErrUnexpectedEOF,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder()
			s := &Server{Handler: &echoHandler{}, ReadTimeout: tt.readTimeout}
			rec.hook(s)
			addr := startServer(t, s)
			stopHealthy := startHealthy(t, addr)

			c := dial(t, addr)
			start := time.Now()
			tt.run(c)
			expectClosed(t, c, 30*time.Second)
			if d := time.Since(start); d < tt.min {
				t.Errorf("closed after %v, want >= %v", d, tt.min)
			}
			rec.waitFor(t, "frame error", func() bool { return rec.hasFrameError(tt.wantErr) })
			if err := stopHealthy(); err != nil {
				t.Fatal(err)
			}
			if n := rec.count(StateRejected); n != 0 {
				t.Errorf("%d connections rejected, want 0", n)
			}
		})
	}
}

// startHealthy runs a connection that pings addr every 20 ms until the
// returned stop function is called; stop reports any failure.
func startHealthy(t *testing.T, addr string) (stop func() error) {
	c := dial(t, addr)
	rd := NewReader(c, 0)
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		for n := 0; ; n++ {
			select {
			case <-done:
				errc <- nil
				return
			case <-time.After(20 * time.Millisecond):
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write(Frame([]byte("ping"))); err != nil {
				errc <- fmt.Errorf("healthy connection, ping %d: %w", n, err)
				return
			}
			if msg, err := rd.ReadMessage(); err != nil || string(msg) != "ACK|ping" {
				errc <- fmt.Errorf("healthy connection, ping %d: reply %q, %v", n, msg, err)
				return
			}
		}
	}()
	return func() error {
		close(done)
		return <-errc
	}
}

func TestServerIdleTimeout(t *testing.T) {
	const idle = 200 * time.Millisecond
	s := &Server{Handler: &echoHandler{}, IdleTimeout: idle}
	addr := startServer(t, s)

	t.Run("silent", func(t *testing.T) {
		c := dial(t, addr)
		if d := expectClosed(t, c, 30*time.Second); d < idle-50*time.Millisecond {
			t.Errorf("closed after %v, want >= %v", d, idle)
		}
	})
	t.Run("after a message", func(t *testing.T) {
		c := dial(t, addr)
		rd := NewReader(c, 0)
		if got := roundTrip(t, c, rd, "A"); got != "ACK|A" {
			t.Fatalf("reply = %q", got)
		}
		expectClosed(t, c, 30*time.Second)
	})
	t.Run("junk does not extend it", func(t *testing.T) {
		c := dial(t, addr)
		go func() {
			for range 100 {
				if _, err := c.Write([]byte("\n")); err != nil {
					return
				}
				time.Sleep(40 * time.Millisecond)
			}
		}()
		expectClosed(t, c, 30*time.Second)
	})
}

func TestServerMaxConns(t *testing.T) {
	rec := newRecorder()
	s := &Server{Handler: &echoHandler{}, MaxConns: 2}
	rec.hook(s)
	addr := startServer(t, s)

	var conns []net.Conn
	var readers []*Reader
	for i := range 2 {
		c := dial(t, addr)
		rd := NewReader(c, 0)
		if got := roundTrip(t, c, rd, "hello"); got != "ACK|hello" {
			t.Fatalf("conn %d: reply %q", i, got)
		}
		conns, readers = append(conns, c), append(readers, rd)
	}
	extra := dial(t, addr)
	extra.Write(Frame([]byte("rejected")))
	expectClosed(t, extra, 30*time.Second)
	rec.waitFor(t, "StateRejected", func() bool { return rec.count(StateRejected) == 1 })

	for i, c := range conns {
		if got := roundTrip(t, c, readers[i], "still"); got != "ACK|still" {
			t.Fatalf("conn %d after rejection: reply %q", i, got)
		}
	}
	// Freeing a slot admits a new connection.
	conns[0].Close()
	rec.waitFor(t, "StateClosed", func() bool { return rec.count(StateClosed) == 1 })
	c := dial(t, addr)
	if got := roundTrip(t, c, NewReader(c, 0), "new"); got != "ACK|new" {
		t.Fatalf("new conn: reply %q", got)
	}
}

func TestServerAllowedNets(t *testing.T) {
	tests := []struct {
		name    string
		allowed []netip.Prefix
		ok      bool
	}{
		{"10/8 only rejects loopback", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, false},
		{"loopback allowed", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			h := &echoHandler{}
			s := &Server{Handler: h, AllowedNets: tt.allowed}
			rec.hook(s)
			c := dial(t, startServer(t, s))
			c.Write(Frame([]byte("A")))
			if tt.ok {
				if got := readReply(t, c, NewReader(c, 0)); got != "ACK|A" {
					t.Fatalf("reply = %q", got)
				}
				return
			}
			expectClosed(t, c, 30*time.Second)
			rec.waitFor(t, "StateRejected", func() bool { return rec.count(StateRejected) == 1 })
			if h.calls.Load() != 0 {
				t.Errorf("handler called %d times for a rejected client", h.calls.Load())
			}
		})
	}
}

// countingListener counts Write calls on accepted connections.
type countingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, writes: &l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

func TestServerReplyInOneWrite(t *testing.T) {
	big := strings.Repeat("MSA|AA|1\r", 20_000) // ~180 KB reply
	s := &Server{Handler: HandlerFunc(func(_ context.Context, msg []byte) ([]byte, error) {
		if string(msg) == "big" {
			return []byte(big), nil
		}
		return []byte("ACK"), nil
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	c := dial(t, serveOn(t, s, cl))
	rd := NewReader(c, 0)

	c.Write(cat(fr("1"), fr("2"), fr("big"), fr("3")))
	for _, want := range []string{"ACK", "ACK", big, "ACK"} {
		if got := readReply(t, c, rd); got != want {
			t.Fatalf("reply of %d bytes, want %d", len(got), len(want))
		}
	}
	if got := cl.writes.Load(); got != 4 {
		t.Errorf("%d Write calls for 4 replies, want 4", got)
	}
}

func TestServerHandlerOutcomes(t *testing.T) {
	const canary = "PID|||CANARY-MRN-0042"
	tests := []struct {
		name      string
		handler   HandlerFunc
		wantReply bool
		wantLog   string
	}{
		{
			name:      "error with reply still replies",
			handler:   func(context.Context, []byte) ([]byte, error) { return []byte("AE"), errors.New("store down") },
			wantReply: true,
		},
		{
			name:    "nil reply closes",
			handler: func(context.Context, []byte) ([]byte, error) { return nil, errors.New("cannot answer") },
			wantLog: "cannot answer",
		},
		{
			name:    "panic with content is withheld",
			handler: func(_ context.Context, msg []byte) ([]byte, error) { panic("bad message: " + string(msg)) },
			wantLog: "withheld",
		},
		{
			name: "runtime panic is shown",
			handler: func(_ context.Context, msg []byte) ([]byte, error) {
				var m map[string]int
				m[string(msg)]++
				return nil, nil
			},
			wantLog: "assignment to entry in nil map",
		},
		{
			name:    "reply containing end block closes",
			handler: func(context.Context, []byte) ([]byte, error) { return []byte("A\x1cB"), nil },
			wantLog: "invalid reply",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncBuffer{}
			rec := newRecorder()
			// Only the canary message misbehaves; "x" is echoed.
			s := &Server{Handler: HandlerFunc(func(ctx context.Context, msg []byte) ([]byte, error) {
				if string(msg) == "x" {
					return []byte("ok"), nil
				}
				return tt.handler(ctx, msg)
			})}
			s.ErrorLog = newLogger(logs)
			rec.hook(s)
			addr := startServer(t, s)
			c := dial(t, addr)
			c.Write(Frame([]byte(canary)))
			if tt.wantReply {
				if got := readReply(t, c, NewReader(c, 0)); got != "AE" {
					t.Errorf("reply = %q, want AE", got)
				}
			} else {
				expectClosed(t, c, 30*time.Second)
				rec.waitFor(t, "StateClosed", func() bool { return rec.count(StateClosed) == 1 })
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log %q does not contain %q", logs.String(), tt.wantLog)
			}
			if strings.Contains(logs.String(), "CANARY") {
				t.Errorf("log leaks message content: %q", logs.String())
			}
			// The server keeps serving.
			c2 := dial(t, addr)
			if got := roundTrip(t, c2, NewReader(c2, 0), "x"); got != "ok" {
				t.Errorf("second connection: reply %q", got)
			}
		})
	}
}

func TestServerHandlerContext(t *testing.T) {
	type result struct {
		info        ConnInfo
		ok          bool
		hasDeadline bool
	}
	got := make(chan result, 1)
	s := &Server{
		HandlerTimeout: time.Minute,
		Handler: HandlerFunc(func(ctx context.Context, _ []byte) ([]byte, error) {
			ci, ok := ConnInfoFromContext(ctx)
			_, dl := ctx.Deadline()
			got <- result{ci, ok, dl}
			return []byte("ok"), nil
		}),
	}
	c := dial(t, startServer(t, s))
	roundTrip(t, c, NewReader(c, 0), "A")
	r := <-got
	if !r.ok || r.info.RemoteAddr.String() != c.LocalAddr().String() || r.info.TLS != nil {
		t.Errorf("ConnInfo = %+v, %v", r.info, r.ok)
	}
	if !r.hasDeadline {
		t.Error("HandlerTimeout did not set a deadline")
	}
}

func TestServeErrors(t *testing.T) {
	s := &Server{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); err == nil || errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve without Handler = %v", err)
	}
	s = &Server{Handler: &echoHandler{}}
	s.Close()
	if err := s.ListenAndServe(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("ListenAndServe after Close = %v, want ErrServerClosed", err)
	}
}

func TestConnStateString(t *testing.T) {
	for st, want := range map[ConnState]string{StateNew: "new", StateActive: "active", StateIdle: "idle", StateClosed: "closed", StateRejected: "rejected", 42: "unknown"} {
		if st.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(st), st.String(), want)
		}
	}
}

func TestChain(t *testing.T) {
	var order []string
	mw := func(name string) Middleware {
		return func(next Handler) Handler {
			return HandlerFunc(func(ctx context.Context, msg []byte) ([]byte, error) {
				order = append(order, name)
				return next.ServeMLLP(ctx, msg)
			})
		}
	}
	h := Chain(HandlerFunc(func(context.Context, []byte) ([]byte, error) {
		order = append(order, "h")
		return nil, nil
	}), mw("a"), mw("b"))
	h.ServeMLLP(context.Background(), nil)
	if strings.Join(order, ",") != "a,b,h" {
		t.Errorf("order = %v, want a,b,h", order)
	}
}
