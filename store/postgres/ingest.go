package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/internal/sqlrow"
)

// wtx is a write transaction in progress.
type wtx struct {
	db *DB
	tx pgx.Tx
}

func (w wtx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := w.tx.Exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// Ingest implements store.Store: duplicate check, state machine, history,
// state and inbound row, in one transaction.
func (db *DB) Ingest(ctx context.Context, in *store.Inbound) (store.IngestResult, error) {
	if db.closed.Load() {
		return store.IngestResult{}, opErr("ingest", store.ErrClosed)
	}
	if err := store.ValidateInbound(in); err != nil {
		return store.IngestResult{}, opErr("ingest", err)
	}
	var ev *apptbridge.Event
	var evJSON []byte
	if in.Event != nil {
		ev = store.NormalizeEvent(in.Event)
		var err error
		if evJSON, err = json.Marshal(ev); err != nil {
			return store.IngestResult{}, fmt.Errorf("postgres: ingest %s: encode event: %w", in.Key.ControlID, err)
		}
	}
	var (
		res store.IngestResult
		st  ingestReads
	)
	err := db.writeBatch(ctx, func(b *pgx.Batch) {
		st = ingestReads{now: db.now()}
		queueIngest(b, in, ev, &st)
	}, func(ctx context.Context, tx pgx.Tx) error {
		res = store.IngestResult{}
		return wtx{db, tx}.ingest(ctx, in, ev, evJSON, &st, &res)
	})
	if err != nil {
		return store.IngestResult{}, fmt.Errorf("postgres: ingest %s: %w", in.Key.ControlID, err)
	}
	return res, nil
}

// ingestReads is what the first round trip of Ingest learns.
type ingestReads struct {
	now   time.Time
	known bool // the key is stored: a duplicate or a conflict
	apply applyReads
}

// queueIngest queues the first statements of Ingest's transaction, sent
// with its BEGIN in one round trip: the inbound insert, then the
// appointment's row lock and the opt-out lookup. The insert is the
// duplicate check, across processes: a concurrent insert of the same key
// waits for the other transaction, then changes no row if it committed.
// The appointment is locked after it, in the order of the unbatched
// transaction (a duplicate's lock is harmless: it ends with the
// transaction).
func queueIngest(b *pgx.Batch, in *store.Inbound, ev *apptbridge.Event, st *ingestReads) {
	k := in.Key
	receivedAt := store.Instant(in.ReceivedAt)
	if receivedAt.IsZero() {
		receivedAt = st.now
	}
	eventID := ""
	if ev != nil {
		eventID = ev.EventID
	}
	onExec(b.Queue(`INSERT INTO inbound
		(sending_app, sending_facility, control_id, hash, message_type, received_at, ack_code, ack, raw, event_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (sending_app, sending_facility, control_id) DO NOTHING`,
		k.SendingApplication, k.SendingFacility, k.ControlID, in.Hash[:], in.MessageType, micros(receivedAt),
		in.AckCode, sqlrow.NonNil(in.Ack), sqlrow.NilIfEmpty(in.Raw), eventID),
		func(n int64) error { st.known = n == 0; return nil },
		func(err error) error { return fmt.Errorf("insert inbound: %w", err) })
	if ev != nil {
		queueApplyReads(b, ev, &st.apply)
	}
}

// ingest is the rest of Ingest's transaction: the stored key's lookup
// for a known message, else the event's writes (one more round trip,
// then COMMIT).
func (w wtx) ingest(ctx context.Context, in *store.Inbound, ev *apptbridge.Event, evJSON []byte, st *ingestReads, res *store.IngestResult) error {
	if st.known {
		return w.known(ctx, in, res)
	}
	if ev != nil {
		r, err := w.applyRead(ctx, ev, evJSON, st.now, &st.apply)
		if err != nil {
			return err
		}
		res.Outcome = r.Outcome
	}
	return nil
}

// onExec sets qq's result handler: check gets the rows affected; wrap,
// when not nil, wraps a statement error.
func onExec(qq *pgx.QueuedQuery, check func(n int64) error, wrap func(error) error) {
	qq.Fn = func(br pgx.BatchResults) error {
		ct, err := br.Exec()
		if err != nil {
			if wrap != nil {
				return wrap(err)
			}
			return err
		}
		if check != nil {
			return check(ct.RowsAffected())
		}
		return nil
	}
}

// applyReads is what apply reads before running the state machine.
type applyReads struct {
	cur      *apptbridge.Appointment
	optedOut bool
	optRead  bool // optedOut was read (the event has a phone)
}

// queueApplyReads queues the appointment's row lock (SELECT … FOR UPDATE:
// another process applying an event to the same appointment waits there,
// then reads the state this transaction wrote) and, when the event names
// a phone, its opt-out lookup.
func queueApplyReads(b *pgx.Batch, ev *apptbridge.Event, rd *applyReads) {
	id := ev.AppointmentID
	b.Queue(`SELECT state FROM appointments WHERE appointment_id = $1 FOR UPDATE`, id).QueryRow(func(row pgx.Row) error {
		var err error
		rd.cur, err = decodeState(row, id)
		return err
	})
	if ev.PatientPhone != "" {
		rd.optRead = true
		b.Queue(`SELECT EXISTS (SELECT 1 FROM opt_outs WHERE phone = $1)`, ev.PatientPhone).QueryRow(func(row pgx.Row) error {
			if err := row.Scan(&rd.optedOut); err != nil {
				return fmt.Errorf("look up opt-out: %w", err)
			}
			return nil
		})
	}
}

// known fills res for a message whose key is stored: a duplicate when the
// content is the same, else a conflict.
func (w wtx) known(ctx context.Context, in *store.Inbound, res *store.IngestResult) error {
	var hash, ack []byte
	err := w.tx.QueryRow(ctx, `SELECT hash, ack FROM inbound
		WHERE sending_app = $1 AND sending_facility = $2 AND control_id = $3`,
		in.Key.SendingApplication, in.Key.SendingFacility, in.Key.ControlID).Scan(&hash, &ack)
	if errors.Is(err, pgx.ErrNoRows) {
		// Pruned between the insert and this read: try again.
		return errRetry
	}
	if err != nil {
		return fmt.Errorf("look up key: %w", err)
	}
	if bytes.Equal(hash, in.Hash[:]) {
		res.Duplicate = true
		res.Ack = ack
	} else {
		res.Conflict = true
	}
	return nil
}

// apply runs ev through the state machine against the stored state and
// writes the history row, the appointment when it changed, the reminder
// plan and the outbox rows the outcome calls for. evJSON, when not nil,
// is ev's JSON.
func (w wtx) apply(ctx context.Context, ev *apptbridge.Event, evJSON []byte, now time.Time) (store.ApplyResult, error) {
	b := &pgx.Batch{}
	var rd applyReads
	queueApplyReads(b, ev, &rd)
	if err := w.tx.SendBatch(ctx, b).Close(); err != nil {
		return store.ApplyResult{}, err
	}
	return w.applyRead(ctx, ev, evJSON, now, &rd)
}

// applyRead is apply once the appointment is locked and read (rd). The
// writes go to the server in one batch; their checks (event already
// recorded, appointment created or changed by another process) run on
// the results and fail the transaction, which the caller rolls back.
func (w wtx) applyRead(ctx context.Context, ev *apptbridge.Event, evJSON []byte, now time.Time, rd *applyReads) (store.ApplyResult, error) {
	cur := rd.cur
	optedOut := rd.optedOut
	if !rd.optRead {
		var err error
		if optedOut, err = w.optedOut(ctx, store.OptOutPhone(ev, cur)); err != nil {
			return store.ApplyResult{}, err
		}
	}
	o := apptbridge.Apply(cloneOrNil(cur), ev, apptbridge.ApplyContext{Now: now, PhoneOptedOut: optedOut})

	if evJSON == nil {
		var err error
		if evJSON, err = json.Marshal(ev); err != nil {
			return store.ApplyResult{}, fmt.Errorf("encode event %s: %w", ev.EventID, err)
		}
	}
	// Reads the outbox rows need (superseded texts) come first: they
	// are separate round trips, and only for the kinds that supersede.
	var kind apptbridge.TextKind
	if store.Enqueues(o) && o.Text != apptbridge.TextNone {
		var err error
		if kind, err = w.supersede(ctx, ev.AppointmentID, o.Text, now); err != nil {
			return store.ApplyResult{}, err
		}
	}

	b := &pgx.Batch{}
	onExec(b.Queue(`INSERT INTO events
		(appointment_id, event_id, event_type, event, applied, reason, from_disposition, to_disposition,
		 text_kind, suppressed, recorded_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (event_id) DO NOTHING`,
		ev.AppointmentID, ev.EventID, string(ev.EventType), string(evJSON), o.Applied, o.Reason,
		string(o.From), string(o.To), string(o.Text), o.Suppressed, micros(now)),
		func(n int64) error {
			if n == 0 {
				return &apptbridge.Error{Code: apptbridge.ECONFLICT,
					Message: fmt.Sprintf("event %s already recorded", ev.EventID)}
			}
			return nil
		},
		func(err error) error { return fmt.Errorf("insert event %s: %w", ev.EventID, err) })
	var state []byte // o.Appointment's JSON, when encoded
	if o.Appointment != nil {
		var err error
		if state, err = queueSaveAppointment(b, cur, o.Appointment); err != nil {
			return store.ApplyResult{}, err
		}
	}
	w.queueReplan(b, cur, ev, o, now)
	t, r, err := w.queueEnqueue(b, ev, o, kind, state, now)
	if err != nil {
		return store.ApplyResult{}, err
	}
	if w.db.archive {
		if err := queueArchive(b, cur, ev, o, now); err != nil {
			return store.ApplyResult{}, err
		}
	}
	if err := w.tx.SendBatch(ctx, b).Close(); err != nil {
		return store.ApplyResult{}, err
	}
	return store.ApplyResult{Outcome: o, Text: t, Request: r}, nil
}

func cloneOrNil(a *apptbridge.Appointment) *apptbridge.Appointment {
	if a == nil {
		return nil
	}
	return cloneAppointment(a)
}

func (w wtx) loadAppointment(ctx context.Context, id string, forUpdate bool) (*apptbridge.Appointment, error) {
	q := `SELECT state FROM appointments WHERE appointment_id = $1`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	return decodeState(w.tx.QueryRow(ctx, q, id), id)
}

// decodeState scans an appointment's state column: nil when there is no
// row.
func decodeState(row pgx.Row, id string) (*apptbridge.Appointment, error) {
	var state string
	err := row.Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load appointment %s: %w", id, err)
	}
	a := new(apptbridge.Appointment)
	if err := json.Unmarshal([]byte(state), a); err != nil {
		return nil, fmt.Errorf("decode appointment %s: %w", id, err)
	}
	return a, nil
}

// queueSaveAppointment queues the write of next when it differs from
// cur, guarded by cur's version; a new appointment is inserted, and
// should another process have inserted it first the transaction runs
// again (errRetry). It returns next's JSON when it encoded it.
func queueSaveAppointment(b *pgx.Batch, cur, next *apptbridge.Appointment) ([]byte, error) {
	if cur != nil && next.Version <= cur.Version {
		if sameState(cur, next) {
			return nil, nil
		}
		next.Version = cur.Version + 1
	}
	state, err := json.Marshal(next)
	if err != nil {
		return nil, fmt.Errorf("encode appointment %s: %w", next.AppointmentID, err)
	}
	if cur == nil {
		onExec(b.Queue(`INSERT INTO appointments
			(appointment_id, disposition, patient_id, patient_phone, start_utc, state, version, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (appointment_id) DO NOTHING`,
			next.AppointmentID, string(next.Disposition), next.PatientID, next.PatientPhone,
			nullMicros(next.AppointmentDatetimeUTC), string(state), next.Version, micros(next.UpdatedAt)),
			func(n int64) error {
				if n != 1 {
					return errRetry // another process created it first
				}
				return nil
			},
			func(err error) error { return fmt.Errorf("insert appointment %s: %w", next.AppointmentID, err) })
		return state, nil
	}
	onExec(b.Queue(`UPDATE appointments SET state = $1, version = $2, updated_at = $3,
		disposition = $4, patient_id = $5, patient_phone = $6, start_utc = $7
		WHERE appointment_id = $8 AND version = $9`,
		string(state), next.Version, micros(next.UpdatedAt), string(next.Disposition), next.PatientID,
		next.PatientPhone, nullMicros(next.AppointmentDatetimeUTC), next.AppointmentID, cur.Version),
		func(n int64) error {
			if n != 1 {
				// Cannot happen while the row is locked; should it, start over.
				return errRetry
			}
			return nil
		},
		func(err error) error { return fmt.Errorf("update appointment %s: %w", next.AppointmentID, err) })
	return state, nil
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

func sameState(a, b *apptbridge.Appointment) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

func (w wtx) optedOut(ctx context.Context, phone string) (bool, error) {
	if phone == "" {
		return false, nil
	}
	var found bool
	if err := w.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM opt_outs WHERE phone = $1)`, phone).Scan(&found); err != nil {
		return false, fmt.Errorf("look up opt-out: %w", err)
	}
	return found, nil
}

func (w wtx) optOut(ctx context.Context, phone string) error {
	_, err := w.exec(ctx, `INSERT INTO opt_outs (phone, opted_out_at) VALUES ($1, $2)
		ON CONFLICT (phone) DO NOTHING`, phone, micros(w.db.now()))
	return err
}

func (w wtx) optIn(ctx context.Context, phone string) error {
	_, err := w.exec(ctx, `DELETE FROM opt_outs WHERE phone = $1`, phone)
	return err
}

// OptOut implements store.Store.
func (db *DB) OptOut(ctx context.Context, phone string) error {
	if db.closed.Load() {
		return opErr("opt out", store.ErrClosed)
	}
	if phone == "" {
		return opErr("opt out", invalid("phone required"))
	}
	return opErr("opt out", db.write(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return wtx{db, tx}.optOut(ctx, phone)
	}))
}

// OptIn implements store.Store.
func (db *DB) OptIn(ctx context.Context, phone string) error {
	if db.closed.Load() {
		return opErr("opt in", store.ErrClosed)
	}
	if phone == "" {
		return opErr("opt in", invalid("phone required"))
	}
	return opErr("opt in", db.write(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return wtx{db, tx}.optIn(ctx, phone)
	}))
}

// Prune implements store.Store.
func (db *DB) Prune(ctx context.Context, keysBefore, rawBefore time.Time) (int, error) {
	if db.closed.Load() {
		return 0, opErr("prune", store.ErrClosed)
	}
	var n int64
	err := db.write(ctx, func(ctx context.Context, tx pgx.Tx) error {
		w := wtx{db, tx}
		deleted, err := w.exec(ctx, "DELETE FROM inbound WHERE received_at < $1", micros(store.Instant(keysBefore)))
		if err != nil {
			return fmt.Errorf("delete keys: %w", err)
		}
		cleared, err := w.exec(ctx, "UPDATE inbound SET raw = NULL WHERE received_at < $1 AND raw IS NOT NULL",
			micros(store.Instant(rawBefore)))
		if err != nil {
			return fmt.Errorf("clear raw: %w", err)
		}
		n = deleted + cleared
		return nil
	})
	if err != nil {
		return 0, opErr("prune", err)
	}
	return int(n), nil
}
