// Package ingest is the MLLP handler at the heart of apptbridge: it parses
// an inbound HL7 v2 message, maps it to the canonical appointment event,
// commits message, duplicate key, ACK and the event's effect in one durable
// transaction, and only then returns the ACK to be written (SPEC §3).
//
// ACK rules, in the order they are checked:
//
//   - unparseable (no MSH, bad delimiters, bad segment, unknown charset):
//     AE (CE in enhanced mode) with ERR-3 100–103 and ERR-2 at the fault;
//   - not SIU, unsupported trigger or version: AR (CR) 200 / 201 / 203;
//   - missing appointment id or start, unparseable date: AE (CE) 101 / 102;
//   - same MSH-3/4/10 and same content as a committed message: the stored
//     ACK, byte for byte, and no second effect;
//   - same key, different content: AE (CE) 205, nothing stored;
//   - storage failure: AR (CR) 207, nothing stored;
//   - otherwise AA (CA), written only after the commit returned.
//
// SIU^S23/S24 are stored and acknowledged AA with no appointment effect.
// Rejected messages (AE/AR) do not reserve their key: a corrected resend
// with the same MSH-10 is processed normally.
package ingest
