package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/apptbridge/apptbridge"
)

// The admin page's side of the store: a persisted secret (the signing
// key's root), sign-in codes, sessions, the audit log, and the reads the
// dashboard, timeline and exports need.

// Sign-in code errors (UseLoginCode).
var (
	ErrCodeWrong   = errors.New("wrong code")
	ErrCodeExpired = errors.New("code expired or already used")
	ErrCodeLocked  = errors.New("too many wrong codes")
)

// ErrSessionEnded is returned for a session that was ended, idled out or
// expired.
var ErrSessionEnded = errors.New("session ended")

// LoginCode is a sign-in code texted to the administrator; only its hash
// is stored.
type LoginCode struct {
	ID        string // the MFA token's id (jti)
	Hash      Hash   // keyed hash of the code (see auth)
	ExpiresAt time.Time
	MaxTries  int // wrong answers allowed; the next answer is refused
	CreatedAt time.Time
}

// Session is a signed-in administrator's session (one app token chain).
type Session struct {
	ID         string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute end (refreshes do not pass it)
	EndedAt    time.Time // zero while open
	EndReason  string    // "logout", "idle", …
}

// AuditEntry is one admin action in the append-only, hash-chained audit
// log. Detail never holds PHI (ids, counts and outcomes only).
type AuditEntry struct {
	Seq      int64
	At       time.Time
	Actor    string // "admin:<session id>", "ip:<address>" before sign-in, "token:<name>"
	Action   string // e.g. "login", "login.failed", "mfa", "view.appointment", "export", "retry", "simulate.event"
	Target   string // appointment id, request id, export name; "" for none
	Detail   string
	RemoteIP string
	PrevHash Hash
	Hash     Hash
}

// AuditHash is an entry's chain hash: SHA-256 over the previous entry's
// hash and the entry's fields, each length-prefixed (so no two different
// entries hash alike). At is taken in microseconds, as stored.
func AuditHash(prev Hash, e *AuditEntry) Hash {
	h := sha256.New()
	h.Write(prev[:])
	var n [8]byte
	put := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(e.At.UnixMicro()))
	h.Write(n[:])
	put(e.Actor)
	put(e.Action)
	put(e.Target)
	put(e.Detail)
	put(e.RemoteIP)
	var out Hash
	h.Sum(out[:0])
	return out
}

// VerifyAuditChain checks entries (oldest first, from the first entry of
// the log or continuing after prev): each links to the one before and
// hashes to what it says. It names the first entry that does not.
func VerifyAuditChain(prev Hash, entries []*AuditEntry) error {
	for _, e := range entries {
		if e.PrevHash != prev {
			return fmt.Errorf("audit entry %d: does not link to the entry before it", e.Seq)
		}
		if AuditHash(prev, e) != e.Hash {
			return fmt.Errorf("audit entry %d: its contents do not match its hash", e.Seq)
		}
		prev = e.Hash
	}
	return nil
}

// HexHash is h in hex (for JSON and logs).
func HexHash(h Hash) string { return hex.EncodeToString(h[:]) }

// Page sizes of the Admin listings (Audit, HistorySince), the same on
// every backend.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// PageSize is limit as a page size: DefaultPageSize when ≤ 0, at most
// MaxPageSize.
func PageSize(limit int) int {
	if limit <= 0 {
		return DefaultPageSize
	}
	return min(limit, MaxPageSize)
}

// AuditFilter selects audit entries, oldest first.
type AuditFilter struct {
	AfterSeq int64
	Limit    int // default 100, at most 1000
}

// Stats is what the dashboard shows (no PHI).
type Stats struct {
	Dispositions map[apptbridge.Disposition]int

	// MLLP in: messages received in the last hour and how many of them
	// were answered with an error ACK (AE/AR/CE/CR); the last one's time.
	InboundLastHour      int
	InboundErrorLastHour int
	InboundLastAt        time.Time

	Queues []QueueStat // outbox depth and oldest (texts, requests)

	TextsSent24h   int // texts accepted by Twilio (or the sandbox) in 24 h
	TextsFailed24h int // failed or undelivered in 24 h
	RequestsDead   int // dead letters waiting for an operator

	RemindersPlanned int
	RemindersNextDue time.Time
	RemindersSent24h int
	RemindersSkip24h int
}

// Admin is the admin page's part of the store.
type Admin interface {
	// Secret returns the secret called name, creating it with gen the
	// first time; every process on the store gets the same bytes.
	Secret(ctx context.Context, name string, gen func() []byte) ([]byte, error)

	// SaveLoginCode stores a new sign-in code.
	SaveLoginCode(ctx context.Context, c *LoginCode) error
	// UseLoginCode answers code id with a guess, atomically: ErrCodeLocked
	// once MaxTries wrong answers were given (even for the right code);
	// ErrCodeExpired when unknown, used or past ExpiresAt; ErrCodeWrong
	// (counted) when match reports false; nil when it reports true, and
	// the code is used up. It returns the wrong answers left.
	UseLoginCode(ctx context.Context, id string, now time.Time, match func(Hash) bool) (left int, err error)

	// CreateSession stores a new session.
	CreateSession(ctx context.Context, s *Session) error
	// TouchSession checks that session id is open, not past ExpiresAt and
	// seen within idle, and (touch) records now as its last sighting; a
	// check without touch (an automatic poll) does not count as use. An
	// idle or expired session is ended: it
	// ends it (reason "idle" or "expired") and returns ErrSessionEnded.
	// With ErrSessionEnded it returns the ended session too (EndedAt,
	// EndReason); an unknown id is ErrSessionEnded wrapped with ENOTFOUND,
	// with no session.
	TouchSession(ctx context.Context, id string, now time.Time, idle time.Duration, touch bool) (*Session, error)
	// EndSession ends session id (idempotent: the first end and its
	// reason stay; an unknown id is not an error).
	EndSession(ctx context.Context, id, reason string, now time.Time) error

	// AppendAudit appends e to the audit log, setting Seq, PrevHash and
	// Hash (serialized across processes: the chain never forks).
	AppendAudit(ctx context.Context, e *AuditEntry) error
	// Audit lists audit entries oldest first.
	Audit(ctx context.Context, f AuditFilter) ([]*AuditEntry, error)

	// Stats counts for the dashboard.
	Stats(ctx context.Context, now time.Time) (*Stats, error)
	// InboundOf lists the inbound HL7 messages that carried events of
	// appointment id, oldest first.
	InboundOf(ctx context.Context, id string) ([]*InboundRecord, error)
	// HistorySince lists history entries of all appointments after seq,
	// in seq order (Event.AppointmentID says whose), for exports; limit
	// defaults to 100, at most 1000.
	HistorySince(ctx context.Context, afterSeq int64, limit int) ([]HistoryEntry, error)
	// HistoryHorizon returns a seq at or below which the history is
	// final: every entry with a seq up to it that will ever be committed
	// is committed, so paging HistorySince up to it misses nothing. On
	// SQLite (one writer, seqs committed in order) it is the last seq;
	// several PostgreSQL writers take seqs in one order and commit in
	// another, so a page could step past an entry that commits a moment
	// later: there it waits for the history writes in flight to end.
	HistoryHorizon(ctx context.Context) (int64, error)

	// Failed sign-ins, counted per key for every process on the store
	// (the sign-in throttle, see web.StoreLimiter). A key names what is
	// counted ("ip:<address>", "account:admin"); it never holds a
	// password or code.
	//
	// AddSignInFailure records a failure of key at at, kept until expires
	// (at plus the counting window), and deletes the failures of every
	// key that expired at at or before, so only live windows are stored.
	AddSignInFailure(ctx context.Context, key string, at, expires time.Time) error
	// SignInFailures lists the times of key's failures after since
	// (exclusive), newest first, at most limit (1 to MaxPageSize).
	SignInFailures(ctx context.Context, key string, since time.Time, limit int) ([]time.Time, error)
	// ResetSignInFailures forgets key's failures (after a sign-in).
	ResetSignInFailures(ctx context.Context, key string) error
}

// Link chains e after the log's last entry (seq lastSeq, hash last; 0 and
// the zero hash for an empty log): e takes the next seq, links to last and
// gets its own hash. Backends call it with the last entry read in the
// transaction that appends e, so the chain cannot fork.
func (e *AuditEntry) Link(lastSeq int64, last Hash) {
	e.Seq, e.PrevHash = lastSeq+1, last
	e.Hash = AuditHash(last, e)
}
