package sqlite

import (
	"github.com/apptbridge/apptbridge"
)

// maxCached bounds the committed appointment states and opt-out answers
// the writer keeps (about 1 KiB per appointment).
const maxCached = 4096

// cache spares the writer reading and decoding what it wrote itself: the
// state of appointments it stored, and opt-out answers it looked up. It
// is owned by the writer goroutine.
//
// Three layers keep it exactly in step with the transaction:
//   - committed: states as of the last COMMIT of this connection;
//   - batch: states written by requests of the open transaction that
//     completed (released their savepoint, or ran in a batch without
//     savepoints);
//   - req: states written by the request running now.
//
// A request that fails drops req (its writes are rolled back with it), a
// batch that rolls back drops batch, a COMMIT moves batch into committed.
// Another connection committing (PRAGMA data_version changes, checked at
// every BEGIN) or a failed COMMIT clears everything; so does a batch that
// ran any statement the writer cannot follow (wtx.ExecContext: opt-outs,
// prune, tests), which also turns the cache off until that batch ends.
// Misses read the database, so a cleared cache only costs time; and an
// update is still guarded by the version it read, so a stale entry could
// not overwrite newer state (it clears the cache and fails the request,
// which the writer then retries, see writer.commit).
type cache struct {
	committed map[string]*apptbridge.Appointment
	batch     map[string]*apptbridge.Appointment
	req       []apptWrite
	optedOut  map[string]bool // committed answers only

	dataVersion int64
	off         bool // distrusted until the batch ends
	disabled    bool // always off (see Options.noCache)
}

type apptWrite struct {
	id string
	a  *apptbridge.Appointment
}

func newCache(enabled bool) *cache {
	return &cache{
		disabled:    !enabled,
		off:         !enabled,
		committed:   make(map[string]*apptbridge.Appointment),
		batch:       make(map[string]*apptbridge.Appointment),
		optedOut:    make(map[string]bool),
		dataVersion: -1,
	}
}

// appointment returns the cached state of id (shared: callers must not
// modify it), or nil.
func (c *cache) appointment(id string) *apptbridge.Appointment {
	if c.off {
		return nil
	}
	for i := len(c.req) - 1; i >= 0; i-- {
		if c.req[i].id == id {
			return c.req[i].a
		}
	}
	if a, ok := c.batch[id]; ok {
		return a
	}
	return c.committed[id]
}

// loaded records a state read from the database (and decoded from JSON,
// so it is what decoding gives). Unless a request of the open transaction
// wrote it (then it is not cacheable, or it would have been found), it is
// the committed state.
func (c *cache) loaded(id string, a *apptbridge.Appointment) {
	if c.off || a == nil {
		return
	}
	if _, ok := c.batch[id]; ok {
		return
	}
	for _, w := range c.req {
		if w.id == id {
			return
		}
	}
	c.putCommitted(id, a)
}

// wrote records the state the running request wrote. a must not change
// afterwards; cacheable says that decoding its stored JSON gives a back
// (see jsonEnc.lossy). An uncacheable write still hides older entries.
func (c *cache) wrote(id string, a *apptbridge.Appointment, cacheable bool) {
	if c.off {
		return
	}
	if !cacheable {
		a = nil
	}
	c.req = append(c.req, apptWrite{id, a})
}

// optOut returns the committed opt-out answer for phone, if known.
func (c *cache) optOut(phone string) (optedOut, ok bool) {
	if c.off {
		return false, false
	}
	optedOut, ok = c.optedOut[phone]
	return optedOut, ok
}

// lookedUpOptOut records an opt-out answer read from the database. Only
// wtx.ExecContext changes opt_outs, which turns the cache off, so the
// answer is the committed one.
func (c *cache) lookedUpOptOut(phone string, optedOut bool) {
	if c.off {
		return
	}
	if len(c.optedOut) >= maxCached {
		for k := range c.optedOut {
			delete(c.optedOut, k)
			if len(c.optedOut) < maxCached/2 {
				break
			}
		}
	}
	c.optedOut[phone] = optedOut
}

// requestDone keeps the running request's writes (it succeeded).
func (c *cache) requestDone() {
	for _, w := range c.req {
		c.batch[w.id] = w.a // nil: no longer cached
	}
	clear(c.req)
	c.req = c.req[:0]
}

// requestFailed drops the running request's writes (rolled back).
func (c *cache) requestFailed() {
	clear(c.req)
	c.req = c.req[:0]
}

// begin starts a transaction; dataVersion is PRAGMA data_version read in
// it: a change means another connection committed since the last batch.
func (c *cache) begin(dataVersion int64) {
	if dataVersion != c.dataVersion {
		c.clear()
		c.dataVersion = dataVersion
	}
}

// committedBatch moves the transaction's writes into the committed layer.
func (c *cache) committedBatch() {
	if c.off {
		c.clear()
		return
	}
	for id, a := range c.batch {
		if a == nil {
			delete(c.committed, id)
			continue
		}
		c.putCommitted(id, a)
	}
	clear(c.batch)
}

// rolledBack drops the transaction's writes; commitFailed also the
// committed layer, since the state of the database is not known for sure.
func (c *cache) rolledBack() {
	c.requestFailed()
	clear(c.batch)
	if c.off {
		c.clear()
	}
}

func (c *cache) commitFailed() { c.clear() }

// distrust clears the cache and turns it off until the batch ends.
func (c *cache) distrust() {
	c.clear()
	c.off = true
}

func (c *cache) clear() {
	clear(c.committed)
	clear(c.batch)
	clear(c.optedOut)
	c.requestFailed()
	c.off = c.disabled
}

func (c *cache) putCommitted(id string, a *apptbridge.Appointment) {
	if _, ok := c.committed[id]; !ok && len(c.committed) >= maxCached {
		// Evict about half, in map order (effectively random).
		for k := range c.committed {
			delete(c.committed, k)
			if len(c.committed) < maxCached/2 {
				break
			}
		}
	}
	c.committed[id] = a
}
