package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/internal/sqlrow"
)

// The outbox (schema version 3): texts, requests to the EHR, phone flags,
// API tokens. Rows are written by the writer like everything else; the
// outbox rows an event causes are written by batch.apply, in the
// transaction of the event.

// exec runs one of the outbox's statements in the batch transaction. These
// statements touch no table the writer's cache follows (appointments,
// opt-outs), so the cache stays trusted.
func (b *batch) exec(ctx context.Context, query string, args ...any) (int64, error) {
	s, err := b.c.prepare(ctx, query)
	if err != nil {
		return 0, err
	}
	if err := bindArgs(s, args); err != nil {
		return 0, err
	}
	return s.run(ctx)
}

// query runs a query in the batch transaction and calls fn for every row
// (the row is valid during the call only).
func (b *batch) query(ctx context.Context, query string, fn func(row []driver.Value) error, args ...any) error {
	s, err := b.c.prepare(ctx, query)
	if err != nil {
		return err
	}
	if err := bindArgs(s, args); err != nil {
		return err
	}
	rows, err := s.query.QueryContext(ctx, s.args)
	s.unbind()
	if err != nil {
		return err
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	for {
		err := rows.Next(dest)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(dest); err != nil {
			return err
		}
	}
}

func bindArgs(s *wstmt, args []any) error {
	named := s.bind(len(args))
	for i, a := range args {
		v, err := driver.DefaultParameterConverter.ConvertValue(a)
		if err != nil {
			s.unbind()
			return fmt.Errorf("argument $%d: %w", i+1, err)
		}
		named[i].Value = v
	}
	return nil
}

// enqueue writes the outbox rows an applied event calls for (built by
// store.NewOutboxText and store.NewRequest): the text to the patient and
// the request to the EHR. The snapshot is encoded by the batch's own
// encoder (b.snap), not json.Marshal: this is on the ingest path.
func (b *batch) enqueue(ctx context.Context, ev *apptbridge.Event, o apptbridge.Outcome, now time.Time) (*store.Text, *store.Request, error) {
	if !store.Enqueues(o) {
		return nil, nil, nil
	}
	if err := b.snap.encodeAppointment(o.Appointment); err != nil {
		return nil, nil, fmt.Errorf("encode snapshot %s: %w", ev.AppointmentID, err)
	}
	snapshot := append([]byte(nil), b.snap.buf...)
	var (
		t   *store.Text
		r   *store.Request
		err error
	)
	if o.Text != apptbridge.TextNone {
		kind, err := b.supersede(ctx, ev.AppointmentID, o.Text, now)
		if err != nil {
			return nil, nil, err
		}
		t = store.NewOutboxText(ev, o.Appointment, kind, snapshot, now)
		if _, err := b.exec(ctx, sqlrow.InsertText, sqlrow.TextArgs(t)...); err != nil {
			return nil, nil, fmt.Errorf("insert text for %s: %w", ev.AppointmentID, err)
		}
	}
	if o.Request != "" {
		r = store.NewRequest(ev, o.Request, snapshot, now)
		if r.Seq, err = b.insertRequest(ctx, r); err != nil {
			return nil, nil, fmt.Errorf("insert request for %s: %w", ev.AppointmentID, err)
		}
	}
	return t, r, nil
}

// ReasonSuperseded is store.ReasonSuperseded (kept for callers of this
// package).
const ReasonSuperseded = store.ReasonSuperseded

// supersede cancels the appointment's waiting texts that a new text of
// kind replaces (store.Supersedes) and returns the kind to send it as
// (store.SendAs).
func (b *batch) supersede(ctx context.Context, appointmentID string, kind apptbridge.TextKind, now time.Time) (apptbridge.TextKind, error) {
	kinds := store.Supersedes(kind)
	if kinds == nil {
		return kind, nil
	}
	var booked bool
	err := b.query(ctx, `SELECT kind FROM texts WHERE appointment_id = $1 AND status = 'pending'
		AND attempts = 0 AND direction = 'out'`, func(row []driver.Value) error {
		if apptbridge.TextKind(sqlrow.Str(row[0])) == apptbridge.TextBooked {
			booked = true
		}
		return nil
	}, appointmentID)
	if err != nil {
		return kind, fmt.Errorf("look up waiting texts: %w", err)
	}
	n, err := b.cancelPending(ctx, appointmentID, kinds, store.ReasonSuperseded, now)
	if err != nil {
		return kind, err
	}
	return store.SendAs(kind, n > 0 && booked), nil
}

func (b *batch) cancelPending(ctx context.Context, appointmentID string, kinds []apptbridge.TextKind, reason string, now time.Time) (int, error) {
	q := `UPDATE texts SET status = 'canceled', reason = $1, updated_at = $2, lease_owner = ''
		WHERE appointment_id = $3 AND status = 'pending' AND attempts = 0 AND direction = 'out'`
	args := []any{reason, sqlrow.US(now), appointmentID}
	if len(kinds) > 0 {
		ph := make([]string, len(kinds))
		for i, k := range kinds {
			args = append(args, string(k))
			ph[i] = "$" + strconv.Itoa(len(args))
		}
		q += " AND kind IN (" + strings.Join(ph, ", ") + ")"
	}
	n, err := b.exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("cancel waiting texts of %s: %w", appointmentID, err)
	}
	return int(n), nil
}

// tx is store.Tx on the writer's batch transaction.
type tx struct {
	db *DB
	b  *batch
}

var _ store.Tx = tx{}

// Update implements store.Outbox.
func (db *DB) Update(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: update: %w", store.ErrClosed)
	}
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		return fn(ctx, tx{db: db, b: w.b})
	})
	if err != nil {
		return fmt.Errorf("sqlite: update: %w", err)
	}
	return nil
}

func (t tx) Appointment(ctx context.Context, id string) (*apptbridge.Appointment, error) {
	a, err := t.b.loadAppointment(ctx, id)
	if err != nil || a == nil {
		return nil, err
	}
	return cloneAppointment(a), nil
}

func (t tx) ByPhone(ctx context.Context, phone string, optedOut bool) ([]*apptbridge.Appointment, error) {
	var ids []string
	// Literal dispositions: SQLite uses the partial index
	// appointments_phone_active only when the query implies its predicate.
	q := `SELECT appointment_id FROM appointments WHERE patient_phone = $1
		AND disposition IN ('QUEUED', 'REMINDED-1', 'REMINDED-2')
		ORDER BY start_utc, appointment_id`
	if optedOut {
		q = `SELECT appointment_id FROM appointments WHERE patient_phone = $1
		AND disposition IN ('OPTED-OUT') ORDER BY start_utc, appointment_id`
	}
	err := t.b.query(ctx, q, func(row []driver.Value) error {
		ids = append(ids, sqlrow.Str(row[0]))
		return nil
	}, phone)
	if err != nil {
		return nil, fmt.Errorf("active appointments of a phone: %w", err)
	}
	out := make([]*apptbridge.Appointment, 0, len(ids))
	for _, id := range ids {
		a, err := t.Appointment(ctx, id)
		if err != nil {
			return nil, err
		}
		if a != nil {
			out = append(out, a)
		}
	}
	return out, nil
}

func (t tx) LatestAsking(ctx context.Context, phone string, now time.Time) (string, error) {
	var id string
	err := t.b.query(ctx, `SELECT t.appointment_id FROM texts t
		JOIN appointments a ON a.appointment_id = t.appointment_id
		WHERE t.phone = $1 AND t.direction = 'out' AND t.asks_reply AND t.sent_at > 0
		AND a.disposition IN ('QUEUED', 'REMINDED-1', 'REMINDED-2') AND a.start_utc > $2
		ORDER BY t.sent_at DESC, t.id DESC LIMIT 1`, func(row []driver.Value) error {
		id = sqlrow.Str(row[0])
		return nil
	}, phone, micros(now))
	if err != nil {
		return "", fmt.Errorf("latest text asking for a reply: %w", err)
	}
	return id, nil
}

func (t tx) Apply(ctx context.Context, e *apptbridge.Event) (store.ApplyResult, error) {
	if e == nil || e.EventID == "" || e.AppointmentID == "" {
		return store.ApplyResult{}, invalid("event with an event id and an appointment id required")
	}
	ev := store.NormalizeEvent(e)
	return t.b.apply(ctx, ev, nil, t.db.now())
}

func (t tx) AddText(ctx context.Context, x *store.Text) (bool, error) {
	if !store.CheckNewText(x, t.db.now()) {
		return false, invalid("text with an id and a direction required")
	}
	n, err := t.b.exec(ctx, sqlrow.InsertText, sqlrow.TextArgs(x)...)
	if err != nil {
		return false, fmt.Errorf("insert text: %w", err)
	}
	return n == 1, nil
}

func (t tx) SentSince(ctx context.Context, phone string, kind apptbridge.TextKind, since time.Time) (bool, error) {
	found := false
	err := t.b.query(ctx, `SELECT 1 FROM texts WHERE phone = $1 AND created_at >= $2 AND kind = $3
		AND direction = 'out' AND status NOT IN ('canceled', 'failed') LIMIT 1`, func([]driver.Value) error {
		found = true
		return nil
	}, phone, sqlrow.US(since), string(kind))
	if err != nil {
		return false, fmt.Errorf("texts sent since: %w", err)
	}
	return found, nil
}

func (t tx) OptedOut(ctx context.Context, phone string) (bool, error) {
	return t.b.isOptedOut(ctx, phone)
}

// OptOut and OptIn change a table the writer's cache follows: they go
// through wtx.ExecContext, which stops trusting the cache for the batch.
func (t tx) OptOut(ctx context.Context, phone string) error {
	if phone == "" {
		return invalid("phone required")
	}
	_, err := wtx{t.b}.ExecContext(ctx, `INSERT INTO opt_outs (phone, opted_out_at) VALUES ($1, $2)
		ON CONFLICT (phone) DO NOTHING`, phone, micros(t.db.now()))
	if err != nil {
		return fmt.Errorf("opt out: %w", err)
	}
	return nil
}

func (t tx) OptIn(ctx context.Context, phone string) error {
	if phone == "" {
		return invalid("phone required")
	}
	if _, err := (wtx{t.b}).ExecContext(ctx, "DELETE FROM opt_outs WHERE phone = $1", phone); err != nil {
		return fmt.Errorf("opt in: %w", err)
	}
	return nil
}

func (t tx) FlagPhone(ctx context.Context, phone string, code int) error {
	if phone == "" {
		return invalid("phone required")
	}
	_, err := t.b.exec(ctx, `INSERT INTO phone_flags (phone, code, flagged_at) VALUES ($1, $2, $3)
		ON CONFLICT (phone) DO UPDATE SET code = excluded.code, flagged_at = excluded.flagged_at`,
		phone, int64(code), micros(t.db.now()))
	if err != nil {
		return fmt.Errorf("flag phone: %w", err)
	}
	return nil
}

func (t tx) UnflagPhone(ctx context.Context, phone string) error {
	if _, err := t.b.exec(ctx, `DELETE FROM phone_flags WHERE phone = $1`, phone); err != nil {
		return fmt.Errorf("unflag phone: %w", err)
	}
	return nil
}

func (t tx) PhoneFlagged(ctx context.Context, phone string) (bool, error) {
	found := false
	err := t.b.query(ctx, `SELECT 1 FROM phone_flags WHERE phone = $1`, func([]driver.Value) error {
		found = true
		return nil
	}, phone)
	if err != nil {
		return false, fmt.Errorf("phone flag: %w", err)
	}
	return found, nil
}

func (t tx) CancelPendingTexts(ctx context.Context, appointmentID string, kinds []apptbridge.TextKind, reason string) (int, error) {
	return t.b.cancelPending(ctx, appointmentID, kinds, reason, t.db.now())
}

func (db *DB) nextDue(ctx context.Context, q string) (time.Time, error) {
	if db.closed.Load() {
		return time.Time{}, fmt.Errorf("sqlite: next due: %w", store.ErrClosed)
	}
	var v sql.NullInt64
	if err := db.rdb.QueryRowContext(ctx, q).Scan(&v); err != nil {
		return time.Time{}, fmt.Errorf("sqlite: next due: %w", err)
	}
	if !v.Valid {
		return time.Time{}, nil
	}
	return sqlrow.FromUS(v.Int64), nil
}

// readRows runs a query on the read pool and hands each row to fn as
// driver-like values (string, []byte, int64, nil).
func (db *DB) readRows(ctx context.Context, q string, args []any, ncols int, fn func([]driver.Value) error) error {
	rows, err := db.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := make([]any, ncols)
	row := make([]driver.Value, ncols)
	for i := range vals {
		vals[i] = new(any)
	}
	for rows.Next() {
		if err := rows.Scan(vals...); err != nil {
			return err
		}
		for i, v := range vals {
			row[i] = *(v.(*any))
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return rows.Err()
}
