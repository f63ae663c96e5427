package mllp

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

func TestServerShutdown(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	rec := newRecorder()
	s := &Server{Handler: HandlerFunc(func(_ context.Context, msg []byte) ([]byte, error) {
		if string(msg) == "slow" {
			close(entered)
			<-release
		}
		return append([]byte("ACK|"), msg...), nil
	})}
	rec.hook(s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve(ln) }()
	addr := ln.Addr().String()

	idle := dial(t, addr)
	idleRd := NewReader(idle, 0)
	if got := roundTrip(t, idle, idleRd, "hi"); got != "ACK|hi" {
		t.Fatalf("reply %q", got)
	}
	fresh := dial(t, addr) // accepted, never sends anything
	rec.waitFor(t, "2 accepted", func() bool { return rec.count(StateNew) == 2 })

	busy := dial(t, addr)
	busy.Write(Frame([]byte("slow")))
	<-entered

	shutdownErr := make(chan error, 1)
	go func() { shutdownErr <- s.Shutdown(context.Background()) }()

	// Idle and never-used connections are closed at once; Serve returns.
	expectClosed(t, idle, 30*time.Second)
	expectClosed(t, fresh, 30*time.Second)
	select {
	case err := <-serveErr:
		if !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Serve = %v, want ErrServerClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after Shutdown")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("listener still accepting after Shutdown")
	}
	select {
	case err := <-shutdownErr:
		t.Fatalf("Shutdown returned %v while a message was in hand", err)
	case <-time.After(100 * time.Millisecond):
	}

	// The busy connection gets its reply, then is closed.
	close(release)
	busyRd := NewReader(busy, 0)
	if got := readReply(t, busy, busyRd); got != "ACK|slow" {
		t.Fatalf("in-flight reply = %q, want ACK|slow", got)
	}
	expectClosed(t, busy, 30*time.Second)
	select {
	case err := <-shutdownErr:
		if err != nil {
			t.Fatalf("Shutdown = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if err := s.Serve(ln); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v", err)
	}
}

func TestServerShutdownMidFrame(t *testing.T) {
	// A frame whose start block arrived before Shutdown is finished and
	// answered.
	rec := newRecorder()
	s := &Server{Handler: &echoHandler{}}
	rec.hook(s)
	c := dial(t, startServer(t, s))
	c.Write([]byte("\x0bMSH|part"))
	rec.waitFor(t, "StateActive", func() bool { return rec.count(StateActive) == 1 })

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	waitUntil(t, "Shutdown to start", s.shuttingDown)
	c.Write([]byte("ial\x1c\r"))
	if got := readReply(t, c, NewReader(c, 0)); got != "ACK|MSH|partial" {
		t.Fatalf("reply = %q", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
}

func TestServerShutdownContextExpires(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	entered := make(chan struct{}, 1)
	s := &Server{Handler: HandlerFunc(func(context.Context, []byte) ([]byte, error) {
		entered <- struct{}{}
		<-block
		return []byte("late"), nil
	})}
	c := dial(t, startServer(t, s))
	c.Write(Frame([]byte("A")))
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want context.DeadlineExceeded", err)
	}
}

func TestServerCloseCancelsHandlers(t *testing.T) {
	entered := make(chan struct{})
	cancelled := make(chan struct{})
	s := &Server{Handler: HandlerFunc(func(ctx context.Context, _ []byte) ([]byte, error) {
		close(entered)
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	})}
	c := dial(t, startServer(t, s))
	c.Write(Frame([]byte("A")))
	<-entered
	s.Close()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("handler context not cancelled by Close")
	}
	expectClosed(t, c, 30*time.Second)
}
