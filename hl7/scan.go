package hl7

import "math/bits"

const (
	lo7  = 0x7f7f7f7f7f7f7f7f
	ones = 0x0101010101010101
)

// load64 reads 8 bytes of s at i, little-endian (the compiler turns this
// into one load).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// zeroBytes sets the high bit of every byte of v that is zero (exactly:
// no false positives from borrows).
func zeroBytes(v uint64) uint64 {
	return ^((v&lo7 + lo7) | v | lo7)
}

// appendFieldEnds appends to ends the offset of every fs in line[from:],
// then len(line). Fields average a few bytes, so it tests eight bytes at a
// time instead of calling IndexByte once per field. It also reports
// whether line[from:] is all ASCII, which spares the UTF-8 check later.
func appendFieldEnds[T uint16 | uint32](ends []T, line string, from int, fs byte) ([]T, bool) {
	mask := uint64(fs) * ones
	var hi uint64
	i := from
	for ; i+8 <= len(line); i += 8 {
		v := load64(line, i)
		hi |= v
		z := zeroBytes(v ^ mask)
		for z != 0 {
			ends = append(ends, T(i+bits.TrailingZeros64(z)>>3))
			z &= z - 1
		}
	}
	for ; i < len(line); i++ {
		hi |= uint64(line[i])
		if line[i] == fs {
			ends = append(ends, T(i))
		}
	}
	return append(ends, T(len(line))), hi&(ones*0x80) == 0
}
