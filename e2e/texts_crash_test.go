package e2e

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite" // read the store after the last run

	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/mllp"
	"github.com/apptbridge/apptbridge/notify/twilio/twiliotest"
)

// Canaries planted in the texts test's messages (names, MRN, phone
// digits); no server log line may contain them.
const (
	txFirstCanary = "TXZEBRA"
	txLastCanary  = "TXQUOKKA"
	txMRNCanary   = "TXMRN"
)

// txPhoneCanary matches the planted phones (773) 555-0000…1999 however
// written (17735550123, +1 773-555-0123, (773)555-0123, …) but not inside
// longer runs of letters and digits (a SID's or an ID's hex).
var txPhoneCanary = regexp.MustCompile(`(?:^|[^0-9A-Za-z])(?:\+?1[ .-]?)?\(?773\)?[ .-]?555[ .-]?[0-9]{4}(?:$|[^0-9A-Za-z])`)

// TestTextsCrash is RELIABILITY T11 (scaled to 2,000 texts): 2,000
// appointments, each with its own phone, are booked over MLLP, so 2,000
// "booked" texts become due, while `apptbridge serve` (Twilio mode,
// against the Twilio-like server) is killed with SIGKILL at 100 moments
// and restarted on the same data directory. A third of the kills are
// random, a third land right when Twilio has created a message (from the
// server's OnCreate hook, before apptbridge can record the SID), and a
// third while a create Twilio accepted hangs for 2 s before its 201. After
// the last restart the outbox drains. Then every phone has exactly one
// message at Twilio (0 never sent, 0 sent twice), every message's SID is
// recorded on its phone's text and no text is left unsent, at least 10
// kills left a message Twilio created but apptbridge had not recorded
// (reconciled after a restart, not resent), and no server log line holds
// a planted name, MRN or phone number.
func TestTextsCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	const (
		total   = 2000
		kills   = 100
		account = "AC0000000000000000000000000000c0de"
		token   = "0123456789abcdef0123456789abcdef"
	)
	began := time.Now()
	binary(t) // built once per test process

	tw, err := twiliotest.Start(account, token)
	if err != nil {
		t.Fatal(err)
	}
	defer tw.Close()

	// OnCreate runs in its own goroutine right after Twilio records a
	// message, racing the 201 to apptbridge: a kill from it lands
	// between Twilio's create and apptbridge recording the SID.
	var (
		killOnCreate   atomic.Pointer[server]
		signalOnCreate atomic.Pointer[chan struct{}]
	)
	tw.OnCreate = func(twiliotest.Message) {
		if s := killOnCreate.Swap(nil); s != nil {
			s.cmd.Process.Kill()
		}
		if ch := signalOnCreate.Swap(nil); ch != nil {
			close(*ch)
		}
	}

	dir := t.TempDir()
	dbPath := filepath.Join(dir, "apptbridge.db")
	env := []string{
		"TWILIO_ACCOUNT_SID=" + account,
		"TWILIO_AUTH_TOKEN=" + token,
		"TWILIO_PHONE_NUMBER=+15005550006",
		"TWILIO_API_BASE_URL=" + tw.URL,
		"PUBLIC_BASE_URL=http://127.0.0.1:9",
		"SMS_RATE_PER_SECOND=400",
		"EVENT_TEXTS_IN_WINDOW=false",
		"DEFAULT_TIMEZONE=America/Chicago",
		"CUSTOMER_NAME=Lakeside Clinic",
		"CALLBACK_PHONE=+13125550100",
	}
	sink := &logSink{}
	var cur atomic.Pointer[server]
	cur.Store(startServer(t, dir, sink, env...))
	t.Cleanup(func() { cur.Load().kill() }) // if the test stops early

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	phones := make([]string, total)
	for i := range phones {
		phones[i] = fmt.Sprintf("+1773555%04d", i)
	}
	start := time.Now().UTC().Add(5 * 24 * time.Hour).Truncate(time.Hour)

	// Sender: one connection, one message in flight, resend until AA.
	sendErr := make(chan error, 1)
	go func() { sendErr <- sendBookings(ctx, &cur, total, start) }()

	// Killer.
	rng := rand.New(rand.NewPCG(11, 2026))
	var (
		runs       []killedRun
		seen       int // Twilio messages created before the current run
		modeKills  [3]int
		restartMax time.Duration
	)
	for k := 0; k < kills; k++ {
		s := cur.Load()
		mode := k % 3
		switch mode {
		case 0: // a random moment
			time.Sleep(time.Duration(2000+rng.IntN(148000)) * time.Microsecond)
		case 1: // the moment Twilio creates a message
			killOnCreate.Store(s)
			select {
			case <-s.done:
			case <-time.After(time.Second):
				killOnCreate.CompareAndSwap(s, nil)
			}
		case 2: // while a create Twilio took waits 2 s for its 201
			ch := make(chan struct{})
			signalOnCreate.Store(&ch)
			tw.Script(twiliotest.Response{Create: true, Delay: 2 * time.Second})
			select {
			case <-ch:
				time.Sleep(time.Duration(rng.IntN(150000)) * time.Microsecond)
			case <-time.After(time.Second):
				signalOnCreate.CompareAndSwap(&ch, nil)
			}
		}
		s.kill()
		modeKills[mode]++
		// The process is gone: the messages Twilio created so far, after
		// seen, are this run's; any whose SID the store records only after
		// now (same host clock) was recorded by a later run (reconciled).
		n := len(tw.Messages())
		runs = append(runs, killedRun{from: seen, to: n, dead: time.Now()})
		seen = n

		t0 := time.Now()
		cur.Store(startServer(t, dir, sink, env...))
		restartMax = max(restartMax, time.Since(t0))
		if ctx.Err() != nil {
			t.Fatal("out of time during the kills")
		}
	}
	killsDone := time.Now()
	sentDuringKills := len(tw.Messages())

	if err := <-sendErr; err != nil {
		t.Fatal(err)
	}
	ingested := time.Now()

	// Drain. (A restart releases the killed run's outbox leases; were it
	// to wait for them to expire, this would take the 2-minute lease.)
	final := cur.Load()
	dctx, dcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer dcancel()
	for {
		// Every text is in the store (all bookings ACKed): depth 0 means
		// each is final (sent, failed or canceled).
		depth, derr := textsDepth(dctx, final.httpAddr)
		if derr == nil && depth == 0 {
			break
		}
		select {
		case <-dctx.Done():
			t.Fatalf("outbox not empty 2 min after the last restart: depth %d (%v), %d of %d phones texted",
				depth, derr, distinctTo(tw.Messages()), total)
		case <-time.After(100 * time.Millisecond):
		}
	}
	drained := time.Now()
	found, _ := metricValue(ctx, final.httpAddr, `apptbridge_texts_reconciled_total{result="found"}`)
	resend, _ := metricValue(ctx, final.httpAddr, `apptbridge_texts_reconciled_total{result="resend"}`)
	final.stop(t)

	// 0 never sent, 0 sent twice.
	msgs := tw.Messages()
	perTo := map[string]int{}
	for _, m := range msgs {
		perTo[m.To]++
	}
	var never, twice []string
	for _, p := range phones {
		switch n := perTo[p]; {
		case n == 0:
			never = append(never, p)
		case n > 1:
			twice = append(twice, fmt.Sprintf("%s×%d", p, n))
		}
		delete(perTo, p)
	}
	if len(never) > 0 {
		t.Errorf("%d texts never sent, e.g. %v", len(never), never[:min(5, len(never))])
	}
	if len(twice) > 0 {
		t.Errorf("%d phones texted more than once, e.g. %v", len(twice), twice[:min(5, len(twice))])
	}
	if len(perTo) > 0 {
		t.Errorf("texts to %d unexpected numbers", len(perTo))
	}
	if len(msgs) != total {
		t.Errorf("Twilio holds %d messages, want %d", len(msgs), total)
	}

	// Every message's SID is recorded on exactly one text of its phone,
	// and no text is left unsent.
	texts, err := outTexts(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	bySID := map[string]txRow{}
	var unsent []string
	resent := 0 // texts whose create was retried after a crash (Twilio had none)
	for _, r := range texts {
		if r.sid != "" {
			bySID[r.sid] = r
		}
		if r.kind != "booked" || r.sid == "" || r.status == "pending" || r.status == "attempting" ||
			r.status == "failed" || r.status == "canceled" {
			unsent = append(unsent, fmt.Sprintf("%s %s %s sid=%q (%s)", r.id, r.kind, r.status, r.sid, r.reason))
		}
		if r.attempts > 1 {
			resent++
		}
	}
	if len(unsent) > 0 {
		t.Errorf("%d texts not booked-and-sent at the end, e.g. %v", len(unsent), unsent[:min(5, len(unsent))])
	}
	if len(texts) != total {
		t.Errorf("store holds %d outbound texts, want %d", len(texts), total)
	}
	var norecord, misrecorded []string
	for _, m := range msgs {
		r, ok := bySID[m.SID]
		switch {
		case !ok:
			norecord = append(norecord, m.SID)
		case r.phone != m.To:
			misrecorded = append(misrecorded, m.SID)
		}
	}
	if len(norecord) > 0 {
		t.Errorf("%d Twilio messages are recorded on no text, e.g. %v", len(norecord), norecord[:min(5, len(norecord))])
	}
	if len(misrecorded) > 0 {
		t.Errorf("%d Twilio messages are recorded on the text of another phone, e.g. %v", len(misrecorded), misrecorded[:min(5, len(misrecorded))])
	}
	// The kills that landed between Twilio's create and apptbridge
	// recording the SID: a message of the killed run whose SID was not
	// recorded by the kill. A later run must have reconciled it (recorded
	// it; a resend would have made a second message to that phone, and a
	// message never recorded is an error above).
	inWindow, ambiguous, reconciled := 0, 0, 0
	for _, run := range runs {
		hit := false
		for _, m := range msgs[run.from:min(run.to, len(msgs))] {
			r, ok := bySID[m.SID]
			if !ok || r.sentAt.After(run.dead) {
				ambiguous++
				hit = true
			}
			if ok && r.sentAt.After(run.dead) {
				reconciled++
			}
		}
		if hit {
			inWindow++
		}
	}
	if inWindow < 10 {
		t.Errorf("only %d of %d kills landed between Twilio's create and apptbridge recording the SID, want ≥ 10", inWindow, kills)
	}

	// PHI canaries in the logs of every run. (The line is printed: its
	// values are made up, and whoever fixes the leak needs it.)
	lines := sink.all()
	for _, line := range lines {
		for _, c := range []string{txFirstCanary, txLastCanary, txMRNCanary} {
			if strings.Contains(line, c) {
				t.Fatalf("PHI canary %q in a log line: %s", c, line)
			}
		}
		if txPhoneCanary.MatchString(line) {
			t.Fatalf("planted phone number in a log line: %s", line)
		}
	}

	t.Logf("%d texts, %d kills (random %d, at create %d, during a delayed 201 %d), %d restarts (slowest ready %v)",
		total, kills, modeKills[0], modeKills[1], modeKills[2], kills, restartMax.Round(time.Millisecond))
	t.Logf("%d kills landed between Twilio's create and the SID being recorded; %d of those %d messages were reconciled after a restart (SID recorded, no second create)",
		inWindow, reconciled, ambiguous)
	t.Logf("last run's reconciliations: found %v, none found so resent %v; %d texts needed more than one create attempt",
		found, resend, resent)
	t.Logf("Twilio: %d messages created during the kills, %d create calls in all, %d messages created, calls − creates = %d; %d log lines scanned",
		sentDuringKills, tw.Calls(), tw.Creates(), tw.Calls()-tw.Creates(), len(lines))
	t.Logf("kills done after %v, all SIU ACKed after %v, outbox empty after %v (total with build %v)",
		killsDone.Sub(began).Round(time.Millisecond), ingested.Sub(began).Round(time.Millisecond),
		drained.Sub(began).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// sendBookings sends n SIU^S12 over MLLP, one connection at a time and one
// message in flight, resending each until it is ACKed (across restarts).
func sendBookings(ctx context.Context, cur *atomic.Pointer[server], n int, start time.Time) error {
	var (
		c    *mllp.Client
		addr string
	)
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		msg := bookingSIU(i, start.Add(time.Duration(i)*time.Minute))
		for {
			if ctx.Err() != nil {
				return fmt.Errorf("booking %d: %w", i, ctx.Err())
			}
			s := cur.Load()
			if c == nil || addr != s.mllpAddr {
				if c != nil {
					c.Close()
				}
				addr = s.mllpAddr
				c = &mllp.Client{Addr: addr, DialTimeout: time.Second, AckTimeout: 5 * time.Second}
			}
			ack, err := c.Send(ctx, msg)
			if err != nil {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			m, err := hl7.Parse(ack)
			if err != nil {
				return fmt.Errorf("booking %d: unparseable ACK: %v", i, err)
			}
			if code := m.Get("MSA-1"); code != "AA" && code != "CA" {
				return fmt.Errorf("booking %d: ACK %s (%s), want AA", i, code, m.Get("ERR-3"))
			}
			if got, want := m.Get("MSA-2"), fmt.Sprintf("TX%06d", i); got != want {
				return fmt.Errorf("booking %d: ACK answers %s", i, got)
			}
			break
		}
	}
	return nil
}

// bookingSIU is appointment i's SIU^S12: its own patient and mobile phone
// (773) 555-iiii, starting at start (UTC, with an explicit +0000).
func bookingSIU(i int, start time.Time) []byte {
	name := letters(i)
	segs := []string{
		fmt.Sprintf("MSH|^~\\&|TEXTCRASH|FAC|APPTBRIDGE|CLINIC|%s||SIU^S12^SIU_S12|TX%06d|P|2.5.1|||AL|NE",
			time.Now().UTC().Format("20060102150405")+"+0000", i),
		fmt.Sprintf("SCH|TX%05d^EPIC|TF%05d^EPIC|||||ROUTINE^Routine visit|Normal|30|MIN|^^30^%s||||||||||||||Booked",
			i, i, start.UTC().Format("20060102150405")+"+0000"),
		fmt.Sprintf("PID|1||%s%05d^^^HOSP^MR||%s%s^%s%s||19800101|F|||1 MAIN ST^^CHICAGO^IL^60601||(773)555-%04d^PRN^CP",
			txMRNCanary, i, txLastCanary, name, txFirstCanary, name, i),
		"RGS|1|A",
		"AIL|1|A|CARDIO^^^MAIN^^^^^Cardiology Clinic",
		"AIP|1|A|1234567893^CHEN^WEI^^^DR",
	}
	return []byte(strings.Join(segs, "\r") + "\r")
}

// letters spells i in base 26 (A…Z), three letters.
func letters(i int) string {
	b := []byte{'A', 'A', 'A'}
	for j := 2; j >= 0; j-- {
		b[j] = byte('A' + i%26)
		i /= 26
	}
	return string(b)
}

// openRO opens the store read-only.
func openRO(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "query_only(1)")
	return sql.Open("sqlite", "file:"+path+"?"+q.Encode())
}

// killedRun is one killed server run: the Twilio messages created during
// it (Messages()[from:to]) and a moment after it was gone.
type killedRun struct {
	from, to int
	dead     time.Time
}

type txRow struct {
	id, kind, phone, status, sid, reason string
	attempts                             int
	sentAt                               time.Time // when the SID was recorded
}

// outTexts returns every outbound text in the store.
func outTexts(path string) ([]txRow, error) {
	db, err := openRO(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id, kind, phone, status, COALESCE(sid, ''), reason, attempts, sent_at FROM texts WHERE direction = 'out'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []txRow
	for rows.Next() {
		var (
			r      txRow
			sentAt int64 // unix microseconds
		)
		if err := rows.Scan(&r.id, &r.kind, &r.phone, &r.status, &r.sid, &r.reason, &r.attempts, &sentAt); err != nil {
			return nil, err
		}
		r.sentAt = time.UnixMicro(sentAt)
		out = append(out, r)
	}
	return out, rows.Err()
}

// textsDepth reads apptbridge_outbox_depth{queue="texts"} from /metrics.
func textsDepth(ctx context.Context, addr string) (int, error) {
	v, err := metricValue(ctx, addr, `apptbridge_outbox_depth{queue="texts"}`)
	return int(v), err
}

// metricValue returns the value of one sample of /metrics (0 if absent).
func metricValue(ctx context.Context, addr, sample string) (float64, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/metrics: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if strings.HasPrefix(sample, "apptbridge_outbox_depth") {
		return 0, fmt.Errorf("/metrics has no %s", sample)
	}
	return 0, nil
}

func distinctTo(msgs []twiliotest.Message) int {
	seen := map[string]bool{}
	for _, m := range msgs {
		seen[m.To] = true
	}
	return len(seen)
}
