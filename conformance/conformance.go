// Package conformance runs apptbridge's HL7 corpus: real-world SIU messages
// from many vendors plus hand-made hard cases, each with the expected
// `apptbridge map` output and the expected ACK as golden files (SPEC §14).
//
// Layout: testdata/<case>/in.hl7 (one message, or several / a batch),
// testdata/<case>/map.golden.jsonl (one line per message),
// testdata/<case>/ack.golden.hl7 (one ACK per message, separated by \n),
// and optionally testdata/<case>/case.json with per-case settings:
// {"tz":"America/Chicago","country":"GB","profile":"profile.yaml",
// "charset":"8859/1","note":"what the case shows"}.
//
// Every case runs on a fresh in-memory store with a fixed clock, so that
// goldens are deterministic; event ids are replaced by a placeholder.
package conformance

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/ingest"
	"github.com/apptbridge/apptbridge/mapping"
	"github.com/apptbridge/apptbridge/store"
)

//go:embed testdata
var corpus embed.FS

// Corpus returns the embedded corpus (the testdata folder).
func Corpus() fs.FS {
	sub, err := fs.Sub(corpus, "testdata")
	if err != nil {
		panic(err)
	}
	return sub
}

// Now is the fixed clock of every case.
var Now = time.Date(2026, 11, 27, 14, 3, 0, 0, time.UTC)

// PlaceholderEventID replaces random event ids in goldens.
const PlaceholderEventID = "00000000-0000-7000-8000-000000000000"

// Options are per-case settings (case.json).
type Options struct {
	TZ      string `json:"tz"`
	Country string `json:"country"`
	Profile string `json:"profile"`
	Charset string `json:"charset"`
	Note    string `json:"note"`
}

// Result is one case's outcome.
type Result struct {
	Case     string
	Messages int
	Codes    []string // MSA-1 per message
	GotMap   []byte
	GotAck   []byte
	WantMap  []byte
	WantAck  []byte
	Err      error // setup error
}

// Pass reports whether both outputs match their goldens.
func (r Result) Pass() bool {
	return r.Err == nil && bytes.Equal(r.GotMap, r.WantMap) && bytes.Equal(r.GotAck, r.WantAck)
}

// Run runs every case (every folder with an in.hl7) of fsys in name order.
func Run(fsys fs.FS) ([]Result, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read corpus: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			if _, err := fs.Stat(fsys, path.Join(e.Name(), "in.hl7")); err == nil {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, errors.New("no cases (folders with an in.hl7) in the corpus")
	}
	out := make([]Result, 0, len(names))
	for _, n := range names {
		out = append(out, RunCase(fsys, n))
	}
	return out, nil
}

// RunCase runs one case folder.
func RunCase(fsys fs.FS, name string) Result {
	r := Result{Case: name}
	var opts Options
	if b, err := fs.ReadFile(fsys, path.Join(name, "case.json")); err == nil {
		if err := json.Unmarshal(b, &opts); err != nil {
			r.Err = fmt.Errorf("case.json: %w", err)
			return r
		}
	}
	in, err := fs.ReadFile(fsys, path.Join(name, "in.hl7"))
	if err != nil {
		r.Err = err
		return r
	}
	r.WantMap, _ = fs.ReadFile(fsys, path.Join(name, "map.golden.jsonl"))
	r.WantAck, _ = fs.ReadFile(fsys, path.Join(name, "ack.golden.hl7"))

	mc := mapping.Config{DefaultTimezone: "America/New_York", DefaultCountry: "US", Now: func() time.Time { return Now }}
	if opts.TZ != "" {
		mc.DefaultTimezone = opts.TZ
	}
	if opts.Country != "" {
		mc.DefaultCountry = opts.Country
	}
	if opts.Profile != "" {
		p, err := loadProfile(fsys, path.Join(name, opts.Profile))
		if err != nil {
			r.Err = err
			return r
		}
		mc.Profile = p
	}
	mapper, err := mapping.New(mc)
	if err != nil {
		r.Err = err
		return r
	}
	seq := 0
	h := ingest.New(ingest.Config{
		Store:  NewMemStore(func() time.Time { return Now }),
		Mapper: mapper,
		Now:    func() time.Time { return Now },
		Parse:  hl7.ParseOptions{DefaultCharset: opts.Charset},
		AckControlID: func() string {
			seq++
			return fmt.Sprintf("ACK%04d", seq)
		},
	})
	popts := hl7.ParseOptions{DefaultCharset: opts.Charset}
	lines, msgs, _ := ingest.DescribeInput(mapper, popts, in)
	var gm, ga bytes.Buffer
	for _, l := range lines {
		gm.Write(normalize(l))
	}
	// Over MLLP every message (each frame) gets exactly one ACK.
	for i, raw := range msgs {
		rep := h.Process(context.Background(), raw)
		if i > 0 {
			ga.WriteByte('\n')
		}
		ga.Write(rep.Ack)
		r.Codes = append(r.Codes, string(rep.Code))
	}
	r.Messages = len(msgs)
	r.GotMap, r.GotAck = gm.Bytes(), ga.Bytes()
	return r
}

// loadProfile reads a profile from the corpus (through a temp file, as
// mapping.LoadProfile reads paths).
func loadProfile(fsys fs.FS, p string) (*mapping.Profile, error) {
	b, err := fs.ReadFile(fsys, p)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "apptbridge-profile")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	f := path.Join(dir, path.Base(p))
	if err := os.WriteFile(f, b, 0o600); err != nil {
		return nil, err
	}
	return mapping.LoadProfile(f)
}

// normalize replaces the random event id of an event line.
func normalize(line []byte) []byte {
	var probe struct {
		EventID string `json:"event_id"`
	}
	if json.Unmarshal(line, &probe) == nil && probe.EventID != "" {
		return bytes.Replace(line, []byte(probe.EventID), []byte(PlaceholderEventID), 1)
	}
	return line
}

// PrintTable writes a pass/fail table and returns the exit code (1 if any
// case failed).
func PrintTable(w io.Writer, results []Result) int {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tMESSAGES\tACK\tRESULT")
	failed := 0
	for _, r := range results {
		status := "pass"
		switch {
		case r.Err != nil:
			status = "FAIL: " + r.Err.Error()
		case !bytes.Equal(r.GotMap, r.WantMap):
			status = "FAIL: map output differs from map.golden.jsonl"
		case !bytes.Equal(r.GotAck, r.WantAck):
			status = "FAIL: ACK differs from ack.golden.hl7"
		}
		if status != "pass" {
			failed++
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", r.Case, r.Messages, strings.Join(r.Codes, ","), status)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d passed, %d failed\n", len(results)-failed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

// MemStore is an in-memory ingest.Committer with the store contract's
// duplicate and state-machine behaviour, for the corpus runner. It is not
// durable and not a store.Store.
type MemStore struct {
	mu    sync.Mutex
	now   func() time.Time
	keys  map[store.DedupKey]memKey
	appts map[string]*apptbridge.Appointment
}

type memKey struct {
	hash store.Hash
	ack  []byte
}

// NewMemStore returns an empty MemStore.
func NewMemStore(now func() time.Time) *MemStore {
	return &MemStore{now: now, keys: map[store.DedupKey]memKey{}, appts: map[string]*apptbridge.Appointment{}}
}

// Ingest implements ingest.Committer.
func (s *MemStore) Ingest(_ context.Context, in *store.Inbound) (store.IngestResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.keys[in.Key]; ok {
		if k.hash == in.Hash {
			return store.IngestResult{Duplicate: true, Ack: k.ack}, nil
		}
		return store.IngestResult{Conflict: true}, nil
	}
	var res store.IngestResult
	if in.Event != nil {
		cur := s.appts[in.Event.AppointmentID]
		res.Outcome = apptbridge.Apply(cur, in.Event, apptbridge.ApplyContext{Now: s.now()})
		if res.Outcome.Appointment != nil {
			s.appts[in.Event.AppointmentID] = res.Outcome.Appointment
		}
	}
	s.keys[in.Key] = memKey{hash: in.Hash, ack: append([]byte(nil), in.Ack...)}
	return res, nil
}
