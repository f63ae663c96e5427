package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apptbridge/apptbridge/store"
)

// Request states: the writer takes a pending request, or the caller
// abandons it (its ctx ended first). Exactly one of the two wins.
const (
	pending int32 = iota
	taken
	abandoned
)

// txFunc is one request's work inside the batch transaction, run on the
// writer goroutine. A non-nil error rolls back its own writes only.
//
// A txFunc may run more than once (see writer.commit): it must start from
// scratch every time and only its last run counts.
type txFunc func(ctx context.Context, tx wtx) error

type request struct {
	fn    txFunc
	state atomic.Int32
	done  chan error // buffered: the writer never blocks on a reply
}

// writer owns the write connection and commits queued requests in batches.
type writer struct {
	db        *sql.DB
	opts      Options
	committed func() // after every commit

	mu      sync.RWMutex // read-held while enqueueing; write-held by close
	closed  bool
	queue   chan *request
	stopped chan struct{}

	// Owned by the writer goroutine.
	batch []*request // reused
	errs  []error    // reused
	tx    batch
}

// batch is the state of the open transaction.
type batch struct {
	c     *wconn
	cache *cache
	ev    jsonEnc // the event being stored
	state jsonEnc // the appointment state being stored
	snap  jsonEnc // the appointment state in an outbox row

	planner store.Planner // reminder plans; nil for none
	archive bool          // write archive jobs (Options.Archive)
}

func newWriter(db *sql.DB, opts Options, committed func()) *writer {
	w := &writer{
		db:        db,
		opts:      opts,
		committed: committed,
		queue:     make(chan *request, opts.MaxBatch),
		stopped:   make(chan struct{}),
		batch:     make([]*request, 0, opts.MaxBatch),
		tx:        batch{cache: newCache(!opts.noCache), planner: opts.Planner, archive: opts.Archive},
	}
	go w.loop()
	return w
}

// do runs fn in the next batch and returns its error, or the batch's error
// when the batch failed to commit. If ctx ends before the writer took the
// request, do returns ctx.Err() and fn never runs; once taken, do waits
// for the commit regardless of ctx, so a nil error always means durable.
func (w *writer) do(ctx context.Context, fn txFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{fn: fn, done: make(chan error, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return store.ErrClosed
	}
	select {
	case w.queue <- r:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(pending, abandoned) {
			return ctx.Err()
		}
		return <-r.done
	}
}

// close stops accepting requests, lets the writer commit what is queued
// and waits for it to stop.
func (w *writer) close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	<-w.stopped
}

func (w *writer) loop() {
	defer close(w.stopped)
	defer w.closeStmts()
	for r := range w.queue {
		batch := w.batch[:0]
		if r.state.CompareAndSwap(pending, taken) {
			batch = append(batch, r)
		}
	drain:
		for len(batch) < w.opts.MaxBatch {
			select {
			case r, ok := <-w.queue:
				if !ok {
					break drain
				}
				if r.state.CompareAndSwap(pending, taken) {
					batch = append(batch, r)
				}
			default:
				break drain
			}
		}
		if len(batch) > 0 {
			w.commit(batch)
		}
		clear(batch)
	}
}

// commit runs batch in one transaction and replies to every request.
//
// Requests rarely fail, so the batch first runs without savepoints (each
// costs statements, and a copy of every page a request changes): if every
// request succeeds, that transaction commits. If one fails, the whole
// transaction rolls back and the batch runs again, each request inside its
// own SAVEPOINT so that a failing one rolls back alone. The outcome is the
// same as with savepoints only; the requests before the failing one just
// ran twice.
func (w *writer) commit(batch []*request) {
	ctx := context.Background() // callers' contexts must not abort the batch
	start := time.Now()
	errs := w.errs[:0]
	for range batch {
		errs = append(errs, nil)
	}
	w.errs = errs
	var fatal error
	conn, err := w.db.Conn(ctx)
	if err == nil {
		err = conn.Raw(func(dc any) error {
			fatal = w.commitOn(ctx, dc.(driver.Conn), batch, errs)
			return nil
		})
		conn.Close()
	}
	if err != nil {
		fatal = fmt.Errorf("sqlite: write connection: %w", err)
	}
	if fatal != nil {
		for _, r := range batch {
			r.done <- fatal
		}
		return
	}
	w.committed()
	if w.opts.OnCommit != nil {
		w.opts.OnCommit(len(batch), time.Since(start))
	}
	for i, r := range batch {
		r.done <- errs[i]
	}
	clear(errs)
}

// commitOn runs and commits batch on the driver connection, setting each
// request's error in errs. It returns an error when the batch failed as a
// whole; the connection is then back out of any transaction.
func (w *writer) commitOn(ctx context.Context, dc driver.Conn, batch []*request, errs []error) error {
	b := &w.tx
	if b.c == nil || b.c.dc != dc {
		// First batch, or database/sql replaced the connection: its
		// statements went with it.
		b.c = newWconn(dc)
		b.cache.clear()
	}
	if err := w.begin(ctx); err != nil {
		return err
	}
	failed := false
	for _, r := range batch {
		if err := safeRun(ctx, wtx{b}, r.fn); err != nil {
			failed = true
			break
		}
		b.cache.requestDone()
	}
	if failed {
		if err := w.rollback(ctx); err != nil {
			return err
		}
		if err := w.begin(ctx); err != nil {
			return err
		}
		for i, r := range batch {
			if err := w.runOne(ctx, r, &errs[i]); err != nil {
				w.rollback(ctx)
				return err
			}
		}
	}
	if w.opts.BeforeCommit != nil {
		if err := w.opts.BeforeCommit(); err != nil {
			w.rollback(ctx)
			return fmt.Errorf("sqlite: commit: %w", err)
		}
	}
	if err := b.c.execSQL(ctx, sqlCommit); err != nil {
		// A COMMIT that failed may leave the transaction open (busy).
		b.c.execSQL(ctx, sqlRollback)
		b.cache.commitFailed()
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	b.cache.committedBatch()
	return nil
}

// begin opens the batch transaction.
func (w *writer) begin(ctx context.Context) error {
	b := &w.tx
	if err := b.c.execSQL(ctx, sqlBegin); err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	s, err := b.c.prepare(ctx, sqlDataVersion)
	var row []driver.Value
	if err == nil {
		s.bind(0)
		row, err = s.queryRow(ctx)
	}
	v, ok := int64(0), false
	if err == nil && len(row) == 1 {
		v, ok = row[0].(int64)
	}
	if !ok {
		if err == nil {
			err = errors.New("no value")
		}
		b.c.execSQL(ctx, sqlRollback)
		return fmt.Errorf("sqlite: begin: data_version: %w", err)
	}
	b.cache.begin(v)
	return nil
}

// rollback rolls the batch transaction back.
func (w *writer) rollback(ctx context.Context) error {
	b := &w.tx
	b.cache.rolledBack()
	if err := b.c.execSQL(ctx, sqlRollback); err != nil {
		// SQLite may have rolled back by itself (after an I/O error,
		// say): then no transaction is active and that is fine.
		if err2 := b.c.execSQL(ctx, sqlBeginDeferred); err2 != nil {
			return fmt.Errorf("sqlite: rollback: %w", err)
		}
		b.c.execSQL(ctx, sqlRollback)
	}
	return nil
}

// runOne runs one request inside a savepoint, storing the request's own
// error in *reqErr. It returns an error only when the transaction itself
// is no longer usable (the whole batch must fail).
func (w *writer) runOne(ctx context.Context, r *request, reqErr *error) error {
	b := &w.tx
	if err := b.c.execSQL(ctx, sqlSavepoint); err != nil {
		return fmt.Errorf("sqlite: savepoint: %w", err)
	}
	if err := safeRun(ctx, wtx{b}, r.fn); err != nil {
		*reqErr = err
		b.cache.requestFailed()
		if rerr := b.c.execSQL(ctx, sqlRollbackTo); rerr != nil {
			return fmt.Errorf("sqlite: rollback to savepoint: %w (after %w)", rerr, err)
		}
	} else {
		b.cache.requestDone()
	}
	if err := b.c.execSQL(ctx, sqlRelease); err != nil {
		return fmt.Errorf("sqlite: release savepoint: %w", err)
	}
	return nil
}

// closeStmts finalizes the writer's statements (before the pool closes
// the connection).
func (w *writer) closeStmts() {
	if w.tx.c == nil {
		return
	}
	conn, err := w.db.Conn(context.Background())
	if err != nil {
		return
	}
	defer conn.Close()
	conn.Raw(func(dc any) error {
		if w.tx.c.dc == dc {
			w.tx.c.close()
		}
		return nil
	})
}

// safeRun turns a panic in fn into that request's error so one bad request
// cannot stop the writer (and hang every caller).
func safeRun(ctx context.Context, tx wtx, fn txFunc) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sqlite: panic in write: %v", p)
		}
	}()
	return fn(ctx, tx)
}
