package mapping

import (
	"slices"
	"strings"
	"testing"
)

func TestNormalizePhone(t *testing.T) {
	tests := []struct{ in, country, want string }{
		// US / CA (NANP)
		{"(312)555-0199", "US", "+13125550199"},
		{"312.555.0199", "US", "+13125550199"},
		{"1-312-555-0199", "US", "+13125550199"},
		{"+1 312 555 0199", "US", "+13125550199"},
		{"011 44 20 7946 0000", "US", "+442079460000"},
		{"(919)851-6177 X007", "US", "+19198516177"},
		{"919-851-6177 ext. 12", "US", "+19198516177"},
		{"(260)555-1234", "US", "+12605551234"}, // 555 exchange kept
		{"416 555 0123", "CA", "+14165550123"},
		{"271-9000", "US", ""},       // 7 digits
		{"(123) 123-1234", "US", ""}, // area code 1xx
		{"(212) 055-1234", "US", ""}, // exchange 0xx
		{"0100000000", "US", ""},
		{"2222", "US", ""},
		{"", "US", ""},
		{"john@example.com", "US", ""},
		{"UNKNOWN", "US", ""},
		{"312555019912345678901", "US", ""},
		{"+1 312 555 0199 +1", "US", ""},
		// GB
		{"07123 456789", "GB", "+447123456789"},
		{"07898989898", "GB", "+447898989898"},
		{"0766655652", "GB", ""}, // a UK mobile needs 10 digits after the 0
		{"+44766655652", "US", ""},
		{"020 7946 0000", "GB", "+442079460000"},
		{"+44 (0)20 7946 0000", "GB", "+442079460000"},
		{"0044 7123 456789", "GB", "+447123456789"},
		{"447123456789", "GB", "+447123456789"},
		{"+447123456789", "US", "+447123456789"},
		{"07123", "GB", ""},
		// FR
		{"0601020304", "FR", "+33601020304"},
		{"06 01 02 03 04", "FR", "+33601020304"},
		{"0100000000", "FR", "+33100000000"},
		{"+33 6 01 02 03 04", "FR", "+33601020304"},
		{"0033601020304", "FR", "+33601020304"},
		{"060102030", "FR", ""},
		// DE
		{"030 123456", "DE", "+4930123456"},
		{"01512 3456789", "DE", "+4915123456789"},
		{"+49 151 23456789", "DE", "+4915123456789"},
		// ES
		{"612 345 678", "ES", "+34612345678"},
		{"+34 912 345 678", "ES", "+34912345678"},
		{"34612345678", "ES", "+34612345678"},
		{"61234567", "ES", ""},
		// MX
		{"55 1234 5678", "MX", "+525512345678"},
		{"044 55 1234 5678", "MX", "+525512345678"},
		{"01 55 1234 5678", "MX", "+525512345678"},
		{"+52 1 55 1234 5678", "MX", "+525512345678"},
		// AU
		{"0412 345 678", "AU", "+61412345678"},
		{"(02) 9876 5432", "AU", "+61298765432"},
		{"0011 1 312 555 0199", "AU", "+13125550199"},
		// IE
		{"087 123 4567", "IE", "+353871234567"},
		{"01 234 5678", "IE", "+35312345678"},
		{"+353 87 123 4567", "IE", "+353871234567"},
		// NL
		{"06 12345678", "NL", "+31612345678"},
		{"020 123 4567", "NL", "+31201234567"},
		// IT keeps the leading 0 of landlines
		{"06 1234 5678", "IT", "+390612345678"},
		{"347 123 4567", "IT", "+393471234567"},
		{"+39 06 1234 5678", "IT", "+390612345678"},
		{"0039 347 123 4567", "IT", "+393471234567"},
		// others and unknown calling codes
		{"+81 3 1234 5678", "US", "+81312345678"},
		{"+81 3", "US", ""},
		{"+0 123 456 789", "US", ""},
		{"0612345678", "XX", ""},
	}
	for _, tc := range tests {
		got, ok := NormalizePhone(tc.in, tc.country)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("NormalizePhone(%q, %s) = %q, %v; want %q", tc.in, tc.country, got, ok, tc.want)
		}
	}
	if got := SupportedCountries(); !slices.Contains(got, "US") || !slices.Contains(got, "IT") || !slices.IsSorted(got) {
		t.Errorf("SupportedCountries = %v", got)
	}
}

// TestPhoneSelection covers the XTN shapes of every sample and the rule
// order: CP equipment, then PRS/ORN/MOBILE/CELL use codes, then PRN, then
// a lone number; e-mail, fax, pager, TDD never.
func TestPhoneSelection(t *testing.T) {
	tests := []struct {
		name, country, pid13, pid14, want, warn string
	}{
		{"allscripts: CP in rep 2, number in XTN-6/7", "US",
			"(919)007-0007^^^^^919^0070007~(777)707-0707^^CP^^^777^7070707~^NET^X.400^007@BritishSecretService.com",
			"(919)851-6177 X007^^^^^919^8516177^007", "+17777070707", ""},
		{"dxcare: empty rep, PRN^CP with XTN-12", "FR",
			"~0601020304^PRN^CP^^^^^^^^^0601020304~^NET^^john.doe@example.com", "", "+33601020304", ""},
		{"dxcare under US: unusable", "US",
			"~0601020304^PRN^CP^^^^^^^^^0601020304~^NET^^john.doe@example.com", "", "", "PID-13: unusable phone number"},
		{"epic: ^P^H lone number", "US", "(718)250-0000^P^H^^^718^2500000~^NET^Internet^cool@gmail.com", "", "+17182500000", ""},
		{"renalware: ^MOBILE", "GB", "07898989898^MOBILE~0209999998^HOME~testemail@test.co^EMAIL", `""^BUSINESS`, "+447898989898", ""},
		{"pkb: ^PRS over ^PRN, e-mail in PID-14", "GB", "01234567890^PRN~07123456789^PRS", "^NET^^john.smith@company.com~01234098765^WPN", "+447123456789", ""},
		{"rimiti: two numbers in PID-13, no lone number", "FR", "0100000000^^^dimitri@example.com^^^^~0200000000^^^^^^^", "", "", ""},
		{"rimiti: one number + e-mail in XTN-4", "FR", "0100000000^^^dimitri@example.com^^^^", "", "+33100000000", ""},
		{"athena: one number in PID-13, one in PID-14", "US", "(229)568-8716", "(733)858-4116", "+12295688716", ""},
		{"only PID-14", "US", "", "(733)858-4116", "+17338584116", ""},
		{"two in PID-14", "US", "", "(733)858-4116~(312)555-0199", "", ""},
		{"gmed: PRN^PH + e-mail", "US", "(123) 123-1234^PRN^PH^^^123^1231234~^NET^Internet^someone@yahoo.com^^^", "", "", "PID-13: unusable phone number"},
		{"msfhir: CP with XTN-12 2222", "US", "78788788^^CP^5555^^^1111^^^^^2222^20010110~12121212^^CP", "7777^^CP~1111^^TDD", "", "PID-13: unusable phone number"},
		{"bench: PRN^PH, NET, PRN^FX, PRN^CP", "US",
			"(608)225-5854^PRN^PH^^1^608^2255854~^NET^Internet^p@example.org~(608)390-4616^PRN^FX^^1^608^3904616~(512)808-3471^PRN^CP^^1^512^8083471",
			"(217)201-9028^WPN^PH^^1^217^2019028", "+15128083471", ""},
		{"bench: no CP, PRN^PH wins", "US",
			"(503)333-2448^PRN^PH^^1^503^3332448~(614)684-2637^PRN^FX^^1^614^6842637", "(512)608-5144^WPN^PH^^1^512^6085144", "+15033332448", ""},
		{"CP in PID-14 beats PRS in PID-13", "US", "(312)555-0101^PRS", "(312)555-0102^WPN^CP", "+13125550102", ""},
		{"ORN", "US", "(312)555-0101^PRN^PH~(312)555-0103^ORN", "", "+13125550103", ""},
		{"CELL", "US", "(312)555-0101^WPN~(312)555-0104^CELL", "", "+13125550104", ""},
		{"fax only", "US", "(312)555-0101^PRN^FX", "", "", ""},
		{"pager and fax skipped for lone", "US", "(312)555-0101^^BP~(312)555-0105^^PH~(312)555-0106^^FX", "", "+13125550105", ""},
		{"TDD never", "US", "(312)555-0101^PRN^TDD", "", "", ""},
		{"e-mail in XTN-1 under NET", "US", "me@example.com^NET", "", "", ""},
		{"HL7 null", "US", `""`, `""`, "", ""},
		{"XTN-5 country code", "US", "^PRN^CP^^44^20^79460000", "", "+442079460000", ""},
		{"XTN-12 over XTN-1", "US", "555-0100^PRN^CP^^^^^^^^^+13125550199", "", "+13125550199", ""},
		{"escaped", "US", "(312)555\\T\\0199^PRN^CP", "", "", "PID-13: unusable phone number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMapper(t, Config{DefaultCountry: tc.country})
			pid := "PID|1||M1||DOE^JANE||||||||" + tc.pid13 + "|" + tc.pid14
			res := mapOK(t, m, msh("S12", "2.5"), "SCH|PL1|FL1|||||||||^^^202607011000", pid)
			if res.Event.PatientPhone != tc.want {
				t.Fatalf("phone %q, want %q", res.Event.PatientPhone, tc.want)
			}
			if tc.warn == "" && len(res.Warnings) > 0 || tc.warn != "" && !slices.Contains(res.Warnings, tc.warn) {
				t.Fatalf("warnings %q, want %q", res.Warnings, tc.warn)
			}
		})
	}
}

func TestPhoneProfile(t *testing.T) {
	pid := "PID|1||M1||DOE^JANE||||||||0100000000^^^dimitri@example.com^^^^~0200000000^^^^^^^|0300000000^WPN^CP"
	sch := "SCH|PL1|FL1|||||||||^^^202607011000"
	tests := []struct {
		name  string
		phone *PhoneProfile
		want  string
	}{
		{"default: CP in PID-14", nil, "+33300000000"},
		{"PID-13 only, no lone", &PhoneProfile{Fields: []string{"PID-13"}}, ""},
		{"any", &PhoneProfile{Fields: []string{"PID-13"}, Rules: []PhoneRule{{Any: true}}}, "+33100000000"},
		{"second repetition", &PhoneProfile{Fields: []string{"PID-13[2]"}, Rules: []PhoneRule{{Lone: true}}}, "+33200000000"},
		{"equipment and use both", &PhoneProfile{Rules: []PhoneRule{{Equipment: []string{"CP"}, Use: []string{"PRN"}}}}, ""},
		{"use WPN", &PhoneProfile{Rules: []PhoneRule{{Use: []string{"wpn"}}}}, "+33300000000"},
		{"never CP", &PhoneProfile{NeverEquipment: []string{"CP"}, Rules: []PhoneRule{{Lone: true}}}, ""},
	}
	for _, tc := range tests {
		m := newTestMapper(t, Config{Profile: &Profile{DefaultCountry: "FR", Phone: tc.phone}})
		if got := mapOK(t, m, msh("S12", "2.5"), sch, pid).Event.PatientPhone; got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func FuzzE164(f *testing.F) {
	for _, s := range []string{"(312)555-0199", "+44 (0)20 7946 0000", "0601020304", "011 44 20", "x123", "+", "00",
		"0044 7123 456789", "(919)851-6177 X007", "044 55 1234 5678", "+52 1 55 1234 5678", "0011 1 312 555 0199"} {
		for _, c := range []string{"US", "GB", "FR", "MX", "AU", "IT"} {
			f.Add(s, c)
		}
	}
	f.Fuzz(func(t *testing.T, s, country string) {
		got, ok := NormalizePhone(s, country)
		if !ok {
			if got != "" {
				t.Fatalf("not ok but %q", got)
			}
			return
		}
		if len(got) < 8 || len(got) > 16 || got[0] != '+' || got[1] == '0' || strings.Trim(got[1:], "0123456789") != "" {
			t.Fatalf("NormalizePhone(%q, %q) = %q: not E.164", s, country, got)
		}
		// E.164 is a fixed point.
		if again, ok := NormalizePhone(got, country); !ok || again != got {
			t.Fatalf("NormalizePhone(%q) = %q, %v; want %q", got, again, ok, got)
		}
	})
}
