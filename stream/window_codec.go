package stream

import (
	"encoding/binary"
	"fmt"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/state"
)

// windowCodec encodes an eventtime.TimeWindow in window state and timers:
// Start and End as zig-zag varints.
type windowCodec struct{}

func (windowCodec) Append(dst []byte, w eventtime.TimeWindow) []byte {
	dst = binary.AppendVarint(dst, w.Start)
	return binary.AppendVarint(dst, w.End)
}

func (windowCodec) Decode(src []byte) (eventtime.TimeWindow, int, error) {
	start, n := binary.Varint(src)
	if n <= 0 {
		return eventtime.TimeWindow{}, 0, fmt.Errorf("%w: bad window start", state.ErrCorrupt)
	}
	end, m := binary.Varint(src[n:])
	if m <= 0 {
		return eventtime.TimeWindow{}, 0, fmt.Errorf("%w: bad window end", state.ErrCorrupt)
	}
	if end < start {
		return eventtime.TimeWindow{}, 0, fmt.Errorf("%w: window end %d before its start %d", state.ErrCorrupt, end, start)
	}
	return eventtime.TimeWindow{Start: start, End: end}, n + m, nil
}

// sliceCodec encodes a slice as its length (varint) followed by its
// elements; an empty slice decodes as nil.
type sliceCodec[T any] struct{ elem state.Codec[T] }

func (c sliceCodec[T]) Append(dst []byte, vs []T) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(vs)))
	for _, v := range vs {
		dst = c.elem.Append(dst, v)
	}
	return dst
}

func (c sliceCodec[T]) Decode(src []byte) ([]T, int, error) {
	l, n := binary.Uvarint(src)
	if n <= 0 {
		return nil, 0, fmt.Errorf("%w: bad list length", state.ErrCorrupt)
	}
	if l == 0 {
		return nil, n, nil
	}
	if l > uint64(len(src)) && l > 1<<20 {
		// Elements may encode to no bytes at all (struct{}), so only an
		// absurd length is rejected up front; decoding checks the rest.
		return nil, 0, fmt.Errorf("%w: list length %d exceeds the data", state.ErrCorrupt, l)
	}
	vs := make([]T, 0, min(l, uint64(len(src))))
	for range l {
		v, m, err := c.elem.Decode(src[n:])
		if err != nil {
			return nil, 0, fmt.Errorf("list element %d: %w", len(vs), err)
		}
		vs = append(vs, v)
		n += m
	}
	return vs, n, nil
}
