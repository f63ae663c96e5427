package mllp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults applied to zero-valued [Server] and [Client] fields.
const (
	DefaultAddr         = ":2575" // IANA-registered HL7 port
	DefaultReadTimeout  = 30 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	DefaultIdleTimeout  = 10 * time.Minute
	DefaultKeepAlive    = 3 * time.Minute
)

// aLongTimeAgo is a non-zero time in the past, used to unblock reads.
var aLongTimeAgo = time.Unix(1, 0)

// A Server accepts MLLP connections and passes each message to Handler.
//
// The zero value (with Handler set) is usable: zero durations and sizes take
// the documented defaults. For the timeouts, a negative value means no
// timeout. A Server must not be copied or modified after first use.
//
// Tests and callers that need the bound address of ":0" create the listener
// themselves with net.Listen and call [Server.Serve].
type Server struct {
	// Addr is the TCP address ListenAndServe listens on (DefaultAddr if
	// empty).
	Addr string

	// Handler handles each message. It must be set.
	Handler Handler

	// TLSConfig, when set, makes Serve wrap every accepted connection in
	// TLS (pass a plain TCP listener). For mutual TLS set
	// ClientAuth = tls.RequireAndVerifyClientCert and ClientCAs. A failed
	// handshake closes the connection (StateRejected) before any byte
	// reaches the Handler.
	TLSConfig *tls.Config

	// ReadTimeout bounds the time to read one whole frame, counted from its
	// start block; a frame still incomplete after it (a mid-frame stall or
	// a slowloris) closes the connection. It also bounds the TLS
	// handshake. Default DefaultReadTimeout.
	ReadTimeout time.Duration

	// WriteTimeout bounds writing one reply. Default DefaultWriteTimeout.
	WriteTimeout time.Duration

	// IdleTimeout bounds the wait for the next message's start block (junk
	// bytes do not extend it). Default DefaultIdleTimeout.
	IdleTimeout time.Duration

	// HandlerTimeout, if positive, sets a deadline on the context passed to
	// the Handler. Default: none.
	HandlerTimeout time.Duration

	// MaxMessageSize is the largest accepted payload in bytes (default
	// DefaultMaxMessageSize). A larger frame closes the connection after at
	// most MaxMessageSize + 4 KiB bytes of it were read.
	MaxMessageSize int

	// MaxConns limits concurrent connections (0 = unlimited). Extra
	// connections are accepted and immediately closed (StateRejected).
	MaxConns int

	// AllowedNets, if not empty, restricts clients to these networks; other
	// connections are closed immediately (StateRejected), before any TLS
	// handshake. IPv4-mapped IPv6 addresses are matched as IPv4.
	AllowedNets []netip.Prefix

	// KeepAlive is the TCP keep-alive period set on accepted *net.TCPConn
	// connections (default DefaultKeepAlive; negative disables keep-alive).
	KeepAlive time.Duration

	// ConnState, if set, is called on each connection state change (for
	// metrics). It is called from the accepting or the serving goroutine,
	// never concurrently for one connection. The net.Conn is the
	// *tls.Conn when TLS is on.
	ConnState func(net.Conn, ConnState)

	// OnJunk, if set, is called with the number of bytes skipped outside
	// frames (before a start block, e.g. a stray LF after a frame). Like
	// OnFrameError, it may be called concurrently for different
	// connections.
	OnJunk func(n int)

	// OnFrameError, if set, is called with each framing violation: a
	// *FrameError for an oversize frame (ErrFrameTooLarge), a mid-frame
	// stall (os.ErrDeadlineExceeded) or end of stream mid-frame
	// (io.ErrUnexpectedEOF), all of which close the connection; and a
	// *FrameError wrapping ErrMissingCR for a tolerated end block without
	// CR (the connection goes on). Framing errors are not logged.
	OnFrameError func(error)

	// ErrorLog receives accept errors, TLS handshake failures, recovered
	// handler panics and handler errors that close a connection. Nothing
	// logged contains message content. If nil, the log package's standard
	// logger is used.
	ErrorLog *log.Logger

	// BaseContext, if set, returns the base context for the connections
	// accepted from a listener. Default context.Background().
	BaseContext func(net.Listener) context.Context

	inShutdown atomic.Bool
	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	conns      map[*conn]struct{}
	drained    chan struct{} // closed when no conns remain after Shutdown
}

// ListenAndServe listens on s.Addr and calls Serve. It always returns a
// non-nil error; after Shutdown or Close it returns ErrServerClosed.
func (s *Server) ListenAndServe() error {
	if s.shuttingDown() {
		return ErrServerClosed
	}
	addr := s.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("mllp: listen: %w", err)
	}
	return s.Serve(ln)
}

// Serve accepts connections on l and serves each in its own goroutine. It
// always returns a non-nil error and closes l; after Shutdown or Close it
// returns ErrServerClosed. Serve may be called for several listeners.
func (s *Server) Serve(l net.Listener) error {
	if s.Handler == nil {
		l.Close()
		return errors.New("mllp: Server.Handler is nil")
	}
	l = &onceCloseListener{Listener: l}
	defer l.Close()
	if !s.trackListener(&l, true) {
		return ErrServerClosed
	}
	defer s.trackListener(&l, false)

	var tlsConfig *tls.Config
	if s.TLSConfig != nil {
		tlsConfig = s.TLSConfig.Clone()
	}
	ctx := context.Background()
	if s.BaseContext != nil {
		if ctx = s.BaseContext(l); ctx == nil {
			panic("mllp: BaseContext returned a nil context")
		}
	}

	var delay time.Duration // backoff on temporary accept errors
	for {
		rw, err := l.Accept()
		if err != nil {
			if s.shuttingDown() {
				return ErrServerClosed
			}
			if isTemporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logf("mllp: accept error: %v; retrying in %v", err, delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("mllp: accept: %w", err)
		}
		delay = 0
		s.accept(ctx, rw, tlsConfig)
	}
}

// accept admits or rejects a new connection and starts serving it.
func (s *Server) accept(ctx context.Context, rw net.Conn, tlsConfig *tls.Config) {
	s.setKeepAlive(rw)
	nc := rw
	if tlsConfig != nil {
		nc = tls.Server(rw, tlsConfig)
	}
	s.setState(nc, StateNew)
	if !s.allowed(rw.RemoteAddr()) {
		rw.Close()
		s.setState(nc, StateRejected)
		return
	}
	c := &conn{srv: s, rwc: nc, raw: rw, remote: rw.RemoteAddr().String()}
	ctx, c.cancel = context.WithCancel(ctx)
	if !s.trackConn(c) {
		c.cancel()
		rw.Close()
		s.setState(nc, StateRejected)
		return
	}
	go c.serve(ctx)
}

// Shutdown gracefully stops the server: it closes the listeners, closes idle
// connections at once (including those not yet past their TLS handshake),
// lets each active connection finish the message in hand (frame, handler,
// reply) and then closes it (half-closing first and draining unread input
// for up to 500 ms, so that no reset destroys the reply). Connections that
// already answered a message get the same orderly close. It waits until all
// connections are closed or ctx is done, returning ctx.Err() in the latter
// case. Serve returns ErrServerClosed immediately.
func (s *Server) Shutdown(ctx context.Context) error {
	s.inShutdown.Store(true)
	s.mu.Lock()
	err := s.closeListenersLocked()
	for c := range s.conns {
		c.closeIfIdle()
	}
	if s.drained == nil {
		s.drained = make(chan struct{})
		if len(s.conns) == 0 {
			close(s.drained)
		}
	}
	drained := s.drained
	s.mu.Unlock()

	select {
	case <-drained:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close immediately closes all listeners and connections, cancelling the
// contexts of running handlers. Replies not yet written are lost. Use
// Shutdown for a graceful stop.
func (s *Server) Close() error {
	s.inShutdown.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.closeListenersLocked()
	for c := range s.conns {
		c.raw.Close()
		c.cancel()
	}
	return err
}

func (s *Server) shuttingDown() bool { return s.inShutdown.Load() }

func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, l)
		return true
	}
	if s.shuttingDown() {
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[*net.Listener]struct{})
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) closeListenersLocked() error {
	var err error
	for l := range s.listeners {
		if cerr := (*l).Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// trackConn registers c unless the server is shutting down or full.
func (s *Server) trackConn(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shuttingDown() || (s.MaxConns > 0 && len(s.conns) >= s.MaxConns) {
		return false
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrackConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if s.drained != nil && len(s.conns) == 0 {
		select {
		case <-s.drained:
		default:
			close(s.drained)
		}
	}
}

func (s *Server) allowed(addr net.Addr) bool {
	if len(s.AllowedNets) == 0 {
		return true
	}
	var ip netip.Addr
	if ta, ok := addr.(*net.TCPAddr); ok {
		ip = ta.AddrPort().Addr()
	} else if ap, err := netip.ParseAddrPort(addr.String()); err == nil {
		ip = ap.Addr()
	} else {
		return false
	}
	ip = ip.Unmap()
	for _, p := range s.AllowedNets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (s *Server) setKeepAlive(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	d := orDefault(s.KeepAlive, DefaultKeepAlive)
	if d == 0 {
		tc.SetKeepAlive(false)
		return
	}
	tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: d, Interval: d, Count: -1})
}

func (s *Server) setState(c net.Conn, st ConnState) {
	if s.ConnState != nil {
		s.ConnState(c, st)
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

func (s *Server) maxMessageSize() int {
	if s.MaxMessageSize > 0 {
		return s.MaxMessageSize
	}
	return DefaultMaxMessageSize
}

// orDefault maps a configured duration to an effective one: 0 means def,
// negative means none (0).
func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// deadline returns now+d, or the zero time (no deadline) when d is 0.
func deadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// onceCloseListener wraps a net.Listener so that Close is idempotent.
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}
