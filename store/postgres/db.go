// Package postgres is the shared store.Store backend: PostgreSQL through
// pgx (github.com/jackc/pgx/v5, pgxpool), for several `serve` processes on
// one database (SPEC §12).
//
// Every write is one READ COMMITTED transaction (db.write) that commits
// before the call returns; PostgreSQL's own group commit shares fsyncs
// between concurrent commits. Ingest pipelines its statements (pgx
// batches): BEGIN with the inbound insert, the appointment's row lock and
// the opt-out lookup, then the writes, then COMMIT; the pool defaults to
// DefaultMaxConns connections. Cross-process rules:
//
//   - duplicate keys are the inbound table's primary key: the insert is
//     the check (ON CONFLICT DO NOTHING), and a loser reads the winner's
//     stored ACK once the winner committed;
//   - an appointment's events are serialized by SELECT … FOR UPDATE on its
//     row, and the state is written with a version check (UPDATE … WHERE
//     version = $old); a first event racing another process's first event
//     for the same appointment loses the insert and the transaction runs
//     again (errRetry), as it does on serialization_failure (40001) and
//     deadlock_detected (40P01): a write's function may run more than once;
//   - outbox, request and reminder claims are SELECT … FOR UPDATE SKIP
//     LOCKED with leases (lease_owner, lease_until); an expired lease is
//     claimable by any process;
//   - the audit log is appended under a transaction-level advisory lock,
//     so the hash chain never forks;
//   - schema migrations run under a transaction-level advisory lock and
//     are recorded in schema_migrations (schema.go).
//
// Storage format (shared with the SQLite backend): instants are BIGINT
// unix microseconds UTC (0 for none in the outbox tables), so
// store.Precision holds exactly; state and events are JSON in TEXT
// columns (byte-exact, unlike JSONB); ids, phones and codes are TEXT
// COLLATE "C", compared and ordered byte for byte.
//
// Known limits (not covered by the contract suite):
//
//   - events.seq (and requests.seq) come from identity sequences, taken
//     at insert: with several processes, a row may commit after a row
//     with a higher seq. History and per-appointment order are right
//     (the appointment's row lock orders its events), but a reader paging
//     HistorySince by seq while another process commits can step past a
//     row that becomes visible later;
//   - PostgreSQL TEXT cannot hold NUL bytes: a string field containing
//     U+0000 (not produced by the HL7 decoder or Twilio) fails the write
//     with EINTERNAL, where SQLite would store it;
//   - there is no ReleaseLeases (the SQLite backend's start-up release):
//     other live processes may hold leases, so leases run out instead.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// DefaultMaxRetries is how many times a write transaction runs again after
// a serialization failure, a deadlock or a lost race for a new row.
const DefaultMaxRetries = 20

// DefaultMaxConns is the pool size when neither Options.MaxConns nor the
// URL's pool_max_conns sets one. pgxpool's own default, max(4, NumCPU),
// caps the transactions in flight below the MLLP connections a server
// usually has (one message in flight each), and COMMITs then share few
// WAL flushes: 16 connections doubled Ingest from 16 goroutines on 2 CPUs
// (BenchmarkIngest16). Mind PostgreSQL's max_connections (100 by
// default, some reserved): N processes hold up to N×16 connections (3 ×
// 16 = 48), so set pool_max_conns lower for larger fleets.
const DefaultMaxConns = 16

// Options configure a DB. The zero value is usable.
type Options struct {
	// Now is the clock used for ApplyContext.Now, RecordedAt and a zero
	// Inbound.ReceivedAt; default time.Now.
	Now func() time.Time
	// Planner, when set, plans an appointment's reminders whenever an
	// applied event changes its time, phone or disposition (in the
	// event's transaction); nil writes no reminder plans.
	Planner store.Planner
	// OnCommit, when set, is called after every successful COMMIT with 1
	// (PostgreSQL commits each request on its own) and the time from
	// BEGIN to the end of COMMIT. It must not block.
	OnCommit func(batchSize int, d time.Duration)
	// MaxConns caps the connection pool; 0 takes the URL's
	// pool_max_conns, else DefaultMaxConns.
	MaxConns int32
	// MaxRetries caps the re-runs of a write transaction; default
	// DefaultMaxRetries.
	MaxRetries int
	// Archive, when set, writes an archive job (store.Archive) in the
	// transaction of every history entry, for the S3 archive worker.
	Archive bool
}

// DB is the PostgreSQL store. It is safe for concurrent use, and several
// DBs (processes) may share one database.
type DB struct {
	now      func() time.Time
	planner  store.Planner
	onCommit func(int, time.Duration)
	retries  int
	archive  bool
	pool     *pgxpool.Pool
	closed   atomic.Bool
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at url (a libpq URL or DSN; pgxpool
// settings such as pool_max_conns are honored), applies pending schema
// migrations and returns the store.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxRetries <= 0 {
		opts.MaxRetries = DefaultMaxRetries
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("postgres: open: invalid database URL")
	}
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	case !strings.Contains(url, "pool_max_conns"):
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := migrate(ctx, pool, opts.Now); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return &DB{
		now:      func() time.Time { return store.Instant(opts.Now()) },
		planner:  opts.Planner,
		onCommit: opts.OnCommit,
		retries:  opts.MaxRetries,
		archive:  opts.Archive,
		pool:     pool,
	}, nil
}

// Ping checks that the store is open and its database answers.
func (db *DB) Ping(ctx context.Context) error {
	if db.closed.Load() {
		return fmt.Errorf("postgres: ping: %w", store.ErrClosed)
	}
	var n int
	if err := db.pool.QueryRow(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close stops accepting calls, waits for those in flight and closes the
// pool. A second Close returns nil.
func (db *DB) Close() error {
	if db.closed.Swap(true) {
		return nil
	}
	db.pool.Close()
	return nil
}

// errRetry marks a transaction that lost a race (another process wrote
// the row it read or meant to create): it runs again from the start.
var errRetry = errors.New("concurrent update; retry")

// retryable reports whether err is worth running the transaction again.
func retryable(err error) bool {
	if errors.Is(err, errRetry) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return true
		}
	}
	return false
}

// write runs fn in one READ COMMITTED transaction and commits it. A
// context error before the transaction began returns it and nothing is
// stored; once begun, the transaction runs to its commit whatever ctx
// does (as the SQLite writer's "taken" requests do), so a nil error always
// means committed. fn runs again on a serialization failure, a deadlock or
// errRetry: it must start from scratch each time.
func (db *DB) write(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) error {
	return db.writeBatch(ctx, nil, fn)
}

// writeBatch is write whose transaction starts with the statements first
// queues (with their result callbacks), sent with the BEGIN in one round
// trip; fn runs after their callbacks. first, when not nil, runs again
// on every attempt, as fn does.
func (db *DB) writeBatch(ctx context.Context, first func(b *pgx.Batch), fn func(ctx context.Context, tx pgx.Tx) error) error {
	if db.closed.Load() {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err := db.writeOnce(ctx, first, fn)
		if err == nil || !retryable(err) || attempt >= db.retries {
			return err
		}
		// Back off a little, with jitter, so racing processes part.
		d := time.Duration(1+rand.IntN(1<<min(attempt, 6))) * time.Millisecond
		time.Sleep(d)
	}
}

func (db *DB) writeOnce(ctx context.Context, first func(b *pgx.Batch), fn func(ctx context.Context, tx pgx.Tx) error) error {
	start := time.Now()
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// Release destroys a connection left inside a transaction (an error
	// before the COMMIT or ROLLBACK got through).
	defer c.Release()
	wctx := context.WithoutCancel(ctx)
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if first != nil {
		first(b)
	}
	br := c.SendBatch(wctx, b)
	tx := br.Tx()
	if err := br.Close(); err != nil {
		tx.Rollback(wctx)
		return err
	}
	if err := fn(wctx, tx); err != nil {
		tx.Rollback(wctx)
		return err
	}
	if err := tx.Commit(wctx); err != nil {
		return err
	}
	if db.onCommit != nil {
		db.onCommit(1, time.Since(start))
	}
	return nil
}

// opErr wraps err for op: "postgres: op: err".
func opErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

func notFound(what string) error {
	return &apptbridge.Error{Code: apptbridge.ENOTFOUND, Message: what + " not found", Err: store.ErrNotFound}
}

func invalid(msg string) error {
	return &apptbridge.Error{Code: apptbridge.EINVALID, Message: msg}
}

// micros encodes an instant as unix microseconds (UTC).
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros decodes a unix-microsecond column into a UTC time.
func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// nullMicros encodes an optional instant as NULL for the zero time.
func nullMicros(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	v := micros(t)
	return &v
}
