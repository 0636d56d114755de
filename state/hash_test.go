package state

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
)

// goldenHashes pins the key hash and the key groups it yields. Checkpoints
// depend on these values: if this test fails, existing checkpoints can no
// longer be restored. Never change the table to make it pass.
var goldenHashes = []struct {
	kind          string
	key           any
	hash          uint64
	kg128, kg4096 int
}{
	{kind: "string", key: "", hash: 0xef46db3751d8e999, kg128: 25, kg4096: 2457},
	{kind: "string", key: "a", hash: 0xd24ec4f1a98c6e5b, kg128: 91, kg4096: 3675},
	{kind: "string", key: "hello", hash: 0x26c7827d889f6da3, kg128: 35, kg4096: 3491},
	{kind: "string", key: "user-42", hash: 0x397e9d3a76af7c81, kg128: 1, kg4096: 3201},
	{kind: "string", key: "sluice", hash: 0x4251fdf4a288237c, kg128: 124, kg4096: 892},
	{kind: "string", key: "κλειδί", hash: 0x19059b419cf9155a, kg128: 90, kg4096: 1370},
	{kind: "string", key: "a much longer key that spans more than thirty-two bytes", hash: 0x8ea33d2ce00d9105, kg128: 5, kg4096: 261},
	{kind: "int64", key: int64(0), hash: 0x34c96acdcadb1bbb, kg128: 59, kg4096: 3003},
	{kind: "int64", key: int64(1), hash: 0x9f1ffc793b8a47da, kg128: 90, kg4096: 2010},
	{kind: "int64", key: int64(-1), hash: 0x85d136adb773c6c9, kg128: 73, kg4096: 1737},
	{kind: "int64", key: int64(42), hash: 0xa2c396223f8bdbdf, kg128: 95, kg4096: 3039},
	{kind: "int64", key: int64(1099511627776), hash: 0x210f2c43553cf450, kg128: 80, kg4096: 1104},
	{kind: "int64", key: int64(-9223372036854775808), hash: 0xa7299a58d03a1d0c, kg128: 12, kg4096: 3340},
	{kind: "int64", key: int64(9223372036854775807), hash: 0x043de1bbaf341994, kg128: 20, kg4096: 2452},
	{kind: "int", key: int(42), hash: 0xa2c396223f8bdbdf, kg128: 95, kg4096: 3039},
	{kind: "int", key: int(-1), hash: 0x85d136adb773c6c9, kg128: 73, kg4096: 1737},
	{kind: "int32", key: int32(-1), hash: 0x85d136adb773c6c9, kg128: 73, kg4096: 1737},
	{kind: "uint64", key: uint64(0), hash: 0x34c96acdcadb1bbb, kg128: 59, kg4096: 3003},
	{kind: "uint64", key: uint64(7), hash: 0xb194a08f7370a5cf, kg128: 79, kg4096: 1487},
	{kind: "uint64", key: uint64(9223372036854775808), hash: 0xa7299a58d03a1d0c, kg128: 12, kg4096: 3340},
	{kind: "uint64", key: uint64(18446744073709551615), hash: 0x85d136adb773c6c9, kg128: 73, kg4096: 1737},
}

func hashAny(t *testing.T, key any) uint64 {
	switch k := key.(type) {
	case string:
		return Hasher[string]()(k)
	case int64:
		return Hasher[int64]()(k)
	case int:
		return Hasher[int]()(k)
	case int32:
		return Hasher[int32]()(k)
	case uint64:
		return Hasher[uint64]()(k)
	}
	t.Fatalf("no hasher for %T", key)
	return 0
}

func TestGoldenHashes(t *testing.T) {
	for _, g := range goldenHashes {
		h := hashAny(t, g.key)
		if h != g.hash {
			t.Errorf("%s %v: hash %#016x, want %#016x: the key hash changed, checkpoints break", g.kind, g.key, h, g.hash)
		}
		if kg := KeyGroupOf(h, 128); kg != g.kg128 {
			t.Errorf("%s %v: key group of 128 = %d, want %d", g.kind, g.key, kg, g.kg128)
		}
		if kg := KeyGroupOf(h, 4096); kg != g.kg4096 {
			t.Errorf("%s %v: key group of 4096 = %d, want %d", g.kind, g.key, kg, g.kg4096)
		}
	}
}

func be8(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

type (
	userID   string
	counter  uint16
	temp     float32
	flagBool bool
	digest   [4]byte
	point    struct{ X, Y int }
	shardNum int8
)

// TestHasherCanonicalBytes checks every fast path against xxhash of the
// documented canonical bytes.
func TestHasherCanonicalBytes(t *testing.T) {
	x := xorshift(1)
	for range 1000 {
		v := x.next()
		if got, want := Hasher[int64]()(int64(v)), xxhash.Sum64(be8(v)); got != want {
			t.Fatalf("int64 %d: %x want %x", int64(v), got, want)
		}
		if got, want := Hasher[uint64]()(v), xxhash.Sum64(be8(v)); got != want {
			t.Fatalf("uint64 %d: %x want %x", v, got, want)
		}
		if got, want := Hasher[int16]()(int16(v)), xxhash.Sum64(be8(uint64(int64(int16(v))))); got != want {
			t.Fatalf("int16 %d: %x want %x", int16(v), got, want)
		}
		if got, want := Hasher[uint32]()(uint32(v)), xxhash.Sum64(be8(uint64(uint32(v)))); got != want {
			t.Fatalf("uint32 %d: %x want %x", uint32(v), got, want)
		}
		f := math.Float64frombits(v)
		if f == f && f != 0 {
			if got, want := Hasher[float64]()(f), xxhash.Sum64(be8(v)); got != want {
				t.Fatalf("float64 %v: %x want %x", f, got, want)
			}
		}
	}
	cases := []struct {
		name string
		got  uint64
		want []byte
	}{
		{"named string", Hasher[userID]()("u1"), []byte("u1")},
		{"named uint16", Hasher[counter]()(500), be8(500)},
		{"named int8", Hasher[shardNum]()(-3), be8(uint64(0xfffffffffffffffd))},
		{"int8 min", Hasher[int8]()(-128), be8(uint64(0xffffffffffffff80))},
		{"uint8", Hasher[uint8]()(255), be8(255)},
		{"uint", Hasher[uint]()(9), be8(9)},
		{"uintptr", Hasher[uintptr]()(9), be8(9)},
		{"bool true", Hasher[bool]()(true), []byte{1}},
		{"bool false", Hasher[bool]()(false), []byte{0}},
		{"named bool", Hasher[flagBool]()(true), []byte{1}},
		{"float32 widened", Hasher[temp]()(1.5), be8(math.Float64bits(1.5))},
		{"float -0 is 0", Hasher[float64]()(math.Copysign(0, -1)), be8(0)},
		{"float +0", Hasher[float64]()(0), be8(0)},
		{"NaN canonical", Hasher[float64]()(math.Float64frombits(0x7ff8000000000abc)), be8(canonicalNaN)},
		{"float32 NaN", Hasher[float32]()(float32(math.NaN())), be8(canonicalNaN)},
		{"byte array", Hasher[digest]()(digest{1, 2, 3, 4}), []byte{1, 2, 3, 4}},
		{"empty byte array", Hasher[[0]byte]()([0]byte{}), []byte{0}},
		{"empty struct", Hasher[struct{}]()(struct{}{}), []byte{0}},
		{"struct via codec", Hasher[point]()(point{1, 2}), DefaultCodec[point]().Append(nil, point{1, 2})},
		{"duration", Hasher[time.Duration]()(time.Second), be8(uint64(time.Second))},
	}
	for _, c := range cases {
		if want := xxhash.Sum64(c.want); c.got != want {
			t.Errorf("%s: %#x, want %#x", c.name, c.got, want)
		}
	}
}

func TestHasherNoAlloc(t *testing.T) {
	hs, hi, hf, ha := Hasher[string](), Hasher[int64](), Hasher[float64](), Hasher[digest]()
	s := "some key"
	var sink uint64
	n := testing.AllocsPerRun(100, func() {
		sink += hs(s) + hi(42) + hf(1.5) + ha(digest{1})
	})
	if n != 0 {
		t.Errorf("hashing allocates %v times", n)
	}
	_ = sink
}
