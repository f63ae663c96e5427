package notify_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/apptbridge/apptbridge/store"
)

// BenchmarkWorkerSandbox measures the outbox worker's cost per text with
// the sandbox sender (no network): claim, the state check and "attempting"
// mark in one commit, the result in another. Compare with
// BenchmarkSaveTextBaseline in the same run: one durable write.
func BenchmarkWorkerSandbox(b *testing.B) {
	r := newRig(b)
	r.w.Sender = nil
	r.w.Batch = 64
	for i := range b.N {
		r.book(b, fmt.Sprintf("B%d", i), fmt.Sprintf("+1773555%04d", i%10000))
	}
	b.ResetTimer()
	sent := 0
	for sent < b.N {
		n, err := r.w.RunOnce(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatalf("outbox empty after %d of %d", sent, b.N)
		}
		sent += n
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "texts/s")
}

// BenchmarkSaveTextBaseline is one durable write per text (the floor the
// worker's three writes per text are measured against).
func BenchmarkSaveTextBaseline(b *testing.B) {
	r := newRig(b)
	for i := range b.N {
		r.book(b, fmt.Sprintf("B%d", i), fmt.Sprintf("+1773555%04d", i%10000))
	}
	texts, err := r.db.ClaimTexts(context.Background(), "bench", r.clk.Now(), 1<<40, b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for _, t := range texts {
		t.Status = store.TextSandbox
		if err := r.db.SaveText(context.Background(), "bench", t); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}
