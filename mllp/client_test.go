package mllp

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

func TestClientSend(t *testing.T) {
	rec := newRecorder()
	s := &Server{Handler: &echoHandler{}}
	rec.hook(s)
	c := &Client{Addr: startServer(t, s)}
	defer c.Close()
	for _, msg := range []string{"MSH|1", "MSH|2", ""} {
		ack, err := c.Send(context.Background(), []byte(msg))
		if err != nil || string(ack) != "ACK|"+msg {
			t.Fatalf("Send(%q) = %q, %v", msg, ack, err)
		}
	}
	if n := rec.count(StateNew); n != 1 {
		t.Errorf("%d connections for 3 messages, want 1 persistent connection", n)
	}
	if _, err := c.Send(context.Background(), []byte("A\x1cB")); !errors.Is(err, ErrInvalidPayload) {
		t.Errorf("Send with 0x1C = %v, want ErrInvalidPayload", err)
	}
}

func TestClientConcurrentSends(t *testing.T) {
	c := &Client{Addr: startServer(t, &Server{Handler: &echoHandler{}})}
	defer c.Close()
	errc := make(chan error, 8)
	for i := range 8 {
		go func() {
			msg := []byte{'m', byte('0' + i)}
			ack, err := c.Send(context.Background(), msg)
			if err == nil && string(ack) != "ACK|"+string(msg) {
				err = errors.New("mismatched ack " + string(ack))
			}
			errc <- err
		}()
	}
	for range 8 {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
}

func TestClientReconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	s1 := &Server{Handler: &echoHandler{}}
	serveOn(t, s1, ln)

	c := &Client{Addr: addr, DialTimeout: time.Second}
	defer c.Close()
	if _, err := c.Send(context.Background(), []byte("1")); err != nil {
		t.Fatal(err)
	}

	// Restart the server on the same port.
	s1.Close()
	if _, err := c.Send(context.Background(), []byte("down")); err == nil {
		t.Fatal("Send succeeded while the server was down")
	}
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot rebind %s: %v", addr, err)
	}
	serveOn(t, &Server{Handler: &echoHandler{}}, ln2)
	ack, err := c.Send(context.Background(), []byte("2"))
	if err != nil || string(ack) != "ACK|2" {
		t.Fatalf("Send after restart = %q, %v", ack, err)
	}
}

func TestClientReplacesConnectionClosedWhileIdle(t *testing.T) {
	rec := newRecorder()
	s := &Server{Handler: &echoHandler{}, IdleTimeout: 100 * time.Millisecond}
	rec.hook(s)
	c := &Client{Addr: startServer(t, s)}
	defer c.Close()
	if _, err := c.Send(context.Background(), []byte("1")); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "idle close", func() bool { return rec.count(StateClosed) == 1 })
	waitUntil(t, "client to see the close", func() bool { return clientConnDead(c) })
	if ack, err := c.Send(context.Background(), []byte("2")); err != nil || string(ack) != "ACK|2" {
		t.Fatalf("Send after idle close = %q, %v", ack, err)
	}
}

// silentServer accepts connections and reads, but never replies.
func silentServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			go func() {
				buf := make([]byte, 1024)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestClientAckTimeout(t *testing.T) {
	c := &Client{Addr: silentServer(t), AckTimeout: 200 * time.Millisecond}
	defer c.Close()
	start := time.Now()
	_, err := c.Send(context.Background(), []byte("MSH|1"))
	if !errors.Is(err, ErrAckTimeout) {
		t.Fatalf("Send = %v, want ErrAckTimeout", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 15*time.Second {
		t.Errorf("timed out after %v, want about 200ms", d)
	}
}

func TestClientContextCancel(t *testing.T) {
	c := &Client{Addr: silentServer(t)}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Send(ctx, []byte("MSH|1")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %v, want context.DeadlineExceeded", err)
	}
}

func TestClientUnsolicitedReply(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		rd := NewReader(c, 0)
		rd.ReadMessage()
		c.Write(cat(fr("ack"), fr("extra"))) // two replies for one message
		time.Sleep(time.Second)
	}()
	c := &Client{Addr: ln.Addr().String(), DialTimeout: time.Second, AckTimeout: 300 * time.Millisecond}
	defer c.Close()
	if ack, err := c.Send(context.Background(), []byte("1")); err != nil || string(ack) != "ack" {
		t.Fatalf("Send = %q, %v", ack, err)
	}
	// The extra frame poisons the connection; the next Send must not
	// receive it as its reply.
	waitUntil(t, "client to drop the connection", func() bool { return clientConnDead(c) })
	if ack, err := c.Send(context.Background(), []byte("2")); err == nil && string(ack) == "extra" {
		t.Fatal("unsolicited frame returned as the reply to the next message")
	}
}

func TestClientNoAddr(t *testing.T) {
	if _, err := new(Client).Send(context.Background(), []byte("A")); err == nil {
		t.Fatal("Send without Addr succeeded")
	}
}
