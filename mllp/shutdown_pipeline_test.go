package mllp

import (
	"context"
	"io"
	"testing"
	"time"
)

// TestServerShutdownPipelined: the sender pipelined a second message
// behind the one in hand. Shutdown must still deliver the first reply (no
// RST from closing with unread data), then close without serving the
// second.
func TestServerShutdownPipelined(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	h := &echoHandler{}
	s := &Server{Handler: HandlerFunc(func(ctx context.Context, msg []byte) ([]byte, error) {
		if string(msg) == "slow" {
			close(entered)
			<-release
		}
		return h.ServeMLLP(ctx, msg)
	})}
	c := dial(t, startServer(t, s))
	c.Write(Frame([]byte("slow")))
	<-entered
	// Unread bytes in the server's receive buffer.
	c.Write(Frame(make([]byte, 64<<10)))
	time.Sleep(50 * time.Millisecond)

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	waitUntil(t, "Shutdown to start", s.shuttingDown)
	close(release)
	time.Sleep(100 * time.Millisecond) // let the close (and any RST) reach us before reading
	if got := readReply(t, c, NewReader(c, 0)); got != "ACK|slow" {
		t.Fatalf("reply = %q", got)
	}
	// The server half-closes (FIN) and drains before closing, so the peer
	// sees a clean EOF, not a reset.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after the reply: %v, want io.EOF (orderly close, no RST)", err)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := h.calls.Load(); n != 1 {
		t.Errorf("handler called %d times, want 1 (pipelined message must not be served after Shutdown)", n)
	}
}
