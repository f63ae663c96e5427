package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/internal/sqlrow"
)

// DefaultLimit is the page size of Appointments when Filter.Limit is 0.
const DefaultLimit = sqlrow.DefaultLimit

// Appointment implements store.Store.
func (db *DB) Appointment(ctx context.Context, id string) (*apptbridge.Appointment, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: appointment: %w", store.ErrClosed)
	}
	var state string
	err := db.rdb.QueryRowContext(ctx, sqlLoadAppointment, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: appointment %s: %w", id, notFound("appointment"))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: load appointment %s: %w", id, err)
	}
	a := new(apptbridge.Appointment)
	if err := decodeAppointment(state, a); err != nil {
		return nil, fmt.Errorf("sqlite: decode appointment %s: %w", id, err)
	}
	return a, nil
}

// Appointments implements store.Store.
func (db *DB) Appointments(ctx context.Context, f store.Filter) ([]*apptbridge.Appointment, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: appointments: %w", store.ErrClosed)
	}
	q, args := sqlrow.AppointmentsQuery(f)

	rows, err := db.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: appointments: %w", err)
	}
	defer rows.Close()
	var out []*apptbridge.Appointment
	for rows.Next() {
		var state string
		if err := rows.Scan(&state); err != nil {
			return nil, fmt.Errorf("sqlite: appointments: %w", err)
		}
		a := new(apptbridge.Appointment)
		if err := decodeAppointment(state, a); err != nil {
			return nil, fmt.Errorf("sqlite: appointments: decode: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: appointments: %w", err)
	}
	return out, nil
}

// History implements store.Store.
func (db *DB) History(ctx context.Context, id string) ([]store.HistoryEntry, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: history: %w", store.ErrClosed)
	}
	out, err := db.history(ctx, `SELECT `+sqlrow.HistoryCols+` FROM events WHERE appointment_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: history %s: %w", id, err)
	}
	return out, nil
}

// history runs q, a query of sqlrow.HistoryCols, on the read pool and decodes its
// rows (an empty, non-nil slice when there are none).
func (db *DB) history(ctx context.Context, q string, args ...any) ([]store.HistoryEntry, error) {
	out := []store.HistoryEntry{}
	if err := db.readRows(ctx, q, args, 9, sqlrow.AppendTo(&out, sqlrow.History)); err != nil {
		return nil, err
	}
	return out, nil
}

// Inbound implements store.Store.
func (db *DB) Inbound(ctx context.Context, k store.DedupKey) (*store.InboundRecord, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: inbound: %w", store.ErrClosed)
	}
	var (
		r          = &store.InboundRecord{Key: k}
		hash       []byte
		receivedUS int64
	)
	err := db.rdb.QueryRowContext(ctx, `SELECT hash, message_type, received_at, ack_code, ack, raw, event_id
		FROM inbound WHERE sending_app = $1 AND sending_facility = $2 AND control_id = $3`,
		k.SendingApplication, k.SendingFacility, k.ControlID).
		Scan(&hash, &r.MessageType, &receivedUS, &r.AckCode, &r.Ack, &r.Raw, &r.EventID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: inbound %s: %w", k.ControlID, notFound("inbound message"))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: inbound %s: %w", k.ControlID, err)
	}
	copy(r.Hash[:], hash)
	r.ReceivedAt = fromMicros(receivedUS)
	return r, nil
}

// CountInbound implements store.Store.
func (db *DB) CountInbound(ctx context.Context) (int, error) {
	if db.closed.Load() {
		return 0, fmt.Errorf("sqlite: count inbound: %w", store.ErrClosed)
	}
	var n int
	if err := db.rdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM inbound").Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count inbound: %w", err)
	}
	return n, nil
}
