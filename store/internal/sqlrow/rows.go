package sqlrow

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// Column lists and decoders of the stored records. Each decoder takes a
// row of its column list, in order, and checks the column count, so that
// a query and its decoder cannot drift apart silently.

// columns reports an error when row does not have n columns.
func columns(what string, row []driver.Value, n int) error {
	if len(row) != n {
		return fmt.Errorf("%s row has %d columns, want %d", what, len(row), n)
	}
	return nil
}

// TextCols are the texts columns Text decodes and TextArgs writes.
const TextCols = `id, direction, appointment_id, event_id, kind, phone, language, snapshot, body,
	asks_reply, immediate, status, reason, sid, error_code, attempts, next_attempt_at, lease_owner,
	lease_until, sent_at, created_at, updated_at`

// InsertText writes a text from TextArgs; a text whose id (or, inbound,
// Twilio SID) is stored already changes nothing.
const InsertText = `INSERT INTO texts (` + TextCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
	ON CONFLICT DO NOTHING`

// TextArgs are the arguments of InsertText: t's fields in TextCols order.
func TextArgs(t *store.Text) []any {
	return []any{t.ID, t.Direction, t.AppointmentID, t.EventID, string(t.Kind), t.Phone, t.Language,
		string(t.Snapshot), t.Body, t.AsksReply, t.Immediate, t.Status, t.Reason, sid(t), int64(t.ErrorCode),
		int64(t.Attempts), US(t.NextAttemptAt), t.LeaseOwner, US(t.LeaseUntil), US(t.SentAt),
		US(t.CreatedAt), US(t.UpdatedAt)}
}

// SaveText writes a claimed text's mutable fields from SaveTextArgs, only
// while owner holds its lease.
const SaveText = `UPDATE texts SET body = $1, status = $2, reason = $3, sid = $4, error_code = $5,
	attempts = $6, next_attempt_at = $7, lease_owner = $8, lease_until = $9, sent_at = $10, updated_at = $11
	WHERE id = $12 AND lease_owner = $13`

// SaveTextArgs are the arguments of SaveText.
func SaveTextArgs(owner string, t *store.Text) []any {
	return []any{t.Body, t.Status, t.Reason, sid(t), int64(t.ErrorCode), int64(t.Attempts), US(t.NextAttemptAt),
		t.LeaseOwner, US(t.LeaseUntil), US(t.SentAt), US(t.UpdatedAt), t.ID, owner}
}

// sid is the sid column of t: NULL when empty (the column is unique
// where set).
func sid(t *store.Text) any {
	if t.SID == "" {
		return nil
	}
	return t.SID
}

// Text decodes a row of TextCols.
func Text(row []driver.Value) (*store.Text, error) {
	if err := columns("text", row, 22); err != nil {
		return nil, err
	}
	return &store.Text{
		ID:            Str(row[0]),
		Direction:     Str(row[1]),
		AppointmentID: Str(row[2]),
		EventID:       Str(row[3]),
		Kind:          apptbridge.TextKind(Str(row[4])),
		Phone:         Str(row[5]),
		Language:      Str(row[6]),
		Snapshot:      Bytes(row[7]),
		Body:          Str(row[8]),
		AsksReply:     Bool(row[9]),
		Immediate:     Bool(row[10]),
		Status:        Str(row[11]),
		Reason:        Str(row[12]),
		SID:           Str(row[13]),
		ErrorCode:     int(Int(row[14])),
		Attempts:      int(Int(row[15])),
		NextAttemptAt: Time(row[16]),
		LeaseOwner:    Str(row[17]),
		LeaseUntil:    Time(row[18]),
		SentAt:        Time(row[19]),
		CreatedAt:     Time(row[20]),
		UpdatedAt:     Time(row[21]),
	}, nil
}

// RequestCols are the requests columns Request decodes.
const RequestCols = `seq, id, appointment_id, event_id, type, snapshot, control_id, status, attempts,
	next_attempt_at, lease_owner, lease_until, message, ack, ack_code, last_error, created_at, updated_at`

// InsertRequest writes a new request from RequestArgs (seq is the
// database's; message and ack are NULL until an attempt).
const InsertRequest = `INSERT INTO requests (id, appointment_id, event_id, type, snapshot, control_id,
	status, attempts, next_attempt_at, lease_owner, lease_until, message, ack, ack_code, last_error,
	created_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, NULL, $12, $13, $14, $15)`

// RequestArgs are the arguments of InsertRequest.
func RequestArgs(r *store.Request) []any {
	return []any{r.ID, r.AppointmentID, r.EventID, string(r.Type), string(r.Snapshot), r.ControlID, r.Status,
		int64(r.Attempts), US(r.NextAttemptAt), r.LeaseOwner, US(r.LeaseUntil), r.AckCode,
		r.LastError, US(r.CreatedAt), US(r.UpdatedAt)}
}

// SaveRequest writes a claimed request's mutable fields from
// SaveRequestArgs, only while owner holds its lease.
const SaveRequest = `UPDATE requests SET status = $1, attempts = $2, next_attempt_at = $3,
	lease_owner = $4, lease_until = $5, message = $6, ack = $7, ack_code = $8, last_error = $9,
	updated_at = $10, control_id = $11
	WHERE id = $12 AND lease_owner = $13`

// SaveRequestArgs are the arguments of SaveRequest.
func SaveRequestArgs(owner string, r *store.Request) []any {
	return []any{r.Status, int64(r.Attempts), US(r.NextAttemptAt), r.LeaseOwner, US(r.LeaseUntil),
		NilIfEmpty(r.Message), NilIfEmpty(r.Ack), r.AckCode, r.LastError, US(r.UpdatedAt), r.ControlID,
		r.ID, owner}
}

// Request decodes a row of RequestCols.
func Request(row []driver.Value) (*store.Request, error) {
	if err := columns("request", row, 18); err != nil {
		return nil, err
	}
	return &store.Request{
		Seq:           Int(row[0]),
		ID:            Str(row[1]),
		AppointmentID: Str(row[2]),
		EventID:       Str(row[3]),
		Type:          apptbridge.EventType(Str(row[4])),
		Snapshot:      Bytes(row[5]),
		ControlID:     Str(row[6]),
		Status:        Str(row[7]),
		Attempts:      int(Int(row[8])),
		NextAttemptAt: Time(row[9]),
		LeaseOwner:    Str(row[10]),
		LeaseUntil:    Time(row[11]),
		Message:       Bytes(row[12]),
		Ack:           Bytes(row[13]),
		AckCode:       Str(row[14]),
		LastError:     Str(row[15]),
		CreatedAt:     Time(row[16]),
		UpdatedAt:     Time(row[17]),
	}, nil
}

// ReminderCols are the reminders columns Reminder decodes.
const ReminderCols = `appointment_id, ordinal, start_utc, due_at, status, reason, lease_owner, lease_until,
	sent_at, created_at, updated_at`

// Reminder decodes a row of ReminderCols.
func Reminder(row []driver.Value) (*store.Reminder, error) {
	if err := columns("reminder", row, 11); err != nil {
		return nil, err
	}
	return &store.Reminder{
		AppointmentID: Str(row[0]),
		Ordinal:       int(Int(row[1])),
		StartUTC:      Time(row[2]),
		DueAt:         Time(row[3]),
		Status:        Str(row[4]),
		Reason:        Str(row[5]),
		LeaseOwner:    Str(row[6]),
		LeaseUntil:    Time(row[7]),
		SentAt:        Time(row[8]),
		CreatedAt:     Time(row[9]),
		UpdatedAt:     Time(row[10]),
	}, nil
}

// ArchiveCols are the archive_jobs columns ArchiveJob decodes.
const ArchiveCols = `seq, appointment_id, event_id, from_disposition, to_disposition, state, attempts,
	next_attempt_at, lease_owner, lease_until, last_error, created_at, from_patient_id`

// InsertArchiveJob writes a new archive job from ArchiveJobArgs, due at
// once.
const InsertArchiveJob = `INSERT INTO archive_jobs (appointment_id, event_id, from_disposition, to_disposition,
	state, attempts, next_attempt_at, lease_owner, lease_until, last_error, created_at, from_patient_id)
	VALUES ($1, $2, $3, $4, $5, 0, $6, '', 0, '', $6, $7)`

// ArchiveJobArgs are the arguments of InsertArchiveJob: the job of event
// ev, whose appointment's state was cur before it (nil for none) and whose
// outcome was o, written at now (see store.ArchiveTransition). The job
// records cur's patient id too: the state object to move away from is
// keyed by it (store.ArchiveJob.FromPatientID).
func ArchiveJobArgs(cur *apptbridge.Appointment, ev *apptbridge.Event, o apptbridge.Outcome, now int64) ([]any, error) {
	from, to, after := store.ArchiveTransition(cur, o)
	fromPID := ""
	if cur != nil {
		fromPID = cur.PatientID
	}
	state := ""
	if after != nil {
		j, err := json.Marshal(after)
		if err != nil {
			return nil, fmt.Errorf("archive job of event %s: %w", ev.EventID, err)
		}
		state = string(j)
	}
	return []any{ev.AppointmentID, ev.EventID, string(from), string(to), state, now, fromPID}, nil
}

// ArchiveJob decodes a row of ArchiveCols (without its Entry).
func ArchiveJob(row []driver.Value) (*store.ArchiveJob, error) {
	if err := columns("archive job", row, 13); err != nil {
		return nil, err
	}
	j := &store.ArchiveJob{
		ID:            Int(row[0]),
		AppointmentID: Str(row[1]),
		EventID:       Str(row[2]),
		From:          apptbridge.Disposition(Str(row[3])),
		To:            apptbridge.Disposition(Str(row[4])),
		Attempts:      int(Int(row[6])),
		NextAttemptAt: Time(row[7]),
		LeaseOwner:    Str(row[8]),
		LeaseUntil:    Time(row[9]),
		LastError:     Str(row[10]),
		CreatedAt:     Time(row[11]),
		FromPatientID: Str(row[12]),
	}
	if s := Str(row[5]); s != "" {
		j.State = new(apptbridge.Appointment)
		if err := json.Unmarshal([]byte(s), j.State); err != nil {
			return nil, fmt.Errorf("decode state of archive job %d: %w", j.ID, err)
		}
	}
	return j, nil
}

// SessionCols are the admin_sessions columns Session decodes.
const SessionCols = `id, created_at, last_seen_at, expires_at, ended_at, end_reason`

// Session decodes a row of SessionCols.
func Session(row []driver.Value) (*store.Session, error) {
	if err := columns("session", row, 6); err != nil {
		return nil, err
	}
	return &store.Session{
		ID:         Str(row[0]),
		CreatedAt:  Time(row[1]),
		LastSeenAt: Time(row[2]),
		ExpiresAt:  Time(row[3]),
		EndedAt:    Time(row[4]),
		EndReason:  Str(row[5]),
	}, nil
}

// AuditCols are the audit_log columns Audit decodes and AuditArgs writes.
const AuditCols = `seq, at, actor, action, target, detail, remote_ip, prev_hash, hash`

// InsertAudit appends an entry from AuditArgs.
const InsertAudit = `INSERT INTO audit_log (` + AuditCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// AuditArgs are the arguments of InsertAudit.
func AuditArgs(e *store.AuditEntry) []any {
	return []any{e.Seq, Micros(e.At), e.Actor, e.Action, e.Target, e.Detail, e.RemoteIP, e.PrevHash[:], e.Hash[:]}
}

// Audit decodes a row of AuditCols.
func Audit(row []driver.Value) (*store.AuditEntry, error) {
	if err := columns("audit", row, 9); err != nil {
		return nil, err
	}
	e := &store.AuditEntry{
		Seq:      Int(row[0]),
		At:       Time(row[1]),
		Actor:    Str(row[2]),
		Action:   Str(row[3]),
		Target:   Str(row[4]),
		Detail:   Str(row[5]),
		RemoteIP: Str(row[6]),
	}
	copy(e.PrevHash[:], Bytes(row[7]))
	copy(e.Hash[:], Bytes(row[8]))
	return e, nil
}

// HistoryCols are the events columns History decodes.
const HistoryCols = `seq, event, applied, reason, from_disposition, to_disposition, text_kind, suppressed,
	recorded_at`

// History decodes a row of HistoryCols.
func History(row []driver.Value) (store.HistoryEntry, error) {
	if err := columns("history", row, 9); err != nil {
		return store.HistoryEntry{}, err
	}
	h := store.HistoryEntry{
		Seq:        Int(row[0]),
		Applied:    Bool(row[2]),
		Reason:     Str(row[3]),
		From:       apptbridge.Disposition(Str(row[4])),
		To:         apptbridge.Disposition(Str(row[5])),
		Text:       apptbridge.TextKind(Str(row[6])),
		Suppressed: Str(row[7]),
		RecordedAt: FromMicros(Int(row[8])),
	}
	if err := json.Unmarshal([]byte(Str(row[1])), &h.Event); err != nil {
		return store.HistoryEntry{}, fmt.Errorf("decode event of seq %d: %w", h.Seq, err)
	}
	return h, nil
}

// InboundOf lists the inbound rows of an appointment's events (index
// inbound_event_id), oldest first, as InboundCols for Inbound.
const InboundOf = `SELECT i.sending_app, i.sending_facility, i.control_id, i.hash, i.message_type,
	i.received_at, i.ack_code, i.ack, i.raw, i.event_id
	FROM events e JOIN inbound i ON i.event_id = e.event_id
	WHERE e.appointment_id = $1 AND i.event_id <> ''
	ORDER BY i.received_at, e.seq`

// Inbound decodes a row of InboundOf.
func Inbound(row []driver.Value) (*store.InboundRecord, error) {
	if err := columns("inbound", row, 10); err != nil {
		return nil, err
	}
	r := &store.InboundRecord{
		Key:         store.DedupKey{SendingApplication: Str(row[0]), SendingFacility: Str(row[1]), ControlID: Str(row[2])},
		MessageType: Str(row[4]),
		ReceivedAt:  FromMicros(Int(row[5])),
		AckCode:     Str(row[6]),
		Ack:         Bytes(row[7]),
		Raw:         Bytes(row[8]),
		EventID:     Str(row[9]),
	}
	copy(r.Hash[:], Bytes(row[3]))
	return r, nil
}

// AppointmentsQuery is the query of Store.Appointments for filter f: the
// state column of the matching appointments, by appointment id, one page.
func AppointmentsQuery(f store.Filter) (string, []any) {
	var w Where
	w.Add("patient_id = ?", f.PatientID)
	w.Add("disposition = ?", string(f.Disposition))
	if !f.From.IsZero() {
		w.Add("start_utc >= ?", Micros(store.Instant(f.From)))
	}
	if !f.To.IsZero() {
		w.Add("start_utc < ?", Micros(store.Instant(f.To)))
	}
	w.Add("appointment_id > ?", f.After)
	return w.Query("SELECT state FROM appointments", "appointment_id", f.Limit)
}

// The sign-in failure counts (store.Admin's AddSignInFailure,
// SignInFailures, ResetSignInFailures).
const (
	InsertSignInFailure = `INSERT INTO signin_failures (subject, at, expires_at) VALUES ($1, $2, $3)`
	PruneSignInFailures = `DELETE FROM signin_failures WHERE expires_at <= $1`
	SignInFailures      = `SELECT at FROM signin_failures WHERE subject = $1 AND at > $2 ORDER BY at DESC LIMIT $3`
	ResetSignInFailures = `DELETE FROM signin_failures WHERE subject = $1`
)

// The queries of a backfill page (store.Archive.BackfillArchive).
const (
	// BackfillPage lists the page's events: $1 after seq, $2 recorded at
	// or after (unix µs), $3 the page size.
	BackfillPage = `SELECT ` + HistoryCols + ` FROM events WHERE seq > $1 AND recorded_at >= $2 ORDER BY seq LIMIT $3`
	// BackfillPrior lists an appointment's ($1) events before seq $2.
	BackfillPrior = `SELECT ` + HistoryCols + ` FROM events WHERE appointment_id = $1 AND seq < $2 ORDER BY seq`
	// BackfillNewest is an appointment's ($1) newest event seq.
	BackfillNewest = `SELECT MAX(seq) FROM events WHERE appointment_id = $1`
)

// BackfillReads are the reads of a backfill page in its transaction.
type BackfillReads interface {
	// Prior lists the events of appointment aid before seq (BackfillPrior).
	Prior(ctx context.Context, aid string, before int64) ([]store.HistoryEntry, error)
	// Newest returns aid's newest event seq (BackfillNewest) and current
	// state (nil for none), read after the appointment row is locked.
	Newest(ctx context.Context, aid string) (int64, *apptbridge.Appointment, error)
}

// BackfillJobArgs are the InsertArchiveJob arguments of the jobs of a
// backfill page (in seq order), written at now: see
// store.Archive.BackfillArchive for what each job carries.
func BackfillJobArgs(ctx context.Context, page []store.HistoryEntry, rd BackfillReads, now int64) ([][]any, error) {
	type appt struct {
		pid    store.ArchivePatient
		newest int64
		cur    *apptbridge.Appointment
	}
	seen := map[string]*appt{}
	out := make([][]any, 0, len(page))
	for i := range page {
		h := &page[i]
		aid := h.Event.AppointmentID
		a := seen[aid]
		if a == nil {
			a = &appt{}
			var err error
			if a.newest, a.cur, err = rd.Newest(ctx, aid); err != nil {
				return nil, fmt.Errorf("backfill: appointment %s: %w", aid, err)
			}
			prior, err := rd.Prior(ctx, aid, h.Seq)
			if err != nil {
				return nil, fmt.Errorf("backfill: history of appointment %s: %w", aid, err)
			}
			for j := range prior {
				a.pid.Next(&prior[j])
			}
			seen[aid] = a
		}
		pid := a.pid.Next(h)
		if h.Seq == a.newest && a.cur != nil {
			j, err := json.Marshal(a.cur)
			if err != nil {
				return nil, fmt.Errorf("backfill: state of appointment %s: %w", aid, err)
			}
			d := string(a.cur.Disposition)
			out = append(out, []any{aid, h.Event.EventID, d, d, string(j), now, a.cur.PatientID})
			continue
		}
		out = append(out, []any{aid, h.Event.EventID, "", "", "", now, pid})
	}
	return out, nil
}

// HistoryOfEvent reads one event's history entry (HistoryCols) by event
// id.
const HistoryOfEvent = `SELECT ` + HistoryCols + ` FROM events WHERE event_id = $1`

// AttachHistory sets each claimed archive job's Entry: its event's
// history entry, read by history (the backend's HistoryOfEvent query).
// A job whose event is missing is an error: the job and its event are
// written in one transaction, and history is never deleted.
func AttachHistory(jobs []*store.ArchiveJob, history func(eventID string) ([]store.HistoryEntry, error)) error {
	for _, j := range jobs {
		h, err := history(j.EventID)
		if err != nil {
			return fmt.Errorf("history of job %d: %w", j.ID, err)
		}
		if len(h) != 1 {
			return fmt.Errorf("event %s of job %d not found", j.EventID, j.ID)
		}
		j.Entry = h[0]
	}
	return nil
}
