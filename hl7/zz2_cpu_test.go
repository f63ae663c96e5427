package hl7

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
	"unicode/utf8"
)

var sinkI int

func TestZZBase(t *testing.T) {
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
	run := func(name string, f func(b []byte)) {
		best := time.Duration(1 << 62)
		for round := 0; round < 5; round++ {
			const N = 100000
			t0 := threadCPU()
			for i := 0; i < N; i++ {
				f(msgs[i%len(msgs)])
			}
			if d := (threadCPU() - t0) / N; d < best {
				best = d
			}
		}
		fmt.Printf("%-12s %v/op\n", name, best)
	}
	run("string", func(b []byte) { sink = string(b) })
	run("utf8valid", func(b []byte) {
		if utf8.Valid(b) {
			sinkI++
		}
	})
	run("loop", func(b []byte) {
		n := 0
		for _, c := range b {
			if c == '|' {
				n++
			}
		}
		sinkI += n
	})
	strs := make([]string, len(msgs))
	for i := range msgs {
		strs[i] = string(msgs[i])
	}
	k := 0
	run("split", func(b []byte) {
		m := &Message{Delims: DefaultDelimiters, text: strs[k%len(strs)]}
		k++
		m.split()
	})
	run("fieldends", func(b []byte) {
		var e [400]uint32
		x, _ := appendFieldEnds(e[:0], strs[k%len(strs)], 4, '|')
		sinkI += len(x)
		k++
	})
	run("parse", func(b []byte) { Parse(b) })
	pm, _ := Parse(msgs[0])
	run("get-sch11.4", func(b []byte) { sink = pm.Get("SCH-11.4") })
	run("parseloc", func(b []byte) { l, _ := parseLocation("SCH-11.4"); sinkI += l.Field })
	run("segment", func(b []byte) { sinkI += pm.Segment("AIP").Index() })
	sch := pm.Segment("SCH")
	run("value", func(b []byte) { sink = sch.Value(11, 1, 4, 0) })
	run("count", func(b []byte) { sinkI += bytes.Count(b, []byte("|")) })

}
