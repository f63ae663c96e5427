package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// The admin half of the contract (store/admin.go): secrets, sign-in codes,
// sessions, the audit log, and the dashboard's, timeline's and exports'
// reads.

// testAdminSecret: the first generated secret is kept, for every caller.
func testAdminSecret(t *testing.T, s store.Store) {
	var calls int
	var mu sync.Mutex
	gen := func() []byte {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return []byte(fmt.Sprintf("secret-%02d-0123456789abcdef", calls))
	}
	first, err := s.Secret(t.Context(), "jwt", gen)
	if err != nil {
		t.Fatalf("Secret: %v", err)
	}
	if len(first) == 0 {
		t.Fatal("Secret returned no bytes")
	}
	again, err := s.Secret(t.Context(), "jwt", gen)
	if err != nil {
		t.Fatalf("Secret again: %v", err)
	}
	if !bytes.Equal(again, first) {
		t.Errorf("Secret again = %q, want the first one %q", again, first)
	}
	other, err := s.Secret(t.Context(), "other", gen)
	if err != nil {
		t.Fatalf("Secret(other): %v", err)
	}
	if bytes.Equal(other, first) {
		t.Error("two secrets have the same bytes")
	}

	// Concurrent first calls: everyone gets the same bytes.
	const n = 8
	got := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = s.Secret(t.Context(), "concurrent", gen) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("concurrent Secret: %v", errs[i])
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Errorf("concurrent Secret %d = %q, want %q like the first", i, got[i], got[0])
		}
	}

	_, err = s.Secret(t.Context(), "", gen)
	wantCode(t, "Secret(no name)", err, apptbridge.EINVALID)
}

// codeMatch returns a match function for UseLoginCode: the guess's hash
// against the stored one (the store never sees codes, only hashes).
func codeMatch(guess string) func(store.Hash) bool {
	return func(h store.Hash) bool { return h == store.HashString(guess) }
}

func saveCode(t *testing.T, s store.Store, id, code string, expires time.Time, tries int) {
	t.Helper()
	c := &store.LoginCode{ID: id, Hash: store.HashString(code), ExpiresAt: expires, MaxTries: tries}
	if err := s.SaveLoginCode(t.Context(), c); err != nil {
		t.Fatalf("SaveLoginCode(%s): %v", id, err)
	}
	checkInstant(t, "LoginCode.CreatedAt", c.CreatedAt)
}

// testAdminLoginCodes: single use, expiry, counted wrong answers, lockout.
func testAdminLoginCodes(t *testing.T, s store.Store) {
	t0 := now()
	use := func(id string, at time.Time, guess string) (int, error) {
		t.Helper()
		return s.UseLoginCode(t.Context(), id, at, codeMatch(guess))
	}
	expect := func(what string, left int, err error, wantLeft int, want error) {
		t.Helper()
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Errorf("%s: error %v, want %v", what, err, want)
		}
		if want != store.ErrCodeExpired && left != wantLeft {
			t.Errorf("%s: %d tries left, want %d", what, left, wantLeft)
		}
	}

	// Right once, then used up.
	saveCode(t, s, "c-once", "123456", t0.Add(5*time.Minute), 5)
	left, err := use("c-once", t0, "123456")
	expect("right code", left, err, 5, nil)
	left, err = use("c-once", t0.Add(time.Second), "123456")
	expect("right code again", left, err, 0, store.ErrCodeExpired)

	// Unknown.
	left, err = use("c-unknown", t0, "123456")
	expect("unknown code", left, err, 0, store.ErrCodeExpired)

	// Expired, whatever the guess; the expiry used nothing up.
	saveCode(t, s, "c-exp", "222222", t0.Add(5*time.Minute), 5)
	left, err = use("c-exp", t0.Add(6*time.Minute), "222222")
	expect("expired code", left, err, 0, store.ErrCodeExpired)
	left, err = use("c-exp", t0.Add(5*time.Minute+time.Second), "000000")
	expect("expired code, wrong guess", left, err, 0, store.ErrCodeExpired)
	left, err = use("c-exp", t0.Add(4*time.Minute), "222222")
	expect("code before its expiry", left, err, 5, nil)

	// Wrong answers count down; after MaxTries of them even the right
	// code is refused.
	saveCode(t, s, "c-lock", "333333", t0.Add(5*time.Minute), 5)
	for i := range 5 {
		left, err = use("c-lock", t0, "999999")
		expect(fmt.Sprintf("wrong answer %d", i+1), left, err, 4-i, store.ErrCodeWrong)
	}
	left, err = use("c-lock", t0, "333333")
	expect("right code after 5 wrong", left, err, 0, store.ErrCodeLocked)
	left, err = use("c-lock", t0, "999999")
	expect("wrong code after 5 wrong", left, err, 0, store.ErrCodeLocked)

	// A wrong answer, then the right one.
	saveCode(t, s, "c-second", "444444", t0.Add(5*time.Minute), 3)
	left, err = use("c-second", t0, "000000")
	expect("wrong answer", left, err, 2, store.ErrCodeWrong)
	left, err = use("c-second", t0, "444444")
	expect("right answer after a wrong one", left, err, 2, nil)

	err = s.SaveLoginCode(t.Context(), &store.LoginCode{ID: "c-bad", ExpiresAt: t0.Add(time.Minute)})
	wantCode(t, "SaveLoginCode(no tries)", err, apptbridge.EINVALID)

	// Concurrent guesses: at most one is accepted, at most MaxTries wrong
	// ones are counted (each with its own count of tries left).
	const n = 8
	concurrent := func(id string, tries int, guess func(i int) string) (accepted, wrong, locked, expired int, lefts []int) {
		t.Helper()
		saveCode(t, s, id, "555555", t0.Add(5*time.Minute), tries)
		errs := make([]error, n)
		ls := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { ls[i], errs[i] = use(id, t0, guess(i)) })
		}
		wg.Wait()
		for i, err := range errs {
			switch {
			case err == nil:
				accepted++
			case errors.Is(err, store.ErrCodeWrong):
				wrong++
				lefts = append(lefts, ls[i])
			case errors.Is(err, store.ErrCodeLocked):
				locked++
			case errors.Is(err, store.ErrCodeExpired):
				expired++
			default:
				t.Fatalf("concurrent UseLoginCode(%s): %v", id, err)
			}
		}
		slices.Sort(lefts)
		return
	}
	if a, w, l, e, _ := concurrent("c-all-right", 5, func(int) string { return "555555" }); a != 1 || w != 0 || l != 0 || e != n-1 {
		t.Errorf("%d concurrent right guesses: %d accepted, %d wrong, %d locked, %d used up; want 1 accepted, the rest used up",
			n, a, w, l, e)
	}
	a, w, l, e, lefts := concurrent("c-all-wrong", 5, func(int) string { return "000000" })
	if a != 0 || w != 5 || l != n-5 || e != 0 || !slices.Equal(lefts, []int{0, 1, 2, 3, 4}) {
		t.Errorf("%d concurrent wrong guesses (5 tries): %d accepted, %d wrong (left %v), %d locked, %d used up; "+
			"want 5 wrong (left 0..4) and %d locked", n, a, w, lefts, l, e, n-5)
	}
	if _, err := use("c-all-wrong", t0, "555555"); !errors.Is(err, store.ErrCodeLocked) {
		t.Errorf("right code after concurrent wrong guesses: %v, want ErrCodeLocked", err)
	}
	a, w, l, e, _ = concurrent("c-mixed", 2, func(i int) string {
		if i%2 == 0 {
			return "555555"
		}
		return "000000"
	})
	if a > 1 || w > 2 || a+w+l+e != n {
		t.Errorf("%d concurrent mixed guesses (2 tries): %d accepted, %d wrong, %d locked, %d used up; "+
			"want at most 1 accepted and 2 wrong", n, a, w, l, e)
	}
}

// testAdminSessions: idle and absolute timeouts, ends that stay.
func testAdminSessions(t *testing.T, s store.Store) {
	t0 := now()
	const idle = 30 * time.Minute
	create := func(id string, expires time.Time) {
		t.Helper()
		sess := &store.Session{ID: id, CreatedAt: t0, ExpiresAt: expires}
		if err := s.CreateSession(t.Context(), sess); err != nil {
			t.Fatalf("CreateSession(%s): %v", id, err)
		}
	}
	touchOK := func(id string, at time.Time) {
		t.Helper()
		sess, err := s.TouchSession(t.Context(), id, at, idle, true)
		if err != nil {
			t.Fatalf("TouchSession(%s) at +%v: %v", id, at.Sub(t0), err)
		}
		if sess.ID != id || !sess.LastSeenAt.Equal(at) || !sess.CreatedAt.Equal(t0) || !sess.EndedAt.IsZero() {
			t.Errorf("TouchSession(%s) at +%v = %+v, want it open and seen then", id, at.Sub(t0), sess)
		}
	}
	// touchEnded expects ErrSessionEnded with the ended session.
	touchEnded := func(id string, at time.Time, idle time.Duration, reason string) {
		t.Helper()
		sess, err := s.TouchSession(t.Context(), id, at, idle, true)
		if !errors.Is(err, store.ErrSessionEnded) {
			t.Fatalf("TouchSession(%s) at +%v: %v, want ErrSessionEnded", id, at.Sub(t0), err)
		}
		if sess == nil || sess.ID != id || sess.EndedAt.IsZero() || sess.EndReason != reason {
			t.Errorf("TouchSession(%s) at +%v = %+v, want it ended (%s)", id, at.Sub(t0), sess, reason)
		}
	}

	// Seen within idle, then idle too long; it stays ended.
	create("s-idle", t0.Add(8*time.Hour))
	touchOK("s-idle", t0.Add(10*time.Minute))
	touchOK("s-idle", t0.Add(35*time.Minute))
	touchEnded("s-idle", t0.Add(65*time.Minute+time.Second), idle, "idle")
	touchEnded("s-idle", t0.Add(66*time.Minute), 24*time.Hour, "idle")

	// A check without touch (the page's automatic polls) does not keep
	// the session alive.
	create("s-poll", t0.Add(8*time.Hour))
	touchOK("s-poll", t0.Add(time.Minute))
	for _, m := range []time.Duration{10, 20, 30} {
		sess, err := s.TouchSession(t.Context(), "s-poll", t0.Add(m*time.Minute), idle, false)
		if err != nil || !sess.LastSeenAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("TouchSession(s-poll, touch=false) at +%vm = %+v, %v; want open, last seen at +1m", m, sess, err)
		}
	}
	touchEnded("s-poll", t0.Add(32*time.Minute), idle, "idle")

	// Past its absolute end, however recently seen.
	create("s-exp", t0.Add(time.Hour))
	touchOK("s-exp", t0.Add(20*time.Minute))
	touchOK("s-exp", t0.Add(45*time.Minute))
	touchEnded("s-exp", t0.Add(time.Hour+time.Second), idle, "expired")
	touchEnded("s-exp", t0.Add(time.Hour+2*time.Second), idle, "expired")

	// Ended by a logout: the first end stays.
	create("s-out", t0.Add(8*time.Hour))
	touchOK("s-out", t0.Add(time.Minute))
	if err := s.EndSession(t.Context(), "s-out", "logout", t0.Add(2*time.Minute)); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	if err := s.EndSession(t.Context(), "s-out", "other", t0.Add(3*time.Minute)); err != nil {
		t.Fatalf("EndSession again: %v", err)
	}
	touchEnded("s-out", t0.Add(4*time.Minute), idle, "logout")
	if err := s.EndSession(t.Context(), "s-unknown", "logout", t0); err != nil {
		t.Errorf("EndSession(unknown): %v, want nil", err)
	}

	// Unknown sessions are ended.
	sess, err := s.TouchSession(t.Context(), "s-unknown", t0, idle, true)
	if !errors.Is(err, store.ErrSessionEnded) || sess != nil {
		t.Errorf("TouchSession(unknown) = %+v, %v; want ErrSessionEnded", sess, err)
	}
	wantCode(t, "TouchSession(unknown)", err, apptbridge.ENOTFOUND)
	// Sessions are independent.
	create("s-other", t0.Add(8*time.Hour))
	touchOK("s-other", t0.Add(5*time.Minute))
}

// auditAll lists every audit entry (up to 1000).
func auditAll(t *testing.T, s store.Store, after int64) []*store.AuditEntry {
	t.Helper()
	l, err := s.Audit(t.Context(), store.AuditFilter{AfterSeq: after, Limit: 1000})
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	return l
}

// testAdminAudit: concurrent appends make one contiguous, verifiable chain.
func testAdminAudit(t *testing.T, s store.Store) {
	if l := auditAll(t, s, 0); len(l) != 0 {
		t.Fatalf("Audit of an empty log = %d entries", len(l))
	}
	const workers, each = 5, 10
	appended := make([][]*store.AuditEntry, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e := &store.AuditEntry{
					At:       now(),
					Actor:    fmt.Sprintf("admin:session-%d", w),
					Action:   "view.appointment",
					Target:   fmt.Sprintf("A-%d-%d", w, i),
					Detail:   "ok",
					RemoteIP: "192.0.2.1",
				}
				if err := s.AppendAudit(t.Context(), e); err != nil {
					errs <- err
					return
				}
				appended[w] = append(appended[w], e)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("AppendAudit: %v", err)
	}
	l := auditAll(t, s, 0)
	if len(l) != workers*each {
		t.Fatalf("Audit = %d entries, want %d", len(l), workers*each)
	}
	for i, e := range l {
		if e.Seq != int64(i+1) {
			t.Fatalf("Audit[%d].Seq = %d, want %d (contiguous from 1)", i, e.Seq, i+1)
		}
		checkInstant(t, "AuditEntry.At", e.At)
	}
	if l[0].PrevHash != (store.Hash{}) {
		t.Errorf("first entry's PrevHash = %s, want zero", store.HexHash(l[0].PrevHash))
	}
	if err := store.VerifyAuditChain(store.Hash{}, l); err != nil {
		t.Errorf("VerifyAuditChain: %v", err)
	}
	// What AppendAudit set is what was stored.
	for _, mine := range appended {
		for _, e := range mine {
			got := l[e.Seq-1]
			if got.Hash != e.Hash || got.PrevHash != e.PrevHash || got.Target != e.Target || !got.At.Equal(e.At) {
				t.Errorf("stored entry %d = %+v, AppendAudit set %+v", e.Seq, got, e)
			}
		}
		for i := 1; i < len(mine); i++ {
			if mine[i].Seq <= mine[i-1].Seq {
				t.Errorf("one goroutine's entries out of order: %d then %d", mine[i-1].Seq, mine[i].Seq)
			}
		}
	}

	// Pages continue the chain.
	page, err := s.Audit(t.Context(), store.AuditFilter{AfterSeq: 20, Limit: 10})
	if err != nil {
		t.Fatalf("Audit(page): %v", err)
	}
	if len(page) != 10 || page[0].Seq != 21 || page[9].Seq != 30 {
		t.Fatalf("Audit(after 20, limit 10) = %d entries from %d", len(page), page[0].Seq)
	}
	if err := store.VerifyAuditChain(l[19].Hash, page); err != nil {
		t.Errorf("VerifyAuditChain(page): %v", err)
	}
	if def, err := s.Audit(t.Context(), store.AuditFilter{}); err != nil || len(def) != len(l) {
		t.Errorf("Audit(default limit) = %d entries, %v; want %d", len(def), err, len(l))
	}

	// Instants are kept at the store's precision, in UTC, and hashed so;
	// a zero At is the store's clock.
	fine := &store.AuditEntry{At: base.Add(789 * time.Nanosecond).In(time.FixedZone("X", 3600)), Actor: "ip:192.0.2.2",
		Action: "login.failed"}
	before := now()
	zero := &store.AuditEntry{Actor: "token:ci", Action: "export", Target: "history.csv"}
	for _, e := range []*store.AuditEntry{fine, zero} {
		if err := s.AppendAudit(t.Context(), e); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	l = auditAll(t, s, 0)
	if err := store.VerifyAuditChain(store.Hash{}, l); err != nil {
		t.Errorf("VerifyAuditChain after more entries: %v", err)
	}
	last := l[len(l)-2:]
	if !last[0].At.Equal(base) || last[0].At.Location() != time.UTC || last[0].Seq != fine.Seq || !fine.At.Equal(base) {
		t.Errorf("entry with a fine At: stored %v (entry %v), want %v", last[0].At, fine.At, base)
	}
	near(t, "AuditEntry.At (zero given)", last[1].At, before, now())

	// A changed entry breaks the chain at that entry.
	forged := *l[7]
	forged.Detail = "forged"
	l[7] = &forged
	if err := store.VerifyAuditChain(store.Hash{}, l); err == nil || !strings.Contains(err.Error(), "entry 8") {
		t.Errorf("VerifyAuditChain with entry 8 changed: %v", err)
	}
}

// testAdminStats: the dashboard's counts.
func testAdminStats(t *testing.T, s store.Store) {
	t0 := now()
	stats := func() *store.Stats {
		t.Helper()
		st, err := s.Stats(t.Context(), now())
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		return st
	}
	st := stats()
	if len(st.Dispositions) != 0 || st.InboundLastHour != 0 || st.InboundErrorLastHour != 0 || !st.InboundLastAt.IsZero() ||
		st.TextsSent24h != 0 || st.TextsFailed24h != 0 || st.RequestsDead != 0 || st.RemindersPlanned != 0 ||
		!st.RemindersNextDue.IsZero() || st.RemindersSent24h != 0 || st.RemindersSkip24h != 0 {
		t.Errorf("Stats of an empty store = %+v, want zeros", st)
	}

	// Inbound: two in the last hour (one answered AE), one before.
	at := func(in *store.Inbound, received time.Time, ack string) *store.Inbound {
		in.ReceivedAt, in.AckCode = received, ack
		return in
	}
	ingestNew(t, s, at(newInbound(newEvent("A-1", apptbridge.Booked, base)), t0.Add(-30*time.Minute), "AA"))
	ingest(t, s, at(newInbound(nil), t0.Add(-2*time.Hour), "AA"))
	ingest(t, s, at(newInbound(nil), t0.Add(-20*time.Minute), "AE"))
	ingestNew(t, s, at(newInbound(newEvent("A-2", apptbridge.Booked, base)), t0.Add(-10*time.Minute), "AA"))
	ingestNew(t, s, at(newInbound(newEvent("A-3", apptbridge.Booked, base)), t0.Add(-3*time.Hour), "AA"))
	cancel := newEvent("A-3", apptbridge.Canceled, base.Add(time.Minute))
	ingestNew(t, s, at(newInbound(cancel), t0.Add(-5*time.Minute), "CA"))

	// Texts: one sent in the last day, one sent before, one undelivered,
	// one waiting.
	xs := []*store.Text{outText(phone2, apptbridge.TextHelp, t0), outText(phone2, apptbridge.TextHelp, t0),
		outText(phone3, apptbridge.TextHelp, t0), outText(phone3, apptbridge.TextHelp, t0),
		// The administrator's sign-in codes are not patient texts: one
		// sent and one undelivered count in neither figure.
		outText("+15005550006", apptbridge.TextLoginCode, t0), outText("+15005550006", apptbridge.TextLoginCode, t0)}
	addTexts(t, s, xs...)
	markSent(t, s, xs[0].ID, t0.Add(-time.Hour), "SM-stats-0")
	markSent(t, s, xs[1].ID, t0.Add(-25*time.Hour), "SM-stats-1")
	markSent(t, s, xs[2].ID, t0.Add(-2*time.Hour), "SM-stats-2")
	markSent(t, s, xs[4].ID, t0.Add(-time.Hour), "SM-stats-4")
	markSent(t, s, xs[5].ID, t0.Add(-time.Hour), "SM-stats-5")
	for _, sid := range []string{"SM-stats-2", "SM-stats-5"} {
		if _, changed, err := s.TextStatus(t.Context(), sid, store.TwilioUndelivered, 30003); err != nil || !changed {
			t.Fatalf("TextStatus %s: %v %v", sid, changed, err)
		}
	}
	if _, _, err := s.TextStatus(t.Context(), "SM-stats-0", store.TwilioDelivered, 0); err != nil {
		t.Fatalf("TextStatus: %v", err)
	}

	// Requests: A-1 confirmed by the patient, rejected by the EHR.
	if res := applyTx(t, s, patient("A-1", apptbridge.Confirm)); res.Request == nil {
		t.Fatal("CONFIRM wrote no request")
	}
	r, err := s.ClaimRequest(t.Context(), "w", time.Now().Add(time.Minute), time.Minute)
	if err != nil || r == nil {
		t.Fatalf("ClaimRequest = %v, %v", r, err)
	}
	r.Status, r.AckCode, r.Attempts = store.RequestDead, "AE", 1
	if err := s.SaveRequest(t.Context(), "w", r); err != nil {
		t.Fatalf("SaveRequest: %v", err)
	}

	st = stats()
	want := map[apptbridge.Disposition]int{}
	for _, id := range []string{"A-1", "A-2", "A-3"} {
		want[appointment(t, s, id).Disposition]++
	}
	if want[apptbridge.DispCanceled] != 1 {
		t.Fatalf("dispositions %v: A-3 is not canceled", want)
	}
	if !maps(st.Dispositions, want) {
		t.Errorf("Stats.Dispositions = %v, want %v", st.Dispositions, want)
	}
	// Received in the last hour: A-1's, the AE, A-2's and the cancel.
	if st.InboundLastHour != 4 || st.InboundErrorLastHour != 1 {
		t.Errorf("Stats inbound last hour = %d (%d errors), want 4 (1 error)", st.InboundLastHour, st.InboundErrorLastHour)
	}
	if want := t0.Add(-5 * time.Minute); !st.InboundLastAt.Equal(want) {
		t.Errorf("Stats.InboundLastAt = %v, want %v", st.InboundLastAt, want)
	}
	if st.TextsSent24h != 1 || st.TextsFailed24h != 1 {
		t.Errorf("Stats texts sent %d failed %d in 24h, want 1 and 1", st.TextsSent24h, st.TextsFailed24h)
	}
	if st.RequestsDead != 1 {
		t.Errorf("Stats.RequestsDead = %d, want 1", st.RequestsDead)
	}
	qs, err := s.QueueStats(t.Context())
	if err != nil {
		t.Fatalf("QueueStats: %v", err)
	}
	sameJSON(t, "Stats.Queues", st.Queues, qs)
	// This suite's stores plan no reminders (no Planner).
	if st.RemindersPlanned != 0 || !st.RemindersNextDue.IsZero() || st.RemindersSent24h != 0 || st.RemindersSkip24h != 0 {
		t.Errorf("Stats reminders = %d planned (next %v), %d sent, %d skipped; want none",
			st.RemindersPlanned, st.RemindersNextDue, st.RemindersSent24h, st.RemindersSkip24h)
	}
}

func maps[K comparable](a, b map[K]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// testAdminInboundOf: an appointment's inbound messages, oldest first.
func testAdminInboundOf(t *testing.T, s store.Store) {
	book1 := newInbound(newEvent("A-1", apptbridge.Booked, base))
	book1.ReceivedAt = base.Add(time.Minute)
	book2 := newInbound(newEvent("A-2", apptbridge.Booked, base))
	none := newInbound(nil)
	mod := newInbound(newEvent("A-1", apptbridge.Modified, base.Add(time.Minute)))
	mod.ReceivedAt = base.Add(2 * time.Minute)
	mod.AckCode = "AE"
	// Received before book1 but ingested after it (a late delivery).
	early := newInbound(newEvent("A-1", apptbridge.Modified, base.Add(-time.Minute)))
	early.ReceivedAt = base
	for _, in := range []*store.Inbound{book1, book2, none, mod, early} {
		ingest(t, s, in)
	}
	check := func(id string, want ...*store.Inbound) {
		t.Helper()
		got, err := s.InboundOf(t.Context(), id)
		if err != nil {
			t.Fatalf("InboundOf(%s): %v", id, err)
		}
		var g, w []string
		for _, r := range got {
			g = append(g, r.Key.ControlID)
		}
		for _, in := range want {
			w = append(w, in.Key.ControlID)
		}
		if !slices.Equal(g, w) {
			t.Fatalf("InboundOf(%s) = %v, want %v", id, g, w)
		}
		for i, r := range got {
			in := want[i]
			if r.Key != in.Key || r.Hash != in.Hash || r.MessageType != in.MessageType || !r.ReceivedAt.Equal(in.ReceivedAt) ||
				r.AckCode != in.AckCode || !bytes.Equal(r.Ack, in.Ack) || !bytes.Equal(r.Raw, in.Raw) || r.EventID != in.Event.EventID {
				t.Errorf("InboundOf(%s)[%d] = %+v, want the message %s as ingested", id, i, r, in.Key.ControlID)
			}
			checkInstant(t, "InboundRecord.ReceivedAt", r.ReceivedAt)
		}
	}
	check("A-1", early, book1, mod)
	check("A-2", book2)
	check("A-9")
}

// testAdminHistorySince: every appointment's history, in seq order.
func testAdminHistorySince(t *testing.T, s store.Store) {
	if h, err := s.HistorySince(t.Context(), 0, 0); err != nil || len(h) != 0 {
		t.Fatalf("HistorySince of an empty store = %v, %v", h, err)
	}
	if seq, err := s.HistoryHorizon(t.Context()); err != nil || seq != 0 {
		t.Fatalf("HistoryHorizon of an empty store = %d, %v; want 0", seq, err)
	}
	ingestNew(t, s, newInbound(newEvent("A-1", apptbridge.Booked, base)))
	ingestNew(t, s, newInbound(newEvent("A-2", apptbridge.Booked, base)))
	ingest(t, s, newInbound(nil))
	ingestNew(t, s, newInbound(newEvent("A-1", apptbridge.Modified, base.Add(time.Minute))))
	ingestNew(t, s, newInbound(newEvent("A-2", apptbridge.Modified, base.Add(-time.Minute)))) // stale: not applied
	h1, h2 := history(t, s, "A-1"), history(t, s, "A-2")
	want := slices.SortedFunc(slices.Values(append(slices.Clone(h1), h2...)), func(a, b store.HistoryEntry) int {
		return int(a.Seq - b.Seq)
	})
	all, err := s.HistorySince(t.Context(), 0, 0)
	if err != nil {
		t.Fatalf("HistorySince: %v", err)
	}
	if len(all) != 4 {
		t.Fatalf("HistorySince = %d entries, want 4", len(all))
	}
	sameJSON(t, "HistorySince", all, want)
	var aids []string
	for _, h := range all {
		aids = append(aids, h.Event.AppointmentID)
	}
	if !slices.Equal(aids, []string{"A-1", "A-2", "A-1", "A-2"}) {
		t.Errorf("HistorySince appointments = %v, want A-1 A-2 A-1 A-2", aids)
	}
	page, err := s.HistorySince(t.Context(), all[0].Seq, 2)
	if err != nil {
		t.Fatalf("HistorySince(page): %v", err)
	}
	sameJSON(t, "HistorySince(after the first, limit 2)", page, all[1:3])
	if rest, err := s.HistorySince(t.Context(), all[3].Seq, 10); err != nil || len(rest) != 0 {
		t.Errorf("HistorySince(after the last) = %v, %v; want none", rest, err)
	}
	// With nothing in flight, the horizon is the last seq.
	if seq, err := s.HistoryHorizon(t.Context()); err != nil || seq != all[3].Seq {
		t.Errorf("HistoryHorizon = %d, %v; want the last seq %d", seq, err, all[3].Seq)
	}
}

// testAdminClosed: the admin methods after Close.
func testAdminClosed(t *testing.T, s store.Store) {
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := t.Context()
	_, err1 := s.Secret(ctx, "x", func() []byte { return []byte("x") })
	err2 := s.AppendAudit(ctx, &store.AuditEntry{Action: "x"})
	_, err3 := s.UseLoginCode(ctx, "c", now(), codeMatch("1"))
	_, err4 := s.TouchSession(ctx, "s", now(), time.Minute, true)
	_, err5 := s.Stats(ctx, now())
	_, err6 := s.Audit(ctx, store.AuditFilter{})
	err7 := s.AddSignInFailure(ctx, "ip:x", now(), now().Add(time.Minute))
	_, err8 := s.SignInFailures(ctx, "ip:x", now(), 10)
	err9 := s.ResetSignInFailures(ctx, "ip:x")
	_, err10 := s.HistoryHorizon(ctx)
	for i, err := range []error{err1, err2, err3, err4, err5, err6, err7, err8, err9, err10} {
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("admin call %d after Close: %v, want ErrClosed", i+1, err)
		}
	}
}
