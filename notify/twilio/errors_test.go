package twilio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	twclient "github.com/twilio/twilio-go/client"
)

func TestClassifyStatusCode(t *testing.T) {
	tests := []struct {
		status, code int
		want         Class
		phone        bool
	}{
		{429, 20429, ClassRetry, false},
		{429, 0, ClassRetry, false},
		{400, 20429, ClassRetry, false},
		{400, 21611, ClassRetry, false},
		{400, 14107, ClassRetry, false},
		{400, 21610, ClassOptOut, false},
		{400, 21211, ClassPermanent, true},
		{400, 21614, ClassPermanent, true},
		{400, 21635, ClassPermanent, true},
		{400, 30005, ClassPermanent, true},
		{400, 30006, ClassPermanent, true},
		{400, 21612, ClassPermanent, false},
		{400, 21408, ClassPermanent, false},
		{400, 21606, ClassPermanent, false},
		{400, 21603, ClassPermanent, false},
		{400, 0, ClassPermanent, false},
		{409, 0, ClassPermanent, false},
		{422, 12345, ClassPermanent, false},
		{401, 20003, ClassConfig, false},
		{401, 0, ClassConfig, false},
		{403, 0, ClassConfig, false},
		{404, 20404, ClassConfig, false},
		{404, 0, ClassConfig, false},
		{400, 21222, ClassConfig, false},
		{403, 30002, ClassConfig, false},
		{408, 0, ClassAmbiguous, false},
		{500, 0, ClassAmbiguous, false},
		{500, 20500, ClassAmbiguous, false},
		{502, 0, ClassAmbiguous, false},
		{503, 20503, ClassAmbiguous, false},
		{504, 0, ClassAmbiguous, false},
		{200, 0, ClassAmbiguous, false}, // a 2xx that did not yield a message
		{302, 0, ClassAmbiguous, false},
		{500, 21610, ClassOptOut, false}, // a known code wins over the status
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%d", tt.status, tt.code), func(t *testing.T) {
			if got := classify(tt.status, tt.code); got != tt.want {
				t.Errorf("classify(%d, %d) = %q, want %q", tt.status, tt.code, got, tt.want)
			}
			rest := &twclient.TwilioRestError{Status: tt.status, Code: tt.code, Message: "The 'To' number +15551234567 is not valid"}
			e := newError(opCreate, rest, &callRecord{status: tt.status, wrote: true})
			if e.Class != tt.want || e.Code != tt.code || e.HTTPStatus != tt.status {
				t.Errorf("newError = %+v, want class %q code %d status %d", e, tt.want, tt.code, tt.status)
			}
			if e.PermanentPhone() != tt.phone || IsPermanentPhone(fmt.Errorf("wrapped: %w", e)) != tt.phone {
				t.Errorf("PermanentPhone = %v, want %v", e.PermanentPhone(), tt.phone)
			}
			if Classify(rest) != tt.want || Classify(e) != tt.want || Classify(fmt.Errorf("x: %w", e)) != tt.want {
				t.Errorf("Classify disagrees with classify for %d/%d", tt.status, tt.code)
			}
			if s := e.Error(); strings.Contains(s, "5551234567") {
				t.Errorf("error string carries the phone: %s", s)
			}
		})
	}
}

func TestClassifyCode(t *testing.T) {
	tests := map[int]Class{
		0:     ClassNone,
		21610: ClassOptOut,
		30003: ClassRetry,
		30001: ClassRetry,
		21611: ClassRetry,
		30005: ClassPermanent,
		30006: ClassPermanent,
		30007: ClassPermanent,
		21211: ClassPermanent,
		20003: ClassConfig,
		30008: ClassNone, // unknown: the caller decides
		99999: ClassNone,
	}
	for code, want := range tests {
		if got := ClassifyCode(code); got != want {
			t.Errorf("ClassifyCode(%d) = %q, want %q", code, got, want)
		}
	}
	for _, code := range []int{21211, 21614, 21635, 30005, 30006} {
		if !FlagsPhone(code) {
			t.Errorf("FlagsPhone(%d) = false", code)
		}
	}
	for _, code := range []int{0, 21610, 21612, 30003, 21606} {
		if FlagsPhone(code) {
			t.Errorf("FlagsPhone(%d) = true", code)
		}
	}
}

func TestClassifyAnyError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, ClassNone},
		{"error", &Error{Class: ClassOptOut}, ClassOptOut},
		{"wrapped error", fmt.Errorf("outbox: %w", &Error{Class: ClassRetry}), ClassRetry},
		{"rest error", &twclient.TwilioRestError{Status: 400, Code: 21211}, ClassPermanent},
		{"canceled", context.Canceled, ClassAmbiguous},
		{"deadline", context.DeadlineExceeded, ClassAmbiguous},
		{"url error", &url.Error{Op: "Post", URL: "https://api.twilio.com/x", Err: io.EOF}, ClassAmbiguous},
		{"unknown", errors.New("boom"), ClassAmbiguous},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("%s: Classify = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestNewErrorTransport(t *testing.T) {
	urlErr := &url.Error{Op: "Get", URL: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?To=%2B15551234567&PageSize=50",
		Err: &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}}
	tests := []struct {
		name string
		rec  *callRecord
		err  error
		want Class
	}{
		{"not written", &callRecord{}, urlErr, ClassRetry},
		{"written", &callRecord{wrote: true}, urlErr, ClassAmbiguous},
		{"html 502", &callRecord{status: 502, wrote: true}, errors.New("error decoding the response for an HTTP error code: 502: invalid character '<'"), ClassAmbiguous},
		{"unreadable 201", &callRecord{status: 201, wrote: true}, errors.New("unexpected EOF"), ClassAmbiguous},
		{"non-json 400", &callRecord{status: 400, wrote: true}, errors.New("decode"), ClassPermanent},
		{"non-json 429", &callRecord{status: 429, retryAfter: time.Second, wrote: true}, errors.New("decode"), ClassRetry},
	}
	for _, tt := range tests {
		e := newError(opList, tt.err, tt.rec)
		if e.Class != tt.want {
			t.Errorf("%s: class %q, want %q", tt.name, e.Class, tt.want)
		}
		if s := e.Error(); strings.Contains(s, "5551234567") || strings.Contains(s, "To=") {
			t.Errorf("%s: error string carries the query: %s", tt.name, s)
		}
		if e.RetryAfter != tt.rec.retryAfter {
			t.Errorf("%s: RetryAfter %v", tt.name, e.RetryAfter)
		}
	}
	var ue *url.Error
	if e := newError(opList, urlErr, &callRecord{}); !errors.As(e, &ue) || ue.Err != urlErr.Err {
		t.Errorf("sanitized url.Error lost its cause: %v", e)
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Op: opCreate, Class: ClassRetry, Code: 20429, HTTPStatus: 429, RetryAfter: 2 * time.Second,
		Err: &twclient.TwilioRestError{Code: 20429, Status: 429}}
	want := "twilio: create message: retry (HTTP 429, code 20429, retry after 2s)"
	if got := e.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e = &Error{Op: opCreate, Class: ClassAmbiguous, Err: context.DeadlineExceeded}
	if got := e.Error(); got != "twilio: create message: ambiguous: context deadline exceeded" {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(e, context.DeadlineExceeded) {
		t.Error("Unwrap does not reach the cause")
	}
}

func TestRetryAfter(t *testing.T) {
	if d := retryAfter("3"); d != 3*time.Second {
		t.Errorf("retryAfter(3) = %v", d)
	}
	for _, v := range []string{"", "-1", "soon", "Mon, 02 Jan 2006 15:04:05 GMT"} {
		if d := retryAfter(v); d != 0 {
			t.Errorf("retryAfter(%q) = %v, want 0", v, d)
		}
	}
	future := time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)
	if d := retryAfter(future); d <= 50*time.Second || d > time.Minute {
		t.Errorf("retryAfter(date in a minute) = %v", d)
	}
}

func TestNewConfig(t *testing.T) {
	ok := Config{AccountSID: "AC123", AuthToken: "tok123", From: "+15005550006"}
	if _, err := New(ok); err != nil {
		t.Fatalf("New(ok): %v", err)
	}
	bad := map[string]func(*Config){
		"no sid":           func(c *Config) { c.AccountSID = "" },
		"sid chars":        func(c *Config) { c.AccountSID = "AC-1" },
		"no token":         func(c *Config) { c.AuthToken = "" },
		"token chars":      func(c *Config) { c.AuthToken = "a:b" },
		"no sender":        func(c *Config) { c.From = "" },
		"negative timeout": func(c *Config) { c.Timeout = -time.Second },
		"relative cb":      func(c *Config) { c.StatusCallback = "/twilio/status" },
		"base scheme":      func(c *Config) { c.BaseURL = "ftp://127.0.0.1:9999" },
		"base no host":     func(c *Config) { c.BaseURL = "http://" },
		"base query":       func(c *Config) { c.BaseURL = "http://127.0.0.1:9999/?x=1" },
		"base user":        func(c *Config) { c.BaseURL = "http://u:p@127.0.0.1:9999" },
	}
	for name, mutate := range bad {
		c := ok
		mutate(&c)
		_, err := New(c)
		if Classify(err) != ClassConfig {
			t.Errorf("%s: New = %v, want a config error", name, err)
		}
		if err != nil && (strings.Contains(err.Error(), "tok123") || strings.Contains(err.Error(), "a:b")) {
			t.Errorf("%s: error carries the token: %v", name, err)
		}
	}
	c := ok
	c.From, c.MessagingServiceSID = "", "MG123"
	if _, err := New(c); err != nil {
		t.Errorf("messaging service only: %v", err)
	}
}
