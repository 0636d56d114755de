package pubsub

import (
	"errors"
	"slices"
	"testing"
)

func TestStateRoundTrip(t *testing.T) {
	for _, s := range []readerState{
		{subscription: "projects/p/subscriptions/s"},
		{subscription: "projects/p/subscriptions/s", ackIDs: []string{"a", "", "projects/p/subscriptions/s:1-xyz"}},
	} {
		got, err := decodeState(encodeState(s))
		if err != nil {
			t.Fatal(err)
		}
		if got.subscription != s.subscription || !slices.Equal(got.ackIDs, s.ackIDs) {
			t.Errorf("round trip of %+v gave %+v", s, got)
		}
	}
	for _, bad := range [][]byte{nil, {2}, {1}, {1, 5, 'a'}, {1, 0, 200}, append(encodeState(readerState{ackIDs: []string{"x"}}), 0)} {
		if _, err := decodeState(bad); !errors.Is(err, errBadState) {
			t.Errorf("decodeState(%v) = %v, want errBadState", bad, err)
		}
	}
}

// FuzzDecodeState: the decoder of checkpointed reader state never panics,
// and what it accepts survives encoding and decoding again (varints need
// not be minimal, so the bytes may differ).
func FuzzDecodeState(f *testing.F) {
	f.Add(encodeState(readerState{subscription: "projects/p/subscriptions/s", ackIDs: []string{"1:1", "2:1"}}))
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeState(b)
		if err != nil {
			return
		}
		again, err := decodeState(encodeState(s))
		if err != nil || again.subscription != s.subscription || !slices.Equal(again.ackIDs, s.ackIDs) {
			t.Fatalf("decoded %+v from %x, which encodes and decodes to %+v, %v", s, b, again, err)
		}
	})
}
