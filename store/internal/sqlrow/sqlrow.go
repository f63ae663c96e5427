// Package sqlrow is the SQL that store/sqlite and store/postgres share:
// column lists, the statements both dialects spell alike, the argument
// lists of row writes and the decoding of rows into store types.
//
// Both schemas store the same columns (instants as unix microseconds,
// 0 for none; JSON as text; hashes and messages as bytes), and both
// backends spell placeholders $1, $2…, so one column list, one decoder
// and one argument list serve both. What the dialects do differently
// (locking, upserts, claim queries) stays in the backends.
//
// A row is the column values as the drivers hand them over
// ([]driver.Value): string or []byte for text, []byte for bytes, int64
// (int32 for PostgreSQL's INTEGER) for numbers, bool or 0/1 for booleans,
// nil for NULL. SQLite's writer reads rows in this form without
// database/sql; PostgreSQL's rows give it with pgx.Rows.Values.
package sqlrow

import (
	"database/sql/driver"
	"strconv"
	"strings"
	"time"
)

// Micros encodes an instant as unix microseconds (UTC), the storage
// format of every instant column.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros decodes a unix-microsecond column into a UTC time.
func FromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// US encodes an optional instant: 0 for the zero time.
func US(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// FromUS decodes an optional instant (0 is the zero time).
func FromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return FromMicros(v)
}

// Str decodes a text value ("" for NULL).
func Str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return ""
}

// Bytes decodes a bytes value into a copy the caller owns (the drivers
// may reuse theirs); nil for NULL or empty.
func Bytes(v any) []byte {
	switch x := v.(type) {
	case []byte:
		if len(x) == 0 {
			return nil
		}
		return append([]byte(nil), x...)
	case string:
		if x == "" {
			return nil
		}
		return []byte(x)
	}
	return nil
}

// Int decodes an integer value (0 for NULL; a boolean is 0 or 1).
func Int(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case bool:
		if x {
			return 1
		}
	}
	return 0
}

// Bool decodes a boolean value: BOOLEAN, or an integer other than 0.
func Bool(v any) bool { return Int(v) != 0 }

// Time decodes an optional instant column (see FromUS).
func Time(v any) time.Time { return FromUS(Int(v)) }

// NilIfEmpty is b, or nil (NULL) when empty, for nullable bytes columns.
func NilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// NonNil is b, or an empty slice when nil, for NOT NULL bytes columns.
func NonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// DefaultLimit is the page size of list queries when their limit is 0.
const DefaultLimit = 100

// Where builds the WHERE clause of a list query from optional filters.
type Where struct {
	conds []string
	args  []any
}

// Add adds cond (one ? for v) unless v is the zero value: a filter left
// empty matches everything. The ? becomes the next $n placeholder.
func (w *Where) Add(cond string, v any) {
	switch x := v.(type) {
	case string:
		if x == "" {
			return
		}
	case int64:
		if x == 0 {
			return
		}
	}
	w.args = append(w.args, v)
	w.conds = append(w.conds, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(w.args))))
}

// Query returns selectFrom with the conditions, ORDER BY order and LIMIT
// limit (DefaultLimit when ≤ 0), and its arguments.
func (w *Where) Query(selectFrom, order string, limit int) (string, []any) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	q := selectFrom
	if len(w.conds) > 0 {
		q += " WHERE " + strings.Join(w.conds, " AND ")
	}
	args := append(w.args, limit)
	return q + " ORDER BY " + order + " LIMIT $" + strconv.Itoa(len(args)), args
}

// Prefix qualifies every column of the list cols with p ("t.").
func Prefix(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// AppendTo returns a row callback (for the backends' row loops) that
// decodes each row with decode and appends the result to *out, stopping at
// the first error.
func AppendTo[T any](out *[]T, decode func([]driver.Value) (T, error)) func([]driver.Value) error {
	return func(row []driver.Value) error {
		v, err := decode(row)
		if err != nil {
			return err
		}
		*out = append(*out, v)
		return nil
	}
}

// The dashboard's text counts (store.Stats) over the 24 hours since $1:
// texts to patients that Twilio (or the sandbox) accepted, and those that
// failed. The administrator's sign-in codes are not patient traffic and
// are left out. Each query is served by a partial index (texts_sent_at,
// texts_failed).
const (
	StatsTextsSent = `SELECT COUNT(*) FROM texts WHERE sent_at > 0 AND sent_at >= $1
		AND status IN ('accepted', 'scheduled', 'queued', 'sending', 'sent', 'delivered', 'read', 'sandbox')
		AND kind <> 'login-code'`
	StatsTextsFailed = `SELECT COUNT(*) FROM texts WHERE status IN ('failed', 'undelivered') AND updated_at >= $1
		AND kind <> 'login-code'`
)
