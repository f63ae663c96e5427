// Package e2e holds end-to-end tests that run apptbridge as users do: the
// real binary as a child process (crash and restart), and real peers such
// as Debian's python-hl7 mllp_send. It has no non-test code.
package e2e
