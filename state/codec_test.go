package state

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

type event struct {
	ID    string
	Count int
	Tags  []string
	inner int // not encoded: unexported
}

type level uint8

func roundTrip[T any](t *testing.T, c Codec[T], v T) T {
	t.Helper()
	prefix := []byte("xy")
	enc := c.Append(prefix, v)
	if !bytes.Equal(enc[:2], prefix) {
		t.Fatalf("%T: Append overwrote dst", v)
	}
	enc = append(enc, 0xEE) // trailing byte must not be consumed
	got, n, err := c.Decode(enc[2:])
	if err != nil {
		t.Fatalf("%T %v: decode: %v", v, v, err)
	}
	if n != len(enc)-3 {
		t.Fatalf("%T %v: used %d bytes, encoded %d", v, v, n, len(enc)-3)
	}
	// A strict prefix must fail, or decode within itself; never panic.
	for i := range n {
		if _, m, err := c.Decode(enc[2 : 2+i]); err == nil && m > i {
			t.Fatalf("%T %v: decoding a %d-byte prefix used %d bytes", v, v, i, m)
		}
	}
	return got
}

func checkRoundTrip[T comparable](t *testing.T, vs ...T) {
	t.Helper()
	c := DefaultCodec[T]()
	for _, v := range vs {
		if got := roundTrip(t, c, v); got != v {
			t.Errorf("%T: %v decoded as %v", v, v, got)
		}
	}
}

func TestDefaultCodecRoundTrip(t *testing.T) {
	checkRoundTrip(t, true, false)
	checkRoundTrip(t, int8(-128), int8(127), int8(0))
	checkRoundTrip(t, int16(-32768), int16(300))
	checkRoundTrip(t, int32(math.MinInt32), int32(math.MaxInt32))
	checkRoundTrip(t, int64(math.MinInt64), int64(math.MaxInt64), int64(0), int64(-1))
	checkRoundTrip(t, int(-5), int(1<<40))
	checkRoundTrip(t, uint8(255))
	checkRoundTrip(t, uint16(65535))
	checkRoundTrip(t, uint32(math.MaxUint32))
	checkRoundTrip(t, uint64(math.MaxUint64))
	checkRoundTrip(t, uint(7))
	checkRoundTrip(t, uintptr(9))
	checkRoundTrip(t, float32(1.5), float32(math.Inf(-1)))
	checkRoundTrip(t, 0.1, math.MaxFloat64, math.Copysign(0, -1))
	checkRoundTrip(t, "", "hello", "κλειδί")
	checkRoundTrip(t, userID("u"), userID(""))
	checkRoundTrip(t, level(3))
	checkRoundTrip(t, counter(9))
	checkRoundTrip(t, shardNum(-2))
	checkRoundTrip(t, flagBool(true))
	checkRoundTrip(t, temp(2.5))
	checkRoundTrip(t, digest{1, 2, 3, 4})
	checkRoundTrip(t, [0]byte{})
	checkRoundTrip(t, struct{}{})
	if n := len(DefaultCodec[struct{}]().Append(nil, struct{}{})); n != 1 {
		t.Errorf("struct{} encodes in %d bytes, want 1", n)
	}
	checkRoundTrip(t, time.Duration(-5), 3*time.Hour)
	checkRoundTrip(t, point{1, -2})

	nan := roundTrip(t, DefaultCodec[float64](), math.NaN())
	if !math.IsNaN(nan) {
		t.Errorf("NaN decoded as %v", nan)
	}
	for _, b := range [][]byte{nil, {}, {0}, []byte("bytes")} {
		got := roundTrip(t, DefaultCodec[[]byte](), b)
		if !bytes.Equal(got, b) || (len(b) == 0 && got != nil) {
			t.Errorf("[]byte %v decoded as %v", b, got)
		}
	}
	ev := event{ID: "e", Count: 3, Tags: []string{"a"}, inner: 9}
	got := roundTrip(t, DefaultCodec[event](), ev)
	if want := (event{ID: "e", Count: 3, Tags: []string{"a"}}); !reflect.DeepEqual(got, want) {
		t.Errorf("event decoded as %+v, want %+v", got, want)
	}
	m := roundTrip(t, DefaultCodec[map[string]int](), map[string]int{"a": 1})
	if m["a"] != 1 || len(m) != 1 {
		t.Errorf("map decoded as %v", m)
	}
	p := roundTrip(t, DefaultCodec[*point](), &point{3, 4})
	if *p != (point{3, 4}) {
		t.Errorf("pointer decoded as %v", p)
	}
}

func TestTimeCodec(t *testing.T) {
	c := DefaultCodec[time.Time]()
	for _, tm := range []time.Time{
		{},
		time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC),
		time.Date(1600, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(2024, 6, 1, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600)),
		time.Now(),
	} {
		got := roundTrip(t, c, tm)
		if !got.Equal(tm) {
			t.Errorf("%v decoded as %v", tm, got)
		}
		_, o1 := tm.Zone()
		_, o2 := got.Zone()
		if o1 != o2 {
			t.Errorf("%v: zone offset %d decoded as %d", tm, o1, o2)
		}
		if tm.Location() == time.UTC && got != tm.Round(0) {
			t.Errorf("UTC time %v decoded as %v, not ==", tm, got)
		}
	}
	type myTime time.Time
	mt := myTime(time.Unix(5, 6).UTC())
	if got := roundTrip(t, DefaultCodec[myTime](), mt); got != mt {
		t.Errorf("named time decoded as %v", got)
	}
}

func TestCodecDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"bool 2", func() error { _, _, err := DefaultCodec[bool]().Decode([]byte{2}); return err }()},
		{"int8 overflow", func() error {
			_, _, err := DefaultCodec[int8]().Decode(DefaultCodec[int64]().Append(nil, 1000))
			return err
		}()},
		{"uint16 overflow", func() error {
			_, _, err := DefaultCodec[uint16]().Decode(DefaultCodec[uint64]().Append(nil, 1<<20))
			return err
		}()},
		{"varint too long", func() error {
			_, _, err := DefaultCodec[int64]().Decode(bytes.Repeat([]byte{0xff}, 11))
			return err
		}()},
		{"string length", func() error { _, _, err := DefaultCodec[string]().Decode([]byte{5, 'a'}); return err }()},
		{"json", func() error { _, _, err := DefaultCodec[event]().Decode([]byte{2, '{', '['}); return err }()},
		{"time nanos", func() error {
			_, _, err := DefaultCodec[time.Time]().Decode([]byte{0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
			return err
		}()},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, ErrCorrupt) {
			t.Errorf("%s: error %v, want ErrCorrupt", tt.name, tt.err)
		}
	}
}

func TestJSONCodecEncodeErrorPanics(t *testing.T) {
	defer func() {
		r := recover()
		if _, ok := r.(encodeError); !ok {
			t.Fatalf("panic %v, want encodeError", r)
		}
	}()
	JSONCodec[float64]().Append(nil, math.NaN())
}

// FuzzDefaultCodecDecode feeds arbitrary bytes to the decoders of the
// default codecs: they must fail cleanly, and whatever they accept must
// re-encode to the bytes they consumed (or at least decode again).
func FuzzDefaultCodecDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x80})
	f.Add(DefaultCodec[string]().Append(nil, "seed"))
	f.Add(DefaultCodec[int64]().Append(nil, -12345))
	f.Add(DefaultCodec[time.Time]().Append(nil, time.Date(2020, 1, 2, 3, 4, 5, 6, time.FixedZone("", 3600))))
	f.Add(DefaultCodec[event]().Append(nil, event{ID: "x", Tags: []string{"t"}}))
	f.Add(DefaultCodec[float64]().Append(nil, 2.5))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzCodec(t, DefaultCodec[bool](), data, true)
		fuzzCodec(t, DefaultCodec[int8](), data, false)
		fuzzCodec(t, DefaultCodec[int64](), data, false) // non-minimal varints decode too
		fuzzCodec(t, DefaultCodec[uint32](), data, false)
		fuzzCodec(t, DefaultCodec[float64](), data, true)
		fuzzCodec(t, DefaultCodec[float32](), data, true)
		fuzzCodec(t, DefaultCodec[string](), data, false)
		fuzzCodec(t, DefaultCodec[[]byte](), data, false)
		fuzzCodec(t, DefaultCodec[digest](), data, true)
		fuzzCodec(t, DefaultCodec[struct{}](), data, true)
		fuzzCodec(t, DefaultCodec[time.Time](), data, false)
		fuzzCodec(t, DefaultCodec[event](), data, false)
		fuzzCodec(t, DefaultCodec[map[string]int](), data, false)
	})
}

func fuzzCodec[T any](t *testing.T, c Codec[T], data []byte, exact bool) {
	v, n, err := c.Decode(data)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%T: error %v does not wrap ErrCorrupt", v, err)
		}
		return
	}
	if n < 0 || n > len(data) {
		t.Fatalf("%T: used %d of %d bytes", v, n, len(data))
	}
	enc := c.Append(nil, v)
	if exact && !bytes.Equal(enc, data[:n]) {
		t.Fatalf("%T: %x decoded to %v, re-encoded as %x", v, data[:n], v, enc)
	}
	if _, _, err := c.Decode(enc); err != nil {
		t.Fatalf("%T: re-encoding of %v does not decode: %v", v, v, err)
	}
}
