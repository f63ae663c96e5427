package ingest_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge/ingest"
	"github.com/apptbridge/apptbridge/mapping"
	"github.com/apptbridge/apptbridge/store/sqlite"
)

// benchCorpus loads the shared harness's 1,000-message SIU corpus.
func benchCorpus(b *testing.B) [][]byte {
	f, err := os.Open("../../shared/bench/corpus/siu_sample_1k.hl7")
	if err != nil {
		b.Skip("shared bench corpus not found:", err)
	}
	defer f.Close()
	var msgs [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(sc.Bytes()) > 0 {
			msgs = append(msgs, append([]byte(nil), sc.Bytes()...))
		}
	}
	return msgs
}

// BenchmarkIngestNoStore is parse + map + ACK through the handler with a
// store that commits in memory: the pipeline's CPU cost per message.
func BenchmarkIngestNoStore(b *testing.B) {
	msgs := benchCorpus(b)
	h := ingest.New(ingest.Config{Store: nopStore{}, Mapper: newMapper(b), Now: func() time.Time { return now }})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ack, _ := h.ServeMLLP(context.Background(), msgs[i%len(msgs)])
		if len(ack) == 0 {
			b.Fatal("no ack")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkIngestSQLite is the whole durable path on a real SQLite file
// (fsync per commit), from 16 goroutines as from 16 MLLP connections.
func BenchmarkIngestSQLite(b *testing.B) {
	msgs := benchCorpus(b)
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	m, err := mapping.New(mapping.Config{DefaultTimezone: "America/Chicago", DefaultCountry: "US"})
	if err != nil {
		b.Fatal(err)
	}
	h := ingest.New(ingest.Config{Store: db, Mapper: m})
	var seq atomic.Int64
	b.SetParallelism(8) // 16 goroutines on 2 CPUs
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			// Unique control ids so every message is new work.
			msg := bytes.Replace(msgs[int(i)%len(msgs)], []byte("|SIU0"), []byte("|B"+itoa(int(i))+"-"), 1)
			ack, _ := h.ServeMLLP(context.Background(), msg)
			if !bytes.Contains(ack, []byte("MSA|CA|")) && !bytes.Contains(ack, []byte("MSA|AA|")) {
				b.Fatalf("ack %q", ack)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
