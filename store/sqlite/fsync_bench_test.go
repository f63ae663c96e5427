package sqlite

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkFsyncFloor measures one 4 KiB write plus fdatasync on this file
// system: the durable-ACK latency floor that any storing MLLP receiver
// pays per commit. scripts/bench-mllp.sh reports it next to the MLLP runs.
func BenchmarkFsyncFloor(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync.bin"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.WriteAt(buf, int64(i%256)*4096); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}
