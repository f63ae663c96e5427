package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/mllp"
)

// TestPythonHL7MLLPSend points Debian's python-hl7 `mllp_send` (a peer we
// did not write; it reads the ACK with a single recv) at `apptbridge
// serve` and checks that each of the 32 vendor samples gets exactly one
// ACK whose MSA and ERR segments equal the conformance golden's. Each
// sample goes to a fresh server (fresh store), because several samples
// reuse one another's MSH-10 and would otherwise, correctly, get AE 205.
func TestPythonHL7MLLPSend(t *testing.T) {
	mllpSend := requireTool(t, "mllp_send")
	samples, err := filepath.Glob("../../shared/conformance/siu-samples/*.hl7")
	if err != nil || len(samples) == 0 {
		// The project's own copy of the samples.
		samples, _ = filepath.Glob("../conformance/testdata/*/in.hl7")
	}
	var cases []string
	for _, s := range samples {
		cases = append(cases, s)
	}
	sort.Strings(cases)
	if len(cases) < 32 {
		t.Fatalf("found %d samples, want 32", len(cases))
	}
	for _, sample := range cases[:32] {
		name := strings.TrimSuffix(filepath.Base(sample), ".hl7")
		if name == "in" {
			name = filepath.Base(filepath.Dir(sample))
		}
		t.Run(name, func(t *testing.T) {
			golden, err := os.ReadFile(filepath.Join("../conformance/testdata", name, "ack.golden.hl7"))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(sample)
			if err != nil {
				t.Fatal(err)
			}
			// Frame the message(s) the way `apptbridge send` reads files:
			// athena's samples end in a stray 0x1C 0x0D from their source.
			msgs, err := hl7.SplitBatch(raw)
			if err != nil || len(msgs) != 1 {
				t.Fatalf("sample splits into %d messages: %v", len(msgs), err)
			}
			framed := filepath.Join(t.TempDir(), "framed.hl7")
			if err := os.WriteFile(framed, mllp.Frame(bytes.TrimRight(msgs[0], "\r\n")), 0o600); err != nil {
				t.Fatal(err)
			}
			srv := startServer(t, t.TempDir(), &logSink{})
			defer srv.stop(t)
			host, port, _ := strings.Cut(srv.mllpAddr, ":")
			out, err := exec.Command(mllpSend, "-p", port, "-f", framed, host).CombinedOutput()
			if err != nil {
				t.Fatalf("mllp_send: %v\n%s", err, out)
			}
			// mllp_send prints each ACK with its \r segment separators.
			text := strings.TrimSpace(string(out))
			if n := strings.Count(text, "MSA|"); n != 1 {
				t.Fatalf("got %d ACKs, want exactly 1:\n%q", n, out)
			}
			got, err := hl7.Parse([]byte(text[strings.Index(text, "MSH"):]))
			if err != nil {
				t.Fatalf("mllp_send printed an unparseable ACK: %v\n%q", err, out)
			}
			want, err := hl7.Parse(golden)
			if err != nil {
				t.Fatal(err)
			}
			for _, seg := range []string{"MSA", "ERR"} {
				g, w := segs(got, seg), segs(want, seg)
				if g != w {
					t.Errorf("%s: got %q, want %q (golden)", seg, g, w)
				}
			}
			for _, f := range []string{"MSH-3", "MSH-4", "MSH-5", "MSH-6", "MSH-9", "MSH-12"} {
				if g, w := got.Get(f), want.Get(f); g != w {
					t.Errorf("%s: got %q, want %q", f, g, w)
				}
			}
		})
	}
}

func segs(m *hl7.Message, name string) string {
	var parts []string
	for i, s := range m.All(name) {
		parts = append(parts, strconv.Itoa(i)+":"+s.Raw())
	}
	return strings.Join(parts, "\n")
}
