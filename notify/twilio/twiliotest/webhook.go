package twiliotest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/apptbridge/apptbridge/notify/twilio"
)

// Callback posts a status callback for message sid to the message's
// StatusCallback URL, signed with X-Twilio-Signature, and records status
// (and errorCode when non-zero) on the message first, as Twilio does. The
// form has MessageSid, MessageStatus, SmsSid, SmsStatus, AccountSid, To,
// From, MessagingServiceSid (when set), ErrorCode (when non-zero) and
// ApiVersion. A non-2xx answer is an error.
func (s *Server) Callback(ctx context.Context, sid, status string, errorCode int) error {
	s.mu.Lock()
	m, ok := s.bySID[sid]
	if !ok {
		s.mu.Unlock()
		return errors.New("twiliotest: no message " + sid)
	}
	if m.StatusCallback == "" {
		s.mu.Unlock()
		return errors.New("twiliotest: message " + sid + " has no StatusCallback")
	}
	s.setStatusLocked(m, status, errorCode)
	snap := *m
	s.mu.Unlock()

	form := url.Values{
		"MessageSid":    {snap.SID},
		"SmsSid":        {snap.SID},
		"MessageStatus": {status},
		"SmsStatus":     {status},
		"AccountSid":    {snap.AccountSID},
		"To":            {snap.To},
		"From":          {snap.From},
		"ApiVersion":    {APIVersion},
	}
	if snap.MessagingServiceSID != "" {
		form.Set("MessagingServiceSid", snap.MessagingServiceSID)
	}
	if errorCode != 0 {
		form.Set("ErrorCode", strconv.Itoa(errorCode))
	}
	code, err := s.post(ctx, snap.StatusCallback, form)
	if err != nil {
		return fmt.Errorf("twiliotest: status callback for %s: %w", sid, err)
	}
	if s.Logger != nil {
		s.Logger("twilio-sim: callback sid=%s status=%s error_code=%d -> HTTP %d", sid, status, errorCode, code)
	}
	if code < 200 || code > 299 {
		return fmt.Errorf("twiliotest: status callback for %s: HTTP %d", sid, code)
	}
	return nil
}

// Inbound delivers an SMS from `from` to `to` (your Twilio number) to
// webhookURL as Twilio would: a signed form with MessageSid, SmsSid,
// SmsMessageSid, AccountSid, From, To, Body, NumMedia "0", NumSegments,
// SmsStatus "received" and ApiVersion. The message is kept (direction
// inbound, so the Messages list shows it). It returns the new MessageSid
// and the webhook's HTTP status; err is only for transport failures.
func (s *Server) Inbound(ctx context.Context, webhookURL, from, to, body string) (sid string, status int, err error) {
	t := now()
	m := &Message{
		SID:         newSID("SM"),
		AccountSID:  s.accountSID,
		To:          to,
		From:        from,
		Body:        body,
		Status:      "received",
		Direction:   directionInbound,
		NumSegments: Segments(body),
		Created:     t,
		Updated:     t,
		Sent:        t,
	}
	s.mu.Lock()
	s.recordLocked(m)
	s.mu.Unlock()
	status, err = s.InboundWithSID(ctx, webhookURL, m.SID, from, to, body)
	return m.SID, status, err
}

// InboundWithSID delivers an inbound SMS with a given MessageSid, as when
// Twilio retries a webhook: use it to send the same message twice.
func (s *Server) InboundWithSID(ctx context.Context, webhookURL, sid, from, to, body string) (int, error) {
	form := url.Values{
		"MessageSid":    {sid},
		"SmsSid":        {sid},
		"SmsMessageSid": {sid},
		"AccountSid":    {s.accountSID},
		"From":          {from},
		"To":            {to},
		"Body":          {body},
		"NumMedia":      {"0"},
		"NumSegments":   {strconv.Itoa(max(Segments(body), 1))},
		"SmsStatus":     {"received"},
		"ApiVersion":    {APIVersion},
	}
	code, err := s.post(ctx, webhookURL, form)
	if err != nil {
		return 0, fmt.Errorf("twiliotest: inbound %s: %w", sid, err)
	}
	if s.Logger != nil {
		if s.Verbose {
			s.Logger("twilio-sim: inbound sid=%s body=%q -> HTTP %d", sid, body, code)
		} else {
			s.Logger("twilio-sim: inbound sid=%s -> HTTP %d", sid, code)
		}
	}
	return code, nil
}

// post sends form to target signed with the account's auth token and
// returns the HTTP status.
func (s *Server) post(ctx context.Context, target string, form url.Values) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set(twilio.SignatureHeader, twilio.Signature(s.authToken, target, form))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}
