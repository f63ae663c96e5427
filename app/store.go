package app

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/postgres"
	"github.com/apptbridge/apptbridge/store/sqlite"
)

// StoreOptions are the options both store backends take.
type StoreOptions struct {
	Now      func() time.Time
	Planner  store.Planner
	OnCommit func(batchSize int, d time.Duration)
	// Archive writes an archive job per history entry (S3_BUCKET set).
	Archive bool
	// ReleaseLeases frees the leases a crashed run left in the SQLite
	// store (serve, which owns it, at start). Every other command keeps
	// them: it may run beside serve (token create, archive-backfill), and
	// freeing the lease of a text in flight could send it twice.
	ReleaseLeases bool
}

// StoreKind names the backend the configuration selects: "postgres" when
// DATABASE_URL is set, else "sqlite".
func (c Config) StoreKind() string {
	if c.DatabaseURL != "" {
		return "postgres"
	}
	return "sqlite"
}

// StoreLocation describes where the store is, safe to log: the SQLite
// file's directory, or the PostgreSQL URL without its password (and
// without query parameters, which may carry one).
func (c Config) StoreLocation() string {
	if c.DatabaseURL == "" {
		return c.DataDir
	}
	return RedactURL(c.DatabaseURL)
}

// RedactURL returns a database URL fit for logs: scheme, user, host and
// path; the password and query parameters are dropped. An unparseable URL
// gives "postgres://(unparseable)".
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" && u.Path == "" {
		return "postgres://(unparseable)"
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	if u.User != nil {
		r.User = url.User(u.User.Username())
	}
	return r.String()
}

// OpenStore opens the store the configuration selects (for commands such
// as `token create`; serve opens it through New, with ReleaseLeases).
func OpenStore(ctx context.Context, cfg Config, o StoreOptions) (store.Store, error) {
	return openStore(ctx, cfg, o, zap.NewNop())
}

// openStore opens PostgreSQL when DATABASE_URL is set, else the embedded
// SQLite store under DATA_DIR. Only the SQLite store, owned by this one
// process, releases the outbox leases a crashed run left; on PostgreSQL
// other live processes may hold leases, so those run out instead.
func openStore(ctx context.Context, cfg Config, o StoreOptions, log *zap.Logger) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{
			Now: o.Now, Planner: o.Planner, OnCommit: o.OnCommit, Archive: o.Archive,
		})
		if err != nil {
			// postgres.Open never quotes the URL; the message names
			// the variable and the redacted location.
			return nil, fmt.Errorf("open store (DATABASE_URL %s): %w", RedactURL(cfg.DatabaseURL), scrubURL(err, cfg.DatabaseURL))
		}
		return db, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create DATA_DIR: %w", err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "apptbridge.db"), sqlite.Options{
		Now: o.Now, Planner: o.Planner, OnCommit: o.OnCommit, Archive: o.Archive,
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if !o.ReleaseLeases {
		return db, nil
	}
	// One process owns the embedded store: leases left by a crashed run
	// are released now instead of expiring minutes later.
	now := o.Now
	if now == nil {
		now = time.Now
	}
	if n, err := db.ReleaseLeases(ctx, now()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	} else if n > 0 {
		log.Info("released outbox leases of the previous run", zap.Int("rows", n))
	}
	return db, nil
}

// scrubURL makes sure an error's text holds no password of raw (a driver
// error may quote the connection string).
func scrubURL(err error, raw string) error {
	u, perr := url.Parse(raw)
	if perr != nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), pw, "xxxxx"))
}
