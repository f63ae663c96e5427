package mllp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Client defaults.
const (
	DefaultDialTimeout = 10 * time.Second
	DefaultAckTimeout  = 30 * time.Second
)

var errUnsolicited = errors.New("mllp: unsolicited message from peer")

// A Client sends messages to an MLLP server over one persistent connection
// and returns each reply (the ACK).
//
// The zero value with Addr set is usable. Send calls are serialized: one
// message is in flight at a time, so replies cannot be confused. The
// connection is dialed on the first Send and after any error (a failed
// exchange always discards the connection, so a late reply can never be
// taken for the next message's).
//
// Send does NOT retry. If it returns an error after writing, the peer may or
// may not have processed the message; resending is the caller's decision
// (HL7 receivers are expected to be idempotent on MSH-10). A connection the
// peer has already closed while idle is detected before writing and
// replaced, which is not a retry since nothing was sent on it.
//
// A Client is safe for concurrent use. Its fields must not be changed after
// first use.
type Client struct {
	Addr      string      // host:port of the server
	TLSConfig *tls.Config // if set, dial with TLS (set Certificates for mutual TLS)

	DialTimeout    time.Duration // connect + TLS handshake; default DefaultDialTimeout
	AckTimeout     time.Duration // write + wait for the reply; default DefaultAckTimeout
	MaxMessageSize int           // largest accepted reply; default DefaultMaxMessageSize

	initOnce sync.Once
	sem      chan struct{} // one Send at a time, acquirable with a ctx
	mu       sync.Mutex    // guards cc
	cc       *clientConn
}

// clientConn is one connection with a goroutine reading replies, so that a
// connection closed by the peer is noticed while idle.
type clientConn struct {
	nc   net.Conn
	w    *Writer
	acks chan []byte   // capacity 1; one reply per expected message
	done chan struct{} // closed when the read loop ends
	err  error         // why the read loop ended; read after done

	mu      sync.Mutex
	pending bool // a message was written and its reply not yet received
}

// Send writes msg as one frame and waits for the reply, which it returns
// (unframed). It returns an error wrapping ErrAckTimeout when no reply
// arrives within AckTimeout, ctx.Err() when ctx ends first, and a
// *FrameError wrapping ErrInvalidPayload (without sending) when msg
// contains 0x1C. See Client for the retry and reconnect rules.
func (c *Client) Send(ctx context.Context, msg []byte) ([]byte, error) {
	if bytes.IndexByte(msg, endBlock) >= 0 {
		return nil, &FrameError{Op: "write", Err: ErrInvalidPayload}
	}
	c.initOnce.Do(func() { c.sem = make(chan struct{}, 1) })
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("mllp: send: %w", ctx.Err())
	}
	defer func() { <-c.sem }()

	cc, err := c.conn(ctx)
	if err != nil {
		return nil, err
	}
	return c.exchange(ctx, cc, msg)
}

// Close closes the current connection, if any, and waits for its reader
// goroutine to exit. A later Send dials again.
func (c *Client) Close() error {
	c.mu.Lock()
	cc := c.cc
	c.cc = nil
	c.mu.Unlock()
	if cc == nil {
		return nil
	}
	err := cc.nc.Close()
	<-cc.done
	return err
}

func (c *Client) exchange(ctx context.Context, cc *clientConn, msg []byte) ([]byte, error) {
	timeout := orDefault(c.AckTimeout, DefaultAckTimeout)
	cc.mu.Lock()
	cc.pending = true
	cc.mu.Unlock()

	cc.nc.SetWriteDeadline(deadline(timeout))
	stop := context.AfterFunc(ctx, func() { cc.nc.SetWriteDeadline(aLongTimeAgo) })
	err := cc.w.WriteMessage(msg)
	stop()
	if err != nil {
		c.drop(cc)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("mllp: send: %w", ctx.Err())
		}
		return nil, fmt.Errorf("mllp: send: %w", err)
	}

	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case ack := <-cc.acks:
		return ack, nil
	case <-cc.done:
		select {
		case ack := <-cc.acks: // delivered just before the connection ended
			return ack, nil
		default:
		}
		c.drop(cc)
		return nil, fmt.Errorf("mllp: connection lost before reply: %w", cc.err)
	case <-expired:
		c.drop(cc)
		return nil, fmt.Errorf("%w: no reply within %v", ErrAckTimeout, timeout)
	case <-ctx.Done():
		c.drop(cc)
		return nil, fmt.Errorf("mllp: send: %w", ctx.Err())
	}
}

// conn returns the live connection, dialing a new one if there is none or
// the peer closed the previous one.
func (c *Client) conn(ctx context.Context) (*clientConn, error) {
	c.mu.Lock()
	cc := c.cc
	c.mu.Unlock()
	if cc != nil {
		select {
		case <-cc.done:
			c.drop(cc)
		default:
			return cc, nil
		}
	}
	cc, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.cc = cc
	c.mu.Unlock()
	return cc, nil
}

func (c *Client) dial(ctx context.Context) (*clientConn, error) {
	if c.Addr == "" {
		return nil, errors.New("mllp: Client.Addr is empty")
	}
	d := &net.Dialer{Timeout: orDefault(c.DialTimeout, DefaultDialTimeout)}
	var nc net.Conn
	var err error
	if c.TLSConfig != nil {
		nc, err = (&tls.Dialer{NetDialer: d, Config: c.TLSConfig}).DialContext(ctx, "tcp", c.Addr)
	} else {
		nc, err = d.DialContext(ctx, "tcp", c.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("mllp: dial %s: %w", c.Addr, err)
	}
	cc := &clientConn{
		nc:   nc,
		w:    NewWriter(nc),
		acks: make(chan []byte, 1),
		done: make(chan struct{}),
	}
	go cc.readLoop(NewReader(nc, c.MaxMessageSize))
	return cc, nil
}

// drop discards cc: it is closed and no longer reused.
func (c *Client) drop(cc *clientConn) {
	c.mu.Lock()
	if c.cc == cc {
		c.cc = nil
	}
	c.mu.Unlock()
	cc.nc.Close()
}

func (cc *clientConn) readLoop(rd *Reader) {
	defer close(cc.done)
	for {
		msg, err := rd.ReadMessage()
		if err != nil {
			cc.err = err
			return
		}
		cc.mu.Lock()
		expected := cc.pending
		cc.pending = false
		cc.mu.Unlock()
		if !expected {
			cc.err = errUnsolicited
			cc.nc.Close()
			return
		}
		cc.acks <- msg // never blocks: at most one reply is expected at a time
	}
}
