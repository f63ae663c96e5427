package sqlite

import (
	"database/sql"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// micros encodes an instant as unix microseconds (UTC), the storage format
// of every instant column.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros decodes a unix-microsecond column into a UTC time.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullMicros encodes an optional instant: the zero time is NULL.
func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(t), Valid: true}
}

func notFound(what string) error {
	return &apptbridge.Error{Code: apptbridge.ENOTFOUND, Message: what + " not found", Err: store.ErrNotFound}
}

func invalid(msg string) error {
	return &apptbridge.Error{Code: apptbridge.EINVALID, Message: msg}
}
