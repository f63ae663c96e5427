package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/apptbridge/apptbridge/app"
)

// loadConfig reads --env-file (if given) and the environment, then applies
// flag overrides.
func loadConfig(envFile string, overrides map[string]string) (app.Config, []error) {
	file := map[string]string{}
	if envFile != "" {
		f, err := app.ReadEnvFile(envFile)
		if err != nil {
			return app.Config{}, []error{err}
		}
		file = f
	}
	env := app.Getenv(file)
	return app.Load(func(k string) string {
		if v := overrides[k]; v != "" {
			return v
		}
		return env(k)
	})
}

func newLogger(level string, w io.Writer) *zap.Logger {
	lvl := zapcore.InfoLevel
	_ = lvl.Set(level)
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "ts"
	enc.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(w)), lvl)
	return zap.New(core)
}

func cmdServe(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envFile := fs.String("env-file", "", "read KEY=VALUE configuration from this file")
	mllpAddr := fs.String("mllp-addr", "", "MLLP listen address (overrides MLLP_ADDR)")
	httpAddr := fs.String("http-addr", "", "HTTP listen address (overrides HTTP_ADDR)")
	dataDir := fs.String("data-dir", "", "data directory (overrides DATA_DIR)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, errs := loadConfig(*envFile, map[string]string{
		"MLLP_ADDR": *mllpAddr, "HTTP_ADDR": *httpAddr, "DATA_DIR": *dataDir,
	})
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintf(stderr, "apptbridge: config: %v\n", err)
		}
		return 1
	}
	log := newLogger(cfg.LogLevel, os.Stderr)
	defer log.Sync()
	a, err := app.New(ctx, cfg, app.Options{Logger: log, Version: version, Commit: commit})
	if err != nil {
		log.Error("start failed", zap.Error(err))
		return 1
	}
	if err := a.Start(ctx); err != nil {
		log.Error("start failed", zap.Error(err))
		a.Shutdown(context.Background())
		return 1
	}
	code := 0
	select {
	case <-ctx.Done():
		log.Info("shutting down: signal received")
	case err := <-a.Errors():
		log.Error("serve failed", zap.Error(err))
		code = 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Shutdown(sctx); err != nil {
		log.Error("shutdown", zap.Error(err))
		code = 1
	}
	return code
}
