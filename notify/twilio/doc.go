// Package twilio is apptbridge's thin client over twilio-go for sending
// texts and checking Twilio's webhook signatures (SPEC §7–8).
//
// Client.Send creates one message (POST /2010-04-01/Accounts/{AccountSid}/
// Messages.json with To, From or MessagingServiceSid, Body and
// StatusCallback). It never retries: every failure is an *Error whose Class
// tells the caller what to do (RELIABILITY §2):
//
//	ClassRetry      HTTP 429 / 20429, 21611, or nothing written: back off, retry
//	ClassOptOut     21610 (replied STOP): opt the phone out, no retry
//	ClassPermanent  21211, 21614, 21635, 30005, 30006 (PermanentPhone: flag
//	                the phone), 21612, 21408, 21606 and other 4xx: no retry
//	ClassAmbiguous  5xx, timeout, connection lost after the request was
//	                written, unreadable answer: reconcile with Find first
//	ClassConfig     401, 403, 404, bad credentials or account: stop, alert
//
// Client.Find reconciles an ambiguous send: it walks the Messages list for
// the recipient, newest first, looking for the same body created since the
// attempt. Twilio's create has no idempotency key, so a sender that records
// the attempt before calling Send and calls Find before any resend never
// texts a patient twice.
//
// Config.BaseURL (TWILIO_API_BASE_URL) points the client at another host,
// same paths: package twiliotest serves Twilio's Messages API locally.
//
// twilio-go's calls take no context; the Client builds a small twilio-go
// client per call whose HTTP transport carries the context, the per-call
// timeout, the BaseURL rewrite, and records the HTTP status, Retry-After
// and whether the request was written (the line between ClassRetry and
// ClassAmbiguous for transport errors).
//
// No phone number or body appears in an *Error's message: Twilio's error
// text (which can quote the To number) is dropped and URLs lose their
// query string.
//
// ValidateSignature checks X-Twilio-Signature with twilio-go's
// RequestValidator; Signature computes it (for tests and the simulator).
package twilio
