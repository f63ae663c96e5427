package twilio

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	twclient "github.com/twilio/twilio-go/client"
)

// Class says what a caller should do after a failed Twilio call.
type Class string

// The classes. ClassNone is the class of a nil error.
const (
	ClassNone Class = ""
	// ClassRetry: Twilio did not take the request (HTTP 429 / code 20429,
	// queue overflow 21611, or a transport error before the request was
	// written). Back off and retry; RetryAfter is a hint when set.
	ClassRetry Class = "retry"
	// ClassOptOut: code 21610, the recipient replied STOP. Do not retry;
	// opt the phone out.
	ClassOptOut Class = "opt_out"
	// ClassPermanent: a request error that will never succeed (invalid or
	// non-mobile To, region not enabled, other 4xx). Do not retry. When
	// Error.PermanentPhone reports true the phone itself is bad: flag it.
	ClassPermanent Class = "permanent"
	// ClassAmbiguous: the request may have reached Twilio and the outcome
	// is unknown (5xx, timeout, connection lost after the request was
	// written, an unreadable answer). Reconcile with Client.Find before
	// sending again; never resend blindly.
	ClassAmbiguous Class = "ambiguous"
	// ClassConfig: authentication or account problem (401, 403, 404, bad
	// credentials, suspended account) or an invalid Config. Stop sending
	// and alert; retrying will not help until the configuration changes.
	ClassConfig Class = "config"
)

// Error is a failed Twilio call. Its message carries the operation, the
// class, the HTTP status and the Twilio error code, never a phone number or
// a message body: Twilio's own error text (which may quote the To number)
// is dropped, and request URLs lose their query string.
type Error struct {
	Op         string        // "create message", "list messages", "config"
	Class      Class         // what to do next
	Code       int           // Twilio error code, 0 when none
	HTTPStatus int           // HTTP status of Twilio's answer, 0 when none
	RetryAfter time.Duration // from a Retry-After header, 0 when absent
	Err        error         // the underlying (sanitized) error, may be nil
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("twilio")
	if e.Op != "" {
		b.WriteString(": ")
		b.WriteString(e.Op)
	}
	b.WriteString(": ")
	if e.Class == ClassNone {
		b.WriteString("error")
	} else {
		b.WriteString(string(e.Class))
	}
	var parts []string
	if e.HTTPStatus != 0 {
		parts = append(parts, fmt.Sprintf("HTTP %d", e.HTTPStatus))
	}
	if e.Code != 0 {
		parts = append(parts, fmt.Sprintf("code %d", e.Code))
	}
	if e.RetryAfter > 0 {
		parts = append(parts, "retry after "+e.RetryAfter.String())
	}
	if len(parts) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(parts, ", "))
		b.WriteString(")")
	}
	var rest *twclient.TwilioRestError
	if e.Err != nil && !errors.As(e.Err, &rest) {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// PermanentPhone reports whether the error says the phone number itself
// cannot receive texts (codes 21211, 21614, 21635, 30005, 30006): the caller
// should flag the phone, not just fail this message.
func (e *Error) PermanentPhone() bool {
	return e != nil && e.Class == ClassPermanent && FlagsPhone(e.Code)
}

// Classify returns the class of any error: ClassNone for nil, the Class of
// an *Error in the chain, a class derived from the status and code of a
// twilio-go *client.TwilioRestError, and ClassAmbiguous for everything else
// (context cancellation, network errors, unknown errors): when in doubt a
// sender must reconcile before resending.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	var rest *twclient.TwilioRestError
	if errors.As(err, &rest) {
		return classify(rest.Status, rest.Code)
	}
	return ClassAmbiguous
}

// IsPermanentPhone reports whether err is an *Error whose PermanentPhone
// method reports true.
func IsPermanentPhone(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.PermanentPhone()
}

// Twilio error codes with a meaning of their own.
var (
	phoneCodes = map[int]bool{
		21211: true, // invalid 'To' phone number
		21614: true, // 'To' number is not a valid mobile number
		21635: true, // 'To' number cannot be a landline
		30005: true, // unknown destination handset
		30006: true, // landline or unreachable carrier
	}
	retryCodes = map[int]bool{
		20429: true, // too many requests
		21611: true, // 'From' number exceeded its queue of messages
		14107: true, // message rate limit exceeded
		30001: true, // queue overflow (status callback)
		30003: true, // unreachable handset (status callback; often transient)
	}
	configCodes = map[int]bool{
		20003: true, // authentication error
		20005: true, // account not active
		20404: true, // resource not found (wrong account SID or URL)
		21222: true, // invalid username (twilio-go credential check)
		21224: true, // invalid password (twilio-go credential check)
		30002: true, // account suspended
	}
	permanentCodes = map[int]bool{
		21606: true, // 'From' number not SMS-capable for this destination
		21408: true, // permission for the region not enabled
		21612: true, // 'To' not reachable from this 'From'
		30004: true, // message blocked
		30007: true, // carrier filtering
	}
)

// FlagsPhone reports whether a Twilio error code means the phone number
// itself cannot receive texts: 21211, 21614, 21635, 30005, 30006.
func FlagsPhone(code int) bool { return phoneCodes[code] }

// ClassifyCode classifies a Twilio error code alone, as found in the
// ErrorCode of a status callback or a message's error_code: ClassOptOut for
// 21610; ClassPermanent for the FlagsPhone codes and 21606, 21408, 21612,
// 30004, 30007; ClassRetry for 20429, 21611, 14107, 30001, 30003;
// ClassConfig for 20003, 20005, 20404, 21222, 21224, 30002; ClassNone for
// 0 and for codes it does not know.
func ClassifyCode(code int) Class {
	switch {
	case code == 0:
		return ClassNone
	case code == 21610:
		return ClassOptOut
	case phoneCodes[code], permanentCodes[code]:
		return ClassPermanent
	case retryCodes[code]:
		return ClassRetry
	case configCodes[code]:
		return ClassConfig
	}
	return ClassNone
}

// classify maps an HTTP answer (status and Twilio code) to a class. The
// code wins over the status when it is known.
func classify(status, code int) Class {
	if c := ClassifyCode(code); c != ClassNone {
		return c
	}
	switch {
	case status == http.StatusTooManyRequests:
		return ClassRetry
	case status == http.StatusUnauthorized, status == http.StatusForbidden, status == http.StatusNotFound:
		return ClassConfig
	case status == http.StatusRequestTimeout:
		return ClassAmbiguous
	case status >= 400 && status < 500:
		return ClassPermanent
	}
	// 5xx, and 1xx–3xx answers that did not yield a message.
	return ClassAmbiguous
}

// newError builds the *Error for a failed call from the twilio-go error and
// what the transport saw.
func newError(op string, err error, rec *callRecord) *Error {
	status, retryAfter, wrote := rec.get()
	e := &Error{Op: op, HTTPStatus: status, RetryAfter: retryAfter}
	var rest *twclient.TwilioRestError
	switch {
	case errors.As(err, &rest):
		if e.HTTPStatus == 0 {
			e.HTTPStatus = rest.Status
		}
		e.Code = rest.Code
		e.Class = classify(e.HTTPStatus, e.Code)
		// Twilio's message and details may quote the To number: drop them.
		e.Err = &twclient.TwilioRestError{Code: rest.Code, Status: rest.Status, MoreInfo: rest.MoreInfo}
	case status != 0:
		// An answer came but could not be read as Twilio's JSON (a proxy's
		// HTML 502, a truncated body, a 2xx without a message).
		e.Class = classify(status, 0)
		if status < 400 {
			e.Class = ClassAmbiguous
		}
		e.Err = sanitize(err)
	case wrote:
		e.Class = ClassAmbiguous
		e.Err = sanitize(err)
	default:
		// Nothing was written: Twilio cannot have seen the request.
		e.Class = ClassRetry
		e.Err = sanitize(err)
	}
	return e
}

// sanitize strips the query string (which holds the To number for list
// calls) from URLs inside err.
func sanitize(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		u := ue.URL
		if p, perr := url.Parse(u); perr == nil {
			p.RawQuery, p.Fragment, p.User = "", "", nil
			u = p.String()
		} else if i := strings.IndexAny(u, "?#"); i >= 0 {
			u = u[:i]
		}
		return &url.Error{Op: ue.Op, URL: u, Err: ue.Err}
	}
	return err
}
