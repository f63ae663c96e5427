package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge/hl7"
)

var update = flag.Bool("update", false, "rewrite golden files")

const samplesDir = "../../shared/conformance/siu-samples"

var fixedNow = time.Date(2026, 11, 27, 14, 3, 0, 0, time.UTC)

const placeholderID = "00000000-0000-7000-8000-000000000000"

func sampleFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(samplesDir, "*.hl7"))
	if err != nil || len(files) == 0 {
		skipOrFail(t, "no samples in "+samplesDir)
	}
	sort.Strings(files)
	return files
}

func newTestMapper(t testing.TB, cfg Config) *Mapper {
	t.Helper()
	if cfg.DefaultTimezone == "" {
		cfg.DefaultTimezone = "America/New_York"
	}
	if cfg.DefaultCountry == "" {
		cfg.DefaultCountry = "US"
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return fixedNow }
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// goldenLine is one line of testdata/samples.golden.jsonl.
type goldenLine struct {
	Sample   string          `json:"sample"`
	Event    json.RawMessage `json:"event,omitempty"`
	Ignored  bool            `json:"ignored,omitempty"`
	Reason   string          `json:"reason,omitempty"`
	Warnings []string        `json:"warnings,omitempty"`
	Error    *goldenError    `json:"error,omitempty"`
}

type goldenError struct {
	AckCode  string `json:"ack_code"`
	Code     int    `json:"hl7_error_code"`
	Location string `json:"location"`
	Message  string `json:"message"`
}

func mapSample(t *testing.T, m *Mapper, file string) goldenLine {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	line := goldenLine{Sample: filepath.Base(file)}
	msg, err := hl7.Parse(b)
	if err != nil {
		t.Fatalf("%s: parse: %v", file, err)
	}
	res, err := m.Map(msg)
	if err != nil {
		var me *Error
		if !errors.As(err, &me) {
			t.Fatalf("%s: error is not *Error: %v", file, err)
		}
		line.Error = &goldenError{AckCode: me.AckCode(), Code: me.Code, Location: me.Location, Message: me.Error()}
		return line
	}
	line.Ignored, line.Reason, line.Warnings = res.Ignored, res.Reason, res.Warnings
	if res.Event != nil {
		ev := *res.Event
		ev.EventID = placeholderID
		line.Event, err = json.Marshal(&ev)
		if err != nil {
			t.Fatal(err)
		}
	}
	return line
}

func TestSamplesGolden(t *testing.T) {
	m := newTestMapper(t, Config{})
	var buf bytes.Buffer
	for _, f := range sampleFiles(t) {
		line := mapSample(t, m, f)
		b, err := json.Marshal(line)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	golden := filepath.Join("testdata", "samples.golden.jsonl")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestSamplesGolden -update)", err)
	}
	if !bytes.Equal(want, buf.Bytes()) {
		gl, wl := bytes.Split(buf.Bytes(), []byte("\n")), bytes.Split(want, []byte("\n"))
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if !bytes.Equal(gl[i], wl[i]) {
				t.Errorf("line %d differs:\n got %s\nwant %s", i+1, gl[i], wl[i])
			}
		}
		if len(gl) != len(wl) {
			t.Errorf("got %d lines, want %d", len(gl), len(wl))
		}
	}
}

func mustRead(t testing.TB, f string) []byte {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// skipOrFail skips a test whose shared data is missing, except in CI
// (CI=true), where ../shared is always beside the checkout.
func skipOrFail(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatal(why)
	}
	tb.Skip(why)
}
