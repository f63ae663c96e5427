package mapping

import (
	"strings"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/hl7"
)

// maxPhoneReps bounds the XTN repetitions examined per message.
const maxPhoneReps = 32

// xtnNum is where a repetition's number is: XTN-12, else XTN-5/6/7
// (country code, area, local), else XTN-1.
type xtnNum struct {
	intl  bool // parts[0] is a country calling code (XTN-5)
	parts [3]string
	n     int
}

func (x *xtnNum) ok() bool { return x.n > 0 }

func (x *xtnNum) normalize(c *country) (string, bool) {
	return normalizePhone(c, x.intl, x.parts[:x.n]...)
}

// number finds the number of an XTN repetition.
func (c *comps) number() xtnNum {
	var x xtnNum
	if v := c.get(12); v != "" {
		x.parts[0], x.n = v, 1
		return x
	}
	if local := c.get(7); local != "" {
		cc, area := c.get(5), c.get(6)
		if cc != "" {
			x.intl = true
			x.parts, x.n = [3]string{cc, area, local}, 3
		} else {
			x.parts, x.n = [3]string{area, local}, 2
		}
		return x
	}
	if v := c.get(1); v != "" && strings.IndexByte(v, '@') < 0 {
		x.parts[0], x.n = v, 1
	}
	return x
}

// xtnNumberOf returns the number of the first repetition of an XTN field.
func xtnNumberOf(s *hl7.Segment, d *hl7.Delimiters, field int) xtnNum {
	f := s.Field(field)
	if f == "" {
		return xtnNum{}
	}
	var c comps
	c.load(s, d, field, 1, part(f, d.Repetition, 1), 12)
	return c.number()
}

type xtnRep struct {
	fi         int // index in Mapper.phoneFields
	s          *hl7.Segment
	rep        int
	raw        string // the repetition, raw ER7
	use, equip string
}

// hasNumber reports whether an XTN repetition carries a phone number
// (XTN-12, XTN-7 or a non-e-mail XTN-1).
func (c *comps) hasNumber() bool {
	if v := c.get(1); v != "" && strings.IndexByte(v, '@') < 0 {
		return true
	}
	return c.get(12) != "" || c.get(7) != ""
}

func anyFold(list []string, v string) bool {
	for _, x := range list {
		if eqFoldUnicode(x, v) {
			return true
		}
	}
	return false
}

// mapPatient fills the patient fields.
func (m *Mapper) mapPatient(v *view, ev *apptbridge.Event, res *Result) {
	d := v.d
	var c comps
	// Patient id (CX, repeating): the repetition whose CX.5 is the
	// earliest-listed identifier type, else the first valued one.
	if r := &m.patIDRef; true {
		if s := v.seg(r.si); s != nil {
			comp := r.comp
			if comp == 0 {
				comp = 1
			}
			first, best, bestRank := "", "", len(m.patIDTypes)
			rest := s.Field(r.num)
			for rep := 1; rest != ""; rep++ {
				cur := rest
				if j := strings.IndexByte(rest, d.Repetition); j >= 0 {
					cur, rest = rest[:j], rest[j+1:]
				} else {
					rest = ""
				}
				if cur == "" || (r.repIsGiven && rep != r.rep) {
					continue
				}
				c.load(s, d, r.num, rep, cur, min(max(comp, 5), 12))
				id := c.get(comp)
				if id == "" {
					continue
				}
				if first == "" {
					first = id
				}
				if bestRank > 0 {
					if k := typeRank(m.patIDTypes, c.get(5)); k < bestRank {
						best, bestRank = id, k
					}
				}
			}
			ev.PatientID = first
			if best != "" {
				ev.PatientID = best
			}
		}
	}
	// Name (XPN): family FN.1, given.
	if r := &m.nameRef; true {
		if s := v.seg(r.si); s != nil && s.Field(r.num) != "" {
			c.load(s, d, r.num, r.rep, part(s.Field(r.num), d.Repetition, r.rep), 2)
			ev.PatientLastName, ev.PatientFirstName = c.get(1), c.get(2)
		}
	}
	// Language (CE/CWE): identifier, alternate identifier, text, alternate text.
	if r := &m.langRef; true {
		if s := v.seg(r.si); s != nil && s.Field(r.num) != "" {
			if r.compGiven {
				ev.PatientLanguage = language(r.prim(s, d))
			} else {
				c.load(s, d, r.num, r.rep, part(s.Field(r.num), d.Repetition, r.rep), 5)
				for _, i := range [4]int{1, 4, 2, 5} {
					if l := language(c.get(i)); l != "" {
						ev.PatientLanguage = l
						break
					}
				}
			}
		}
	}
	ev.PatientPhone = m.mobilePhone(v, res)
}

// typeRank is the position of t in types (len(types) when absent).
func typeRank(types []string, t string) int {
	for i, x := range types {
		if eqFoldUnicode(x, t) {
			return i
		}
	}
	return len(types)
}

// mobilePhone applies the phone rules and returns an E.164 number or "".
func (m *Mapper) mobilePhone(v *view, res *Result) string {
	d := v.d
	var buf [maxPhoneReps]xtnRep
	reps := buf[:0]
	var c comps
	for fi := range m.phoneFields {
		r := &m.phoneFields[fi]
		s := v.seg(r.si)
		if s == nil {
			continue
		}
		rest := s.Field(r.num)
		for rep := 1; rest != "" && len(reps) < maxPhoneReps; rep++ {
			cur := rest
			if j := strings.IndexByte(rest, d.Repetition); j >= 0 {
				cur, rest = rest[:j], rest[j+1:]
			} else {
				rest = ""
			}
			if cur == "" || (r.repIsGiven && rep != r.rep) {
				continue
			}
			c.load(s, d, r.num, rep, cur, 3)
			x := xtnRep{fi: fi, s: s, rep: rep, raw: cur, use: c.get(2), equip: c.get(3)}
			if anyFold(m.neverUse, x.use) || anyFold(m.neverEquip, x.equip) {
				continue
			}
			if v := c.get(1); v == "" || strings.IndexByte(v, '@') >= 0 {
				c.load(s, d, r.num, rep, cur, 12)
				if !c.hasNumber() {
					continue
				}
			}
			reps = append(reps, x)
		}
	}
	if len(reps) == 0 {
		return ""
	}
	hit := -1
rules:
	for _, rule := range m.phoneRules {
		switch {
		case rule.Any:
			hit = 0
			break rules
		case rule.Lone:
			fi := reps[0].fi // the first field that has a numbered repetition
			if len(reps) == 1 || reps[1].fi != fi {
				hit = 0
				break rules
			}
		default:
			for i := range reps {
				x := &reps[i]
				if (len(rule.Equipment) == 0 || anyFold(rule.Equipment, x.equip)) &&
					(len(rule.Use) == 0 || anyFold(rule.Use, x.use)) {
					hit = i
					break rules
				}
			}
		}
	}
	if hit < 0 {
		return ""
	}
	x := &reps[hit]
	r := &m.phoneFields[x.fi]
	c.load(x.s, d, r.num, x.rep, x.raw, 12)
	num := c.number()
	if e, ok := num.normalize(m.country); ok {
		return e
	}
	res.Warnings = append(res.Warnings, m.phoneFields[x.fi].field+": unusable phone number")
	return ""
}

// mapProvider fills the provider from the first valued XCN.
func (m *Mapper) mapProvider(v *view, ev *apptbridge.Event) {
	var c comps
	for i := range m.providerRefs {
		r := &m.providerRefs[i]
		for j := v.start(r.si); j < len(v.segs); j++ {
			if !v.is(j, r.si) {
				continue
			}
			s := &v.segs[j]
			f := s.Field(r.num)
			if f == "" {
				continue
			}
			c.load(s, v.d, r.num, r.rep, part(f, v.d.Repetition, r.rep), 3)
			id, family, given := c.get(1), c.get(2), c.get(3)
			if id == "" && family == "" && given == "" {
				continue
			}
			ev.ProviderID, ev.ProviderLastName, ev.ProviderFirstName = id, family, given
			return
		}
	}
}
