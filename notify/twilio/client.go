package twilio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	twclient "github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// DefaultTimeout bounds each HTTP call when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// apiBase is where twilio-go sends Messages API calls.
const apiBase = "https://api.twilio.com"

const (
	opCreate = "create message"
	opList   = "list messages"
	opConfig = "config"

	findPageSize = 50  // messages per list page in Find
	maxFindPages = 100 // Find gives up (ClassAmbiguous) after this many pages
	maxBody      = 8 << 20
)

// Config configures a Client.
type Config struct {
	AccountSID string // required
	AuthToken  string // required
	// From is the sender number; MessagingServiceSID, when set, wins and
	// From is not sent. One of the two is required.
	From                string
	MessagingServiceSID string
	// BaseURL (TWILIO_API_BASE_URL) replaces scheme and host of every
	// Twilio URL, keeping path and query: with "http://127.0.0.1:9999",
	// https://api.twilio.com/2010-04-01/... goes to
	// http://127.0.0.1:9999/2010-04-01/.... A path in BaseURL is a prefix.
	// "" talks to Twilio.
	BaseURL string
	// StatusCallback is the absolute URL Twilio posts status changes to;
	// "" sends none.
	StatusCallback string
	// Timeout bounds each HTTP call (DefaultTimeout when zero).
	Timeout time.Duration
	// HTTPClient, when set, supplies the Transport, Jar and Timeout used
	// for the calls. Redirects are never followed.
	HTTPClient *http.Client
}

// Client sends texts through Twilio's Messages API with twilio-go. It is
// safe for concurrent use. twilio-go takes no context, so every call builds
// a small twilio-go client whose transport carries the call's context,
// the per-call timeout and the BaseURL rewrite.
type Client struct {
	cfg       Config
	base      *url.URL // nil: no rewrite
	rt        http.RoundTripper
	jar       http.CookieJar
	hcTimeout time.Duration
	timeout   time.Duration
}

// Message is a Twilio message resource, as far as apptbridge needs it.
type Message struct {
	SID         string
	Status      string
	To          string
	Body        string
	ErrorCode   int
	DateCreated time.Time // zero when Twilio did not say
	NumSegments int
}

var alnum = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// New checks cfg and returns a Client. A bad Config is an *Error of class
// ClassConfig naming the field (never its value).
func New(cfg Config) (*Client, error) {
	bad := func(format string, args ...any) error {
		return &Error{Op: opConfig, Class: ClassConfig, Err: fmt.Errorf(format, args...)}
	}
	// twilio-go refuses credentials with other characters (codes
	// 21222/21224); say so now rather than on the first send.
	if !alnum.MatchString(cfg.AccountSID) {
		return nil, bad("AccountSID is empty or not alphanumeric")
	}
	if !alnum.MatchString(cfg.AuthToken) {
		return nil, bad("AuthToken is empty or not alphanumeric")
	}
	if cfg.From == "" && cfg.MessagingServiceSID == "" {
		return nil, bad("one of From and MessagingServiceSID is required")
	}
	if cfg.Timeout < 0 {
		return nil, bad("Timeout is negative")
	}
	if cfg.StatusCallback != "" {
		if u, err := url.Parse(cfg.StatusCallback); err != nil || !u.IsAbs() || u.Host == "" {
			return nil, bad("StatusCallback is not an absolute URL")
		}
	}
	c := &Client{cfg: cfg, timeout: cfg.Timeout}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, bad("BaseURL must be http(s)://host[:port][/prefix]")
		}
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawPath = ""
		c.base = u
	}
	if hc := cfg.HTTPClient; hc != nil {
		c.rt, c.jar, c.hcTimeout = hc.Transport, hc.Jar, hc.Timeout
	}
	if c.rt == nil {
		c.rt = http.DefaultTransport
		if tr, ok := http.DefaultTransport.(*http.Transport); ok {
			c.rt = tr.Clone() // a pool of its own
		}
	}
	return c, nil
}

// Send creates one message to `to` with body. ctx cancels the call; each
// HTTP call is also bounded by Config.Timeout. A failure is an *Error: see
// Class for what to do next. Send never retries.
func (c *Client) Send(ctx context.Context, to, body string) (*Message, error) {
	if to == "" {
		return nil, &Error{Op: opCreate, Class: ClassPermanent, Code: 21604, Err: errors.New("To is empty")}
	}
	if body == "" {
		return nil, &Error{Op: opCreate, Class: ClassPermanent, Code: 21602, Err: errors.New("Body is empty")}
	}
	svc, rec := c.service(ctx)
	p := &openapi.CreateMessageParams{}
	p.SetTo(to)
	p.SetBody(body)
	if c.cfg.MessagingServiceSID != "" {
		p.SetMessagingServiceSid(c.cfg.MessagingServiceSID)
	} else {
		p.SetFrom(c.cfg.From)
	}
	if c.cfg.StatusCallback != "" {
		p.SetStatusCallback(c.cfg.StatusCallback)
	}
	m, err := svc.CreateMessage(p)
	if err != nil {
		return nil, newError(opCreate, err, rec)
	}
	msg := convert(m)
	if msg.SID == "" {
		status, _, _ := rec.get()
		return nil, &Error{Op: opCreate, Class: ClassAmbiguous, HTTPStatus: status,
			Err: errors.New("answer without a message SID")}
	}
	return msg, nil
}

// Find looks for a message already created to `to` with exactly this body
// and created at or after since (to the second: Twilio's dates have no
// fraction), to reconcile after an ambiguous failure. It lists Messages
// filtered by To, newest first, page after page, and stops at the first
// match (the newest) or at the first message that is older than since both
// by date_created and by a non-null date_sent; queued or failed messages
// (date_sent null) never stop the walk. It returns nil, nil when there is
// no such message. Callers should pass a since a little before the send
// attempt to allow for clock skew between this host and Twilio.
//
// Any error (an *Error) means "unknown": keep the message ambiguous and try
// again later; never resend on a Find error. A walk longer than 100 pages
// of 50 gives up with ClassAmbiguous.
func (c *Client) Find(ctx context.Context, to, body string, since time.Time) (*Message, error) {
	if to == "" {
		return nil, &Error{Op: opList, Class: ClassPermanent, Err: errors.New("To is empty")}
	}
	since = since.Truncate(time.Second)
	svc, rec := c.service(ctx)
	p := &openapi.ListMessageParams{}
	p.SetTo(to)
	p.SetPageSize(findPageSize)
	page, err := svc.PageMessage(p, "", "")
	for pages := 1; ; pages++ {
		if err != nil {
			return nil, newError(opList, err, rec)
		}
		for i := range page.Messages {
			m := &page.Messages[i]
			if m.Direction != nil && strings.HasPrefix(*m.Direction, "inbound") {
				continue
			}
			if m.To != nil && *m.To != to {
				continue
			}
			created, createdOK := parseDate(m.DateCreated)
			sent, sentOK := parseDate(m.DateSent)
			if m.Body != nil && *m.Body == body && (!createdOK || !created.Before(since)) {
				return convert(m), nil
			}
			if createdOK && created.Before(since) && sentOK && sent.Before(since) {
				return nil, nil
			}
		}
		if page.NextPageUri == nil || *page.NextPageUri == "" || len(page.Messages) == 0 {
			return nil, nil
		}
		if pages >= maxFindPages {
			return nil, &Error{Op: opList, Class: ClassAmbiguous,
				Err: fmt.Errorf("gave up after %d pages", pages)}
		}
		page, err = nextPage(svc, *page.NextPageUri)
	}
}

// nextPage follows a next_page_uri the way twilio-go's stream does.
func nextPage(svc *openapi.ApiService, uri string) (*openapi.ListMessageResponse, error) {
	u := uri
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		u = apiBase + "/" + strings.TrimLeft(u, "/")
	}
	resp, err := svc.RequestHandler().Get(u, nil, nil, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	page := &openapi.ListMessageResponse{}
	if err := json.NewDecoder(resp.Body).Decode(page); err != nil {
		return nil, err
	}
	return page, nil
}

// service builds a twilio-go API service bound to ctx for one operation.
func (c *Client) service(ctx context.Context) (*openapi.ApiService, *callRecord) {
	rec := &callRecord{}
	hc := &http.Client{
		Transport: &transport{base: c.rt, rewrite: c.base, ctx: ctx, timeout: c.timeout, rec: rec},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Jar:     c.jar,
		Timeout: c.hcTimeout,
	}
	tc := &twclient.Client{
		Credentials: twclient.NewCredentials(c.cfg.AccountSID, c.cfg.AuthToken),
		HTTPClient:  hc,
	}
	tc.SetAccountSid(c.cfg.AccountSID)
	return openapi.NewApiServiceWithClient(tc), rec
}

// callRecord is what the transport saw of the last HTTP call of one
// operation. WroteHeaders runs on the transport's writer goroutine.
type callRecord struct {
	mu         sync.Mutex
	status     int
	retryAfter time.Duration
	wrote      bool
}

func (r *callRecord) reset() {
	r.mu.Lock()
	r.status, r.retryAfter, r.wrote = 0, 0, false
	r.mu.Unlock()
}

func (r *callRecord) setWrote() {
	r.mu.Lock()
	r.wrote = true
	r.mu.Unlock()
}

func (r *callRecord) setAnswer(status int, retryAfter time.Duration) {
	r.mu.Lock()
	r.status, r.retryAfter = status, retryAfter
	r.mu.Unlock()
}

func (r *callRecord) get() (status int, retryAfter time.Duration, wrote bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status, r.retryAfter, r.wrote
}

// transport gives twilio-go's requests the operation's context and
// timeout, rewrites them to BaseURL, records status, Retry-After and
// whether the request was written, and reads each answer whole (twilio-go
// leaves error bodies open).
type transport struct {
	base    http.RoundTripper
	rewrite *url.URL
	ctx     context.Context
	timeout time.Duration
	rec     *callRecord
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.rec.reset()
	ctx, cancel := context.WithTimeout(t.ctx, t.timeout)
	defer cancel()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaders: t.rec.setWrote,
	})
	out := req.Clone(ctx)
	if t.rewrite != nil {
		out.URL.Scheme = t.rewrite.Scheme
		out.URL.Host = t.rewrite.Host
		if t.rewrite.Path != "" {
			out.URL.Path = t.rewrite.Path + out.URL.Path
			if out.URL.RawPath != "" {
				out.URL.RawPath = t.rewrite.Path + out.URL.RawPath
			}
		}
		out.Host = ""
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	t.rec.setAnswer(resp.StatusCode, retryAfter(resp.Header.Get("Retry-After")))
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	resp.ContentLength = int64(len(data))
	resp.Request = req
	return resp, nil
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// parseDate reads Twilio's RFC 2822 dates ("Fri, 27 Nov 2026 20:00:00 +0000").
func parseDate(s *string) (time.Time, bool) {
	if s == nil || *s == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC1123Z, time.RFC1123, time.RFC3339} {
		if t, err := time.Parse(layout, *s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func convert(m *openapi.ApiV2010Message) *Message {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	msg := &Message{SID: str(m.Sid), Status: str(m.Status), To: str(m.To), Body: str(m.Body)}
	if m.ErrorCode != nil {
		msg.ErrorCode = *m.ErrorCode
	}
	if t, ok := parseDate(m.DateCreated); ok {
		msg.DateCreated = t
	}
	if m.NumSegments != nil {
		msg.NumSegments, _ = strconv.Atoi(*m.NumSegments)
	}
	return msg
}
