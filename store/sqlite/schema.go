package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations are the schema versions in order: migrations[i] brings the
// schema to version i+1. Never edit a released migration; append a new one.
//
// Column conventions (shared with the PostgreSQL backend, which spells
// the types BIGINT/BYTEA/BOOLEAN/JSONB): instants are unix microseconds
// UTC in BIGINT columns; ids and codes are TEXT compared byte for byte.
var migrations = []string{
	// 1: inbound messages with duplicate keys and ACKs, appointments,
	// event history, opt-out list.
	`CREATE TABLE inbound (
		sending_app      TEXT    NOT NULL,
		sending_facility TEXT    NOT NULL,
		control_id       TEXT    NOT NULL,
		hash             BLOB    NOT NULL,
		message_type     TEXT    NOT NULL,
		received_at      BIGINT  NOT NULL,
		ack_code         TEXT    NOT NULL,
		ack              BLOB    NOT NULL,
		raw              BLOB,
		event_id         TEXT    NOT NULL DEFAULT '',
		PRIMARY KEY (sending_app, sending_facility, control_id)
	);
	CREATE INDEX inbound_received_at ON inbound (received_at);

	CREATE TABLE appointments (
		appointment_id TEXT    NOT NULL PRIMARY KEY,
		disposition    TEXT    NOT NULL,
		patient_id     TEXT    NOT NULL,
		patient_phone  TEXT    NOT NULL,
		start_utc      BIGINT,
		state          TEXT    NOT NULL,
		version        BIGINT  NOT NULL,
		updated_at     BIGINT  NOT NULL
	);
	CREATE INDEX appointments_patient_id ON appointments (patient_id);
	CREATE INDEX appointments_disposition ON appointments (disposition);
	CREATE INDEX appointments_start_utc ON appointments (start_utc);
	CREATE INDEX appointments_patient_phone ON appointments (patient_phone);

	CREATE TABLE events (
		seq              INTEGER PRIMARY KEY AUTOINCREMENT,
		appointment_id   TEXT    NOT NULL,
		event_id         TEXT    NOT NULL UNIQUE,
		event_type       TEXT    NOT NULL,
		event            TEXT    NOT NULL,
		applied          BOOLEAN NOT NULL,
		reason           TEXT    NOT NULL,
		from_disposition TEXT    NOT NULL,
		to_disposition   TEXT    NOT NULL,
		text_kind        TEXT    NOT NULL,
		suppressed       TEXT    NOT NULL,
		recorded_at      BIGINT  NOT NULL
	);
	CREATE INDEX events_appointment_seq ON events (appointment_id, seq);

	CREATE TABLE opt_outs (
		phone        TEXT   NOT NULL PRIMARY KEY,
		opted_out_at BIGINT NOT NULL
	);`,

	// 2: less work per ingested message (every index and every AUTOINCREMENT
	// is written with each insert):
	//   - no index on appointments.patient_phone: no query uses it;
	//   - events.seq without AUTOINCREMENT, which made every event insert
	//     also update sqlite_sequence. Events are never deleted, so the
	//     next seq (the largest plus one) still only grows. SQLite cannot
	//     drop AUTOINCREMENT in place: the table is copied, seq values
	//     kept.
	`DROP INDEX appointments_patient_phone;

	CREATE TABLE events_v2 (
		seq              INTEGER PRIMARY KEY,
		appointment_id   TEXT    NOT NULL,
		event_id         TEXT    NOT NULL UNIQUE,
		event_type       TEXT    NOT NULL,
		event            TEXT    NOT NULL,
		applied          BOOLEAN NOT NULL,
		reason           TEXT    NOT NULL,
		from_disposition TEXT    NOT NULL,
		to_disposition   TEXT    NOT NULL,
		text_kind        TEXT    NOT NULL,
		suppressed       TEXT    NOT NULL,
		recorded_at      BIGINT  NOT NULL
	);
	INSERT INTO events_v2 (seq, appointment_id, event_id, event_type, event, applied, reason,
		from_disposition, to_disposition, text_kind, suppressed, recorded_at)
		SELECT seq, appointment_id, event_id, event_type, event, applied, reason,
		from_disposition, to_disposition, text_kind, suppressed, recorded_at FROM events ORDER BY seq;
	DROP TABLE events;
	ALTER TABLE events_v2 RENAME TO events;
	CREATE INDEX events_appointment_seq ON events (appointment_id, seq);`,
}

// migrate brings the database to the latest schema version. It is idempotent and safe
// against another process migrating the same file: the check and the
// migrations run in one BEGIN IMMEDIATE transaction.
func migrate(ctx context.Context, db *sql.DB, now func() time.Time) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at BIGINT  NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	var cur int
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&cur); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if cur > len(migrations) {
		return fmt.Errorf("migrate: database schema version %d is newer than this program's %d", cur, len(migrations))
	}
	for v := cur + 1; v <= len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			return fmt.Errorf("migrate: version %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
			v, micros(now())); err != nil {
			return fmt.Errorf("migrate: version %d: %w", v, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
