package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations are the schema versions in order: migrations[i] brings the
// schema to version i+1. Never edit a released migration; append a new one.
//
// Version 1 is the SQLite backend's schema at its version 5 (tables,
// columns and indexes alike), spelled for PostgreSQL: BIGINT unix
// microseconds for instants, BYTEA for hashes, ACKs and raw messages, TEXT
// COLLATE "C" for ids, phones and codes (byte order, as Go compares
// strings), TEXT for JSON (byte-exact), identity columns for sequences.
var migrations = []string{
	`CREATE TABLE inbound (
		sending_app      TEXT COLLATE "C" NOT NULL,
		sending_facility TEXT COLLATE "C" NOT NULL,
		control_id       TEXT COLLATE "C" NOT NULL,
		hash             BYTEA   NOT NULL,
		message_type     TEXT    NOT NULL,
		received_at      BIGINT  NOT NULL,
		ack_code         TEXT    NOT NULL,
		ack              BYTEA   NOT NULL,
		raw              BYTEA,
		event_id         TEXT COLLATE "C" NOT NULL DEFAULT '',
		PRIMARY KEY (sending_app, sending_facility, control_id)
	);
	CREATE INDEX inbound_received_at ON inbound (received_at);
	CREATE INDEX inbound_event_id ON inbound (event_id) WHERE event_id <> '';

	CREATE TABLE appointments (
		appointment_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
		disposition    TEXT COLLATE "C" NOT NULL,
		patient_id     TEXT COLLATE "C" NOT NULL,
		patient_phone  TEXT COLLATE "C" NOT NULL,
		start_utc      BIGINT,
		state          TEXT    NOT NULL,
		version        BIGINT  NOT NULL,
		updated_at     BIGINT  NOT NULL
	);
	CREATE INDEX appointments_patient_id ON appointments (patient_id);
	CREATE INDEX appointments_disposition ON appointments (disposition);
	CREATE INDEX appointments_start_utc ON appointments (start_utc);
	CREATE INDEX appointments_phone_active ON appointments (patient_phone)
		WHERE disposition IN ('QUEUED', 'REMINDED-1', 'REMINDED-2', 'OPTED-OUT');
	CREATE INDEX appointments_active_start ON appointments (start_utc)
		WHERE disposition IN ('QUEUED', 'REMINDED-1', 'REMINDED-2');

	CREATE TABLE events (
		seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		appointment_id   TEXT COLLATE "C" NOT NULL,
		event_id         TEXT COLLATE "C" NOT NULL UNIQUE,
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
		phone        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
		opted_out_at BIGINT NOT NULL
	);

	CREATE TABLE texts (
		id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
		direction       TEXT COLLATE "C" NOT NULL,
		appointment_id  TEXT COLLATE "C" NOT NULL,
		event_id        TEXT COLLATE "C" NOT NULL,
		kind            TEXT COLLATE "C" NOT NULL,
		phone           TEXT COLLATE "C" NOT NULL,
		language        TEXT    NOT NULL,
		snapshot        TEXT    NOT NULL,
		body            TEXT    NOT NULL,
		asks_reply      BOOLEAN NOT NULL,
		immediate       BOOLEAN NOT NULL,
		status          TEXT COLLATE "C" NOT NULL,
		reason          TEXT    NOT NULL,
		sid             TEXT COLLATE "C",
		error_code      INTEGER NOT NULL,
		attempts        INTEGER NOT NULL,
		next_attempt_at BIGINT  NOT NULL,
		lease_owner     TEXT COLLATE "C" NOT NULL,
		lease_until     BIGINT  NOT NULL,
		sent_at         BIGINT  NOT NULL,
		created_at      BIGINT  NOT NULL,
		updated_at      BIGINT  NOT NULL
	);
	CREATE UNIQUE INDEX texts_sid ON texts (sid);
	CREATE INDEX texts_due ON texts (next_attempt_at) WHERE status IN ('pending', 'attempting');
	CREATE INDEX texts_phone ON texts (phone, created_at);
	CREATE INDEX texts_appointment ON texts (appointment_id, created_at);
	CREATE INDEX texts_sent_at ON texts (sent_at) WHERE sent_at > 0;
	CREATE INDEX texts_failed ON texts (updated_at) WHERE status IN ('failed', 'undelivered');

	CREATE TABLE requests (
		seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		id              TEXT COLLATE "C" NOT NULL UNIQUE,
		appointment_id  TEXT COLLATE "C" NOT NULL,
		event_id        TEXT COLLATE "C" NOT NULL,
		type            TEXT    NOT NULL,
		snapshot        TEXT    NOT NULL,
		control_id      TEXT COLLATE "C" NOT NULL,
		status          TEXT COLLATE "C" NOT NULL,
		attempts        INTEGER NOT NULL,
		next_attempt_at BIGINT  NOT NULL,
		lease_owner     TEXT COLLATE "C" NOT NULL,
		lease_until     BIGINT  NOT NULL,
		message         BYTEA,
		ack             BYTEA,
		ack_code        TEXT    NOT NULL,
		last_error      TEXT    NOT NULL,
		created_at      BIGINT  NOT NULL,
		updated_at      BIGINT  NOT NULL
	);
	CREATE INDEX requests_due ON requests (next_attempt_at) WHERE status IN ('pending', 'sending');
	CREATE INDEX requests_appointment ON requests (appointment_id, seq);
	CREATE INDEX requests_status ON requests (status, seq);

	CREATE TABLE phone_flags (
		phone      TEXT COLLATE "C" NOT NULL PRIMARY KEY,
		code       INTEGER NOT NULL,
		flagged_at BIGINT  NOT NULL
	);

	CREATE TABLE api_tokens (
		id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
		name       TEXT   NOT NULL,
		hash       BYTEA  NOT NULL UNIQUE,
		created_at BIGINT NOT NULL,
		revoked_at BIGINT NOT NULL
	);

	CREATE TABLE reminders (
		seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		appointment_id TEXT COLLATE "C" NOT NULL,
		ordinal        INTEGER NOT NULL,
		start_utc      BIGINT  NOT NULL,
		due_at         BIGINT  NOT NULL,
		status         TEXT COLLATE "C" NOT NULL,
		reason         TEXT    NOT NULL,
		lease_owner    TEXT COLLATE "C" NOT NULL,
		lease_until    BIGINT  NOT NULL,
		sent_at        BIGINT  NOT NULL,
		created_at     BIGINT  NOT NULL,
		updated_at     BIGINT  NOT NULL
	);
	CREATE INDEX reminders_due ON reminders (due_at) WHERE status = 'planned';
	CREATE INDEX reminders_appointment ON reminders (appointment_id, seq);
	CREATE INDEX reminders_done ON reminders (updated_at, status) WHERE status IN ('sent', 'skipped');

	CREATE TABLE secrets (
		name       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
		value      BYTEA  NOT NULL,
		created_at BIGINT NOT NULL
	);

	CREATE TABLE login_codes (
		id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
		hash       BYTEA   NOT NULL,
		expires_at BIGINT  NOT NULL,
		max_tries  INTEGER NOT NULL,
		wrong      INTEGER NOT NULL,
		used_at    BIGINT  NOT NULL,
		created_at BIGINT  NOT NULL
	);

	CREATE TABLE admin_sessions (
		id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
		created_at   BIGINT NOT NULL,
		last_seen_at BIGINT NOT NULL,
		expires_at   BIGINT NOT NULL,
		ended_at     BIGINT NOT NULL,
		end_reason   TEXT   NOT NULL
	);

	CREATE TABLE audit_log (
		seq       BIGINT  NOT NULL PRIMARY KEY,
		at        BIGINT  NOT NULL,
		actor     TEXT    NOT NULL,
		action    TEXT    NOT NULL,
		target    TEXT    NOT NULL,
		detail    TEXT    NOT NULL,
		remote_ip TEXT    NOT NULL,
		prev_hash BYTEA   NOT NULL,
		hash      BYTEA   NOT NULL
	);
	CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
	CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
		FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
	CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
		FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();`,

	// 6: the S3 archive queue (store.Archive), as in the SQLite schema.
	`CREATE TABLE archive_jobs (
		seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		appointment_id   TEXT COLLATE "C" NOT NULL,
		event_id         TEXT COLLATE "C" NOT NULL,
		from_disposition TEXT    NOT NULL,
		to_disposition   TEXT    NOT NULL,
		state            TEXT    NOT NULL,
		attempts         INTEGER NOT NULL,
		next_attempt_at  BIGINT  NOT NULL,
		lease_owner      TEXT COLLATE "C" NOT NULL,
		lease_until      BIGINT  NOT NULL,
		last_error       TEXT    NOT NULL,
		created_at       BIGINT  NOT NULL
	);
	CREATE INDEX archive_jobs_appointment ON archive_jobs (appointment_id, seq);
	CREATE INDEX archive_jobs_due ON archive_jobs (next_attempt_at);`,

	// 7 (version 3 here): the patient id of an archive job's previous
	// state object, as in the SQLite schema.
	`ALTER TABLE archive_jobs ADD COLUMN from_patient_id TEXT NOT NULL DEFAULT '';
	UPDATE archive_jobs SET from_patient_id = COALESCE(state::json ->> 'patient_id', '') WHERE state <> '';`,

	// 8 (version 4 here): failed sign-ins, as in the SQLite schema.
	`CREATE TABLE signin_failures (
		id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		subject    TEXT COLLATE "C" NOT NULL,
		at         BIGINT  NOT NULL,
		expires_at BIGINT  NOT NULL
	);
	CREATE INDEX signin_failures_subject ON signin_failures (subject, at);
	CREATE INDEX signin_failures_expires ON signin_failures (expires_at);`,
}

// Advisory lock namespaces (the first key of pg_advisory_xact_lock(int,
// int)); the second key is a hash of the current schema, so stores in
// different schemas of one database do not wait for each other.
const (
	lockMigrate = 0x61620001 // "ab" 1
	lockAudit   = 0x61620002
)

// lockSQL takes the transaction-level advisory lock of namespace ns in
// the current schema.
const lockSQL = `SELECT pg_advisory_xact_lock($1::int, hashtext(current_schema()))`

// migrate brings the schema to the latest version. It is idempotent and
// safe against other processes starting at the same time: the check and
// the migrations run in one transaction under an advisory lock (and DDL
// is transactional in PostgreSQL: a failed migration leaves nothing).
func migrate(ctx context.Context, pool *pgxpool.Pool, now func() time.Time) error {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, lockSQL, int32(lockMigrate)); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at BIGINT  NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var cur int
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&cur); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if cur > len(migrations) {
		return fmt.Errorf("migrate: database schema version %d is newer than this program's %d", cur, len(migrations))
	}
	for v := cur + 1; v <= len(migrations); v++ {
		// Simple protocol: a migration is several statements.
		if _, err := tx.Exec(ctx, migrations[v-1], pgx.QueryExecModeSimpleProtocol); err != nil {
			return fmt.Errorf("migrate: version %d: %w", v, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
			v, micros(now())); err != nil {
			return fmt.Errorf("migrate: version %d: %w", v, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
