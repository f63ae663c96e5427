package postgres

import (
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// BenchmarkIngest16 ingests b.N new bookings (one appointment each, two
// reminders planned, an archive job) from 16 goroutines, as the MLLP
// server does with 16 connections, and reports msgs/s, with the store's
// default pool size (pool=) and with pool_max_conns set.
//
//	eval "$(scripts/test-postgres.sh start)"
//	go test -run '^$' -bench Ingest16 -benchtime 5000x ./store/postgres
func BenchmarkIngest16(b *testing.B) {
	for _, n := range []string{"", "16", "32"} {
		b.Run("pool="+n, func(b *testing.B) { benchIngest16(b, n) })
	}
}

func benchIngest16(b *testing.B, pool string) {
	u, err := url.Parse(testSchema(b))
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Del("pool_max_conns")
	if pool != "" {
		q.Set("pool_max_conns", pool)
	}
	u.RawQuery = q.Encode()
	planner := func(a *apptbridge.Appointment, now time.Time) []store.Reminder {
		return []store.Reminder{
			{AppointmentID: a.AppointmentID, Ordinal: 1, StartUTC: a.AppointmentDatetimeUTC, DueAt: now.Add(time.Hour), Status: store.ReminderPlanned},
			{AppointmentID: a.AppointmentID, Ordinal: 2, StartUTC: a.AppointmentDatetimeUTC, DueAt: now.Add(2 * time.Hour), Status: store.ReminderPlanned},
		}
	}
	db := openURL(b, u.String(), Options{Planner: planner, Archive: true})
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	msgs := make([]*store.Inbound, b.N)
	for i := range msgs {
		msgs[i] = testInbound(fmt.Sprintf("BI-%08d", i), apptbridge.Booked, at)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	t0 := time.Now()
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if _, err := db.Ingest(b.Context(), msgs[i]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "msgs/s")
}
