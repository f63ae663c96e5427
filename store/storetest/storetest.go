// Package storetest is the contract suite every store.Store backend must
// pass: call Run from the backend's tests.
//
// The suite uses synthetic data only. It does not control the store's
// clock, so it never asserts CreatedAt/UpdatedAt/RecordedAt values beyond
// their form (UTC, microsecond precision) and puts appointments far in the
// future so no text is suppressed as past.
package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// Run runs the contract suite against the backend returned by open. open
// is called once per subtest and must return a new, empty store, closed by
// a t.Cleanup it registers (the suite may Close it first: a second Close
// must return nil). Subtests run in parallel, so open is called
// concurrently. The store's clock must be close to the real time (the
// default): the suite never sets it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"IngestNew", testIngestNew},
		{"Duplicate", testDuplicate},
		{"Conflict", testConflict},
		{"KeyIncludesSender", testKeyIncludesSender},
		{"NoEvent", testNoEvent},
		{"Stale", testStale},
		{"Lifecycle", testLifecycle},
		{"EveryEventKept", testEveryEventKept},
		{"EventIDConflict", testEventIDConflict},
		{"Invalid", testInvalid},
		{"OptOut", testOptOut},
		{"Appointments", testAppointments},
		{"HistoryUnknown", testHistoryUnknown},
		{"NotFound", testNotFound},
		{"Prune", testPrune},
		{"Times", testTimes},
		{"Concurrent", testConcurrent},
		{"ConcurrentDuplicates", testConcurrentDuplicates},
		{"OutboxRetryOrder", testOutboxRetryOrder},
		{"Closed", testClosed},
		{"OutboxIngestText", testOutboxIngestText},
		{"OutboxPatientRequests", testOutboxPatientRequests},
		{"OutboxSupersede", testOutboxSupersede},
		{"OutboxTxAppointment", testOutboxTxAppointment},
		{"OutboxLatestAsking", testOutboxLatestAsking},
		{"OutboxAddText", testOutboxAddText},
		{"OutboxTxOptOut", testOutboxTxOptOut},
		{"OutboxCancelPending", testOutboxCancelPending},
		{"OutboxTxRollback", testOutboxTxRollback},
		{"OutboxClaimTexts", testOutboxClaimTexts},
		{"OutboxNextTextDue", testOutboxNextTextDue},
		{"OutboxTextStatus", testOutboxTextStatus},
		{"OutboxTextStatusShuffled", testOutboxTextStatusShuffled},
		{"OutboxRequests", testOutboxRequests},
		{"OutboxLiveLease", testOutboxLiveLease},
		{"OutboxQueueStats", testOutboxQueueStats},
		{"OutboxTokens", testOutboxTokens},
		{"OutboxConcurrentClaims", testOutboxConcurrentClaims},
		{"AdminSecret", testAdminSecret},
		{"AdminLoginCodes", testAdminLoginCodes},
		{"AdminSessions", testAdminSessions},
		{"AdminAudit", testAdminAudit},
		{"AdminStats", testAdminStats},
		{"AdminInboundOf", testAdminInboundOf},
		{"AdminHistorySince", testAdminHistorySince},
		{"AdminSignInFailures", testAdminSignInFailures},
		{"AdminClosed", testAdminClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// base is the suite's reference instant (microsecond precision, UTC).
var base = time.Date(2030, 3, 4, 5, 6, 7, 123456000, time.UTC)

// apptStart is far in the future so the store's real clock never makes a
// text "past".
var apptStart = time.Date(2099, 6, 1, 14, 30, 0, 0, time.UTC)

var seq atomic.Int64

// newEvent returns a synthetic EHR-style event for appointment aid.
func newEvent(aid string, typ apptbridge.EventType, at time.Time) *apptbridge.Event {
	e := &apptbridge.Event{
		EventID:               apptbridge.NewEventID(),
		EventType:             typ,
		EventDatetimeUTC:      at,
		PatientID:             "PAT-" + aid,
		PatientFirstName:      "Testfirst",
		PatientLastName:       "Testlast",
		PatientPhone:          "+15555550100",
		PatientLanguage:       "en",
		ProviderID:            "PRV-1",
		ProviderFirstName:     "Doc",
		ProviderLastName:      "Example",
		ProviderCallbackPhone: "+15555550199",
		AppointmentID:         aid,
		AppointmentLocation:   "Clinic A",
		AppointmentStatus:     "Booked",
		Source: &apptbridge.Source{
			Channel:            apptbridge.ChannelMLLP,
			MessageType:        "SIU^S12",
			SendingApplication: "EHR",
			SendingFacility:    "CLINIC",
			ReceivedAt:         at,
		},
	}
	if typ.FromEHR() {
		e.SetAppointmentTime(apptStart, time.UTC)
		e.AppointmentDurationMinutes = 30
	} else {
		e.Source.Channel = apptbridge.ChannelSystem
		e.PatientPhone = ""
	}
	return e
}

// newInbound wraps ev (nil for a message without effect) in an inbound
// message with a fresh control id from EHR/CLINIC.
func newInbound(ev *apptbridge.Event) *store.Inbound {
	ctrl := fmt.Sprintf("CTRL%06d", seq.Add(1))
	typ := "SIU^S12"
	body := "SCH|||||||||||||||||||||||||Booked"
	if ev != nil {
		body = "EVT|" + ev.EventID + "|" + string(ev.EventType) + "|" + ev.AppointmentID
	} else {
		typ = "SIU^S23"
	}
	raw := []byte("MSH|^~\\&|EHR|CLINIC|APPTBRIDGE|APPTBRIDGE|20300304050607||" + typ + "|" + ctrl + "|P|2.5.1\r" + body + "\r")
	ack := []byte("MSH|^~\\&|APPTBRIDGE|APPTBRIDGE|EHR|CLINIC|20300304050608||ACK|A" + ctrl + "|P|2.5.1\rMSA|AA|" + ctrl + "\r")
	if ev != nil && ev.Source != nil {
		ev.Source.MessageControlID = ctrl
	}
	return &store.Inbound{
		Key:         store.DedupKey{SendingApplication: "EHR", SendingFacility: "CLINIC", ControlID: ctrl},
		Hash:        store.HashOf(raw),
		Raw:         raw,
		MessageType: typ,
		ReceivedAt:  base,
		Event:       ev,
		Ack:         ack,
		AckCode:     "AA",
	}
}

func ingest(t *testing.T, s store.Store, in *store.Inbound) store.IngestResult {
	t.Helper()
	res, err := s.Ingest(t.Context(), in)
	if err != nil {
		t.Fatalf("Ingest(%s): %v", in.Key.ControlID, err)
	}
	return res
}

// ingestNew ingests in and fails unless it was new.
func ingestNew(t *testing.T, s store.Store, in *store.Inbound) apptbridge.Outcome {
	t.Helper()
	res := ingest(t, s, in)
	if res.Duplicate || res.Conflict {
		t.Fatalf("Ingest(%s) = duplicate %v conflict %v, want new", in.Key.ControlID, res.Duplicate, res.Conflict)
	}
	return res.Outcome
}

func appointment(t *testing.T, s store.Store, id string) *apptbridge.Appointment {
	t.Helper()
	a, err := s.Appointment(t.Context(), id)
	if err != nil {
		t.Fatalf("Appointment(%s): %v", id, err)
	}
	return a
}

func history(t *testing.T, s store.Store, id string) []store.HistoryEntry {
	t.Helper()
	h, err := s.History(t.Context(), id)
	if err != nil {
		t.Fatalf("History(%s): %v", id, err)
	}
	return h
}

func countInbound(t *testing.T, s store.Store) int {
	t.Helper()
	n, err := s.CountInbound(t.Context())
	if err != nil {
		t.Fatalf("CountInbound: %v", err)
	}
	return n
}

// sameJSON fails unless got and want encode to the same JSON. Instants
// encode with their zone, so this also checks they are UTC when want's are.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("%s: marshal: %v", what, err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatalf("%s: marshal: %v", what, err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// checkInstant fails unless tm is UTC with at most microsecond precision.
func checkInstant(t *testing.T, what string, tm time.Time) {
	t.Helper()
	if tm.IsZero() {
		t.Errorf("%s is zero", what)
		return
	}
	if tm.Location() != time.UTC {
		t.Errorf("%s location = %v, want UTC", what, tm.Location())
	}
	if !tm.Equal(tm.Truncate(store.Precision)) {
		t.Errorf("%s = %v, finer than %v", what, tm, store.Precision)
	}
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := apptbridge.ErrorCode(err); got != code {
		t.Errorf("%s: error %v has code %q, want %q", what, err, got, code)
	}
}
