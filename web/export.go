package web

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// Exports (SPEC §11): the original's state and history downloads, as CSV
// (columns = the canonical JSON keys, nested source fields as
// source.channel …) or NDJSON (one canonical JSON object per line).
// They stream page by page, so a million appointments never sit in memory.
//
//	GET /v1/export/state.csv|state.ndjson      ?from=&to= on the appointment's time
//	GET /v1/export/history.csv|history.ndjson  ?from=&to= on when the event was recorded

const exportPage = 500

// exportPageTimeout is how long writing one page of an export may take.
const exportPageTimeout = 30 * time.Second

// historyExtra are a history row's keys before the event's own.
var historyExtra = []string{"seq", "recorded_at", "applied", "reason", "from", "disposition", "text", "suppressed"}

var (
	columnsOnce                sync.Once
	stateColumns, eventColumns []string
	historyColumns             []string
)

func exportColumns() {
	columnsOnce.Do(func() {
		stateColumns = jsonColumns(reflect.TypeFor[apptbridge.Appointment](), "")
		eventColumns = jsonColumns(reflect.TypeFor[apptbridge.Event](), "")
		historyColumns = append(append([]string{}, historyExtra...), eventColumns...)
	})
}

// jsonColumns lists the JSON keys of struct type t in field order:
// embedded structs inline, struct (pointer) fields as prefix.key.
func jsonColumns(t reflect.Type, prefix string) []string {
	var out []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			out = append(out, jsonColumns(ft, prefix)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]() {
			out = append(out, jsonColumns(ft, prefix+name+".")...)
			continue
		}
		out = append(out, prefix+name)
	}
	return out
}

func (a *API) export(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	what, format, _ := strings.Cut(name, ".")
	if (what != "state" && what != "history") || (format != "csv" && format != "ndjson") {
		writeError(w, http.StatusNotFound, "not_found", "exports are state.csv, state.ndjson, history.csv and history.ndjson", nil)
		return
	}
	var from, to time.Time
	var ferrs []FieldError
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := r.URL.Query().Get(p.name); v != "" {
			t, err := parseTimeParam(v)
			if err != nil {
				ferrs = append(ferrs, FieldError{Field: p.name, Message: "must be RFC 3339 (2026-12-01T00:00:00Z) or a date (2026-12-01, UTC)"})
			}
			*p.dst = t
		}
	}
	if len(ferrs) > 0 {
		writeError(w, http.StatusBadRequest, "invalid", "invalid query parameters", ferrs)
		return
	}
	exportColumns()
	ctype := "text/csv; charset=utf-8"
	if format == "ndjson" {
		ctype = "application/x-ndjson"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="apptbridge-%s-%s.%s"`,
		what, a.cfg.Now().UTC().Format("20060102"), format))
	bw := bufio.NewWriterSize(w, 64<<10)
	out := newRowWriter(bw, format)
	// The server's write timeout is for ordinary answers; an export of a
	// million appointments takes longer, so each page extends it.
	rc := http.NewResponseController(w)
	out.extend = func() { rc.SetWriteDeadline(time.Now().Add(exportPageTimeout)) }
	var rows int
	var err error
	if what == "state" {
		rows, err = a.exportState(r, out, from, to)
	} else {
		rows, err = a.exportHistory(r, out, from, to)
	}
	if err == nil {
		err = out.flush()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		// The status is sent; a cut-off body is all that can be said.
		a.log.Warn("export cut short", zap.String("export", name), zap.Int("rows", rows), zap.Error(err))
	}
	a.auditAs(r, "export", name, "rows="+strconv.Itoa(rows))
}

func (a *API) exportState(r *http.Request, out *rowWriter, from, to time.Time) (int, error) {
	if err := out.header(stateColumns); err != nil {
		return 0, err
	}
	n := 0
	f := store.Filter{From: from, To: to, Limit: exportPage}
	for {
		out.extend()
		list, err := a.cfg.Store.Appointments(r.Context(), f)
		if err != nil {
			return n, err
		}
		for _, appt := range list {
			b, err := json.Marshal(appt)
			if err != nil {
				return n, err
			}
			if err := out.row(b, stateColumns); err != nil {
				return n, err
			}
			n++
		}
		if len(list) < f.Limit {
			return n, nil
		}
		f.After = list[len(list)-1].AppointmentID
	}
}

type historyRow struct {
	Seq        int64                  `json:"seq"`
	RecordedAt time.Time              `json:"recorded_at"`
	Applied    bool                   `json:"applied"`
	Reason     string                 `json:"reason,omitempty"`
	From       apptbridge.Disposition `json:"from,omitempty"`
	To         apptbridge.Disposition `json:"disposition,omitempty"`
	Text       apptbridge.TextKind    `json:"text,omitempty"`
	Suppressed string                 `json:"suppressed,omitempty"`
}

func (a *API) exportHistory(r *http.Request, out *rowWriter, from, to time.Time) (int, error) {
	if err := out.header(historyColumns); err != nil {
		return 0, err
	}
	// Up to the horizon only: with several processes on PostgreSQL an
	// entry can commit after a later seq, and paging past it would lose it.
	horizon, err := a.cfg.Store.HistoryHorizon(r.Context())
	if err != nil {
		return 0, err
	}
	n := 0
	var after int64
	for {
		out.extend()
		list, err := a.cfg.Store.HistorySince(r.Context(), after, exportPage)
		if err != nil {
			return n, err
		}
		for _, h := range list {
			if h.Seq > horizon {
				return n, nil // recorded after the export began
			}
			after = h.Seq
			if (!from.IsZero() && h.RecordedAt.Before(from)) || (!to.IsZero() && !h.RecordedAt.Before(to)) {
				continue
			}
			head, err := json.Marshal(historyRow{Seq: h.Seq, RecordedAt: h.RecordedAt, Applied: h.Applied, Reason: h.Reason,
				From: h.From, To: h.To, Text: h.Text, Suppressed: h.Suppressed})
			if err != nil {
				return n, err
			}
			ev, err := json.Marshal(&h.Event)
			if err != nil {
				return n, err
			}
			// One flat object: the row's keys, then the event's.
			b := append(head[:len(head)-1:len(head)-1], ',')
			b = append(b, ev[1:]...)
			if err := out.row(b, historyColumns); err != nil {
				return n, err
			}
			n++
		}
		if len(list) < exportPage {
			return n, nil
		}
	}
}

// rowWriter writes JSON objects as NDJSON lines or CSV rows.
type rowWriter struct {
	extend func() // called before each page
	w      *bufio.Writer
	csv    *csv.Writer // nil for NDJSON
	record []string
}

func newRowWriter(w *bufio.Writer, format string) *rowWriter {
	rw := &rowWriter{w: w, extend: func() {}}
	if format == "csv" {
		rw.csv = csv.NewWriter(w)
	}
	return rw
}

func (rw *rowWriter) header(cols []string) error {
	if rw.csv == nil {
		return nil
	}
	return rw.csv.Write(cols)
}

// row writes one object (its JSON b); CSV cells follow cols.
func (rw *rowWriter) row(b []byte, cols []string) error {
	if rw.csv == nil {
		if _, err := rw.w.Write(b); err != nil {
			return err
		}
		return rw.w.WriteByte('\n')
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return err
	}
	flat := make(map[string]string, len(cols))
	flatten("", m, flat)
	rw.record = rw.record[:0]
	for _, c := range cols {
		rw.record = append(rw.record, csvSafe(flat[c]))
	}
	return rw.csv.Write(rw.record)
}

func (rw *rowWriter) flush() error {
	if rw.csv == nil {
		return nil
	}
	rw.csv.Flush()
	return rw.csv.Error()
}

func flatten(prefix string, m map[string]any, out map[string]string) {
	for k, v := range m {
		switch v := v.(type) {
		case map[string]any:
			flatten(prefix+k+".", v, out)
		case string:
			out[prefix+k] = v
		case json.Number:
			out[prefix+k] = v.String()
		case bool:
			out[prefix+k] = strconv.FormatBool(v)
		case nil:
		default:
			b, _ := json.Marshal(v)
			out[prefix+k] = string(b)
		}
	}
}

// plainNumber is a number or phone a spreadsheet may read as one.
var plainNumber = regexp.MustCompile(`^[+-]?[0-9][0-9.]*$`)

// csvSafe defuses formula injection (a name "=HYPERLINK(…)" from an HL7
// message opened in a spreadsheet): a cell starting with = + - @ or a
// tab/CR gets a leading apostrophe, unless it is a plain number or an
// E.164 phone.
func csvSafe(s string) string {
	if s == "" || plainNumber.MatchString(s) {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
