package twiliotest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	directionOutbound = "outbound-api"
	directionInbound  = "inbound"

	maxForm      = 64 << 10
	maxBodyChars = 1600
	dateLayout   = time.RFC1123Z // "Fri, 27 Nov 2026 20:00:00 +0000"
)

// errorText holds Twilio's messages for the codes the server uses or that
// tests script. Like Twilio, some quote the To number.
var errorText = map[int]string{
	14107: "Message rate limit exceeded",
	20001: "Invalid parameter",
	20003: "Authentication Error - invalid username",
	20004: "Method not allowed",
	20404: "The requested resource %s was not found",
	20429: "Too Many Requests",
	20500: "Internal Server Error",
	20503: "Service Unavailable",
	21211: "The 'To' number %s is not a valid phone number.",
	21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: %s.",
	21602: "Message body is required.",
	21603: "A 'From' phone number is required.",
	21604: "A 'To' phone number is required.",
	21606: "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination.",
	21610: "Attempt to send to unsubscribed recipient",
	21611: "This 'From' number has exceeded the maximum number of queued messages",
	21612: "The 'To' phone number: %s, is not currently reachable using the 'From' phone number via SMS.",
	21614: "'To' number %s is not a valid mobile number",
	21617: "The concatenated message body exceeds the 1600 character limit.",
	21635: "'To' number cannot be a landline.",
	30005: "Unknown destination handset",
	30006: "Landline or unreachable carrier",
}

// ServeHTTP answers the Messages API under /2010-04-01/Accounts/{sid}/:
// POST and GET Messages.json, GET Messages/{Sid}.json.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	prefix := "/" + APIVersion + "/Accounts/"
	if !strings.HasPrefix(r.URL.Path, prefix) {
		writeError(w, http.StatusNotFound, 20404, r.URL.Path)
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, prefix), "/")
	switch {
	case len(parts) == 2 && parts[1] == "Messages.json":
		switch r.Method {
		case http.MethodPost:
			s.mu.Lock()
			s.calls++
			s.mu.Unlock()
			if s.authorize(w, r, parts[0]) {
				s.create(w, r)
			}
		case http.MethodGet:
			if s.authorize(w, r, parts[0]) {
				s.list(w, r)
			}
		default:
			writeError(w, http.StatusMethodNotAllowed, 20004, "")
		}
	case len(parts) == 3 && parts[1] == "Messages" && strings.HasSuffix(parts[2], ".json"):
		if r.Method != http.MethodGet {
			writeError(w, http.StatusMethodNotAllowed, 20004, "")
			return
		}
		if s.authorize(w, r, parts[0]) {
			s.fetch(w, r, strings.TrimSuffix(parts[2], ".json"))
		}
	default:
		writeError(w, http.StatusNotFound, 20404, r.URL.Path)
	}
}

// authorize checks HTTP Basic auth (AccountSid:AuthToken) and the account
// in the path, and answers the error itself.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, account string) bool {
	user, pass, ok := r.BasicAuth()
	if !ok || user != s.accountSID || pass != s.authToken {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeError(w, http.StatusUnauthorized, 20003, "")
		return false
	}
	if account != s.accountSID {
		writeError(w, http.StatusNotFound, 20404, r.URL.Path)
		return false
	}
	return true
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "")
		return
	}
	f := r.PostForm
	to, from, mss, body := f.Get("To"), f.Get("From"), f.Get("MessagingServiceSid"), f.Get("Body")
	switch {
	case to == "":
		writeError(w, http.StatusBadRequest, 21604, "")
		return
	case from == "" && mss == "":
		writeError(w, http.StatusBadRequest, 21603, "")
		return
	case body == "":
		writeError(w, http.StatusBadRequest, 21602, "")
		return
	case utf8.RuneCountInString(body) > maxBodyChars:
		writeError(w, http.StatusBadRequest, 21617, "")
		return
	}

	s.mu.Lock()
	resp, scripted := s.nextScript(to)
	s.mu.Unlock()
	status := resp.HTTPStatus
	if status == 0 {
		switch {
		case resp.Code == 20429:
			status = http.StatusTooManyRequests
		case resp.Code != 0:
			status = http.StatusBadRequest
		default:
			status = http.StatusCreated
		}
	}
	ok := status >= 200 && status < 300
	newMessage := func() *Message {
		t := now()
		m := &Message{
			SID:                 newSID("SM"),
			AccountSID:          s.accountSID,
			To:                  to,
			From:                from,
			MessagingServiceSID: mss,
			Body:                body,
			StatusCallback:      f.Get("StatusCallback"),
			Status:              "queued",
			Direction:           directionOutbound,
			NumSegments:         Segments(body),
			Created:             t,
			Updated:             t,
		}
		if mss != "" {
			m.Status = "accepted"
		}
		s.mu.Lock()
		s.recordLocked(m)
		s.mu.Unlock()
		if s.OnCreate != nil {
			go s.OnCreate(*m)
		}
		return m
	}

	// With Create the message exists before any Delay, whatever happens
	// next. A plain Delay creates it only if the caller is still there to
	// get the 201.
	var m *Message
	if resp.Create || (ok && resp.Delay == 0) {
		m = newMessage()
	}
	if resp.Delay > 0 {
		timer := time.NewTimer(resp.Delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			s.logCreate(scripted, 0, resp, m, body)
			return
		case <-s.done:
			s.logCreate(scripted, 0, resp, m, body)
			return
		}
		if ok && m == nil {
			m = newMessage()
		}
	}
	s.logCreate(scripted, status, resp, m, body)
	if resp.RetryAfter != "" {
		w.Header().Set("Retry-After", resp.RetryAfter)
	}
	if !ok {
		if resp.Body != "" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(resp.Body))
			return
		}
		writeError(w, status, resp.Code, to)
		return
	}
	snap := s.snapshot(m)
	writeJSON(w, status, s.messageJSON(&snap))
}

// snapshot copies m under the lock (SetStatus may be changing it).
func (s *Server) snapshot(m *Message) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *m
}

func (s *Server) logCreate(scripted bool, status int, resp Response, m *Message, body string) {
	if s.Logger == nil {
		return
	}
	var b strings.Builder
	b.WriteString("twilio-sim: create")
	if scripted {
		b.WriteString(" (scripted)")
	}
	if status == 0 {
		b.WriteString(" -> no answer (caller gone)")
	} else {
		fmt.Fprintf(&b, " -> HTTP %d", status)
	}
	if status >= 300 && resp.Code != 0 {
		fmt.Fprintf(&b, " code %d", resp.Code)
	}
	if resp.Delay > 0 {
		fmt.Fprintf(&b, " after %s", resp.Delay)
	}
	if m != nil {
		snap := s.snapshot(m)
		fmt.Fprintf(&b, " sid=%s status=%s segments=%d", snap.SID, snap.Status, snap.NumSegments)
	}
	if s.Verbose {
		fmt.Fprintf(&b, " body=%q", body)
	}
	s.Logger("%s", b.String())
}

func (s *Server) fetch(w http.ResponseWriter, r *http.Request, sid string) {
	s.mu.Lock()
	m, ok := s.bySID[sid]
	var snap Message
	if ok {
		snap = *m
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, 20404, r.URL.Path)
		return
	}
	writeJSON(w, http.StatusOK, s.messageJSON(&snap))
}

// dateFilter is one DateSent, DateSent< or DateSent> condition.
type dateFilter struct {
	op       byte // '=', '<', '>'
	t        time.Time
	dateOnly bool
}

func (d dateFilter) match(sent time.Time) bool {
	if sent.IsZero() {
		return false
	}
	if d.dateOnly {
		day := sent.UTC().Truncate(24 * time.Hour)
		switch d.op {
		case '<':
			return !day.After(d.t)
		case '>':
			return !day.Before(d.t)
		}
		return day.Equal(d.t)
	}
	switch d.op {
	case '<':
		return !sent.After(d.t)
	case '>':
		return !sent.Before(d.t)
	}
	return sent.Equal(d.t)
}

func parseDateFilter(op byte, v string) (dateFilter, bool) {
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return dateFilter{op: op, t: t, dateOnly: true}, true
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return dateFilter{op: op, t: t.UTC().Truncate(time.Second)}, true
	}
	return dateFilter{}, false
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	filters := url.Values{}
	var dates []dateFilter
	for _, k := range []string{"To", "From"} {
		if v := q.Get(k); v != "" {
			filters.Set(k, v)
		}
	}
	for k, op := range map[string]byte{"DateSent": '=', "DateSent<": '<', "DateSent>": '>'} {
		v := q.Get(k)
		if v == "" {
			continue
		}
		d, ok := parseDateFilter(op, v)
		if !ok {
			writeError(w, http.StatusBadRequest, 20001, "")
			return
		}
		filters.Set(k, v)
		dates = append(dates, d)
	}
	pageSize := 50
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, 20001, "")
			return
		}
		pageSize = min(n, 1000)
	}
	page := 0
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, 20001, "")
			return
		}
		page = n
	}
	token := q.Get("PageToken")

	s.mu.Lock()
	var all []Message // matching, newest first
	for i := len(s.msgs) - 1; i >= 0; i-- {
		m := s.msgs[i]
		if v := filters.Get("To"); v != "" && m.To != v {
			continue
		}
		if v := filters.Get("From"); v != "" && m.From != v {
			continue
		}
		keep := true
		for _, d := range dates {
			keep = keep && d.match(m.Sent)
		}
		if keep {
			all = append(all, *m)
		}
	}
	s.mu.Unlock()

	// A PageToken "PA<sid>" continues after that message, so new messages
	// do not shift the pages of a walk in progress (Twilio's tokens do the
	// same); without one, Page counts from the newest.
	start := page * pageSize
	if strings.HasPrefix(token, "PA") {
		after := strings.TrimPrefix(token, "PA")
		start = -1
		for i := range all {
			if all[i].SID == after {
				start = i + 1
				break
			}
		}
		if start < 0 {
			writeError(w, http.StatusBadRequest, 20001, "")
			return
		}
	}
	start = min(start, len(all))
	end := min(start+pageSize, len(all))
	items := all[start:end]

	base := "/" + APIVersion + "/Accounts/" + s.accountSID + "/Messages.json"
	uri := func(p int, tok string) string {
		v := url.Values{}
		for k, vs := range filters {
			v[k] = vs
		}
		v.Set("PageSize", strconv.Itoa(pageSize))
		v.Set("Page", strconv.Itoa(p))
		if tok != "" {
			v.Set("PageToken", tok)
		}
		return base + "?" + v.Encode()
	}
	out := listJSON{
		Messages:     make([]messageJSON, 0, len(items)),
		Page:         page,
		PageSize:     pageSize,
		Start:        page * pageSize,
		FirstPageURI: uri(0, ""),
		URI:          uri(page, token),
	}
	out.End = out.Start + max(len(items)-1, 0)
	for i := range items {
		out.Messages = append(out.Messages, s.messageJSON(&items[i]))
	}
	if end < len(all) && len(items) > 0 {
		next := uri(page+1, "PA"+items[len(items)-1].SID)
		out.NextPageURI = &next
	}
	if page > 0 {
		prev := uri(page-1, "")
		out.PreviousPageURI = &prev
	}
	writeJSON(w, http.StatusOK, out)
}

// messageJSON is Twilio's Message resource.
type messageJSON struct {
	AccountSID          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                *string           `json:"from"`
	MessagingServiceSID *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           string            `json:"price_unit"`
	SID                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

// listJSON is Twilio's Messages list page.
type listJSON struct {
	End             int           `json:"end"`
	FirstPageURI    string        `json:"first_page_uri"`
	Messages        []messageJSON `json:"messages"`
	NextPageURI     *string       `json:"next_page_uri"`
	Page            int           `json:"page"`
	PageSize        int           `json:"page_size"`
	PreviousPageURI *string       `json:"previous_page_uri"`
	Start           int           `json:"start"`
	URI             string        `json:"uri"`
}

func (s *Server) messageJSON(m *Message) messageJSON {
	str := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	uri := "/" + APIVersion + "/Accounts/" + m.AccountSID + "/Messages/" + m.SID
	j := messageJSON{
		AccountSID:          m.AccountSID,
		APIVersion:          APIVersion,
		Body:                m.Body,
		DateCreated:         m.Created.Format(dateLayout),
		DateUpdated:         m.Updated.Format(dateLayout),
		Direction:           m.Direction,
		From:                str(m.From),
		MessagingServiceSID: str(m.MessagingServiceSID),
		NumMedia:            "0",
		NumSegments:         strconv.Itoa(m.NumSegments),
		PriceUnit:           "USD",
		SID:                 m.SID,
		Status:              m.Status,
		SubresourceURIs:     map[string]string{"media": uri + "/Media.json", "feedback": uri + "/Feedback.json"},
		To:                  m.To,
		URI:                 uri + ".json",
	}
	// A Messaging Service picks the sender later: num_segments starts at 0.
	if m.MessagingServiceSID != "" && m.Status == "accepted" {
		j.NumSegments = "0"
	}
	if !m.Sent.IsZero() {
		j.DateSent = str(m.Sent.Format(dateLayout))
	}
	if m.ErrorCode != 0 {
		code := m.ErrorCode
		j.ErrorCode = &code
		j.ErrorMessage = str(message(code, ""))
	}
	return j
}

// errorJSON is Twilio's error body.
type errorJSON struct {
	Code     *int   `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func message(code int, arg string) string {
	t, ok := errorText[code]
	if !ok {
		return fmt.Sprintf("Error %d", code)
	}
	if strings.Contains(t, "%s") {
		return fmt.Sprintf(t, arg)
	}
	return t
}

// writeError answers Twilio's JSON error. arg fills the message's %s (the
// To number or the path, as Twilio does).
func writeError(w http.ResponseWriter, status, code int, arg string) {
	if code == 0 {
		switch status {
		case http.StatusTooManyRequests:
			code = 20429
		case http.StatusUnauthorized:
			code = 20003
		case http.StatusNotFound:
			code = 20404
		case http.StatusInternalServerError:
			code = 20500
		case http.StatusServiceUnavailable:
			code = 20503
		}
	}
	e := errorJSON{Status: status, MoreInfo: "https://www.twilio.com/docs/errors"}
	if code != 0 {
		e.Code = &code
		e.Message = message(code, arg)
		e.MoreInfo = fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code)
	} else {
		e.Message = http.StatusText(status)
	}
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
