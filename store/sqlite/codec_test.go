package sqlite

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apptbridge/apptbridge"
)

// TestJSONShape fails when Event, Source or Appointment changed: the hand
// encoder and decoder (jsonenc.go, jsondec.go) must learn the new fields,
// then jsonShape is updated. Until then the writer uses encoding/json.
func TestJSONShape(t *testing.T) {
	if !fastJSON {
		t.Errorf("the stored types changed; update jsonenc.go, jsondec.go and jsonShape to:\n%s",
			shapeOf(apptbridge.Event{}, apptbridge.Source{}, apptbridge.Appointment{}))
	}
}

// randString returns strings that exercise JSON escaping: HTML characters,
// quotes, control characters, multi-byte runes, U+2028, invalid UTF-8.
func randString(r *rand.Rand) string {
	if r.IntN(4) == 0 {
		return ""
	}
	parts := []string{"a", "Z", "0", " ", "<", ">", "&", `"`, `\`, "/", "'", "\n", "\t", "\r", "\b", "\f",
		"\x00", "\x01", "\x1f", "\x7f", "é", "日本", "😀", "\u2028", "\u2029", "\ufffd", "\xff", "\xe2\x82", "O'Brien", "+15555550100"}
	var b strings.Builder
	for range r.IntN(8) {
		b.WriteString(parts[r.IntN(len(parts))])
	}
	return b.String()
}

func randTime(r *rand.Rand) time.Time {
	if r.IntN(3) == 0 {
		return time.Time{}
	}
	t := time.Unix(r.Int64N(4e9), r.Int64N(1e9))
	switch r.IntN(5) {
	case 0:
		return t.UTC()
	case 1:
		return t.In(time.FixedZone("", -6*3600))
	case 2:
		return t.In(time.FixedZone("X", 5*3600+1800))
	case 3:
		return t.Local()
	}
	return t.UTC().Truncate(time.Microsecond)
}

// randFill sets every field of the struct v points to (recursively) to a
// random value, zero values often: new fields are covered as they come.
func randFill(r *rand.Rand, v reflect.Value) {
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(randString(r))
		case reflect.Int, reflect.Int64:
			if r.IntN(3) != 0 {
				f.SetInt(r.Int64N(1000) - r.Int64N(10))
			}
		case reflect.Bool:
			f.SetBool(r.IntN(2) == 0)
		case reflect.Struct:
			if f.Type() == reflect.TypeOf(time.Time{}) {
				f.Set(reflect.ValueOf(randTime(r)))
			} else {
				randFill(r, f)
			}
		case reflect.Pointer:
			if r.IntN(3) != 0 {
				p := reflect.New(f.Type().Elem())
				randFill(r, p.Elem())
				f.Set(p)
			}
		default:
			panic("randFill: unhandled kind " + f.Kind().String())
		}
	}
}

func validStrings(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		return strings.ToValidUTF8(v.String(), "\ufffd") == v.String()
	case reflect.Pointer:
		return v.IsNil() || validStrings(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if !validStrings(v.Field(i)) {
				return false
			}
		}
	}
	return true
}

func TestEncodeMatchesJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var enc jsonEnc
	for i := range 2000 {
		var a apptbridge.Appointment
		randFill(r, reflect.ValueOf(&a).Elem())
		want, wantErr := json.Marshal(&a)
		err := enc.encodeAppointment(&a)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%d: appointment: error %v, json.Marshal %v", i, err, wantErr)
		}
		if err == nil && !bytes.Equal(enc.buf, want) {
			t.Fatalf("%d: appointment:\n got %s\nwant %s", i, enc.buf, want)
		}
		if err == nil && enc.lossy == validStrings(reflect.ValueOf(a)) {
			t.Fatalf("%d: lossy %v for %q", i, enc.lossy, enc.buf)
		}
		want, wantErr = json.Marshal(&a.Event)
		err = enc.encodeEvent(&a.Event)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%d: event: error %v, json.Marshal %v", i, err, wantErr)
		}
		if err == nil && !bytes.Equal(enc.buf, want) {
			t.Fatalf("%d: event:\n got %s\nwant %s", i, enc.buf, want)
		}
	}
	// A time json.Marshal cannot encode fails both.
	a := apptbridge.Appointment{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := json.Marshal(&a); err == nil {
		t.Fatal("json.Marshal encoded year 10000")
	}
	if err := enc.encodeAppointment(&a); err == nil {
		t.Error("encodeAppointment encoded year 10000")
	}
}

// checkDecode compares decodeAppointment with json.Unmarshal on doc.
func checkDecode(t *testing.T, doc string) {
	t.Helper()
	var got, want apptbridge.Appointment
	err := decodeAppointment(doc, &got)
	wantErr := json.Unmarshal([]byte(doc), &want)
	if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
		t.Fatalf("decode %q: error %v, json.Unmarshal %v", doc, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decode %q:\n got %+v\nwant %+v", doc, got, want)
	}
}

func TestDecodeMatchesJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		var a apptbridge.Appointment
		randFill(r, reflect.ValueOf(&a).Elem())
		b, err := json.Marshal(&a)
		if err != nil {
			continue
		}
		checkDecode(t, string(b))
		ind, _ := json.MarshalIndent(&a, " ", "\t")
		checkDecode(t, string(ind))
		// Every prefix of a short document is malformed.
		if len(b) < 120 {
			for i := range b {
				checkDecode(t, string(b[:i]))
			}
		}
	}
	for _, doc := range decodeSeeds {
		checkDecode(t, doc)
	}
}

// The decoder's own mistakes: cases json.Unmarshal handles differently
// from a naive parser.
var decodeSeeds = []string{
	`{}`, ` { } `, `{"version":3}`, `null`, `[]`, `""`, `{"version":3}x`, `{"version":3}}`,
	`{"event_id":"a","event_id":"b"}`,            // repeated key
	`{"EVENT_ID":"a"}`, `{"Event_Id":"a","x":1}`, // key case, unknown key
	`{"event_id":null}`, `{"source":null}`, `{"source":{}}`, `{"source":{"channel":"mllp","Channel":"x"}}`,
	`{"event_id":"a\u0026b\u003c\u2028\ud83d\ude00\ud800x\udc00\/\'"}`, // escapes, surrogates
	`{"event_id":"\ud800\u0041"}`, `{"event_id":"\u00"}`, `{"event_id":"\x"}`,
	`{"event_id":"a` + "\x01" + `"}`, `{"event_id":"` + "\xff" + `"}`, `{"event_id":"\u00e9` + "\xff" + `"}`,
	`{"version":-0}`, `{"version":01}`, `{"version":1.0}`, `{"version":1e2}`, `{"version":-}`,
	`{"version":9223372036854775807}`, `{"version":9223372036854775808}`, `{"reminders_sent":"1"}`,
	`{"confirmed":true}`, `{"confirmed":truex}`, `{"confirmed":1}`, `{"confirmed":fals}`,
	`{"created_at":"2030-01-01T00:00:00Z"}`, `{"created_at":"2030-01-01T00:00:00.123456789-06:00"}`,
	`{"created_at":"2030-01-01T00:00:00\u005a"}`, `{"created_at":"2030-01-01"}`, `{"created_at":null}`,
	`{"created_at":"2030-01-01T00:00:00+24:00"}`, `{"created_at":"0000-01-01T00:00:00Z"}`,
	`{"event_id":"a",}`, `{,}`, `{"event_id" "a"}`, `{"event_id":"a" "b":1}`, "{\"event_id\":\"a\"\n}",
}

func FuzzDecodeAppointment(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add(s)
	}
	f.Add(`{"event_id":"e","event_type":"BOOKED","event_datetime_utc":"2030-01-01T00:00:01Z","patient_id":"PAT-1",` +
		`"patient_phone":"+15555550100","appointment_id":"A-1","appointment_datetime":"2099-01-01T09:00:00",` +
		`"appointment_timezone":"+0000","appointment_tz":"UTC","appointment_datetime_utc":"2099-01-01T09:00:00Z",` +
		`"source":{"channel":"mllp","received_at":"2030-01-01T00:00:00Z"},"disposition":"QUEUED","confirmed":false,` +
		`"reminders_sent":0,"created_at":"2030-01-01T00:00:00Z","updated_at":"2030-01-01T00:00:00Z","version":1}`)
	f.Fuzz(func(t *testing.T, doc string) { checkDecode(t, doc) })
}

func FuzzEncodeString(f *testing.F) {
	for _, s := range []string{"", "a<b>&c", "\"\\/", "\x00\x1f\x7f", "é日本😀", "\u2028\u2029", "\xff\xe2\x82", "\ufffd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		var e jsonEnc
		e.string(s)
		if !bytes.Equal(e.buf, want) {
			t.Fatalf("string %q: got %s, want %s", s, e.buf, want)
		}
		if e.lossy != !utf8.ValidString(s) {
			t.Fatalf("string %q: lossy %v", s, e.lossy)
		}
	})
}
