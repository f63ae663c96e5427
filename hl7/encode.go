package hl7

// Encode returns m in ER7: its segments as parsed (still escaped), each
// followed by \r, in the character set m was read in (ISO 8859-1 when it
// was read as such, else UTF-8). Parse(Encode(m)) gives the same values.
func Encode(m *Message) []byte {
	n := 0
	for i := range m.segments {
		n += len(m.segments[i].raw) + 1
	}
	b := make([]byte, 0, n)
	for i := range m.segments {
		if m.latin1 {
			b = appendLatin1(b, m.segments[i].raw)
		} else {
			b = append(b, m.segments[i].raw...)
		}
		b = append(b, '\r')
	}
	return b
}

// Field is the content of one field for Builder.Segment. Make it with Fld,
// Subs, Reps or Raw; the zero Field is empty. Plain values are escaped when
// the segment is written, with the builder's delimiters.
type Field struct {
	one  rep   // the only repetition, when reps is nil
	reps []rep // all repetitions (Reps)
}

type rep struct {
	raw   string     // ER7 text written as is (isRaw)
	comps []string   // plain components (Fld)
	subs  [][]string // plain subcomponents per component (Subs)
	isRaw bool
}

// Fld returns a field of one repetition with the given components (plain
// text). Fld("AA") is a simple value; Fld() an empty field.
func Fld(components ...string) Field { return Field{one: rep{comps: components}} }

// Subs returns a field of one repetition whose components are given as
// their subcomponents, e.g. Subs([]string{"SCH"}, nil, []string{"101", "Required field missing", "HL70357"}).
func Subs(components ...[]string) Field { return Field{one: rep{subs: components}} }

// Raw returns a field (or, inside Reps, one repetition) written exactly as
// er7, which must use the builder's delimiters. Carriage returns are
// dropped so that the text cannot end the segment.
func Raw(er7 string) Field { return Field{one: rep{raw: er7, isRaw: true}} }

// Reps returns a repeating field: the repetitions of each argument, in
// order.
func Reps(fields ...Field) Field {
	out := []rep{}
	for _, f := range fields {
		if f.reps != nil {
			out = append(out, f.reps...)
		} else {
			out = append(out, f.one)
		}
	}
	return Field{reps: out}
}

// Builder writes a new message segment by segment, for ACKs and outbound
// messages. The zero Builder writes with DefaultDelimiters.
type Builder struct {
	d      Delimiters
	buf    []byte // UTF-8 text, segments terminated by \r
	latin1 bool   // Bytes writes ISO 8859-1 (MSH-18 8859/1)
}

// NewBuilder returns a Builder writing with delimiters d (the zero
// Delimiters means DefaultDelimiters).
func NewBuilder(d Delimiters) *Builder {
	return &Builder{d: d.orDefault(), buf: make([]byte, 0, 256)}
}

// Delims returns the builder's delimiters.
func (b *Builder) Delims() Delimiters { return b.d.orDefault() }

// Segment appends a segment. fields[0] is field 1, except for MSH, whose
// MSH-1 and MSH-2 are written from the delimiters: there fields[0] is
// MSH-3. Trailing empty fields, repetitions, components and subcomponents
// are left out. Segment panics when name is not three upper-case letters or
// digits: that is a programming error.
func (b *Builder) Segment(name string, fields ...Field) *Builder {
	if len(name) != 3 || !validName(name) {
		panic("hl7: Builder.Segment: invalid segment name " + name)
	}
	b.d = b.d.orDefault()
	d := b.d
	b.buf = append(b.buf, name...)
	keep := len(b.buf)
	if name == "MSH" {
		b.buf = append(b.buf, d.Field)
		b.buf = append(b.buf, d.EncodingCharacters()...)
		keep = len(b.buf)
	}
	for i := range fields {
		b.buf = append(b.buf, d.Field)
		if b.appendField(&fields[i]) {
			keep = len(b.buf)
		}
	}
	b.buf = append(b.buf[:keep], '\r')
	if name == "MSH" {
		b.latin1 = false
		if len(fields) >= 16 {
			cs := charsetName(Unescape(fieldText(&fields[15], d), d), d.Repetition)
			b.latin1 = lookupCharset(cs) == csLatin1
		}
	}
	return b
}

// fieldText renders f alone.
func fieldText(f *Field, d Delimiters) string {
	t := &Builder{d: d}
	t.appendField(f)
	return string(t.buf)
}

// appendField writes f and reports whether it wrote anything.
func (b *Builder) appendField(f *Field) bool {
	if f.reps == nil {
		return b.appendRep(&f.one)
	}
	start := len(b.buf)
	keep := start
	for i := range f.reps {
		if i > 0 {
			b.buf = append(b.buf, b.d.Repetition)
		}
		if b.appendRep(&f.reps[i]) {
			keep = len(b.buf)
		}
	}
	b.buf = b.buf[:keep]
	return keep > start
}

func (b *Builder) appendRep(r *rep) bool {
	start := len(b.buf)
	d := b.d
	switch {
	case r.isRaw:
		for i := 0; i < len(r.raw); i++ {
			if c := r.raw[i]; c != '\r' {
				b.buf = append(b.buf, c)
			}
		}
		return len(b.buf) > start
	case r.subs != nil:
		keep := start
		for i, subs := range r.subs {
			if i > 0 {
				b.buf = append(b.buf, d.Component)
			}
			cs := len(b.buf)
			ks := cs
			for j, s := range subs {
				if j > 0 {
					if d.Subcomponent == 0 {
						break // this message has no subcomponents
					}
					b.buf = append(b.buf, d.Subcomponent)
				}
				b.buf = appendEscaped(b.buf, s, d)
				if s != "" {
					ks = len(b.buf)
				}
			}
			b.buf = b.buf[:ks]
			if ks > cs {
				keep = ks
			}
		}
		b.buf = b.buf[:keep]
	default:
		keep := start
		for i, c := range r.comps {
			if i > 0 {
				b.buf = append(b.buf, d.Component)
			}
			b.buf = appendEscaped(b.buf, c, d)
			if c != "" {
				keep = len(b.buf)
			}
		}
		b.buf = b.buf[:keep]
	}
	return len(b.buf) > start
}

// Bytes returns the message written so far: segments each followed by \r,
// in UTF-8, or ISO 8859-1 when MSH-18 says 8859/1 (characters it lacks
// become '?'). Later calls to Segment do not change the result; the caller
// must not modify it.
func (b *Builder) Bytes() []byte {
	if b.latin1 {
		return appendLatin1(make([]byte, 0, len(b.buf)), string(b.buf))
	}
	return b.buf[:len(b.buf):len(b.buf)]
}

// String returns the message written so far as UTF-8 text.
func (b *Builder) String() string { return string(b.buf) }

// Message parses the message written so far.
func (b *Builder) Message() (*Message, error) { return Parse(b.Bytes()) }
