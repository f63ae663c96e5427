package storetest

// Contract tests of store.Tx: reads, correlation, inbound texts, opt-outs,
// flags, cancellations and rollback.

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// testOutboxTxAppointment: Tx.Appointment and Tx.ByPhone.
func testOutboxTxAppointment(t *testing.T, s store.Store) {
	at := func(h int) time.Time { return apptStart.Add(time.Duration(h) * time.Hour) }
	book(t, s, "A-1", phone1, at(2), base)
	book(t, s, "A-2", phone1, at(1), base)
	book(t, s, "A-3", phone1, at(0), base)
	ehr(t, s, "A-3", apptbridge.Canceled, base.Add(time.Minute), nil)
	book(t, s, "A-4", phone2, at(0), base)
	book(t, s, "A-5", phone1, at(4), base)
	if _, o := ehr(t, s, "A-5", apptbridge.Remind, base.Add(time.Minute), nil); o.To != apptbridge.DispReminded1 {
		t.Fatalf("REMIND: %+v, want REMINDED-1", o)
	}
	book(t, s, "A-6", phone1, at(3), base)
	if _, o := ehr(t, s, "A-6", apptbridge.OptedOut, base.Add(time.Minute), nil); o.To != apptbridge.DispOptedOut {
		t.Fatalf("OPTED-OUT: %+v", o)
	}
	want := appointment(t, s, "A-1")

	var (
		unknown    *apptbridge.Appointment
		first, got *apptbridge.Appointment
		active     [][]string
	)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		active = nil
		var err error
		if unknown, err = tx.Appointment(ctx, "NO-SUCH"); err != nil {
			return err
		}
		if first, err = tx.Appointment(ctx, "A-1"); err != nil || first == nil {
			return errors.Join(err, errors.New("A-1 not found"))
		}
		// Changing the copy changes nothing.
		first.PatientPhone = "+15555550999"
		first.Disposition = apptbridge.DispCanceled
		first.Source.SendingFacility = "CHANGED"
		if got, err = tx.Appointment(ctx, "A-1"); err != nil {
			return err
		}
		for _, q := range []struct {
			phone    string
			optedOut bool
		}{{phone1, false}, {phone2, false}, {phone3, false}, {phone1, true}, {phone2, true}} {
			l, err := tx.ByPhone(ctx, q.phone, q.optedOut)
			if err != nil {
				return err
			}
			var ids []string
			for _, a := range l {
				ids = append(ids, a.AppointmentID)
			}
			active = append(active, ids)
		}
		return nil
	})
	if unknown != nil {
		t.Errorf("Tx.Appointment(unknown) = %+v, want nil", unknown)
	}
	sameJSON(t, "Tx.Appointment", got, want)
	sameJSON(t, "stored appointment after changing a Tx copy", appointment(t, s, "A-1"), want)
	for i, w := range [][]string{{"A-2", "A-1", "A-5"}, {"A-4"}, nil} {
		if !slices.Equal(active[i], w) {
			t.Errorf("ByPhone #%d = %v, want %v (active ones, soonest first)", i, active[i], w)
		}
	}
	// With optedOut, the OPTED-OUT ones come too (whether the active ones
	// do as well the contract leaves open); never the canceled one.
	if !slices.Contains(active[3], "A-6") || slices.Contains(active[3], "A-3") {
		t.Errorf("ByPhone(optedOut) = %v, want A-6 and not A-3", active[3])
	}
	if slices.Contains(active[4], "A-6") || slices.Contains(active[4], "A-3") {
		t.Errorf("ByPhone(phone2, optedOut) = %v", active[4])
	}
}

// testOutboxLatestAsking: replies go to the latest text that asked.
func testOutboxLatestAsking(t *testing.T, s store.Store) {
	book(t, s, "A-1", phone1, apptStart.Add(time.Hour), base)
	book(t, s, "A-2", phone1, apptStart.Add(2*time.Hour), base)
	book(t, s, "A-3", phone2, apptStart, base)
	latest := func(phone string, at time.Time) string {
		t.Helper()
		var id string
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			id, err = tx.LatestAsking(ctx, phone, at)
			return err
		})
		return id
	}
	if id := latest(phone1, now()); id != "" {
		t.Errorf("LatestAsking with nothing sent = %q, want \"\"", id)
	}
	// Claimed and attempting is not sent.
	b1, b2 := textsOf(t, s, "A-1")[0], textsOf(t, s, "A-2")[0]
	x := claimText(t, s, "w", b1.ID)
	x.Status, x.Attempts = store.TextAttempting, 1
	if err := s.SaveText(t.Context(), "w", x); err != nil {
		t.Fatalf("SaveText: %v", err)
	}
	if id := latest(phone1, now()); id != "" {
		t.Errorf("LatestAsking with a text attempting = %q, want \"\"", id)
	}
	t0 := now()
	x.Status, x.SID, x.SentAt = store.TwilioSent, "SM-1", t0
	if err := s.SaveText(t.Context(), "w", x); err != nil {
		t.Fatalf("SaveText: %v", err)
	}
	if id := latest(phone1, now()); id != "A-1" {
		t.Errorf("LatestAsking = %q, want A-1", id)
	}
	markSent(t, s, b2.ID, t0.Add(time.Second), "SM-2")
	if id := latest(phone1, now()); id != "A-2" {
		t.Errorf("LatestAsking = %q, want A-2 (sent last)", id)
	}
	// A text that asks nothing, sent later, does not count.
	ehr(t, s, "A-1", apptbridge.Confirmed, base.Add(time.Minute), nil)
	markSent(t, s, textsOf(t, s, "A-1")[1].ID, t0.Add(2*time.Second), "SM-3")
	if id := latest(phone1, now()); id != "A-2" {
		t.Errorf("LatestAsking after a confirmed text = %q, want A-2", id)
	}
	// A newer asking text about A-1, pending then sent.
	ehr(t, s, "A-1", apptbridge.Modified, base.Add(2*time.Minute), func(e *apptbridge.Event) { e.AppointmentLocation = "Clinic B" })
	if id := latest(phone1, now()); id != "A-2" {
		t.Errorf("LatestAsking with a newer text pending = %q, want A-2", id)
	}
	l := textsOf(t, s, "A-1")
	markSent(t, s, l[len(l)-1].ID, t0.Add(3*time.Second), "SM-4")
	if id := latest(phone1, now()); id != "A-1" {
		t.Errorf("LatestAsking = %q, want A-1 (modified text sent last)", id)
	}
	if id := latest(phone2, now()); id != "" {
		t.Errorf("LatestAsking(phone2) = %q, want \"\" (its text is not sent)", id)
	}
	if id := latest(phone3, now()); id != "" {
		t.Errorf("LatestAsking(unknown phone) = %q", id)
	}
	// Only upcoming appointments: A-1 has started.
	if id := latest(phone1, apptStart.Add(90*time.Minute)); id != "A-2" {
		t.Errorf("LatestAsking after A-1 started = %q, want A-2", id)
	}
	if id := latest(phone1, apptStart.Add(3*time.Hour)); id != "" {
		t.Errorf("LatestAsking after both started = %q, want \"\"", id)
	}
	// Only active appointments.
	ehr(t, s, "A-1", apptbridge.Canceled, base.Add(3*time.Minute), nil)
	if id := latest(phone1, now()); id != "A-2" {
		t.Errorf("LatestAsking after A-1 canceled = %q, want A-2", id)
	}
	ehr(t, s, "A-2", apptbridge.Canceled, base.Add(3*time.Minute), nil)
	if id := latest(phone1, now()); id != "" {
		t.Errorf("LatestAsking after both canceled = %q, want \"\"", id)
	}
}

// testOutboxAddText: inbound dedup by SID, SentSince.
func testOutboxAddText(t *testing.T, s store.Store) {
	in := func(sid string) *store.Text {
		return &store.Text{ID: apptbridge.NewEventID(), Direction: store.DirIn, Kind: apptbridge.TextReply,
			Phone: phone1, Body: "CONFIRM APPT", Status: store.TextReceived, SID: sid}
	}
	add := func(x *store.Text) bool {
		t.Helper()
		var ok bool
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			ok, err = tx.AddText(ctx, x)
			return err
		})
		return ok
	}
	first := in("SM-in-1")
	if !add(first) {
		t.Fatal("AddText(inbound) = false, want true")
	}
	if add(in("SM-in-1")) {
		t.Error("AddText(inbound with a known SID) = true, want false")
	}
	if !add(in("SM-in-2")) {
		t.Error("AddText(inbound, other SID) = false, want true")
	}
	l := listTexts(t, s, store.TextFilter{Direction: store.DirIn})
	if len(l) != 2 {
		t.Fatalf("inbound texts = %d, want 2", len(l))
	}
	got := l[0]
	if got.ID != first.ID {
		got = l[1]
	}
	if got.ID != first.ID || got.Body != "CONFIRM APPT" || got.Phone != phone1 || got.SID != "SM-in-1" ||
		got.Direction != store.DirIn || got.Kind != apptbridge.TextReply || got.Status != store.TextReceived {
		t.Errorf("stored inbound text = %+v", got)
	}
	if l := listTexts(t, s, store.TextFilter{Direction: store.DirOut}); len(l) != 0 {
		t.Errorf("outbound texts = %d, want 0", len(l))
	}

	before := time.Now().Add(-time.Minute)
	help := outText(phone1, apptbridge.TextHelp, now())
	canceled := outText(phone2, apptbridge.TextHelp, now())
	canceled.Status, canceled.Reason = store.TextCanceled, "test"
	addTexts(t, s, help, canceled)
	sentSince := func(phone string, kind apptbridge.TextKind, since time.Time) bool {
		t.Helper()
		var ok bool
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			ok, err = tx.SentSince(ctx, phone, kind, since)
			return err
		})
		return ok
	}
	if !sentSince(phone1, apptbridge.TextHelp, before) {
		t.Error("SentSince(help, before) = false, want true")
	}
	if sentSince(phone1, apptbridge.TextHelp, time.Now().Add(time.Hour)) {
		t.Error("SentSince(help, an hour ahead) = true, want false")
	}
	if sentSince(phone1, apptbridge.TextNotUnderstood, before) {
		t.Error("SentSince(not-understood) = true, want false")
	}
	if sentSince(phone3, apptbridge.TextHelp, before) {
		t.Error("SentSince(other phone) = true, want false")
	}
	if sentSince(phone2, apptbridge.TextHelp, before) {
		t.Error("SentSince(a canceled text) = true, want false")
	}
}

// testOutboxTxOptOut: opt-out list and phone flags inside a Tx.
func testOutboxTxOptOut(t *testing.T, s store.Store) {
	var (
		was, is bool
		res     store.ApplyResult
	)
	ev := newEvent("A-1", apptbridge.Booked, base)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		if was, err = tx.OptedOut(ctx, phone1); err != nil {
			return err
		}
		if err := tx.OptOut(ctx, phone1); err != nil {
			return err
		}
		if err := tx.OptOut(ctx, phone1); err != nil { // idempotent
			return err
		}
		if is, err = tx.OptedOut(ctx, phone1); err != nil {
			return err
		}
		res, err = tx.Apply(ctx, ev) // sees the opt-out of its own Tx
		return err
	})
	if was || !is {
		t.Errorf("OptedOut before/after OptOut = %v/%v, want false/true", was, is)
	}
	if res.Text != nil || res.Outcome.Suppressed != apptbridge.SuppressPhoneOptedOut {
		t.Errorf("Apply after OptOut in the Tx: text %v outcome %+v, want suppressed", res.Text, res.Outcome)
	}
	// A later Ingest sees it too.
	_, o := ehr(t, s, "A-2", apptbridge.Booked, base, nil)
	if o.Suppressed != apptbridge.SuppressPhoneOptedOut {
		t.Errorf("Ingest after Tx.OptOut: %+v, want suppressed", o)
	}
	if l := listTexts(t, s, store.TextFilter{}); len(l) != 0 {
		t.Errorf("texts for an opted-out phone: %v", kinds(l))
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.OptIn(ctx, phone1); err != nil {
			return err
		}
		var err error
		is, err = tx.OptedOut(ctx, phone1)
		return err
	})
	if is {
		t.Error("OptedOut after OptIn = true")
	}
	_, o = ehr(t, s, "A-2", apptbridge.Modified, base.Add(time.Minute), func(e *apptbridge.Event) { e.AppointmentLocation = "Clinic B" })
	if o.Text != apptbridge.TextModified || len(textsOf(t, s, "A-2")) != 1 {
		t.Errorf("Ingest after Tx.OptIn: %+v, texts %v, want one modified text", o, kinds(textsOf(t, s, "A-2")))
	}
	// The Store's list and the Tx's are one.
	if err := s.OptOut(t.Context(), phone2); err != nil {
		t.Fatalf("OptOut: %v", err)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		is, err = tx.OptedOut(ctx, phone2)
		return err
	})
	if !is {
		t.Error("Tx.OptedOut after Store.OptOut = false")
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return errors.Join(tx.OptOut(ctx, phone3), tx.OptIn(ctx, phone2))
	})
	if _, o := ehr(t, s, "A-3", apptbridge.Booked, base, func(e *apptbridge.Event) { e.PatientPhone = phone3 }); o.Suppressed != apptbridge.SuppressPhoneOptedOut {
		t.Errorf("Ingest for phone3: %+v, want suppressed", o)
	}
	if _, o := ehr(t, s, "A-4", apptbridge.Booked, base, func(e *apptbridge.Event) { e.PatientPhone = phone2 }); o.Suppressed != "" {
		t.Errorf("Ingest for phone2 (opted in): %+v, want a text", o)
	}

	// Phone flags.
	var flagged []bool
	check := func(fn func(ctx context.Context, tx store.Tx) error) []bool {
		t.Helper()
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			flagged = flagged[:0]
			if err := fn(ctx, tx); err != nil {
				return err
			}
			for _, p := range []string{phone1, phone2} {
				f, err := tx.PhoneFlagged(ctx, p)
				if err != nil {
					return err
				}
				flagged = append(flagged, f)
			}
			return nil
		})
		return slices.Clone(flagged)
	}
	nothing := func(context.Context, store.Tx) error { return nil }
	if f := check(nothing); !slices.Equal(f, []bool{false, false}) {
		t.Errorf("PhoneFlagged before FlagPhone = %v", f)
	}
	if f := check(func(ctx context.Context, tx store.Tx) error {
		return errors.Join(tx.FlagPhone(ctx, phone1, 30005), tx.FlagPhone(ctx, phone1, 21211))
	}); !slices.Equal(f, []bool{true, false}) {
		t.Errorf("PhoneFlagged in the Tx of FlagPhone = %v, want [true false]", f)
	}
	if f := check(nothing); !slices.Equal(f, []bool{true, false}) {
		t.Errorf("PhoneFlagged after FlagPhone = %v, want [true false]", f)
	}
	if f := check(func(ctx context.Context, tx store.Tx) error {
		return errors.Join(tx.UnflagPhone(ctx, phone1), tx.UnflagPhone(ctx, phone3))
	}); !slices.Equal(f, []bool{false, false}) {
		t.Errorf("PhoneFlagged after UnflagPhone = %v", f)
	}
	if f := check(nothing); !slices.Equal(f, []bool{false, false}) {
		t.Errorf("PhoneFlagged after UnflagPhone committed = %v", f)
	}
}

// testOutboxCancelPending: Tx.CancelPendingTexts.
func testOutboxCancelPending(t *testing.T, s store.Store) {
	book(t, s, "A-1", phone1, apptStart, base)
	b1 := textsOf(t, s, "A-1")[0]
	x := claimText(t, s, "w", b1.ID)
	x.Status, x.Attempts = store.TextAttempting, 1
	if err := s.SaveText(t.Context(), "w", x); err != nil {
		t.Fatalf("SaveText: %v", err)
	}
	book(t, s, "A-3", phone1, apptStart, base)
	b3 := textsOf(t, s, "A-3")[0]
	x = claimText(t, s, "w", b3.ID) // tried once, to be retried
	x.Attempts, x.ErrorCode, x.NextAttemptAt, x.LeaseOwner, x.LeaseUntil = 1, 20429, now().Add(time.Minute), "", time.Time{}
	if err := s.SaveText(t.Context(), "w", x); err != nil {
		t.Fatalf("SaveText: %v", err)
	}
	book(t, s, "A-2", phone1, apptStart, base)
	b2 := textsOf(t, s, "A-2")[0]
	if _, o := ehr(t, s, "A-1", apptbridge.Remind, base.Add(time.Minute), nil); o.Text != apptbridge.TextRemind1 {
		t.Fatalf("REMIND: %+v", o)
	}
	receipt := applyTx(t, s, patient("A-1", apptbridge.Confirm)).Text
	if receipt == nil {
		t.Fatal("CONFIRM wrote no receipt")
	}
	cancel := func(aid string, k []apptbridge.TextKind, reason string) int {
		t.Helper()
		var n int
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			n, err = tx.CancelPendingTexts(ctx, aid, k, reason)
			return err
		})
		return n
	}
	if n := cancel("A-1", []apptbridge.TextKind{apptbridge.TextBooked}, "test: booked"); n != 0 {
		t.Errorf("CancelPendingTexts(booked) of an attempted text = %d, want 0", n)
	}
	if n := cancel("A-1", []apptbridge.TextKind{apptbridge.TextRemind1, apptbridge.TextRemind2}, "test: reminders"); n != 1 {
		t.Errorf("CancelPendingTexts(reminders) = %d, want 1", n)
	}
	if n := cancel("A-1", nil, "test: all"); n != 1 {
		t.Errorf("CancelPendingTexts(all) = %d, want 1 (the receipt)", n)
	}
	if n := cancel("A-1", nil, "test: again"); n != 0 {
		t.Errorf("second CancelPendingTexts = %d, want 0", n)
	}
	l := textsOf(t, s, "A-1")
	want := []struct {
		kind           apptbridge.TextKind
		status, reason string
	}{
		{apptbridge.TextBooked, store.TextAttempting, ""},
		{apptbridge.TextRemind1, store.TextCanceled, "test: reminders"},
		{apptbridge.TextConfirmReceipt, store.TextCanceled, "test: all"},
	}
	if len(l) != len(want) {
		t.Fatalf("A-1 texts = %v", kinds(l))
	}
	for i, w := range want {
		if l[i].Kind != w.kind || l[i].Status != w.status || l[i].Reason != w.reason {
			t.Errorf("A-1 text %d = %s %s %q, want %s %s %q", i, l[i].Kind, l[i].Status, l[i].Reason, w.kind, w.status, w.reason)
		}
	}
	if got := textByID(t, s, b2.ID); got.Status != store.TextPending {
		t.Errorf("A-2's text = %s, want pending (another appointment)", got.Status)
	}
	if n := cancel("A-3", nil, "test"); n != 0 {
		t.Errorf("CancelPendingTexts of a text pending a retry = %d, want 0", n)
	}
	if got := textByID(t, s, b3.ID); got.Status != store.TextPending || got.Attempts != 1 {
		t.Errorf("A-3's text = %s attempts %d, want pending 1", got.Status, got.Attempts)
	}
	if n := cancel("NO-SUCH", nil, "test"); n != 0 {
		t.Errorf("CancelPendingTexts(unknown) = %d", n)
	}
}

// testOutboxTxRollback: a Tx function's error commits nothing of it, and
// does not affect concurrent transactions.
func testOutboxTxRollback(t *testing.T, s store.Store) {
	book(t, s, "A-1", phone1, apptStart, base)
	pending := textsOf(t, s, "A-1")[0]
	boom := errors.New("boom")
	ev := newEvent("A-9", apptbridge.Booked, base)
	ev.PatientPhone = phone3
	err := s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.Apply(ctx, ev); err != nil {
			return err
		}
		if _, err := tx.Apply(ctx, patient("A-1", apptbridge.Confirm)); err != nil {
			return err
		}
		if _, err := tx.AddText(ctx, outText(phone1, apptbridge.TextHelp, now())); err != nil {
			return err
		}
		if _, err := tx.CancelPendingTexts(ctx, "A-1", nil, "test"); err != nil {
			return err
		}
		return errors.Join(tx.OptOut(ctx, phone2), tx.FlagPhone(ctx, phone3, 30006), boom)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the function's error", err)
	}
	if _, err := s.Appointment(t.Context(), "A-9"); apptbridge.ErrorCode(err) != apptbridge.ENOTFOUND {
		t.Errorf("appointment of a rolled back Apply: %v, want ENOTFOUND", err)
	}
	if h := history(t, s, "A-9"); len(h) != 0 {
		t.Errorf("history of a rolled back Apply: %d entries", len(h))
	}
	if a := appointment(t, s, "A-1"); a.Version != 1 {
		t.Errorf("A-1 version %d after a rolled back CONFIRM, want 1", a.Version)
	}
	if l := listTexts(t, s, store.TextFilter{}); len(l) != 1 || l[0].ID != pending.ID || l[0].Status != store.TextPending {
		t.Errorf("texts after rollback: %v, first %+v", kinds(l), l[0])
	}
	if l := listRequests(t, s, store.RequestFilter{}); len(l) != 0 {
		t.Errorf("requests after rollback: %d", len(l))
	}
	var out, flagged bool
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var e1, e2 error
		out, e1 = tx.OptedOut(ctx, phone2)
		flagged, e2 = tx.PhoneFlagged(ctx, phone3)
		return errors.Join(e1, e2)
	})
	if out || flagged {
		t.Errorf("after rollback: opted out %v, flagged %v; want neither", out, flagged)
	}
	// The event id was not recorded: the event applies now.
	if res := applyTx(t, s, ev); !res.Outcome.Applied || res.Text == nil {
		t.Errorf("Apply after rollback: %+v", res)
	}

	// Failing and succeeding transactions side by side (one batch, maybe).
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			aid := "R-" + string(rune('a'+i))
			errs[i] = s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
				e := newEvent(aid, apptbridge.Booked, base)
				if _, err := tx.Apply(ctx, e); err != nil {
					return err
				}
				if i%2 == 1 {
					return boom
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i := range n {
		aid := "R-" + string(rune('a'+i))
		_, err := s.Appointment(t.Context(), aid)
		if i%2 == 1 {
			if !errors.Is(errs[i], boom) {
				t.Errorf("%s: Update = %v, want boom", aid, errs[i])
			}
			if apptbridge.ErrorCode(err) != apptbridge.ENOTFOUND {
				t.Errorf("%s: rolled back appointment: %v", aid, err)
			}
			if l := textsOf(t, s, aid); len(l) != 0 {
				t.Errorf("%s: rolled back texts %v", aid, kinds(l))
			}
		} else {
			if errs[i] != nil {
				t.Errorf("%s: Update = %v", aid, errs[i])
			}
			if err != nil {
				t.Errorf("%s: committed appointment: %v", aid, err)
			}
			if l := textsOf(t, s, aid); len(l) != 1 {
				t.Errorf("%s: committed texts %v, want one", aid, kinds(l))
			}
		}
	}
}
