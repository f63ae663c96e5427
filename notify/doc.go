// Package notify writes and sends the texts to patients (SPEC §7) and
// reads their replies (SPEC §8).
//
// # Templates
//
// Every text kind (apptbridge.TextKind: booked, rescheduled, modified,
// confirmed, canceled, noshowed, remind-1, remind-2, confirm-receipt,
// cancel-receipt, opted-in, help, not-understood) has a Go text/template
// per language. English (en) and Spanish (es) are built in
// (templates/<kind>.<lang>.tmpl, embedded). LoadTemplates(TEMPLATES_DIR)
// overrides them with the directory's <kind>.<lang>.tmpl files, which may
// also add a language (remind-1.fr.tmpl); a language need not have every
// kind, the missing ones fall back to en.
//
// The built-in English texts follow the original app's wording
// (ORIGINAL.md §4), shortened to fit two segments, and ask for two-word
// replies: "Reply CONFIRM APPT to confirm or CANCEL APPT to cancel". None
// asks for a bare CANCEL, which carriers treat as an opt-out; STOP appears
// only as the opt-out instruction (help, opted-in, not-understood). The
// receipts say the request was sent to the clinic, which decides. The
// Spanish texts are GSM-7 only: é ñ ü ¿ ¡ are written, á í ó ú are not
// (llamenos, clinica), as is common in Spanish SMS.
//
// A template is executed with a Data, whose fields are all a TEMPLATES_DIR
// author can use:
//
//	{{.PatientFirstName}}   the patient's first name
//	{{.ProviderFirstName}}  the provider's first name
//	{{.ProviderLastName}}   the provider's last name
//	{{.Provider}}           "Dr. <last name>" ("Dr. <first name>" without a last name, "" without either)
//	{{.Location}}           the appointment's location
//	{{.When}}               the local date and time, e.g. 1:15 PM on Friday, November 12, 2021
//	{{.CallbackPhone}}      the provider's callback phone, else the clinic's (Vars.CallbackPhone)
//	{{.CustomerName}}       the clinic's name (Vars.CustomerName)
//
// Any of them may be empty (a missing provider, location or phone, a
// help text to a phone with no appointment): guard them, as in
// "Your appointment{{with .Provider}} with {{.}}{{end}}". There is
// deliberately no patient last name, patient id/MRN, date of birth,
// appointment type or reason (PHI minimisation); a template naming any
// other field fails to load.
//
// When is in the appointment's zone: appointment_tz (IANA), else the
// fixed offset appointment_timezone, else the wall clock
// appointment_datetime as given. In English (and any added language):
// "1:15 PM on Friday, November 12, 2021" (the original's format); in
// Spanish: "viernes 12 de noviembre de 2021 a la 1:15 PM" ("a las" for
// every hour but one o'clock).
//
// The patient's language (patient_language: "es", "es-MX", "ES", "spa",
// "Spanish") picks the template by its primary subtag; unknown or empty
// is en.
//
// # Segments
//
// Segments counts SMS segments as carriers do: GSM-7 when every
// character is in the GSM 03.38 basic set or extension table (extension
// characters take 2 septets), 160 septets in one segment and 153 a part
// beyond; else UCS-2, 70 UTF-16 units in one segment and 67 a part (an
// emoji takes 2). A rendered text never takes more than two segments:
// Render first spells the values (never the template text) in GSM-7
// (diacritics stripped, emoji and other scripts dropped), then shortens
// the longest values with "..." until the text fits; a template too long
// even without values is an error, and LoadTemplates rejects an override
// that does not fit with typical values.
//
// # Replies
//
// Classify maps a reply's body to an Intent (confirm, cancel, opt-out,
// opt-in, help, unknown), ignoring case, spacing and punctuation; see
// Classify for the words and the opt-out-first rule.
package notify
