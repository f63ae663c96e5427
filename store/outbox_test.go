package store_test

import (
	"testing"
	"time"

	"github.com/apptbridge/apptbridge/store"
)

func TestAdvanceStatus(t *testing.T) {
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		from, to   string
		fromCode   int
		code       int
		changed    bool
		wantStatus string
		wantCode   int
	}{
		{store.TwilioQueued, store.TwilioSent, 0, 0, true, store.TwilioSent, 0},
		{store.TwilioSent, store.TwilioDelivered, 0, 0, true, store.TwilioDelivered, 0},
		{store.TwilioDelivered, store.TwilioSent, 0, 0, false, store.TwilioDelivered, 0},            // late "sent"
		{store.TwilioDelivered, store.TwilioUndelivered, 0, 30003, false, store.TwilioDelivered, 0}, // terminal stays
		{store.TwilioDelivered, store.TwilioRead, 0, 0, true, store.TwilioRead, 0},
		{store.TwilioSent, store.TwilioUndelivered, 0, 30005, true, store.TwilioUndelivered, 30005},
		{store.TwilioSent, store.TwilioFailed, 21610, 0, true, store.TwilioFailed, 21610}, // 0 keeps the code
		{store.TwilioSent, store.TwilioSent, 0, 0, false, store.TwilioSent, 0},            // duplicate
		{store.TwilioSent, "made-up", 0, 0, false, store.TwilioSent, 0},                   // unknown ranks 0
	} {
		x := &store.Text{Status: tc.from, ErrorCode: tc.fromCode}
		changed := store.AdvanceStatus(x, tc.to, tc.code, now)
		if changed != tc.changed || x.Status != tc.wantStatus || x.ErrorCode != tc.wantCode {
			t.Errorf("%s → %s (%d): changed %v, %s %d; want %v, %s %d", tc.from, tc.to, tc.code,
				changed, x.Status, x.ErrorCode, tc.changed, tc.wantStatus, tc.wantCode)
		}
		if changed != x.UpdatedAt.Equal(now) {
			t.Errorf("%s → %s: UpdatedAt %v with changed %v", tc.from, tc.to, x.UpdatedAt, changed)
		}
	}
}
