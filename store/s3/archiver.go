// Package s3 is the S3 archive of apptbridge (SPEC §12): the original's
// data lake, Athena-ready. For every history entry it writes
//
//	history/customer=<CUSTOMER_CODE>/dt=<YYYY-MM-DD>/appointment<aid>-patient<pid>-<epochms>-<event_id>.json
//
// (one immutable object per event, dt and epochms from when the event was
// recorded, UTC) and keeps one object per appointment at
//
//	state/customer=<CUSTOMER_CODE>/disposition=<D>/appointment<aid>-patient<pid>.json
//
// moved (the new key put, then the old deleted) when a component of its
// key changes: the disposition or the patient id. Each object is one canonical JSON object: the state is the
// appointment as GET /v1/appointments/{id} and the state export show it;
// a history object is a history export row (seq, recorded_at, applied,
// reason, from, disposition, text, suppressed, then the event's keys).
//
// Objects are written from the store's archive queue (store.Archive) by a
// Worker: an S3 outage delays them, loses nothing. Every put asks for
// server-side encryption: aws:kms with the key when KMSKeyID is set,
// AES256 otherwise.
package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/store"
)

// Config configures an Archiver.
type Config struct {
	Bucket       string // S3_BUCKET (required)
	CustomerCode string // CUSTOMER_CODE: the customer= partition (required)
	Region       string // AWS_REGION; "" leaves it to the AWS config chain
	// Endpoint (S3_ENDPOINT) is an S3-compatible server's URL; it turns
	// on path-style addressing.
	Endpoint string
	// KMSKeyID (S3_KMS_KEY_ID) selects SSE-KMS with this key; "" means
	// SSE-S3 (AES256).
	KMSKeyID string
	// HTTPClient replaces the SDK's HTTP client (tests record requests).
	HTTPClient aws.HTTPClient
	// Credentials replace the standard AWS chain (tests); nil uses it.
	Credentials aws.CredentialsProvider
}

// Archiver writes the objects of archive jobs.
type Archiver struct {
	cfg    Config
	client *awss3.Client
}

// New returns an Archiver with credentials from the standard AWS chain
// (environment, shared config, web identity, ECS/EC2 roles).
func New(ctx context.Context, cfg Config) (*Archiver, error) {
	if cfg.Bucket == "" || cfg.CustomerCode == "" {
		return nil, errors.New("s3: bucket and customer code required")
	}
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: aws config: %w", err)
	}
	client := awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			o.UsePathStyle = true
		}
		if cfg.HTTPClient != nil {
			o.HTTPClient = cfg.HTTPClient
		}
		// The archive queue retries with its own backoff: fail fast.
		o.RetryMaxAttempts = 2
		// Checksums only when the operation requires them, which keeps
		// S3-compatible servers without the newer trailers working.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &Archiver{cfg: cfg, client: client}, nil
}

// Client returns the SDK client (for tests and tools).
func (a *Archiver) Client() *awss3.Client { return a.client }

// Archive writes job's objects: the history object, then the state object
// at its disposition's key, then deletes the state object's previous key.
// Every step is idempotent, so a job may run again (a lease lost, a crash
// before ArchiveDone).
func (a *Archiver) Archive(ctx context.Context, job *store.ArchiveJob) error {
	pid := job.Entry.Event.PatientID
	if job.State != nil {
		pid = job.State.PatientID
	} else if job.FromPatientID != "" {
		// A backfill job without state names the key's patient id (the
		// appointment's right after the event); a live job without state
		// never sets it (store.ArchiveJob.FromPatientID).
		pid = job.FromPatientID
	}
	body, err := HistoryJSON(job.Entry)
	if err != nil {
		return fmt.Errorf("encode history of event %s: %w", job.EventID, err)
	}
	if err := a.put(ctx, HistoryKey(a.cfg.CustomerCode, job.Entry.RecordedAt, job.AppointmentID, pid, job.EventID), body); err != nil {
		return err
	}
	if job.State == nil {
		return nil
	}
	state, err := json.Marshal(job.State)
	if err != nil {
		return fmt.Errorf("encode state of appointment %s: %w", job.AppointmentID, err)
	}
	if err := a.put(ctx, StateKey(a.cfg.CustomerCode, job.To, job.AppointmentID, pid), state); err != nil {
		return err
	}
	if old := oldStateKey(a.cfg.CustomerCode, job); old != "" {
		if _, err := a.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &a.cfg.Bucket, Key: &old}); err != nil {
			return fmt.Errorf("delete %s: %w", old, err)
		}
	}
	return nil
}

func (a *Archiver) put(ctx context.Context, key string, body []byte) error {
	in := &awss3.PutObjectInput{
		Bucket:        &a.cfg.Bucket,
		Key:           &key,
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String("application/json"),
	}
	if a.cfg.KMSKeyID != "" {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(a.cfg.KMSKeyID)
	} else {
		in.ServerSideEncryption = types.ServerSideEncryptionAes256
	}
	if _, err := a.client.PutObject(ctx, in); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// oldStateKey is the key of the state object job replaces, "" when none
// or when it is the job's own: the appointment had a state object before
// the event (From set) and the event changed a component of its key, the
// disposition or the patient id (SPEC §12: one state object per
// appointment). The customer code is the same for every job of a store.
func oldStateKey(customer string, job *store.ArchiveJob) string {
	if job.From == apptbridge.DispNone || job.State == nil {
		return ""
	}
	if job.From == job.To && job.FromPatientID == job.State.PatientID {
		return ""
	}
	return StateKey(customer, job.From, job.AppointmentID, job.FromPatientID)
}

// StateKey is the key of an appointment's state object.
func StateKey(customer string, d apptbridge.Disposition, aid, pid string) string {
	return "state/customer=" + keyPart(customer) + "/disposition=" + keyPart(string(d)) +
		"/appointment" + keyPart(aid) + "-patient" + keyPart(pid) + ".json"
}

// HistoryKey is the key of a history object; dt and epochms are from
// recordedAt (UTC).
func HistoryKey(customer string, recordedAt time.Time, aid, pid, eventID string) string {
	t := recordedAt.UTC()
	return "history/customer=" + keyPart(customer) + "/dt=" + t.Format("2006-01-02") +
		"/appointment" + keyPart(aid) + "-patient" + keyPart(pid) + "-" +
		strconv.FormatInt(t.UnixMilli(), 10) + "-" + keyPart(eventID) + ".json"
}

// keyPart escapes an id for a key segment: bytes outside [A-Za-z0-9._-]
// (a '/' would add a level, '=' would confuse Hive partitions) become
// %XX, as in a URL.
func keyPart(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if !safeByte(s[i]) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if safeByte(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func safeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// historyRow is a history entry's keys before the event's own: the shape
// of the history export (web/export.go).
type historyRow struct {
	Seq        int64                  `json:"seq"`
	RecordedAt time.Time              `json:"recorded_at"`
	Applied    bool                   `json:"applied"`
	Reason     string                 `json:"reason,omitempty"`
	From       apptbridge.Disposition `json:"from,omitempty"`
	To         apptbridge.Disposition `json:"disposition,omitempty"`
	Text       apptbridge.TextKind    `json:"text,omitempty"`
	Suppressed string                 `json:"suppressed,omitempty"`
}

// HistoryJSON is the history object of h: one flat JSON object, the
// row's keys then the event's.
func HistoryJSON(h store.HistoryEntry) ([]byte, error) {
	head, err := json.Marshal(historyRow{Seq: h.Seq, RecordedAt: h.RecordedAt, Applied: h.Applied, Reason: h.Reason,
		From: h.From, To: h.To, Text: h.Text, Suppressed: h.Suppressed})
	if err != nil {
		return nil, err
	}
	ev, err := json.Marshal(&h.Event)
	if err != nil {
		return nil, err
	}
	b := append(head[:len(head)-1:len(head)-1], ',')
	return append(b, ev[1:]...), nil
}
