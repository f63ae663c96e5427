package mllp

import (
	"context"
	"crypto/tls"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func TestServerMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	rec := newRecorder()
	h := &echoHandler{}
	var mu sync.Mutex
	var peerCN string
	s := &Server{
		Handler: Chain(h, func(next Handler) Handler {
			return HandlerFunc(func(ctx context.Context, msg []byte) ([]byte, error) {
				if ci, ok := ConnInfoFromContext(ctx); ok && ci.TLS != nil && len(ci.TLS.PeerCertificates) > 0 {
					mu.Lock()
					peerCN = ci.TLS.PeerCertificates[0].Subject.CommonName
					mu.Unlock()
				}
				return next.ServeMLLP(ctx, msg)
			})
		}),
		ReadTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{pki.server},
			ClientCAs:    pki.pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
			MinVersion:   tls.VersionTLS12,
		},
	}
	rec.hook(s)
	addr := startServer(t, s)

	tests := []struct {
		name   string
		config *tls.Config
		ok     bool
	}{
		{"no client certificate", &tls.Config{RootCAs: pki.pool}, false},
		{"no client certificate, TLS 1.2", &tls.Config{RootCAs: pki.pool, MaxVersion: tls.VersionTLS12}, false},
		{"TLS 1.1 refused", &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
		{"self-signed client certificate", &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{newTestPKI(t).client}}, false},
		{"client certificate", &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}}, true},
	}
	rejected := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Client{Addr: addr, TLSConfig: tt.config, AckTimeout: 10 * time.Second}
			defer c.Close()
			ack, err := c.Send(context.Background(), []byte("MSH|1"))
			if !tt.ok {
				if err == nil {
					t.Fatalf("Send succeeded with ack %q, want rejection", ack)
				}
				rejected++
				rec.waitFor(t, "StateRejected", func() bool { return rec.count(StateRejected) == rejected })
				if h.calls.Load() != 0 {
					t.Fatalf("handler called for a rejected client")
				}
				return
			}
			if err != nil || string(ack) != "ACK|MSH|1" {
				t.Fatalf("Send = %q, %v", ack, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if peerCN != "hospital-engine" {
				t.Errorf("peer CN in ConnInfo = %q", peerCN)
			}
		})
	}
}

func TestServerTLSAllowlistBeforeHandshake(t *testing.T) {
	pki := newTestPKI(t)
	rec := newRecorder()
	s := &Server{
		Handler:     &echoHandler{},
		AllowedNets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		TLSConfig:   &tls.Config{Certificates: []tls.Certificate{pki.server}},
	}
	rec.hook(s)
	c := &Client{Addr: startServer(t, s), TLSConfig: &tls.Config{RootCAs: pki.pool}, DialTimeout: 10 * time.Second}
	if _, err := c.Send(context.Background(), []byte("A")); err == nil {
		t.Fatal("valid certificate from a non-allowlisted IP was served")
	}
	rec.waitFor(t, "StateRejected", func() bool { return rec.count(StateRejected) == 1 })
}
