package mllp

import (
	"context"
	"crypto/tls"
	"net"
)

// A Handler handles one MLLP message and returns the reply payload
// (unframed; the server adds the MLLP block characters).
//
// The server calls ServeMLLP sequentially for the messages of one
// connection, in the order they arrived, and writes each non-nil reply with a
// single Write before reading the next message. A reply of length zero but
// non-nil is written as an empty frame. A nil reply closes the connection
// without answering; use it only when no reply is possible, since a
// conformant sender waits for exactly one reply per message.
//
// err is for logs and metrics (middleware sees it); if reply is non-nil it is
// still written. The server logs err only when it closes the connection
// because reply is nil, so errors must not carry message content (PHI).
//
// msg belongs to the handler: the server never reuses or modifies it. The
// server does not modify reply either. ctx is cancelled when the connection
// is closed by [Server.Close]; it carries a deadline when
// [Server.HandlerTimeout] is set, and a [ConnInfo] (see [ConnInfoFromContext]).
//
// A panic in ServeMLLP is recovered: the server logs it (without the panic
// value unless it is a runtime error, since the value may contain message
// data) and closes the connection without replying.
type Handler interface {
	ServeMLLP(ctx context.Context, msg []byte) (reply []byte, err error)
}

// HandlerFunc adapts an ordinary function to a [Handler].
type HandlerFunc func(ctx context.Context, msg []byte) ([]byte, error)

// ServeMLLP calls f(ctx, msg).
func (f HandlerFunc) ServeMLLP(ctx context.Context, msg []byte) ([]byte, error) {
	return f(ctx, msg)
}

// Middleware wraps a Handler, e.g. to record metrics or enforce policy.
type Middleware func(Handler) Handler

// Chain wraps h in the given middleware. The first middleware is the
// outermost: Chain(h, a, b) is a(b(h)).
func Chain(h Handler, mw ...Middleware) Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// ConnInfo describes the connection a message arrived on.
type ConnInfo struct {
	RemoteAddr net.Addr
	LocalAddr  net.Addr
	// TLS is the state of the TLS connection after its handshake, or nil
	// when the server does not use TLS. With mutual TLS,
	// TLS.PeerCertificates[0] is the verified client certificate.
	TLS *tls.ConnectionState
}

type connInfoKey struct{}

// ConnInfoFromContext returns the ConnInfo that [Server] attaches to the
// context passed to [Handler.ServeMLLP].
func ConnInfoFromContext(ctx context.Context) (ConnInfo, bool) {
	ci, ok := ctx.Value(connInfoKey{}).(ConnInfo)
	return ci, ok
}

// ConnState represents the state of a server connection, reported through
// [Server.ConnState]. Every accepted connection reports StateNew first and
// ends with exactly one of StateClosed or StateRejected.
type ConnState int

const (
	// StateNew: the connection was just accepted; nothing has been read
	// (for TLS, the handshake has not completed).
	StateNew ConnState = iota
	// StateActive: the start block of a message has been read; the
	// connection stays active while the rest of the frame is read, the
	// handler runs and the reply is written.
	StateActive
	// StateIdle: the connection finished a message and waits for the next
	// one.
	StateIdle
	// StateClosed: the connection was closed after being served
	// (terminal).
	StateClosed
	// StateRejected: the connection was closed without serving it: over
	// [Server.MaxConns], remote address outside [Server.AllowedNets], or a
	// failed TLS handshake (terminal).
	StateRejected
)

var stateNames = [...]string{
	StateNew:      "new",
	StateActive:   "active",
	StateIdle:     "idle",
	StateClosed:   "closed",
	StateRejected: "rejected",
}

func (s ConnState) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}
