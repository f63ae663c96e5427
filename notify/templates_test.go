package notify

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"
	_ "time/tzdata" // the zone tests must not depend on the host's zoneinfo

	"github.com/apptbridge/apptbridge"
)

// -update rewrites testdata/golden/*.txt. Registered only if no other
// test file of the package registered it.
var _ = func() bool {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
	return true
}()

func updatingGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// PHI that must never reach a text (T20).
const (
	canaryLastName = "Lastcanary"
	canaryID       = "MRN-CANARY-7731"
	canaryType     = "TYPECANARY"
	canaryReason   = "REASONCANARY"
	canaryPhone    = "+15555550123"
)

var tplVars = Vars{CustomerName: "Acme Family Health", CallbackPhone: "(555) 555-0199"}

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// typicalAppt is the original's example: 1:15 PM on Friday, November
// 12, 2021, in Chicago.
func typicalAppt(t testing.TB, lang string) *apptbridge.Appointment {
	a := &apptbridge.Appointment{Event: apptbridge.Event{
		PatientID:             canaryID,
		PatientFirstName:      "Maria",
		PatientLastName:       canaryLastName,
		PatientPhone:          canaryPhone,
		PatientLanguage:       lang,
		ProviderID:            "PRV-1",
		ProviderFirstName:     "Jane",
		ProviderLastName:      "Smith",
		ProviderCallbackPhone: "(555) 555-0100",
		AppointmentID:         "APPT-1",
		AppointmentLocation:   "Main Street Clinic, 123 Main St",
		AppointmentType:       canaryType,
		AppointmentReason:     canaryReason,
	}, Disposition: apptbridge.DispQueued}
	chicago := mustLoc(t, "America/Chicago")
	a.SetAppointmentTime(time.Date(2021, time.November, 12, 13, 15, 0, 0, chicago), chicago)
	return a
}

var long200 = strings.Repeat("Abcdefghi ", 19) + "Abcdefghij" // 200 characters

type tplVariant struct {
	name string
	mod  func(a *apptbridge.Appointment, v *Vars)
	// hasDate: the date must appear in full in every text that shows it.
	hasDate bool
}

var tplVariants = []tplVariant{
	{"typical", func(*apptbridge.Appointment, *Vars) {}, true},
	{"long", func(a *apptbridge.Appointment, v *Vars) {
		a.PatientFirstName, a.ProviderFirstName, a.ProviderLastName = long200, long200, long200
		a.AppointmentLocation, v.CustomerName = long200, long200
	}, true},
	{"long-words", func(a *apptbridge.Appointment, v *Vars) {
		w := strings.Repeat("x", 200)
		a.PatientFirstName, a.ProviderLastName, a.AppointmentLocation = w, w, w
	}, true},
	{"long-non-gsm", func(a *apptbridge.Appointment, v *Vars) {
		a.PatientFirstName = strings.Repeat("Zoë ", 50)
		a.ProviderFirstName = strings.Repeat("Łukasz ", 30)
		a.ProviderLastName = strings.Repeat("王芳", 100)
		a.AppointmentLocation = strings.Repeat("مستشفى 😀 ", 25)
		v.CustomerName = strings.Repeat("Clínica Ñandú ", 15)
	}, true},
	{"long-extension-chars", func(a *apptbridge.Appointment, v *Vars) {
		a.AppointmentLocation = strings.Repeat("[Main]{St}|€~^\\", 14)
		a.ProviderLastName = strings.Repeat("€", 200)
	}, true},
	{"non-gsm", func(a *apptbridge.Appointment, v *Vars) {
		a.PatientFirstName = "Zoë 😀"
		a.ProviderFirstName, a.ProviderLastName = "Łukasz", "王芳"
		a.AppointmentLocation = "مستشفى المدينة 😀"
		v.CustomerName = "Clínica Ñandú ☀"
	}, true},
	{"emoji-only", func(a *apptbridge.Appointment, v *Vars) {
		a.PatientFirstName, a.ProviderLastName, a.AppointmentLocation = "😀😀", "😀", strings.Repeat("😀", 100)
	}, true},
	{"whitespace", func(a *apptbridge.Appointment, v *Vars) {
		a.PatientFirstName = "  Maria \t Jose\n"
		a.AppointmentLocation = "Main\r\nStreet  Clinic\x00"
	}, true},
	{"no-provider-location-callback", func(a *apptbridge.Appointment, v *Vars) {
		a.ProviderFirstName, a.ProviderLastName, a.ProviderCallbackPhone = "", "", ""
		a.AppointmentLocation, v.CallbackPhone = "", ""
	}, true},
	{"provider-first-name-only", func(a *apptbridge.Appointment, v *Vars) {
		a.ProviderLastName = ""
	}, true},
	{"all-empty", func(a *apptbridge.Appointment, v *Vars) {
		a.PatientFirstName, a.ProviderFirstName, a.ProviderLastName = "", "", ""
		a.ProviderCallbackPhone, a.AppointmentLocation = "", ""
		*v = Vars{}
	}, true},
	{"no-date", func(a *apptbridge.Appointment, v *Vars) {
		a.AppointmentDatetime, a.AppointmentTimezone, a.AppointmentTZ = "", "", ""
		a.AppointmentDatetimeUTC = time.Time{}
		a.AppointmentLocation = ""
	}, false},
}

var (
	doubleSpace = regexp.MustCompile(`  |\t| \n|\n |\n\n\n| [.,:;!?]`)
	tplWhen     = map[string]string{
		"en": "1:15 PM on Friday, November 12, 2021",
		"es": "viernes 12 de noviembre de 2021 a la 1:15 PM",
	}
)

func loadBuiltins(t testing.TB) *Templates {
	t.Helper()
	tp, err := LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// checkBody asserts what every text must be.
func checkBody(t *testing.T, body string) {
	t.Helper()
	if enc, n := Segments(body); n > MaxSegments || n == 0 {
		t.Errorf("%d %s segments:\n%s", n, enc, body)
	}
	for _, bad := range []string{"{{", "}}", "<no value>", "....", canaryLastName, canaryID, canaryType, canaryReason, canaryPhone, "…"} {
		if strings.Contains(body, bad) {
			t.Errorf("contains %q:\n%s", bad, body)
		}
	}
	if m := doubleSpace.FindString(body); m != "" {
		t.Errorf("bad spacing %q:\n%s", m, body)
	}
	if body != strings.TrimSpace(body) {
		t.Errorf("not trimmed: %q", body)
	}
	if regexp.MustCompile(`Dr\.\s*([.,:;\n]|$)`).MatchString(body) {
		t.Errorf("Dr. without a name:\n%s", body)
	}
}

// TestRenderMatrix renders every kind × language × variant (T20).
func TestRenderMatrix(t *testing.T) {
	tp := loadBuiltins(t)
	for _, lang := range []string{"en", "es"} {
		for _, k := range tp.Kinds() {
			for _, vr := range tplVariants {
				t.Run(lang+"/"+string(k)+"/"+vr.name, func(t *testing.T) {
					a, v := typicalAppt(t, lang), tplVars
					vr.mod(a, &v)
					body, err := tp.Render(k, a, v)
					if err != nil {
						t.Fatal(err)
					}
					checkBody(t, body)
					src, _ := builtinFS.ReadFile("templates/" + string(k) + "." + lang + ".tmpl")
					showsDate := strings.Contains(string(src), ".When")
					if vr.hasDate && showsDate && !strings.Contains(body, tplWhen[lang]) {
						t.Errorf("date %q missing:\n%s", tplWhen[lang], body)
					}
					if a.ProviderFirstName == "" && a.ProviderLastName == "" && strings.Contains(body, "Dr.") {
						t.Errorf("Dr. without a provider:\n%s", body)
					}
					if vr.name == "typical" {
						if !GSM7(body) {
							t.Errorf("typical text is not GSM-7:\n%s", body)
						}
						if strings.Contains(string(src), ".PatientFirstName") && !strings.Contains(body, "Maria") {
							t.Errorf("first name missing:\n%s", body)
						}
					}
					if strings.HasPrefix(vr.name, "long") && strings.Contains(string(src), ".Location") && !strings.Contains(body, "...") {
						t.Errorf("long values not shortened with ...:\n%s", body)
					}
				})
			}
		}
	}
}

func TestRenderNilAppointment(t *testing.T) {
	tp := loadBuiltins(t)
	for _, k := range tp.Kinds() {
		body, err := tp.Render(k, nil, tplVars)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		t.Run(string(k), func(t *testing.T) { checkBody(t, body) })
	}
	help, _ := tp.Render(apptbridge.TextHelp, nil, tplVars)
	for _, want := range []string{"Acme Family Health", "(555) 555-0199", "Reply STOP to opt out"} {
		if !strings.Contains(help, want) {
			t.Errorf("help text lacks %q: %s", want, help)
		}
	}
}

func TestRenderGolden(t *testing.T) {
	tp := loadBuiltins(t)
	for _, lang := range []string{"en", "es"} {
		for _, k := range tp.Kinds() {
			body, err := tp.Render(k, typicalAppt(t, lang), tplVars)
			if err != nil {
				t.Fatal(err)
			}
			enc, n := Segments(body)
			got := body + "\n"
			path := filepath.Join("testdata", "golden", string(k)+"."+lang+".txt")
			if updatingGolden() {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: %s, %d segment(s)", path, enc, n)
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./notify -run TestRenderGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs (go test -run TestRenderGolden -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		}
	}
}

func TestBuiltins(t *testing.T) {
	tp := loadBuiltins(t)
	if got := tp.Kinds(); len(got) != 13 {
		t.Errorf("Kinds = %v", got)
	}
	if got := tp.Languages(); !slices.Equal(got, []string{"en", "es"}) {
		t.Errorf("Languages = %v", got)
	}
	entries, _ := builtinFS.ReadDir("templates")
	if len(entries) != 26 {
		t.Errorf("%d built-in files, want 26", len(entries))
	}
	for _, k := range tp.Kinds() {
		for _, lang := range []string{"en", "es"} {
			if tp.tpl[tplKey{k, lang}] == nil {
				t.Errorf("no built-in %s.%s", k, lang)
			}
		}
	}
}

// TestBuiltinsGSM7: the built-in texts are GSM-7 only (the Spanish ones
// without á í ó ú).
func TestBuiltinsGSM7(t *testing.T) {
	entries, _ := builtinFS.ReadDir("templates")
	for _, e := range entries {
		src, _ := builtinFS.ReadFile("templates/" + e.Name())
		if !GSM7(string(src)) {
			for _, r := range string(src) {
				if gsmSeptets(r) == 0 {
					t.Errorf("%s: %q is not GSM-7", e.Name(), r)
				}
			}
		}
	}
}

var upperWord = regexp.MustCompile(`[A-Z]{2,}`)

// TestBuiltinsReservedWords: no built-in text asks for a bare reserved
// word (T18). Every CANCEL is CANCEL APPT, STOP appears only as the
// opt-out instruction, and no other carrier keyword appears.
func TestBuiltinsReservedWords(t *testing.T) {
	stopOK := map[string][]string{
		"en": {"Reply STOP to opt out.", "or STOP to opt out.", "replying STOP to this message."},
		"es": {"Responda STOP para darse de baja.", "o STOP para darse de baja.", "respondiendo STOP a este mensaje."},
	}
	ask := map[string]string{
		"en": "Reply CONFIRM APPT to confirm or CANCEL APPT to cancel",
		"es": "Responda CONFIRM APPT para confirmar o CANCEL APPT para cancelar",
	}
	entries, _ := builtinFS.ReadDir("templates")
	for _, e := range entries {
		b, _ := builtinFS.ReadFile("templates/" + e.Name())
		src := string(b)
		parts := strings.Split(strings.TrimSuffix(e.Name(), ".tmpl"), ".")
		kind, lang := apptbridge.TextKind(parts[0]), parts[1]
		if err := lintReserved(src); err != nil {
			t.Errorf("%s: %v", e.Name(), err)
		}
		for i := strings.Index(src, "CANCEL"); i >= 0; i = next(src, "CANCEL", i) {
			if !strings.HasPrefix(src[i:], "CANCEL APPT") {
				t.Errorf("%s: bare CANCEL at %d", e.Name(), i)
			}
		}
		stops := strings.Count(src, "STOP")
		for _, ok := range stopOK[lang] {
			stops -= strings.Count(src, ok)
		}
		if stops != 0 {
			t.Errorf("%s: STOP used other than as the opt-out instruction", e.Name())
		}
		if strings.Contains(src, "STOP") && kind != apptbridge.TextHelp && kind != apptbridge.TextOptedIn && kind != apptbridge.TextNotUnderstood {
			t.Errorf("%s: mentions STOP", e.Name())
		}
		for _, w := range upperWord.FindAllString(src, -1) {
			switch w {
			case "CONFIRM", "APPT", "CANCEL", "STOP", "HELP", "PM", "AM":
			default:
				t.Errorf("%s: upper-case word %s", e.Name(), w)
			}
		}
		if kind.AsksReply() != strings.Contains(src, ask[lang]+".") && kind != apptbridge.TextHelp && kind != apptbridge.TextNotUnderstood {
			t.Errorf("%s: AsksReply %v but asks %q: %v", e.Name(), kind.AsksReply(), ask[lang], !kind.AsksReply())
		}
		if strings.Contains(src, "HELP") && kind != apptbridge.TextNotUnderstood {
			t.Errorf("%s: mentions HELP", e.Name())
		}
	}
}

func next(s, sub string, i int) int {
	j := strings.Index(s[i+1:], sub)
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// TestDataAllowlist: the template data carries only the allowed fields
// (T20: no patient last name, id, DOB, type or reason).
func TestDataAllowlist(t *testing.T) {
	var names []string
	for f := range reflect.TypeFor[Data]().Fields() {
		names = append(names, f.Name)
	}
	want := []string{"PatientFirstName", "ProviderFirstName", "ProviderLastName", "Location", "When", "CallbackPhone", "CustomerName"}
	if !slices.Equal(names, want) {
		t.Errorf("Data fields = %v, want %v", names, want)
	}
}

func TestLanguage(t *testing.T) {
	tp := loadBuiltins(t)
	for in, want := range map[string]string{
		"": "en", "en": "en", "en-US": "en", "EN": "en", "es": "es", "es-MX": "es", "ES": "es",
		"es_mx": "es", " es ": "es", "spa": "es", "Spanish": "es", "Español": "es", "fr": "en",
		"de-DE": "en", "eng": "en", "xx-yy-zz": "en",
	} {
		if got := tp.Language(in); got != want {
			t.Errorf("Language(%q) = %q, want %q", in, got, want)
		}
	}
	body, err := tp.Render(apptbridge.TextBooked, typicalAppt(t, "es-MX"), tplVars)
	if err != nil || !strings.HasPrefix(body, "Hola, Maria.") {
		t.Errorf("es-MX: %q, %v", body, err)
	}
	body, err = tp.Render(apptbridge.TextBooked, typicalAppt(t, "fr"), tplVars)
	if err != nil || !strings.HasPrefix(body, "Hello, Maria.") {
		t.Errorf("fr: %q, %v", body, err)
	}
}

func TestRenderCallbackPhone(t *testing.T) {
	tp := loadBuiltins(t)
	a := typicalAppt(t, "en")
	body, _ := tp.Render(apptbridge.TextBooked, a, tplVars)
	if !strings.Contains(body, "call us at (555) 555-0100.") {
		t.Errorf("provider callback phone not used: %s", body)
	}
	a.ProviderCallbackPhone = ""
	body, _ = tp.Render(apptbridge.TextBooked, a, tplVars)
	if !strings.Contains(body, "call us at (555) 555-0199.") {
		t.Errorf("clinic callback phone not used: %s", body)
	}
	body, _ = tp.Render(apptbridge.TextBooked, a, Vars{})
	if strings.Contains(body, "call us") || strings.Contains(body, "From") {
		t.Errorf("no phone, no customer: %s", body)
	}
}

func TestRenderUnknownKind(t *testing.T) {
	tp := loadBuiltins(t)
	for _, k := range []apptbridge.TextKind{apptbridge.TextNone, apptbridge.TextReply, "remind-3"} {
		if _, err := tp.Render(k, typicalAppt(t, "en"), tplVars); err == nil {
			t.Errorf("Render(%q) did not fail", k)
		}
	}
}

// TestRenderFitting: short non-GSM values are kept (UCS-2 within two
// segments); long ones are transliterated first, then shortened.
func TestRenderFitting(t *testing.T) {
	tp := loadBuiltins(t)
	a := typicalAppt(t, "en")
	a.PatientFirstName = "Zoë"
	body, _ := tp.Render(apptbridge.TextConfirmed, a, Vars{})
	if !strings.Contains(body, "Hello, Zoë.") {
		t.Errorf("short text should keep Zoë: %s", body)
	}
	if enc, _ := Segments(body); enc != EncodingUCS2 {
		t.Errorf("encoding %s", enc)
	}
	a.AppointmentLocation = "Clinique Saint-Étienne, 12 rue de l’Hôpital"
	body, _ = tp.Render(apptbridge.TextBooked, a, tplVars)
	if !strings.Contains(body, "Hello, Zoe.") || !strings.Contains(body, "at Clinique Saint-Étienne, 12 rue de l'Hopital.") {
		t.Errorf("long text should be transliterated, not shortened: %s", body)
	}
	if !GSM7(body) {
		t.Errorf("not GSM-7: %s", body)
	}
	a.AppointmentLocation = long200
	body, _ = tp.Render(apptbridge.TextBooked, a, tplVars)
	if !strings.Contains(body, "at Abcdefghi") || !strings.Contains(body, "...") {
		t.Errorf("long location not shortened: %s", body)
	}
	if _, n := Segments(body); n != 2 {
		t.Errorf("%d segments: the shortened text should use the room of two", n)
	}
}

func TestShorten(t *testing.T) {
	d := Data{PatientFirstName: "Maria", Location: strings.Repeat("L", 100), CustomerName: strings.Repeat("C", 60)}
	if !shorten(&d, 70, true) {
		t.Fatal("shorten reported no value")
	}
	if d.PatientFirstName != "Maria" || len(d.Location) != len(d.CustomerName) || len(d.Location) != 45 ||
		!strings.HasSuffix(d.Location, "...") {
		t.Errorf("water-filling: %+v", d)
	}
	d = Data{PatientFirstName: "Ann Leeson", When: "x"}
	shorten(&d, 3, true)
	if d.PatientFirstName != "Ann..." {
		t.Errorf("shortened to %q, want Ann... (no space before ...)", d.PatientFirstName)
	}
	d = Data{PatientFirstName: "Ann Lee"}
	shorten(&d, 4, true)
	if d.PatientFirstName != "" {
		t.Errorf("a value keeping fewer than %d characters must be dropped: %q", minKept, d.PatientFirstName)
	}
	d = Data{Location: strings.Repeat("€", 10), CustomerName: strings.Repeat("e", 12)}
	shorten(&d, 4, true) // septets: € is 2
	if d.Location != "€€€€€€..." || d.CustomerName != "eeeeeeeeeeee" {
		t.Errorf("septet costs: %+v", d)
	}
	d = Data{When: "the date"}
	if shorten(&d, 10, true) || d.When != "the date" {
		t.Errorf("shorten must not touch When: %+v", d)
	}
}

// TestRenderTemplateTooLong: a template that cannot fit even with every
// value empty is an error, not a truncated text.
func TestRenderTemplateTooLong(t *testing.T) {
	tpl := template.Must(template.New("booked.en.tmpl").Parse(strings.Repeat("Text ", 70) + "{{.PatientFirstName}} {{.When}}"))
	tp := &Templates{tpl: map[tplKey]*template.Template{{apptbridge.TextBooked, "en"}: tpl}, langs: map[string]bool{"en": true}}
	_, err := tp.Render(apptbridge.TextBooked, typicalAppt(t, "en"), tplVars)
	if err == nil || !strings.Contains(err.Error(), "booked.en.tmpl") {
		t.Errorf("err = %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "Maria") {
		t.Errorf("error carries patient data: %v", err)
	}
}

func writeTmpl(t *testing.T, dir, name, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTemplatesDirOverride(t *testing.T) {
	dir := t.TempDir()
	writeTmpl(t, dir, "booked.en.tmpl", "Hi {{.PatientFirstName}}, see you {{.When}}. Reply CONFIRM APPT or CANCEL APPT.\n")
	writeTmpl(t, dir, "remind-1.fr.tmpl", "Bonjour{{with .PatientFirstName}} {{.}}{{end}}, rappel: {{.When}}. Repondez CONFIRM APPT.\n")
	writeTmpl(t, dir, "help.ES.tmpl", "Ayuda: {{.CallbackPhone}}. Responda STOP para darse de baja.")
	writeTmpl(t, dir, "README.md", "not a template")
	if err := os.Mkdir(filepath.Join(dir, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeTmpl(t, filepath.Join(dir, "old"), "bogus.en.tmpl", "{{")
	tp, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := tp.Languages(); !slices.Equal(got, []string{"en", "es", "fr"}) {
		t.Errorf("Languages = %v", got)
	}
	render := func(k apptbridge.TextKind, lang string) string {
		t.Helper()
		body, err := tp.Render(k, typicalAppt(t, lang), tplVars)
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	if got, want := render(apptbridge.TextBooked, "en"), "Hi Maria, see you 1:15 PM on Friday, November 12, 2021. Reply CONFIRM APPT or CANCEL APPT."; got != want {
		t.Errorf("override: %q, want %q", got, want)
	}
	if got := render(apptbridge.TextBooked, "es"); !strings.HasPrefix(got, "Hola, Maria.") {
		t.Errorf("es built-in replaced: %q", got)
	}
	if got := render(apptbridge.TextRemind1, "fr-CA"); !strings.HasPrefix(got, "Bonjour Maria, rappel: 1:15 PM on Friday") {
		t.Errorf("fr: %q", got)
	}
	if got := render(apptbridge.TextBooked, "fr"); !strings.HasPrefix(got, "Hi Maria") {
		t.Errorf("fr without booked falls back to en: %q", got)
	}
	if got := render(apptbridge.TextHelp, "es"); got != "Ayuda: (555) 555-0100. Responda STOP para darse de baja." {
		t.Errorf("help.ES: %q", got)
	}
	if got := render(apptbridge.TextCanceled, "en"); !strings.HasPrefix(got, "Hello, Maria. Your appointment with Dr. Smith") {
		t.Errorf("built-in canceled: %q", got)
	}
}

func TestTemplatesDirErrors(t *testing.T) {
	tests := []struct {
		name, file, src, want string
	}{
		{"unknown kind", "reminder.en.tmpl", "Hi", "unknown text kind"},
		{"no language", "booked.tmpl", "Hi", "<kind>.<lang>.tmpl"},
		{"bad language", "booked.english.tmpl", "Hi", "language"},
		{"bad language chars", "booked.e1.tmpl", "Hi", "language"},
		{"parse error", "booked.en.tmpl", "Hi {{.PatientFirstName", "booked.en.tmpl"},
		{"unknown field", "booked.en.tmpl", "Hi {{.PatientLastName}}", "PatientLastName"},
		{"unknown function", "booked.en.tmpl", "Hi {{dob .}}", "dob"},
		{"too long", "canceled.es.tmpl", strings.Repeat("Su cita ", 40), "segments"},
		{"too long with values", "booked.en.tmpl", strings.Repeat("x", 250) + " {{.When}} {{.Location}}", "segments"},
		{"too long UCS-2", "booked.en.tmpl", "😀 " + strings.Repeat("x", 140), "UCS-2"},
		{"bare CANCEL", "remind-1.en.tmpl", "Reply CONFIRM APPT to confirm or CANCEL to cancel.", "CANCEL"},
		{"CANCEL at the end", "remind-1.en.tmpl", "Reply CANCEL", "CANCEL"},
		{"YES", "remind-1.en.tmpl", "Reply YES to confirm.", "YES"},
		{"empty", "booked.en.tmpl", "{{/* nothing */}}\n", "empty"},
		{"not UTF-8", "booked.en.tmpl", "Hi \xff", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTmpl(t, dir, tt.file, tt.src)
			_, err := LoadTemplates(dir)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.file) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v; want it to name %s and say %q", err, tt.file, tt.want)
			}
		})
	}
	_, err := LoadTemplates(filepath.Join(t.TempDir(), "missing"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing dir: %v", err)
	}
}

func TestRenderDST(t *testing.T) {
	tp := loadBuiltins(t)
	ny := mustLoc(t, "America/New_York")
	tests := []struct {
		utc  time.Time
		want string
	}{
		// 2026-03-08: clocks go from 2:00 EST to 3:00 EDT.
		{time.Date(2026, 3, 8, 6, 30, 0, 0, time.UTC), "1:30 AM on Sunday, March 8, 2026"},
		{time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC), "3:30 AM on Sunday, March 8, 2026"},
		{time.Date(2026, 3, 8, 14, 0, 0, 0, time.UTC), "10:00 AM on Sunday, March 8, 2026"},
		{time.Date(2026, 3, 7, 15, 0, 0, 0, time.UTC), "10:00 AM on Saturday, March 7, 2026"},
		// 2026-11-01: clocks go from 2:00 EDT back to 1:00 EST.
		{time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), "1:30 AM on Sunday, November 1, 2026"},
		{time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC), "1:30 AM on Sunday, November 1, 2026"},
		{time.Date(2026, 11, 1, 15, 0, 0, 0, time.UTC), "10:00 AM on Sunday, November 1, 2026"},
		{time.Date(2026, 10, 31, 14, 0, 0, 0, time.UTC), "10:00 AM on Saturday, October 31, 2026"},
	}
	for _, tt := range tests {
		a := typicalAppt(t, "en")
		a.SetAppointmentTime(tt.utc, ny)
		// A stale fixed offset must not win over the IANA zone.
		a.AppointmentTimezone = "+0000"
		body, err := tp.Render(apptbridge.TextRemind1, a, tplVars)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(body, " for "+tt.want+" at ") {
			t.Errorf("%v: want %q in\n%s", tt.utc, tt.want, body)
		}
	}
}

func TestLocalTime(t *testing.T) {
	utc := time.Date(2021, 11, 12, 19, 15, 0, 0, time.UTC)
	tests := []struct {
		name     string
		tz, off  string
		utc      time.Time
		wall     string
		want, es string
	}{
		{"IANA zone", "America/Chicago", "-0600", utc, "2021-11-12T13:15:00", "1:15 PM on Friday, November 12, 2021", "viernes 12 de noviembre de 2021 a la 1:15 PM"},
		{"unknown zone: offset", "Mars/Olympus", "-0500", utc, "", "2:15 PM on Friday, November 12, 2021", "viernes 12 de noviembre de 2021 a las 2:15 PM"},
		{"no zone: offset", "", "+0530", utc, "", "12:45 AM on Saturday, November 13, 2021", "sabado 13 de noviembre de 2021 a las 12:45 AM"},
		{"offset with colon", "", "-06:00", utc, "", "1:15 PM on Friday, November 12, 2021", ""},
		{"bad offset: wall clock", "", "-6", utc, "2021-11-12T13:15:00", "1:15 PM on Friday, November 12, 2021", ""},
		{"wall clock only", "", "", time.Time{}, "2021-11-10T09:05:00", "9:05 AM on Wednesday, November 10, 2021", "miércoles 10 de noviembre de 2021 a las 9:05 AM"},
		{"wall clock without seconds", "", "", time.Time{}, "2021-11-10T00:05", "12:05 AM on Wednesday, November 10, 2021", ""},
		{"instant without zone: nothing", "", "", utc, "", "", ""},
		{"nothing", "", "", time.Time{}, "", "", ""},
	}
	for _, tt := range tests {
		a := &apptbridge.Appointment{Event: apptbridge.Event{AppointmentTZ: tt.tz, AppointmentTimezone: tt.off,
			AppointmentDatetimeUTC: tt.utc, AppointmentDatetime: tt.wall}}
		got := ""
		if lt, ok := localTime(a); ok {
			got = formatWhen(lt, "en")
			if tt.es != "" {
				if es := formatWhen(lt, "es"); es != tt.es {
					t.Errorf("%s: es %q, want %q", tt.name, es, tt.es)
				}
			}
		}
		if got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestFormatWhenSpanish(t *testing.T) {
	for d := 0; d < 7; d++ {
		for m := 1; m <= 12; m++ {
			s := formatWhen(time.Date(2026, time.Month(m), 1+d, 13, 0, 0, 0, time.UTC), "es")
			if !GSM7(s) {
				t.Errorf("%q is not GSM-7", s)
			}
		}
	}
}

func TestRenderConcurrent(t *testing.T) {
	tp := loadBuiltins(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, k := range tp.Kinds() {
				a := typicalAppt(t, []string{"en", "es"}[i%2])
				a.AppointmentLocation = long200
				if _, err := tp.Render(k, a, tplVars); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}

// TestRenderFallbackDate: a kind missing in the patient's language falls
// back to en, date included.
func TestRenderFallbackDate(t *testing.T) {
	en := template.Must(template.New("booked.en.tmpl").Parse("On {{.When}}."))
	es := template.Must(template.New("help.es.tmpl").Parse("Ayuda."))
	tp := &Templates{tpl: map[tplKey]*template.Template{{apptbridge.TextBooked, "en"}: en, {apptbridge.TextHelp, "es"}: es},
		langs: map[string]bool{"en": true, "es": true}}
	body, err := tp.Render(apptbridge.TextBooked, typicalAppt(t, "es"), tplVars)
	if err != nil || body != "On 1:15 PM on Friday, November 12, 2021." {
		t.Errorf("%q, %v", body, err)
	}
}
