// Package sqlite is the embedded store.Store backend: one SQLite file
// (modernc.org/sqlite, no cgo) in WAL mode with synchronous=FULL, so a
// commit is fsync'd before any call that changed state returns.
//
// All writes go through one writer goroutine that owns the only write
// connection and commits concurrent requests together (group commit): it
// takes the first queued request, drains what else is queued (up to
// Options.MaxBatch, never waiting for more), runs them in one BEGIN
// IMMEDIATE transaction and commits once: one fsync for the batch. Each
// request succeeds or fails alone: the batch runs without savepoints, and
// should a request fail it runs again with one SAVEPOINT per request (see
// writer.commit). Reads use a separate pool of read-only connections (WAL
// readers never block the writer).
//
// The writer's CPU time per message bounds the throughput, so its hot path
// avoids what it can: statements are prepared once and run on the driver
// connection directly (stmts.go), duplicate checks are the inserts
// themselves, the JSON of events and states is encoded and decoded by
// hand (jsonenc.go, jsondec.go), and the states the writer wrote and the
// opt-out answers it read are cached (cache.go).
//
// Storage format: instants are INTEGER unix microseconds, UTC (see
// store.Precision); an appointment's state and an event are JSON text;
// hashes, ACKs and raw messages are BLOBs. Schema changes are versioned
// migrations recorded in table schema_migrations (schema.go). The SQL in
// ingest.go, stmts.go and queries.go uses $N placeholders and only syntax
// that PostgreSQL shares, so a pgx backend can reuse it.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apptbridge/apptbridge/store"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Defaults for zero Options fields.
const (
	DefaultMaxBatch    = 128
	DefaultBusyTimeout = 5 * time.Second
)

// Options configure a DB. The zero value is usable.
type Options struct {
	// Now is the clock used for ApplyContext.Now, RecordedAt and a zero
	// Inbound.ReceivedAt; default time.Now.
	Now func() time.Time
	// MaxBatch caps the requests committed in one transaction; default 128.
	MaxBatch int
	// MaxReadConns caps the read pool; default max(4, GOMAXPROCS).
	MaxReadConns int
	// BusyTimeout is how long a statement waits for a lock held by another
	// process on the same file; default 5 s.
	BusyTimeout time.Duration

	// OnCommit, when set, is called by the writer after every successful
	// COMMIT with the number of requests in the batch and the time from
	// BEGIN to the end of COMMIT (for metrics). It must not block.
	OnCommit func(batchSize int, d time.Duration)
	// Planner, when set, plans an appointment's reminders whenever an
	// applied event changes its time, phone or disposition (in the event's
	// transaction); nil writes no reminder plans.
	Planner store.Planner
	// Archive, when set, writes an archive job (store.Archive) in the
	// transaction of every history entry, for the S3 archive worker. Off,
	// no job is written (no S3_BUCKET: nothing would ever take them).
	Archive bool

	// BeforeCommit is a test hook called right before COMMIT; a non-nil
	// error aborts the batch (rollback) and every request of the batch
	// gets an error wrapping it.
	BeforeCommit func() error

	// noCache turns the writer's cache off (benchmarks of the cold path).
	noCache bool
}

// DB is the SQLite store. It is safe for concurrent use.
type DB struct {
	now     func() time.Time
	planner store.Planner
	wdb     *sql.DB // exactly one connection, used only by the writer
	rdb     *sql.DB // read-only pool
	ckpt    *checkpointer
	w       *writer
	closed  atomic.Bool
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the SQLite database at path, applies
// pending schema migrations and starts the writer.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, errors.New("sqlite: open: path must be non-empty and contain no '?' or '#'")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.MaxReadConns <= 0 {
		opts.MaxReadConns = max(4, runtime.GOMAXPROCS(0))
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	// The file holds PHI: create it owner-only (SQLite gives its -wal and
	// -shm files the same mode).
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	f.Close()

	wdb, err := sql.Open("sqlite", dsn(path, opts, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	if err := checkWriteConn(ctx, wdb); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	if err := migrate(ctx, wdb, opts.Now); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}

	rdb, err := sql.Open("sqlite", dsn(path, opts, true))
	if err == nil {
		rdb.SetMaxOpenConns(opts.MaxReadConns)
		rdb.SetMaxIdleConns(opts.MaxReadConns)
		if err = rdb.PingContext(ctx); err != nil {
			rdb.Close()
		}
	}
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	cdb, err := sql.Open("sqlite", dsn(path, opts, false))
	if err == nil {
		cdb.SetMaxOpenConns(1)
		cdb.SetMaxIdleConns(1)
		cdb.SetConnMaxLifetime(0)
		cdb.SetConnMaxIdleTime(0)
		if err = cdb.PingContext(ctx); err != nil {
			cdb.Close()
		}
	}
	if err != nil {
		rdb.Close()
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}

	db := &DB{
		planner: opts.Planner,
		now:     func() time.Time { return store.Instant(opts.Now()) },
		wdb:     wdb,
		rdb:     rdb,
		ckpt:    newCheckpointer(cdb),
	}
	db.w = newWriter(wdb, opts, db.ckpt.committed)
	return db, nil
}

// dsn returns the modernc.org/sqlite data source name for path. Every
// connection gets busy_timeout, foreign_keys and synchronous=FULL; the
// write connection also WAL mode (persistent in the file), in-memory
// temporary storage and BEGIN IMMEDIATE transactions; read connections are
// query_only.
func dsn(path string, opts Options, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		// Checkpoints run in the background (checkpoint.go).
		q.Add("_pragma", "wal_autocheckpoint("+strconv.Itoa(writerAutoCheckpoint)+")")
		// Savepoint sub-journals stay in memory instead of spilling to
		// temporary files (bounded by MaxBatch requests).
		q.Add("_pragma", "temp_store(MEMORY)")
		q.Set("_txlock", "immediate")
	}
	return path + "?" + q.Encode()
}

// checkWriteConn verifies the durability settings took effect: a file
// system without WAL support silently keeps another journal mode.
func checkWriteConn(ctx context.Context, wdb *sql.DB) error {
	var mode string
	if err := wdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	var sync int
	if err := wdb.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return err
	}
	if sync != 2 {
		return fmt.Errorf("synchronous is %d, want 2 (FULL)", sync)
	}
	return nil
}

// Ping checks that the store is open and its database can be read.
func (db *DB) Ping(ctx context.Context) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: ping: %w", store.ErrClosed)
	}
	var n int
	if err := db.rdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close stops accepting requests, commits those already queued, stops the
// writer and closes the database. A second Close returns nil.
func (db *DB) Close() error {
	if db.closed.Swap(true) {
		return nil
	}
	cerr := db.ckpt.close()
	db.w.close()
	return errors.Join(
		wrapErr("close", cerr),
		wrapErr("close", db.wdb.Close()),
		wrapErr("close", db.rdb.Close()),
	)
}

func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}
