package hl7

import (
	"bytes"
	"os"
	"testing"
)

const benchCorpus = "../../shared/bench/corpus/siu_sample_1k.hl7"

// benchMessages reads the benchmark corpus: one message per line, segments
// separated by \r.
func benchMessages(b *testing.B) [][]byte {
	b.Helper()
	data, err := os.ReadFile(benchCorpus)
	if err != nil {
		b.Skipf("benchmark corpus: %v", err)
	}
	var msgs [][]byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			msgs = append(msgs, line)
		}
	}
	if len(msgs) == 0 {
		b.Skip("benchmark corpus is empty")
	}
	return msgs
}

func reportRate(b *testing.B, msgs [][]byte) {
	var n int
	for _, m := range msgs {
		n += len(m)
	}
	b.SetBytes(int64(n / len(msgs)))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkParse(b *testing.B) {
	msgs := benchMessages(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(msgs[i%len(msgs)]); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, msgs)
}

var sink string

func BenchmarkParseGet(b *testing.B) {
	msgs := benchMessages(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := Parse(msgs[i%len(msgs)])
		if err != nil {
			b.Fatal(err)
		}
		sink = m.Get("SCH-1")
		sink = m.Get("SCH-2")
		sink = m.Get("SCH-11.4")
		sink = m.Get("PID-3")
		sink = m.Get("PID-5")
		pid := m.Segment("PID")
		for r := 1; r <= pid.Reps(13); r++ {
			sink = pid.Value(13, r, 3, 0)
		}
		sink = m.Get("AIL-3")
		sink = m.Get("AIP-3")
		sink = m.Get("SCH-25")
		sink = m.Get("MSH-10")
	}
	reportRate(b, msgs)
}
