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

// split cuts s on sep into out and returns the number of parts stored;
// parts beyond len(out) are dropped. (A byte loop: parts are short, and
// strings.IndexByte's setup costs more than it saves on them.)
func split(s string, sep byte, out []string) int {
	if len(out) == 0 {
		return 0
	}
	n, from := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			out[n] = s[from:i]
			n++
			if n == len(out) {
				return n
			}
			from = i + 1
		}
	}
	out[n] = s[from:]
	return n + 1
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

// sameName compares segment names without a call to memequal.
func sameName(a, b string) bool {
	return len(a) == 3 && len(b) == 3 && a[0] == b[0] && a[1] == b[1] && a[2] == b[2]
}

// segment returns the first segment named name, or nil.
func segment(segs []hl7.Segment, name string) *hl7.Segment {
	for i := range segs {
		if sameName(segs[i].Name, name) {
			return &segs[i]
		}
	}
	return nil
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
	c.n = split(raw, d.Component, c.c[:max])
	c.plain = (d.Subcomponent == 0 || strings.IndexByte(raw, d.Subcomponent) < 0) &&
		(d.Escape == 0 || strings.IndexByte(raw, d.Escape) < 0)
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
