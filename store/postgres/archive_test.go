package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestMigrateFromV6: archive jobs waiting in a schema of version 2 (the
// SQLite store's 6, the archive queue without from_patient_id) get the
// patient id of their state as from_patient_id (what the archiver deleted
// before the column existed); a job without a state gets "".
func TestMigrateFromV6(t *testing.T) {
	dsn := testSchema(t)
	ctx := context.Background()
	conn, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 2; v++ {
		if _, err := conn.Exec(ctx, migrations[v-1], pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatalf("migration %d: %v", v, err)
		}
		if _, err := conn.Exec(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", v); err != nil {
			t.Fatal(err)
		}
	}
	for _, state := range []string{
		`{"appointment_id":"V-1","patient_id":"P-1","disposition":"QUEUED"}`,
		``,
		`{"appointment_id":"V-3","disposition":"QUEUED"}`,
	} {
		if _, err := conn.Exec(ctx, `INSERT INTO archive_jobs (appointment_id, event_id, from_disposition, to_disposition,
			state, attempts, next_attempt_at, lease_owner, lease_until, last_error, created_at)
			VALUES ('V', 'e', 'QUEUED', 'QUEUED', $1, 0, 0, '', 0, '', 0)`, state); err != nil {
			t.Fatal(err)
		}
	}

	conn.Close()
	db := openURL(t, dsn, Options{Archive: true})
	rows, err := db.pool.Query(ctx, "SELECT from_patient_id FROM archive_jobs ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != "P-1" || got[1] != "" || got[2] != "" {
		t.Errorf("from_patient_id after migration = %q, want [P-1 '' '']", got)
	}
}
