package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// Ingest implements store.Store: duplicate check, state machine, history,
// state and inbound row, committed with the writer's next batch.
func (db *DB) Ingest(ctx context.Context, in *store.Inbound) (store.IngestResult, error) {
	if db.closed.Load() {
		return store.IngestResult{}, fmt.Errorf("sqlite: ingest: %w", store.ErrClosed)
	}
	if err := validateInbound(in); err != nil {
		return store.IngestResult{}, fmt.Errorf("sqlite: ingest: %w", err)
	}
	var ev *apptbridge.Event
	if in.Event != nil {
		ev = store.NormalizeEvent(in.Event)
	}
	var res store.IngestResult
	err := db.w.do(ctx, func(ctx context.Context, tx wtx) error {
		res = store.IngestResult{}
		return db.ingestTx(ctx, tx, in, ev, &res)
	})
	if err != nil {
		return store.IngestResult{}, fmt.Errorf("sqlite: ingest %s: %w", in.Key.ControlID, err)
	}
	return res, nil
}

func validateInbound(in *store.Inbound) error {
	switch {
	case in == nil:
		return invalid("no inbound message")
	case in.Key.ControlID == "":
		return invalid("message control id required")
	case in.Event != nil && in.Event.EventID == "":
		return invalid("event id required")
	case in.Event != nil && in.Event.AppointmentID == "":
		return invalid("appointment id required")
	}
	return nil
}

func (db *DB) ingestTx(ctx context.Context, tx wtx, in *store.Inbound, ev *apptbridge.Event, res *store.IngestResult) error {
	var hash, ack []byte
	k := in.Key
	err := tx.QueryRowContext(ctx, sqlLookupKey, k.SendingApplication, k.SendingFacility, k.ControlID).Scan(&hash, &ack)
	switch {
	case err == nil:
		if bytes.Equal(hash, in.Hash[:]) {
			res.Duplicate = true
			res.Ack = ack
		} else {
			res.Conflict = true
		}
		return nil
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("look up key: %w", err)
	}

	now := db.now()
	eventID := ""
	if ev != nil {
		o, err := applyTx(ctx, tx, ev, now)
		if err != nil {
			return err
		}
		res.Outcome = o
		eventID = ev.EventID
	}
	receivedAt := store.Instant(in.ReceivedAt)
	if receivedAt.IsZero() {
		receivedAt = now
	}
	var raw any // NULL when there is no body
	if len(in.Raw) > 0 {
		raw = in.Raw
	}
	if _, err := tx.ExecContext(ctx, sqlInsertInbound, k.SendingApplication, k.SendingFacility, k.ControlID,
		in.Hash[:], in.MessageType, micros(receivedAt), in.AckCode, nonNil(in.Ack), raw, eventID); err != nil {
		return fmt.Errorf("insert inbound: %w", err)
	}
	return nil
}

// applyTx runs ev through the state machine against the stored state and
// writes the history row and, when it changed, the appointment.
func applyTx(ctx context.Context, tx wtx, ev *apptbridge.Event, now time.Time) (apptbridge.Outcome, error) {
	var one int
	err := tx.QueryRowContext(ctx, sqlEventExists, ev.EventID).Scan(&one)
	switch {
	case err == nil:
		return apptbridge.Outcome{}, &apptbridge.Error{Code: apptbridge.ECONFLICT,
			Message: fmt.Sprintf("event %s already recorded", ev.EventID)}
	case !errors.Is(err, sql.ErrNoRows):
		return apptbridge.Outcome{}, fmt.Errorf("look up event: %w", err)
	}

	cur, err := loadAppointment(ctx, tx, ev.AppointmentID)
	if err != nil {
		return apptbridge.Outcome{}, err
	}
	phone := ev.PatientPhone
	if phone == "" && cur != nil {
		phone = cur.PatientPhone
	}
	optedOut, err := isOptedOut(ctx, tx, phone)
	if err != nil {
		return apptbridge.Outcome{}, err
	}
	o := apptbridge.Apply(cur, ev, apptbridge.ApplyContext{Now: now, PhoneOptedOut: optedOut})

	evJSON, err := json.Marshal(ev)
	if err != nil {
		return apptbridge.Outcome{}, fmt.Errorf("encode event %s: %w", ev.EventID, err)
	}
	if _, err := tx.ExecContext(ctx, sqlInsertEvent, ev.AppointmentID, ev.EventID, string(ev.EventType),
		string(evJSON), o.Applied, o.Reason, string(o.From), string(o.To), string(o.Text), o.Suppressed,
		micros(now)); err != nil {
		return apptbridge.Outcome{}, fmt.Errorf("insert event %s: %w", ev.EventID, err)
	}
	if o.Appointment != nil {
		if err := saveAppointment(ctx, tx, cur, o.Appointment); err != nil {
			return apptbridge.Outcome{}, err
		}
	}
	return o, nil
}

// loadAppointment returns the stored state; nil when the appointment does
// not exist.
func loadAppointment(ctx context.Context, q querier, id string) (*apptbridge.Appointment, error) {
	var state string
	err := q.QueryRowContext(ctx, sqlLoadAppointment, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
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

// saveAppointment writes next when it differs from cur, guarded by cur's
// version (optimistic concurrency: a PostgreSQL backend shares the rule).
func saveAppointment(ctx context.Context, tx wtx, cur, next *apptbridge.Appointment) error {
	if cur != nil && next.Version <= cur.Version {
		// Not applied: Apply returns the state unchanged, so nothing is
		// written; should it differ anyway, it gets a version of its own.
		if sameState(cur, next) {
			return nil
		}
		next.Version = cur.Version + 1
	}
	state, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("encode appointment %s: %w", next.AppointmentID, err)
	}
	args := []any{next.AppointmentID, string(next.Disposition), next.PatientID, next.PatientPhone,
		nullMicros(next.AppointmentDatetimeUTC), string(state), next.Version, micros(next.UpdatedAt)}
	if cur == nil {
		_, err = tx.ExecContext(ctx, sqlInsertAppointment, args...)
		if err != nil {
			return fmt.Errorf("insert appointment %s: %w", next.AppointmentID, err)
		}
		return nil
	}
	r, err := tx.ExecContext(ctx, sqlUpdateAppointment, append(args, cur.Version)...)
	if err != nil {
		return fmt.Errorf("update appointment %s: %w", next.AppointmentID, err)
	}
	if n, err := r.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("update appointment %s: version %d is no longer current", next.AppointmentID, cur.Version)
	}
	return nil
}

func isOptedOut(ctx context.Context, q querier, phone string) (bool, error) {
	if phone == "" {
		return false, nil
	}
	var one int
	err := q.QueryRowContext(ctx, sqlOptedOut, phone).Scan(&one)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	}
	return false, fmt.Errorf("look up opt-out: %w", err)
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

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
