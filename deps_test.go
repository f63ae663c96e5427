package apptbridge_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection keeps the architecture of README.md honest:
// the domain, hl7 and mllp import nothing of ours, hl7 and mllp only the
// standard library, and only cmd/app/conformance reach the adapters.
func TestDependencyDirection(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not on PATH")
	}
	const mod = "github.com/apptbridge/apptbridge"
	deps := func(pkg string) []string {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", mod+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		var ds []string
		for _, d := range strings.Fields(string(out)) {
			if d != mod+pkg {
				ds = append(ds, d)
			}
		}
		return ds
	}
	for _, pkg := range []string{"/hl7", "/mllp"} {
		if ds := deps(pkg); len(ds) > 0 {
			t.Errorf("%s must import only the standard library, imports %v", pkg, ds)
		}
	}
	for _, d := range deps("") {
		if strings.HasPrefix(d, mod) {
			t.Errorf("the domain package imports %s", d)
		}
	}
	for _, pkg := range []string{"/mapping", "/store", "/store/sqlite", "/ingest"} {
		for _, d := range deps(pkg) {
			if strings.HasPrefix(d, mod+"/app") || strings.HasPrefix(d, mod+"/cmd") || strings.HasPrefix(d, mod+"/conformance") {
				t.Errorf("%s imports %s (only cmd wires adapters together)", pkg, d)
			}
			if pkg != "/ingest" && strings.HasPrefix(d, mod+"/ingest") {
				t.Errorf("%s imports %s", pkg, d)
			}
		}
	}
}
