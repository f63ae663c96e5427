package hl7_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/apptbridge/apptbridge/hl7"
)

func ExampleParse() {
	data := []byte("MSH|^~\\&|EPIC|NORTH|APPT|HOSP|20240305142900||SIU^S12^SIU_S12|MSG1|P|2.5.1\r" +
		"SCH|A1^EPIC||||||||||^^^20240310090000\r" +
		"PID|||MRN1||Smith^Jane||||||||(555)010-0000^PRN^PH~^NET^Internet^jane@example.org\r" +
		"NTE|||Bring \\T\\ show ID\r")
	m, err := hl7.Parse(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, trigger, _ := m.Type()
	fmt.Println(trigger, m.ControlID())
	fmt.Println(m.Get("SCH-11.4"))
	fmt.Println(m.Get("SCH-1.1"))
	fmt.Println(m.Get("NTE-3"))
	// Output:
	// S12 MSG1
	// 20240310090000
	// A1
	// Bring & show ID
}

func ExampleBuildAck() {
	m, _ := hl7.Parse([]byte("MSH|^~\\&|EPIC|NORTH|APPT|HOSP|20240305142900||SIU^S12|MSG1|P|2.5.1\rSCH|A1\r"))
	ack := hl7.BuildAck(m, hl7.AckOptions{
		Code:      hl7.Error, // AE here; CE if the message asked for enhanced mode
		ControlID: "ACK1",
		Now:       time.Date(2024, 3, 5, 14, 30, 0, 0, time.UTC),
		Errors: []hl7.AckError{{
			Location: hl7.Location{Segment: "SCH", Field: 11, Comp: 4},
			Code:     101,
			Text:     "start time missing",
		}},
	})
	fmt.Println(strings.ReplaceAll(string(ack), "\r", "\n"))
	// Output:
	// MSH|^~\&|APPT|HOSP|EPIC|NORTH|20240305143000+0000||ACK^S12^ACK|ACK1|P|2.5.1
	// MSA|AE|MSG1|start time missing
	// ERR||SCH^1^11^1^4|101^Required field missing^HL70357|E||||start time missing
}

func ExampleBuilder() {
	b := hl7.NewBuilder(hl7.DefaultDelimiters)
	b.Segment("MSH", hl7.Fld("APPTBRIDGE"), hl7.Fld("CLINIC"), hl7.Fld("EPIC"), hl7.Fld("NORTH"),
		hl7.Fld("20240305143000"), hl7.Fld(), hl7.Fld("SRM", "S03", "SRM_S01"), hl7.Fld("42"), hl7.Fld("P"), hl7.Fld("2.5.1"))
	b.Segment("ARQ", hl7.Fld("A1", "EPIC"))
	b.Segment("NTE", hl7.Fld(), hl7.Fld(), hl7.Fld("Patient replied C & asked: ok?"))
	b.Segment("PID", hl7.Fld(), hl7.Fld(), hl7.Reps(hl7.Fld("MRN1", "", "", "NORTH"), hl7.Fld("99", "", "", "SSA")))
	fmt.Println(strings.ReplaceAll(b.String(), "\r", "\n"))
	// Output:
	// MSH|^~\&|APPTBRIDGE|CLINIC|EPIC|NORTH|20240305143000||SRM^S03^SRM_S01|42|P|2.5.1
	// ARQ|A1^EPIC
	// NTE|||Patient replied C \T\ asked: ok?
	// PID|||MRN1^^^NORTH~99^^^SSA
}

func ExampleSplitBatch() {
	file := "FHS|^~\\&\rBHS|^~\\&\r" +
		"MSH|^~\\&|A|B|C|D|2024||SIU^S12|1|P|2.5\rSCH|X\r" +
		"MSH|^~\\&|A|B|C|D|2024||SIU^S15|2|P|2.5\rSCH|X\r" +
		"BTS|2\rFTS|1\r"
	msgs, err := hl7.SplitBatch([]byte(file))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, b := range msgs {
		m, _ := hl7.Parse(b)
		_, trigger, _ := m.Type()
		fmt.Println(m.ControlID(), trigger)
	}
	// Output:
	// 1 S12
	// 2 S15
}
