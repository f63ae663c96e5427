package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/mllp"
)

// cmdEHRSim is a stand-in EHR: it accepts MLLP messages, prints one line
// per message (control id and type, never patient data) and answers.
func cmdEHRSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ehr-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:2576", "MLLP listen address")
	answer := fs.String("answer", "AA", "reply with AA, AE, AR, or none (no reply: the connection is closed)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch *answer {
	case "AA", "AE", "AR", "none":
	default:
		fmt.Fprintln(stderr, "apptbridge ehr-sim: --answer must be AA, AE, AR or none")
		return 2
	}
	var seq atomic.Uint64
	h := mllp.HandlerFunc(func(ctx context.Context, msg []byte) ([]byte, error) {
		m, err := hl7.Parse(msg)
		if err != nil {
			fmt.Fprintf(stdout, "%s\tunparseable\t-\n", time.Now().UTC().Format(time.RFC3339))
			return hl7.BuildAckRaw(msg, hl7.AckOptions{Code: "AE", Text: "unparseable", Now: time.Now(), ControlID: fmt.Sprintf("SIM%d", seq.Add(1))}), nil
		}
		typ, trig, _ := m.Type()
		fmt.Fprintf(stdout, "%s\t%s^%s\t%s\t%s\n", time.Now().UTC().Format(time.RFC3339), typ, trig, m.ControlID(), *answer)
		if *answer == "none" {
			return nil, nil
		}
		o := hl7.AckOptions{Code: hl7.AckCode(*answer), Now: time.Now(), ControlID: fmt.Sprintf("SIM%d", seq.Add(1))}
		if *answer != "AA" {
			o.Text = "rejected by ehr-sim"
			o.Errors = []hl7.AckError{{Code: 207, Severity: "E", Text: "ehr-sim configured to answer " + *answer}}
		}
		return hl7.BuildAck(m, o), nil
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "apptbridge ehr-sim: %v\n", err)
		return 1
	}
	srv := &mllp.Server{Handler: h}
	fmt.Fprintf(stderr, "ehr-sim listening on %s, answering %s\n", ln.Addr(), *answer)
	return serveUntil(ctx, "ehr-sim", stderr, func() error { return srv.Serve(ln) }, srv.Shutdown, mllp.ErrServerClosed)
}

// serveUntil runs serve until ctx ends (then shutdown, with 5 s to finish:
// exit 0) or serve fails (exit 1 unless it reports closed).
func serveUntil(ctx context.Context, name string, stderr io.Writer, serve func() error,
	shutdown func(context.Context) error, closed error) int {
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shutdown(sctx)
		return 0
	case err := <-errc:
		if errors.Is(err, closed) {
			return 0
		}
		fmt.Fprintf(stderr, "apptbridge %s: %v\n", name, err)
		return 1
	}
}
