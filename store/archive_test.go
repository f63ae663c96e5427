package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/sqlite"
)

// TestNotifyArchive: the wake follows exactly the commits that wrote
// archive jobs.
func TestNotifyArchive(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "a.db"), sqlite.Options{Archive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var wakes atomic.Int64
	s := store.NotifyArchive(db, func() { wakes.Add(1) })
	depth := func() int {
		st, err := s.ArchiveQueue(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return st.Depth
	}
	ev := func(typ apptbridge.EventType) *apptbridge.Event {
		now := time.Now().UTC()
		e := &apptbridge.Event{EventID: apptbridge.NewEventID(), EventType: typ, EventDatetimeUTC: now,
			AppointmentID: "N-1", PatientID: "P-1",
			Source: &apptbridge.Source{Channel: apptbridge.ChannelMLLP, MessageType: "SIU^S12", ReceivedAt: now}}
		e.SetAppointmentTime(now.Add(72*time.Hour), time.UTC)
		return e
	}
	in := &store.Inbound{Key: store.DedupKey{SendingApplication: "EHR", SendingFacility: "F", ControlID: "C1"},
		Hash: store.HashOf([]byte("m1")), Raw: []byte("m1"), MessageType: "SIU^S12", Event: ev(apptbridge.Booked),
		Ack: []byte("ACK"), AckCode: "AA"}
	step := func(what string, wantWakes int64, wantDepth int, f func() error) {
		t.Helper()
		before := wakes.Load()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := wakes.Load() - before; got != wantWakes {
			t.Errorf("%s: %d wakes, want %d", what, got, wantWakes)
		}
		if d := depth(); d != wantDepth {
			t.Errorf("%s: queue depth %d, want %d", what, d, wantDepth)
		}
	}
	step("Ingest of an event", 1, 1, func() error { _, err := s.Ingest(t.Context(), in); return err })
	step("Ingest of a duplicate", 0, 1, func() error { _, err := s.Ingest(t.Context(), in); return err })
	step("Ingest without an event", 0, 1, func() error {
		_, err := s.Ingest(t.Context(), &store.Inbound{Key: store.DedupKey{SendingApplication: "EHR", SendingFacility: "F",
			ControlID: "C2"}, Hash: store.HashOf([]byte("m2")), Raw: []byte("m2"), MessageType: "ADT^A01",
			Ack: []byte("ACK"), AckCode: "AA"})
		return err
	})
	step("Update with Tx.Apply", 1, 2, func() error {
		return s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
			_, err := tx.Apply(ctx, ev(apptbridge.Modified))
			return err
		})
	})
	step("Update without Apply", 0, 2, func() error {
		return s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
			return tx.OptOut(ctx, "+15555550100")
		})
	})
	boom := errors.New("rollback")
	step("rolled back Update with Tx.Apply", 0, 2, func() error {
		err := s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
			if _, err := tx.Apply(ctx, ev(apptbridge.Canceled)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			return err
		}
		return nil
	})
}
