package nexmark

import (
	"encoding/binary"
	"unsafe"
)

// arenaChunk is the size of the chunks strings are carved from.
const arenaChunk = 16 << 10

// arena hands out the bytes of new strings. Bytes once handed out are never
// written again, so the strings made of them stay immutable.
type arena struct{ buf []byte }

// take returns n writable bytes.
func (a *arena) take(n int) []byte {
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, max(arenaChunk, n))
	}
	l := len(a.buf)
	a.buf = a.buf[:l+n]
	return a.buf[l : l+n : l+n]
}

// str makes a string of b, which take returned and nothing writes again.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// word writes into dst a random word of 3 to maxLen-1 characters,
// lowercase letters and, one in 13, spaces, with the spaces at either end
// trimmed, and returns the part written.
func word(r *rng, dst []byte, maxLen int) []byte {
	n := 3 + int(r.intn(int64(maxLen-3)))
	dst = dst[:n]
	for i := range dst {
		v := r.intn(13 * 26)
		if v < 26 {
			dst[i] = ' '
		} else {
			dst[i] = 'a' + byte(v%26)
		}
	}
	for len(dst) > 0 && dst[0] == ' ' {
		dst = dst[1:]
	}
	for len(dst) > 0 && dst[len(dst)-1] == ' ' {
		dst = dst[:len(dst)-1]
	}
	return dst
}

// letters fills dst with random lowercase letters, eight per random
// number: each byte b of the number becomes 'a' + b*26/256, computed for
// four bytes at a time in 16-bit lanes.
func letters(r *rng, dst []byte) {
	for len(dst) >= 8 {
		binary.LittleEndian.PutUint64(dst, letters8(r.next()))
		dst = dst[8:]
	}
	if len(dst) > 0 {
		var tail [8]byte
		binary.LittleEndian.PutUint64(tail[:], letters8(r.next()))
		copy(dst, tail[:])
	}
}

func letters8(x uint64) uint64 {
	const lanes = 0x00ff00ff00ff00ff
	lo := (x & lanes) * 26 >> 8 & lanes
	hi := (x >> 8 & lanes) * 26 >> 8 & lanes
	return lo | hi<<8 + 0x6161616161616161 // 'a' in every byte
}

// extraSize returns the size of the padding that brings an event of
// current bytes to avg bytes on average: uniform in avg-current ± 20%.
func extraSize(r *rng, current, avg int) int {
	if current > avg {
		return 0
	}
	d := avg - current
	delta := (2*d + 5) / 10 // d*0.2, rounded
	if delta == 0 {
		return d
	}
	return d - delta + int(r.intn(int64(2*delta)))
}

// The people's names, cities and states. The states are the reference's:
// query 3 selects three of the six.
var (
	firstNames = [...]string{"Ada", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Keiko"}
	lastNames  = [...]string{"Adler", "Brandt", "Castro", "Dubois", "Eriksen", "Fischer", "Gomez", "Haas", "Ivanova"}
	usCities   = [...]string{"Tucson", "Fresno", "Oakland", "Nampa", "Eugene", "Salem", "Tacoma", "Spokane", "Yakima", "Casper"}
	usStates   = [...]string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	// fullNames holds every "First Last", so names cost no allocation.
	fullNames = func() (out [len(firstNames) * len(lastNames)]string) {
		for i, f := range firstNames {
			for j, l := range lastNames {
				out[i*len(lastNames)+j] = f + " " + l
			}
		}
		return out
	}()
)
