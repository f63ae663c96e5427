package hl7

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestZZCPU(t *testing.T) {
	if os.Getenv("ZZCPU") == "" {
		t.Skip()
	}
	data, _ := os.ReadFile(benchCorpus)
	var msgs [][]byte
	for _, l := range bytes.Split(data, []byte("\n")) {
		if l = bytes.TrimSpace(l); len(l) > 0 {
			msgs = append(msgs, l)
		}
	}
	runtime.LockOSThread()
	for _, withGet := range []bool{false, true} {
		best := time.Duration(1 << 62)
		for round := 0; round < 7; round++ {
			const N = 100000
			runtime.GC()
			t0 := threadCPU()
			for i := 0; i < N; i++ {
				m, err := Parse(msgs[i%len(msgs)])
				if err != nil {
					t.Fatal(err)
				}
				if withGet {
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
			}
			d := (threadCPU() - t0) / N
			if d < best {
				best = d
			}
		}
		fmt.Printf("get=%v best thread-cpu %v/op  (%.0f msgs/s)\n", withGet, best, 1e9/float64(best))
	}
}
