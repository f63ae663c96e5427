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

	// 3: the outbox. Texts (outbound, written in the transaction of the
	// event that caused them, and inbound replies), requests to the EHR,
	// undeliverable phones, API tokens. Instants are unix microseconds,
	// 0 for none. A claimed row's next_attempt_at is pushed to the end of
	// its lease, so a row is due exactly when next_attempt_at <= now.
	`CREATE TABLE texts (
		id              TEXT    NOT NULL PRIMARY KEY,
		direction       TEXT    NOT NULL,
		appointment_id  TEXT    NOT NULL,
		event_id        TEXT    NOT NULL,
		kind            TEXT    NOT NULL,
		phone           TEXT    NOT NULL,
		language        TEXT    NOT NULL,
		snapshot        TEXT    NOT NULL,
		body            TEXT    NOT NULL,
		asks_reply      BOOLEAN NOT NULL,
		immediate       BOOLEAN NOT NULL,
		status          TEXT    NOT NULL,
		reason          TEXT    NOT NULL,
		sid             TEXT,
		error_code      INTEGER NOT NULL,
		attempts        INTEGER NOT NULL,
		next_attempt_at BIGINT  NOT NULL,
		lease_owner     TEXT    NOT NULL,
		lease_until     BIGINT  NOT NULL,
		sent_at         BIGINT  NOT NULL,
		created_at      BIGINT  NOT NULL,
		updated_at      BIGINT  NOT NULL
	);
	CREATE UNIQUE INDEX texts_sid ON texts (sid);
	CREATE INDEX texts_due ON texts (next_attempt_at) WHERE status IN ('pending', 'attempting');
	CREATE INDEX texts_phone ON texts (phone, created_at);
	CREATE INDEX texts_appointment ON texts (appointment_id, created_at);

	CREATE TABLE requests (
		seq             INTEGER PRIMARY KEY,
		id              TEXT    NOT NULL UNIQUE,
		appointment_id  TEXT    NOT NULL,
		event_id        TEXT    NOT NULL,
		type            TEXT    NOT NULL,
		snapshot        TEXT    NOT NULL,
		control_id      TEXT    NOT NULL,
		status          TEXT    NOT NULL,
		attempts        INTEGER NOT NULL,
		next_attempt_at BIGINT  NOT NULL,
		lease_owner     TEXT    NOT NULL,
		lease_until     BIGINT  NOT NULL,
		message         BLOB,
		ack             BLOB,
		ack_code        TEXT    NOT NULL,
		last_error      TEXT    NOT NULL,
		created_at      BIGINT  NOT NULL,
		updated_at      BIGINT  NOT NULL
	);
	CREATE INDEX requests_due ON requests (next_attempt_at) WHERE status IN ('pending', 'sending');
	CREATE INDEX requests_appointment ON requests (appointment_id, seq);
	CREATE INDEX requests_status ON requests (status, seq);

	CREATE INDEX appointments_phone_active ON appointments (patient_phone)
		WHERE disposition IN ('QUEUED', 'REMINDED-1', 'REMINDED-2', 'OPTED-OUT');

	CREATE TABLE phone_flags (
		phone      TEXT    NOT NULL PRIMARY KEY,
		code       INTEGER NOT NULL,
		flagged_at BIGINT  NOT NULL
	);

	CREATE TABLE api_tokens (
		id         TEXT   NOT NULL PRIMARY KEY,
		name       TEXT   NOT NULL,
		hash       BLOB   NOT NULL UNIQUE,
		created_at BIGINT NOT NULL,
		revoked_at BIGINT NOT NULL
	);`,

	// 4: reminder plans (one row per reminder and plan; a replan cancels
	// the planned rows and writes new ones), and the index that finds the
	// next active appointment to expire without scanning expired ones.
	`CREATE TABLE reminders (
		seq            INTEGER PRIMARY KEY,
		appointment_id TEXT    NOT NULL,
		ordinal        INTEGER NOT NULL,
		start_utc      BIGINT  NOT NULL,
		due_at         BIGINT  NOT NULL,
		status         TEXT    NOT NULL,
		reason         TEXT    NOT NULL,
		lease_owner    TEXT    NOT NULL,
		lease_until    BIGINT  NOT NULL,
		sent_at        BIGINT  NOT NULL,
		created_at     BIGINT  NOT NULL,
		updated_at     BIGINT  NOT NULL
	);
	CREATE INDEX reminders_due ON reminders (due_at) WHERE status = 'planned';
	CREATE INDEX reminders_appointment ON reminders (appointment_id, seq);
	CREATE INDEX appointments_active_start ON appointments (start_utc)
		WHERE disposition IN ('QUEUED', 'REMINDED-1', 'REMINDED-2');`,

	// 5: the admin page: persisted secrets, sign-in codes (hashed),
	// sessions, and the append-only, hash-chained audit log (triggers
	// refuse every UPDATE and DELETE). The partial indexes serve the
	// dashboard's 24-hour counts without scanning texts and reminders, and
	// the timeline's inbound messages of an appointment (by event id)
	// without scanning inbound; messages without an event stay out of it.
	`CREATE TABLE secrets (
		name       TEXT   NOT NULL PRIMARY KEY,
		value      BLOB   NOT NULL,
		created_at BIGINT NOT NULL
	);

	CREATE TABLE login_codes (
		id         TEXT    NOT NULL PRIMARY KEY,
		hash       BLOB    NOT NULL,
		expires_at BIGINT  NOT NULL,
		max_tries  INTEGER NOT NULL,
		wrong      INTEGER NOT NULL,
		used_at    BIGINT  NOT NULL,
		created_at BIGINT  NOT NULL
	);

	CREATE TABLE admin_sessions (
		id           TEXT   NOT NULL PRIMARY KEY,
		created_at   BIGINT NOT NULL,
		last_seen_at BIGINT NOT NULL,
		expires_at   BIGINT NOT NULL,
		ended_at     BIGINT NOT NULL,
		end_reason   TEXT   NOT NULL
	);

	CREATE TABLE audit_log (
		seq       INTEGER PRIMARY KEY,
		at        BIGINT  NOT NULL,
		actor     TEXT    NOT NULL,
		action    TEXT    NOT NULL,
		target    TEXT    NOT NULL,
		detail    TEXT    NOT NULL,
		remote_ip TEXT    NOT NULL,
		prev_hash BLOB    NOT NULL,
		hash      BLOB    NOT NULL
	);
	CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
		BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
	CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
		BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

	CREATE INDEX inbound_event_id ON inbound (event_id) WHERE event_id <> '';
	CREATE INDEX texts_sent_at ON texts (sent_at) WHERE sent_at > 0;
	CREATE INDEX texts_failed ON texts (updated_at) WHERE status IN ('failed', 'undelivered');
	CREATE INDEX reminders_done ON reminders (updated_at, status) WHERE status IN ('sent', 'skipped');`,

	// 6: the S3 archive queue (store.Archive): one job per history entry,
	// written in the event's transaction when archiving is on, deleted
	// once its objects are in S3. state is the appointment's JSON after
	// the event ('' for none). A claimed job's next_attempt_at is pushed
	// to the end of its lease, as for texts.
	`CREATE TABLE archive_jobs (
		seq              INTEGER PRIMARY KEY,
		appointment_id   TEXT    NOT NULL,
		event_id         TEXT    NOT NULL,
		from_disposition TEXT    NOT NULL,
		to_disposition   TEXT    NOT NULL,
		state            TEXT    NOT NULL,
		attempts         INTEGER NOT NULL,
		next_attempt_at  BIGINT  NOT NULL,
		lease_owner      TEXT    NOT NULL,
		lease_until      BIGINT  NOT NULL,
		last_error       TEXT    NOT NULL,
		created_at       BIGINT  NOT NULL
	);
	CREATE INDEX archive_jobs_appointment ON archive_jobs (appointment_id, seq);
	CREATE INDEX archive_jobs_due ON archive_jobs (next_attempt_at);`,

	// 7: the patient id of an archive job's previous state object (the
	// key the job deletes when the patient id changes). Jobs written
	// before take the patient id of their state, which deletes what the
	// archiver deleted before.
	`ALTER TABLE archive_jobs ADD COLUMN from_patient_id TEXT NOT NULL DEFAULT '';
	UPDATE archive_jobs SET from_patient_id = COALESCE(json_extract(state, '$.patient_id'), '') WHERE state <> '';`,

	// 8: failed sign-ins (store.Admin's sign-in failure counts), one row
	// per failure, shared by every process on the store. subject is the
	// counted key ("ip:<address>", "account:admin"); a row is deleted
	// once expires_at (its time plus the counting window) has passed.
	`CREATE TABLE signin_failures (
		id         INTEGER PRIMARY KEY,
		subject    TEXT    NOT NULL,
		at         BIGINT  NOT NULL,
		expires_at BIGINT  NOT NULL
	);
	CREATE INDEX signin_failures_subject ON signin_failures (subject, at);
	CREATE INDEX signin_failures_expires ON signin_failures (expires_at);`,
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
