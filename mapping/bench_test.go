package mapping

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/apptbridge/apptbridge/hl7"
)

const (
	benchCorpus   = "../../shared/bench/corpus/siu_sample_1k.hl7"
	benchExpected = "../../shared/bench/corpus/expected_1k.jsonl"
)

func loadCorpus(tb testing.TB) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(benchCorpus)
	if err != nil {
		skipOrFail(tb, "bench corpus: "+err.Error())
	}
	var msgs [][]byte
	for _, l := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			msgs = append(msgs, l)
		}
	}
	return msgs
}

// BenchmarkMap measures parse + map of the 1k corpus, one core.
func BenchmarkMap(b *testing.B) {
	msgs := loadCorpus(b)
	m := newTestMapper(b, Config{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		msg, err := hl7.Parse(msgs[i%len(msgs)])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.Map(msg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkMapOnly measures Map alone on pre-parsed messages.
func BenchmarkMapOnly(b *testing.B) {
	raw := loadCorpus(b)
	msgs := make([]*hl7.Message, len(raw))
	for i, r := range raw {
		var err error
		if msgs[i], err = hl7.Parse(r); err != nil {
			b.Fatal(err)
		}
	}
	m := newTestMapper(b, Config{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := m.Map(msgs[i%len(msgs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// TestExpected1k checks the ten ground-truth fields of the bench corpus.
func TestExpected1k(t *testing.T) {
	msgs := loadCorpus(t)
	f, err := os.Open(benchExpected)
	if err != nil {
		skipOrFail(t, err.Error())
	}
	defer f.Close()
	m := newTestMapper(t, Config{})
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for ; sc.Scan(); n++ {
		var exp struct {
			Raw       map[string]string `json:"raw"`
			Unescaped map[string]string `json:"unescaped"`
		}
		if err := json.Unmarshal(sc.Bytes(), &exp); err != nil {
			t.Fatal(err)
		}
		if n >= len(msgs) {
			t.Fatalf("more expectations than messages")
		}
		msg, err := hl7.Parse(msgs[n])
		if err != nil {
			t.Fatalf("msg %d: %v", n, err)
		}
		res, err := m.Map(msg)
		if err != nil {
			t.Fatalf("msg %d: %v", n, err)
		}
		ev, u := res.Event, exp.Unescaped
		start, err := ParseDTM(u["TQ1-7"], nil)
		if err != nil {
			t.Fatalf("msg %d: expected start: %v", n, err)
		}
		cp := ""
		if u["PID-13.CP"] != "" {
			cp, _ = NormalizePhone(u["PID-13.CP"], "US")
		} else {
			// No CP repetition: SPEC §5 falls back to the PRN repetition,
			// which is the first PID-13 repetition in this corpus.
			cp, _ = NormalizePhone(msg.Get("PID-13.1"), "US")
		}
		checks := []struct{ name, got, want string }{
			{"MSH-10", ev.Source.MessageControlID, u["MSH-10"]},
			{"SCH-1", ev.AppointmentPlacerID, u["SCH-1"]},
			{"SCH-1 id", ev.AppointmentID, u["SCH-1"]},
			{"SCH-2", ev.AppointmentFillerID, u["SCH-2"]},
			{"TQ1-7", ev.AppointmentDatetimeUTC.Format("2006-01-02T15:04:05Z07:00"), start.Format("2006-01-02T15:04:05Z07:00")},
			{"PID-3", ev.PatientID, u["PID-3"]},
			{"PID-5.1", ev.PatientLastName, u["PID-5.1"]},
			{"PID-5.2", ev.PatientFirstName, u["PID-5.2"]},
			{"phone", ev.PatientPhone, cp},
			{"AIL-3", ev.AppointmentLocationCode, u["AIL-3"]},
			{"AIP-3", ev.ProviderID, u["AIP-3"]},
			{"SCH-25", ev.AppointmentStatus, u["SCH-25"]},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("msg %d %s: got %q, want %q", n, c.name, c.got, c.want)
			}
		}
		if cp == "" {
			t.Errorf("msg %d: no phone expected at all", n)
		}
	}
	if n != len(msgs) {
		t.Errorf("checked %d of %d messages", n, len(msgs))
	}
}
