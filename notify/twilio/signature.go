package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"sort"

	twclient "github.com/twilio/twilio-go/client"
)

// SignatureHeader is the header Twilio signs its webhook requests with.
const SignatureHeader = "X-Twilio-Signature"

// ValidateSignature reports whether signature is Twilio's signature of a
// POST to fullURL with form params, under authToken. It uses twilio-go's
// client.RequestValidator, which also accepts the URL with its default
// port added or removed (Twilio signs either way). fullURL must be the URL
// Twilio was configured with (PUBLIC_BASE_URL + path + query), not one
// rebuilt from request headers.
//
// It is stricter than twilio-go in two ways: an empty authToken or
// signature never validates, and params with a repeated key are refused
// (twilio-go checks only the first value of a key, so a second value could
// ride along unsigned; Twilio's SMS webhooks never repeat a key).
func ValidateSignature(authToken, fullURL string, params url.Values, signature string) bool {
	if authToken == "" || signature == "" {
		return false
	}
	flat := make(map[string]string, len(params))
	for k, vs := range params {
		if len(vs) != 1 {
			return false
		}
		flat[k] = vs[0]
	}
	rv := twclient.NewRequestValidator(authToken)
	if !rv.Validate(fullURL, flat, signature) {
		return false
	}
	// twilio-go also accepts the URL with ANY port removed, so a signature
	// made for http://host/path would pass at http://host:8080/path. Only
	// the URL as configured, with or without its scheme's default port,
	// is Twilio's.
	for _, u := range urlVariants(fullURL) {
		if subtle.ConstantTimeCompare([]byte(Signature(authToken, u, params)), []byte(signature)) == 1 {
			return true
		}
	}
	return false
}

// urlVariants is fullURL, and fullURL with its scheme's default port
// (443 for https, 80 for http) added when it has none or removed when it
// has it.
func urlVariants(fullURL string) []string {
	out := []string{fullURL}
	u, err := url.Parse(fullURL)
	if err != nil || u.Host == "" {
		return out
	}
	def := map[string]string{"https": "443", "http": "80"}[u.Scheme]
	if def == "" {
		return out
	}
	v := *u
	switch u.Port() {
	case "":
		v.Host = u.Host + ":" + def
	case def:
		v.Host = u.Hostname()
	default:
		return out
	}
	return append(out, v.String())
}

// Signature computes the X-Twilio-Signature Twilio sends with a POST of
// params to fullURL: base64 of HMAC-SHA1, keyed by authToken, over fullURL
// followed by each parameter name and value, names sorted (a repeated name
// contributes name+value once per value, values sorted, as Twilio's
// libraries do).
func Signature(authToken, fullURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(fullURL))
	for _, k := range keys {
		vs := append([]string(nil), params[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			mac.Write([]byte(k))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
