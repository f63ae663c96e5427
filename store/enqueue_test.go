package store_test

import (
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// The outbox rules every backend shares (store/enqueue.go); the contract
// suite (store/storetest) checks them again through SQLite and PostgreSQL.

func TestSupersedesAndSendAs(t *testing.T) {
	details := []apptbridge.TextKind{apptbridge.TextBooked, apptbridge.TextRescheduled, apptbridge.TextModified}
	for _, tc := range []struct {
		kind     apptbridge.TextKind
		cancels  []apptbridge.TextKind
		keeps    []apptbridge.TextKind
		asBooked bool // sent as "booked" when it replaced a waiting booking
	}{
		{apptbridge.TextBooked, details, []apptbridge.TextKind{apptbridge.TextConfirmed, apptbridge.TextRemind1}, false},
		{apptbridge.TextRescheduled, details, []apptbridge.TextKind{apptbridge.TextRemind2}, true},
		{apptbridge.TextModified, details, nil, true},
		{apptbridge.TextCanceled, append(slices.Clone(details), apptbridge.TextConfirmed, apptbridge.TextRemind1, apptbridge.TextRemind2),
			[]apptbridge.TextKind{apptbridge.TextCanceled}, false},
		{apptbridge.TextNoshowed, append(slices.Clone(details), apptbridge.TextRemind2), nil, false},
		{apptbridge.TextConfirmed, nil, details, false},
		{apptbridge.TextRemind1, nil, details, false},
	} {
		got := store.Supersedes(tc.kind)
		for _, k := range tc.cancels {
			if !slices.Contains(got, k) {
				t.Errorf("%s does not supersede a waiting %s", tc.kind, k)
			}
		}
		for _, k := range tc.keeps {
			if slices.Contains(got, k) {
				t.Errorf("%s supersedes a waiting %s", tc.kind, k)
			}
		}
		if as := store.SendAs(tc.kind, true); (as == apptbridge.TextBooked) != (tc.asBooked || tc.kind == apptbridge.TextBooked) {
			t.Errorf("SendAs(%s, replaced booking) = %s", tc.kind, as)
		}
		if as := store.SendAs(tc.kind, false); as != tc.kind {
			t.Errorf("SendAs(%s, no booking replaced) = %s", tc.kind, as)
		}
	}
}

func TestRequestControlID(t *testing.T) {
	re := regexp.MustCompile(`^AB[0-9A-F]{18}$`)
	seen := map[string]bool{}
	for range 10000 {
		c := store.RequestControlID(apptbridge.NewEventID())
		if !re.MatchString(c) {
			t.Fatalf("control id %q: want AB and 18 upper-case hex digits (MSH-10 ≤ 20)", c)
		}
		if seen[c] {
			t.Fatalf("control id %q repeated", c)
		}
		seen[c] = true
	}
}

func TestNewOutboxTextAndRequest(t *testing.T) {
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	ev := &apptbridge.Event{EventID: "e1", AppointmentID: "a1"}
	a := &apptbridge.Appointment{}
	a.PatientPhone, a.PatientLanguage = "+13125550100", "es"
	x := store.NewOutboxText(ev, a, apptbridge.TextRemind2, []byte(`{}`), now)
	if x.ID == "" || x.Direction != store.DirOut || x.Status != store.TextPending || !x.NextAttemptAt.Equal(now) ||
		x.Phone != a.PatientPhone || x.Language != "es" || x.EventID != "e1" || x.AppointmentID != "a1" {
		t.Fatalf("text %+v", x)
	}
	if !x.Immediate {
		t.Error("a reminder text is not held for the window again: the reminder worker checked it")
	}
	if b := store.NewOutboxText(ev, a, apptbridge.TextBooked, nil, now); b.Immediate != apptbridge.TextBooked.Immediate() {
		t.Errorf("booked text Immediate %v", b.Immediate)
	}
	r := store.NewRequest(ev, apptbridge.Confirmed, []byte(`{}`), now)
	if r.Status != store.RequestPending || r.ControlID != store.RequestControlID(r.ID) || r.Type != apptbridge.Confirmed {
		t.Fatalf("request %+v", r)
	}
}

func TestArchiveTransition(t *testing.T) {
	queued := &apptbridge.Appointment{Disposition: apptbridge.DispQueued}
	canceled := &apptbridge.Appointment{Disposition: apptbridge.DispCanceled}
	for _, tc := range []struct {
		name      string
		cur       *apptbridge.Appointment
		o         apptbridge.Outcome
		from, to  apptbridge.Disposition
		wantState *apptbridge.Appointment
	}{
		{"new appointment", nil, apptbridge.Outcome{Applied: true, Appointment: queued}, "", apptbridge.DispQueued, queued},
		{"canceled", queued, apptbridge.Outcome{Applied: true, Appointment: canceled}, apptbridge.DispQueued, apptbridge.DispCanceled, canceled},
		{"stale: the state object stays", queued, apptbridge.Outcome{}, apptbridge.DispQueued, apptbridge.DispQueued, queued},
		{"stale on nothing", nil, apptbridge.Outcome{}, "", "", nil},
	} {
		from, to, state := store.ArchiveTransition(tc.cur, tc.o)
		if from != tc.from || to != tc.to || state != tc.wantState {
			t.Errorf("%s: from %q to %q state %p, want %q %q %p", tc.name, from, to, state, tc.from, tc.to, tc.wantState)
		}
	}
}
