package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

func TestGroupCommitBatches(t *testing.T) {
	var maxBatch, commits, total atomic.Int64
	db := openTest(t, Options{
		BeforeCommit: func() error { time.Sleep(5 * time.Millisecond); return nil },
		OnCommit: func(n int, d time.Duration) {
			commits.Add(1)
			total.Add(int64(n))
			for {
				m := maxBatch.Load()
				if int64(n) <= m || maxBatch.CompareAndSwap(m, int64(n)) {
					break
				}
			}
		},
	})
	const goroutines, each = 32, 5
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range each {
				if _, err := db.Ingest(t.Context(), testInbound(fmt.Sprintf("G-%02d", g), apptbridge.Booked)); err != nil {
					t.Errorf("Ingest: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if total.Load() != goroutines*each {
		t.Errorf("OnCommit saw %d requests, want %d", total.Load(), goroutines*each)
	}
	if maxBatch.Load() <= 1 {
		t.Errorf("largest batch = %d, want > 1", maxBatch.Load())
	}
	t.Logf("%d requests in %d commits, largest batch %d", total.Load(), commits.Load(), maxBatch.Load())
}

func TestBeforeCommitFailure(t *testing.T) {
	errBoom := errors.New("boom")
	var failing atomic.Bool
	failing.Store(true)
	var commits atomic.Int64
	db := openTest(t, Options{
		BeforeCommit: func() error {
			if failing.Load() {
				time.Sleep(2 * time.Millisecond) // let batches form
				return errBoom
			}
			return nil
		},
		OnCommit: func(int, time.Duration) { commits.Add(1) },
	})
	const n = 20
	ins := make([]*store.Inbound, n)
	var wg sync.WaitGroup
	for i := range n {
		ins[i] = testInbound(fmt.Sprintf("F-%02d", i), apptbridge.Booked)
		wg.Go(func() {
			_, err := db.Ingest(t.Context(), ins[i])
			if !errors.Is(err, errBoom) {
				t.Errorf("Ingest %d: %v, want the BeforeCommit error", i, err)
			}
			if code := apptbridge.ErrorCode(err); code != apptbridge.EINTERNAL {
				t.Errorf("Ingest %d: code %q, want internal", i, code)
			}
		})
	}
	wg.Wait()
	if commits.Load() != 0 {
		t.Errorf("%d commits, want 0", commits.Load())
	}
	if n, err := db.CountInbound(t.Context()); err != nil || n != 0 {
		t.Errorf("CountInbound = %d, %v; want 0", n, err)
	}
	if all, err := db.Appointments(t.Context(), store.Filter{}); err != nil || len(all) != 0 {
		t.Errorf("Appointments = %d, %v; want none", len(all), err)
	}
	if h, err := db.History(t.Context(), "F-00"); err != nil || len(h) != 0 {
		t.Errorf("History = %d, %v; want none", len(h), err)
	}

	// After the fault clears, the resends are stored once.
	failing.Store(false)
	for i, in := range ins {
		res, err := db.Ingest(t.Context(), in)
		if err != nil || res.Duplicate || !res.Outcome.Applied {
			t.Errorf("resend %d: %+v, %v", i, res, err)
		}
	}
	if n, err := db.CountInbound(t.Context()); err != nil || n != 20 {
		t.Errorf("CountInbound = %d, %v; want 20", n, err)
	}
}

// blocker makes the writer's next batch wait in BeforeCommit (once armed)
// until release is closed; started is closed when it waits.
type blocker struct {
	armed   atomic.Bool
	started chan struct{}
	release chan struct{}
}

func newBlocker() *blocker {
	return &blocker{started: make(chan struct{}), release: make(chan struct{})}
}

func (b *blocker) hook() error {
	if b.armed.CompareAndSwap(true, false) {
		close(b.started)
		<-b.release
	}
	return nil
}

// waitQueued waits until n requests wait in the writer's queue.
func waitQueued(t *testing.T, db *DB, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(db.w.queue) < n {
		if time.Now().After(deadline) {
			t.Fatalf("queue length %d, want %d", len(db.w.queue), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCancelBeforePickup(t *testing.T) {
	b := newBlocker()
	db := openTest(t, Options{BeforeCommit: b.hook})
	b.armed.Store(true)

	first := make(chan error, 1)
	go func() {
		_, err := db.Ingest(context.Background(), testInbound("X-1", apptbridge.Booked))
		first <- err
	}()
	<-b.started // the writer holds the first request's batch open

	ctx, cancel := context.WithCancel(context.Background())
	in := testInbound("X-2", apptbridge.Booked)
	second := make(chan error, 1)
	go func() {
		_, err := db.Ingest(ctx, in)
		second <- err
	}()
	waitQueued(t, db, 1)
	cancel()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Ingest: %v, want context.Canceled", err)
	}
	close(b.release)
	if err := <-first; err != nil {
		t.Fatalf("first Ingest: %v", err)
	}
	// A later request makes sure the abandoned one had its chance to run.
	if _, err := db.Ingest(t.Context(), testInbound("X-3", apptbridge.Booked)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Inbound(t.Context(), in.Key); apptbridge.ErrorCode(err) != apptbridge.ENOTFOUND {
		t.Errorf("abandoned message: Inbound error %v, want ENOTFOUND", err)
	}
	if _, err := db.Appointment(t.Context(), "X-2"); apptbridge.ErrorCode(err) != apptbridge.ENOTFOUND {
		t.Errorf("abandoned message applied: %v", err)
	}
	if n, _ := db.CountInbound(t.Context()); n != 2 {
		t.Errorf("CountInbound = %d, want 2", n)
	}
}

func TestCancelAfterPickup(t *testing.T) {
	b := newBlocker()
	db := openTest(t, Options{BeforeCommit: b.hook})
	b.armed.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	in := testInbound("Y-1", apptbridge.Booked)
	done := make(chan error, 1)
	go func() {
		res, err := db.Ingest(ctx, in)
		if err == nil && !res.Outcome.Applied {
			err = errors.New("not applied")
		}
		done <- err
	}()
	<-b.started
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Ingest returned %v before its commit finished", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(b.release)
	if err := <-done; err != nil {
		t.Fatalf("Ingest taken before cancel: %v, want its committed result", err)
	}
	if _, err := db.Appointment(t.Context(), "Y-1"); err != nil {
		t.Errorf("Appointment: %v", err)
	}
}

// TestBatchSemantics queues several requests behind a blocked batch so
// they share the next transaction.
func TestBatchSemantics(t *testing.T) {
	b := newBlocker()
	var batches []int
	var mu sync.Mutex
	db := openTest(t, Options{
		BeforeCommit: b.hook,
		OnCommit: func(n int, _ time.Duration) {
			mu.Lock()
			batches = append(batches, n)
			mu.Unlock()
		},
	})
	b.armed.Store(true)
	go db.Ingest(context.Background(), testInbound("Z-0", apptbridge.Booked))
	<-b.started

	book := testInbound("Z-1", apptbridge.Booked)
	cancelMsg := testInbound("Z-1", apptbridge.Canceled)
	bad := errors.New("bad request")
	type result struct {
		res store.IngestResult
		err error
	}
	var results [4]chan result
	for i := range results {
		results[i] = make(chan result, 1)
	}
	enqueue := func(i int, f func() (store.IngestResult, error)) {
		go func() {
			r, err := f()
			results[i] <- result{r, err}
		}()
		waitQueued(t, db, i+1)
	}
	enqueue(0, func() (store.IngestResult, error) { return db.Ingest(context.Background(), book) })
	enqueue(1, func() (store.IngestResult, error) { return db.Ingest(context.Background(), book) }) // duplicate in the same batch
	enqueue(2, func() (store.IngestResult, error) {
		// A request that writes, then fails: only its own writes roll back.
		return store.IngestResult{}, db.w.do(context.Background(), func(ctx context.Context, tx wtx) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO opt_outs (phone, opted_out_at) VALUES ('+15555550100', 0)"); err != nil {
				return err
			}
			return bad
		})
	})
	enqueue(3, func() (store.IngestResult, error) { return db.Ingest(context.Background(), cancelMsg) })
	close(b.release)

	r0, r1, r2, r3 := <-results[0], <-results[1], <-results[2], <-results[3]
	if r0.err != nil || r0.res.Duplicate || r0.res.Outcome.To != apptbridge.DispQueued {
		t.Errorf("booking: %+v %v", r0.res, r0.err)
	}
	if r1.err != nil || !r1.res.Duplicate || string(r1.res.Ack) != string(book.Ack) {
		t.Errorf("same message twice in a batch: %+v %v, want duplicate", r1.res, r1.err)
	}
	if !errors.Is(r2.err, bad) {
		t.Errorf("failing request: %v, want its own error", r2.err)
	}
	// The cancel saw the booking from the same transaction, and no opt-out.
	if r3.err != nil || r3.res.Outcome.From != apptbridge.DispQueued || r3.res.Outcome.To != apptbridge.DispCanceled ||
		r3.res.Outcome.Text != apptbridge.TextCanceled {
		t.Errorf("cancel after booking in one batch: %+v %v", r3.res.Outcome, r3.err)
	}
	mu.Lock()
	got := append([]int(nil), batches...)
	mu.Unlock()
	if len(got) != 2 || got[0] != 1 || got[1] != 4 {
		t.Errorf("batches = %v, want [1 4]", got)
	}
	var n int
	if err := db.rdb.QueryRow("SELECT COUNT(*) FROM opt_outs").Scan(&n); err != nil || n != 0 {
		t.Errorf("opt_outs rows = %d (%v), want 0: a failed request's writes survived", n, err)
	}
	if h, _ := db.History(t.Context(), "Z-1"); len(h) != 2 {
		t.Errorf("history has %d entries, want 2", len(h))
	}
}

func TestCloseDrainsQueue(t *testing.T) {
	b := newBlocker()
	db := openTest(t, Options{BeforeCommit: b.hook})
	b.armed.Store(true)
	errs := make(chan error, 5)
	go func() {
		_, err := db.Ingest(context.Background(), testInbound("D-0", apptbridge.Booked))
		errs <- err
	}()
	<-b.started
	for i := 1; i < 5; i++ {
		go func() {
			_, err := db.Ingest(context.Background(), testInbound(fmt.Sprintf("D-%d", i), apptbridge.Booked))
			errs <- err
		}()
	}
	waitQueued(t, db, 4)
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	time.Sleep(10 * time.Millisecond)
	close(b.release)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range 5 {
		if err := <-errs; err != nil {
			t.Errorf("queued Ingest during Close: %v, want committed", err)
		}
	}
}

func TestPanicInRequest(t *testing.T) {
	db := openTest(t, Options{})
	err := db.w.do(t.Context(), func(ctx context.Context, tx wtx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO opt_outs (phone, opted_out_at) VALUES ('+15555550100', 0)"); err != nil {
			return err
		}
		panic("bug")
	})
	if err == nil {
		t.Fatal("panicking request returned nil")
	}
	if _, err := db.Ingest(t.Context(), testInbound("P-1", apptbridge.Booked)); err != nil {
		t.Fatalf("Ingest after a panicking request: %v", err)
	}
	var n int
	if err := db.rdb.QueryRow("SELECT COUNT(*) FROM opt_outs").Scan(&n); err != nil || n != 0 {
		t.Errorf("opt_outs rows = %d (%v), want 0", n, err)
	}
}

// TestPositional: the writer's statements bind their parameters by
// position (see positional).
func TestPositional(t *testing.T) {
	qs := []string{sqlInsertInbound, sqlLookupKey, sqlLoadAppointment, sqlOptedOut, sqlInsertEvent, sqlInsertAppointment}
	qs = append(qs, updateSQL[:]...)
	for _, q := range qs {
		p := positional(q)
		if strings.Contains(p, "$") || !strings.Contains(p, "?") {
			t.Errorf("positional(%q) = %q", q, p)
		}
	}
	for _, q := range []string{"SELECT $2, $1", "SELECT $1, $1", "SELECT $1, $3"} {
		if got := positional(q); got != q {
			t.Errorf("positional(%q) = %q, want it unchanged", q, got)
		}
	}
	if got := positional("SELECT $1, $2 WHERE $3"); got != "SELECT ?, ? WHERE ?" {
		t.Errorf("positional = %q", got)
	}
}
