package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/s3/s3test"
	"github.com/apptbridge/apptbridge/store/sqlite"
)

const (
	testAccess = s3test.AccessKey
	testSecret = s3test.SecretKey
	testBucket = s3test.Bucket
	customer   = "acme"
)

// recorder is an HTTP client that records each request's method, path
// and server-side encryption headers.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
	c    *http.Client
}

type recorded struct {
	Method, Path, SSE, KMSKey string
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, recorded{req.Method, req.URL.Path,
		req.Header.Get("X-Amz-Server-Side-Encryption"), req.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")})
	r.mu.Unlock()
	return r.c.Do(req)
}

func (r *recorder) puts() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recorded
	for _, x := range r.reqs {
		if x.Method == http.MethodPut {
			out = append(out, x)
		}
	}
	return out
}

type env struct {
	db   *sqlite.DB
	arch *Archiver
	rec  *recorder
	gw   *s3test.Gateway
	logs *observer.ObservedLogs
	log  *zap.Logger
}

func newEnv(t *testing.T, kms string) *env {
	t.Helper()
	gw := s3test.Start(t)
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "a.db"), sqlite.Options{Archive: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rec := &recorder{c: &http.Client{Timeout: 10 * time.Second}}
	arch, err := New(t.Context(), Config{Bucket: testBucket, CustomerCode: customer, Region: "us-east-1",
		Endpoint: gw.Endpoint(), KMSKeyID: kms, HTTPClient: rec,
		Credentials: credentials.NewStaticCredentialsProvider(testAccess, testSecret, "")})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	return &env{db: db, arch: arch, rec: rec, gw: gw, logs: logs, log: zap.New(core)}
}

var phiStrings = []string{"Jane", "Doe", "+15555550123", "Clinic A", "Example"}

func event(aid string, typ apptbridge.EventType, at time.Time) *apptbridge.Event {
	e := &apptbridge.Event{
		EventID:          apptbridge.NewEventID(),
		EventType:        typ,
		EventDatetimeUTC: at,
		PatientID:        "P" + aid,
		PatientFirstName: "Jane", PatientLastName: "Doe", PatientPhone: "+15555550123",
		PatientLanguage: "en", ProviderID: "PRV", ProviderFirstName: "Doc", ProviderLastName: "Example",
		AppointmentID: aid, AppointmentLocation: "Clinic A", AppointmentStatus: "Booked",
		Source: &apptbridge.Source{Channel: apptbridge.ChannelMLLP, MessageType: "SIU^S12",
			SendingApplication: "EHR", SendingFacility: "CLINIC", ReceivedAt: at},
	}
	e.SetAppointmentTime(time.Date(2099, 6, 1, 14, 30, 0, 0, time.UTC), time.UTC)
	e.AppointmentDurationMinutes = 30
	return e
}

var ctrl int

func ingest(t *testing.T, db store.Store, ev *apptbridge.Event) {
	t.Helper()
	ctrl++
	raw := []byte(fmt.Sprintf("MSH|%d|%s", ctrl, ev.EventID))
	_, err := db.Ingest(t.Context(), &store.Inbound{Key: store.DedupKey{SendingApplication: "EHR", SendingFacility: "CLINIC",
		ControlID: fmt.Sprintf("C%d-%s", ctrl, ev.EventID)}, Hash: store.HashOf(raw), Raw: raw, MessageType: "SIU^S12",
		Event: ev, Ack: []byte("ACK"), AckCode: "AA"})
	if err != nil {
		t.Fatal(err)
	}
}

// drain runs the worker until the queue is empty.
func drain(t *testing.T, w *Worker, q store.Archive) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := w.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		st, err := q.ArchiveQueue(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if st.Depth == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue not drained: %d jobs", st.Depth)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) objects(t *testing.T) map[string][]byte {
	t.Helper()
	return e.gw.Objects(t)
}

func keys(m map[string][]byte) []string { return s3test.Keys(m) }

func (e *env) checkNoPHI(t *testing.T) {
	t.Helper()
	for _, entry := range e.logs.All() {
		line := entry.Message
		for k, v := range entry.ContextMap() {
			line += fmt.Sprintf(" %s=%v", k, v)
		}
		for _, phi := range phiStrings {
			if strings.Contains(line, phi) {
				t.Errorf("log line carries PHI %q: %s", phi, line)
			}
		}
	}
}

// TestArchive: objects land at the SPEC keys with the canonical JSON,
// every put asks for SSE, and a state object moves on CANCELED.
func TestArchive(t *testing.T) {
	e := newEnv(t, "")
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	w := &Worker{Store: e.db, Writer: e.arch, Logger: e.log, Metrics: m}

	book := event("A-1", apptbridge.Booked, time.Now().UTC())
	ingest(t, e.db, book)
	drain(t, w, e.db)
	queued := "state/customer=acme/disposition=QUEUED/appointmentA-1-patientPA-1.json"
	objs := e.objects(t)
	appt, err := e.db.Appointment(t.Context(), "A-1")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(appt)
	if !bytes.Equal(objs[queued], want) {
		t.Fatalf("objects %v; state %s = %s, want %s", keys(objs), queued, objs[queued], want)
	}

	cancel := event("A-1", apptbridge.Canceled, time.Now().UTC())
	ingest(t, e.db, cancel)
	drain(t, w, e.db)
	objs = e.objects(t)
	appt, _ = e.db.Appointment(t.Context(), "A-1")
	want, _ = json.Marshal(appt)
	canceled := "state/customer=acme/disposition=CANCELED/appointmentA-1-patientPA-1.json"
	if _, ok := objs[queued]; ok {
		t.Errorf("old state object %s still there after CANCELED", queued)
	}
	if !bytes.Equal(objs[canceled], want) {
		t.Errorf("state %s = %s, want %s", canceled, objs[canceled], want)
	}
	h, err := e.db.History(t.Context(), "A-1")
	if err != nil || len(h) != 2 {
		t.Fatalf("history: %v %d", err, len(h))
	}
	for _, x := range h {
		key := fmt.Sprintf("history/customer=acme/dt=%s/appointmentA-1-patientPA-1-%d-%s.json",
			x.RecordedAt.UTC().Format("2006-01-02"), x.RecordedAt.UnixMilli(), x.Event.EventID)
		body, ok := objs[key]
		if !ok {
			t.Errorf("history object %s missing; have %v", key, keys(objs))
			continue
		}
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if got["event_id"] != x.Event.EventID || got["applied"] != true || got["disposition"] != string(x.To) ||
			got["seq"] != float64(x.Seq) || got["appointment_id"] != "A-1" {
			t.Errorf("%s = %s", key, body)
		}
		if bytes.Count(body, []byte("\n")) != 0 || body[0] != '{' {
			t.Errorf("%s is not one JSON object on one line", key)
		}
	}
	if len(objs) != 3 {
		t.Errorf("objects = %v, want 2 history + 1 state", keys(objs))
	}
	puts := e.rec.puts()
	if len(puts) != 4 {
		t.Errorf("puts = %+v, want 4", puts)
	}
	for _, p := range puts {
		if p.SSE != "AES256" {
			t.Errorf("PUT %s: x-amz-server-side-encryption %q, want AES256", p.Path, p.SSE)
		}
	}
	if got := testutil.ToFloat64(m.jobs.WithLabelValues("ok")); got != 2 {
		t.Errorf("archive_jobs_total{ok} = %v, want 2", got)
	}
	e.checkNoPHI(t)
}

// TestArchiveKMS: with a KMS key every put asks for aws:kms with it.
func TestArchiveKMS(t *testing.T) {
	e := newEnv(t, "arn:aws:kms:us-east-1:111122223333:key/test")
	w := &Worker{Store: e.db, Writer: e.arch, Logger: e.log, MaxBackoff: 50 * time.Millisecond}
	ingest(t, e.db, event("K-1", apptbridge.Booked, time.Now().UTC()))
	// The gateway may not implement SSE-KMS: only the requests matter.
	w.RunOnce(t.Context())
	puts := e.rec.puts()
	if len(puts) == 0 {
		t.Fatal("no PUT")
	}
	for _, p := range puts {
		if p.SSE != "aws:kms" || p.KMSKey != "arn:aws:kms:us-east-1:111122223333:key/test" {
			t.Errorf("PUT %s: SSE %q key %q", p.Path, p.SSE, p.KMSKey)
		}
	}
}

// TestArchiveOutage: with the S3 server down, objects wait in the queue;
// once it is back they all arrive.
func TestArchiveOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("takes ~65 s")
	}
	e := newEnv(t, "")
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	w := &Worker{Store: e.db, Writer: e.arch, Logger: e.log, Metrics: m, MaxBackoff: 2 * time.Second,
		Timeout: 3 * time.Second}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	defer func() { stop(); <-done }()

	e.gw.Stop()
	for i := range 5 {
		aid := fmt.Sprintf("O-%d", i)
		ingest(t, e.db, event(aid, apptbridge.Booked, time.Now().UTC()))
		if i%2 == 0 {
			ingest(t, e.db, event(aid, apptbridge.Canceled, time.Now().UTC()))
		}
		w.Kick()
	}
	// The outage: the S3 server stopped for a minute.
	time.Sleep(time.Minute)
	st, err := e.db.ArchiveQueue(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Depth != 8 {
		t.Errorf("queue depth during the outage = %d, want 8", st.Depth)
	}
	if r := testutil.ToFloat64(m.jobs.WithLabelValues("retry")); r == 0 {
		t.Error("no retry counted during the outage")
	}
	if depth, age := queueMetrics(t, e.db); depth != 8 || age < 55 {
		t.Errorf("archive_depth = %v, archive_oldest_age_seconds = %v during a one-minute outage; want 8, >= 55", depth, age)
	}

	e.gw.Restart()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := e.db.ArchiveQueue(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if st.Depth == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue still has %d jobs 60 s after the server came back", st.Depth)
		}
		time.Sleep(200 * time.Millisecond)
	}
	objs := e.objects(t)
	var hist, state int
	for k := range objs {
		switch {
		case strings.HasPrefix(k, "history/customer=acme/dt="):
			hist++
		case strings.HasPrefix(k, "state/customer=acme/disposition="):
			state++
		}
	}
	if hist != 8 || state != 5 {
		t.Errorf("after the outage: %d history and %d state objects (%v), want 8 and 5", hist, state, keys(objs))
	}
	for i := range 5 {
		d := "QUEUED"
		if i%2 == 0 {
			d = "CANCELED"
		}
		k := fmt.Sprintf("state/customer=acme/disposition=%s/appointmentO-%d-patientPO-%d.json", d, i, i)
		if _, ok := objs[k]; !ok {
			t.Errorf("missing %s", k)
		}
	}
	e.checkNoPHI(t)
}

func TestKeys(t *testing.T) {
	at := time.Date(2026, 3, 4, 23, 59, 59, 123456000, time.UTC)
	if got := HistoryKey("acme", at, "A/1", "P=1", "E1"); got != "history/customer=acme/dt=2026-03-04/appointmentA%2F1-patientP%3D1-1772668799123-E1.json" {
		t.Errorf("HistoryKey = %s", got)
	}
	if got := StateKey("acme", apptbridge.DispOptedOut, "A1", "P1"); got != "state/customer=acme/disposition=OPTED-OUT/appointmentA1-patientP1.json" {
		t.Errorf("StateKey = %s", got)
	}
}

// TestArchivePatientChange: when an event changes the appointment's
// patient id (PID-3), alone or with the disposition, the state object
// moves to the new key and the old one is deleted: one state object per
// appointment, under its current patient id, at every step.
func TestArchivePatientChange(t *testing.T) {
	e := newEnv(t, "")
	w := &Worker{Store: e.db, Writer: e.arch, Logger: e.log}
	states := func() []string {
		var out []string
		for _, k := range keys(e.objects(t)) {
			if strings.HasPrefix(k, "state/") {
				out = append(out, k)
			}
		}
		return out
	}
	steps := []struct {
		typ  apptbridge.EventType
		pid  string
		want string
	}{
		{apptbridge.Booked, "P-OLD", "state/customer=acme/disposition=QUEUED/appointmentPC-1-patientP-OLD.json"},
		// The patient id alone changes.
		{apptbridge.Modified, "P-NEW", "state/customer=acme/disposition=QUEUED/appointmentPC-1-patientP-NEW.json"},
		// An event without a patient id keeps it (no move).
		{apptbridge.Modified, "", "state/customer=acme/disposition=QUEUED/appointmentPC-1-patientP-NEW.json"},
		// Patient id and disposition change together.
		{apptbridge.Canceled, "P/3", "state/customer=acme/disposition=CANCELED/appointmentPC-1-patientP%2F3.json"},
	}
	at := time.Now().UTC()
	for i, s := range steps {
		ev := event("PC-1", s.typ, at.Add(time.Duration(i)*time.Minute))
		ev.PatientID = s.pid
		ingest(t, e.db, ev)
		drain(t, w, e.db)
		got := states()
		if len(got) != 1 || got[0] != s.want {
			t.Fatalf("step %d (%s, patient %q): state objects %v, want [%s]", i, s.typ, s.pid, got, s.want)
		}
		appt, err := e.db.Appointment(t.Context(), "PC-1")
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(appt)
		if body := e.objects(t)[s.want]; !bytes.Equal(body, want) {
			t.Errorf("step %d: %s = %s, want %s", i, s.want, body, want)
		}
	}
	// The history objects are under the patient id each event left.
	var hist []string
	for _, k := range keys(e.objects(t)) {
		if strings.HasPrefix(k, "history/") {
			hist = append(hist, k)
		}
	}
	if len(hist) != len(steps) {
		t.Errorf("history objects %v, want %d", hist, len(steps))
	}
	e.checkNoPHI(t)
}

// TestOldStateKey: the key a job deletes.
func TestOldStateKey(t *testing.T) {
	st := func(pid string) *apptbridge.Appointment {
		a := &apptbridge.Appointment{}
		a.PatientID = pid
		return a
	}
	for _, c := range []struct {
		name string
		job  store.ArchiveJob
		want string
	}{
		{"new appointment", store.ArchiveJob{To: apptbridge.DispQueued, State: st("P1")}, ""},
		{"same key", store.ArchiveJob{From: apptbridge.DispQueued, FromPatientID: "P1", To: apptbridge.DispQueued, State: st("P1")}, ""},
		{"no state", store.ArchiveJob{From: apptbridge.DispQueued, FromPatientID: "P1"}, ""},
		{"disposition", store.ArchiveJob{From: apptbridge.DispQueued, FromPatientID: "P1", To: apptbridge.DispCanceled, State: st("P1")},
			"state/customer=acme/disposition=QUEUED/appointmentA-patientP1.json"},
		{"patient id", store.ArchiveJob{From: apptbridge.DispQueued, FromPatientID: "P1", To: apptbridge.DispQueued, State: st("P2")},
			"state/customer=acme/disposition=QUEUED/appointmentA-patientP1.json"},
		{"patient id set", store.ArchiveJob{From: apptbridge.DispQueued, To: apptbridge.DispQueued, State: st("P2")},
			"state/customer=acme/disposition=QUEUED/appointmentA-patient.json"},
	} {
		c.job.AppointmentID = "A"
		if got := oldStateKey("acme", &c.job); got != c.want {
			t.Errorf("%s: oldStateKey = %q, want %q", c.name, got, c.want)
		}
	}
}

// queueMetrics scrapes a QueueCollector on q: apptbridge_archive_depth
// and apptbridge_archive_oldest_age_seconds.
func queueMetrics(t *testing.T, q store.Archive) (depth, age float64) {
	t.Helper()
	return queueMetricsAt(t, q, nil)
}

func queueMetricsAt(t *testing.T, q store.Archive, now func() time.Time) (depth, age float64) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(&QueueCollector{Queue: q, Now: now})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
	}
	if len(got) != 2 {
		t.Fatalf("QueueCollector gathered %v, want depth and oldest age", got)
	}
	return got["apptbridge_archive_depth"], got["apptbridge_archive_oldest_age_seconds"]
}

// TestQueueCollector: the archive queue's depth and oldest age, read at
// scrape time; 0 and 0 once the worker has written everything.
func TestQueueCollector(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "a.db"), sqlite.Options{Archive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if d, a := queueMetrics(t, db); d != 0 || a != 0 {
		t.Errorf("empty queue: depth %v, age %v", d, a)
	}
	ingest(t, db, event("Q-1", apptbridge.Booked, time.Now().UTC()))
	ingest(t, db, event("Q-2", apptbridge.Booked, time.Now().UTC()))
	time.Sleep(50 * time.Millisecond)
	d, a := queueMetrics(t, db)
	if d != 2 || a < 0.05 || a > 30 {
		t.Errorf("two jobs: depth %v, age %v", d, a)
	}
	// The age is measured from the oldest job's creation, on the
	// collector's clock.
	if _, a := queueMetricsAt(t, db, func() time.Time { return time.Now().Add(time.Hour) }); a < 3600 || a > 3630 {
		t.Errorf("age an hour later = %v", a)
	}
	w := &Worker{Store: db, Writer: writerFunc(func(context.Context, *store.ArchiveJob) error { return nil })}
	drain(t, w, db)
	if d, a := queueMetrics(t, db); d != 0 || a != 0 {
		t.Errorf("drained queue: depth %v, age %v", d, a)
	}
}

type writerFunc func(context.Context, *store.ArchiveJob) error

func (f writerFunc) Archive(ctx context.Context, j *store.ArchiveJob) error { return f(ctx, j) }
