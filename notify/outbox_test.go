package notify_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/internal/fakeclock"
	"github.com/apptbridge/apptbridge/notify"
	"github.com/apptbridge/apptbridge/notify/twilio"
	"github.com/apptbridge/apptbridge/notify/twilio/twiliotest"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/sqlite"
)

const (
	account = "AC00000000000000000000000000000002"
	token   = "00112233445566778899aabbccddeeff"
	from    = "+15005550006"
)

// clock is the shared fake clock.
type clock = fakeclock.Clock

type rig struct {
	db  *sqlite.DB
	tw  *twiliotest.Server
	w   *notify.Worker
	clk *clock
}

// newRig starts a real SQLite store, a Twilio-like server and a worker
// with the built-in templates, at 10:00 New York time (inside the window).
func newRig(t testing.TB) *rig {
	t.Helper()
	ny, _ := time.LoadLocation("America/New_York")
	// Yesterday at 10:00: the Twilio-like server stamps messages with the
	// real clock, and reconciliation looks for messages created since the
	// text was (by our clock).
	y, m, d := time.Now().In(ny).AddDate(0, 0, -1).Date()
	clk := fakeclock.New(time.Date(y, m, d, 10, 0, 0, 0, ny).UTC())
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"), sqlite.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tw, err := twiliotest.Start(account, token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tw.Close() })
	c, err := twilio.New(twilio.Config{AccountSID: account, AuthToken: token, From: from, BaseURL: tw.URL,
		Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := notify.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	win, _ := notify.ParseWindow("0800", "2100")
	w := &notify.Worker{Store: db, Sender: c, Templates: tmpl, Vars: notify.Vars{CustomerName: "Lakeside Clinic"},
		Window: win, DefaultTZ: ny, Now: clk.Now, Owner: "test", Lease: time.Minute,
		OptOut: func(ctx context.Context, tx store.Tx, phone string, now time.Time) error {
			return notify.OptOutPhone(ctx, tx, phone, now, nil, nil)
		}}
	return &rig{db: db, tw: tw, w: w, clk: clk}
}

// book applies a BOOKED event for aid to phone, starting in 3 days.
func (r *rig) book(t testing.TB, aid, phone string) {
	t.Helper()
	ev := &apptbridge.Event{EventID: apptbridge.NewEventID(), EventType: apptbridge.Booked,
		EventDatetimeUTC: r.clk.Now(), AppointmentID: aid, PatientID: "P" + aid, PatientFirstName: "Ana",
		PatientPhone: phone, ProviderLastName: "Okafor", AppointmentLocation: "Lakeside Main"}
	ny, _ := time.LoadLocation("America/New_York")
	ev.SetAppointmentTime(r.clk.Now().Add(72*time.Hour), ny)
	err := r.db.Update(context.Background(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Apply(ctx, ev)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// drain runs the worker until nothing is due, moving the clock to each
// next due time (at most 50 rounds).
func (r *rig) drain(t *testing.T) {
	t.Helper()
	for range 50 {
		n, err := r.w.RunOnce(context.Background())
		if err != nil {
			t.Logf("RunOnce: %v", err)
		}
		if n > 0 {
			continue
		}
		due, err := r.db.NextTextDue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if due.IsZero() {
			return
		}
		if d := due.Sub(r.clk.Now()); d > 0 {
			r.clk.Add(d)
		}
	}
	t.Fatal("outbox did not drain in 50 rounds")
}

func (r *rig) text(t *testing.T, aid string) *store.Text {
	t.Helper()
	list, err := r.db.Texts(context.Background(), store.TextFilter{AppointmentID: aid, Direction: store.DirOut})
	if err != nil || len(list) == 0 {
		t.Fatalf("texts of %s: %v (%d)", aid, err, len(list))
	}
	return list[0]
}

// TestErrorMatrix is T12: each Twilio answer is handled as the policy
// table says, with the number of create calls counted.
func TestErrorMatrix(t *testing.T) {
	tests := []struct {
		name       string
		script     []twiliotest.Response
		wantStatus string // final status of the text
		wantCalls  int    // create calls
		wantMsgs   int    // messages Twilio holds
		optedOut   bool
		flagged    bool
	}{
		{"429x3 then 201", []twiliotest.Response{{HTTPStatus: 429}, {HTTPStatus: 429, RetryAfter: "2"}, {HTTPStatus: 429}},
			"queued", 4, 1, false, false},
		{"500 not created: reconcile finds nothing, resend once", []twiliotest.Response{{HTTPStatus: 500}},
			"queued", 2, 1, false, false},
		{"500 after Twilio created it: reconcile finds it, no resend", []twiliotest.Response{{HTTPStatus: 500, Create: true}},
			"queued", 1, 1, false, false},
		{"503 then 201", []twiliotest.Response{{HTTPStatus: 503}}, "queued", 2, 1, false, false},
		{"timeout after Twilio created it", []twiliotest.Response{{Delay: 2 * time.Second, Create: true}},
			"queued", 1, 1, false, false},
		{"timeout before Twilio created it", []twiliotest.Response{{Delay: 2 * time.Second}},
			"queued", 2, 1, false, false},
		{"21610 recipient opted out", []twiliotest.Response{{Code: 21610}}, store.TextFailed, 1, 0, true, false},
		{"21211 invalid number", []twiliotest.Response{{Code: 21211}}, store.TextFailed, 1, 0, false, true},
		{"21614 not a mobile", []twiliotest.Response{{Code: 21614}}, store.TextFailed, 1, 0, false, true},
		{"21408 region not enabled: permanent, phone not flagged", []twiliotest.Response{{Code: 21408}},
			store.TextFailed, 1, 0, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			r.tw.Script(tc.script...)
			r.book(t, "A1", "+17735550100")
			r.drain(t)
			x := r.text(t, "A1")
			if x.Status != tc.wantStatus {
				t.Errorf("status = %s (reason %q, code %d), want %s", x.Status, x.Reason, x.ErrorCode, tc.wantStatus)
			}
			if got := r.tw.Calls(); got != tc.wantCalls {
				t.Errorf("create calls = %d, want %d", got, tc.wantCalls)
			}
			if got := len(r.tw.Messages()); got != tc.wantMsgs {
				t.Errorf("messages at Twilio = %d, want %d", got, tc.wantMsgs)
			}
			if tc.wantMsgs == 1 && x.SID != r.tw.Messages()[0].SID {
				t.Errorf("recorded SID %q, Twilio's %q", x.SID, r.tw.Messages()[0].SID)
			}
			var out, flagged bool
			r.db.Update(context.Background(), func(ctx context.Context, tx store.Tx) error {
				out, _ = tx.OptedOut(ctx, "+17735550100")
				flagged, _ = tx.PhoneFlagged(ctx, "+17735550100")
				return nil
			})
			if out != tc.optedOut || flagged != tc.flagged {
				t.Errorf("opted out %v flagged %v, want %v %v", out, flagged, tc.optedOut, tc.flagged)
			}
			if tc.optedOut {
				a, _ := r.db.Appointment(context.Background(), "A1")
				if a.Disposition != apptbridge.DispOptedOut {
					t.Errorf("21610: appointment %s, want OPTED-OUT", a.Disposition)
				}
			}
			if tc.flagged {
				// A later text to the flagged phone is not attempted.
				r.book(t, "A2", "+17735550100")
				r.drain(t)
				if y := r.text(t, "A2"); y.Status != store.TextCanceled || y.Reason != notify.ReasonFlagged {
					t.Errorf("text to a flagged phone: %s %q", y.Status, y.Reason)
				}
				if got := r.tw.Calls(); got != tc.wantCalls {
					t.Errorf("create calls after flagging = %d, want %d", got, tc.wantCalls)
				}
			}
		})
	}
}

// TestOutreachWindow: a text due at 22:30 local waits for 08:00 the next
// morning; one whose window opens only after the appointment is dropped.
func TestOutreachWindow(t *testing.T) {
	r := newRig(t)
	r.clk.Add(12*time.Hour + 30*time.Minute) // 22:30 New York
	r.book(t, "A1", "+17735550101")
	if _, err := r.w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	x := r.text(t, "A1")
	ny, _ := time.LoadLocation("America/New_York")
	y, m, d := r.clk.Now().In(ny).Date()
	if x.Status != store.TextPending || !x.NextAttemptAt.Equal(time.Date(y, m, d+1, 8, 0, 0, 0, ny)) {
		t.Fatalf("deferred to %v (%s), want 08:00 next day", x.NextAttemptAt.In(ny), x.Status)
	}
	if r.tw.Calls() != 0 {
		t.Fatal("sent outside the window")
	}
	r.drain(t)
	msgs := r.tw.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	if h := r.clk.Now().In(ny).Hour(); h != 8 {
		t.Errorf("sent at %v local, want 08:00", r.clk.Now().In(ny))
	}
}

// TestSandbox: no Sender → texts are kept with status sandbox and count as
// sent for reply correlation.
func TestSandbox(t *testing.T) {
	r := newRig(t)
	r.w.Sender = nil
	r.book(t, "A1", "+17735550102")
	r.drain(t)
	x := r.text(t, "A1")
	if x.Status != store.TextSandbox || x.SentAt.IsZero() || !strings.Contains(x.Body, "CONFIRM APPT") {
		t.Fatalf("sandbox text: %s sent %v body %q", x.Status, x.SentAt, x.Body)
	}
	if r.tw.Calls() != 0 {
		t.Fatal("sandbox called Twilio")
	}
}

// TestCanceledBeforeSend: a booked text that waits for the window is
// superseded when the EHR cancels; only the canceled text goes.
func TestCanceledBeforeSend(t *testing.T) {
	r := newRig(t)
	r.clk.Add(12 * time.Hour) // 22:00
	r.book(t, "A1", "+17735550103")
	ev := &apptbridge.Event{EventID: apptbridge.NewEventID(), EventType: apptbridge.Canceled,
		EventDatetimeUTC: r.clk.Now().Add(time.Minute), AppointmentID: "A1"}
	if err := r.db.Update(context.Background(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Apply(ctx, ev)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r.drain(t)
	msgs := r.tw.Messages()
	if len(msgs) != 1 || !strings.Contains(strings.ToLower(msgs[0].Body), "cancel") {
		t.Fatalf("messages: %d %v", len(msgs), msgs)
	}
}
