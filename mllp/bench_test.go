package mllp

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// loopReader serves the same bytes forever.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

func BenchmarkReader(b *testing.B) {
	msg := []byte(strings.Repeat("PID|1||MRN^^^HOSP||DOE^JANE||19800101|F\r", 20)[:700])
	var block bytes.Buffer
	for range 64 {
		block.Write(Frame(msg))
	}
	rd := NewReader(&loopReader{data: block.Bytes()}, 0)
	b.SetBytes(int64(len(msg) + 3))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rd.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkServerRoundTrip(b *testing.B) {
	ack := []byte("MSH|^~\\&|APPTBRIDGE|HOSP|EPIC|HOSP|20250101120000||ACK^S12^ACK|A1|P|2.5.1\rMSA|AA|CTRL1\r")
	s := &Server{Handler: HandlerFunc(func(context.Context, []byte) ([]byte, error) { return ack, nil })}
	c := &Client{Addr: startServer(b, s)}
	defer c.Close()
	msg := []byte(strings.Repeat("SCH|A1|", 100))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Send(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
}
