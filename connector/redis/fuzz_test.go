package redis

import (
	"bytes"
	"testing"
)

// FuzzDecodeCommittable: checkpoint data that is not a committable is an
// error, never a panic; a committable decodes to what was encoded.
func FuzzDecodeCommittable(f *testing.F) {
	c := committable{fence: "sluice:fence:job:sink:0123", prune: 5, cmds: [][]string{{"INCRBY", "k", "1"}, {"SET", "a", "", "PX", "100"}}}
	f.Add(c.encode())
	f.Add((&committable{fence: "f", prune: -1}).encode())
	f.Add([]byte{1})
	f.Add([]byte{1, 1, 'f', 0, 255, 255, 255, 255, 15})
	f.Add(writerState{fence: "f", checkpoint: 3}.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := decodeCommittable(b); err == nil {
			again, err := decodeCommittable(c.encode())
			if err != nil || again.fence != c.fence || again.prune != c.prune || len(again.cmds) != len(c.cmds) {
				t.Fatalf("re-encoding %x: %+v, %v", b, again, err)
			}
			if !bytes.Equal(again.encode(), c.encode()) {
				t.Fatalf("encoding of %x is not stable", b)
			}
		}
		if s, err := decodeWriterState(b); err == nil {
			again, err := decodeWriterState(s.encode())
			if err != nil || again != s {
				t.Fatalf("writer state %x: %+v, %v", b, again, err)
			}
		}
	})
}
