package mllp_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"strings"
	"time"

	"github.com/apptbridge/apptbridge/mllp"
)

func Example() {
	// A handler answering every message; a real one parses the HL7
	// message, commits it durably and only then returns an AA ACK.
	h := mllp.HandlerFunc(func(ctx context.Context, msg []byte) ([]byte, error) {
		if !strings.HasPrefix(string(msg), "MSH|") {
			return []byte("MSH|^~\\&|||||||ACK|1|P|2.5.1\rMSA|AE|\r"), nil
		}
		return []byte("MSH|^~\\&|||||||ACK|1|P|2.5.1\rMSA|AA|CTRL1\r"), nil
	})
	srv := &mllp.Server{Handler: h, ReadTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // or srv.ListenAndServe()
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	c := &mllp.Client{Addr: ln.Addr().String(), AckTimeout: 5 * time.Second}
	defer c.Close()
	ack, err := c.Send(context.Background(), []byte("MSH|^~\\&|EPIC|HOSP|||||SIU^S12|CTRL1|P|2.5.1\r"))
	if err != nil {
		log.Fatal(err) // Send never retries: the caller decides whether to resend
	}
	fmt.Printf("%q\n", strings.Split(string(ack), "\r")[1])
	// Output: "MSA|AA|CTRL1"
}

func ExampleChain() {
	var count int
	counting := func(next mllp.Handler) mllp.Handler {
		return mllp.HandlerFunc(func(ctx context.Context, msg []byte) ([]byte, error) {
			count++
			return next.ServeMLLP(ctx, msg)
		})
	}
	h := mllp.Chain(mllp.HandlerFunc(func(context.Context, []byte) ([]byte, error) {
		return []byte("ack"), nil
	}), counting)
	h.ServeMLLP(context.Background(), []byte("MSH|"))
	fmt.Println(count)
	// Output: 1
}
