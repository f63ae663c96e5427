package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/app"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/web"
)

// cmdToken manages API tokens: `token create NAME` stores a new token's
// hash and prints the token once (it cannot be shown again).
func cmdToken(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: apptbridge token create [--env-file F] [--data-dir D] NAME")
		return 2
	}
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envFile := fs.String("env-file", "", "read KEY=VALUE configuration from this file")
	dataDir := fs.String("data-dir", "", "data directory (overrides DATA_DIR)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() != 1 || strings.TrimSpace(fs.Arg(0)) == "" || len(fs.Arg(0)) > 100 {
		fmt.Fprintln(stderr, "apptbridge token create: give the token one NAME (who or what uses it, up to 100 characters)")
		return 2
	}
	name := strings.TrimSpace(fs.Arg(0))
	cfg, errs := loadConfig(*envFile, map[string]string{"DATA_DIR": *dataDir})
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintf(stderr, "apptbridge: config: %v\n", err)
		}
		return 1
	}
	// The store serve uses: PostgreSQL with DATABASE_URL, else SQLite in
	// DATA_DIR.
	db, err := app.OpenStore(ctx, cfg, app.StoreOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "apptbridge token create: %v\n", err)
		return 1
	}
	defer db.Close()
	tok, hash := web.NewToken()
	if err := db.CreateToken(ctx, &store.Token{ID: apptbridge.NewEventID(), Name: name, Hash: hash}); err != nil {
		fmt.Fprintf(stderr, "apptbridge token create: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	fmt.Fprintf(stderr, "API token %q created; it is shown only now. Use it as: Authorization: Bearer <token>\n", name)
	return 0
}
