package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/apptbridge/apptbridge/notify/twilio/twiliotest"
)

// cmdTwilioSim runs a local stand-in for Twilio's Messages API (for demos
// and for gateways' tests): point TWILIO_API_BASE_URL at it. It prints one
// line per text created (SID, status; the body only with --verbose), then
// reports it sent and delivered through the text's status callback. POST
// /sim/inbound (form From, Body) delivers a patient's reply to --webhook,
// signed like Twilio does.
func cmdTwilioSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("twilio-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9999", "listen address")
	account := fs.String("account", "AC00000000000000000000000000000000", "account SID it accepts")
	token := fs.String("token", "00000000000000000000000000000000", "auth token it accepts and signs webhooks with")
	webhook := fs.String("webhook", "http://127.0.0.1:8080/twilio/sms", "where /sim/inbound delivers replies (apptbridge's /twilio/sms as PUBLIC_BASE_URL names it)")
	number := fs.String("number", "+15005550006", "our Twilio number (To of replies)")
	verbose := fs.Bool("verbose", false, "print message bodies (demo data only)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	s := twiliotest.NewServer(*account, *token)
	var mu sync.Mutex
	s.Logger = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stdout, "%s\t%s\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
	}
	s.Verbose = *verbose
	s.OnCreate = func(m twiliotest.Message) {
		if m.StatusCallback == "" {
			return
		}
		for _, st := range []string{"sent", "delivered"} {
			time.Sleep(200 * time.Millisecond)
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			s.Callback(cctx, m.SID, st, 0)
			cancel()
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sim/inbound", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("From") == "" {
			http.Error(w, "form fields From and Body required", http.StatusBadRequest)
			return
		}
		sid, status, err := s.Inbound(r.Context(), *webhook, r.PostForm.Get("From"), *number, r.PostForm.Get("Body"))
		if err != nil {
			http.Error(w, "webhook call failed: "+err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "%s %d\n", sid, status)
	})
	mux.Handle("/", s)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "apptbridge twilio-sim: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "twilio-sim listening on http://%s (account %s); replies go to %s\n", ln.Addr(), *account, *webhook)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return serveUntil(ctx, "twilio-sim", stderr, func() error { return srv.Serve(ln) }, srv.Shutdown, http.ErrServerClosed)
}
