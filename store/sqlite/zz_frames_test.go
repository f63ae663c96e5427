package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
)

func TestZZFrames(t *testing.T) {
	var commits atomic.Int64
	path := filepath.Join(t.TempDir(), "f.db")
	db, err := Open(context.Background(), path, Options{OnCommit: func(int, time.Duration) { commits.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.wdb.Exec("PRAGMA wal_autocheckpoint(0)")
	run := func(n int) {
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				for i := range n {
					typ := apptbridge.Modified
					if i < 50 {
						typ = apptbridge.Booked
					}
					db.Ingest(t.Context(), testInbound(fmt.Sprintf("B%d-%02d", g, i%50), typ))
				}
			})
		}
		wg.Wait()
	}
	run(300)
	fi, _ := os.Stat(path + "-wal")
	c0, s0 := commits.Load(), fi.Size()
	run(300)
	fi, _ = os.Stat(path + "-wal")
	c1, s1 := commits.Load(), fi.Size()
	frames := float64(s1-s0) / 4120
	// Which b-trees do the frames of the last 100 commits belong to?
	wal, _ := os.ReadFile(path + "-wal")
	type fr struct{ pg, commit uint32 }
	var frs []fr
	for off := 32; off+4120 <= len(wal); off += 4120 {
		h := wal[off:]
		frs = append(frs, fr{uint32(h[0])<<24 | uint32(h[1])<<16 | uint32(h[2])<<8 | uint32(h[3]), uint32(h[4])<<24 | uint32(h[5])<<16 | uint32(h[6])<<8 | uint32(h[7])})
	}
	names := map[uint32]string{}
	rows, err := db.rdb.Query("SELECT name, pageno, pagetype FROM dbstat")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n, typ string
		var pg uint32
		rows.Scan(&n, &pg, &typ)
		names[pg] = n + "/" + typ
	}
	rows.Close()
	cnt := map[string]int{}
	nc := 0
	for i := len(frs) - 1; i >= 0 && nc <= 100; i-- {
		if frs[i].commit != 0 {
			nc++
			if nc > 100 {
				break
			}
		}
		cnt[names[frs[i].pg]]++
	}
	for k, v := range cnt {
		t.Logf("%-40s %.2f per commit", k, float64(v)/100)
	}
	t.Logf("commits %d frames %.0f frames/commit %.1f frames/msg %.2f", c1-c0, frames, frames/float64(c1-c0), frames/4800)
}
