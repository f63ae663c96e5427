// Package reminder plans the reminders of an appointment (SPEC §10): when
// each is due, which are skipped and why. Config.Plan is the store's
// Planner, run in the transaction of every event that changes an
// appointment's time, phone or disposition; Config.Recheck is the worker's
// last test at the actual send time; Config.DayBounds gives the local day
// the daily cap counts in.
//
// # Configuration
//
// Four HHMM variables and a cap, checked by NewConfig (every problem is
// reported at once, each naming its variable; `apptbridge check` shows
// them):
//
//	REMINDER_FIRST_TIMING     4800  first reminder, hours+minutes before the appointment; more than 0000
//	REMINDER_SECOND_TIMING    2400  second reminder; shorter than the first, or 0000 = no second reminder
//	REMINDER_OUTREACH_START   0800  outreach window [START, FINISH), appointment-local wall clock,
//	REMINDER_OUTREACH_FINISH  2100  0000 to 2400, START earlier than FINISH
//	REMINDER_DAILY_CAP        2     most reminders per phone per local day (the worker), 1 or more
//
// HHMM lead times are hours then minutes: 4800 = 48 h, 0130 = 1 h 30 min,
// minutes 00-59, at most 9959 (ParseTiming).
//
// # Rules
//
// Plan(a, now) returns the rows of appointment a (at most two: ordinal 1
// and 2), each with status planned (DueAt is when to send it) or skipped
// (Reason says why; the reasons are the Reason* constants, stable strings
// that metrics count).
//
//  1. Only appointments on the reminder ladder get rows: QUEUED,
//     REMINDED-1, REMINDED-2. CANCELED, NOSHOWED, EXPIRED, OPTED-OUT, an
//     appointment without a start time: no rows at all.
//  2. The ladder says which reminders are left: QUEUED → 1 and 2,
//     REMINDED-1 → 2, REMINDED-2 → none. With REMINDER_SECOND_TIMING 0000
//     there is only reminder 1 (QUEUED → 1, REMINDED-1 → none).
//  3. Nominal time = start − lead, in real time: a 48 h lead is 48 hours
//     even across a DST change, so its wall-clock time shifts by the hour
//     the clocks moved.
//  4. Due time = the nominal time if the outreach window is open then,
//     judged on the wall clock of the send time in the appointment's zone
//     (appointment_tz, else its recorded UTC offset, else
//     DEFAULT_TIMEZONE); otherwise the window's next opening. On DST days
//     the opening is exact: a window that would open in the skipped hour
//     opens when the clocks jump (03:00), one that opens in the repeated
//     hour opens at each of its two occurrences.
//  5. A reminder is skipped when its due time is not before the
//     appointment's start (ReasonWindowClosed), and reminder 1 when its
//     due time is not before reminder 2's, while reminder 2 is planned
//     (ReasonAfterNext). So a planned reminder 1 always goes before a
//     planned reminder 2, and both before the start.
//  6. Catch-up: a plan made late (after downtime, or for an appointment
//     booked inside the lead time) keeps a reminder whose due time has
//     passed: the worker sends it once, at once if the window is open,
//     else at the next opening, and only before the start. But when both
//     are due at or before now, reminder 1 is skipped
//     (ReasonSuperseded): only the later one goes.
//  7. At or after the start every row is skipped (ReasonPast); without a
//     patient phone every row is skipped (ReasonNoPhone), so that the
//     appointment's timeline shows why nothing was sent.
//
// Recheck applies the same rules at the send time, against the
// appointment as it is then: it skips a reminder whose appointment has
// moved (ReasonRescheduled), left the ladder (ReasonNotActive) or climbed
// past it (ReasonAlreadySent), lost its phone, started, or whose next
// reminder is also due; if the window is closed at the send time it puts
// the reminder off to the next opening when that is before the start and
// before the next reminder, and skips it otherwise. The daily cap is the
// worker's: it counts the reminders sent to the phone in DayBounds, the
// local calendar day of the send time in the appointment's zone (23 or 25
// hours on DST days).
//
// # Worked examples
//
// Defaults (FIRST 4800, SECOND 2400, window 0800-2100), a 9:00 AM
// appointment on Wednesday June 10, 2026 in America/New_York, booked a
// week ahead:
//
//	reminder 1  9:00 AM − 48 h = Monday June 8, 9:00 AM     inside the window: planned, due Mon 9:00 AM
//	reminder 2  9:00 AM − 24 h = Tuesday June 9, 9:00 AM    inside the window: planned, due Tue 9:00 AM
//
// An 8:30 AM appointment with FIRST 0100 (SECOND 0000): the nominal time
// 7:30 AM is before the window; its next opening, 8:00 AM, is before the
// appointment, so reminder 1 is sent at 8:00 AM. There is no reminder 2.
//
// A 7:00 AM appointment with SECOND 0200 (FIRST 4800): reminder 1's
// nominal 7:00 AM two days before is moved to 8:00 AM that day; reminder
// 2's nominal 5:00 AM is before the window, whose next opening, 8:00 AM,
// is after the appointment: reminder 2 is skipped, "window does not open
// before the appointment".
//
// Across DST (America/New_York, clocks forward on Sunday March 8, 2026):
// for a Monday March 9, 8:30 AM EDT appointment, 48 h before is Saturday
// 7:30 AM EST — before the window, so reminder 1 goes at 8:00 AM;
// reminder 2 is Sunday 8:30 AM EDT. On Sunday November 1 the clocks go
// back: 48 h before a Monday November 2, 8:30 PM EST appointment is
// Saturday 9:30 PM EDT, after the window, so reminder 1 goes Sunday
// 8:00 AM and reminder 2 Sunday 8:30 PM.
//
// After downtime: if the process is down from Monday 8:00 AM to Tuesday
// noon, both reminders of the 9:00 AM Wednesday appointment are overdue
// when it comes back; the worker's Recheck sends only reminder 2 (Tuesday
// noon, inside the window) and skips reminder 1, "a later reminder is
// also due". A plan made on Tuesday at noon (the appointment booked or
// moved then) skips reminder 1 for the same reason.
//
// # Differences from the original
//
// The original (ORIGINAL.md §3) ran hourly and tested the window against
// the appointment's time of day, not the send time: with a 0800-2100
// window an 8:30 PM appointment was reminded at whatever hour the run
// fell due (3 AM included), and a 7:00 AM one was never reminded (nor
// expired), in any season, DST or not. It sent up to an hour late, could
// not turn the second reminder off (0000 made it due at the appointment
// time, so it still went), and after downtime sent both overdue reminders
// an hour apart. Here due times are exact instants, the window is on the
// send time's wall clock in the appointment's own zone, 0000 turns the
// second reminder off, and of two overdue reminders only the later goes.
package reminder
