package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/mllp"
)

func TestDatabaseURLConfig(t *testing.T) {
	get := func(env map[string]string) func(string) string {
		return func(k string) string { return env[k] }
	}
	cfg, errs := Load(get(map[string]string{"DATABASE_URL": "postgres://app:s3cretPW@db.example:5432/appt?sslmode=require"}))
	if len(errs) > 0 {
		t.Fatalf("a postgres URL is rejected: %v", errs)
	}
	if cfg.StoreKind() != "postgres" {
		t.Errorf("StoreKind %q, want postgres", cfg.StoreKind())
	}
	if loc := cfg.StoreLocation(); strings.Contains(loc, "s3cretPW") || loc != "postgres://app@db.example:5432/appt" {
		t.Errorf("StoreLocation %q, want the URL without password and query", loc)
	}
	for _, bad := range []string{"mysql://app:s3cretPW@db/x", "postgres://app:s3cretPW@%zz/x"} {
		_, errs := Load(get(map[string]string{"DATABASE_URL": bad}))
		if len(errs) == 0 {
			t.Errorf("%q accepted", bad)
		}
		for _, err := range errs {
			if strings.Contains(err.Error(), "s3cretPW") {
				t.Errorf("config error quotes the password: %v", err)
			}
		}
	}
	if cfg, _ := Load(get(nil)); cfg.StoreKind() != "sqlite" {
		t.Errorf("StoreKind without DATABASE_URL %q, want sqlite", cfg.StoreKind())
	}
}

// testDatabaseURL returns APPTBRIDGE_TEST_POSTGRES with a password added
// (the test cluster trusts loopback, so it is ignored) and a fresh schema
// on the search_path, dropped at cleanup; it skips without the variable
// (fails under CI=true).
func testDatabaseURL(t *testing.T, password string) string {
	t.Helper()
	base := os.Getenv("APPTBRIDGE_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("APPTBRIDGE_TEST_POSTGRES is not set (CI=true)")
		}
		t.Skip("APPTBRIDGE_TEST_POSTGRES not set")
	}
	ctx := context.Background()
	name := fmt.Sprintf("apptest_%d_%d", os.Getpid(), time.Now().UnixNano())
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, base)
		if err == nil {
			c.Exec(ctx, "DROP SCHEMA "+name+" CASCADE")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), password)
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestServeOnPostgres starts the App with DATABASE_URL: an SIU is stored
// and ACKed, /readyz answers from the database, the start-up log names the
// store and never the password.
func TestServeOnPostgres(t *testing.T) {
	const pw = "PWCANARY9931"
	dsn := testDatabaseURL(t, pw)
	logs := &syncBuffer{}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(logs), zapcore.DebugLevel))
	a, err := New(context.Background(), testConfig(t, map[string]string{"DATABASE_URL": dsn}), Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	if got := fmt.Sprintf("%T", a.Store()); got != "*postgres.DB" {
		t.Fatalf("store %s, want *postgres.DB", got)
	}
	c := &mllp.Client{Addr: a.MLLPAddr().String(), AckTimeout: 10 * time.Second}
	defer c.Close()
	ack, err := c.Send(context.Background(), []byte("MSH|^~\\&|EHR|HOSP|APPTBRIDGE|CLINIC|20261127090000||SIU^S12|PG1|P|2.5.1\r"+
		"SCH|PGA1||||||Checkup|Normal|30|MIN|^^30^20301127090000\r"+
		"PID|1||M1^^^H^MR||Doe^Jo||19800101|F\r"))
	if err != nil {
		t.Fatal(err)
	}
	if m, err := hl7.Parse(ack); err != nil || m.Get("MSA-1") != "AA" {
		t.Fatalf("ACK %q %v", ack, err)
	}
	if _, err := a.Store().Appointment(context.Background(), "PGA1"); err != nil {
		t.Fatalf("appointment not in PostgreSQL: %v", err)
	}
	resp, err := http.Get("http://" + a.HTTPAddr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/readyz %d %s", resp.StatusCode, body)
	}
	out := logs.String()
	if !strings.Contains(out, `"store":"postgres"`) {
		t.Errorf("start-up log does not name the store: %s", out)
	}
	if strings.Contains(out, pw) {
		t.Errorf("the log holds the database password")
	}
	// With the database gone, /readyz says so.
	a.Store().Close()
	resp, err = http.Get("http://" + a.HTTPAddr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the store closed: %d, want 503", resp.StatusCode)
	}
}
