// Package mapping turns HL7 v2 SIU (scheduling) messages into canonical
// appointment events (SPEC §4, §5).
//
//	m, err := mapping.New(mapping.Config{DefaultTimezone: "America/Chicago", DefaultCountry: "US"})
//	res, err := m.Map(msg) // msg from hl7.Parse
//	// err: *mapping.Error (Code, Location, AckCode()) → AE/AR
//	// res.Ignored: S23/S24 → AA, no appointment effect
//	// res.Event: the canonical event; res.Warnings: PHI-free notes
//
// A Mapper is built once (New validates the zone, country and profile and
// precomputes every table) and is safe for concurrent use. Every rule
// below comes from a profile (JSON or YAML, LoadProfile); DefaultProfile
// returns the built-in rules, and testdata/profile-example.{yaml,json}
// shows every key. A profile key that is present replaces that rule as a
// whole (lists and tables are not merged); an absent key keeps the
// built-in rule. Unknown keys are errors that name the key.
//
// # Decisions
//
// Where SPEC §5 is silent or ambiguous, the mapper does the following.
//
// Message, trigger and version
//
//  1. Checks run in this order: MSH-9.1 (empty → AE 101 at MSH-9; not SIU,
//     compared case-insensitively → AR 200 at MSH-9); MSH-12.1 (AR 203 at
//     MSH-12); MSH-9.2 against the trigger table (AR 201 at MSH-9.2, also
//     for an empty trigger, S25 and S99); then ignored triggers; then SCH.
//  2. Versions: "2.1"–"2.9" and their sub-versions ("2.3.1", "2.5.1") are
//     accepted; an empty or absent MSH-12 is accepted (Epic omits it).
//     "2.10", "3.0", "V2.4", "abc" → AR 203. Profile: versions,
//     allow_missing_version.
//  3. Triggers: S12 BOOKED, S13 RESCHEDULED, S14 MODIFIED, S15–S17
//     CANCELED, S18–S22 MODIFIED, S26 NOSHOWED, S23/S24 IGNORE. A trigger
//     is matched case-insensitively. Ignored messages need no SCH; their
//     Result.Reason is "SIU^S23: blocked slots have no appointment effect"
//     (S24: "opened slots"; other ignored triggers: "ignored by the mapping
//     profile").
//  4. SCH-25.1 refines only S14 (profile: status_refines): Confirmed →
//     CONFIRMED, Cancelled/Deleted/Dc → CANCELED, Noshow → NOSHOWED,
//     compared case-insensitively after trimming spaces; other codes keep
//     MODIFIED. S12/S13/S15/S26 are never refined: renalware's S26 with
//     "Cancelled" stays NOSHOWED, rimiti's S15 with "Booked" stays
//     CANCELED.
//
// Appointment id
//
//  5. appointment_id is SCH-1.1, else SCH-2.1 (id_field: placer, filler
//     or an explicit location). appointment_placer_id and
//     appointment_filler_id are always SCH-1.1 and SCH-2.1. HL7 null ("")
//     counts as empty everywhere. No id → AE 101 at SCH-1 (SCH-2 for
//     "filler"). No SCH segment at all → AE 100 (table 0357 "segment
//     sequence error", which covers a missing required segment) at "SCH".
//
// Times
//
//  6. DTM: YYYY[MM[DD[HH[MM[SS[.S…]]]]]][±ZZZZ], surrounding spaces
//     trimmed (corepoint's "200803061000 "), up to 9 fraction digits,
//     offsets up to ±14:59. Epic's 16-digit form "2010052711090000" is 14
//     digits plus hundredths of a second without the dot. Any other digit
//     count, an impossible date (2026-02-30, 13th month), hour 24 or
//     second 60 is a data type error. The TS degree-of-precision component
//     is ignored.
//  7. Start: the first valued field of TQ1-7, SCH-11.4, AIS-4, AIP-6,
//     AIL-6, AIG-8 (start_fields). "Valued" is per segment name: the first
//     AIS whose AIS-4 is not empty, and so on. The start must have at
//     least minutes (12 digits): a date-only start would put reminders at
//     midnight, so it is AE 102. An unparseable start → AE 102 at the field
//     it came from (e.g. "SCH-11.4"). Later valued candidates that disagree
//     give one warning "start times disagree: SCH-11.4 (used) vs AIS-4,
//     AIL-6"; unparseable later ones a warning each. Candidates are read in
//     the appointment's zone and compared as instants.
//  8. A missing start is AE 101 at SCH-11 only for BOOKED and RESCHEDULED
//     (start_required). A cancellation, no-show or modification may come
//     without one (pkb-2's S15 has only SCH-1): the event then carries no
//     time fields (the state machine keeps the stored time) and a warning.
//  9. Epic OpTime shifts SCH by one field (timing in SCH-12); that is not
//     standard, so it is not read by default; the default list still finds
//     AIS-4. A site can set start_fields: [SCH-12.4, …] and
//     status_field: SCH-27.1.
//  10. Zones: a value with an offset is that instant. Without one it is a
//     wall-clock time in the zone of the appointment's location (location
//     table), else default_timezone / Config.DefaultTimezone. A wall time
//     in the spring-forward gap moves forward by the gap (02:30 on
//     2026-03-08 in New York → 03:30 EDT); an ambiguous fall-back time
//     takes the first, earlier instant (01:30 on 2026-11-01 → 01:30 EDT,
//     05:30Z).
//  11. appointment_datetime/appointment_timezone show the instant in the
//     IANA zone: with "+0215" in the message (msfhir) the instant is kept
//     and appointment_timezone is the zone's offset at that instant (e.g.
//     "-0400"), not "+0215". appointment_tz is the IANA name. The fields
//     are the same as (*apptbridge.Event).SetAppointmentTime gives (a test
//     checks); the mapper computes them from a per-zone offset table for
//     speed.
//  12. event_datetime_utc: EVN-2 if present, else MSH-7, read in the
//     default zone (the sending system's clock), not the location's zone.
//     Empty MSH-7 (and no EVN-2) → AE 101 at MSH-7; unparseable MSH-7 or
//     EVN-2 → AE 102 at that field.
//
// Duration
//
//  13. Sources in order (durations): TQ1-6 (CQ quantity^units), SCH-9/10,
//     AIS-7/8, AIL-9/10, AIP-9/10, AIG-11/12, then SCH-11.3 (TQ duration:
//     "30" or "M30", "H2", "S90"), then end − start from TQ1-8 or SCH-11.5.
//     Units (the first component of a coded unit, case-insensitive):
//     minutes M m min mins minute minutes (and empty); hours H h hr hrs
//     hour hours; seconds S s sec secs second seconds; days D d day days.
//     "2 hours" also works. Decimals are allowed ("1.5" h = 90).
//  14. Seconds round up to whole minutes (Epic's 10800^S = 180; 90 s = 2).
//     A zero quantity counts as absent. A non-numeric or negative
//     quantity, an unknown unit, more than 31 days, or an end not after
//     the start → a warning ("SCH-9: unusable duration ignored") and the
//     next source; never an error. No usable source → no duration.
//
// Patient
//
//  15. patient_id: PID-3, the first repetition whose CX.1 is valued; with
//     patient_id_types (e.g. [MR, MRN]) the repetition whose CX.5 matches
//     the earliest-listed type (case-insensitive), else as before.
//  16. Name: first PID-5 repetition; family = FN.1 (first subcomponent:
//     "EVERYMAN&&&&Aniston" → EVERYMAN), given = XPN.2; escapes decoded
//     ("PRICE\S\WATERHOUSE" → "PRICE^WATERHOUSE").
//  17. patient_language (ISO 639-1, lowercase) from PID-15: identifier,
//     then alternate identifier, text, alternate text — the first that
//     maps. ISO 639-2 codes (eng, spa, fra/fre, …) and common English
//     names (English, Spanish, Español…) map to two letters; "en-US" → en;
//     an unknown two-letter code is kept lowercased; anything else → none.
//
// Patient mobile phone
//
//  18. Repetitions of PID-13 then PID-14 are candidates unless their use
//     code is NET, EMAIL or X.400 or their equipment type is Internet,
//     X.400, FX (fax), BP (pager), MD (modem), TDD or TTY, or they carry no
//     number. Rules, first hit wins: equipment CP; use code PRS, ORN,
//     MOBILE or CELL; use code PRN; a lone number. Codes compare
//     case-insensitively. (phone.fields, phone.rules, phone.never_use,
//     phone.never_equipment; a rule can also be {any: true}: the first
//     numbered repetition.)
//  19. Lone number: the only numbered repetition of the first field (in
//     field order) that has any. Athena's one number in PID-13 and one in
//     PID-14 → the PID-13 number (PID-13 is the patient's own number,
//     PID-14 a business line). Rimiti's two numbers in PID-13 → no lone
//     number, no phone (a site that wants the first one sets
//     rules: [{any: true}]). Landlines cannot be told from mobiles: the PRN
//     and lone rules pick them (SPEC's rule); a text to a landline fails at
//     Twilio and the phone is flagged there.
//  20. The number of the chosen repetition: XTN-12, else XTN-5/6/7
//     (country code, area, local; with XTN-5 it is international), else
//     XTN-1 (unless it holds an e-mail address). If it cannot be normalized
//     the phone is left empty with the warning "PID-13: unusable phone
//     number"; selection does not fall through to another repetition.
//  21. E.164 (NormalizePhone): spaces and ( ) - . / are dropped, an
//     extension (x123, ext. 12, #12) is cut off, any other letter makes the
//     number unusable. "+" or an international prefix (00; 011 in NANP;
//     0011 in AU) marks an international number; "+44 (0)20…" drops the
//     trunk 0. National numbers use the default country: US/CA 10 digits
//     (NXX-NXX-XXXX; a leading 1 on 11 digits is dropped; 555 numbers are
//     kept), GB 44 (drop 0; 9–10 digits; 07… mobiles → +447…), FR 33, DE 49,
//     AU 61, IE 353, NL 31, BE 32, CH 41, AT 43, NZ 64, SE 46, IN 91 (drop
//     the trunk 0), ES 34, PT 351, DK 45, NO 47, PL 48 (no trunk prefix), MX
//     52 (old 044/045/01 prefixes and "+52 1" dropped), IT 39 (the leading
//     0 of landlines is kept). A national number already starting with the
//     calling code and too long to be national ("447123456789") is read as
//     international. Other calling codes after + are accepted at 8–15
//     digits. DefaultCountry must be one of SupportedCountries.
//
// Provider, location, callback
//
//  22. Provider: the first AIP whose AIP-3 has an id or a name, else SCH-16,
//     else PV1-7 (provider_fields). XCN: 1 id, 2 family (FN.1:
//     "Smith&Mr.&Smith" → Smith), 3 given. A repeating XCN uses its first
//     repetition. As the SPEC says, SCH-16 (the filler contact person) is
//     used before PV1-7 even where it names a scheduler (athena).
//  23. Location: the first AIL whose AIL-3 has a point of care, room,
//     facility or description, else PV1-3 (location_fields).
//     appointment_location = PL-9 description, else PL-1 point of care,
//     else PL-4.1 facility, else PL-2 room; appointment_location_code =
//     PL-1, else PL-4.1. The location table is looked up by PL-1, then
//     PL-4.1 (exact match); its display_name replaces the display text and
//     its timezone reads the times. Sites map internal codes ("055", "2")
//     to patient-friendly names there.
//  24. provider_callback_phone: the location table's callback_phone, else
//     SCH-17 (first repetition's number, E.164; unusable → warning
//     "SCH-17: unusable phone number"), else the profile's callback_phone,
//     else Config.CallbackPhone.
//
// Other fields
//
//  25. appointment_type (SCH-8) and appointment_reason (SCH-7): the CE's
//     text (component 2) when present, else its identifier (type_field,
//     reason_field; with an explicit component, just that one).
//     appointment_status is SCH-25.1 as sent.
//  26. source: channel "mllp" (Config.Channel overrides), message_control_id
//     MSH-10 as sent (hapi's leading space kept: it is the duplicate key),
//     message_type "SIU^" + trigger (upper case), sending_application
//     MSH-3.1, sending_facility MSH-4.1, received_at Config.Now() in UTC.
//     event_id is apptbridge.NewEventID().
//  27. Config vs profile: a profile's default_timezone, default_country and
//     callback_phone win over Config (the profile "overrides every rule");
//     DefaultProfile leaves them empty so Config applies.
//  28. LoadProfile checks national callback numbers only when the profile
//     names its own country; otherwise New checks them with Config's
//     country.
//
// Errors and warnings
//
//  29. Every error is an *Error: Code (table 0357), Location (ERR-2, e.g.
//     "SCH-11.4", parseable by hl7.ParseLocation), Reason; AckCode() is
//     "AE" for 1xx and "AR" for 2xx. errors.Is works with
//     ErrMissingSegment (100), ErrMissingField (101), ErrBadValue (102),
//     ErrUnsupportedType (200), ErrUnsupportedTrigger (201),
//     ErrUnsupportedVersion (203), and apptbridge.ErrorCode(err) is
//     EINVALID. Error texts and warnings name field locations only, never
//     values (a test plants canary values and scans them).
package mapping
