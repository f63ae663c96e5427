package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// The outbox (schema version 3): texts, requests to the EHR, phone flags,
// API tokens. Rows are written by the writer like everything else; the
// outbox rows an event causes are written by batch.apply, in the
// transaction of the event.

// us encodes an optional instant: 0 for the zero time.
func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromUS decodes an optional instant.
func fromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMicros(v)
}

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

const textCols = `id, direction, appointment_id, event_id, kind, phone, language, snapshot, body,
	asks_reply, immediate, status, reason, sid, error_code, attempts, next_attempt_at, lease_owner,
	lease_until, sent_at, created_at, updated_at`

const sqlInsertText = `INSERT INTO texts (` + textCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
	ON CONFLICT DO NOTHING`

func textArgs(t *store.Text) []any {
	var sid any
	if t.SID != "" {
		sid = t.SID
	}
	return []any{t.ID, t.Direction, t.AppointmentID, t.EventID, string(t.Kind), t.Phone, t.Language,
		string(t.Snapshot), t.Body, t.AsksReply, t.Immediate, t.Status, t.Reason, sid, int64(t.ErrorCode),
		int64(t.Attempts), us(t.NextAttemptAt), t.LeaseOwner, us(t.LeaseUntil), us(t.SentAt),
		us(t.CreatedAt), us(t.UpdatedAt)}
}

// scanText decodes a row of textCols (driver values or database/sql scans).
func scanText(row []driver.Value) (*store.Text, error) {
	if len(row) != 22 {
		return nil, fmt.Errorf("text row has %d columns", len(row))
	}
	t := &store.Text{
		ID:            str(row[0]),
		Direction:     str(row[1]),
		AppointmentID: str(row[2]),
		EventID:       str(row[3]),
		Kind:          apptbridge.TextKind(str(row[4])),
		Phone:         str(row[5]),
		Language:      str(row[6]),
		Snapshot:      []byte(str(row[7])),
		Body:          str(row[8]),
		AsksReply:     boolean(row[9]),
		Immediate:     boolean(row[10]),
		Status:        str(row[11]),
		Reason:        str(row[12]),
		SID:           str(row[13]),
		ErrorCode:     int(integer(row[14])),
		Attempts:      int(integer(row[15])),
		NextAttemptAt: fromUS(integer(row[16])),
		LeaseOwner:    str(row[17]),
		LeaseUntil:    fromUS(integer(row[18])),
		SentAt:        fromUS(integer(row[19])),
		CreatedAt:     fromUS(integer(row[20])),
		UpdatedAt:     fromUS(integer(row[21])),
	}
	if len(t.Snapshot) == 0 {
		t.Snapshot = nil
	}
	return t, nil
}

const requestCols = `seq, id, appointment_id, event_id, type, snapshot, control_id, status, attempts,
	next_attempt_at, lease_owner, lease_until, message, ack, ack_code, last_error, created_at, updated_at`

func scanRequest(row []driver.Value) (*store.Request, error) {
	if len(row) != 18 {
		return nil, fmt.Errorf("request row has %d columns", len(row))
	}
	return &store.Request{
		Seq:           integer(row[0]),
		ID:            str(row[1]),
		AppointmentID: str(row[2]),
		EventID:       str(row[3]),
		Type:          apptbridge.EventType(str(row[4])),
		Snapshot:      bytesOf(row[5]),
		ControlID:     str(row[6]),
		Status:        str(row[7]),
		Attempts:      int(integer(row[8])),
		NextAttemptAt: fromUS(integer(row[9])),
		LeaseOwner:    str(row[10]),
		LeaseUntil:    fromUS(integer(row[11])),
		Message:       bytesOf(row[12]),
		Ack:           bytesOf(row[13]),
		AckCode:       str(row[14]),
		LastError:     str(row[15]),
		CreatedAt:     fromUS(integer(row[16])),
		UpdatedAt:     fromUS(integer(row[17])),
	}, nil
}

func str(v driver.Value) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return ""
}

func bytesOf(v driver.Value) []byte {
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

func integer(v driver.Value) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case bool:
		if x {
			return 1
		}
	}
	return 0
}

func boolean(v driver.Value) bool { return integer(v) != 0 }

// enqueue writes the outbox rows an applied event calls for: the text to
// the patient and the request to the EHR. state is the appointment's JSON
// after the event.
func (b *batch) enqueue(ctx context.Context, ev *apptbridge.Event, o apptbridge.Outcome, now time.Time) (*store.Text, *store.Request, error) {
	if o.Appointment == nil || (o.Text == apptbridge.TextNone && o.Request == "") {
		return nil, nil, nil
	}
	if err := b.snap.encodeAppointment(o.Appointment); err != nil {
		return nil, nil, fmt.Errorf("encode snapshot %s: %w", ev.AppointmentID, err)
	}
	snapshot := append([]byte(nil), b.snap.buf...)
	var (
		t *store.Text
		r *store.Request
	)
	if o.Text != apptbridge.TextNone {
		kind, err := b.supersede(ctx, ev.AppointmentID, o.Text, now)
		if err != nil {
			return nil, nil, err
		}
		t = &store.Text{
			ID:            apptbridge.NewEventID(),
			Direction:     store.DirOut,
			AppointmentID: ev.AppointmentID,
			EventID:       ev.EventID,
			Kind:          kind,
			Phone:         o.Appointment.PatientPhone,
			Language:      o.Appointment.PatientLanguage,
			Snapshot:      snapshot,
			AsksReply:     kind.AsksReply(),
			// Reminders are timed by the reminder worker, which has
			// checked the window on their send time already.
			Immediate:     kind.Immediate() || kind == apptbridge.TextRemind1 || kind == apptbridge.TextRemind2,
			Status:        store.TextPending,
			NextAttemptAt: now,
			CreatedAt:     now,
			UpdatedAt:     now,
		}
		if _, err := b.exec(ctx, sqlInsertText, textArgs(t)...); err != nil {
			return nil, nil, fmt.Errorf("insert text for %s: %w", ev.AppointmentID, err)
		}
	}
	if o.Request != "" {
		id := apptbridge.NewEventID()
		r = &store.Request{
			ID:            id,
			AppointmentID: ev.AppointmentID,
			EventID:       ev.EventID,
			Type:          o.Request,
			Snapshot:      snapshot,
			ControlID:     controlID(id),
			Status:        store.RequestPending,
			NextAttemptAt: now,
			CreatedAt:     now,
			UpdatedAt:     now,
		}
		seq, err := b.insertRequest(ctx, r)
		if err != nil {
			return nil, nil, fmt.Errorf("insert request for %s: %w", ev.AppointmentID, err)
		}
		r.Seq = seq
	}
	return t, r, nil
}

// controlID derives an outbound MSH-10 (at most 20 characters in HL7 v2.5)
// from a request id: the UUIDv7's hex digits without dashes, last 20
// (the random part and the low bits of the time, unique in practice).
func controlID(id string) string {
	h := strings.ReplaceAll(id, "-", "")
	if len(h) > 20 {
		h = h[len(h)-20:]
	}
	return "AB" + strings.ToUpper(h[2:])
}

func (b *batch) insertRequest(ctx context.Context, r *store.Request) (int64, error) {
	if _, err := b.exec(ctx, `INSERT INTO requests (id, appointment_id, event_id, type, snapshot, control_id,
		status, attempts, next_attempt_at, lease_owner, lease_until, message, ack, ack_code, last_error,
		created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		r.ID, r.AppointmentID, r.EventID, string(r.Type), string(r.Snapshot), r.ControlID, r.Status,
		int64(r.Attempts), us(r.NextAttemptAt), r.LeaseOwner, us(r.LeaseUntil), nil, nil, r.AckCode,
		r.LastError, us(r.CreatedAt), us(r.UpdatedAt)); err != nil {
		return 0, err
	}
	var seq int64
	err := b.query(ctx, `SELECT seq FROM requests WHERE id = $1`, func(row []driver.Value) error {
		seq = integer(row[0])
		return nil
	}, r.ID)
	return seq, err
}

// Supersession: a text still waiting in the outbox (never attempted) that
// a newer event makes wrong or redundant is canceled when the newer text
// is enqueued, so a patient whose texts wait for the outreach window gets
// the latest news once, not every step of it:
//   - booked/rescheduled/modified replace a waiting booked, rescheduled
//     or modified text (the new one carries the current details); if the
//     replaced text was the booking, the new one is sent as "booked", the
//     patient never having been told of the appointment;
//   - canceled/noshowed replace every waiting text about the appointment
//     except receipts.
var (
	detailKinds = []apptbridge.TextKind{apptbridge.TextBooked, apptbridge.TextRescheduled, apptbridge.TextModified}
	endingKinds = []apptbridge.TextKind{apptbridge.TextBooked, apptbridge.TextRescheduled,
		apptbridge.TextModified, apptbridge.TextConfirmed, apptbridge.TextRemind1, apptbridge.TextRemind2}
)

// ReasonSuperseded is the reason of a text replaced by a newer one.
const ReasonSuperseded = "superseded by a newer text"

func (b *batch) supersede(ctx context.Context, appointmentID string, kind apptbridge.TextKind, now time.Time) (apptbridge.TextKind, error) {
	var kinds []apptbridge.TextKind
	switch kind {
	case apptbridge.TextBooked, apptbridge.TextRescheduled, apptbridge.TextModified:
		kinds = detailKinds
	case apptbridge.TextCanceled, apptbridge.TextNoshowed:
		kinds = endingKinds
	default:
		return kind, nil
	}
	var booked bool
	err := b.query(ctx, `SELECT kind FROM texts WHERE appointment_id = $1 AND status = 'pending'
		AND attempts = 0 AND direction = 'out'`, func(row []driver.Value) error {
		if apptbridge.TextKind(str(row[0])) == apptbridge.TextBooked {
			booked = true
		}
		return nil
	}, appointmentID)
	if err != nil {
		return kind, fmt.Errorf("look up waiting texts: %w", err)
	}
	n, err := b.cancelPending(ctx, appointmentID, kinds, ReasonSuperseded, now)
	if err != nil {
		return kind, err
	}
	if n > 0 && booked && (kind == apptbridge.TextRescheduled || kind == apptbridge.TextModified) {
		kind = apptbridge.TextBooked
	}
	return kind, nil
}

func (b *batch) cancelPending(ctx context.Context, appointmentID string, kinds []apptbridge.TextKind, reason string, now time.Time) (int, error) {
	q := `UPDATE texts SET status = 'canceled', reason = $1, updated_at = $2, lease_owner = ''
		WHERE appointment_id = $3 AND status = 'pending' AND attempts = 0 AND direction = 'out'`
	args := []any{reason, us(now), appointmentID}
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
		ids = append(ids, str(row[0]))
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
		id = str(row[0])
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
	if x == nil || x.ID == "" || (x.Direction != store.DirIn && x.Direction != store.DirOut) {
		return false, invalid("text with an id and a direction required")
	}
	now := t.db.now()
	if x.CreatedAt.IsZero() {
		x.CreatedAt = now
	}
	if x.UpdatedAt.IsZero() {
		x.UpdatedAt = now
	}
	if x.Direction == store.DirOut && x.Status == "" {
		x.Status = store.TextPending
	}
	if x.Direction == store.DirOut && x.NextAttemptAt.IsZero() {
		x.NextAttemptAt = now
	}
	n, err := t.b.exec(ctx, sqlInsertText, textArgs(x)...)
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
	}, phone, us(since), string(kind))
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

func (t tx) SaveText(ctx context.Context, owner string, x *store.Text) error {
	return t.b.saveText(ctx, owner, x, t.db.now())
}

func (b *batch) saveText(ctx context.Context, owner string, x *store.Text, now time.Time) error {
	x.UpdatedAt = now
	var sid any
	if x.SID != "" {
		sid = x.SID
	}
	n, err := b.exec(ctx, `UPDATE texts SET body = $1, status = $2, reason = $3, sid = $4, error_code = $5,
		attempts = $6, next_attempt_at = $7, lease_owner = $8, lease_until = $9, sent_at = $10, updated_at = $11
		WHERE id = $12 AND lease_owner = $13`,
		x.Body, x.Status, x.Reason, sid, int64(x.ErrorCode), int64(x.Attempts), us(x.NextAttemptAt),
		x.LeaseOwner, us(x.LeaseUntil), us(x.SentAt), us(x.UpdatedAt), x.ID, owner)
	if err != nil {
		return fmt.Errorf("save text %s: %w", x.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("save text %s: %w", x.ID, store.ErrLeaseLost)
	}
	return nil
}

// ClaimTexts implements store.Outbox.
func (db *DB) ClaimTexts(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*store.Text, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: claim texts: %w", store.ErrClosed)
	}
	if owner == "" || limit <= 0 || lease <= 0 {
		return nil, fmt.Errorf("sqlite: claim texts: %w", invalid("owner, lease and limit required"))
	}
	now = store.Instant(now)
	until := now.Add(lease)
	var out []*store.Text
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		out = out[:0]
		b := w.b
		err := b.query(ctx, `SELECT `+textCols+` FROM texts
			WHERE status IN ('pending', 'attempting') AND next_attempt_at <= $1
			AND (lease_owner = '' OR lease_until <= $1)
			ORDER BY next_attempt_at, id LIMIT $2`, func(row []driver.Value) error {
			t, err := scanText(row)
			if err == nil {
				out = append(out, t)
			}
			return err
		}, micros(now), int64(limit))
		if err != nil {
			return err
		}
		for _, t := range out {
			if _, err := b.exec(ctx, `UPDATE texts SET lease_owner = $1, lease_until = $2, next_attempt_at = $3
				WHERE id = $4`, owner, micros(until), micros(until), t.ID); err != nil {
				return err
			}
			t.LeaseOwner, t.LeaseUntil, t.NextAttemptAt = owner, until, until
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim texts: %w", err)
	}
	return out, nil
}

// SaveText implements store.Outbox.
func (db *DB) SaveText(ctx context.Context, owner string, x *store.Text) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: save text: %w", store.ErrClosed)
	}
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		return w.b.saveText(ctx, owner, x, db.now())
	})
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// NextTextDue implements store.Outbox.
func (db *DB) NextTextDue(ctx context.Context) (time.Time, error) {
	return db.nextDue(ctx, `SELECT MIN(next_attempt_at) FROM texts WHERE status IN ('pending', 'attempting')`)
}

// NextRequestDue implements store.Outbox.
func (db *DB) NextRequestDue(ctx context.Context) (time.Time, error) {
	return db.nextDue(ctx, `SELECT MIN(next_attempt_at) FROM requests WHERE status IN ('pending', 'sending')`)
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
	return fromUS(v.Int64), nil
}

// TextStatus implements store.Outbox.
func (db *DB) TextStatus(ctx context.Context, sid, status string, errorCode int) (*store.Text, bool, error) {
	if db.closed.Load() {
		return nil, false, fmt.Errorf("sqlite: text status: %w", store.ErrClosed)
	}
	if sid == "" {
		return nil, false, fmt.Errorf("sqlite: text status: %w", invalid("message sid required"))
	}
	var (
		t       *store.Text
		changed bool
	)
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		t, changed = nil, false
		b := w.b
		err := b.query(ctx, `SELECT `+textCols+` FROM texts WHERE sid = $1`, func(row []driver.Value) error {
			var err error
			t, err = scanText(row)
			return err
		}, sid)
		if err != nil {
			return err
		}
		if t == nil {
			return notFound("text")
		}
		if store.StatusRank(status) <= store.StatusRank(t.Status) {
			return nil
		}
		now := db.now()
		if errorCode == 0 {
			errorCode = t.ErrorCode
		}
		if _, err := b.exec(ctx, `UPDATE texts SET status = $1, error_code = $2, updated_at = $3 WHERE id = $4`,
			status, int64(errorCode), micros(now), t.ID); err != nil {
			return err
		}
		t.Status, t.ErrorCode, t.UpdatedAt = status, errorCode, now
		changed = true
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: text status %s: %w", sid, err)
	}
	return t, changed, nil
}

// Texts implements store.Outbox.
func (db *DB) Texts(ctx context.Context, f store.TextFilter) ([]*store.Text, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: texts: %w", store.ErrClosed)
	}
	var w where
	w.add("appointment_id = ?", f.AppointmentID)
	w.add("phone = ?", f.Phone)
	w.add("direction = ?", f.Direction)
	q, args := w.query("SELECT "+textCols+" FROM texts", "created_at DESC, id DESC", f.Limit)
	var out []*store.Text
	err := db.readRows(ctx, q, args, 22, func(row []driver.Value) error {
		t, err := scanText(row)
		if err == nil {
			out = append(out, t)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: texts: %w", err)
	}
	return out, nil
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

// ClaimRequest implements store.Outbox.
func (db *DB) ClaimRequest(ctx context.Context, owner string, now time.Time, lease time.Duration) (*store.Request, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: claim request: %w", store.ErrClosed)
	}
	if owner == "" || lease <= 0 {
		return nil, fmt.Errorf("sqlite: claim request: %w", invalid("owner and lease required"))
	}
	now = store.Instant(now)
	until := now.Add(lease)
	var r *store.Request
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		r = nil
		b := w.b
		err := b.query(ctx, `SELECT `+requestCols+` FROM requests r
			WHERE r.status IN ('pending', 'sending') AND r.next_attempt_at <= $1
			AND (r.lease_owner = '' OR r.lease_until <= $1)
			AND NOT EXISTS (SELECT 1 FROM requests p WHERE p.appointment_id = r.appointment_id
				AND p.seq < r.seq AND p.status IN ('pending', 'sending'))
			ORDER BY r.next_attempt_at, r.seq LIMIT 1`, func(row []driver.Value) error {
			var err error
			r, err = scanRequest(row)
			return err
		}, micros(now))
		if err != nil || r == nil {
			return err
		}
		if _, err := b.exec(ctx, `UPDATE requests SET lease_owner = $1, lease_until = $2, next_attempt_at = $3
			WHERE seq = $4`, owner, micros(until), micros(until), r.Seq); err != nil {
			return err
		}
		r.LeaseOwner, r.LeaseUntil, r.NextAttemptAt = owner, until, until
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim request: %w", err)
	}
	return r, nil
}

// SaveRequest implements store.Outbox.
func (db *DB) SaveRequest(ctx context.Context, owner string, r *store.Request) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: save request: %w", store.ErrClosed)
	}
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		r.UpdatedAt = db.now()
		n, err := w.b.exec(ctx, `UPDATE requests SET status = $1, attempts = $2, next_attempt_at = $3,
			lease_owner = $4, lease_until = $5, message = $6, ack = $7, ack_code = $8, last_error = $9,
			updated_at = $10, control_id = $11
			WHERE id = $12 AND lease_owner = $13`,
			r.Status, int64(r.Attempts), us(r.NextAttemptAt), r.LeaseOwner, us(r.LeaseUntil),
			nilIfEmpty(r.Message), nilIfEmpty(r.Ack), r.AckCode, r.LastError, us(r.UpdatedAt), r.ControlID,
			r.ID, owner)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrLeaseLost
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: save request %s: %w", r.ID, err)
	}
	return nil
}

func nilIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// Requests implements store.Outbox.
func (db *DB) Requests(ctx context.Context, f store.RequestFilter) ([]*store.Request, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: requests: %w", store.ErrClosed)
	}
	var w where
	w.add("appointment_id = ?", f.AppointmentID)
	w.add("status = ?", f.Status)
	q, args := w.query("SELECT "+requestCols+" FROM requests", "seq", f.Limit)
	var out []*store.Request
	err := db.readRows(ctx, q, args, 18, func(row []driver.Value) error {
		r, err := scanRequest(row)
		if err == nil {
			out = append(out, r)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: requests: %w", err)
	}
	return out, nil
}

// RetryRequest implements store.Outbox.
func (db *DB) RetryRequest(ctx context.Context, id string, now time.Time) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: retry request: %w", store.ErrClosed)
	}
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		status := ""
		err := w.b.query(ctx, `SELECT status FROM requests WHERE id = $1`, func(row []driver.Value) error {
			status = str(row[0])
			return nil
		}, id)
		switch {
		case err != nil:
			return err
		case status == "":
			return notFound("request")
		case status != store.RequestDead:
			return invalid("only a dead request can be retried")
		}
		// A newer request of the same appointment that went (or may have
		// gone) to the EHR would be overtaken: a confirm retried after the
		// patient's cancel was sent would confirm a canceled visit. A newer
		// one never attempted is fine: the retried one goes first.
		newer := false
		err = w.b.query(ctx, `SELECT 1 FROM requests r WHERE r.appointment_id =
			(SELECT appointment_id FROM requests WHERE id = $1)
			AND r.seq > (SELECT seq FROM requests WHERE id = $2) AND r.status <> 'dead'
			AND (r.status = 'acked' OR r.attempts > 0) LIMIT 1`,
			func([]driver.Value) error {
				newer = true
				return nil
			}, id, id)
		if err != nil {
			return err
		}
		if newer {
			return invalid("a newer request of this appointment was sent after it; retrying would reverse their order")
		}
		_, err = w.b.exec(ctx, `UPDATE requests SET status = 'pending', next_attempt_at = $1, attempts = 0,
			lease_owner = '', last_error = '', updated_at = $2 WHERE id = $3`,
			micros(store.Instant(now)), micros(db.now()), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: retry request %s: %w", id, err)
	}
	return nil
}

// QueueStats implements store.Outbox.
func (db *DB) QueueStats(ctx context.Context) ([]store.QueueStat, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: queue stats: %w", store.ErrClosed)
	}
	out := make([]store.QueueStat, 0, 3)
	for _, q := range []struct{ name, sql string }{
		{"texts", `SELECT COUNT(*), MIN(created_at) FROM texts WHERE status IN ('pending', 'attempting')`},
		{"requests", `SELECT COUNT(*), MIN(created_at) FROM requests WHERE status IN ('pending', 'sending')`},
		{"dead_requests", `SELECT COUNT(*), MIN(created_at) FROM requests WHERE status = 'dead'`},
	} {
		var (
			n      int
			oldest sql.NullInt64
		)
		if err := db.rdb.QueryRowContext(ctx, q.sql).Scan(&n, &oldest); err != nil {
			return nil, fmt.Errorf("sqlite: queue stats: %w", err)
		}
		s := store.QueueStat{Queue: q.name, Depth: n}
		if oldest.Valid {
			s.Oldest = fromUS(oldest.Int64)
		}
		out = append(out, s)
	}
	return out, nil
}

// CreateToken implements store.Outbox.
func (db *DB) CreateToken(ctx context.Context, t *store.Token) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: create token: %w", store.ErrClosed)
	}
	if t == nil || t.ID == "" || t.Name == "" {
		return fmt.Errorf("sqlite: create token: %w", invalid("token id and name required"))
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = db.now()
	}
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		_, err := w.b.exec(ctx, `INSERT INTO api_tokens (id, name, hash, created_at, revoked_at)
			VALUES ($1, $2, $3, $4, $5)`, t.ID, t.Name, t.Hash[:], us(t.CreatedAt), us(t.RevokedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create token: %w", err)
	}
	return nil
}

// TokenByHash implements store.Outbox.
func (db *DB) TokenByHash(ctx context.Context, h store.Hash) (*store.Token, error) {
	if db.closed.Load() {
		return nil, fmt.Errorf("sqlite: token: %w", store.ErrClosed)
	}
	var (
		t         = &store.Token{Hash: h}
		c, r      int64
		hashBytes []byte
	)
	err := db.rdb.QueryRowContext(ctx, `SELECT id, name, hash, created_at, revoked_at FROM api_tokens
		WHERE hash = $1 AND revoked_at = 0`, h[:]).Scan(&t.ID, &t.Name, &hashBytes, &c, &r)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: token: %w", notFound("token"))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: token: %w", err)
	}
	t.CreatedAt, t.RevokedAt = fromUS(c), fromUS(r)
	return t, nil
}

// ReleaseLeases makes every leased text and request due now, and frees
// leased reminders. The embedded
// store serves one process, so at start-up every lease belongs to a
// process that is gone: without this, its texts would wait for their
// leases to run out (minutes) after a crash. Not part of store.Outbox: a
// shared backend must let leases expire instead.
func (db *DB) ReleaseLeases(ctx context.Context, now time.Time) (int, error) {
	if db.closed.Load() {
		return 0, fmt.Errorf("sqlite: release leases: %w", store.ErrClosed)
	}
	var n int64
	err := db.w.do(ctx, func(ctx context.Context, w wtx) error {
		n = 0
		now := micros(store.Instant(now))
		a, err := w.b.exec(ctx, `UPDATE texts SET lease_owner = '', lease_until = 0, next_attempt_at = $1
			WHERE status IN ('pending', 'attempting') AND lease_owner <> ''`, now)
		if err != nil {
			return err
		}
		b, err := w.b.exec(ctx, `UPDATE requests SET lease_owner = '', lease_until = 0, next_attempt_at = $1,
			status = 'pending' WHERE status IN ('pending', 'sending') AND lease_owner <> ''`, now)
		if err != nil {
			return err
		}
		c, err := w.b.exec(ctx, `UPDATE reminders SET lease_owner = '', lease_until = 0
			WHERE status = 'planned' AND lease_owner <> ''`)
		n = a + b + c
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: release leases: %w", err)
	}
	return int(n), nil
}

// where builds the WHERE clause of a list query from optional filters.
type where struct {
	conds []string
	args  []any
}

// add adds cond (one ? for v) unless v is the zero value.
func (w *where) add(cond string, v any) {
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

// query returns selectFrom with the conditions, ORDER BY order and LIMIT
// limit (DefaultLimit when ≤ 0), and its arguments.
func (w *where) query(selectFrom, order string, limit int) (string, []any) {
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
