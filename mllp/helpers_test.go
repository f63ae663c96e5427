package mllp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoHandler replies "ACK|" + msg and counts calls.
type echoHandler struct{ calls atomic.Int64 }

func (h *echoHandler) ServeMLLP(_ context.Context, msg []byte) ([]byte, error) {
	h.calls.Add(1)
	return append([]byte("ACK|"), msg...), nil
}

// syncBuffer is a goroutine-safe bytes.Buffer for ErrorLog output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// recorder collects server hook events.
type recorder struct {
	mu       sync.Mutex
	states   map[ConnState]int
	frameErr []error
	junk     int
	changed  chan struct{}
}

func newRecorder() *recorder {
	return &recorder{states: map[ConnState]int{}, changed: make(chan struct{}, 1)}
}

func (r *recorder) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) hook(s *Server) {
	s.ConnState = func(_ net.Conn, st ConnState) {
		r.mu.Lock()
		r.states[st]++
		r.mu.Unlock()
		r.notify()
	}
	s.OnFrameError = func(err error) {
		r.mu.Lock()
		r.frameErr = append(r.frameErr, err)
		r.mu.Unlock()
		r.notify()
	}
	s.OnJunk = func(n int) {
		r.mu.Lock()
		r.junk += n
		r.mu.Unlock()
		r.notify()
	}
}

func (r *recorder) count(st ConnState) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.states[st]
}

func (r *recorder) junkBytes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.junk
}

// hasFrameError reports whether a frame error matching target was seen.
func (r *recorder) hasFrameError(target error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, err := range r.frameErr {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// waitFor polls cond until it holds or the timeout expires.
func (r *recorder) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-r.changed:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// startServer serves s on a fresh 127.0.0.1:0 listener and returns its
// address. The server is closed when the test ends.
func startServer(t testing.TB, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, s, ln)
}

func serveOn(t testing.TB, s *Server, ln net.Listener) string {
	t.Helper()
	if s.ErrorLog == nil {
		s.ErrorLog = log.New(io.Discard, "", 0)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-errc; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ln.Addr().String()
}

func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readReply reads one framed reply within 10 s (generous: the tests must
// pass on a heavily loaded machine).
func readReply(t testing.TB, c net.Conn, rd *Reader) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	msg, err := rd.ReadMessage()
	if err != nil {
		t.Fatalf("reading reply: %v", err)
	}
	return string(msg)
}

// roundTrip sends one frame on c and returns the reply.
func roundTrip(t testing.TB, c net.Conn, rd *Reader, msg string) string {
	t.Helper()
	if _, err := c.Write(Frame([]byte(msg))); err != nil {
		t.Fatalf("write: %v", err)
	}
	return readReply(t, c, rd)
}

// expectClosed asserts that the peer closes c within d (reading and
// discarding anything it sends first) and returns how long it took.
func expectClosed(t testing.TB, c net.Conn, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(d))
	buf := make([]byte, 512)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open after %v", d)
		}
		return time.Since(start) // io.EOF or connection reset
	}
}

// testPKI holds an in-test CA with server and client certificates.
type testPKI struct {
	pool   *x509.CertPool
	server tls.Certificate
	client tls.Certificate
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "apptbridge test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.server = leaf(t, ca, caKey, 2, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	p.client = leaf(t, ca, caKey, 3, "hospital-engine", x509.ExtKeyUsageClientAuth)
	return p
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func leaf(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, serial int64, cn string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func newLogger(w io.Writer) *log.Logger { return log.New(w, "", 0) }

// waitUntil polls cond every few milliseconds for up to 10 s.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// clientConnDead reports whether the client's current connection has been
// seen closed by its reader goroutine.
func clientConnDead(c *Client) bool {
	c.mu.Lock()
	cc := c.cc
	c.mu.Unlock()
	if cc == nil {
		return true
	}
	select {
	case <-cc.done:
		return true
	default:
		return false
	}
}
