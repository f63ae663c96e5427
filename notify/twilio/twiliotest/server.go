package twiliotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// APIVersion is the Twilio REST API version the server speaks.
const APIVersion = "2010-04-01"

// Response is one scripted answer to a create call (see Server.Script).
// The zero Response answers normally.
type Response struct {
	// HTTPStatus of the answer. 0 means 201 Created, or 400 when Code is set
	// (429 for code 20429). A 2xx answer creates the message as usual.
	HTTPStatus int
	// Code is the Twilio error code of an error answer; 0 picks one from
	// the status (20429, 20003, 20404, 20500, 20503) or sends null.
	Code int
	// Delay is slept before answering (timeout tests). The wait ends early
	// when the caller hangs up or the server closes; then nothing is sent,
	// and a success answer creates no message unless Create is set.
	Delay time.Duration
	// Create records the message as created, before any Delay, even though
	// an error is returned or the caller gives up waiting: the "Twilio took
	// it but we never saw the 201" case.
	Create bool
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Body, when set, replaces Twilio's JSON error body (say, a proxy's
	// HTML page for a 502). Its Content-Type is text/html.
	Body string
}

// Message is a message the server holds: created through the API
// (Direction "outbound-api") or sent to a webhook by Inbound ("inbound").
type Message struct {
	SID                 string
	AccountSID          string
	To                  string
	From                string
	MessagingServiceSID string
	Body                string
	StatusCallback      string
	Status              string
	Direction           string
	ErrorCode           int
	NumSegments         int
	Created             time.Time
	Updated             time.Time
	Sent                time.Time // zero while date_sent is null
}

// Server is a local stand-in for Twilio's Messages API and for Twilio's
// side of webhooks. It is an http.Handler; NewServer builds it, Open (or
// Start, Listen) also serves it. All methods are safe for concurrent use.
type Server struct {
	// URL is the base URL once the server is open ("http://127.0.0.1:port"),
	// the value for Config.BaseURL / TWILIO_API_BASE_URL.
	URL string

	// Logger, when set, gets one line per create call, inbound message and
	// status callback, with SIDs, statuses and HTTP statuses but no phone
	// number or body. Verbose adds the body (for demos; off by default).
	// OnCreate, when set, is called in its own goroutine after each message
	// is created (a CLI can send status callbacks from it). Set these three
	// before the server handles its first request.
	Logger   func(format string, args ...any)
	Verbose  bool
	OnCreate func(Message)

	accountSID string
	authToken  string
	client     *http.Client // for callbacks and inbound webhooks

	mu        sync.Mutex
	msgs      []*Message // every message, in creation order
	bySID     map[string]*Message
	script    []Response
	scriptFor map[string][]Response
	calls     int
	creates   int
	changed   chan struct{} // closed and replaced on every create

	srv       *http.Server
	done      chan struct{}
	closeOnce sync.Once
}

// NewServer returns a server for one account. It does not listen: mount it
// (httptest.NewServer(s)) or call Open.
func NewServer(accountSID, authToken string) *Server {
	// Twilio's webhook client: 5 s to connect, 15 s to answer.
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConns:        10,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Server{
		accountSID: accountSID,
		authToken:  authToken,
		client:     &http.Client{Transport: tr, Timeout: 15 * time.Second},
		bySID:      make(map[string]*Message),
		scriptFor:  make(map[string][]Response),
		changed:    make(chan struct{}),
		done:       make(chan struct{}),
	}
}

// Start returns a server listening on 127.0.0.1 on a free port.
func Start(accountSID, authToken string) (*Server, error) {
	return Listen("127.0.0.1:0", accountSID, authToken)
}

// Listen returns a server listening on addr ("127.0.0.1:9999").
func Listen(addr, accountSID, authToken string) (*Server, error) {
	s := NewServer(accountSID, authToken)
	if err := s.Open(addr); err != nil {
		return nil, err
	}
	return s, nil
}

// Open listens on addr, sets URL and serves in the background until Close
// or Shutdown.
func (s *Server) Open(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	if s.srv != nil {
		s.mu.Unlock()
		ln.Close()
		return errors.New("twiliotest: server already open")
	}
	s.srv = srv
	s.URL = "http://" + ln.Addr().String()
	s.mu.Unlock()
	go srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed
	return nil
}

// Close stops serving at once, ending scripted Delays and open connections.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	s.client.CloseIdleConnections()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// Shutdown stops serving gracefully: it waits for calls in progress
// (scripted Delays included) until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	defer s.client.CloseIdleConnections()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	s.closeOnce.Do(func() { close(s.done) })
	return err
}

// Script queues responses for the next create calls, in order, after any
// already queued. A call takes a recipient's ScriptFor queue first. Calls
// refused before scripting (bad auth, missing To, From or Body) do not use
// up a response.
func (s *Server) Script(responses ...Response) {
	s.mu.Lock()
	s.script = append(s.script, responses...)
	s.mu.Unlock()
}

// ScriptFor queues responses for the next create calls to one recipient.
func (s *Server) ScriptFor(to string, responses ...Response) {
	s.mu.Lock()
	s.scriptFor[to] = append(s.scriptFor[to], responses...)
	s.mu.Unlock()
}

// nextScript pops the scripted response for a create to `to`.
func (s *Server) nextScript(to string) (Response, bool) {
	if q := s.scriptFor[to]; len(q) > 0 {
		r := q[0]
		if len(q) == 1 {
			delete(s.scriptFor, to)
		} else {
			s.scriptFor[to] = q[1:]
		}
		return r, true
	}
	if len(s.script) > 0 {
		r := s.script[0]
		s.script = s.script[1:]
		return r, true
	}
	return Response{}, false
}

// Messages returns every message created through the API, in creation
// order (inbound messages are left out).
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outboundLocked()
}

func (s *Server) outboundLocked() []Message {
	var out []Message
	for _, m := range s.msgs {
		if m.Direction != directionInbound {
			out = append(out, *m)
		}
	}
	return out
}

// Message returns the message with this SID (created or inbound).
func (s *Server) Message(sid string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.bySID[sid]
	if !ok {
		return Message{}, false
	}
	return *m, true
}

// Creates returns how many create calls created a message (scripted
// errors with Create included).
func (s *Server) Creates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creates
}

// Calls returns how many create calls arrived, whatever their answer.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// WaitMessages blocks until at least n messages were created through the
// API and returns them, or returns ctx's error.
func (s *Server) WaitMessages(ctx context.Context, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		if s.creates >= n {
			out := s.outboundLocked()
			s.mu.Unlock()
			return out, nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// SetStatus sets a message's status, as Twilio's delivery would. Statuses
// sent, delivered, undelivered and read also set date_sent if still null.
func (s *Server) SetStatus(sid, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.bySID[sid]
	if !ok {
		return errors.New("twiliotest: no message " + sid)
	}
	s.setStatusLocked(m, status, 0)
	return nil
}

func (s *Server) setStatusLocked(m *Message, status string, errorCode int) {
	now := now()
	m.Status = status
	m.Updated = now
	if errorCode != 0 {
		m.ErrorCode = errorCode
	}
	switch status {
	case "sent", "delivered", "undelivered", "read":
		if m.Sent.IsZero() {
			m.Sent = now
		}
	}
}

// record stores a new message and wakes WaitMessages.
func (s *Server) recordLocked(m *Message) {
	s.msgs = append(s.msgs, m)
	s.bySID[m.SID] = m
	if m.Direction != directionInbound {
		s.creates++
		close(s.changed)
		s.changed = make(chan struct{})
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.Logger != nil {
		s.Logger(format, args...)
	}
}

// now is Twilio's clock: UTC, whole seconds (its dates have no fraction).
func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// newSID returns prefix + 32 hex digits, like Twilio's SIDs.
func newSID(prefix string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return prefix + hex.EncodeToString(b[:])
}
