package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/internal/sqlrow"
)

// DefaultLimit is the page size of list queries when their limit is 0.
const DefaultLimit = sqlrow.DefaultLimit

// Appointment implements store.Store.
func (db *DB) Appointment(ctx context.Context, id string) (*apptbridge.Appointment, error) {
	if db.closed.Load() {
		return nil, opErr("appointment", store.ErrClosed)
	}
	var state string
	err := db.pool.QueryRow(ctx, `SELECT state FROM appointments WHERE appointment_id = $1`, id).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: appointment %s: %w", id, notFound("appointment"))
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: load appointment %s: %w", id, err)
	}
	a := new(apptbridge.Appointment)
	if err := json.Unmarshal([]byte(state), a); err != nil {
		return nil, fmt.Errorf("postgres: decode appointment %s: %w", id, err)
	}
	return a, nil
}

// Appointments implements store.Store.
func (db *DB) Appointments(ctx context.Context, f store.Filter) ([]*apptbridge.Appointment, error) {
	if db.closed.Load() {
		return nil, opErr("appointments", store.ErrClosed)
	}
	q, args := sqlrow.AppointmentsQuery(f)
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, opErr("appointments", err)
	}
	defer rows.Close()
	var out []*apptbridge.Appointment
	for rows.Next() {
		var state string
		if err := rows.Scan(&state); err != nil {
			return nil, opErr("appointments", err)
		}
		a := new(apptbridge.Appointment)
		if err := json.Unmarshal([]byte(state), a); err != nil {
			return nil, opErr("appointments: decode", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, opErr("appointments", err)
	}
	return out, nil
}

// History implements store.Store.
func (db *DB) History(ctx context.Context, id string) ([]store.HistoryEntry, error) {
	if db.closed.Load() {
		return nil, opErr("history", store.ErrClosed)
	}
	out, err := db.history(ctx, `SELECT `+sqlrow.HistoryCols+` FROM events WHERE appointment_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("postgres: history %s: %w", id, err)
	}
	return out, nil
}

// history runs q, a query of sqlrow.HistoryCols, and decodes its rows (an empty,
// non-nil slice when there are none).
func (db *DB) history(ctx context.Context, q string, args ...any) ([]store.HistoryEntry, error) {
	out, err := queryAll(ctx, db.pool, sqlrow.History, q, args...)
	if out == nil {
		out = []store.HistoryEntry{}
	}
	return out, err
}

// Inbound implements store.Store.
func (db *DB) Inbound(ctx context.Context, k store.DedupKey) (*store.InboundRecord, error) {
	if db.closed.Load() {
		return nil, opErr("inbound", store.ErrClosed)
	}
	var (
		r          = &store.InboundRecord{Key: k}
		hash       []byte
		receivedUS int64
	)
	err := db.pool.QueryRow(ctx, `SELECT hash, message_type, received_at, ack_code, ack, raw, event_id
		FROM inbound WHERE sending_app = $1 AND sending_facility = $2 AND control_id = $3`,
		k.SendingApplication, k.SendingFacility, k.ControlID).
		Scan(&hash, &r.MessageType, &receivedUS, &r.AckCode, &r.Ack, &r.Raw, &r.EventID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: inbound %s: %w", k.ControlID, notFound("inbound message"))
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: inbound %s: %w", k.ControlID, err)
	}
	copy(r.Hash[:], hash)
	r.ReceivedAt = fromMicros(receivedUS)
	if len(r.Raw) == 0 {
		r.Raw = nil
	}
	return r, nil
}

// CountInbound implements store.Store.
func (db *DB) CountInbound(ctx context.Context) (int, error) {
	if db.closed.Load() {
		return 0, opErr("count inbound", store.ErrClosed)
	}
	var n int
	if err := db.pool.QueryRow(ctx, "SELECT COUNT(*) FROM inbound").Scan(&n); err != nil {
		return 0, opErr("count inbound", err)
	}
	return n, nil
}
