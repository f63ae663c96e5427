package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/app"
	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/ingest"
	"github.com/apptbridge/apptbridge/mllp"
	"github.com/apptbridge/apptbridge/notify/twilio"
	"github.com/apptbridge/apptbridge/notify/twilio/twiliotest"
	"github.com/apptbridge/apptbridge/store/sqlite"
)

// fleetDatabase creates a database of its own on the PostgreSQL server at
// APPTBRIDGE_TEST_POSTGRES (dropped at cleanup) and returns its URL. It
// skips without the variable, or fails when CI=true.
func fleetDatabase(t testing.TB) string {
	t.Helper()
	base := os.Getenv("APPTBRIDGE_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("APPTBRIDGE_TEST_POSTGRES is not set (CI=true): the fleet test needs PostgreSQL (scripts/test-postgres.sh)")
		}
		t.Skip("APPTBRIDGE_TEST_POSTGRES not set (eval \"$(scripts/test-postgres.sh start)\")")
	}
	ctx := context.Background()
	name := fmt.Sprintf("apptbridge_fleet_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to APPTBRIDGE_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("connect: %v", err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal("APPTBRIDGE_TEST_POSTGRES is not a URL")
	}
	u.Path = "/" + name
	return u.String()
}

// fleetMsg is one SIU message of the fleet test.
type fleetMsg struct {
	appt, control string
	raw           []byte
}

// fleetPhone is the phone of appointment group g ("R" or "C"), number i.
func fleetPhone(g string, i int) string {
	if g == "R" {
		return fmt.Sprintf("+1773555%04d", i)
	}
	return fmt.Sprintf("+1773556%04d", i)
}

// fleetSIU builds one SIU message.
func fleetSIU(control, appt, trigger, status string, msgTime, start time.Time, phone string, i int) fleetMsg {
	segs := []string{
		fmt.Sprintf("MSH|^~\\&|FLEET|FAC|APPTBRIDGE|CLINIC|%s||SIU^%s^SIU_S12|%s|P|2.5.1|||AL|NE",
			msgTime.UTC().Format("20060102150405")+"+0000", trigger, control),
		fmt.Sprintf("SCH|%s^EPIC|F%s^EPIC|||||ROUTINE^Routine visit|Normal|30|MIN|^^30^%s||||||||||||||%s",
			appt, appt, start.UTC().Format("20060102150405")+"+0000", status),
		fmt.Sprintf("PID|1||FLMRN%s^^^HOSP^MR||Fleet%s^Pat%s||19800101|F|||1 MAIN ST^^CHICAGO^IL^60601||(%s)%s-%s^PRN^CP",
			appt, letters(i), letters(i), phone[2:5], phone[5:8], phone[8:]),
		"RGS|1|A",
		"AIL|1|A|CARDIO^^^MAIN^^^^^Cardiology Clinic",
		"AIP|1|A|1234567893^CHEN^WEI^^^DR",
	}
	return fleetMsg{appt: appt, control: control, raw: []byte(strings.Join(segs, "\r") + "\r")}
}

// TestFleet runs three `apptbridge serve` processes on one PostgreSQL
// database in Twilio mode against one Twilio-like server, with one EHR
// stand-in. 3,000 SIU messages (500 single bookings that fall due for a
// reminder in the same minute, and 500 appointments of five events
// each, S12 → S14 → S13 → S14 Confirmed → S15) go to the three
// processes over 24 MLLP connections; a message goes to the processes in
// turn, a tenth of them race a copy to a second process at the same
// moment and some are resent to a third after their ACK. One process is
// killed with SIGKILL at a third of the stream and restarted. Then 100
// patients reply CONFIRM APPT, each reply posted to one process and its
// Twilio retry (same MessageSid) to another.
//
// Afterwards: every message was ACKed (CA: enhanced mode) and is in the history exactly
// once; each of the 500 phones got its booked text and its reminder
// exactly once; no (phone, kind) text reached Twilio twice and every
// Twilio message is recorded on exactly one text; the EHR got each
// confirm request exactly once; and every appointment's final state and
// version equal those of a sequential replay of the same messages into a
// fresh SQLite store through the same ingest path.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("fleet test skipped in -short mode")
	}
	const (
		procs    = 3
		nRem     = 500 // single-booking appointments, one reminder each
		nChurn   = 500 // appointments with five events
		workers  = 8   // each holds one connection to every process
		nReplies = 100
		account  = "AC00000000000000000000000000f1ee7"
		token    = "00112233445566778899aabbccddeeff"
		public   = "http://fleet.example"
	)
	dbURL := fleetDatabase(t)
	began := time.Now()
	binary(t)

	tw, err := twiliotest.Start(account, token)
	if err != nil {
		t.Fatal(err)
	}
	defer tw.Close()

	// EHR stand-in: answers AA, counts messages per control id.
	var (
		ehrMu  sync.Mutex
		ehrGot = map[string]int{}
	)
	ehrLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ehrSrv := &mllp.Server{Handler: mllp.HandlerFunc(func(ctx context.Context, msg []byte) ([]byte, error) {
		m, err := hl7.Parse(msg)
		if err != nil {
			return nil, err
		}
		ehrMu.Lock()
		ehrGot[m.ControlID()]++
		ehrMu.Unlock()
		return hl7.BuildAck(m, hl7.AckOptions{Code: "AA", Now: time.Now(), ControlID: "EHR" + m.ControlID()}), nil
	})}
	go ehrSrv.Serve(ehrLn)
	defer ehrSrv.Shutdown(context.Background())

	// The reminders fall due 40 s after the start, all in the same
	// minute; the appointments are 10 minutes later, so none expires
	// during the test.
	t0 := time.Now().UTC().Truncate(time.Second)
	remStart := t0.Add(10*time.Minute + 40*time.Second)
	remDue := remStart.Add(-10 * time.Minute)
	env := []string{
		"DATABASE_URL=" + dbURL,
		"TWILIO_ACCOUNT_SID=" + account,
		"TWILIO_AUTH_TOKEN=" + token,
		"TWILIO_PHONE_NUMBER=+15005550006",
		"TWILIO_API_BASE_URL=" + tw.URL,
		"PUBLIC_BASE_URL=" + public,
		"SMS_RATE_PER_SECOND=500",
		"REMINDER_FIRST_TIMING=0010",
		"REMINDER_SECOND_TIMING=0000",
		"REMINDER_OUTREACH_START=0000",
		"REMINDER_OUTREACH_FINISH=2400",
		"EHR_MLLP_ADDR=" + ehrLn.Addr().String(),
		"EHR_ACK_TIMEOUT=5s",
		"DEFAULT_TIMEZONE=America/Chicago",
		"CUSTOMER_NAME=Lakeside Clinic",
		"CALLBACK_PHONE=+13125550100",
		"MLLP_MAX_CONNS=0",
	}
	sink := &logSink{}
	var fleet [procs]atomic.Pointer[server]
	for p := range procs {
		fleet[p].Store(startServer(t, t.TempDir(), sink, env...))
	}
	t.Cleanup(func() {
		for p := range procs {
			if s := fleet[p].Load(); s != nil {
				s.kill()
			}
		}
	})
	for p := range procs {
		if !strings.Contains(strings.Join(sink.all(), "\n"), `"store":"postgres"`) {
			t.Fatalf("process %d: start-up log does not say store postgres", p)
		}
		if strings.Contains(strings.Join(sink.all(), "\n"), "sqlite") {
			t.Fatalf("a fleet process opened SQLite")
		}
	}

	// The messages, as chains: each appointment's messages in order.
	var chains [][]fleetMsg
	for i := range nRem {
		chains = append(chains, []fleetMsg{fleetSIU(fmt.Sprintf("FR%05d", i), fmt.Sprintf("R%05d", i), "S12", "Booked",
			t0.Add(-time.Hour), remStart, fleetPhone("R", i), i)})
	}
	steps := []struct{ trigger, status string }{{"S12", "Booked"}, {"S14", "Booked"}, {"S13", "Booked"}, {"S14", "Confirmed"}, {"S15", "Cancelled"}}
	for i := range nChurn {
		var ch []fleetMsg
		start := t0.Add(5*24*time.Hour + time.Duration(i)*time.Minute)
		for s, st := range steps {
			if s == 2 {
				start = start.Add(24 * time.Hour)
			}
			ch = append(ch, fleetSIU(fmt.Sprintf("FC%05d-%d", i, s), fmt.Sprintf("C%05d", i), st.trigger, st.status,
				t0.Add(-time.Hour).Add(time.Duration(s)*time.Minute), start, fleetPhone("C", i), nRem+i))
		}
		chains = append(chains, ch)
	}
	total := nRem + nChurn*len(steps)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Senders.
	var (
		next      atomic.Int64 // round robin over the processes
		acked     atomic.Int64
		raced     atomic.Int64
		resent    atomic.Int64
		sendFails atomic.Int64
	)
	work := make(chan []fleetMsg, len(chains))
	for _, ch := range chains {
		work <- ch
	}
	close(work)
	// send delivers msg to process p (then the others) until one ACKs it.
	type conn struct {
		c    *mllp.Client
		addr string
	}
	send := func(cs []conn, p int, m fleetMsg) error {
		for {
			if ctx.Err() != nil {
				return fmt.Errorf("%s: %w", m.control, ctx.Err())
			}
			s := fleet[p].Load()
			if cs[p].c == nil || cs[p].addr != s.mllpAddr {
				if cs[p].c != nil {
					cs[p].c.Close()
				}
				cs[p] = conn{c: &mllp.Client{Addr: s.mllpAddr, DialTimeout: time.Second, AckTimeout: 10 * time.Second}, addr: s.mllpAddr}
			}
			ack, err := cs[p].c.Send(ctx, m.raw)
			if err != nil {
				sendFails.Add(1)
				cs[p].c.Close()
				cs[p].c = nil
				p = (p + 1) % procs // the next process
				time.Sleep(5 * time.Millisecond)
				continue
			}
			a, err := hl7.Parse(ack)
			if err != nil {
				return fmt.Errorf("%s: unparseable ACK: %v", m.control, err)
			}
			if code := a.Get("MSA-1"); code != "CA" { // MSH-15 AL: enhanced mode
				return fmt.Errorf("%s: ACK %s (%s), want CA", m.control, code, a.Get("ERR-3"))
			}
			if a.Get("MSA-2") != m.control {
				return fmt.Errorf("%s: ACK answers %s", m.control, a.Get("MSA-2"))
			}
			return nil
		}
	}
	var wg sync.WaitGroup
	sendErr := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			main := make([]conn, procs)
			extra := make([]conn, procs) // for racing copies
			defer func() {
				for _, cs := range [][]conn{main, extra} {
					for _, c := range cs {
						if c.c != nil {
							c.c.Close()
						}
					}
				}
			}()
			for ch := range work {
				for _, m := range ch {
					p := int(next.Add(1) % procs)
					r := rng.IntN(100)
					var err error
					if r < 10 { // a copy races to another process
						raced.Add(1)
						errc := make(chan error, 1)
						go func() { errc <- send(extra, (p+1)%procs, m) }()
						err = send(main, p, m)
						if err2 := <-errc; err == nil {
							err = err2
						}
					} else {
						err = send(main, p, m)
					}
					if err == nil && r >= 95 { // resent after its ACK
						resent.Add(1)
						err = send(main, (p+2)%procs, m)
					}
					if err != nil {
						sendErr <- err
						return
					}
					acked.Add(1)
				}
			}
		}()
	}

	// Kill process 1 with SIGKILL a third of the way through, restart it.
	for acked.Load() < int64(total/3) {
		select {
		case err := <-sendErr:
			t.Fatalf("sender stopped before the kill: %v", err)
		case <-ctx.Done():
			t.Fatalf("timed out before the kill (%d ACKs)", acked.Load())
		case <-time.After(time.Millisecond):
		}
	}
	killedAt := acked.Load()
	fleet[1].Load().kill()
	time.Sleep(500 * time.Millisecond)
	fleet[1].Store(startServer(t, t.TempDir(), sink, env...))
	wg.Wait()
	close(sendErr)
	for err := range sendErr {
		t.Fatal(err)
	}
	ingested := time.Since(began)

	// Replies: 100 patients of the reminder group answer CONFIRM APPT;
	// each is posted to one process and Twilio's retry (same SID) to
	// another.
	replyURL := public + "/twilio/sms"
	for i := range nReplies {
		sid := fmt.Sprintf("SMfleet%026d", i)
		form := url.Values{
			"MessageSid": {sid}, "SmsSid": {sid}, "SmsMessageSid": {sid}, "AccountSid": {account},
			"From": {fleetPhone("R", i)}, "To": {"+15005550006"}, "Body": {"CONFIRM APPT"},
			"NumMedia": {"0"}, "NumSegments": {"1"}, "SmsStatus": {"received"}, "ApiVersion": {twiliotest.APIVersion},
		}
		for k := range 2 {
			s := fleet[(i+k)%procs].Load()
			req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+s.httpAddr+"/twilio/sms", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set(twilio.SignatureHeader, twilio.Signature(token, replyURL, form))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("reply %d to process %d: HTTP %d", i, (i+k)%procs, resp.StatusCode)
			}
		}
	}

	// Drain: wait until the reminders went out and nothing is left in the
	// outbox (the killed run's leases run out after 2 minutes).
	pg, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(context.Background())
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := pg.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	for {
		pendTexts := count(`SELECT COUNT(*) FROM texts WHERE direction = 'out' AND status IN ('pending', 'attempting')`)
		pendRem := count(`SELECT COUNT(*) FROM reminders WHERE status = 'planned'`)
		pendReq := count(`SELECT COUNT(*) FROM requests WHERE status IN ('pending', 'sending')`)
		if pendTexts == 0 && pendRem == 0 && pendReq == 0 && time.Now().After(remDue) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("not drained: %d texts, %d reminders, %d requests pending", pendTexts, pendRem, pendReq)
		}
		time.Sleep(200 * time.Millisecond)
	}
	drained := time.Since(began)
	time.Sleep(time.Second) // anything sent twice would show by now
	for p := range procs {
		fleet[p].Load().stop(t)
		fleet[p].Store(nil)
	}

	// 1. Every message ACKed is stored once and in the history once.
	if n := count(`SELECT COUNT(*) FROM inbound`); n != total {
		t.Errorf("inbound holds %d messages, want %d", n, total)
	}
	perControl := map[string]int{}
	rows, err := pg.Query(ctx, `SELECT event FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	notApplied := 0
	for rows.Next() {
		var js string
		if err := rows.Scan(&js); err != nil {
			t.Fatal(err)
		}
		var ev apptbridge.Event
		if err := json.Unmarshal([]byte(js), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Source != nil && strings.HasPrefix(ev.Source.MessageControlID, "F") { // not the replies' SIDs
			perControl[ev.Source.MessageControlID]++
		}
	}
	rows.Close()
	notApplied = count(`SELECT COUNT(*) FROM events WHERE NOT applied AND event_id IN (SELECT event_id FROM inbound)`)
	if notApplied != 0 {
		t.Errorf("%d SIU events in the history were not applied", notApplied)
	}
	var bad []string
	for _, ch := range chains {
		for _, m := range ch {
			if n := perControl[m.control]; n != 1 {
				bad = append(bad, fmt.Sprintf("%s×%d", m.control, n))
			}
			delete(perControl, m.control)
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d messages not in the history exactly once, e.g. %v", len(bad), bad[:min(5, len(bad))])
	}
	if len(perControl) > 0 {
		t.Errorf("history rows for %d unknown control ids", len(perControl))
	}

	// 2. Texts: each Twilio message is recorded on exactly one text; no
	// (phone, kind) twice; each reminder-group phone got its booked text
	// and its reminder once.
	type textRow struct{ kind, phone, status string }
	bySID := map[string]textRow{}
	rows, err = pg.Query(ctx, `SELECT kind, phone, status, sid FROM texts WHERE direction = 'out' AND sid IS NOT NULL AND sid <> ''`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r textRow
		var sid string
		if err := rows.Scan(&r.kind, &r.phone, &r.status, &sid); err != nil {
			t.Fatal(err)
		}
		if _, dup := bySID[sid]; dup {
			t.Errorf("SID %s recorded on two texts", sid)
		}
		bySID[sid] = r
	}
	rows.Close()
	msgs := tw.Messages()
	perKind := map[string]int{} // phone|kind
	for _, m := range msgs {
		r, ok := bySID[m.SID]
		if !ok {
			t.Errorf("Twilio message %s (to a fleet phone) is recorded on no text", m.SID)
			continue
		}
		if r.phone != m.To {
			t.Errorf("Twilio message %s recorded on another phone's text", m.SID)
		}
		perKind[m.To+"|"+r.kind]++
	}
	if len(bySID) != len(msgs) {
		t.Errorf("store records %d SIDs, Twilio holds %d messages", len(bySID), len(msgs))
	}
	var twice []string
	for k, n := range perKind {
		if n > 1 {
			twice = append(twice, fmt.Sprintf("%s×%d", k, n))
		}
	}
	sort.Strings(twice)
	if len(twice) > 0 {
		t.Errorf("%d (phone, kind) texts created more than once at Twilio, e.g. %v", len(twice), twice[:min(5, len(twice))])
	}
	missingBooked, missingRem := 0, 0
	for i := range nRem {
		if perKind[fleetPhone("R", i)+"|booked"] != 1 {
			missingBooked++
		}
		if perKind[fleetPhone("R", i)+"|remind-1"] != 1 {
			missingRem++
		}
	}
	if missingBooked > 0 || missingRem > 0 {
		t.Errorf("reminder group: %d phones without exactly one booked text, %d without exactly one reminder", missingBooked, missingRem)
	}
	churnBooked := 0
	for i := range nChurn {
		churnBooked += perKind[fleetPhone("C", i)+"|booked"]
	}
	if n := count(`SELECT COUNT(*) FROM texts WHERE direction = 'out' AND status = 'failed'`); n != 0 {
		t.Errorf("%d texts failed", n)
	}
	remSent := count(`SELECT COUNT(*) FROM reminders WHERE status = 'sent'`)
	if remSent != nRem {
		t.Errorf("%d reminders sent, want %d", remSent, nRem)
	}

	// 3. EHR: one confirm request per reply, each received once.
	if n := count(`SELECT COUNT(*) FROM requests`); n != nReplies {
		t.Errorf("%d EHR requests, want %d (one per reply; the retried webhook adds none)", n, nReplies)
	}
	if n := count(`SELECT COUNT(DISTINCT appointment_id) FROM requests`); n != nReplies {
		t.Errorf("requests for %d appointments, want %d", n, nReplies)
	}
	var reqCIDs []string
	rows, err = pg.Query(ctx, `SELECT control_id FROM requests WHERE status = 'acked'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		rows.Scan(&c)
		reqCIDs = append(reqCIDs, c)
	}
	rows.Close()
	if len(reqCIDs) != nReplies {
		t.Errorf("%d requests acked, want %d", len(reqCIDs), nReplies)
	}
	ehrMu.Lock()
	for _, c := range reqCIDs {
		if ehrGot[c] != 1 {
			t.Errorf("EHR received request %s %d times, want 1", c, ehrGot[c])
		}
	}
	if len(ehrGot) != len(reqCIDs) {
		t.Errorf("EHR received %d distinct messages, want %d", len(ehrGot), len(reqCIDs))
	}
	ehrMu.Unlock()

	// 4. No lost update: every appointment's state equals a sequential
	// replay of its messages into a fresh SQLite store through the same
	// ingest path (clock fixed at the fleet's start). The 100 replied
	// appointments are compared without the reply's own effect (their
	// requests are checked above): the replay has no reply.
	fleetStates := map[string]apptbridge.Appointment{}
	rows, err = pg.Query(ctx, `SELECT appointment_id, state FROM appointments`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, js string
		rows.Scan(&id, &js)
		var a apptbridge.Appointment
		if err := json.Unmarshal([]byte(js), &a); err != nil {
			t.Fatal(err)
		}
		fleetStates[id] = a
	}
	rows.Close()
	replay := replayFleet(t, env, chains, t0)
	if len(fleetStates) != len(replay) {
		t.Errorf("fleet holds %d appointments, the replay %d", len(fleetStates), len(replay))
	}
	replied := map[string]bool{}
	for i := range nReplies {
		replied[fmt.Sprintf("R%05d", i)] = true
	}
	diffs := 0
	for id, want := range replay {
		got, ok := fleetStates[id]
		if !ok {
			t.Errorf("appointment %s missing in the fleet's store", id)
			continue
		}
		if replied[id] {
			continue
		}
		if d := stateDiff(got, want); d != "" {
			diffs++
			if diffs <= 5 {
				t.Errorf("appointment %s: fleet and sequential replay differ: %s", id, d)
			}
		}
	}
	if diffs > 0 {
		t.Errorf("%d appointments differ from the sequential replay", diffs)
	}
	// Replied appointments: same EHR-derived state as the replay (the
	// reply only records a request).
	for id := range replied {
		got, want := fleetStates[id], replay[id]
		if got.Disposition != want.Disposition && !(got.Disposition == apptbridge.DispReminded1) {
			t.Errorf("replied appointment %s: disposition %s, replay %s", id, got.Disposition, want.Disposition)
		}
	}

	for _, line := range sink.all() {
		if strings.Contains(line, "FLMRN") || strings.Contains(line, "Fleet") && strings.Contains(line, "Pat") {
			t.Fatalf("PHI in a log line: %s", line)
		}
	}
	t.Logf("%d messages over %d connections to %d processes (%d raced to a second process, %d resent after the ACK, %d sends failed over the kill); process 1 killed after %d ACKs and restarted",
		total, workers*procs, procs, raced.Load(), resent.Load(), sendFails.Load(), killedAt)
	t.Logf("Twilio: %d messages (%d calls); booked texts in the churn group %d; %d reminders sent, due at %s; EHR: %d requests",
		len(msgs), tw.Calls(), churnBooked, remSent, remDue.Format(time.TimeOnly), len(reqCIDs))
	t.Logf("all ACKed after %v, drained after %v, total %v", ingested.Round(time.Millisecond), drained.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// replayFleet ingests every chain sequentially into a fresh SQLite store
// through the ingest handler serve uses, with the clock fixed at now, and
// returns the appointments' states.
func replayFleet(t *testing.T, env []string, chains [][]fleetMsg, now time.Time) map[string]apptbridge.Appointment {
	t.Helper()
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	delete(vars, "DATABASE_URL")
	cfg, errs := app.Load(func(k string) string { return vars[k] })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	mapper, err := app.NewMapper(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "replay.db"), sqlite.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := ingest.New(ingest.Config{Store: db, Mapper: mapper, Now: clock, Parse: hl7.ParseOptions{DefaultCharset: cfg.HL7Charset}})
	out := map[string]apptbridge.Appointment{}
	for _, ch := range chains {
		for _, m := range ch {
			ack, err := h.ServeMLLP(context.Background(), m.raw)
			if err != nil {
				t.Fatalf("replay %s: %v", m.control, err)
			}
			if a, err := hl7.Parse(ack); err != nil || a.Get("MSA-1") != "CA" {
				t.Fatalf("replay %s: ACK %q", m.control, ack)
			}
		}
		id := ch[0].appt
		a, err := db.Appointment(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		out[id] = *a
	}
	return out
}

// stateDiff compares two appointment states on what the events decide:
// everything but ids and instants that differ by construction (event
// ids, record times, the reminder count the replay never sends).
func stateDiff(got, want apptbridge.Appointment) string {
	norm := func(a apptbridge.Appointment) map[string]any {
		a.EventID, a.CreatedAt, a.UpdatedAt = "", time.Time{}, time.Time{}
		a.RemindersSent = 0
		if a.Source != nil {
			s := *a.Source
			s.ReceivedAt = time.Time{}
			a.Source = &s
		}
		b, _ := json.Marshal(a)
		var m map[string]any
		json.Unmarshal(b, &m)
		return m
	}
	g, w := norm(got), norm(want)
	if got.Disposition == apptbridge.DispReminded1 && want.Disposition == apptbridge.DispQueued {
		// The fleet sent the reminder (REMIND applied: one version more).
		g["disposition"], g["event_type"], g["version"] = w["disposition"], w["event_type"], fmt.Sprint(got.Version-1)
		w["version"] = fmt.Sprint(want.Version)
	}
	var out []string
	for k := range g {
		if !reflect.DeepEqual(g[k], w[k]) {
			out = append(out, fmt.Sprintf("%s: fleet %v, replay %v", k, g[k], w[k]))
		}
	}
	for k := range w {
		if _, ok := g[k]; !ok {
			out = append(out, fmt.Sprintf("%s: fleet none, replay %v", k, w[k]))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}
