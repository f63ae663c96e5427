package sqlite

import (
	"bytes"
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"time"
	"unsafe"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/internal/sqlrow"
)

// Ingest implements store.Store: duplicate check, state machine, history,
// state and inbound row, committed with the writer's next batch.
func (db *DB) Ingest(ctx context.Context, in *store.Inbound) (store.IngestResult, error) {
	if db.closed.Load() {
		return store.IngestResult{}, fmt.Errorf("sqlite: ingest: %w", store.ErrClosed)
	}
	if err := store.ValidateInbound(in); err != nil {
		return store.IngestResult{}, fmt.Errorf("sqlite: ingest: %w", err)
	}
	var (
		ev  *apptbridge.Event
		enc *jsonEnc
	)
	if in.Event != nil {
		ev = store.NormalizeEvent(in.Event)
		// The event's JSON does not depend on the stored state: encode it
		// here, on the caller's goroutine, not on the writer's. Should
		// that fail, the writer encodes it again and fails the request
		// where it always did (after the duplicate check).
		enc = encPool.Get().(*jsonEnc)
		defer encPool.Put(enc)
		if enc.encodeEvent(ev) != nil {
			enc.buf = enc.buf[:0]
		}
	}
	var res store.IngestResult
	err := db.w.do(ctx, func(ctx context.Context, tx wtx) error {
		res = store.IngestResult{}
		return db.ingestTx(ctx, tx.b, in, ev, enc, &res)
	})
	if err != nil {
		return store.IngestResult{}, fmt.Errorf("sqlite: ingest %s: %w", in.Key.ControlID, err)
	}
	return res, nil
}

// encPool holds the encoders Ingest encodes events with.
var encPool = sync.Pool{New: func() any { return new(jsonEnc) }}

// ingestTx is Ingest's work in the batch transaction; evJSON, when not
// empty, holds the JSON of ev.
func (db *DB) ingestTx(ctx context.Context, b *batch, in *store.Inbound, ev *apptbridge.Event, evJSON *jsonEnc, res *store.IngestResult) error {
	k := in.Key
	now := db.now()
	receivedAt := store.Instant(in.ReceivedAt)
	if receivedAt.IsZero() {
		receivedAt = now
	}
	eventID := ""
	if ev != nil {
		eventID = ev.EventID
	}
	var raw driver.Value // NULL when there is no body
	if len(in.Raw) > 0 {
		raw = in.Raw
	}
	// The insert is the duplicate check: a known key changes no row.
	s, err := b.c.prepare(ctx, sqlInsertInbound)
	if err != nil {
		return fmt.Errorf("insert inbound: %w", err)
	}
	a := s.bind(10)
	a[0].Value, a[1].Value, a[2].Value = k.SendingApplication, k.SendingFacility, k.ControlID
	a[3].Value, a[4].Value, a[5].Value = in.Hash[:], in.MessageType, micros(receivedAt)
	a[6].Value, a[7].Value, a[8].Value, a[9].Value = in.AckCode, sqlrow.NonNil(in.Ack), raw, eventID
	n, err := s.run(ctx)
	if err != nil {
		return fmt.Errorf("insert inbound: %w", err)
	}
	if n == 0 {
		return b.known(ctx, in, res)
	}
	if ev != nil {
		r, err := b.apply(ctx, ev, evJSON, now)
		if err != nil {
			return err
		}
		res.Outcome = r.Outcome
	}
	return nil
}

// known fills res for a message whose key is stored: a duplicate when the
// content is the same, else a conflict.
func (b *batch) known(ctx context.Context, in *store.Inbound, res *store.IngestResult) error {
	s, err := b.c.prepare(ctx, sqlLookupKey)
	if err != nil {
		return fmt.Errorf("look up key: %w", err)
	}
	a := s.bind(3)
	a[0].Value, a[1].Value, a[2].Value = in.Key.SendingApplication, in.Key.SendingFacility, in.Key.ControlID
	row, err := s.queryRow(ctx)
	if err != nil {
		return fmt.Errorf("look up key: %w", err)
	}
	if row == nil {
		return errors.New("look up key: not found after a conflict")
	}
	hash, _ := row[0].([]byte)
	ack, _ := row[1].([]byte)
	if bytes.Equal(hash, in.Hash[:]) {
		res.Duplicate = true
		res.Ack = ack
	} else {
		res.Conflict = true
	}
	return nil
}

// apply runs ev through the state machine against the stored state and
// writes the history row, the appointment when it changed, and the outbox
// rows the outcome calls for (see enqueue).
func (b *batch) apply(ctx context.Context, ev *apptbridge.Event, evJSON *jsonEnc, now time.Time) (store.ApplyResult, error) {
	cur, err := b.loadAppointment(ctx, ev.AppointmentID)
	if err != nil {
		return store.ApplyResult{}, err
	}
	o, err := b.applyState(ctx, ev, evJSON, now)
	if err != nil {
		return store.ApplyResult{}, err
	}
	if err := b.replan(ctx, cur, ev, o, now); err != nil {
		return store.ApplyResult{}, err
	}
	t, r, err := b.enqueue(ctx, ev, o, now)
	if err != nil {
		return store.ApplyResult{}, err
	}
	if b.archive {
		if err := b.enqueueArchive(ctx, cur, ev, o, now); err != nil {
			return store.ApplyResult{}, err
		}
	}
	return store.ApplyResult{Outcome: o, Text: t, Request: r}, nil
}

func (b *batch) applyState(ctx context.Context, ev *apptbridge.Event, evJSON *jsonEnc, now time.Time) (apptbridge.Outcome, error) {
	cur, err := b.loadAppointment(ctx, ev.AppointmentID)
	if err != nil {
		return apptbridge.Outcome{}, err
	}
	optedOut, err := b.isOptedOut(ctx, store.OptOutPhone(ev, cur))
	if err != nil {
		return apptbridge.Outcome{}, err
	}
	o := apptbridge.Apply(cur, ev, apptbridge.ApplyContext{Now: now, PhoneOptedOut: optedOut})

	if evJSON == nil || len(evJSON.buf) == 0 {
		evJSON = &b.ev
		if err := evJSON.encodeEvent(ev); err != nil {
			return apptbridge.Outcome{}, fmt.Errorf("encode event %s: %w", ev.EventID, err)
		}
	}
	s, err := b.c.prepare(ctx, sqlInsertEvent)
	if err != nil {
		return apptbridge.Outcome{}, fmt.Errorf("insert event %s: %w", ev.EventID, err)
	}
	a := s.bind(11)
	a[0].Value, a[1].Value, a[2].Value = ev.AppointmentID, ev.EventID, string(ev.EventType)
	a[3].Value, a[4].Value, a[5].Value = transient(evJSON.buf), o.Applied, o.Reason
	a[6].Value, a[7].Value, a[8].Value = string(o.From), string(o.To), string(o.Text)
	a[9].Value, a[10].Value = o.Suppressed, micros(now)
	n, err := s.run(ctx)
	if err != nil {
		return apptbridge.Outcome{}, fmt.Errorf("insert event %s: %w", ev.EventID, err)
	}
	if n == 0 { // the insert is the check: a known event id changes no row
		return apptbridge.Outcome{}, &apptbridge.Error{Code: apptbridge.ECONFLICT,
			Message: fmt.Sprintf("event %s already recorded", ev.EventID)}
	}
	if o.Appointment != nil {
		if err := b.saveAppointment(ctx, cur, o.Appointment); err != nil {
			return apptbridge.Outcome{}, err
		}
	}
	return o, nil
}

// loadAppointment returns the current state (shared with the cache: the
// caller must not modify it); nil when the appointment does not exist.
func (b *batch) loadAppointment(ctx context.Context, id string) (*apptbridge.Appointment, error) {
	if a := b.cache.appointment(id); a != nil {
		return a, nil
	}
	s, err := b.c.prepare(ctx, sqlLoadAppointment)
	if err != nil {
		return nil, fmt.Errorf("load appointment %s: %w", id, err)
	}
	s.bind(1)[0].Value = id
	row, err := s.queryRow(ctx)
	if err != nil {
		return nil, fmt.Errorf("load appointment %s: %w", id, err)
	}
	if row == nil {
		return nil, nil
	}
	state, _ := row[0].(string)
	a := new(apptbridge.Appointment)
	if err := decodeAppointment(state, a); err != nil {
		return nil, fmt.Errorf("decode appointment %s: %w", id, err)
	}
	b.cache.loaded(id, a)
	return a, nil
}

// saveAppointment writes next when it differs from cur, guarded by cur's
// version (optimistic concurrency: a PostgreSQL backend shares the rule).
func (b *batch) saveAppointment(ctx context.Context, cur, next *apptbridge.Appointment) error {
	if cur != nil && next.Version <= cur.Version {
		// Not applied: Apply returns the state unchanged, so nothing is
		// written; should it differ anyway, it gets a version of its own.
		if sameState(cur, next) {
			return nil
		}
		next.Version = cur.Version + 1
	}
	if err := b.state.encodeAppointment(next); err != nil {
		return fmt.Errorf("encode appointment %s: %w", next.AppointmentID, err)
	}
	state := transient(b.state.buf)
	if cur == nil {
		s, err := b.c.prepare(ctx, sqlInsertAppointment)
		if err != nil {
			return fmt.Errorf("insert appointment %s: %w", next.AppointmentID, err)
		}
		a := s.bind(8)
		a[0].Value, a[1].Value, a[2].Value = next.AppointmentID, string(next.Disposition), next.PatientID
		a[3].Value, a[4].Value, a[5].Value = next.PatientPhone, startUTC(next), state
		a[6].Value, a[7].Value = next.Version, micros(next.UpdatedAt)
		if _, err := s.run(ctx); err != nil {
			return fmt.Errorf("insert appointment %s: %w", next.AppointmentID, err)
		}
	} else {
		// Only the indexed columns that change are set (see updateSQL).
		var mask int
		if next.Disposition != cur.Disposition {
			mask |= colDisposition
		}
		if next.PatientID != cur.PatientID {
			mask |= colPatientID
		}
		if next.PatientPhone != cur.PatientPhone {
			mask |= colPatientPhone
		}
		start := startUTC(next)
		if start != startUTC(cur) {
			mask |= colStartUTC
		}
		s, err := b.c.prepare(ctx, updateSQL[mask])
		if err != nil {
			return fmt.Errorf("update appointment %s: %w", next.AppointmentID, err)
		}
		a := s.bind(5 + bits.OnesCount(uint(mask)))
		a[0].Value, a[1].Value, a[2].Value = state, next.Version, micros(next.UpdatedAt)
		i := 3
		if mask&colDisposition != 0 {
			a[i].Value = string(next.Disposition)
			i++
		}
		if mask&colPatientID != 0 {
			a[i].Value = next.PatientID
			i++
		}
		if mask&colPatientPhone != 0 {
			a[i].Value = next.PatientPhone
			i++
		}
		if mask&colStartUTC != 0 {
			a[i].Value = start
			i++
		}
		a[i].Value, a[i+1].Value = next.AppointmentID, cur.Version
		n, err := s.run(ctx)
		if err != nil {
			return fmt.Errorf("update appointment %s: %w", next.AppointmentID, err)
		}
		if n != 1 {
			// The state read was not current: a cached one, perhaps.
			// Distrust the cache; the writer runs the batch again.
			b.cache.distrust()
			return fmt.Errorf("update appointment %s: version %d is no longer current", next.AppointmentID, cur.Version)
		}
	}
	b.cache.wrote(next.AppointmentID, cloneAppointment(next), !b.state.lossy)
	return nil
}

// transient returns b as a string without copying, for an argument of a
// statement run before b changes: the driver copies text arguments into
// SQLite's memory when it binds them (and the statement drops its
// arguments after running, see wstmt.run).
func transient(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// startUTC is the start_utc column: unix microseconds, NULL when unknown.
func startUTC(a *apptbridge.Appointment) driver.Value {
	if a.AppointmentDatetimeUTC.IsZero() {
		return nil
	}
	return micros(a.AppointmentDatetimeUTC)
}

// cloneAppointment returns a copy of a that shares no memory with it.
func cloneAppointment(a *apptbridge.Appointment) *apptbridge.Appointment {
	c := *a
	if a.Source != nil {
		src := *a.Source
		c.Source = &src
	}
	return &c
}

func (b *batch) isOptedOut(ctx context.Context, phone string) (bool, error) {
	if phone == "" {
		return false, nil
	}
	if v, ok := b.cache.optOut(phone); ok {
		return v, nil
	}
	s, err := b.c.prepare(ctx, sqlOptedOut)
	if err != nil {
		return false, fmt.Errorf("look up opt-out: %w", err)
	}
	s.bind(1)[0].Value = phone
	row, err := s.queryRow(ctx)
	if err != nil {
		return false, fmt.Errorf("look up opt-out: %w", err)
	}
	b.cache.lookedUpOptOut(phone, row != nil)
	return row != nil, nil
}

// OptOut implements store.Store.
func (db *DB) OptOut(ctx context.Context, phone string) error {
	return db.writeOptOut(ctx, "opt out", phone, `INSERT INTO opt_outs (phone, opted_out_at) VALUES ($1, $2)
		ON CONFLICT (phone) DO NOTHING`, true)
}

// OptIn implements store.Store.
func (db *DB) OptIn(ctx context.Context, phone string) error {
	return db.writeOptOut(ctx, "opt in", phone, "DELETE FROM opt_outs WHERE phone = $1", false)
}

func (db *DB) writeOptOut(ctx context.Context, op, phone, query string, withTime bool) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrClosed)
	}
	if phone == "" {
		return fmt.Errorf("sqlite: %s: %w", op, invalid("phone required"))
	}
	args := []any{phone}
	if withTime {
		args = append(args, micros(db.now()))
	}
	err := db.w.do(ctx, func(ctx context.Context, tx wtx) error {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return nil
}

// Prune implements store.Store, through the writer like every write.
func (db *DB) Prune(ctx context.Context, keysBefore, rawBefore time.Time) (int, error) {
	if db.closed.Load() {
		return 0, fmt.Errorf("sqlite: prune: %w", store.ErrClosed)
	}
	var n int64
	err := db.w.do(ctx, func(ctx context.Context, tx wtx) error {
		n = 0
		r, err := tx.ExecContext(ctx, "DELETE FROM inbound WHERE received_at < $1", micros(store.Instant(keysBefore)))
		if err != nil {
			return fmt.Errorf("delete keys: %w", err)
		}
		deleted, err := r.RowsAffected()
		if err != nil {
			return fmt.Errorf("delete keys: %w", err)
		}
		r, err = tx.ExecContext(ctx, "UPDATE inbound SET raw = NULL WHERE received_at < $1 AND raw IS NOT NULL",
			micros(store.Instant(rawBefore)))
		if err != nil {
			return fmt.Errorf("clear raw: %w", err)
		}
		cleared, err := r.RowsAffected()
		if err != nil {
			return fmt.Errorf("clear raw: %w", err)
		}
		n = deleted + cleared
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune: %w", err)
	}
	return int(n), nil
}

func sameState(a, b *apptbridge.Appointment) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
