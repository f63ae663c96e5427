package mapping

import (
	"sort"
	"sync"
	"time"
)

// zone is an IANA zone with its UTC offsets precomputed for 1900–2200, so
// that reading and displaying times costs a binary search instead of a
// time.Location lookup (which re-parses the zone's POSIX rule for dates
// after the last transition in the tz file).
type zone struct {
	loc   *time.Location
	name  string
	trans []int64  // instants (Unix seconds) from which offs[i] applies, ascending
	offs  []int32  // UTC offset in seconds
	strs  []string // offs[i] formatted as -0700
}

var (
	tableFrom = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	tableTo   = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	zoneCache sync.Map // IANA name → *zone
)

// zoneFor returns the (shared, immutable) zone for a location loaded by
// time.LoadLocation.
func zoneFor(loc *time.Location) *zone {
	name := loc.String()
	if z, ok := zoneCache.Load(name); ok {
		return z.(*zone)
	}
	z := &zone{loc: loc, name: name}
	off := func(u int64) int {
		_, o := time.Unix(u, 0).In(loc).Zone()
		return o
	}
	// Walk the zone's periods with ZoneBounds, checking each one: Go's
	// rule expansion can return an end equal to the start (seen around
	// 2040-12-30 in America/New_York), so a bad or overshooting end falls
	// back to a one-day step and a binary search for the exact change.
	for t := tableFrom; t < tableTo; {
		o := off(t)
		if n := len(z.offs); n == 0 || int(z.offs[n-1]) != o {
			z.trans = append(z.trans, t)
			z.offs = append(z.offs, int32(o))
			z.strs = append(z.strs, time.Unix(t, 0).In(loc).Format("-0700"))
		}
		next := t + 86400
		if _, end := time.Unix(t, 0).In(loc).ZoneBounds(); !end.IsZero() && end.Unix() > t {
			next = end.Unix()
		}
		if off(next-1) != o { // a change before next: find the first second with another offset
			lo, hi := t, next-1
			for hi-lo > 1 {
				mid := lo + (hi-lo)/2
				if off(mid) == o {
					lo = mid
				} else {
					hi = mid
				}
			}
			next = hi
		}
		t = next
	}
	actual, _ := zoneCache.LoadOrStore(name, z)
	return actual.(*zone)
}

// index returns the table row in effect at unix, or -1 outside the table.
func (z *zone) index(unix int64) int {
	if len(z.trans) == 0 || unix < z.trans[0] || unix >= tableTo {
		return -1
	}
	return sort.Search(len(z.trans), func(i int) bool { return z.trans[i] > unix }) - 1
}

// offsetAt returns the UTC offset in seconds at an instant.
func (z *zone) offsetAt(unix int64) int {
	if i := z.index(unix); i >= 0 {
		return int(z.offs[i])
	}
	_, off := time.Unix(unix, 0).In(z.loc).Zone()
	return off
}

// offsetString returns the offset at unix formatted as -0700.
func (z *zone) offsetString(unix int64) string {
	if i := z.index(unix); i >= 0 {
		return z.strs[i]
	}
	return time.Unix(unix, 0).In(z.loc).Format("-0700")
}

// wall resolves a wall-clock time in z deterministically:
//   - a time that exists once maps to that instant;
//   - an ambiguous time (fall back: the hour happens twice) maps to the
//     first, earlier, instant;
//   - a nonexistent time (spring-forward gap) is read with the offset in
//     effect before the transition, i.e. it moves forward by the gap
//     (02:30 on a 1-hour spring-forward day becomes 03:30).
func (z *zone) wall(y, mo, d, h, mi, s, ns int) time.Time {
	w := time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC).Unix() // wall clock read as UTC
	const span = 2 * 86400
	before := z.offsetAt(w - span)
	after := z.offsetAt(w + span)
	if before == after && z.offsetAt(w-int64(before)) == before {
		return time.Unix(w-int64(before), int64(ns))
	}
	var best int64
	found := false
	for _, o := range [2]int{before, after} {
		c := w - int64(o)
		if z.offsetAt(c) == o && (!found || c < best) {
			best, found = c, true
		}
	}
	if !found { // in a gap: keep the earlier offset, which moves the time forward
		best = w - int64(before)
	}
	return time.Unix(best, int64(ns))
}

// local returns the wall clock (2006-01-02T15:04:05) and UTC offset (-0700)
// of t in z, the same as (*apptbridge.Event).SetAppointmentTime(t, z.loc)
// but from the zone table (a test checks that both agree).
func (z *zone) local(t time.Time) (wall, offset string) {
	u := t.Unix()
	off := z.offsetAt(u)
	lt := time.Unix(u+int64(off), 0).UTC()
	y, mo, d := lt.Date()
	h, mi, s := lt.Clock()
	if y < 0 || y > 9999 {
		lt = t.In(z.loc)
		return lt.Format("2006-01-02T15:04:05"), lt.Format("-0700")
	}
	var b [19]byte
	put := func(i, v, n int) {
		for k := n - 1; k >= 0; k-- {
			b[i+k] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, y, 4)
	b[4] = '-'
	put(5, int(mo), 2)
	b[7] = '-'
	put(8, d, 2)
	b[10] = 'T'
	put(11, h, 2)
	b[13] = ':'
	put(14, mi, 2)
	b[16] = ':'
	put(17, s, 2)
	return string(b[:]), z.offsetString(u)
}
