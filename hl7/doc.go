// Package hl7 reads and writes HL7 v2 messages in ER7 ("pipe") encoding:
// a lazy parser, an encoder and builder, batch splitting, and the
// acknowledgments (ACK) a receiver owes its sender. It follows HL7 v2.5.1
// chapter 2 (Control) and is shaped like encoding/csv: plain functions, a
// positioned *ParseError wrapping sentinel errors, no logging.
//
// # Grammar
//
// A message is a list of segments; a segment is a three-character name
// ([A-Z0-9]{3}, Z-segments included) followed by fields separated by the
// field separator. Fields hold repetitions, repetitions components,
// components subcomponents (§2.5–2.6). The five (v2.7: six) delimiters are
// read from MSH-1 and MSH-2 (§2.5.5), so MSH-1 is the field separator
// itself and MSH-2 the encoding characters; any distinct printable ASCII
// punctuation is accepted (e.g. MSH#$%@!), MSH-2 may hold 2 to 5
// characters, the fifth being the v2.7 truncation character. Escape
// sequences (§2.7) are decoded by Value, Get and Unescape; see Unescape for
// the full list. Field returns raw, still-escaped text.
//
// Values are addressed as in the standard, 1-based: Get("PID-13[2].4") is
// PID field 13, repetition 2, component 4. For MSH, field 1 is the field
// separator and field 2 the encoding characters.
//
// # Leniency
//
// Real feeds bend the rules; the parser accepts, on purpose:
//
//   - segment terminators \r (the standard), \r\n, and — only when the
//     message has no \r at all — \n. A lone \n inside a \r-terminated
//     message stays inside its field (NTE text may hold line breaks);
//   - surrounding whitespace, NULs, a UTF-8 byte order mark and MLLP block
//     characters around the message; blank lines between segments;
//   - segments in any order (PID before SCH occurs in the wild), unknown
//     and Z-segments, empty and trailing fields, missing MSH-11/MSH-12;
//   - unknown escape sequences, kept literally.
//
// It rejects, with a *ParseError: empty input (ErrEmpty), a first segment
// other than MSH (ErrNoMSH), bad MSH-1/MSH-2 (ErrBadDelimiters), a
// segment whose name is not three upper-case letters or digits followed by
// the field separator (ErrBadSegmentName), a second MSH (ErrMultipleMessages;
// use SplitBatch) and an unsupported MSH-18 (ErrCharset, Field 18).
//
// # Character sets
//
// MSH-18 (table 0211) selects how bytes become text; values are matched
// ignoring case, spaces and punctuation. Supported: ASCII, 8859/1 (also
// ISO-8859-1, LATIN1, ISO IR100) and UNICODE UTF-8 (also UTF-8, as some
// senders write, and UNICODE). When MSH-18 is empty,
// ParseOptions.DefaultCharset applies (per interface). Text is always
// UTF-8 once parsed:
//
//   - 8859/1 is read as its Windows-1252 superset, as the WHATWG Encoding
//     Standard does, since senders that say Latin-1 use it;
//   - MSH-18 empty (or ASCII) and bytes not valid UTF-8: read as 8859/1.
//     Latin-1 sent without MSH-18 is a known vendor quirk, and reading it
//     so loses nothing;
//   - MSH-18 explicitly UTF-8 and bytes not valid UTF-8: each run of
//     invalid bytes becomes U+FFFD; the sender said what it meant.
//
// Any other MSH-18 value fails with ErrCharset (an ingest answers AE with
// ERR-3 103 at MSH-18). Encode writes a message back in the character set
// it was read in; Builder writes ISO 8859-1 when its MSH-18 says 8859/1.
//
// # Batches
//
// SplitBatch cuts files and streams into messages: FHS/BHS…BTS/FTS batches
// (§2.10.3), plain concatenations and MLLP-framed input.
//
// # Acknowledgments
//
// BuildAck writes ACK^<trigger>^ACK (§2.9, §2.15.1): sender and receiver
// swapped, the original's delimiters, version, processing ID and MSH-18,
// MSA-2 = the original MSH-10 byte for byte. AckMode picks original
// (AA/AE/AR) or enhanced (CA/CE/CR) mode from MSH-15/16. Errors use table
// 0357 codes: from v2.5 as ERR-2 (location), ERR-3 (code^text^HL70357),
// ERR-4 (severity, default E) and ERR-8 (user text); for v2.1–2.4 as ERR-1
// (segment^sequence^field^code&text&HL70357), one repetition per error in
// a single ERR segment, as those versions allow one ERR per ACK; when
// MSH-12 is missing, both forms, one ERR per error. BuildAckRaw answers
// bytes that do not parse, salvaging the MSH line. Output is deterministic
// for given inputs.
package hl7
