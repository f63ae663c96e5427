package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/ingest"
	"github.com/apptbridge/apptbridge/mllp"
)

func cmdSend(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:2575", "MLLP server HOST:PORT")
	useTLS := fs.Bool("tls", false, "connect with TLS")
	caFile := fs.String("ca", "", "PEM CA bundle to verify the server (with --tls)")
	certFile := fs.String("cert", "", "PEM client certificate for mutual TLS")
	keyFile := fs.String("key", "", "PEM client key for mutual TLS")
	serverName := fs.String("server-name", "", "TLS server name (default: host of --addr)")
	insecure := fs.Bool("insecure", false, "with --tls: do not verify the server certificate (testing only)")
	timeout := fs.Duration("timeout", 30*time.Second, "ACK timeout per message")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "apptbridge send: no FILE given (use - for stdin)")
		return 2
	}
	c := &mllp.Client{Addr: *addr, AckTimeout: *timeout}
	if *useTLS || *certFile != "" || *caFile != "" {
		tc := &tls.Config{ServerName: *serverName, InsecureSkipVerify: *insecure, MinVersion: tls.VersionTLS12}
		if *caFile != "" {
			pem, err := os.ReadFile(*caFile)
			if err != nil {
				fmt.Fprintf(stderr, "apptbridge send: %v\n", err)
				return 2
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				fmt.Fprintln(stderr, "apptbridge send: --ca: no PEM certificates found")
				return 2
			}
			tc.RootCAs = pool
		}
		if *certFile != "" {
			cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
			if err != nil {
				fmt.Fprintf(stderr, "apptbridge send: --cert/--key: %v\n", err)
				return 2
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		c.TLSConfig = tc
	}
	defer c.Close()
	failed := false
	for _, name := range fs.Args() {
		var b []byte
		var err error
		if name == "-" {
			b, err = io.ReadAll(os.Stdin)
		} else {
			b, err = os.ReadFile(name)
		}
		if err != nil {
			fmt.Fprintf(stderr, "apptbridge send: %v\n", err)
			return 2
		}
		msgs, err := hl7.SplitBatch(b)
		if err != nil {
			fmt.Fprintf(stderr, "apptbridge send: %s: %v\n", name, err)
			failed = true
			continue
		}
		for _, m := range msgs {
			ack, err := c.Send(ctx, m)
			if err != nil {
				fmt.Fprintf(stdout, "%s\tERROR\t%v\n", ingest.SalvageControlID(m), err)
				failed = true
				continue
			}
			code, cid, text := ackSummary(ack)
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", cid, code, text)
			if code != "AA" && code != "CA" {
				failed = true
			}
		}
	}
	if failed {
		return 1
	}
	return 0
}

// ackSummary returns MSA-1, MSA-2 and a text (MSA-3, else ERR-8/ERR-3.2).
func ackSummary(ack []byte) (code, cid, text string) {
	m, err := hl7.Parse(ack)
	if err != nil {
		return "??", "", "unparseable ACK"
	}
	code, cid, text = m.Get("MSA-1"), m.Get("MSA-2"), m.Get("MSA-3")
	if e := m.Segment("ERR"); e != nil {
		detail, loc := e.Value(3, 1, 1, 0), e.Value(2, 1, 0, 0)
		if t := e.Value(3, 1, 2, 0); t != "" {
			detail += " " + t
		}
		if detail == "" { // before v2.5: ERR-1 = segment^seq^field^code&text
			detail = strings.TrimSpace(e.Value(1, 1, 4, 1) + " " + e.Value(1, 1, 4, 2))
			loc = strings.TrimRight(e.Value(1, 1, 1, 0)+"-"+e.Value(1, 1, 3, 0), "-")
		}
		if loc != "" {
			detail += " at " + loc
		}
		if detail != "" {
			text = text + " (" + detail + ")"
		}
	}
	return code, cid, text
}
