package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
	"github.com/apptbridge/apptbridge/store/internal/sqlrow"
)

// The outbox: texts, requests to the EHR, phone flags, API tokens. The
// outbox rows an event causes are written by wtx.apply, in the
// transaction of the event.

// queueEnqueue queues the outbox rows an applied event calls for (built
// by store.NewOutboxText and store.NewRequest): the text to the patient,
// as kind (what supersede returned), and the request to the EHR. state,
// when not nil, is o.Appointment's JSON (the snapshot).
func (w wtx) queueEnqueue(b *pgx.Batch, ev *apptbridge.Event, o apptbridge.Outcome, kind apptbridge.TextKind, state []byte, now time.Time) (*store.Text, *store.Request, error) {
	if !store.Enqueues(o) {
		return nil, nil, nil
	}
	snapshot := state
	if snapshot == nil {
		var err error
		if snapshot, err = json.Marshal(o.Appointment); err != nil {
			return nil, nil, fmt.Errorf("encode snapshot %s: %w", ev.AppointmentID, err)
		}
	}
	var (
		t *store.Text
		r *store.Request
	)
	id := ev.AppointmentID
	if o.Text != apptbridge.TextNone {
		t = store.NewOutboxText(ev, o.Appointment, kind, snapshot, now)
		onExec(b.Queue(sqlrow.InsertText, sqlrow.TextArgs(t)...), nil,
			func(err error) error { return fmt.Errorf("insert text for %s: %w", id, err) })
	}
	if o.Request != "" {
		r = store.NewRequest(ev, o.Request, snapshot, now)
		b.Queue(sqlrow.InsertRequest+` RETURNING seq`, sqlrow.RequestArgs(r)...).QueryRow(func(row pgx.Row) error {
			if err := row.Scan(&r.Seq); err != nil {
				return fmt.Errorf("insert request for %s: %w", id, err)
			}
			return nil
		})
	}
	return t, r, nil
}

// ReasonSuperseded is store.ReasonSuperseded (kept for callers of this
// package).
const ReasonSuperseded = store.ReasonSuperseded

// supersede cancels the appointment's waiting texts that a new text of
// kind replaces (store.Supersedes) and returns the kind to send it as
// (store.SendAs).
func (w wtx) supersede(ctx context.Context, appointmentID string, kind apptbridge.TextKind, now time.Time) (apptbridge.TextKind, error) {
	kinds := store.Supersedes(kind)
	if kinds == nil {
		return kind, nil
	}
	var booked bool
	err := w.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM texts WHERE appointment_id = $1 AND status = 'pending'
		AND attempts = 0 AND direction = 'out' AND kind = $2)`, appointmentID, string(apptbridge.TextBooked)).Scan(&booked)
	if err != nil {
		return kind, fmt.Errorf("look up waiting texts: %w", err)
	}
	n, err := w.cancelPending(ctx, appointmentID, kinds, store.ReasonSuperseded, now)
	if err != nil {
		return kind, err
	}
	return store.SendAs(kind, n > 0 && booked), nil
}

func (w wtx) cancelPending(ctx context.Context, appointmentID string, kinds []apptbridge.TextKind, reason string, now time.Time) (int, error) {
	q := `UPDATE texts SET status = 'canceled', reason = $1, updated_at = $2, lease_owner = ''
		WHERE appointment_id = $3 AND status = 'pending' AND attempts = 0 AND direction = 'out'`
	args := []any{reason, sqlrow.US(now), appointmentID}
	if len(kinds) > 0 {
		ks := make([]string, len(kinds))
		for i, k := range kinds {
			ks[i] = string(k)
		}
		q += ` AND kind = ANY($4::text[])`
		args = append(args, ks)
	}
	n, err := w.exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("cancel waiting texts of %s: %w", appointmentID, err)
	}
	return int(n), nil
}

// tx is store.Tx on a write transaction.
type tx struct{ w wtx }

var _ store.Tx = tx{}

// Update implements store.Outbox: fn runs in one READ COMMITTED
// transaction, and again from the start when the transaction hits a
// serialization failure or a deadlock (or loses the race to create an
// appointment): fn may run more than once.
func (db *DB) Update(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	if db.closed.Load() {
		return opErr("update", store.ErrClosed)
	}
	return opErr("update", db.write(ctx, func(ctx context.Context, ptx pgx.Tx) error {
		return fn(ctx, tx{wtx{db, ptx}})
	}))
}

// Appointment reads the state and locks the row until the transaction
// ends, so what fn decides from it still holds when it commits (another
// process's event on the appointment waits).
func (t tx) Appointment(ctx context.Context, id string) (*apptbridge.Appointment, error) {
	return t.w.loadAppointment(ctx, id, true)
}

func (t tx) ByPhone(ctx context.Context, phone string, optedOut bool) ([]*apptbridge.Appointment, error) {
	q := `SELECT state FROM appointments WHERE patient_phone = $1
		AND disposition IN ('QUEUED', 'REMINDED-1', 'REMINDED-2')
		ORDER BY start_utc, appointment_id`
	if optedOut {
		q = `SELECT state FROM appointments WHERE patient_phone = $1
		AND disposition IN ('OPTED-OUT') ORDER BY start_utc, appointment_id`
	}
	rows, err := t.w.tx.Query(ctx, q, phone)
	if err != nil {
		return nil, fmt.Errorf("active appointments of a phone: %w", err)
	}
	defer rows.Close()
	var out []*apptbridge.Appointment
	for rows.Next() {
		var state string
		if err := rows.Scan(&state); err != nil {
			return nil, fmt.Errorf("active appointments of a phone: %w", err)
		}
		a := new(apptbridge.Appointment)
		if err := json.Unmarshal([]byte(state), a); err != nil {
			return nil, fmt.Errorf("active appointments of a phone: decode: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("active appointments of a phone: %w", err)
	}
	if out == nil {
		out = []*apptbridge.Appointment{}
	}
	return out, nil
}

func (t tx) LatestAsking(ctx context.Context, phone string, now time.Time) (string, error) {
	var id string
	err := t.w.tx.QueryRow(ctx, `SELECT t.appointment_id FROM texts t
		JOIN appointments a ON a.appointment_id = t.appointment_id
		WHERE t.phone = $1 AND t.direction = 'out' AND t.asks_reply AND t.sent_at > 0
		AND a.disposition IN ('QUEUED', 'REMINDED-1', 'REMINDED-2') AND a.start_utc > $2
		ORDER BY t.sent_at DESC, t.id DESC LIMIT 1`, phone, micros(now)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
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
	return t.w.apply(ctx, ev, nil, t.w.db.now())
}

func (t tx) AddText(ctx context.Context, x *store.Text) (bool, error) {
	if !store.CheckNewText(x, t.w.db.now()) {
		return false, invalid("text with an id and a direction required")
	}
	n, err := t.w.exec(ctx, sqlrow.InsertText, sqlrow.TextArgs(x)...)
	if err != nil {
		return false, fmt.Errorf("insert text: %w", err)
	}
	return n == 1, nil
}

func (t tx) SentSince(ctx context.Context, phone string, kind apptbridge.TextKind, since time.Time) (bool, error) {
	var found bool
	err := t.w.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM texts WHERE phone = $1 AND created_at >= $2
		AND kind = $3 AND direction = 'out' AND status NOT IN ('canceled', 'failed'))`,
		phone, sqlrow.US(since), string(kind)).Scan(&found)
	if err != nil {
		return false, fmt.Errorf("texts sent since: %w", err)
	}
	return found, nil
}

func (t tx) OptedOut(ctx context.Context, phone string) (bool, error) {
	return t.w.optedOut(ctx, phone)
}

func (t tx) OptOut(ctx context.Context, phone string) error {
	if phone == "" {
		return invalid("phone required")
	}
	if err := t.w.optOut(ctx, phone); err != nil {
		return fmt.Errorf("opt out: %w", err)
	}
	return nil
}

func (t tx) OptIn(ctx context.Context, phone string) error {
	if phone == "" {
		return invalid("phone required")
	}
	if err := t.w.optIn(ctx, phone); err != nil {
		return fmt.Errorf("opt in: %w", err)
	}
	return nil
}

func (t tx) FlagPhone(ctx context.Context, phone string, code int) error {
	if phone == "" {
		return invalid("phone required")
	}
	_, err := t.w.exec(ctx, `INSERT INTO phone_flags (phone, code, flagged_at) VALUES ($1, $2, $3)
		ON CONFLICT (phone) DO UPDATE SET code = excluded.code, flagged_at = excluded.flagged_at`,
		phone, int64(code), micros(t.w.db.now()))
	if err != nil {
		return fmt.Errorf("flag phone: %w", err)
	}
	return nil
}

func (t tx) UnflagPhone(ctx context.Context, phone string) error {
	if _, err := t.w.exec(ctx, `DELETE FROM phone_flags WHERE phone = $1`, phone); err != nil {
		return fmt.Errorf("unflag phone: %w", err)
	}
	return nil
}

func (t tx) PhoneFlagged(ctx context.Context, phone string) (bool, error) {
	var found bool
	err := t.w.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM phone_flags WHERE phone = $1)`, phone).Scan(&found)
	if err != nil {
		return false, fmt.Errorf("phone flag: %w", err)
	}
	return found, nil
}

func (t tx) CancelPendingTexts(ctx context.Context, appointmentID string, kinds []apptbridge.TextKind, reason string) (int, error) {
	return t.w.cancelPending(ctx, appointmentID, kinds, reason, t.w.db.now())
}

func (t tx) SaveText(ctx context.Context, owner string, x *store.Text) error {
	return t.w.saveText(ctx, owner, x, t.w.db.now())
}

// nextDue runs q, a query of one nullable BIGINT instant.
func (db *DB) nextDue(ctx context.Context, q string) (time.Time, error) {
	if db.closed.Load() {
		return time.Time{}, opErr("next due", store.ErrClosed)
	}
	var v *int64
	if err := db.pool.QueryRow(ctx, q).Scan(&v); err != nil {
		return time.Time{}, opErr("next due", err)
	}
	if v == nil {
		return time.Time{}, nil
	}
	return sqlrow.FromUS(*v), nil
}
