package mapping

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/apptbridge/apptbridge/hl7"
)

// FuzzMap: parsing then mapping any input never panics, and a failure is
// always an *Error whose location parses.
func FuzzMap(f *testing.F) {
	files, _ := os.ReadDir(samplesDir)
	for _, e := range files {
		if b, err := os.ReadFile(samplesDir + "/" + e.Name()); err == nil && bytes.HasPrefix(b, []byte("MSH")) {
			f.Add(b)
		}
	}
	if b, err := os.ReadFile(benchCorpus); err == nil {
		for _, l := range bytes.SplitN(b, []byte("\n"), 4)[:3] {
			f.Add(l)
		}
	}
	f.Add([]byte("MSH|^~\\&|A|B|C|D|20260101||SIU^S12|1|P|2.5\rSCH|1|2|||||||||^^^202601011000"))
	f.Add([]byte("MSH|^~\\&|A|B|C|D|20260101||SIU^S14|1|P|2.5\rSCH|1\rPID|||1||A^B|||||||~^PRN^CP^^^^^^^^^+33601020304"))
	m, err := New(Config{Profile: &Profile{Locations: map[string]LocationProfile{"PEDS": {Timezone: "America/Chicago"}}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		stage := make(chan string, 2)
		timer := time.AfterFunc(10*time.Second, func() {
			s := "parse"
			select {
			case s = <-stage:
			default:
			}
			panic(fmt.Sprintf("FuzzMap: %s took over 10s on %q", s, data))
		})
		defer timer.Stop()
		msg, err := hl7.Parse(data)
		if err != nil {
			return
		}
		stage <- "map"
		res, err := m.Map(msg)
		if err != nil {
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error %T is not *Error", err)
			}
			if _, perr := hl7.ParseLocation(me.Location); perr != nil {
				t.Fatalf("location %q: %v", me.Location, perr)
			}
			return
		}
		if res.Ignored != (res.Event == nil) {
			t.Fatalf("ignored %v with event %v", res.Ignored, res.Event)
		}
		if ev := res.Event; ev != nil {
			if ev.AppointmentID == "" || ev.EventID == "" || ev.EventType == "" {
				t.Fatalf("incomplete event %+v", ev)
			}
			if ev.PatientPhone != "" && ev.PatientPhone[0] != '+' {
				t.Fatalf("phone %q", ev.PatientPhone)
			}
		}
	})
}
