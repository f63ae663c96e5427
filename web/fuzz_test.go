package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/apptbridge/apptbridge/notify/twilio"
	"github.com/apptbridge/apptbridge/web"
)

// fuzzBase is PUBLIC_BASE_URL in the fuzz targets (requests are served
// in-process, so any URL will do).
const fuzzBase = "https://appt.example.org"

// fuzzWebhook posts body to path with either the fuzzer's signature or,
// when sign is set, a genuine one over the form the body parses to, and
// checks the webhook's invariants (T22, T30):
//   - it never panics (a panic fails the fuzz run: ServeHTTP is called
//     directly, without net/http's recovery);
//   - a body over web.MaxBody is 413;
//   - it never answers 2xx unless the signature is valid for the form;
//   - with a valid signature, it never answers 5xx or 403.
func fuzzWebhook(t *testing.T, h *harness, path, body, sig string, sign bool) {
	form, formErr := url.ParseQuery(body)
	if sign && formErr == nil {
		sig = twilio.Signature(testToken, fuzzBase+path, form)
	}
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sig != "" {
		req.Header.Set(twilio.SignatureHeader, sig)
	}
	rec := httptest.NewRecorder()
	h.mux.ServeHTTP(rec, req)
	code := rec.Code

	valid := formErr == nil && twilio.ValidateSignature(testToken, fuzzBase+path, form, sig)
	switch {
	case len(body) > web.MaxBody:
		if code != http.StatusRequestEntityTooLarge {
			t.Fatalf("%d-byte body: HTTP %d, want 413", len(body), code)
		}
	case code >= 200 && code < 300 && !valid:
		t.Fatalf("HTTP %d without a valid signature (sig %q, body %q)", code, sig, body)
	case valid && (code >= 500 || code == http.StatusForbidden):
		t.Fatalf("valid signature: HTTP %d %s (body %q)", code, rec.Body.Bytes(), body)
	case code != http.StatusOK && code != http.StatusNoContent && code != http.StatusBadRequest &&
		code != http.StatusForbidden:
		t.Fatalf("HTTP %d %s (body %q)", code, rec.Body.Bytes(), body)
	}
}

func addWebhookSeeds(f *testing.F, forms ...url.Values) {
	for _, fm := range forms {
		enc := fm.Encode()
		f.Add(enc, "", true)
		f.Add(enc, "", false)
		f.Add(enc, twilio.Signature(testToken, fuzzBase+"/twilio/sms", fm), false)
		f.Add(enc, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", false)
	}
	for _, raw := range []string{
		"", "=", "&&&", "%zz", "a=%", "a;b=c", "MessageSid=SM1&From=%2B13125550199&Body=STOP&Body=START",
		"MessageSid=SM1&MessageSid=SM2&From=%2B13125550199", "From=&MessageSid=", "Body=" + strings.Repeat("%F0%9F%98%80", 50),
		"MessageSid=SM1&From=%FF%FE&Body=%00%01",
		"MessageSid=SM1&From=%2B13125550199&Body=" + strings.Repeat("x", web.MaxBody),
	} {
		f.Add(raw, "", true)
		f.Add(raw, "sig", false)
	}
}

// FuzzTwilioSMS posts arbitrary form bodies to the inbound webhook.
//
// Signed inputs go through the reply handler into the real SQLite store,
// whose background goroutines (group commit, checkpoints) make coverage
// vary from run to run: the fuzzer then spends its time minimizing inputs
// that are not reproducibly new. Run it with a short minimization budget:
//
//	go test -run '^$' -fuzz '^FuzzTwilioSMS$' -fuzztime 10m -fuzzminimizetime 1x ./web/
func FuzzTwilioSMS(f *testing.F) {
	h := newHarness(f, options{twilioToken: testToken, baseURL: fuzzBase})
	addWebhookSeeds(f,
		inboundForm("SM"+strings.Repeat("1", 32), patientPhone, "CONFIRM APPT"),
		inboundForm("SM"+strings.Repeat("2", 32), patientPhone, "stop please"),
		inboundForm("SM"+strings.Repeat("3", 32), "not a phone", "HELP"),
		inboundForm("", patientPhone, "START"),
		url.Values{"SmsSid": {"SM4"}, "From": {"+44 20 7946 0000"}, "Body": {"cancel"}},
	)
	f.Fuzz(func(t *testing.T, body, sig string, sign bool) {
		h.t = t
		fuzzWebhook(t, h, "/twilio/sms", body, sig, sign)
	})
}

// FuzzTwilioStatus posts arbitrary form bodies to the status callback.
func FuzzTwilioStatus(f *testing.F) {
	h := newHarness(f, options{twilioToken: testToken, baseURL: fuzzBase})
	addWebhookSeeds(f,
		statusForm("SM"+strings.Repeat("1", 32), "delivered", 0),
		statusForm("SM"+strings.Repeat("1", 32), "undelivered", 30005),
		statusForm("SM"+strings.Repeat("1", 32), "bogus", -1),
		url.Values{"SmsSid": {"SM4"}, "SmsStatus": {"sent"}, "ErrorCode": {"abc"}},
	)
	f.Fuzz(func(t *testing.T, body, sig string, sign bool) {
		h.t = t
		fuzzWebhook(t, h, "/twilio/status", body, sig, sign)
	})
}
