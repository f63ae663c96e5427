// Package ehr sends the patients' CONFIRM/CANCEL requests back to the EHR
// (SPEC §9): it writes them as HL7 v2.5.1 messages (Build) or as the
// original app's JSON webhook body (EncodeWebhook), delivers them over MLLP
// (MLLPSender) or HTTPS (WebhookSender), and runs the outbound queue
// (Worker) on top of the store's request outbox.
//
// # Messages
//
// Build writes, with delimiters |^~\&, version 2.5.1, processing ID P and
// MSH-15/16 empty (original acknowledgment mode, so the EHR answers
// AA/AE/AR):
//
//	MSH-3/4    ours: APPTBRIDGE (BuildOptions.SendingApplication) and CUSTOMER_CODE
//	MSH-5/6    the EHR that sent us the appointment (Source.SendingApplication/Facility)
//	MSH-7      now, YYYYMMDDHHMMSS±ZZZZ
//	MSH-9      profile siu: SIU^S14^SIU_S12 (confirm), SIU^S15^SIU_S12 (cancel)
//	           profile srm: SRM^S03^SRM_S01 (confirm), SRM^S04^SRM_S01 (cancel)
//	MSH-10     the request's control id, the same on every attempt
//	MSH-18     UNICODE UTF-8 when a value is not ASCII, else empty (IHE ITI TF-2x C.2.2)
//
// Profile siu (SIU_S12 structure: MSH SCH TQ1 PID RGS AIL AIP):
//
//	SCH-1      placer appointment id (appointment_placer_id, else appointment_id)
//	SCH-2      filler appointment id (appointment_filler_id)
//	SCH-6      event reason "patient request"
//	SCH-9/10   duration in minutes, min^minutes^UCUM
//	SCH-11     ^^^start^end (TQ-4/5; start in the appointment's zone with offset)
//	SCH-16     the provider, id^family^given
//	SCH-25     Confirmed (S14) or Cancelled (S15; table 0278)
//	TQ1        1|||||duration^min|start|end, where v2.5.1 puts timing
//
// Profile srm (SRM_S01 structure: MSH ARQ PID RGS AIL AIP):
//
//	ARQ-1/2    placer and filler appointment ids
//	ARQ-6      request event reason "patient request"
//	ARQ-7      reason: Confirmed (S03) or patient request (S04)
//	ARQ-9/10   duration
//	ARQ-11     requested start range start^end
//
// Both profiles then write PID (1 set id, 3 patient id, 5 family^given, 13
// the mobile number as XTN-1 and XTN-12 with use PRN and equipment CP, 15
// language), RGS|1, AIL (3: location code^…^description in PL-9) and AIP
// (3: provider id^family^given), each only when it has a value. Fields the
// standard marks required but apptbridge cannot know (SCH-20 and ARQ-15/19,
// the persons who entered the request) are left empty.
//
// # Delivery
//
// A Channel encodes a request once (its bytes are stored and resent
// unchanged) and delivers it; a delivery ends in a Result whose Outcome is
// Acked, Retry or Dead:
//
//	MLLP    AA CA → Acked; AR CR → Retry (counted); AE CE → Dead;
//	        dial error, disconnect, no ACK within AckTimeout → Retry;
//	        MSA-2 not our control id, unreadable ACK → Retry, connection closed
//	webhook 2xx → Acked; 408 425 429 5xx, transport error → Retry; other → Dead
//
// MLLPSender keeps one persistent connection (mllp.Client: dialed lazily,
// reused, dropped on any error or timeout and dialed again next time) with
// one message in flight. WebhookSender signs every POST; VerifyWebhook is
// the receiver's side.
//
// # Worker
//
// Worker loops: claim the next due request (the store keeps each
// appointment's requests in order and leases the claimed one); encode it if
// it has no message yet; record status "sending" and one more attempt
// BEFORE delivering, so that a crash shows the request was in flight and
// the lease hands it to a worker later; deliver; record the outcome:
//
//	Acked  → status acked, AckCode and Ack kept
//	Retry  → status pending, NextAttemptAt = now + backoff (MinBackoff 1 s
//	         doubling per attempt to MaxBackoff 60 s, ±20 % jitter), LastError
//	Dead   → status dead (a dead letter: counted, shown to operators, resent
//	         only when an operator retries it)
//
// AR/CR answers are retried until MaxARAttempts (5) of them come in a row,
// then the request is dead; the count is kept in LastError ("… (rejection
// 2 of 5)") since the store has no field for it. Timeouts and disconnects
// are retried forever: the EHR being down says nothing about the request.
// When nothing is due the worker sleeps until the next request is due, a
// Kick, or one second.
//
// Delivery is at least once: a lost ACK or a crash after sending means the
// same message (same MSH-10, same bytes) is sent again, which an HL7
// receiver deduplicates on MSH-10 and a webhook receiver on
// Idempotency-Key.
//
// # Privacy
//
// Logs, metric labels and errors carry request ids, appointment ids,
// control ids, ACK codes, HTTP statuses and HL7 error codes only: never
// names, phone numbers, patient ids, message bytes or text the EHR wrote
// (MSA-3, ERR-8 and response bodies may echo patient data; they are kept
// in Result.Ack for the store, never logged).
package ehr
