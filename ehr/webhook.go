package ehr

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/apptbridge/apptbridge"
)

// Webhook headers.
const (
	HeaderIdempotencyKey = "Idempotency-Key"        // the request's control id, the same on every attempt
	HeaderTimestamp      = "X-Apptbridge-Timestamp" // unix seconds of this attempt
	HeaderSignature      = "X-Apptbridge-Signature" // sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
)

// DefaultWebhookTimeout bounds one POST when WebhookSender.Client is nil.
const DefaultWebhookTimeout = 30 * time.Second

// DefaultWebhookTolerance is how far a timestamp may be from now in
// VerifyWebhook when its tolerance is not positive.
const DefaultWebhookTolerance = 5 * time.Minute

// maxWebhookReply bounds the part of the response body kept as Ack.
const maxWebhookReply = 64 << 10

// Errors of VerifyWebhook.
var (
	ErrWebhookSignature = errors.New("ehr: webhook signature does not match")
	ErrWebhookTimestamp = errors.New("ehr: webhook timestamp missing, malformed or outside the tolerance")
)

// WebhookBody is the JSON a WebhookSender posts: the original app's body
// (its mixed-case event_type values "Confirm" and "Cancel" are kept, SPEC
// §9), without its Studio flow_sid.
type WebhookBody struct {
	EventType     string `json:"event_type"` // "Confirm" or "Cancel"
	AppointmentID string `json:"appointment_id"`
	ProviderID    string `json:"provider_id"`
	PatientID     string `json:"patient_id"`
}

// WebhookSender posts requests as JSON to EHR_WEBHOOK_URL (SPEC §9):
//
//	POST <URL>
//	Content-Type: application/json
//	Idempotency-Key: <control id>
//	X-Apptbridge-Timestamp: <unix seconds>
//	X-Apptbridge-Signature: sha256=<hex HMAC-SHA256(Secret, timestamp + "." + body)>
//
//	{"event_type":"Confirm","appointment_id":"…","provider_id":"…","patient_id":"…"}
//
// The body is the same on every attempt; the timestamp and signature are
// made per attempt. A receiver checks them with VerifyWebhook (see there)
// and deduplicates on Idempotency-Key.
//
// Status codes: 2xx → Acked (AckCode "200" etc.); 408, 425, 429, 5xx and
// transport errors → Retry; any other status (other 4xx, and 3xx, which is
// not followed) → Dead.
//
// The zero value with URL and Secret set is usable.
type WebhookSender struct {
	URL    string
	Secret []byte
	// Client defaults to one with DefaultWebhookTimeout that does not
	// follow redirects.
	Client *http.Client
	Now    func() time.Time // timestamps; default time.Now
}

var _ Channel = (*WebhookSender)(nil)

var defaultWebhookClient = &http.Client{
	Timeout: DefaultWebhookTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// Encode implements Encoder: the JSON body (controlID and now are not in
// it; Deliver sends controlID as Idempotency-Key).
func (s *WebhookSender) Encode(typ apptbridge.EventType, a *apptbridge.Appointment, controlID string, now time.Time) ([]byte, error) {
	return EncodeWebhook(typ, a)
}

// EncodeWebhook returns the webhook body for a request. Errors never carry
// appointment data.
func EncodeWebhook(typ apptbridge.EventType, a *apptbridge.Appointment) ([]byte, error) {
	if a == nil {
		return nil, errors.New("ehr: encode: nil appointment")
	}
	var et string
	switch typ {
	case apptbridge.Confirm:
		et = "Confirm"
	case apptbridge.Cancel:
		et = "Cancel"
	default:
		return nil, fmt.Errorf("ehr: encode: event type %q is not CONFIRM or CANCEL", string(typ))
	}
	if a.AppointmentID == "" {
		return nil, errNoAppointmentID
	}
	return json.Marshal(WebhookBody{EventType: et, AppointmentID: a.AppointmentID,
		ProviderID: a.ProviderID, PatientID: a.PatientID})
}

// Deliver posts msg; see WebhookSender for the headers and the outcomes.
func (s *WebhookSender) Deliver(ctx context.Context, controlID string, msg []byte) Result {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	ts := strconv.FormatInt(now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(msg))
	if err != nil {
		// The URL may hold a token: do not repeat it.
		return Result{Outcome: Dead, Err: fmt.Errorf("ehr: webhook %s: invalid URL or request", controlID)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderIdempotencyKey, controlID)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(s.Secret, ts, msg))

	c := s.Client
	if c == nil {
		c = defaultWebhookClient
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return Result{Outcome: Retry, Err: fmt.Errorf("ehr: webhook %s: %w", controlID, err)}
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxWebhookReply))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	resp.Body.Close()

	code := resp.StatusCode
	res := Result{AckCode: strconv.Itoa(code), Ack: body}
	switch {
	case code >= 200 && code < 300:
		res.Outcome = Acked
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly,
		code == http.StatusTooManyRequests, code >= 500:
		res.Outcome = Retry
		res.Err = fmt.Errorf("ehr: webhook %s: HTTP %d", controlID, code)
	default:
		res.Outcome = Dead
		res.Err = fmt.Errorf("ehr: webhook %s: HTTP %d", controlID, code)
	}
	return res
}

// Sign returns the X-Apptbridge-Signature value for a timestamp and body:
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifyWebhook is what a receiver runs on each POST, with the raw body
// bytes (before any JSON decoding) and the X-Apptbridge-Timestamp and
// X-Apptbridge-Signature header values:
//
//  1. the timestamp must be unix seconds within tolerance of now (either
//     side; DefaultWebhookTolerance when tolerance ≤ 0), which bounds
//     replays; else ErrWebhookTimestamp;
//  2. the signature must equal Sign(secret, timestamp, body), compared in
//     constant time; else ErrWebhookSignature.
//
// Then the receiver deduplicates on Idempotency-Key (a retry after a lost
// response carries the same key and body, with a new timestamp) and
// answers 2xx only once the request is durably recorded.
func VerifyWebhook(secret []byte, timestamp string, body []byte, header string, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	secs, err := strconv.ParseInt(strings.TrimSpace(timestamp), 10, 64)
	if err != nil {
		return ErrWebhookTimestamp
	}
	if d := now.Sub(time.Unix(secs, 0)); d > tolerance || d < -tolerance {
		return ErrWebhookTimestamp
	}
	want := Sign(secret, strings.TrimSpace(timestamp), body)
	if !hmac.Equal([]byte(strings.TrimSpace(header)), []byte(want)) {
		return ErrWebhookSignature
	}
	return nil
}
