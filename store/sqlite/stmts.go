package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The writer's hot statements. They are prepared once on the write
// connection and run through the driver directly (see wconn): with
// database/sql every execution inside a transaction re-bound the statement
// to the transaction, took its locks and converted the arguments again,
// which cost more CPU than SQLite's own work for these small statements.
//
// Duplicate detection is folded into the inserts: an inbound key or an
// event id that is already stored makes the INSERT change no row (ON
// CONFLICT DO NOTHING, PostgreSQL syntax too), and only then is the stored
// row read.
const (
	sqlInsertInbound = `INSERT INTO inbound
		(sending_app, sending_facility, control_id, hash, message_type, received_at, ack_code, ack, raw, event_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (sending_app, sending_facility, control_id) DO NOTHING`
	sqlLookupKey = `SELECT hash, ack FROM inbound
		WHERE sending_app = $1 AND sending_facility = $2 AND control_id = $3`
	sqlLoadAppointment = `SELECT state FROM appointments WHERE appointment_id = $1`
	sqlOptedOut        = `SELECT 1 FROM opt_outs WHERE phone = $1`
	sqlInsertEvent     = `INSERT INTO events
		(appointment_id, event_id, event_type, event, applied, reason, from_disposition, to_disposition,
		 text_kind, suppressed, recorded_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (event_id) DO NOTHING`
	sqlInsertAppointment = `INSERT INTO appointments
		(appointment_id, disposition, patient_id, patient_phone, start_utc, state, version, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

	sqlBegin         = `BEGIN IMMEDIATE`
	sqlBeginDeferred = `BEGIN`
	sqlCommit        = `COMMIT`
	sqlRollback      = `ROLLBACK`
	sqlSavepoint     = `SAVEPOINT req`
	sqlRollbackTo    = `ROLLBACK TO SAVEPOINT req`
	sqlRelease       = `RELEASE SAVEPOINT req`
	sqlDataVersion   = `PRAGMA data_version`
)

// Indexed columns of appointments that an update may leave unchanged; an
// UPDATE that names an indexed column rewrites its index entry even when
// the value stays, so updateSQL names only the columns that change.
const (
	colDisposition = 1 << iota
	colPatientID
	colPatientPhone
	colStartUTC
	nUpdateVariants = 1 << iota
)

// updateSQL[mask] updates state, version and updated_at, and the indexed
// columns in mask, guarded by the version read. Parameters: $1 state, $2
// version, $3 updated_at, then the columns of mask in the order of the
// bits, then appointment_id and the version read.
var updateSQL = func() (q [nUpdateVariants]string) {
	cols := []string{"disposition", "patient_id", "patient_phone", "start_utc"}
	for mask := range q {
		var b strings.Builder
		b.WriteString("UPDATE appointments SET state = $1, version = $2, updated_at = $3")
		n := 3
		for i, c := range cols {
			if mask&(1<<i) != 0 {
				n++
				fmt.Fprintf(&b, ", %s = $%d", c, n)
			}
		}
		fmt.Fprintf(&b, " WHERE appointment_id = $%d AND version = $%d", n+1, n+2)
		q[mask] = b.String()
	}
	return q
}()

// positional returns q with its parameters $1, $2, ... written as
// anonymous ? when each appears once and in order, else q unchanged. The
// driver binds an anonymous parameter by position, a named one ($N) after
// looking up and parsing its name: a tenth of the writer's time.
func positional(q string) string {
	var b strings.Builder
	next := 1
	for i := 0; i < len(q); i++ {
		if q[i] != '$' {
			b.WriteByte(q[i])
			continue
		}
		j := i + 1
		for j < len(q) && q[j] >= '0' && q[j] <= '9' {
			j++
		}
		if q[i+1:j] != strconv.Itoa(next) {
			return q
		}
		b.WriteByte('?')
		next++
		i = j - 1
	}
	return b.String()
}

// maxGenericStmts caps the statements wtx.ExecContext keeps prepared;
// others are prepared for each execution.
const maxGenericStmts = 32

// wconn is the writer's driver connection, borrowed from the write pool
// through (*sql.Conn).Raw for one batch at a time. The pool has exactly
// one connection, so it is the same driver connection every time; should
// database/sql ever replace it, the statements are prepared again.
type wconn struct {
	dc      driver.Conn
	stmts   map[string]*wstmt
	generic int // statements in stmts prepared for wtx.ExecContext
}

// wstmt is a prepared driver statement with reusable argument and
// destination slices (only the writer goroutine uses it).
type wstmt struct {
	ds    driver.Stmt
	exec  driver.StmtExecContext
	query driver.StmtQueryContext
	args  []driver.NamedValue
	dest  []driver.Value
}

func newWconn(dc driver.Conn) *wconn {
	return &wconn{dc: dc, stmts: make(map[string]*wstmt)}
}

// prepare returns the statement for query, one of the writer's own (whose
// parameters are positional, see positional), preparing it on first use.
func (c *wconn) prepare(ctx context.Context, query string) (*wstmt, error) {
	if s, ok := c.stmts[query]; ok {
		return s, nil
	}
	s, err := c.prepareNew(ctx, positional(query))
	if err != nil {
		return nil, err
	}
	c.stmts[query] = s
	return s, nil
}

func (c *wconn) prepareNew(ctx context.Context, query string) (*wstmt, error) {
	var (
		ds  driver.Stmt
		err error
	)
	if p, ok := c.dc.(driver.ConnPrepareContext); ok {
		ds, err = p.PrepareContext(ctx, query)
	} else {
		ds, err = c.dc.Prepare(query)
	}
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	exec, ok1 := ds.(driver.StmtExecContext)
	q, ok2 := ds.(driver.StmtQueryContext)
	if !ok1 || !ok2 {
		ds.Close()
		return nil, errors.New("prepare: driver statement lacks ExecContext or QueryContext")
	}
	return &wstmt{ds: ds, exec: exec, query: q}, nil
}

// close finalizes every statement.
func (c *wconn) close() error {
	var errs []error
	for q, s := range c.stmts {
		errs = append(errs, s.ds.Close())
		delete(c.stmts, q)
	}
	return errors.Join(errs...)
}

// execSQL runs a statement without arguments (BEGIN, COMMIT, ...).
func (c *wconn) execSQL(ctx context.Context, query string) error {
	s, err := c.prepare(ctx, query)
	if err != nil {
		return err
	}
	s.bind(0)
	_, err = s.run(ctx)
	return err
}

// bind returns the statement's argument slice with n arguments, ordinals
// set; the caller fills in the values.
func (s *wstmt) bind(n int) []driver.NamedValue {
	if cap(s.args) < n {
		s.args = make([]driver.NamedValue, n)
	}
	s.args = s.args[:n]
	for i := range s.args {
		s.args[i].Ordinal = i + 1
	}
	return s.args
}

// run executes the statement with the bound arguments and returns the
// number of rows it changed.
func (s *wstmt) run(ctx context.Context) (int64, error) {
	r, err := s.exec.ExecContext(ctx, s.args)
	s.unbind()
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

// queryRow runs the statement with the bound arguments and returns its
// first row (valid until the next call), or nil when there is none.
func (s *wstmt) queryRow(ctx context.Context) ([]driver.Value, error) {
	rows, err := s.query.QueryContext(ctx, s.args)
	s.unbind()
	if err != nil {
		return nil, err
	}
	n := len(rows.Columns())
	if cap(s.dest) < n {
		s.dest = make([]driver.Value, n)
	}
	s.dest = s.dest[:n]
	err = rows.Next(s.dest)
	cerr := rows.Close()
	switch {
	case err == io.EOF:
		return nil, cerr
	case err != nil:
		return nil, err
	case cerr != nil:
		return nil, cerr
	}
	return s.dest, nil
}

// unbind drops the references to the arguments (message bodies).
func (s *wstmt) unbind() {
	for i := range s.args {
		s.args[i].Value = nil
	}
}

// wtx is the batch transaction as a request sees it.
type wtx struct{ b *batch }

// ExecContext runs any statement in the batch transaction, prepared once
// and kept (up to maxGenericStmts). Since the writer cannot tell what such
// a statement changed, it stops trusting its caches (see cache) until the
// batch ends.
func (t wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	b := t.b
	b.cache.distrust()
	c := b.c
	s, ok := c.stmts[query]
	if !ok {
		var err error
		if s, err = c.prepareNew(ctx, query); err != nil {
			return nil, err
		}
		if c.generic < maxGenericStmts {
			c.stmts[query] = s
			c.generic++
		} else {
			defer s.ds.Close()
		}
	}
	named := s.bind(len(args))
	for i, a := range args {
		v, err := driver.DefaultParameterConverter.ConvertValue(a)
		if err != nil {
			s.unbind()
			return nil, fmt.Errorf("argument $%d: %w", i+1, err)
		}
		named[i].Value = v
	}
	r, err := s.exec.ExecContext(ctx, s.args)
	s.unbind()
	return r, err
}
