package sqlite

import (
	"context"
	"database/sql"
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

// txFunc is one request's work inside the batch transaction. It runs on
// the writer goroutine, inside a SAVEPOINT: a non-nil error rolls back its
// own writes only.
type txFunc func(ctx context.Context, tx wtx) error

type request struct {
	fn    txFunc
	state atomic.Int32
	done  chan error // buffered: the writer never blocks on a reply
}

// writer owns the write connection and commits queued requests in batches.
type writer struct {
	db       *sql.DB
	prepared map[string]*sql.Stmt // see wtx
	opts     Options

	mu      sync.RWMutex // read-held while enqueueing; write-held by close
	closed  bool
	queue   chan *request
	stopped chan struct{}
	batch   []*request // reused by the writer goroutine
}

func newWriter(db *sql.DB, prepared map[string]*sql.Stmt, opts Options) *writer {
	w := &writer{
		db:       db,
		prepared: prepared,
		opts:     opts,
		queue:    make(chan *request, opts.MaxBatch),
		stopped:  make(chan struct{}),
		batch:    make([]*request, 0, opts.MaxBatch),
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
func (w *writer) commit(batch []*request) {
	ctx := context.Background() // callers' contexts must not abort the batch
	start := time.Now()
	errs := make([]error, len(batch))
	fail := func(err error) {
		for _, r := range batch {
			r.done <- err
		}
	}

	sqlTx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("sqlite: begin: %w", err))
		return
	}
	tx := wtx{tx: sqlTx, prepared: w.prepared}
	for i, r := range batch {
		if err := w.runOne(ctx, tx, r, &errs[i]); err != nil {
			sqlTx.Rollback()
			fail(err)
			return
		}
	}
	if w.opts.BeforeCommit != nil {
		if err := w.opts.BeforeCommit(); err != nil {
			sqlTx.Rollback()
			fail(fmt.Errorf("sqlite: commit: %w", err))
			return
		}
	}
	if err := sqlTx.Commit(); err != nil {
		fail(fmt.Errorf("sqlite: commit: %w", err))
		return
	}
	if w.opts.OnCommit != nil {
		w.opts.OnCommit(len(batch), time.Since(start))
	}
	for i, r := range batch {
		r.done <- errs[i]
	}
}

// runOne runs one request inside a savepoint, storing the request's own
// error in *reqErr. It returns an error only when the transaction itself
// is no longer usable (the whole batch must fail).
func (w *writer) runOne(ctx context.Context, tx wtx, r *request, reqErr *error) error {
	if _, err := tx.ExecContext(ctx, sqlSavepoint); err != nil {
		return fmt.Errorf("sqlite: savepoint: %w", err)
	}
	if err := safeRun(ctx, tx, r.fn); err != nil {
		*reqErr = err
		if _, rerr := tx.ExecContext(ctx, sqlRollbackTo); rerr != nil {
			return fmt.Errorf("sqlite: rollback to savepoint: %w (after %w)", rerr, err)
		}
	}
	if _, err := tx.ExecContext(ctx, sqlRelease); err != nil {
		return fmt.Errorf("sqlite: release savepoint: %w", err)
	}
	return nil
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
