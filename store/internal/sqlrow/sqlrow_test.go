package sqlrow

import (
	"database/sql/driver"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge/store"
)

// The backends' contract suite (store/storetest) runs every statement and
// decoder here against SQLite and PostgreSQL; these tests pin the pieces
// whose edge cases a contract run does not reach.

func TestWhere(t *testing.T) {
	var w Where
	w.Add("appointment_id = ?", "A1")
	w.Add("patient_id = ?", "") // empty: no filter
	w.Add("seq > ?", int64(0))  // zero: no filter
	w.Add("start_utc >= ?", int64(42))
	q, args := w.Query("SELECT seq FROM t", "seq", 0)
	if want := "SELECT seq FROM t WHERE appointment_id = $1 AND start_utc >= $2 ORDER BY seq LIMIT $3"; q != want {
		t.Errorf("query %q\nwant  %q", q, want)
	}
	if !reflect.DeepEqual(args, []any{"A1", int64(42), DefaultLimit}) {
		t.Errorf("args %v", args)
	}
	var none Where
	if q, args := none.Query("SELECT 1 FROM t", "x", 7); q != "SELECT 1 FROM t ORDER BY x LIMIT $1" || !reflect.DeepEqual(args, []any{7}) {
		t.Errorf("no filters: %q %v", q, args)
	}
}

func TestInstantsAndValues(t *testing.T) {
	at := time.Date(2026, 11, 28, 9, 30, 0, 123456000, time.FixedZone("EST", -5*3600))
	if got := FromUS(US(at)); !got.Equal(at) || got.Location() != time.UTC {
		t.Errorf("round trip %v → %v", at, got)
	}
	if US(time.Time{}) != 0 || !FromUS(0).IsZero() {
		t.Error("the zero time is not 0")
	}
	for _, tc := range []struct {
		v    any
		i    int64
		s    string
		b    bool
		null bool
	}{
		{int64(7), 7, "", true, false},
		{int32(-3), -3, "", true, false},
		{true, 1, "", true, false},
		{false, 0, "", false, false},
		{"x", 0, "x", false, false},
		{[]byte("y"), 0, "y", false, false},
		{nil, 0, "", false, true},
	} {
		if Int(tc.v) != tc.i || Str(tc.v) != tc.s || Bool(tc.v) != tc.b {
			t.Errorf("%#v: Int %d Str %q Bool %v", tc.v, Int(tc.v), Str(tc.v), Bool(tc.v))
		}
	}
	src := []byte("abc")
	cp := Bytes(src)
	src[0] = 'X'
	if string(cp) != "abc" {
		t.Error("Bytes does not copy: the driver's buffer leaked into the record")
	}
	if Bytes([]byte{}) != nil || NilIfEmpty([]byte{}) != nil || NonNil(nil) == nil {
		t.Error("empty and NULL bytes")
	}
}

func TestDecodersCheckColumnCount(t *testing.T) {
	row := make([]driver.Value, 5)
	if _, err := ArchiveJob(row); err == nil || !strings.Contains(err.Error(), "want 13") {
		t.Errorf("ArchiveJob of 5 columns: %v", err)
	}
	if _, err := Text(row); err == nil {
		t.Error("Text of 5 columns decoded")
	}
}

func TestAttachHistory(t *testing.T) {
	jobs := []*store.ArchiveJob{{ID: 1, EventID: "e1"}, {ID: 2, EventID: "e2"}}
	byEvent := map[string][]store.HistoryEntry{"e1": {{Seq: 10}}, "e2": {{Seq: 11}}}
	err := AttachHistory(jobs, func(id string) ([]store.HistoryEntry, error) { return byEvent[id], nil })
	if err != nil || jobs[0].Entry.Seq != 10 || jobs[1].Entry.Seq != 11 {
		t.Fatalf("AttachHistory: %v, entries %d %d", err, jobs[0].Entry.Seq, jobs[1].Entry.Seq)
	}
	delete(byEvent, "e2")
	err = AttachHistory(jobs, func(id string) ([]store.HistoryEntry, error) { return byEvent[id], nil })
	if err == nil || !strings.Contains(err.Error(), "event e2 of job 2 not found") {
		t.Errorf("missing event: %v", err)
	}
	boom := errors.New("read failed")
	err = AttachHistory(jobs, func(string) ([]store.HistoryEntry, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Errorf("read error not wrapped: %v", err)
	}
}
