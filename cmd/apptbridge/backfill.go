package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/apptbridge/apptbridge/app"
)

// backfillPage is the number of events queued per transaction.
const backfillPage = 500

// cmdArchiveBackfill queues S3 archive jobs for the recorded history
// (store.Archive.BackfillArchive), page by page, and exits: the S3
// workers of the serve processes (now or later) write them. Output names
// counts and seqs only.
func cmdArchiveBackfill(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("archive-backfill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envFile := fs.String("env-file", "", "read KEY=VALUE configuration from this file")
	sinceFlag := fs.String("since", "", "only events recorded on or after this day, YYYY-MM-DD (UTC)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(stderr, "usage: apptbridge archive-backfill [--env-file F] [--since YYYY-MM-DD]")
		return 2
	}
	var since time.Time
	if *sinceFlag != "" {
		t, err := time.Parse("2006-01-02", *sinceFlag)
		if err != nil {
			fmt.Fprintf(stderr, "apptbridge archive-backfill: --since %q: want a day as YYYY-MM-DD\n", *sinceFlag)
			return 2
		}
		since = t
	}
	cfg, errs := loadConfig(*envFile, nil)
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintf(stderr, "apptbridge: config: %v\n", err)
		}
		return 1
	}
	if cfg.S3Bucket == "" {
		fmt.Fprintln(stderr, "apptbridge archive-backfill: S3_BUCKET is not set: the S3 archive is off, nothing would write the jobs (set S3_BUCKET and CUSTOMER_CODE as for serve)")
		return 1
	}
	// The store serve uses, with archiving on (as serve opens it with
	// S3_BUCKET set); a serve running on the same SQLite file keeps its
	// leases.
	db, err := app.OpenStore(ctx, cfg, app.StoreOptions{Archive: true})
	if err != nil {
		fmt.Fprintf(stderr, "apptbridge archive-backfill: %v\n", err)
		return 1
	}
	defer db.Close()
	var total int
	var after int64
	for {
		n, last, err := db.BackfillArchive(ctx, after, since, backfillPage)
		if err != nil {
			fmt.Fprintf(stderr, "apptbridge archive-backfill: %v (%d jobs queued before, through event seq %d; run again with the same flags: what is archived twice is written with the same bytes)\n", err, total, after)
			return 1
		}
		if n == 0 {
			break
		}
		total += n
		after = last
		fmt.Fprintf(stdout, "queued %d archive jobs (%d in all, through event seq %d)\n", n, total, after)
	}
	fmt.Fprintf(stdout, "done: %d archive jobs queued for bucket %s; the S3 workers of the serve processes write them (apptbridge_archive_depth shows what is left)\n", total, cfg.S3Bucket)
	return 0
}
