package stream

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/state"
)

func TestWindowCodecRoundTrip(t *testing.T) {
	wc := windowCodec{}
	lc := sliceCodec[eventtime.TimeWindow]{elem: wc}
	ws := []eventtime.TimeWindow{{Start: 0, End: 10}, {Start: -5000, End: -1000}, {Start: math.MinInt64, End: math.MaxInt64}}
	for _, w := range ws {
		b := wc.Append([]byte{0xff}, w)
		got, n, err := wc.Decode(b[1:])
		if err != nil || n != len(b)-1 || got != w {
			t.Fatalf("%v: got %v, %d, %v", w, got, n, err)
		}
	}
	for _, l := range [][]eventtime.TimeWindow{nil, ws} {
		b := lc.Append(nil, l)
		got, n, err := lc.Decode(append(b, 7))
		if err != nil || n != len(b) || !slices.Equal(got, l) {
			t.Fatalf("%v: got %v, %d, %v", l, got, n, err)
		}
	}
	for _, bad := range [][]byte{nil, {0x80}, {2}, {4, 2}, {2, 0, 0}} {
		if _, _, err := lc.Decode(bad); !errors.Is(err, state.ErrCorrupt) {
			t.Errorf("decode %x: got %v, want ErrCorrupt", bad, err)
		}
	}
}

// FuzzWindowCodec checks that decoding never panics, and that what decodes
// survives an encode-decode round trip.
func FuzzWindowCodec(f *testing.F) {
	lc := sliceCodec[eventtime.TimeWindow]{elem: windowCodec{}}
	f.Add(lc.Append(nil, []eventtime.TimeWindow{{Start: 1, End: 2}, {Start: -3, End: 40}}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		ws, n, err := lc.Decode(b)
		if err != nil {
			return
		}
		if n > len(b) {
			t.Fatalf("used %d of %d bytes", n, len(b))
		}
		again, _, err := lc.Decode(lc.Append(nil, ws))
		if err != nil || !slices.Equal(again, ws) {
			t.Fatalf("%v: round trip gave %v, %v", ws, again, err)
		}
	})
}
