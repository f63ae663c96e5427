package app

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"

	"go.uber.org/zap"
)

const limitPassword = "correct horse battery"

// startSignIn starts an App with sign-in on and env's settings.
func startSignIn(t *testing.T, env map[string]string) *App {
	t.Helper()
	env["APPLICATION_PASSWORD"] = limitPassword
	return startWith(t, testConfig(t, env), Options{Logger: zap.NewNop(), Version: "test"})
}

// login posts password to a's /auth/login: the status and Retry-After.
func login(t *testing.T, a *App, password string) (int, string) {
	t.Helper()
	resp, err := http.Post("http://"+a.HTTPAddr().String()+"/auth/login", "application/json",
		bytes.NewReader([]byte(`{"password":`+strconv.Quote(password)+`}`)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// wantThrottled checks that the right password is refused with 429 and
// a Retry-After of about 15 minutes.
func wantThrottled(t *testing.T, what string, a *App) {
	t.Helper()
	code, ra := login(t, a, limitPassword)
	secs, _ := strconv.Atoi(ra)
	if code != http.StatusTooManyRequests || secs < 800 || secs > 900 {
		t.Errorf("%s: HTTP %d, Retry-After %q; want 429 and about 900", what, code, ra)
	}
}

// TestSignInLimitSurvivesRestart: serve counts failed sign-ins in the
// store, so a restart (a new process on the same SQLite file) still
// refuses the 11th attempt.
func TestSignInLimitSurvivesRestart(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATA_DIR": t.TempDir()}
	a := startSignIn(t, env)
	for range 10 {
		if code, _ := login(t, a, "wrong password"); code != http.StatusUnauthorized {
			t.Fatalf("wrong password: HTTP %d, want 401", code)
		}
	}
	wantThrottled(t, "11th attempt", a)
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantThrottled(t, "11th attempt after a restart", startSignIn(t, env))
}

// TestSignInLimitSharedOnPostgres: two serve processes on one PostgreSQL
// database share the per-IP limit: 5 failures on each, and the 11th
// attempt is refused on either.
func TestSignInLimitSharedOnPostgres(t *testing.T) {
	t.Parallel()
	dsn := testDatabaseURL(t, "PWLIMIT4411")
	a := startSignIn(t, map[string]string{"DATABASE_URL": dsn})
	b := startSignIn(t, map[string]string{"DATABASE_URL": dsn})
	for i := range 10 {
		p := a
		if i%2 == 1 {
			p = b
		}
		if code, _ := login(t, p, "wrong password"); code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: HTTP %d, want 401", i+1, code)
		}
	}
	wantThrottled(t, "11th attempt on a", a)
	wantThrottled(t, "11th attempt on b", b)
}
