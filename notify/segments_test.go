package notify

import (
	"strings"
	"testing"
)

func TestSegments(t *testing.T) {
	r := strings.Repeat
	tests := []struct {
		name, body string
		enc        string
		n          int
	}{
		{"empty", "", EncodingGSM7, 0},
		{"one char", "a", EncodingGSM7, 1},
		{"160 GSM", r("a", 160), EncodingGSM7, 1},
		{"161 GSM", r("a", 161), EncodingGSM7, 2},
		{"306 GSM", r("a", 306), EncodingGSM7, 2},
		{"307 GSM", r("a", 307), EncodingGSM7, 3},
		{"459 GSM", r("a", 459), EncodingGSM7, 3},
		{"GSM accents are 1 septet", r("é", 160), EncodingGSM7, 1},
		{"GSM basic set", "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCXYZÄÖÑÜ§¿abcxyzäöñüà", EncodingGSM7, 1},
		{"80 extension chars = 160 septets", r("{", 80), EncodingGSM7, 1},
		{"81 extension chars = 162 septets", r("{", 81), EncodingGSM7, 2},
		{"every extension char", r("^{}\\[~]|€\f", 8), EncodingGSM7, 1},
		{"159 + extension char", r("a", 159) + "€", EncodingGSM7, 2},
		{"extension char not split across parts", r("a", 152) + "{" + r("a", 152), EncodingGSM7, 3},
		{"extension char fits at the end of a part", r("a", 151) + "{" + r("a", 153), EncodingGSM7, 2},
		{"70 UCS-2", r("á", 70), EncodingUCS2, 1},
		{"71 UCS-2", r("á", 71), EncodingUCS2, 2},
		{"134 UCS-2", r("á", 134), EncodingUCS2, 2},
		{"135 UCS-2", r("á", 135), EncodingUCS2, 3},
		{"one non-GSM char forces UCS-2", r("a", 69) + "ç", EncodingUCS2, 1},
		{"one non-GSM char forces UCS-2, 2 parts", r("a", 70) + "ç", EncodingUCS2, 2},
		{"ellipsis is not GSM", "Main St…", EncodingUCS2, 1},
		{"CJK", "王芳", EncodingUCS2, 1},
		{"35 emoji = 70 units", r("😀", 35), EncodingUCS2, 1},
		{"36 emoji = 72 units", r("😀", 36), EncodingUCS2, 2},
		{"emoji + 69 units", "😀" + r("a", 69), EncodingUCS2, 2},
		{"surrogate pair not split across parts", r("á", 66) + "😀" + r("á", 66), EncodingUCS2, 3},
		{"extension chars in UCS-2 are 1 unit", r("{", 69) + "á", EncodingUCS2, 1},
		{"Arabic", "مرحبا", EncodingUCS2, 1},
		{"tab is not GSM", "a\tb", EncodingUCS2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, n := Segments(tt.body)
			if enc != tt.enc || n != tt.n {
				t.Errorf("Segments = %s, %d; want %s, %d", enc, n, tt.enc, tt.n)
			}
			if GSM7(tt.body) != (tt.enc == EncodingGSM7) {
				t.Errorf("GSM7 = %v, encoding %s", GSM7(tt.body), tt.enc)
			}
		})
	}
}

func TestToGSM7(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Zoë", "Zoe"},
		{"Łukasz Wałęsa", "Lukasz Walesa"},
		{"François Müller", "Francois Müller"}, // ü is GSM-7
		{"José Peña", "José Peña"},
		{"María Ángeles Núñez", "Maria Angeles Nuñez"},
		{"Çelik çay", "Çelik cay"},
		{"Dvořák Ščepán", "Dvorak Scepan"},
		{"Ørsted Åsa Æbelø", "Ørsted Åsa Æbelø"},
		{"王芳", ""},
		{"Ana 😀", "Ana"},
		{"😀 Ana 😀 Lee 😀", "Ana Lee"},
		{"محمد", ""},
		{"O’Brien “Jr.” – Main St…", "O'Brien \"Jr.\" - Main St..."},
		{"ＡＢＣ１２３", "ABC123"},
		{"a\u00a0b\tc", "a b c"},
		{"Nguyễn Thị", "Nguyen Thi"},
		{"Zoe\u0308", "Zoe"}, // decomposed: the combining mark is dropped
		{"", ""},
	}
	for _, tt := range tests {
		got := ToGSM7(tt.in)
		if got != tt.want {
			t.Errorf("ToGSM7(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if !GSM7(got) {
			t.Errorf("ToGSM7(%q) = %q is not GSM-7", tt.in, got)
		}
	}
}

func TestTranslitTableIsGSM7(t *testing.T) {
	for r, s := range translitTable {
		if gsmSeptets(r) > 0 {
			t.Errorf("%q is GSM-7 and must not be in translitTable", r)
		}
		if !GSM7(s) {
			t.Errorf("translitTable[%q] = %q is not GSM-7", r, s)
		}
	}
}
