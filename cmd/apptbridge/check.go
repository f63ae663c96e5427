package main

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/apptbridge/apptbridge/app"
)

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envFile := fs.String("env-file", "", "read KEY=VALUE configuration from this file")
	list := fs.Bool("list", false, "list every configuration variable with its default")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *list {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VARIABLE\tDEFAULT\tMEANING")
		for _, v := range app.Vars {
			d := v.Default
			if d == "" {
				d = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, d, v.Help)
		}
		tw.Flush()
		return 0
	}
	cfg, errs := loadConfig(*envFile, nil)
	if len(errs) == 0 && cfg.MappingProfile != "" {
		if _, err := app.NewMapper(cfg); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintf(stdout, "FAIL %v\n", err)
		}
		fmt.Fprintf(stdout, "%d problem(s)\n", len(errs))
		return 1
	}
	mode := "Twilio"
	if cfg.SandboxSMS() {
		mode = "SMS sandbox (no Twilio credentials: no text is sent to any phone)"
	}
	where := "SQLite in " + cfg.DataDir
	if cfg.StoreKind() == "postgres" {
		where = "PostgreSQL at " + cfg.StoreLocation() + " (shared by every serve process on it)"
	}
	fmt.Fprintf(stdout, "OK configuration is valid\n   store: %s\n   texts: %s\n   mllp: %s  http: %s\n", where, mode, cfg.MLLPAddr, cfg.HTTPAddr)
	return 0
}
