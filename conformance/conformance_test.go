package conformance

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of every case")

// TestCorpus runs every case of the corpus against its goldens. With
// -update it rewrites them; review the diff by hand before committing.
func TestCorpus(t *testing.T) {
	results, err := Run(os.DirFS("testdata"))
	if err != nil {
		t.Fatal(err)
	}
	if len(results) < 32+15 && !*update {
		t.Errorf("corpus has %d cases, want the 32 vendor samples and at least 15 hard cases", len(results))
	}
	for _, r := range results {
		t.Run(r.Case, func(t *testing.T) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if *update {
				write(t, filepath.Join("testdata", r.Case, "map.golden.jsonl"), r.GotMap)
				write(t, filepath.Join("testdata", r.Case, "ack.golden.hl7"), r.GotAck)
				return
			}
			if !bytes.Equal(r.GotMap, r.WantMap) {
				t.Errorf("map output differs from golden\n got: %s\nwant: %s", r.GotMap, r.WantMap)
			}
			if !bytes.Equal(r.GotAck, r.WantAck) {
				t.Errorf("ACK differs from golden\n got: %q\nwant: %q", r.GotAck, r.WantAck)
			}
		})
	}
}

// TestEmbeddedCorpusMatchesTestdata keeps the binary's corpus in sync.
func TestEmbeddedCorpusMatchesTestdata(t *testing.T) {
	a, err := Run(Corpus())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(os.DirFS("testdata"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("embedded corpus has %d cases, testdata %d", len(a), len(b))
	}
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
