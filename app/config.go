package app

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/apptbridge/apptbridge/auth"
)

// Var documents one configuration variable. The README's table is
// generated from Vars (apptbridge check --list prints it).
type Var struct {
	Name    string
	Default string
	Help    string
	Secret  bool
}

// Vars lists every configuration variable apptbridge reads.
var Vars = []Var{
	{"CUSTOMER_NAME", "", "clinic name shown in texts and the admin page", false},
	{"CUSTOMER_CODE", "", "short lowercase code (S3 partition `customer=`)", false},
	{"MLLP_ADDR", ":2575", "MLLP listen address", false},
	{"HTTP_ADDR", ":8080", "HTTP listen address (the admin page, the /v1 API, Twilio webhooks, /metrics, /healthz, /readyz)", false},
	{"METRICS_ADDR", "", "a separate listen address for /metrics, /healthz and /readyz (e.g. 127.0.0.1:9090); set, /metrics is no longer served on HTTP_ADDR", false},
	{"DATA_DIR", "./data", "directory of the embedded SQLite store (unused with DATABASE_URL)", false},
	{"DATABASE_URL", "", "postgres://USER:PASSWORD@HOST:PORT/DB selects the shared PostgreSQL store (several serve processes may use one database); empty: SQLite in DATA_DIR", false},
	{"DEFAULT_TIMEZONE", "America/New_York", "IANA zone for HL7 times without an offset", false},
	{"DEFAULT_COUNTRY", "US", "country for E.164 phone normalization", false},
	{"MAPPING_PROFILE", "", "JSON or YAML file overriding the SIU mapping rules", false},
	{"CALLBACK_PHONE", "", "clinic phone used when the message and profile have none", false},
	{"HL7_DEFAULT_CHARSET", "UNICODE UTF-8", "charset when MSH-18 is empty (ASCII, 8859/1, UNICODE UTF-8)", false},
	{"MLLP_MAX_MESSAGE_BYTES", "1048576", "largest accepted MLLP frame; a larger one closes the connection", false},
	{"MLLP_MAX_CONNS", "64", "most concurrent MLLP connections (0 = unlimited)", false},
	{"MLLP_READ_TIMEOUT", "30s", "time allowed for the rest of a frame once it started (mid-frame stall)", false},
	{"MLLP_WRITE_TIMEOUT", "30s", "time allowed to write an ACK", false},
	{"MLLP_IDLE_TIMEOUT", "10m", "idle connection timeout between messages", false},
	{"MLLP_TLS_CERT", "", "PEM certificate: serve MLLP over TLS", false},
	{"MLLP_TLS_KEY", "", "PEM private key for MLLP_TLS_CERT", false},
	{"MLLP_TLS_CLIENT_CA", "", "PEM CA bundle: require client certificates (mutual TLS)", false},
	{"MLLP_ALLOWED_IPS", "", "comma-separated CIDRs allowed to connect (empty = all)", false},
	{"DEDUP_RETENTION", "168h", "how long duplicate keys and their ACKs are kept (at least 168h)", false},
	{"RAW_RETENTION", "720h", "how long raw inbound HL7 is kept", false},
	{"LOG_LEVEL", "info", "debug, info, warn, error", false},
	{"REMINDER_OUTREACH_START", "0800", "start of the texting window (HHMM, appointment-local) for reminders and event texts", false},
	{"REMINDER_OUTREACH_FINISH", "2100", "end of the texting window (HHMM, exclusive)", false},
	{"REMINDER_FIRST_TIMING", "4800", "first reminder, HHMM before the appointment", false},
	{"REMINDER_SECOND_TIMING", "2400", "second reminder, HHMM before the appointment (0000 = off)", false},
	{"REMINDER_DAILY_CAP", "2", "most reminders per phone per local day", false},
	{"TWILIO_ACCOUNT_SID", "", "with TWILIO_AUTH_TOKEN: send real texts (else the SMS sandbox)", false},
	{"TWILIO_AUTH_TOKEN", "", "Twilio auth token", true},
	{"TWILIO_PHONE_NUMBER", "", "sender number (E.164)", false},
	{"TWILIO_MESSAGING_SERVICE_SID", "", "sender messaging service (instead of a number)", false},
	{"TWILIO_API_BASE_URL", "", "Twilio API base URL override (tests, gateways)", false},
	{"PUBLIC_BASE_URL", "", "public URL of this service (webhook signatures)", false},
	{"APPLICATION_PASSWORD", "", "admin page password (hashed with argon2id at start; sign-in is off without it or a hash)", true},
	{"APPLICATION_PASSWORD_HASH", "", "admin page password as an argon2id PHC hash (apptbridge hash-password), instead of APPLICATION_PASSWORD", true},
	{"SALT", "", "mixed into the token key; changing it ends every session", true},
	{"ADMINISTRATOR_PHONE_NUMBER", "", "phone that receives admin sign-in codes (SMS sandbox default: +15005550006)", false},
	{"AWS_REGION", "", "AWS region for the S3 archive", false},
	{"S3_BUCKET", "", "S3 archive bucket (optional)", false},
	{"S3_ENDPOINT", "", "S3-compatible endpoint (path-style)", false},
	{"S3_KMS_KEY_ID", "", "KMS key for the archive's SSE-KMS (default SSE-S3, AES256)", false},
	{"EHR_MLLP_ADDR", "", "EHR address for patient requests over MLLP", false},
	{"EHR_WEBHOOK_URL", "", "EHR webhook for patient requests (instead of MLLP)", false},
	{"TEMPLATES_DIR", "", "directory overriding the built-in text templates", false},
	{"EHR_PROFILE", "siu", "messages for patient requests over MLLP: siu (SIU^S14/S15) or srm (SRM^S03/S04)", false},
	{"EHR_ACK_TIMEOUT", "30s", "how long to wait for the EHR's ACK before retrying", false},
	{"EHR_MAX_AR_ATTEMPTS", "5", "attempts for a request the EHR keeps answering AR before it is dead-lettered", false},
	{"EHR_WEBHOOK_SECRET", "", "HMAC-SHA256 key for the X-Apptbridge-Signature header of EHR_WEBHOOK_URL", true},
	{"SMS_RATE_PER_SECOND", "1", "most Twilio message creates per second (1 for a long code; more for a messaging service)", false},
	{"EVENT_TEXTS_IN_WINDOW", "true", "hold texts about EHR events outside the outreach window until it opens (false: send at once)", false},
}

// Config is apptbridge's configuration, read from the environment.
type Config struct {
	CustomerName, CustomerCode string

	MLLPAddr, HTTPAddr string
	// MetricsAddr, when set, serves /metrics (and the health checks) on
	// a listener of its own, off the public one.
	MetricsAddr string
	DataDir     string
	DatabaseURL string

	DefaultTimezone string
	DefaultCountry  string
	MappingProfile  string
	CallbackPhone   string
	HL7Charset      string

	MLLPMaxMessageBytes int
	MLLPMaxConns        int
	MLLPReadTimeout     time.Duration
	MLLPWriteTimeout    time.Duration
	MLLPIdleTimeout     time.Duration
	MLLPTLSCert         string
	MLLPTLSKey          string
	MLLPTLSClientCA     string
	MLLPAllowedIPs      []netip.Prefix

	DedupRetention time.Duration
	RawRetention   time.Duration
	LogLevel       string

	ReminderOutreachStart, ReminderOutreachFinish string
	ReminderFirstTiming, ReminderSecondTiming     string
	ReminderDailyCap                              int

	TwilioAccountSID, TwilioPhoneNumber string
	TwilioMessagingServiceSID           string
	TwilioAPIBaseURL                    string
	TwilioAuthToken                     Secret
	PublicBaseURL                       string
	ApplicationPassword                 Secret
	ApplicationPasswordHash             Secret
	Salt                                Secret
	AdministratorPhone                  string
	AWSRegion, S3Bucket, S3Endpoint     string
	S3KMSKeyID                          string
	EHRMLLPAddr, EHRWebhookURL          string
	TemplatesDir                        string

	EHRProfile         string
	EHRAckTimeout      time.Duration
	EHRMaxARAttempts   int
	EHRWebhookSecret   Secret
	SMSRatePerSecond   float64
	EventTextsInWindow bool
}

// Secret is a string that never prints.
type Secret string

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "<secret>"
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return s.String() }

// Value returns the secret's value.
func (s Secret) Value() string { return string(s) }

// SandboxSMS reports whether texts are kept instead of sent (no Twilio
// credentials).
func (c Config) SandboxSMS() bool {
	return c.TwilioAccountSID == "" || c.TwilioAuthToken == ""
}

// LoginEnabled reports whether the admin page can be signed in to.
func (c Config) LoginEnabled() bool {
	return c.ApplicationPassword != "" || c.ApplicationPasswordHash != ""
}

// SandboxAdminPhone receives sign-in codes in the SMS sandbox when no
// ADMINISTRATOR_PHONE_NUMBER is set (Twilio's test number "valid").
const SandboxAdminPhone = "+15005550006"

// AdminPhone is where sign-in codes go.
func (c Config) AdminPhone() string {
	if c.AdministratorPhone == "" && c.SandboxSMS() {
		return SandboxAdminPhone
	}
	return c.AdministratorPhone
}

// Load reads the configuration through getenv (os.Getenv in production),
// filling defaults. It returns every problem found, not just the first.
func Load(getenv func(string) string) (Config, []error) {
	var errs []error
	get := func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		for _, v := range Vars {
			if v.Name == name {
				return v.Default
			}
		}
		return ""
	}
	num := func(name string, min int) int {
		n, err := strconv.Atoi(get(name))
		if err != nil || n < min {
			errs = append(errs, fmt.Errorf("%s: want an integer >= %d, got %q", name, min, get(name)))
		}
		return n
	}
	dur := func(name string, min time.Duration) time.Duration {
		d, err := time.ParseDuration(get(name))
		if err != nil || d < min {
			errs = append(errs, fmt.Errorf("%s: want a duration >= %v (like 30s, 10m, 168h), got %q", name, min, get(name)))
		}
		return d
	}
	c := Config{
		CustomerName:              get("CUSTOMER_NAME"),
		CustomerCode:              get("CUSTOMER_CODE"),
		MLLPAddr:                  get("MLLP_ADDR"),
		HTTPAddr:                  get("HTTP_ADDR"),
		MetricsAddr:               get("METRICS_ADDR"),
		DataDir:                   get("DATA_DIR"),
		DatabaseURL:               get("DATABASE_URL"),
		DefaultTimezone:           get("DEFAULT_TIMEZONE"),
		DefaultCountry:            strings.ToUpper(get("DEFAULT_COUNTRY")),
		MappingProfile:            get("MAPPING_PROFILE"),
		CallbackPhone:             get("CALLBACK_PHONE"),
		HL7Charset:                get("HL7_DEFAULT_CHARSET"),
		MLLPMaxMessageBytes:       num("MLLP_MAX_MESSAGE_BYTES", 1024),
		MLLPMaxConns:              num("MLLP_MAX_CONNS", 0),
		MLLPReadTimeout:           dur("MLLP_READ_TIMEOUT", time.Millisecond),
		MLLPWriteTimeout:          dur("MLLP_WRITE_TIMEOUT", time.Millisecond),
		MLLPIdleTimeout:           dur("MLLP_IDLE_TIMEOUT", time.Millisecond),
		MLLPTLSCert:               get("MLLP_TLS_CERT"),
		MLLPTLSKey:                get("MLLP_TLS_KEY"),
		MLLPTLSClientCA:           get("MLLP_TLS_CLIENT_CA"),
		DedupRetention:            dur("DEDUP_RETENTION", 7*24*time.Hour),
		RawRetention:              dur("RAW_RETENTION", time.Hour),
		LogLevel:                  strings.ToLower(get("LOG_LEVEL")),
		ReminderOutreachStart:     get("REMINDER_OUTREACH_START"),
		ReminderOutreachFinish:    get("REMINDER_OUTREACH_FINISH"),
		ReminderFirstTiming:       get("REMINDER_FIRST_TIMING"),
		ReminderSecondTiming:      get("REMINDER_SECOND_TIMING"),
		ReminderDailyCap:          num("REMINDER_DAILY_CAP", 1),
		TwilioAccountSID:          get("TWILIO_ACCOUNT_SID"),
		TwilioAuthToken:           Secret(get("TWILIO_AUTH_TOKEN")),
		TwilioPhoneNumber:         get("TWILIO_PHONE_NUMBER"),
		TwilioMessagingServiceSID: get("TWILIO_MESSAGING_SERVICE_SID"),
		TwilioAPIBaseURL:          get("TWILIO_API_BASE_URL"),
		PublicBaseURL:             get("PUBLIC_BASE_URL"),
		ApplicationPassword:       Secret(get("APPLICATION_PASSWORD")),
		ApplicationPasswordHash:   Secret(get("APPLICATION_PASSWORD_HASH")),
		Salt:                      Secret(get("SALT")),
		AdministratorPhone:        get("ADMINISTRATOR_PHONE_NUMBER"),
		AWSRegion:                 get("AWS_REGION"),
		S3Bucket:                  get("S3_BUCKET"),
		S3Endpoint:                get("S3_ENDPOINT"),
		S3KMSKeyID:                get("S3_KMS_KEY_ID"),
		EHRMLLPAddr:               get("EHR_MLLP_ADDR"),
		EHRWebhookURL:             get("EHR_WEBHOOK_URL"),
		TemplatesDir:              get("TEMPLATES_DIR"),
		EHRProfile:                strings.ToLower(get("EHR_PROFILE")),
		EHRAckTimeout:             dur("EHR_ACK_TIMEOUT", time.Millisecond),
		EHRMaxARAttempts:          num("EHR_MAX_AR_ATTEMPTS", 1),
		EHRWebhookSecret:          Secret(get("EHR_WEBHOOK_SECRET")),
	}
	if r, err := strconv.ParseFloat(get("SMS_RATE_PER_SECOND"), 64); err != nil || r <= 0 || r > 10000 {
		errs = append(errs, fmt.Errorf("SMS_RATE_PER_SECOND: want a number above 0 (like 1 or 30), got %q", get("SMS_RATE_PER_SECOND")))
	} else {
		c.SMSRatePerSecond = r
	}
	switch strings.ToLower(get("EVENT_TEXTS_IN_WINDOW")) {
	case "true", "1", "yes":
		c.EventTextsInWindow = true
	case "false", "0", "no":
	default:
		errs = append(errs, fmt.Errorf("EVENT_TEXTS_IN_WINDOW: want true or false, got %q", get("EVENT_TEXTS_IN_WINDOW")))
	}
	if s := get("MLLP_ALLOWED_IPS"); s != "" {
		for _, part := range strings.Split(s, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			p, err := netip.ParsePrefix(part)
			if err != nil {
				a, aerr := netip.ParseAddr(part)
				if aerr != nil {
					errs = append(errs, fmt.Errorf("MLLP_ALLOWED_IPS: %q is not a CIDR or IP address", part))
					continue
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			c.MLLPAllowedIPs = append(c.MLLPAllowedIPs, p.Masked())
		}
	}
	errs = append(errs, c.validate()...)
	return c, errs
}

func (c Config) validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, err := time.LoadLocation(c.DefaultTimezone); err != nil || c.DefaultTimezone == "" || c.DefaultTimezone == "Local" {
		add("DEFAULT_TIMEZONE: %q is not an IANA time zone (like America/Chicago)", c.DefaultTimezone)
	}
	if len(c.DefaultCountry) != 2 {
		add("DEFAULT_COUNTRY: %q is not an ISO 3166 two-letter country code", c.DefaultCountry)
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		add("DATABASE_URL: must start with postgres:// (leave empty for the embedded SQLite store)")
	} else if c.DatabaseURL != "" {
		if u, err := url.Parse(c.DatabaseURL); err != nil || u.Host == "" {
			// Never quote the URL: it may hold the password.
			add("DATABASE_URL: want postgres://USER:PASSWORD@HOST:PORT/DBNAME (the value is not a valid URL)")
		}
	}
	if c.MappingProfile != "" {
		if _, err := os.Stat(c.MappingProfile); err != nil {
			add("MAPPING_PROFILE: cannot read %q: %v", c.MappingProfile, errors.Unwrap(err))
		}
	}
	switch strings.ToUpper(strings.ReplaceAll(c.HL7Charset, " ", "")) {
	case "ASCII", "8859/1", "UNICODEUTF-8", "UTF-8", "UTF8":
	default:
		add("HL7_DEFAULT_CHARSET: %q is not one of ASCII, 8859/1, UNICODE UTF-8", c.HL7Charset)
	}
	if (c.MLLPTLSCert == "") != (c.MLLPTLSKey == "") {
		add("MLLP_TLS_CERT and MLLP_TLS_KEY: set both or neither")
	}
	if c.MLLPTLSClientCA != "" && c.MLLPTLSCert == "" {
		add("MLLP_TLS_CLIENT_CA: mutual TLS needs MLLP_TLS_CERT and MLLP_TLS_KEY")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("LOG_LEVEL: %q is not one of debug, info, warn, error", c.LogLevel)
	}
	errs = append(errs, c.validateReminders()...)
	if (c.TwilioAccountSID == "") != (c.TwilioAuthToken == "") {
		add("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN: set both (real texts) or neither (SMS sandbox)")
	}
	if c.TwilioAccountSID != "" && (!strings.HasPrefix(c.TwilioAccountSID, "AC") || !alnum(c.TwilioAccountSID)) {
		add("TWILIO_ACCOUNT_SID: must be AC followed by letters and digits")
	}
	if c.TwilioAuthToken != "" && !alnum(c.TwilioAuthToken.Value()) {
		add("TWILIO_AUTH_TOKEN: must be letters and digits only (as Twilio issues it)")
	}
	if c.TwilioMessagingServiceSID != "" && (!strings.HasPrefix(c.TwilioMessagingServiceSID, "MG") || !alnum(c.TwilioMessagingServiceSID)) {
		add("TWILIO_MESSAGING_SERVICE_SID: must be MG followed by letters and digits")
	}
	if !c.SandboxSMS() && c.TwilioPhoneNumber == "" && c.TwilioMessagingServiceSID == "" {
		add("TWILIO_PHONE_NUMBER or TWILIO_MESSAGING_SERVICE_SID: one is needed to send texts")
	}
	if c.TwilioPhoneNumber != "" && !isE164(c.TwilioPhoneNumber) {
		add("TWILIO_PHONE_NUMBER: must be E.164 like +13125550199")
	}
	if c.AdministratorPhone != "" && !isE164(c.AdministratorPhone) {
		add("ADMINISTRATOR_PHONE_NUMBER: must be E.164 like +13125550199")
	}
	if c.ApplicationPassword != "" && len(c.ApplicationPassword.Value()) < 12 {
		add("APPLICATION_PASSWORD: use at least 12 characters")
	}
	if c.ApplicationPassword != "" && c.ApplicationPasswordHash != "" {
		add("APPLICATION_PASSWORD and APPLICATION_PASSWORD_HASH: set one, not both")
	}
	if c.ApplicationPasswordHash != "" {
		if _, err := auth.ParsePasswordHash(c.ApplicationPasswordHash.Value()); err != nil {
			add("APPLICATION_PASSWORD_HASH: %v", err)
		}
	}
	if c.LoginEnabled() && !c.SandboxSMS() && c.AdministratorPhone == "" {
		add("ADMINISTRATOR_PHONE_NUMBER: needed for admin sign-in codes when texts are real (APPLICATION_PASSWORD is set)")
	}
	if c.CustomerCode != "" {
		for _, r := range c.CustomerCode {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				add("CUSTOMER_CODE: use lowercase letters, digits and '-' only")
				break
			}
		}
	}
	if c.S3Bucket != "" && c.CustomerCode == "" {
		add("CUSTOMER_CODE: needed for the S3 archive's keys (S3_BUCKET is set)")
	}
	if c.EHRMLLPAddr != "" && c.EHRWebhookURL != "" {
		add("EHR_MLLP_ADDR and EHR_WEBHOOK_URL: set at most one")
	}
	if c.EHRMLLPAddr != "" {
		if _, _, err := net.SplitHostPort(c.EHRMLLPAddr); err != nil {
			add("EHR_MLLP_ADDR: want HOST:PORT, got %q", c.EHRMLLPAddr)
		}
	}
	if c.EHRWebhookURL != "" {
		if u, err := url.Parse(c.EHRWebhookURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			add("EHR_WEBHOOK_URL: want an http(s) URL")
		}
		if c.EHRWebhookSecret == "" {
			add("EHR_WEBHOOK_SECRET: required with EHR_WEBHOOK_URL (the EHR verifies the signature)")
		}
	}
	switch c.EHRProfile {
	case "siu", "srm":
	default:
		add("EHR_PROFILE: %q is not siu or srm", c.EHRProfile)
	}
	if !c.SandboxSMS() {
		if u, err := url.Parse(c.PublicBaseURL); c.PublicBaseURL == "" || err != nil || u.Host == "" ||
			(u.Scheme != "https" && u.Scheme != "http") {
			add("PUBLIC_BASE_URL: required with Twilio credentials (the URL Twilio calls, for webhook signatures), like https://appt.example.org")
		}
	}
	if c.TwilioAPIBaseURL != "" {
		if u, err := url.Parse(c.TwilioAPIBaseURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			add("TWILIO_API_BASE_URL: want an http(s) URL like http://127.0.0.1:9999")
		}
	}
	return errs
}

func (c Config) validateReminders() []error {
	var errs []error
	start, err1 := parseHHMM("REMINDER_OUTREACH_START", c.ReminderOutreachStart, 2400)
	finish, err2 := parseHHMM("REMINDER_OUTREACH_FINISH", c.ReminderOutreachFinish, 2400)
	first, err3 := parseHHMM("REMINDER_FIRST_TIMING", c.ReminderFirstTiming, 9959)
	second, err4 := parseHHMM("REMINDER_SECOND_TIMING", c.ReminderSecondTiming, 9959)
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err1 == nil && err2 == nil && start >= finish {
		errs = append(errs, fmt.Errorf("REMINDER_OUTREACH_START (%s) must be earlier than REMINDER_OUTREACH_FINISH (%s)", c.ReminderOutreachStart, c.ReminderOutreachFinish))
	}
	if err3 == nil && first == 0 {
		errs = append(errs, fmt.Errorf("REMINDER_FIRST_TIMING: must be more than 0000"))
	}
	if err3 == nil && err4 == nil && second != 0 && second >= first {
		errs = append(errs, fmt.Errorf("REMINDER_SECOND_TIMING (%s) must be shorter than REMINDER_FIRST_TIMING (%s), or 0000 to turn the second reminder off", c.ReminderSecondTiming, c.ReminderFirstTiming))
	}
	return errs
}

// parseHHMM parses 4 digits HHMM (minutes < 60) into a duration.
func parseHHMM(name, s string, max int) (time.Duration, error) {
	if len(s) != 4 {
		return 0, fmt.Errorf("%s: want 4 digits HHMM, got %q", name, s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: want 4 digits HHMM, got %q", name, s)
	}
	h, m := n/100, n%100
	if m >= 60 || n > max {
		return 0, fmt.Errorf("%s: %q is not a valid HHMM (minutes 00-59, at most %04d)", name, s, max)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

func alnum(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

func isE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for _, r := range s[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// ReadEnvFile reads KEY=VALUE lines (# comments, optional quotes, optional
// "export ") into a map.
func ReadEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		s = strings.TrimPrefix(s, "export ")
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("read env file: line %d: want KEY=VALUE", line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	return out, nil
}

// Getenv returns a getenv that prefers the process environment and falls
// back to file values.
func Getenv(file map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := os.LookupEnv(k); ok {
			return v
		}
		return file[k]
	}
}
