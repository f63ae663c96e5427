package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// testOutboxClaimTexts: due texts oldest first, leases, SaveText.
func testOutboxClaimTexts(t *testing.T, s store.Store) {
	t0 := now()
	var due []*store.Text
	for i := range 5 {
		due = append(due, outText(phone1, apptbridge.TextHelp, t0.Add(time.Duration(i-5)*time.Second)))
	}
	future := outText(phone1, apptbridge.TextHelp, t0.Add(time.Hour))
	canceled := outText(phone1, apptbridge.TextHelp, t0.Add(-time.Hour))
	canceled.Status, canceled.Reason = store.TextCanceled, "test"
	sent := outText(phone1, apptbridge.TextHelp, t0.Add(-time.Hour))
	sent.Status, sent.SID, sent.SentAt = store.TwilioSent, "SM-sent", t0.Add(-time.Hour)
	inbound := &store.Text{ID: apptbridge.NewEventID(), Direction: store.DirIn, Kind: apptbridge.TextReply,
		Phone: phone1, Body: "HELP", Status: store.TextReceived, SID: "SM-in", CreatedAt: t0.Add(-time.Hour)}
	addTexts(t, s, append([]*store.Text{inbound, canceled, sent, future}, due...)...)

	const lease = 10 * time.Minute
	got := claim(t, s, "w1", t0, lease, 3)
	if !slices.Equal(ids(got), ids(due[:3])) {
		t.Fatalf("first claim = %v, want the 3 oldest %v", ids(got), ids(due[:3]))
	}
	for i, x := range got {
		if !x.LeaseUntil.Equal(t0.Add(lease)) || x.Status != store.TextPending || x.Kind != apptbridge.TextHelp ||
			x.Phone != phone1 || x.Direction != store.DirOut {
			t.Errorf("claimed text %d = %+v, want leased until %v", i, x, t0.Add(lease))
		}
	}
	if got := claim(t, s, "w2", t0, lease, 10); !slices.Equal(ids(got), ids(due[3:])) {
		t.Errorf("second claim = %v, want the 2 left %v", ids(got), ids(due[3:]))
	}
	if got := claim(t, s, "w3", t0.Add(lease/2), lease, 10); len(got) != 0 {
		t.Errorf("claim while leased = %v, want none", ids(got))
	}
	// Leases ended: all five again (the future one is not due yet).
	t1 := t0.Add(lease + time.Minute)
	again := claim(t, s, "w3", t1, lease, 10)
	if !slices.Equal(ids(again), ids(due)) {
		t.Fatalf("claim after the leases = %v, want %v", ids(again), ids(due))
	}

	// The first owner lost its lease.
	lost := got[0]
	lost.Status, lost.Attempts = store.TextAttempting, 1
	if err := s.SaveText(t.Context(), "w1", lost); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("SaveText by a former owner = %v, want ErrLeaseLost", err)
	}
	if err := s.SaveText(t.Context(), "nobody", again[1]); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("SaveText by a stranger = %v, want ErrLeaseLost", err)
	}
	if x := textByID(t, s, lost.ID); x.Status != store.TextPending || x.Attempts != 0 {
		t.Errorf("text after a lost save: %s attempts %d, want pending 0", x.Status, x.Attempts)
	}

	// SaveText persists the mutable fields.
	x := again[0]
	x.Body, x.Status, x.SID, x.Attempts = "Reply HELP for help", store.TwilioAccepted, "SM-0", 1
	x.SentAt, x.NextAttemptAt, x.LeaseOwner, x.LeaseUntil = t1.Add(time.Second), t1.Add(lease), "", time.Time{}
	y := again[1]
	y.Body, y.Status, y.Reason, y.ErrorCode, y.Attempts = "retry me", store.TextPending, "twilio 503", 20503, 1
	y.NextAttemptAt, y.LeaseOwner, y.LeaseUntil = t0.Add(2*time.Hour), "", time.Time{}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.SaveText(ctx, "w3", y) })
	if err := s.SaveText(t.Context(), "w3", x); err != nil {
		t.Fatalf("SaveText: %v", err)
	}
	for _, want := range []*store.Text{x, y} {
		got := textByID(t, s, want.ID)
		if got.Body != want.Body || got.Status != want.Status || got.Reason != want.Reason || got.SID != want.SID ||
			got.ErrorCode != want.ErrorCode || got.Attempts != want.Attempts || !got.NextAttemptAt.Equal(want.NextAttemptAt) ||
			!got.SentAt.Equal(want.SentAt) || got.LeaseOwner != want.LeaseOwner || !got.LeaseUntil.Equal(want.LeaseUntil) ||
			got.Kind != want.Kind || got.Phone != want.Phone || got.Direction != store.DirOut {
			t.Errorf("saved text:\n got %+v\nwant %+v", got, want)
		}
		if !got.SentAt.IsZero() {
			checkInstant(t, "SentAt", got.SentAt)
		}
	}
	// Attempting texts are claimed again once their lease ended (to be
	// reconciled).
	z := again[2]
	z.Status, z.Attempts, z.NextAttemptAt = store.TextAttempting, 1, t1.Add(lease)
	if err := s.SaveText(t.Context(), "w3", z); err != nil {
		t.Fatalf("SaveText: %v", err)
	}
	// At +90m: the future text, and those of w3's leases that ended (z
	// attempting among them); not the accepted one, nor the one released
	// until +2h.
	got = claim(t, s, "w4", t0.Add(90*time.Minute), lease, 10)
	wantIDs := []string{future.ID, z.ID, again[3].ID, again[4].ID}
	if g := slices.Sorted(slices.Values(ids(got))); !slices.Equal(g, slices.Sorted(slices.Values(wantIDs))) {
		t.Errorf("claim at +90m = %v, want %v", g, wantIDs)
	}
	for _, c := range got {
		if c.ID == z.ID && (c.Status != store.TextAttempting || c.Attempts != 1) {
			t.Errorf("attempting text claimed again as %s attempts %d", c.Status, c.Attempts)
		}
	}
	// A released text is due again at its NextAttemptAt.
	if got := claim(t, s, "w5", t0.Add(3*time.Hour), lease, 10); !slices.Contains(ids(got), y.ID) || slices.Contains(ids(got), x.ID) {
		t.Errorf("claim at +3h = %v, want the retried %s and not the accepted %s", ids(got), y.ID, x.ID)
	}

	// Invalid claims.
	for _, c := range []struct {
		owner string
		lease time.Duration
		limit int
	}{{"", lease, 1}, {"w", 0, 1}, {"w", lease, 0}} {
		if _, err := s.ClaimTexts(t.Context(), c.owner, t0, c.lease, c.limit); err == nil {
			t.Errorf("ClaimTexts(%q, %v, %d) = nil error", c.owner, c.lease, c.limit)
		}
	}
}

// testOutboxNextTextDue: the earliest NextAttemptAt of a pending text.
func testOutboxNextTextDue(t *testing.T, s store.Store) {
	next := func() time.Time {
		t.Helper()
		d, err := s.NextTextDue(t.Context())
		if err != nil {
			t.Fatalf("NextTextDue: %v", err)
		}
		return d
	}
	if d := next(); !d.IsZero() {
		t.Errorf("NextTextDue of an empty store = %v, want zero", d)
	}
	t0 := now()
	a := outText(phone1, apptbridge.TextHelp, t0.Add(time.Hour))
	b := outText(phone1, apptbridge.TextHelp, t0.Add(2*time.Hour))
	c := outText(phone1, apptbridge.TextHelp, t0.Add(-time.Hour))
	c.Status = store.TextCanceled
	in := &store.Text{ID: apptbridge.NewEventID(), Direction: store.DirIn, Kind: apptbridge.TextReply,
		Phone: phone1, Status: store.TextReceived, SID: "SM-in"}
	addTexts(t, s, b, c, a, in)
	if d := next(); !d.Equal(a.NextAttemptAt) {
		t.Errorf("NextTextDue = %v, want %v", d, a.NextAttemptAt)
	}
	got := claim(t, s, "w", t0.Add(90*time.Minute), time.Minute, 10)
	if len(got) != 1 || got[0].ID != a.ID {
		t.Fatalf("claim = %v, want %s", ids(got), a.ID)
	}
	x := got[0]
	x.Status, x.SID, x.SentAt, x.Attempts = store.TwilioQueued, "SM-a", t0, 1
	if err := s.SaveText(t.Context(), "w", x); err != nil {
		t.Fatalf("SaveText: %v", err)
	}
	if d := next(); !d.Equal(b.NextAttemptAt) {
		t.Errorf("NextTextDue after the first went = %v, want %v", d, b.NextAttemptAt)
	}
	got = claim(t, s, "w", t0.Add(3*time.Hour), time.Minute, 10)
	if len(got) != 1 {
		t.Fatalf("claim = %v, want %s", ids(got), b.ID)
	}
	got[0].Status, got[0].Reason = store.TextCanceled, "test"
	if err := s.SaveText(t.Context(), "w", got[0]); err != nil {
		t.Fatalf("SaveText: %v", err)
	}
	if d := next(); !d.IsZero() {
		t.Errorf("NextTextDue with nothing pending = %v, want zero", d)
	}
}

// testOutboxTextStatus: status callbacks move texts forward only.
func testOutboxTextStatus(t *testing.T, s store.Store) {
	mk := func(sid string) *store.Text {
		x := outText(phone1, apptbridge.TextHelp, now())
		x.Status, x.SID, x.SentAt, x.Attempts = store.TwilioAccepted, sid, now(), 1
		return x
	}
	a, b := mk("SM-a"), mk("SM-b")
	addTexts(t, s, a, b)
	status := func(sid, st string, code int, wantChanged bool, want string) *store.Text {
		t.Helper()
		x, changed, err := s.TextStatus(t.Context(), sid, st, code)
		if err != nil {
			t.Fatalf("TextStatus(%s, %s): %v", sid, st, err)
		}
		if changed != wantChanged || x == nil || x.Status != want || x.SID != sid {
			t.Errorf("TextStatus(%s, %s) = %+v changed %v, want status %s changed %v", sid, st, x, changed, want, wantChanged)
		}
		if got := textByID(t, s, x.ID); got.Status != want {
			t.Errorf("after TextStatus(%s, %s): stored status %s, want %s", sid, st, got.Status, want)
		}
		return x
	}
	if x := status("SM-a", store.TwilioQueued, 0, true, store.TwilioQueued); x.ID != a.ID {
		t.Errorf("TextStatus returned text %s, want %s", x.ID, a.ID)
	}
	status("SM-a", store.TwilioSent, 0, true, store.TwilioSent)
	status("SM-a", store.TwilioSent, 0, false, store.TwilioSent)
	status("SM-a", store.TwilioQueued, 0, false, store.TwilioSent)
	status("SM-a", store.TwilioDelivered, 0, true, store.TwilioDelivered)
	status("SM-a", store.TwilioSent, 0, false, store.TwilioDelivered)
	status("SM-a", store.TwilioUndelivered, 30005, false, store.TwilioDelivered)
	status("SM-a", "bogus", 0, false, store.TwilioDelivered)
	if x := status("SM-a", store.TwilioRead, 0, true, store.TwilioRead); x.ErrorCode != 0 {
		t.Errorf("read text error code %d, want 0", x.ErrorCode)
	}
	status("SM-a", store.TwilioDelivered, 0, false, store.TwilioRead)

	if x := status("SM-b", store.TwilioUndelivered, 30003, true, store.TwilioUndelivered); x.ErrorCode != 30003 {
		t.Errorf("undelivered error code %d, want 30003", x.ErrorCode)
	}
	status("SM-b", store.TwilioDelivered, 0, false, store.TwilioUndelivered)
	if got := textByID(t, s, b.ID); got.ErrorCode != 30003 {
		t.Errorf("stored error code %d, want 30003", got.ErrorCode)
	}

	_, _, err := s.TextStatus(t.Context(), "SM-unknown", store.TwilioDelivered, 0)
	wantCode(t, "TextStatus(unknown sid)", err, apptbridge.ENOTFOUND)
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TextStatus(unknown sid) error %v does not wrap ErrNotFound", err)
	}
}

// testOutboxTextStatusShuffled: callbacks out of order and repeated end
// at each text's highest status.
func testOutboxTextStatusShuffled(t *testing.T, s store.Store) {
	const n = 200
	rng := rand.New(rand.NewPCG(7, 11))
	type callback struct {
		sid, status string
		code        int
	}
	var (
		texts []*store.Text
		calls []callback
		want  = map[string]string{}
		codes = map[string]int{}
	)
	for i := range n {
		x := outText(phone1, apptbridge.TextHelp, now())
		x.SID = fmt.Sprintf("SM%032d", i)
		x.Status, x.SentAt, x.Attempts = store.TwilioAccepted, now(), 1
		texts = append(texts, x)
		seq := []string{store.TwilioQueued, store.TwilioSending, store.TwilioSent}
		code := 0
		switch rng.IntN(4) {
		case 0:
			seq = append(seq, store.TwilioUndelivered)
			code = 30003
		case 1:
			seq = append(seq, store.TwilioFailed)
			code = 30008
		case 2:
			seq = append(seq, store.TwilioDelivered)
		default:
			seq = append(seq, store.TwilioDelivered, store.TwilioRead)
		}
		want[x.SID], codes[x.SID] = seq[len(seq)-1], code
		for _, st := range seq {
			c := 0
			if st == store.TwilioUndelivered || st == store.TwilioFailed {
				c = code
			}
			for range 1 + rng.IntN(2) {
				calls = append(calls, callback{x.SID, st, c})
			}
		}
	}
	rng.Shuffle(len(calls), func(i, j int) { calls[i], calls[j] = calls[j], calls[i] })
	addTexts(t, s, texts...)

	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(calls); i += workers {
				c := calls[i]
				x, changed, err := s.TextStatus(t.Context(), c.sid, c.status, c.code)
				if err != nil {
					t.Errorf("TextStatus(%s, %s): %v", c.sid, c.status, err)
					return
				}
				if changed && x.Status != c.status {
					t.Errorf("TextStatus(%s, %s) changed the text to %s", c.sid, c.status, x.Status)
				}
				if !changed && store.StatusRank(x.Status) < store.StatusRank(c.status) {
					t.Errorf("TextStatus(%s, %s) left a lower status %s", c.sid, c.status, x.Status)
				}
			}
		})
	}
	wg.Wait()
	for _, x := range listTexts(t, s, store.TextFilter{}) {
		if x.Status != want[x.SID] || x.ErrorCode != codes[x.SID] {
			t.Errorf("text %s ended %s (error %d), want %s (error %d)", x.SID, x.Status, x.ErrorCode, want[x.SID], codes[x.SID])
		}
	}
}

// testOutboxRequests: the EHR request queue.
func testOutboxRequests(t *testing.T, s store.Store) {
	book(t, s, "A-1", phone1, apptStart, base)
	book(t, s, "A-2", phone2, apptStart, base)
	var reqs []*store.Request
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		reqs = reqs[:0]
		for _, p := range []struct {
			aid string
			typ apptbridge.EventType
		}{{"A-1", apptbridge.Confirm}, {"A-2", apptbridge.Confirm}, {"A-1", apptbridge.Cancel}, {"A-1", apptbridge.Confirm}} {
			res, err := tx.Apply(ctx, patient(p.aid, p.typ))
			if err != nil {
				return err
			}
			if res.Request == nil {
				return fmt.Errorf("%s %s wrote no request", p.aid, p.typ)
			}
			reqs = append(reqs, res.Request)
		}
		return nil
	})
	r1, r3, r2, r4 := reqs[0], reqs[1], reqs[2], reqs[3] // r1, r2, r4 are A-1's, in order
	all := listRequests(t, s, store.RequestFilter{})
	if !slices.Equal(requestIDs(all), requestIDs(reqs)) {
		t.Fatalf("Requests = %v, want %v (oldest first)", requestIDs(all), requestIDs(reqs))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq {
			t.Errorf("Requests[%d].Seq %d not after %d", i, all[i].Seq, all[i-1].Seq)
		}
	}
	if got := requestIDs(listRequests(t, s, store.RequestFilter{AppointmentID: "A-1"})); !slices.Equal(got, []string{r1.ID, r2.ID, r4.ID}) {
		t.Errorf("Requests(A-1) = %v", got)
	}
	if got := listRequests(t, s, store.RequestFilter{AppointmentID: "A-1", Limit: 1}); len(got) != 1 || got[0].ID != r1.ID {
		t.Errorf("Requests(A-1, limit 1) = %v, want [%s]", requestIDs(got), r1.ID)
	}
	if got := listRequests(t, s, store.RequestFilter{Status: store.RequestPending}); len(got) != 4 {
		t.Errorf("Requests(pending) = %d, want 4", len(got))
	}
	if got := listRequests(t, s, store.RequestFilter{Status: store.RequestDead}); len(got) != 0 {
		t.Errorf("Requests(dead) = %d, want 0", len(got))
	}
	next := func() time.Time {
		t.Helper()
		d, err := s.NextRequestDue(t.Context())
		if err != nil {
			t.Fatalf("NextRequestDue: %v", err)
		}
		return d
	}
	if d := next(); !d.Equal(all[0].NextAttemptAt) {
		t.Errorf("NextRequestDue = %v, want %v", d, all[0].NextAttemptAt)
	}

	claimReq := func(owner string, at time.Time) *store.Request {
		t.Helper()
		r, err := s.ClaimRequest(t.Context(), owner, at, 10*time.Minute)
		if err != nil {
			t.Fatalf("ClaimRequest(%s): %v", owner, err)
		}
		if r != nil && (r.LeaseOwner != owner || !r.LeaseUntil.Equal(store.Instant(at).Add(10*time.Minute))) {
			t.Errorf("claimed request lease %s until %v, want %s until %v", r.LeaseOwner, r.LeaseUntil, owner, at.Add(10*time.Minute))
		}
		return r
	}
	idOf := func(r *store.Request) string {
		if r == nil {
			return "none"
		}
		return r.ID
	}
	t0 := now()
	c1 := claimReq("w1", t0)
	if idOf(c1) != r1.ID || c1.Type != apptbridge.Confirm || c1.ControlID != r1.ControlID || c1.Status != store.RequestPending {
		t.Fatalf("first claim = %+v, want %s", c1, r1.ID)
	}
	// r2 waits for r1: the next is A-2's.
	if c := claimReq("w2", t0); idOf(c) != r3.ID {
		t.Fatalf("second claim = %s, want A-2's %s", idOf(c), r3.ID)
	}
	// r1 in flight (sending): r2 and r4 still wait.
	inFlight := *c1
	inFlight.Status, inFlight.Attempts, inFlight.NextAttemptAt = store.RequestSending, 1, c1.LeaseUntil
	if err := s.SaveRequest(t.Context(), "w1", &inFlight); err != nil {
		t.Fatalf("SaveRequest(sending): %v", err)
	}
	if c := claimReq("w3", t0.Add(time.Minute)); c != nil {
		t.Fatalf("third claim = %s, want none (r1 and r3 leased, r2 and r4 wait)", c.ID)
	}
	// Leases ended: r1 and r3 again, never r2.
	t1 := t0.Add(11 * time.Minute)
	got := []string{idOf(claimReq("w3", t1)), idOf(claimReq("w4", t1))}
	slices.Sort(got)
	want := []string{r1.ID, r3.ID}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("claims after the leases = %v, want %v", got, want)
	}
	if c := claimReq("w5", t1); c != nil {
		t.Fatalf("claim = %s, want none", c.ID)
	}
	// Whoever holds r1 now, w1 does not.
	c1.Status, c1.Attempts = store.RequestSending, 1
	if err := s.SaveRequest(t.Context(), "w1", c1); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("SaveRequest by a former owner = %v, want ErrLeaseLost", err)
	}
	owner1, owner3 := "w3", "w4"
	if listRequests(t, s, store.RequestFilter{AppointmentID: "A-1", Limit: 1})[0].LeaseOwner != "w3" {
		owner1, owner3 = owner3, owner1
	}
	// r3 is acked.
	c3 := listRequests(t, s, store.RequestFilter{AppointmentID: "A-2"})[0]
	if c3.ID != r3.ID || c3.LeaseOwner != owner3 {
		t.Fatalf("A-2's request = %+v, want %s leased by %s", c3, r3.ID, owner3)
	}
	c3.Status, c3.Attempts, c3.AckCode = store.RequestAcked, 1, "AA"
	if err := s.SaveRequest(t.Context(), owner3, c3); err != nil {
		t.Fatalf("SaveRequest: %v", err)
	}
	// r1 fails and waits an hour: r2 still waits behind it.
	c1.Status, c1.Attempts, c1.NextAttemptAt, c1.LastError = store.RequestPending, 1, t0.Add(time.Hour), "connection refused"
	c1.LeaseOwner, c1.LeaseUntil = "", time.Time{}
	if err := s.SaveRequest(t.Context(), owner1, c1); err != nil {
		t.Fatalf("SaveRequest: %v", err)
	}
	if c := claimReq("w5", t0.Add(30*time.Minute)); c != nil {
		t.Errorf("claim while r1 backs off = %s, want none", c.ID)
	}
	// The earliest NextAttemptAt of a pending request, r1's or not.
	earliest := time.Time{}
	for _, r := range listRequests(t, s, store.RequestFilter{Status: store.RequestPending}) {
		if earliest.IsZero() || r.NextAttemptAt.Before(earliest) {
			earliest = r.NextAttemptAt
		}
	}
	if d := next(); !d.Equal(earliest) {
		t.Errorf("NextRequestDue while r1 backs off = %v, want %v", d, earliest)
	}
	// At +1h r1 is due again; acked, it frees r2.
	c := claimReq("w6", t0.Add(time.Hour))
	if idOf(c) != r1.ID || c.Attempts != 1 || c.LastError != "connection refused" {
		t.Fatalf("claim at +1h = %+v, want %s with its saved attempt", c, r1.ID)
	}
	c.Status, c.Attempts, c.AckCode, c.LastError = store.RequestAcked, 2, "AA", ""
	c.Message, c.Ack = []byte("MSH|^~\\&|APPTBRIDGE|...\r"), []byte("MSH|...\rMSA|AA|"+c.ControlID+"\r")
	if err := s.SaveRequest(t.Context(), "w6", c); err != nil {
		t.Fatalf("SaveRequest: %v", err)
	}
	stored := listRequests(t, s, store.RequestFilter{AppointmentID: "A-1", Limit: 1})[0]
	if stored.ID != r1.ID || stored.Status != store.RequestAcked || stored.Attempts != 2 || stored.AckCode != "AA" ||
		string(stored.Message) != string(c.Message) || string(stored.Ack) != string(c.Ack) ||
		stored.ControlID != r1.ControlID || stored.LastError != "" || !stored.Final() {
		t.Errorf("saved request = %+v", stored)
	}
	c2 := claimReq("w7", t0.Add(time.Hour))
	if idOf(c2) != r2.ID || c2.Type != apptbridge.Cancel {
		t.Fatalf("claim after r1 acked = %s, want r2 %s", idOf(c2), r2.ID)
	}
	if c := claimReq("w8", t0.Add(time.Hour)); c != nil {
		t.Errorf("claim while r2 is leased = %s, want none (r4 waits)", c.ID)
	}
	// r2 dead: it frees r4.
	c2.Status, c2.Attempts, c2.AckCode, c2.LastError = store.RequestDead, 1, "AE", "rejected"
	if err := s.SaveRequest(t.Context(), "w7", c2); err != nil {
		t.Fatalf("SaveRequest: %v", err)
	}
	if got := requestIDs(listRequests(t, s, store.RequestFilter{Status: store.RequestDead})); !slices.Equal(got, []string{r2.ID}) {
		t.Errorf("Requests(dead) = %v, want [%s]", got, r2.ID)
	}
	c4 := claimReq("w9", t0.Add(time.Hour))
	if idOf(c4) != r4.ID {
		t.Fatalf("claim after r2 dead = %s, want r4 %s", idOf(c4), r4.ID)
	}
	// r4 dead too (had it been acked, retrying r2 would overtake it: see
	// testOutboxRetryOrder).
	c4.Status, c4.Attempts, c4.AckCode = store.RequestDead, 1, "AE"
	if err := s.SaveRequest(t.Context(), "w9", c4); err != nil {
		t.Fatalf("SaveRequest: %v", err)
	}
	if d := next(); !d.IsZero() {
		t.Errorf("NextRequestDue with nothing pending = %v, want zero", d)
	}

	// An operator's retry puts the dead one back.
	err := s.RetryRequest(t.Context(), r1.ID, t0)
	wantCode(t, "RetryRequest(acked)", err, apptbridge.EINVALID)
	err = s.RetryRequest(t.Context(), apptbridge.NewEventID(), t0)
	wantCode(t, "RetryRequest(unknown)", err, apptbridge.ENOTFOUND)
	t2 := t0.Add(2 * time.Hour)
	if err := s.RetryRequest(t.Context(), r2.ID, t2); err != nil {
		t.Fatalf("RetryRequest: %v", err)
	}
	err = s.RetryRequest(t.Context(), r2.ID, t2)
	wantCode(t, "RetryRequest(pending)", err, apptbridge.EINVALID)
	if got := requestIDs(listRequests(t, s, store.RequestFilter{Status: store.RequestPending})); !slices.Equal(got, []string{r2.ID}) {
		t.Errorf("Requests(pending) after retry = %v, want [%s]", got, r2.ID)
	}
	if d := next(); !d.Equal(t2) {
		t.Errorf("NextRequestDue after retry = %v, want %v", d, t2)
	}
	if c := claimReq("w11", t2.Add(-time.Second)); c != nil {
		t.Errorf("retried request claimed before its time: %s", c.ID)
	}
	if c := claimReq("w11", t2); idOf(c) != r2.ID || c.ControlID != r2.ControlID {
		t.Errorf("claim after retry = %+v, want r2 %s with its control id", c, r2.ID)
	}
}

// testOutboxLiveLease: a job whose lease is live is not claimed, even when
// its worker saved it due.
func testOutboxLiveLease(t *testing.T, s store.Store) {
	t0 := now()
	addTexts(t, s, outText(phone1, apptbridge.TextHelp, t0.Add(-time.Minute)))
	x := claim(t, s, "w1", t0, 10*time.Minute, 1)
	if len(x) != 1 {
		t.Fatalf("claim = %d texts, want 1", len(x))
	}
	x[0].Status, x[0].Attempts, x[0].NextAttemptAt = store.TextAttempting, 1, t0
	if err := s.SaveText(t.Context(), "w1", x[0]); err != nil {
		t.Fatalf("SaveText: %v", err)
	}
	if got := claim(t, s, "w2", t0.Add(time.Minute), 10*time.Minute, 10); len(got) != 0 {
		t.Errorf("claim while w1's lease is live = %v, want none", ids(got))
	}
	if got := claim(t, s, "w2", t0.Add(11*time.Minute), 10*time.Minute, 10); len(got) != 1 {
		t.Errorf("claim after w1's lease = %v, want the text", ids(got))
	}

	book(t, s, "A-1", phone1, apptStart, base)
	applyTx(t, s, patient("A-1", apptbridge.Confirm))
	t0 = now().Add(time.Second)
	r, err := s.ClaimRequest(t.Context(), "w1", t0, 10*time.Minute)
	if err != nil || r == nil {
		t.Fatalf("ClaimRequest = %v, %v", r, err)
	}
	r.Status, r.Attempts, r.NextAttemptAt = store.RequestSending, 1, t0
	if err := s.SaveRequest(t.Context(), "w1", r); err != nil {
		t.Fatalf("SaveRequest: %v", err)
	}
	if c, err := s.ClaimRequest(t.Context(), "w2", t0.Add(time.Minute), 10*time.Minute); err != nil || c != nil {
		t.Errorf("ClaimRequest while w1's lease is live = %v, %v, want none", c != nil, err)
	}
	if c, err := s.ClaimRequest(t.Context(), "w2", t0.Add(11*time.Minute), 10*time.Minute); err != nil || c == nil || c.ID != r.ID {
		t.Errorf("ClaimRequest after w1's lease = %+v, %v, want %s", c, err, r.ID)
	}
	r.Status = store.RequestAcked
	if err := s.SaveRequest(t.Context(), "w1", r); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("SaveRequest by w1 after w2 claimed = %v, want ErrLeaseLost", err)
	}
}

// testOutboxQueueStats: queue depths and oldest entries.
func testOutboxQueueStats(t *testing.T, s store.Store) {
	stats := func() map[string]store.QueueStat {
		t.Helper()
		l, err := s.QueueStats(t.Context())
		if err != nil {
			t.Fatalf("QueueStats: %v", err)
		}
		m := map[string]store.QueueStat{}
		for _, q := range l {
			m[q.Queue] = q
		}
		for _, q := range []string{"texts", "requests"} {
			if _, ok := m[q]; !ok {
				t.Fatalf("QueueStats has no %q queue: %+v", q, l)
			}
		}
		return m
	}
	expect := func(what string, q store.QueueStat, depth int, oldest time.Time) {
		t.Helper()
		if q.Depth != depth || !q.Oldest.Equal(oldest) {
			t.Errorf("%s: %s queue depth %d oldest %v, want %d %v", what, q.Queue, q.Depth, q.Oldest, depth, oldest)
		}
	}
	m := stats()
	expect("empty", m["texts"], 0, time.Time{})
	expect("empty", m["requests"], 0, time.Time{})

	book(t, s, "A-1", phone1, apptStart, base)
	res := applyTx(t, s, patient("A-1", apptbridge.Confirm))
	l := textsOf(t, s, "A-1")
	if len(l) != 2 || res.Request == nil {
		t.Fatalf("texts %v request %v", kinds(l), res.Request)
	}
	req := listRequests(t, s, store.RequestFilter{})[0]
	m = stats()
	expect("booked+confirm", m["texts"], 2, l[0].CreatedAt)
	expect("booked+confirm", m["requests"], 1, req.CreatedAt)

	// The booked text ends (canceled by the worker): the receipt is oldest.
	x := claimText(t, s, "w", l[0].ID)
	x.Status, x.Reason = store.TextCanceled, "test"
	if err := s.SaveText(t.Context(), "w", x); err != nil {
		t.Fatalf("SaveText: %v", err)
	}
	m = stats()
	expect("booked gone", m["texts"], 1, l[1].CreatedAt)

	r, err := s.ClaimRequest(t.Context(), "w", time.Now().Add(time.Minute), time.Minute)
	if err != nil || r == nil {
		t.Fatalf("ClaimRequest = %v, %v", r, err)
	}
	r.Status, r.AckCode = store.RequestAcked, "AA"
	if err := s.SaveRequest(t.Context(), "w", r); err != nil {
		t.Fatalf("SaveRequest: %v", err)
	}
	expect("request acked", stats()["requests"], 0, time.Time{})
}

// testOutboxTokens: API tokens by hash.
func testOutboxTokens(t *testing.T, s store.Store) {
	tok := &store.Token{ID: apptbridge.NewEventID(), Name: "ci", Hash: store.HashString("secret-1"), CreatedAt: base}
	if err := s.CreateToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	revoked := &store.Token{ID: apptbridge.NewEventID(), Name: "old", Hash: store.HashString("secret-2"),
		CreatedAt: base, RevokedAt: base.Add(time.Hour)}
	if err := s.CreateToken(t.Context(), revoked); err != nil {
		t.Fatalf("CreateToken(revoked): %v", err)
	}
	got, err := s.TokenByHash(t.Context(), store.HashString("secret-1"))
	if err != nil {
		t.Fatalf("TokenByHash: %v", err)
	}
	if got.ID != tok.ID || got.Name != "ci" || got.Hash != tok.Hash || !got.CreatedAt.Equal(base) || !got.RevokedAt.IsZero() {
		t.Errorf("TokenByHash = %+v, want %+v", got, tok)
	}
	_, err = s.TokenByHash(t.Context(), store.HashString("no such secret"))
	wantCode(t, "TokenByHash(unknown)", err, apptbridge.ENOTFOUND)
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TokenByHash(unknown) error %v does not wrap ErrNotFound", err)
	}
	_, err = s.TokenByHash(t.Context(), revoked.Hash)
	wantCode(t, "TokenByHash(revoked)", err, apptbridge.ENOTFOUND)
}

// testOutboxConcurrentClaims: concurrent workers never claim one text twice.
func testOutboxConcurrentClaims(t *testing.T, s store.Store) {
	const n, workers = 500, 8
	t0 := now()
	var texts []*store.Text
	for i := range n {
		texts = append(texts, outText(phone1, apptbridge.TextHelp, t0.Add(time.Duration(i-n)*time.Millisecond)))
	}
	addTexts(t, s, texts...)
	claimed := make([][]string, workers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range workers {
		wg.Go(func() {
			owner := fmt.Sprintf("worker-%d", w)
			<-start
			for {
				l, err := s.ClaimTexts(t.Context(), owner, t0, time.Hour, 16)
				if err != nil {
					t.Errorf("%s: ClaimTexts: %v", owner, err)
					return
				}
				if len(l) == 0 {
					return
				}
				for _, x := range l {
					if x.LeaseOwner != owner {
						t.Errorf("%s: claimed text with lease owner %s", owner, x.LeaseOwner)
					}
					claimed[w] = append(claimed[w], x.ID)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	seen := map[string]int{}
	for _, l := range claimed {
		for _, id := range l {
			seen[id]++
		}
	}
	for _, x := range texts {
		if seen[x.ID] != 1 {
			t.Errorf("text %s claimed %d times, want once", x.ID, seen[x.ID])
		}
	}
	if len(seen) != n {
		t.Errorf("%d texts claimed, want %d", len(seen), n)
	}
}

// testOutboxRetryOrder: a dead request is not retried over a newer request
// of its appointment that went to the EHR.
func testOutboxRetryOrder(t *testing.T, s store.Store) {
	ctx := context.Background()
	book(t, s, "RO-1", phone1, apptStart, base)
	first := applyTx(t, s, patient("RO-1", apptbridge.Confirm)).Request
	second := applyTx(t, s, patient("RO-1", apptbridge.Cancel)).Request
	at := time.Now().Add(time.Hour)
	finish := func(id, status string) {
		t.Helper()
		r, err := s.ClaimRequest(ctx, "w", at, time.Minute)
		if err != nil || r == nil || r.ID != id {
			t.Fatalf("claim: %v %v, want %s", r, err, id)
		}
		r.Status, r.LeaseOwner, r.LeaseUntil = status, "", time.Time{}
		if err := s.SaveRequest(ctx, "w", r); err != nil {
			t.Fatal(err)
		}
	}
	finish(first.ID, store.RequestDead)
	finish(second.ID, store.RequestAcked)
	if err := s.RetryRequest(ctx, first.ID, at); apptbridge.ErrorCode(err) != apptbridge.EINVALID {
		t.Fatalf("retry of a dead confirm after an acked cancel: %v, want EINVALID", err)
	}
	// A dead request with only dead ones after it can be retried.
	book(t, s, "RO-2", phone2, apptStart, base)
	third := applyTx(t, s, patient("RO-2", apptbridge.Confirm)).Request
	finish(third.ID, store.RequestDead)
	if err := s.RetryRequest(ctx, third.ID, at); err != nil {
		t.Fatalf("retry: %v", err)
	}
}
