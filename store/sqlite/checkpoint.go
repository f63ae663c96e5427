package sqlite

import (
	"context"
	"database/sql"
	"sync/atomic"
	"time"
)

// Checkpoints. A commit appends the pages it changed to the -wal file; a
// checkpoint copies them into the database file and fsyncs it, so that the
// WAL can start over. SQLite checkpoints in the committing connection once
// the WAL holds 1000 pages: the writer then stalls while it reads, writes
// and fsyncs them, which with many appointments (pages spread over the
// file) took a fifth of its time.
//
// So a background goroutine checkpoints on a connection of its own, in
// PASSIVE mode (it never waits for, nor blocks, the writer or readers), at
// most every checkpointEvery while the writer commits. The writer keeps an
// automatic checkpoint, at writerAutoCheckpoint pages: it bounds the WAL,
// and since it finds most pages copied it has little to do. (Only a
// checkpoint that copied every page lets the next transaction start the
// WAL over, which the writer's own, between its commits, always does.)
//
// Checkpoints do not weaken durability: a commit is durable once the WAL
// is fsync'd; the checkpointing connection has synchronous=FULL too, so
// the database file is fsync'd before the WAL is reused.
const (
	writerAutoCheckpoint = 8000 // pages, about 32 MiB of WAL
	checkpointEvery      = 100 * time.Millisecond
	checkpointCommits    = 32              // commits since the last pass, or
	checkpointIdle       = 2 * time.Second // this long and at least one commit
)

type checkpointer struct {
	db      *sql.DB // one connection
	commits atomic.Int64
	stop    chan struct{}
	done    chan struct{}
}

func newCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

// committed is called by the writer after each commit.
func (c *checkpointer) committed() { c.commits.Add(1) }

func (c *checkpointer) loop() {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var seen int64
	last := time.Now()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		n := c.commits.Load()
		if n == seen || (n-seen < checkpointCommits && time.Since(last) < checkpointIdle) {
			continue
		}
		seen, last = n, time.Now()
		// An error (the database busy, say) leaves it to the next pass
		// and to the writer's automatic checkpoint.
		c.checkpoint(context.Background())
	}
}

// checkpoint runs one PASSIVE checkpoint: it returns the pages in the WAL
// and the pages copied into the database.
func (c *checkpointer) checkpoint(ctx context.Context) (log, copied int, err error) {
	var busy int
	err = c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &copied)
	return log, copied, err
}

// close stops the goroutine and closes the connection.
func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	return c.db.Close()
}
