package mllp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"runtime/debug"
	"sync"
	"time"
)

// errHandlerPanic marks a recovered handler panic (already logged).
var errHandlerPanic = errors.New("mllp: handler panicked")

// conn is the server side of one connection.
type conn struct {
	srv    *Server
	rwc    net.Conn // *tls.Conn when TLS is on
	raw    net.Conn // the accepted connection
	remote string
	cancel context.CancelFunc

	mu    sync.Mutex // guards state and read deadlines against Shutdown
	state ConnState
}

// serve runs the read → handle → reply loop until the connection ends.
func (c *conn) serve(ctx context.Context) {
	s := c.srv
	final := StateClosed
	replied := false
	defer func() {
		c.cancel()
		if replied && s.shuttingDown() {
			c.closeWriteAndDrain()
		}
		c.rwc.Close()
		s.untrackConn(c)
		s.setState(c.rwc, final)
	}()

	if tc, ok := c.rwc.(*tls.Conn); ok {
		if err := c.handshake(ctx, tc); err != nil {
			if !s.shuttingDown() {
				final = StateRejected
				s.logf("mllp: TLS handshake error from %s: %v", c.remote, err)
			}
			return
		}
	}
	ctx = context.WithValue(ctx, connInfoKey{}, c.info())

	rd := NewReader(c.rwc, s.maxMessageSize())
	rd.onStart = c.startFrame
	wr := NewWriter(c.rwc)
	var skipped, missingCR int64
	for first := true; ; first = false {
		if !c.setIdle(first) {
			return
		}
		msg, err := rd.ReadMessage()
		if n := rd.Skipped() - skipped; n > 0 {
			skipped += n
			if s.OnJunk != nil {
				s.OnJunk(int(n))
			}
		}
		if n := rd.MissingCR() - missingCR; n > 0 {
			missingCR += n
			for range n {
				c.frameError(&FrameError{Op: "read", Err: ErrMissingCR})
			}
		}
		if err != nil {
			var fe *FrameError
			if errors.As(err, &fe) {
				c.frameError(err)
			}
			return
		}

		reply, err := c.handle(ctx, msg)
		if reply == nil {
			if err != nil && err != errHandlerPanic {
				s.logf("mllp: handler returned no reply; closing connection from %s: %v", c.remote, err)
			}
			return
		}
		c.rwc.SetWriteDeadline(deadline(orDefault(s.WriteTimeout, DefaultWriteTimeout)))
		if err := wr.WriteMessage(reply); err != nil {
			if errors.Is(err, ErrInvalidPayload) {
				s.logf("mllp: invalid reply for %s: %v", c.remote, err)
			}
			return
		}
		replied = true
	}
}

// lingerTimeout bounds closeWriteAndDrain.
const lingerTimeout = 500 * time.Millisecond

// closeWriteAndDrain closes a connection in an orderly way after Shutdown:
// closing a socket with unread input (e.g. a pipelined message that will not
// be served) sends a TCP reset, which can destroy the reply just written
// before the peer reads it. So half-close first (FIN after the reply),
// then discard input until the peer closes or lingerTimeout passes, as
// net/http does.
func (c *conn) closeWriteAndDrain() {
	limit := time.Now().Add(lingerTimeout)
	c.rwc.SetWriteDeadline(limit)
	if tc, ok := c.rwc.(*tls.Conn); ok {
		tc.CloseWrite() // close_notify
	}
	if cw, ok := c.raw.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.raw.SetReadDeadline(limit)
	io.Copy(io.Discard, c.raw)
}

func (c *conn) handshake(ctx context.Context, tc *tls.Conn) error {
	c.mu.Lock()
	if c.srv.shuttingDown() {
		c.mu.Unlock()
		return ErrServerClosed
	}
	tc.SetDeadline(deadline(orDefault(c.srv.ReadTimeout, DefaultReadTimeout)))
	c.mu.Unlock()
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	return tc.SetWriteDeadline(time.Time{})
}

// setIdle arms the idle deadline before waiting for the next message. It
// reports false if the server is shutting down, in which case the
// connection must close.
func (c *conn) setIdle(first bool) bool {
	c.mu.Lock()
	if c.srv.shuttingDown() {
		c.mu.Unlock()
		return false
	}
	if !first {
		c.state = StateIdle
	}
	c.rwc.SetReadDeadline(deadline(orDefault(c.srv.IdleTimeout, DefaultIdleTimeout)))
	c.mu.Unlock()
	if !first {
		c.srv.setState(c.rwc, StateIdle)
	}
	return true
}

// startFrame is called by the Reader when a start block arrives: the
// connection becomes active and the whole frame must arrive within
// ReadTimeout. A frame starting after Shutdown began is not served.
func (c *conn) startFrame() error {
	c.mu.Lock()
	if c.srv.shuttingDown() {
		c.mu.Unlock()
		return ErrServerClosed
	}
	c.state = StateActive
	c.rwc.SetReadDeadline(deadline(orDefault(c.srv.ReadTimeout, DefaultReadTimeout)))
	c.mu.Unlock()
	c.srv.setState(c.rwc, StateActive)
	return nil
}

// closeIfIdle unblocks the read of a connection that has no message in
// hand, so that it exits. Called by Shutdown with s.mu held.
func (c *conn) closeIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == StateNew || c.state == StateIdle {
		c.rwc.SetReadDeadline(aLongTimeAgo)
	}
}

// handle calls the Handler, recovering a panic as errHandlerPanic.
func (c *conn) handle(ctx context.Context, msg []byte) (reply []byte, err error) {
	if t := c.srv.HandlerTimeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			c.srv.logf("mllp: panic serving %s: %s\n%s", c.remote, describePanic(p), debug.Stack())
			reply, err = nil, errHandlerPanic
		}
	}()
	return c.srv.Handler.ServeMLLP(ctx, msg)
}

func (c *conn) frameError(err error) {
	if c.srv.OnFrameError != nil {
		c.srv.OnFrameError(err)
	}
}

func (c *conn) info() ConnInfo {
	ci := ConnInfo{RemoteAddr: c.rwc.RemoteAddr(), LocalAddr: c.rwc.LocalAddr()}
	if tc, ok := c.rwc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		ci.TLS = &st
	}
	return ci
}

// describePanic renders a panic value for the log. Only runtime errors are
// shown verbatim: other values may have been built from message content.
func describePanic(p any) string {
	if re, ok := p.(runtime.Error); ok {
		return re.Error()
	}
	return fmt.Sprintf("value of type %T (withheld: may contain message data)", p)
}
