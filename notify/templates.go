package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/apptbridge/apptbridge"
)

// builtinFS holds the built-in templates, <kind>.<lang>.tmpl.
//
// The Spanish ones are written in GSM-7 characters only, so that they
// stay GSM-7 (160/153 characters a segment instead of 70/67): é ñ ü ¿ ¡
// are GSM-7 and are written, á í ó ú are not and are written without the
// accent (llamenos, clinica, esta programada), as is common in Spanish
// SMS. TestBuiltinsGSM7 enforces it.
//
//go:embed templates/*.tmpl
var builtinFS embed.FS

// Vars are clinic-level values for every text.
type Vars struct {
	// CustomerName is the clinic's name (the original's CUSTOMER_NAME),
	// signed at the end of most texts and named in the help text.
	CustomerName string
	// CallbackPhone is the clinic's phone number, used when the
	// appointment has no provider_callback_phone.
	CallbackPhone string
}

// Data is what a template is executed with; TEMPLATES_DIR authors use
// these names. Every field may be empty (templates guard them with
// {{with}} or {{if}}). Values are single-line: runs of white space are
// collapsed to one space.
//
// Data deliberately carries no patient last name, patient id/MRN, date
// of birth, appointment type or reason (PHI minimisation).
type Data struct {
	PatientFirstName  string // the patient's first name
	ProviderFirstName string // the provider's first name
	ProviderLastName  string // the provider's last name
	Location          string // appointment_location
	// When is the appointment's local date and time in the text's
	// language: "1:15 PM on Friday, November 12, 2021" (en, and any
	// language other than es), "viernes 12 de noviembre de 2021 a las
	// 1:15 PM" (es). Empty when the appointment has no time.
	When string
	// CallbackPhone is the appointment's provider_callback_phone, else
	// the clinic's (Vars.CallbackPhone).
	CallbackPhone string
	CustomerName  string // the clinic's name (Vars.CustomerName)
}

// Provider is "Dr. " and the provider's last name (the original's
// wording), "Dr. " and the first name when there is no last name, and ""
// when there is neither: write {{with .Provider}} with {{.}}{{end}}.
func (d Data) Provider() string {
	switch {
	case d.ProviderLastName != "":
		return "Dr. " + d.ProviderLastName
	case d.ProviderFirstName != "":
		return "Dr. " + d.ProviderFirstName
	}
	return ""
}

// fields returns pointers to the values Render may transliterate and
// shorten: all of them but When.
func (d *Data) fields() []*string {
	return []*string{&d.PatientFirstName, &d.ProviderFirstName, &d.ProviderLastName,
		&d.Location, &d.CallbackPhone, &d.CustomerName}
}

// templateKinds are the text kinds with a template, in a stable order.
var templateKinds = []apptbridge.TextKind{
	apptbridge.TextBooked, apptbridge.TextRescheduled, apptbridge.TextModified,
	apptbridge.TextConfirmed, apptbridge.TextCanceled, apptbridge.TextNoshowed,
	apptbridge.TextRemind1, apptbridge.TextRemind2,
	apptbridge.TextConfirmReceipt, apptbridge.TextCancelReceipt, apptbridge.TextOptedIn,
	apptbridge.TextHelp, apptbridge.TextNotUnderstood,
}

func knownKind(k apptbridge.TextKind) bool {
	for _, x := range templateKinds {
		if x == k {
			return true
		}
	}
	return false
}

// Default and built-in languages.
const (
	LangEnglish = "en"
	LangSpanish = "es"
)

type tplKey struct {
	kind apptbridge.TextKind
	lang string
}

// Templates are the texts to patients, per kind and language. They are
// immutable once loaded and safe for concurrent use.
type Templates struct {
	tpl   map[tplKey]*template.Template
	langs map[string]bool
}

var langRE = regexp.MustCompile(`^[a-z]{2,3}$`)

// LoadTemplates returns the built-in en/es templates overridden by the
// files of dir ("" = built-ins only). Files are named <kind>.<lang>.tmpl
// (e.g. booked.es.tmpl, or remind-1.fr.tmpl for a new language; a
// language need not have every kind, the missing ones fall back to en);
// other files and subdirectories are ignored. An unknown kind, a bad
// language, a parse or execution error, a template that asks for a bare
// CANCEL or for YES (see lintReserved), or one whose rendering with
// typical values takes more than MaxSegments segments is an error naming
// the file. Errors never carry patient data.
func LoadTemplates(dir string) (*Templates, error) {
	t := &Templates{tpl: map[tplKey]*template.Template{}, langs: map[string]bool{}}
	builtins, err := fs.ReadDir(builtinFS, "templates")
	if err != nil {
		return nil, fmt.Errorf("notify: built-in templates: %w", err)
	}
	for _, e := range builtins {
		src, err := builtinFS.ReadFile("templates/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("notify: built-in template %s: %w", e.Name(), err)
		}
		if err := t.add(e.Name(), string(src)); err != nil {
			return nil, fmt.Errorf("notify: built-in template %w", err)
		}
	}
	for _, k := range templateKinds {
		if t.tpl[tplKey{k, LangEnglish}] == nil {
			return nil, fmt.Errorf("notify: no built-in template %s.%s.tmpl", k, LangEnglish)
		}
	}
	if dir == "" {
		return t, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("notify: TEMPLATES_DIR: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".tmpl") {
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("notify: TEMPLATES_DIR file %s: %w", e.Name(), err)
		}
		if err := t.add(e.Name(), string(src)); err != nil {
			return nil, fmt.Errorf("notify: TEMPLATES_DIR file %w", err)
		}
	}
	return t, nil
}

// add parses and checks the template file name (replacing any earlier
// one of the same kind and language). Its errors start with the name.
func (t *Templates) add(name, src string) error {
	base := strings.TrimSuffix(name, ".tmpl")
	i := strings.LastIndexByte(base, '.')
	if i < 0 {
		return fmt.Errorf("%s: name is not <kind>.<lang>.tmpl", name)
	}
	kind, lang := apptbridge.TextKind(base[:i]), strings.ToLower(base[i+1:])
	if !knownKind(kind) {
		return fmt.Errorf("%s: unknown text kind %q", name, kind)
	}
	if !langRE.MatchString(lang) {
		return fmt.Errorf("%s: language %q is not a two- or three-letter code", name, lang)
	}
	if !utf8.ValidString(src) {
		return fmt.Errorf("%s: not UTF-8", name)
	}
	if err := lintReserved(src); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	tpl, err := template.New(name).Option("missingkey=error").Parse(src)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	body, err := execute(tpl, sampleData(lang))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if strings.TrimSpace(body) == "" {
		return fmt.Errorf("%s: renders an empty text", name)
	}
	if enc, n := Segments(body); n > MaxSegments {
		return fmt.Errorf("%s: with typical values the text takes %d %s segments, more than %d",
			name, n, enc, MaxSegments)
	}
	t.tpl[tplKey{kind, lang}] = tpl
	t.langs[lang] = true
	return nil
}

// sampleData are the typical values an override is checked with.
func sampleData(lang string) Data {
	when := time.Date(2026, time.September, 30, 10, 45, 0, 0, time.UTC) // long weekday and month
	return Data{
		PatientFirstName:  "Maria",
		ProviderFirstName: "Jane",
		ProviderLastName:  "Smith",
		Location:          "Main Street Clinic, 123 Main St",
		When:              formatWhen(when, lang),
		CallbackPhone:     "(555) 555-0100",
		CustomerName:      "Acme Family Health",
	}
}

// reservedRE finds upper-case words in template source.
var reservedRE = regexp.MustCompile(`[A-Z]+`)

// lintReserved rejects template text that asks the patient to reply a
// word that does something else than the template means (T18): a bare
// CANCEL (a carrier opt-out word: the patient would be opted out instead
// of canceling) and YES (an opt-in word, not a confirmation). CANCEL must
// be followed by APPT or APPOINTMENT. Only upper-case words count
// ("to cancel" is prose).
func lintReserved(src string) error {
	words := reservedRE.FindAllString(src, -1)
	for i, w := range words {
		switch w {
		case "CANCEL":
			if i+1 >= len(words) || (words[i+1] != "APPT" && words[i+1] != "APPOINTMENT") {
				return errors.New("asks for a bare CANCEL, a carrier opt-out word; write CANCEL APPT")
			}
		case "YES":
			return errors.New("asks for YES, an opt-in keyword; write CONFIRM APPT")
		}
	}
	return nil
}

// Kinds returns the text kinds that have a template, in a stable order.
func (t *Templates) Kinds() []apptbridge.TextKind {
	return append([]apptbridge.TextKind(nil), templateKinds...)
}

// Languages returns the languages with at least one template, sorted.
func (t *Templates) Languages() []string {
	ls := make([]string, 0, len(t.langs))
	for l := range t.langs {
		ls = append(ls, l)
	}
	sort.Strings(ls)
	return ls
}

// langAliases maps other spellings of a language (HL7 PID-15 often
// carries ISO 639-2 codes or names) to the template language.
var langAliases = map[string]string{
	"spa": LangSpanish, "spanish": LangSpanish, "espanol": LangSpanish, "español": LangSpanish,
	"eng": LangEnglish, "english": LangEnglish,
}

// Language returns the template language for a patient language: its
// primary subtag, lower-cased ("es", "es-MX", "ES", "es_MX", "spa" → es),
// when there are templates in it, else en.
func (t *Templates) Language(patientLanguage string) string {
	l := strings.ToLower(strings.TrimSpace(patientLanguage))
	if i := strings.IndexAny(l, "-_"); i >= 0 {
		l = l[:i]
	}
	if a, ok := langAliases[l]; ok {
		l = a
	}
	if t.langs[l] {
		return l
	}
	return LangEnglish
}

// Render renders the text of kind for appointment a in the patient's
// language (a.PatientLanguage: "es", "es-MX", "ES" → es; unknown or
// empty → en; a kind missing in that language falls back to en). a may be
// nil for the help and not-understood texts to a phone with no
// appointment.
//
// The text never takes more than MaxSegments SMS segments: when the
// rendered body is longer, the values (never the template text) are
// first spelled in GSM-7 (ToGSM7: diacritics stripped, emoji and other
// non-GSM characters dropped) and the text rendered again; if it is
// still too long, the longest values are shortened, ending in "...",
// until it fits (a value that would keep fewer than 2 characters is
// dropped). The date is never shortened. If the text does not fit even
// with every value empty, Render returns an error. Errors never carry
// patient data.
func (t *Templates) Render(kind apptbridge.TextKind, a *apptbridge.Appointment, v Vars) (string, error) {
	lang := LangEnglish
	if a != nil {
		lang = t.Language(a.PatientLanguage)
	}
	tpl := t.tpl[tplKey{kind, lang}]
	if tpl == nil {
		lang = LangEnglish // and the date in English too
		tpl = t.tpl[tplKey{kind, lang}]
	}
	if tpl == nil {
		return "", fmt.Errorf("notify: no template for text kind %q", kind)
	}
	d := newData(a, v, lang)
	fail := func() (string, error) {
		// The execution error is not wrapped: it could quote a value.
		return "", fmt.Errorf("notify: render %s: template execution failed", tpl.Name())
	}
	body, err := execute(tpl, d)
	if err != nil {
		return fail()
	}
	if fitsSegments(body) {
		return body, nil
	}
	for _, f := range d.fields() {
		*f = ToGSM7(*f)
	}
	for shortened := false; ; shortened = true {
		body, err = execute(tpl, d)
		if err != nil {
			return fail()
		}
		if shortened {
			// A shortened value followed by the sentence's period.
			body = strings.ReplaceAll(body, "....", "...")
		}
		if fitsSegments(body) {
			return body, nil
		}
		if !shorten(&d, overflow(body), GSM7(body)) {
			return "", fmt.Errorf("notify: render %s: the text takes more than %d segments even without its values",
				tpl.Name(), MaxSegments)
		}
	}
}

func execute(tpl *template.Template, d Data) (string, error) {
	var b bytes.Buffer
	if err := tpl.Execute(&b, d); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

// overflow is by how many septets (GSM-7) or code units (UCS-2) body
// exceeds MaxSegments multipart segments, at least 1.
func overflow(body string) int {
	enc, _ := Segments(body)
	limit := MaxSegments * gsmMulti
	if enc != EncodingGSM7 {
		limit = MaxSegments * ucs2Multi
	}
	return max(cost(body, enc == EncodingGSM7)-limit, 1)
}

// runeCost is what r takes in a GSM-7 body (septets; a rune that is not
// GSM-7 counts 1, it cannot be in one) or in a UCS-2 body (code units).
func runeCost(r rune, gsm bool) int {
	if gsm {
		return max(gsmSeptets(r), 1)
	}
	if r >= 0x10000 {
		return 2
	}
	return 1
}

func cost(s string, gsm bool) int {
	n := 0
	for _, r := range s {
		n += runeCost(r, gsm)
	}
	return n
}

// minKept is the fewest characters a shortened value keeps before "...";
// a value that would keep fewer is dropped.
const minKept = 2

// shorten shortens the longest values of d so that together they lose at
// least excess septets (gsm) or code units: water-filling, every value
// costing more than some L is cut to L, "..." included. It reports false
// when every value is already empty.
func shorten(d *Data, excess int, gsm bool) bool {
	fs := d.fields()
	costs := make([]int, len(fs))
	most := 0
	for i, f := range fs {
		costs[i] = cost(*f, gsm)
		most = max(most, costs[i])
	}
	if most == 0 {
		return false
	}
	// The largest L < most whose cut removes at least excess.
	limit := most - 1
	for ; limit > 0; limit-- {
		removed := 0
		for _, c := range costs {
			removed += max(c-limit, 0)
		}
		if removed >= excess {
			break
		}
	}
	for i, f := range fs {
		if costs[i] <= limit {
			continue
		}
		room, kept, end := limit-len("..."), 0, 0
		for j, r := range *f {
			c := runeCost(r, gsm)
			if room < c {
				break
			}
			room -= c
			kept++
			end = j + utf8.RuneLen(r)
		}
		if kept < minKept {
			*f = ""
			continue
		}
		*f = strings.TrimRightFunc((*f)[:end], unicode.IsSpace) + "..."
	}
	return true
}

// newData is the template data for appointment a (nil: clinic values
// only), its values on one line.
func newData(a *apptbridge.Appointment, v Vars, lang string) Data {
	d := Data{CallbackPhone: v.CallbackPhone, CustomerName: v.CustomerName}
	if a != nil {
		d.PatientFirstName = a.PatientFirstName
		d.ProviderFirstName = a.ProviderFirstName
		d.ProviderLastName = a.ProviderLastName
		d.Location = a.AppointmentLocation
		if a.ProviderCallbackPhone != "" {
			d.CallbackPhone = a.ProviderCallbackPhone
		}
		if lt, ok := localTime(a); ok {
			d.When = formatWhen(lt, lang)
		}
	}
	d.CallbackPhone = displayPhone(d.CallbackPhone)
	for _, f := range d.fields() {
		*f = oneLine(*f)
	}
	return d
}

// displayPhone writes a North American E.164 number the way patients
// read it, (312) 555-0100; other numbers stay in E.164.
func displayPhone(p string) string {
	if len(p) != 12 || !strings.HasPrefix(p, "+1") {
		return p
	}
	for _, r := range p[2:] {
		if r < '0' || r > '9' {
			return p
		}
	}
	return "(" + p[2:5] + ") " + p[5:8] + "-" + p[8:]
}

// oneLine turns control characters into spaces, collapses white space
// and trims it.
func oneLine(s string) string {
	return collapseSpaces(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s))
}

// localTime is the appointment's local wall clock: the instant
// AppointmentDatetimeUTC in the IANA zone AppointmentTZ; failing that
// (no zone, or a zone this host does not know), in the fixed offset
// AppointmentTimezone (-0600); failing that, the wall clock
// AppointmentDatetime as given. ok is false when none is known (an
// instant with no zone at all is not shown: UTC would be the wrong local
// time).
func localTime(a *apptbridge.Appointment) (time.Time, bool) {
	if utc := a.AppointmentDatetimeUTC; !utc.IsZero() {
		if a.AppointmentTZ != "" {
			if loc, err := loadLocation(a.AppointmentTZ); err == nil {
				return utc.In(loc), true
			}
		}
		if off, ok := parseOffset(a.AppointmentTimezone); ok {
			return utc.In(time.FixedZone(a.AppointmentTimezone, off)), true
		}
	}
	for _, layout := range []string{apptbridge.LocalLayout, "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.Parse(layout, strings.TrimSpace(a.AppointmentDatetime)); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

var locations sync.Map // zone name → *time.Location

func loadLocation(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, l)
	return l, nil
}

// parseOffset parses ±HHMM or ±HH:MM into seconds east of UTC.
func parseOffset(s string) (int, bool) {
	s = strings.Replace(strings.TrimSpace(s), ":", "", 1)
	if len(s) != 5 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	hh, err1 := strconv.Atoi(s[1:3])
	mm, err2 := strconv.Atoi(s[3:5])
	if err1 != nil || err2 != nil || hh > 14 || mm > 59 || s[1] < '0' || s[3] < '0' {
		return 0, false
	}
	off := hh*3600 + mm*60
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

var (
	esWeekdays = [...]string{"domingo", "lunes", "martes", "miércoles", "jueves", "viernes",
		"sabado"} // sábado: á is not GSM-7
	esMonths = [...]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio",
		"agosto", "septiembre", "octubre", "noviembre", "diciembre"}
)

// formatWhen is the readable local date and time of lt in lang:
//
//	en (and any language but es): 1:15 PM on Friday, November 12, 2021
//	es: viernes 12 de noviembre de 2021 a las 1:15 PM ("a la 1:15 PM"
//	    for one o'clock), GSM-7 only (sabado without its accent)
func formatWhen(lt time.Time, lang string) string {
	if lang != LangSpanish {
		return lt.Format("3:04 PM on Monday, January 2, 2006")
	}
	at := "a las"
	if lt.Hour()%12 == 1 {
		at = "a la"
	}
	return fmt.Sprintf("%s %d de %s de %d %s %s", esWeekdays[lt.Weekday()], lt.Day(),
		esMonths[lt.Month()-1], lt.Year(), at, lt.Format("3:04 PM"))
}
