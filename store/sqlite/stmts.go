package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// The writer's hot queries. They are prepared once on the write connection
// at Open (parsing dominated the writer's CPU time otherwise) and looked up
// by their text, so callers use them like any other query.
const (
	sqlLookupKey = `SELECT hash, ack FROM inbound
		WHERE sending_app = $1 AND sending_facility = $2 AND control_id = $3`
	sqlInsertInbound = `INSERT INTO inbound
		(sending_app, sending_facility, control_id, hash, message_type, received_at, ack_code, ack, raw, event_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	sqlEventExists     = `SELECT 1 FROM events WHERE event_id = $1`
	sqlLoadAppointment = `SELECT state FROM appointments WHERE appointment_id = $1`
	sqlOptedOut        = `SELECT 1 FROM opt_outs WHERE phone = $1`
	sqlInsertEvent     = `INSERT INTO events
		(appointment_id, event_id, event_type, event, applied, reason, from_disposition, to_disposition,
		 text_kind, suppressed, recorded_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	sqlInsertAppointment = `INSERT INTO appointments
		(appointment_id, disposition, patient_id, patient_phone, start_utc, state, version, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	sqlUpdateAppointment = `UPDATE appointments SET disposition = $2, patient_id = $3, patient_phone = $4,
		start_utc = $5, state = $6, version = $7, updated_at = $8
		WHERE appointment_id = $1 AND version = $9`

	sqlSavepoint  = `SAVEPOINT req`
	sqlRollbackTo = `ROLLBACK TO SAVEPOINT req`
	sqlRelease    = `RELEASE SAVEPOINT req`
)

var preparedQueries = []string{
	sqlLookupKey, sqlInsertInbound, sqlEventExists, sqlLoadAppointment, sqlOptedOut,
	sqlInsertEvent, sqlInsertAppointment, sqlUpdateAppointment,
	sqlSavepoint, sqlRollbackTo, sqlRelease,
}

// prepareAll prepares preparedQueries on db (the write pool, whose only
// connection must be idle). The map is read-only afterwards.
func prepareAll(ctx context.Context, db *sql.DB) (map[string]*sql.Stmt, error) {
	m := make(map[string]*sql.Stmt, len(preparedQueries))
	for _, q := range preparedQueries {
		s, err := db.PrepareContext(ctx, q)
		if err != nil {
			closeAll(m)
			return nil, fmt.Errorf("prepare: %w", err)
		}
		m[q] = s
	}
	return m, nil
}

func closeAll(m map[string]*sql.Stmt) {
	for _, s := range m {
		s.Close()
	}
}

// wtx is the batch transaction as a request sees it. Queries prepared at
// Open run as those statements (tx.StmtContext reuses them on the write
// connection); any other query is parsed as usual.
type wtx struct {
	tx       *sql.Tx
	prepared map[string]*sql.Stmt
}

// ExecContext is (*sql.Tx).ExecContext with prepared statements.
func (t wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s, ok := t.prepared[query]; ok {
		return t.tx.StmtContext(ctx, s).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

// QueryRowContext is (*sql.Tx).QueryRowContext with prepared statements.
func (t wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s, ok := t.prepared[query]; ok {
		return t.tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}
