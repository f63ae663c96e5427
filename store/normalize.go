package store

import (
	"time"

	"github.com/apptbridge/apptbridge"
)

// Precision is the precision at which a Store keeps instants.
const Precision = time.Microsecond

// Instant returns t as a Store keeps it: in UTC, truncated to [Precision].
// The zero time stays zero.
func Instant(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(Precision)
}

// NormalizeEvent returns a copy of e (with its own Source) whose instants
// are as a Store keeps them ([Instant]). Backends apply and store the copy.
func NormalizeEvent(e *apptbridge.Event) *apptbridge.Event {
	c := *e
	c.EventDatetimeUTC = Instant(c.EventDatetimeUTC)
	c.AppointmentDatetimeUTC = Instant(c.AppointmentDatetimeUTC)
	if e.Source != nil {
		src := *e.Source
		src.ReceivedAt = Instant(src.ReceivedAt)
		c.Source = &src
	}
	return &c
}
