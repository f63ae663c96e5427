// Command apptbridge is the appointment bridge: an HL7 v2 SIU receiver over
// MLLP that keeps appointment state and texts patients. Run
// `apptbridge help` for the commands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // appointment zones work on hosts without /usr/share/zoneinfo
)

// Set with -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = "unknown"
)

const usage = `apptbridge — HL7 v2 appointments in, patient texts out

Usage:
  apptbridge serve [--env-file F] [--mllp-addr A] [--http-addr A] [--data-dir D]
  apptbridge map [--tz ZONE] [--country CC] [--profile FILE] [FILE...]
  apptbridge send --addr HOST:PORT [--tls] [--ca F] [--cert F --key F] [--server-name N] FILE...
  apptbridge ehr-sim --listen ADDR [--answer AA|AE|AR|none]
  apptbridge check [--env-file F] [--list]
  apptbridge conformance [DIR]
  apptbridge token create [--env-file F] [--data-dir D] NAME
  apptbridge archive-backfill [--env-file F] [--since YYYY-MM-DD]
  apptbridge hash-password < FILE      (argon2id hash for APPLICATION_PASSWORD_HASH)
  apptbridge twilio-sim --listen ADDR [--account AC… --token T] [--verbose]
  apptbridge version

Configuration comes from environment variables (see README.md or
'apptbridge check --list'); --env-file reads KEY=VALUE lines for variables
that are not set in the environment.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stderr)
	case "map":
		return cmdMap(rest, stdin, stdout, stderr)
	case "send":
		return cmdSend(ctx, rest, stdout, stderr)
	case "ehr-sim":
		return cmdEHRSim(ctx, rest, stdout, stderr)
	case "check":
		return cmdCheck(rest, stdout, stderr)
	case "token":
		return cmdToken(ctx, rest, stdout, stderr)
	case "archive-backfill":
		return cmdArchiveBackfill(ctx, rest, stdout, stderr)
	case "hash-password":
		return cmdHashPassword(rest, stdin, stdout, stderr)
	case "twilio-sim":
		return cmdTwilioSim(ctx, rest, stdout, stderr)
	case "conformance":
		return cmdConformance(rest, stdout, stderr)
	case "version", "--version", "-v":
		return cmdVersion(stdout)
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "apptbridge: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}
