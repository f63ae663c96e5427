package mapping

import (
	"strings"

	"github.com/apptbridge/apptbridge/hl7"
)

// Field reading. hl7's Segment.Value rescans a field from its start on
// every call; for composite types read component by component (XTN, PL,
// XCN, CX) the mapper instead cuts one repetition into its components
// once. Values are raw ER7 until text() unescapes them (through Value, only
// when they hold an escape sequence).

// part returns the n-th (1-based) sep-separated part of s.
func part(s string, sep byte, n int) string {
	for i := 1; ; i++ {
		j := strings.IndexByte(s, sep)
		if i == n {
			if j < 0 {
				return s
			}
			return s[:j]
		}
		if j < 0 {
			return ""
		}
		s = s[j+1:]
	}
}

// text returns the cleaned, unescaped first subcomponent of raw, which is
// component comp of repetition rep of field in s.
func text(s *hl7.Segment, d *hl7.Delimiters, field, rep, comp int, raw string) string {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == d.Subcomponent && c != 0 {
			raw = raw[:i]
			break
		}
		if c == d.Escape && c != 0 {
			return clean(s.Value(field, rep, comp, 1))
		}
	}
	return clean(raw)
}

// maxSegNames bounds the distinct segment names a profile can refer to.
const maxSegNames = 48

// segKey packs a three-character segment name into an integer.
func segKey(n string) uint32 {
	if len(n) != 3 {
		return 0
	}
	return uint32(n[0])<<16 | uint32(n[1])<<8 | uint32(n[2])
}

// view is one message as the mapper reads it: its segments, delimiters and
// the index of the first segment of every name the mapper uses, built in
// one pass.
type view struct {
	msg   *hl7.Message
	segs  []hl7.Segment
	d     *hl7.Delimiters
	keys  []uint32           // Mapper.segKeys
	first [maxSegNames]int16 // index+1 of the first segment named keys[i]; 0 = none
}

func (v *view) init(msg *hl7.Message, keys []uint32) {
	v.msg, v.segs, v.d, v.keys = msg, msg.Segments(), &msg.Delims, keys
	for i := range v.segs {
		k := segKey(v.segs[i].Name)
		for j, want := range keys {
			if k == want {
				if v.first[j] == 0 {
					v.first[j] = int16(min(i+1, 1<<15-1))
				}
				break
			}
		}
	}
}

// seg returns the first segment with name index si, or nil.
func (v *view) seg(si int) *hl7.Segment {
	if i := int(v.first[si]); i > 0 && i <= len(v.segs) {
		return &v.segs[i-1]
	}
	return nil
}

// start returns the index of the first segment with name index si, or
// len(v.segs) when there is none; loop on from there with v.is.
func (v *view) start(si int) int {
	if i := int(v.first[si]); i > 0 {
		return i - 1
	}
	return len(v.segs)
}

// is reports whether segment j has name index si.
func (v *view) is(j, si int) bool { return segKey(v.segs[j].Name) == v.keys[si] }

// eqFold compares two ASCII codes case-insensitively.
func eqFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}

// comps holds one repetition cut into components.
type comps struct {
	s     *hl7.Segment
	d     *hl7.Delimiters
	field int
	rep   int
	plain bool // no subcomponent or escape character in the repetition
	c     [12]string
	n     int
}

func (c *comps) load(s *hl7.Segment, d *hl7.Delimiters, field, rep int, raw string, max int) {
	c.s, c.d, c.field, c.rep = s, d, field, rep
	c.plain = true
	out := c.c[:max]
	sep, sub, esc := d.Component, d.Subcomponent, d.Escape
	if sub == 0 {
		sub = sep
	}
	if esc == 0 {
		esc = sep
	}
	n, from := 0, 0
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case sep:
			out[n] = raw[from:i]
			n++
			if n == len(out) {
				c.n = n
				return
			}
			from = i + 1
		case sub, esc:
			c.plain = false
		}
	}
	out[n] = raw[from:]
	c.n = n + 1
}

// get returns component i (1-based), cleaned and unescaped.
func (c *comps) get(i int) string {
	if i > c.n || c.c[i-1] == "" {
		return ""
	}
	if c.plain {
		return clean(c.c[i-1])
	}
	return text(c.s, c.d, c.field, c.rep, i, c.c[i-1])
}

// rawAt returns the raw text of repetition rep, component comp and
// subcomponent sub (all 1-based) of field f in one pass over its prefix.
func rawAt(f string, d *hl7.Delimiters, rep, comp, sub int) string {
	r, c, sc := 1, 1, 1
	start := -1
	if rep == 1 && comp == 1 && sub == 1 {
		start = 0
	}
	for i := 0; i < len(f); i++ {
		switch ch := f[i]; {
		case ch == d.Repetition:
			if start >= 0 {
				return f[start:i]
			}
			r, c, sc = r+1, 1, 1
		case ch == d.Component:
			if start >= 0 {
				return f[start:i]
			}
			c, sc = c+1, 1
		case ch == d.Subcomponent && ch != 0:
			if start >= 0 {
				return f[start:i]
			}
			sc++
		default:
			continue
		}
		if r == rep && c == comp && sc == sub {
			start = i + 1
		} else if r > rep {
			return ""
		}
	}
	if start >= 0 {
		return f[start:]
	}
	return ""
}

// val returns the cleaned, unescaped value at field, rep, comp, sub (all
// 1-based) of s: what clean(s.Value(field, rep, comp, sub)) returns,
// without rescanning the field.
func val(s *hl7.Segment, d *hl7.Delimiters, field, rep, comp, sub int) string {
	raw := rawAt(s.Field(field), d, rep, comp, sub)
	if raw == "" {
		return ""
	}
	if d.Escape != 0 && strings.IndexByte(raw, d.Escape) >= 0 {
		return clean(s.Value(field, rep, comp, sub))
	}
	return clean(raw)
}
