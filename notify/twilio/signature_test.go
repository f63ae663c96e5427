package twilio

import (
	"net/url"
	"strings"
	"testing"
)

// twilio-go's own test vector (client/request_validator_test.go).
func TestSignatureVector(t *testing.T) {
	params := url.Values{
		"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"},
		"Caller": {"+14158675309"}, "From": {"+14158675309"},
		"ReasonConferenceEnded": {"test"}, "Reason": {"Participant"},
	}
	const u = "https://mycompany.com/myapp.php?foo=1&bar=2"
	if got := Signature("12345", u, params); got != "vOEb5UThFn24KEfnOFLQY2AE5FY=" {
		t.Errorf("Signature = %s", got)
	}
	if !ValidateSignature("12345", u, params, "vOEb5UThFn24KEfnOFLQY2AE5FY=") {
		t.Error("vector does not validate")
	}
}

func TestSignatureMutants(t *testing.T) {
	const token = "f00dfeedf00dfeedf00dfeedf00dfeed"
	const hook = "https://clinic.example.org:8443/twilio/sms"
	params := func() url.Values {
		return url.Values{
			"MessageSid": {"SM0123456789abcdef0123456789abcdef"},
			"AccountSid": {"AC0123456789abcdef0123456789abcdef"},
			"From":       {"+15551230000"},
			"To":         {"+15005550006"},
			"Body":       {"CONFIRM APPT"},
			"NumMedia":   {"0"},
		}
	}
	sig := Signature(token, hook, params())
	if !ValidateSignature(token, hook, params(), sig) {
		t.Fatal("genuine signature rejected")
	}
	flip := []byte(sig)
	flip[3] ^= 1
	type mutant struct {
		name, token, url, sig string
		params                url.Values
	}
	p := func(f func(url.Values)) url.Values { v := params(); f(v); return v }
	mutants := []mutant{
		{"changed param", token, hook, sig, p(func(v url.Values) { v.Set("Body", "CANCEL APPT") })},
		{"changed sid", token, hook, sig, p(func(v url.Values) { v.Set("MessageSid", "SM0123456789abcdef0123456789abcdee") })},
		{"extra param", token, hook, sig, p(func(v url.Values) { v.Set("OptOutType", "STOP") })},
		{"repeated param", token, hook, sig, p(func(v url.Values) { v.Add("Body", "STOP") })},
		{"missing param", token, hook, sig, p(func(v url.Values) { v.Del("NumMedia") })},
		{"empty value", token, hook, sig, p(func(v url.Values) { v.Set("Body", "") })},
		{"scheme", token, strings.Replace(hook, "https:", "http:", 1), sig, params()},
		{"host", token, strings.Replace(hook, "clinic.", "evil.", 1), sig, params()},
		{"port", token, strings.Replace(hook, ":8443", ":9443", 1), sig, params()},
		{"path", token, hook + "/x", sig, params()},
		{"query", token, hook + "?a=1", sig, params()},
		{"wrong token", "f00dfeedf00dfeedf00dfeedf00dfeee", hook, sig, params()},
		{"empty token", "", hook, sig, params()},
		{"empty signature", token, hook, "", params()},
		{"flipped byte", token, hook, string(flip), params()},
		{"truncated", token, hook, sig[:len(sig)-2], params()},
	}
	for _, m := range mutants {
		if ValidateSignature(m.token, m.url, m.params, m.sig) {
			t.Errorf("%s: mutant accepted", m.name)
		}
	}
	// An attacker cannot sign with an empty token either.
	if ValidateSignature("", hook, params(), Signature("", hook, params())) {
		t.Error("empty token validated")
	}
}

func TestSignatureDefaultPort(t *testing.T) {
	// Like twilio-go, a URL validates with or without its default port.
	const token = "abc"
	v := url.Values{"A": {"1"}}
	sig := Signature(token, "https://h.example/x", v)
	if !ValidateSignature(token, "https://h.example:443/x", v, sig) {
		t.Error("default port added: rejected")
	}
	if ValidateSignature(token, "http://h.example:80/x", v, sig) {
		t.Error("scheme change accepted")
	}
}

func TestSignatureRepeatedKeys(t *testing.T) {
	a := Signature("t", "https://h/x", url.Values{"K": {"b", "a"}})
	b := Signature("t", "https://h/x", url.Values{"K": {"a", "b"}})
	if a != b {
		t.Error("value order changes the signature")
	}
	if a == Signature("t", "https://h/x", url.Values{"K": {"a"}}) {
		t.Error("second value not signed")
	}
}

func TestValidateSignaturePorts(t *testing.T) {
	const tok = "00112233445566778899aabbccddeeff"
	p := url.Values{"Body": {"hi"}, "From": {"+13125550199"}}
	for _, tc := range []struct {
		signed, at string
		ok         bool
	}{
		{"https://appt.example.org/twilio/sms", "https://appt.example.org/twilio/sms", true},
		{"https://appt.example.org:443/twilio/sms", "https://appt.example.org/twilio/sms", true},
		{"https://appt.example.org/twilio/sms", "https://appt.example.org:443/twilio/sms", true},
		{"http://appt.example.org/twilio/sms", "http://appt.example.org:80/twilio/sms", true},
		{"http://appt.example.org/twilio/sms", "http://appt.example.org:8080/twilio/sms", false},
		{"https://appt.example.org/twilio/sms", "https://appt.example.org:8443/twilio/sms", false},
		{"https://appt.example.org:8443/twilio/sms", "https://appt.example.org/twilio/sms", false},
	} {
		if got := ValidateSignature(tok, tc.at, p, Signature(tok, tc.signed, p)); got != tc.ok {
			t.Errorf("signed %s, validated at %s: %v, want %v", tc.signed, tc.at, got, tc.ok)
		}
	}
}
