package e2e

import (
	"fmt"
	"strings"
	"time"
)

// Canary values planted in every generated message; no log line may
// contain them (SPEC §13).
const (
	canaryFirst = "ZEBRAFIRSTCANARY"
	canaryLast  = "QUOKKALASTCANARY"
	canaryMRN   = "MRNCANARY"
	canaryPhone = "3125550199"
)

var triggers = []string{"S12", "S14", "S13", "S14", "S15"}

// siu builds message i of a stream over n appointments: appointment i%n
// gets its (i/n)-th event, S12 → S14 → S13 → S14 (Confirmed) → S15.
func siu(i, n int) []byte {
	appt := i % n
	step := i / n
	base := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	msgTime := base.Add(-72 * time.Hour).Add(time.Duration(i) * time.Second)
	start := base.Add(time.Duration(appt) * time.Hour)
	if step >= 2 {
		start = start.Add(24 * time.Hour) // rescheduled
	}
	status := "Booked"
	if step == 3 {
		status = "Confirmed"
	}
	if step == 4 {
		status = "Cancelled"
	}
	segs := []string{
		fmt.Sprintf("MSH|^~\\&|CRASHTEST|FAC|APPTBRIDGE|CLINIC|%s||SIU^%s^SIU_S12|CT%06d|P|2.5.1|||AL|NE", msgTime.Format("20060102150405-0700"), triggers[step], i),
		fmt.Sprintf("SCH|P%05d^EPIC|F%05d^EPIC|||||ROUTINE^Routine visit|Normal|30|MIN|^^30^%s||||||||||||||%s", appt, appt, start.Format("20060102150405-0700"), status),
		fmt.Sprintf("PID|1||%s%05d^^^HOSP^MR||%s^%s||19800101|F|||1 MAIN ST^^CHICAGO^IL^60601||(312)555-0199^PRN^CP^^1^312^5550199", canaryMRN, appt, canaryLast, canaryFirst),
		"RGS|1|A",
		"AIL|1|A|CARDIO^^^MAIN^^^^^Cardiology Clinic",
		"AIP|1|A|1234567893^CHEN^WEI^^^DR",
	}
	return []byte(strings.Join(segs, "\r") + "\r")
}
