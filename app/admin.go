package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/apptbridge/apptbridge/auth"
	"github.com/apptbridge/apptbridge/mllp"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/web"
)

// jwtSecretName is the store secret the admin tokens' key derives from
// (with SALT). It is created on first start and shared by every process
// on the store.
const jwtSecretName = "admin-jwt-v1"

// adminAuth builds the admin sign-in from the configuration; nil Password
// (sign-in off) when no password is configured. Failed sign-ins are
// counted in the store, so every process on it shares the limits.
func adminAuth(ctx context.Context, cfg Config, db store.Store) (*web.AuthConfig, error) {
	secret, err := db.Secret(ctx, jwtSecretName, func() []byte {
		b := make([]byte, 32)
		rand.Read(b)
		return b
	})
	if err != nil {
		return nil, fmt.Errorf("admin sign-in secret: %w", err)
	}
	c := &web.AuthConfig{
		Keys:         auth.NewKeys(secret, cfg.Salt.Value()),
		AdminPhone:   cfg.AdminPhone(),
		Limiter:      web.NewStoreLimiter(db, "ip:", auth.DefaultMaxFailures, auth.DefaultWindow),
		Account:      web.NewStoreLimiter(db, "account:", web.AccountFailures, web.AccountWindow),
		CustomerName: cfg.CustomerName,
	}
	if cfg.LoginEnabled() {
		if c.Password, err = auth.NewPassword(cfg.ApplicationPassword.Value(), cfg.ApplicationPasswordHash.Value()); err != nil {
			return nil, fmt.Errorf("admin password: %w", err)
		}
	}
	return c, nil
}

// simulate sends msg to this process's own MLLP listener over loopback and
// returns the ACK: the admin page's simulator takes the EHR's path. With
// TLS or an IP allow-list on the listener, the message goes to the same
// handler in process instead (the simulator has no client certificate).
func (a *App) simulate(ctx context.Context, msg []byte) ([]byte, error) {
	if a.mllp.TLSConfig != nil || len(a.cfg.MLLPAllowedIPs) > 0 || a.mllpLn == nil {
		return a.ing.ServeMLLP(ctx, msg)
	}
	host, port, err := net.SplitHostPort(a.mllpLn.Addr().String())
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	c := &mllp.Client{Addr: net.JoinHostPort(host, port), DialTimeout: 5 * time.Second, AckTimeout: 30 * time.Second}
	defer c.Close()
	return c.Send(ctx, msg)
}

// boundMLLPAddr is the MLLP listener's address once bound (the port
// chosen for ":0"), else the configured one.
func (a *App) boundMLLPAddr() string {
	if a.mllpLn != nil {
		return a.mllpLn.Addr().String()
	}
	return a.cfg.MLLPAddr
}

// securityHeaders are set on every HTTP response; the admin page's
// handler adds its Content-Security-Policy.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		if r.TLS != nil {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.ServeHTTP(w, r)
	})
}
