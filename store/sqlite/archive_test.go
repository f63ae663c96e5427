package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
)

// TestMigrateFromV6: archive jobs waiting in a version-6 database get the
// patient id of their state as from_patient_id (what the archiver deleted
// before the column existed); a job without a state gets "".
func TestMigrateFromV6(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v6.db")
	old, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec("CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 6; v++ {
		if _, err := old.Exec(migrations[v-1]); err != nil {
			t.Fatal(err)
		}
		if _, err := old.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", v); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []struct{ seq, state string }{
		{"1", `{"appointment_id":"V-1","patient_id":"P-1","disposition":"QUEUED"}`},
		{"2", ``},
		{"3", `{"appointment_id":"V-3","disposition":"QUEUED"}`},
	} {
		if _, err := old.Exec(`INSERT INTO archive_jobs (seq, appointment_id, event_id, from_disposition, to_disposition,
			state, attempts, next_attempt_at, lease_owner, lease_until, last_error, created_at)
			VALUES ($1, 'V-'||$1, 'e'||$1, 'QUEUED', 'QUEUED', $2, 0, 0, '', 0, '', 0)`, r.seq, r.state); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	db, err := Open(t.Context(), path, Options{Archive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.rdb.Query("SELECT seq, from_patient_id FROM archive_jobs ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[int]string{}
	for rows.Next() {
		var seq int
		var pid string
		if err := rows.Scan(&seq, &pid); err != nil {
			t.Fatal(err)
		}
		got[seq] = pid
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1] != "P-1" || got[2] != "" || got[3] != "" {
		t.Errorf("from_patient_id after migration = %v, want 1:P-1 2:'' 3:''", got)
	}
}
