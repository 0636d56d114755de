package cqltest

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"net"
	"strconv"
	"strings"
)

// Type is a CQL type as the protocol names it: an option id and, for
// collections, the element types (list, set: one; map: key and value).
type Type struct {
	ID   uint16
	Elem []Type
}

// Type ids of the protocol.
const (
	TypeAscii     uint16 = 0x0001
	TypeBigint    uint16 = 0x0002
	TypeBlob      uint16 = 0x0003
	TypeBoolean   uint16 = 0x0004
	TypeCounter   uint16 = 0x0005
	TypeDouble    uint16 = 0x0007
	TypeFloat     uint16 = 0x0008
	TypeInt       uint16 = 0x0009
	TypeTimestamp uint16 = 0x000B
	TypeUUID      uint16 = 0x000C
	TypeVarchar   uint16 = 0x000D
	TypeVarint    uint16 = 0x000E
	TypeTimeUUID  uint16 = 0x000F
	TypeInet      uint16 = 0x0010
	TypeSmallint  uint16 = 0x0013
	TypeTinyint   uint16 = 0x0014
	TypeList      uint16 = 0x0020
	TypeMap       uint16 = 0x0021
	TypeSet       uint16 = 0x0022
)

var scalarTypes = map[string]uint16{
	"ascii": TypeAscii, "bigint": TypeBigint, "blob": TypeBlob, "boolean": TypeBoolean,
	"counter": TypeCounter, "double": TypeDouble, "float": TypeFloat, "int": TypeInt,
	"timestamp": TypeTimestamp, "uuid": TypeUUID, "text": TypeVarchar, "varchar": TypeVarchar,
	"varint": TypeVarint, "timeuuid": TypeTimeUUID, "inet": TypeInet, "smallint": TypeSmallint,
	"tinyint": TypeTinyint,
}

func (t Type) String() string {
	switch t.ID {
	case TypeList, TypeSet:
		name := "list"
		if t.ID == TypeSet {
			name = "set"
		}
		return name + "<" + t.Elem[0].String() + ">"
	case TypeMap:
		return "map<" + t.Elem[0].String() + ", " + t.Elem[1].String() + ">"
	}
	for n, id := range scalarTypes {
		if id == t.ID && n != "varchar" {
			return n
		}
	}
	return fmt.Sprintf("type(0x%04x)", t.ID)
}

func (t Type) collection() bool { return t.ID == TypeList || t.ID == TypeSet || t.ID == TypeMap }

var (
	textType    = Type{ID: TypeVarchar}
	intType     = Type{ID: TypeInt}
	bigintType  = Type{ID: TypeBigint}
	boolType    = Type{ID: TypeBoolean}
	uuidType    = Type{ID: TypeUUID}
	inetType    = Type{ID: TypeInet}
	textSetType = Type{ID: TypeSet, Elem: []Type{textType}}
)

// literal is a constant of a statement before it is typed.
type literal struct {
	kind byte // 's' string, 'n' number, 'b' bool, 'u' uuid, 'h' hex blob, '0' null, 'l' list/set
	text string
	list []literal
}

// encodeLiteral serializes l as a value of type t.
func encodeLiteral(l literal, t Type) ([]byte, error) {
	bad := func() ([]byte, error) {
		//lint:ignore ST1005 the text of Cassandra's own error, which clients see
		return nil, fmt.Errorf("Invalid literal %s for type %s", l.show(), t)
	}
	if l.kind == '0' {
		return nil, nil
	}
	switch t.ID {
	case TypeAscii, TypeVarchar:
		if l.kind != 's' {
			return bad()
		}
		return []byte(l.text), nil
	case TypeBlob:
		if l.kind != 'h' {
			return bad()
		}
		b, err := hex.DecodeString(l.text[2:])
		if err != nil {
			return bad()
		}
		return b, nil
	case TypeBoolean:
		if l.kind != 'b' {
			return bad()
		}
		if l.text == "true" {
			return []byte{1}, nil
		}
		return []byte{0}, nil
	case TypeBigint, TypeCounter, TypeTimestamp, TypeInt, TypeSmallint, TypeTinyint, TypeVarint:
		if l.kind != 'n' {
			return bad()
		}
		n, err := strconv.ParseInt(l.text, 10, 64)
		if err != nil {
			return bad()
		}
		return encodeInt(n, t)
	case TypeDouble:
		if l.kind != 'n' {
			return bad()
		}
		f, err := strconv.ParseFloat(l.text, 64)
		if err != nil {
			return bad()
		}
		return binary.BigEndian.AppendUint64(nil, math.Float64bits(f)), nil
	case TypeFloat:
		if l.kind != 'n' {
			return bad()
		}
		f, err := strconv.ParseFloat(l.text, 32)
		if err != nil {
			return bad()
		}
		return binary.BigEndian.AppendUint32(nil, math.Float32bits(float32(f))), nil
	case TypeUUID, TypeTimeUUID:
		if l.kind != 'u' {
			return bad()
		}
		b, err := hex.DecodeString(strings.ReplaceAll(l.text, "-", ""))
		if err != nil || len(b) != 16 {
			return bad()
		}
		return b, nil
	case TypeInet:
		if l.kind != 's' {
			return bad()
		}
		ip := net.ParseIP(l.text)
		if ip == nil {
			return bad()
		}
		if v4 := ip.To4(); v4 != nil {
			return v4, nil
		}
		return ip, nil
	case TypeList, TypeSet:
		if l.kind != 'l' {
			return bad()
		}
		var elems [][]byte
		for _, e := range l.list {
			b, err := encodeLiteral(e, t.Elem[0])
			if err != nil {
				return nil, err
			}
			elems = append(elems, b)
		}
		return encodeCollection(elems), nil
	}
	return bad()
}

func (l literal) show() string {
	switch l.kind {
	case 's':
		return "'" + l.text + "'"
	case 'l':
		var parts []string
		for _, e := range l.list {
			parts = append(parts, e.show())
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case '0':
		return "null"
	}
	return l.text
}

func encodeInt(n int64, t Type) ([]byte, error) {
	switch t.ID {
	case TypeInt:
		if n < math.MinInt32 || n > math.MaxInt32 {
			//lint:ignore ST1005 the text of Cassandra's own error, which clients see
			return nil, fmt.Errorf("Unable to make int from '%d'", n)
		}
		return binary.BigEndian.AppendUint32(nil, uint32(n)), nil
	case TypeSmallint:
		if n < math.MinInt16 || n > math.MaxInt16 {
			//lint:ignore ST1005 the text of Cassandra's own error, which clients see
			return nil, fmt.Errorf("Unable to make smallint from '%d'", n)
		}
		return binary.BigEndian.AppendUint16(nil, uint16(n)), nil
	case TypeTinyint:
		if n < math.MinInt8 || n > math.MaxInt8 {
			//lint:ignore ST1005 the text of Cassandra's own error, which clients see
			return nil, fmt.Errorf("Unable to make tinyint from '%d'", n)
		}
		return []byte{byte(n)}, nil
	case TypeVarint:
		return varintBytes(big.NewInt(n)), nil
	}
	return binary.BigEndian.AppendUint64(nil, uint64(n)), nil
}

// varintBytes is the two's-complement big-endian form of n.
func varintBytes(n *big.Int) []byte {
	if n.Sign() >= 0 {
		b := n.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -n-1 then invert.
	m := new(big.Int).Neg(n)
	m.Sub(m, big.NewInt(1))
	b := m.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}

// checkValue reports a bound value that is not a valid serialization of t.
func checkValue(v []byte, t Type) error {
	if v == nil {
		return nil
	}
	want := map[uint16]int{TypeBigint: 8, TypeCounter: 8, TypeTimestamp: 8, TypeDouble: 8, TypeInt: 4,
		TypeFloat: 4, TypeSmallint: 2, TypeTinyint: 1, TypeBoolean: 1, TypeUUID: 16, TypeTimeUUID: 16}
	if n, ok := want[t.ID]; ok && len(v) != n {
		//lint:ignore ST1005 the text of Cassandra's own error, which clients see
		return fmt.Errorf("Expected %d bytes for a %s value, got %d", n, t, len(v))
	}
	if t.collection() {
		if _, err := decodeCollection(v, t.ID == TypeMap); err != nil {
			return fmt.Errorf("invalid %s value: %v", t, err)
		}
	}
	return nil
}

// encodeCollection serializes list or set elements (protocol v3+: [int]
// count, then each element as [int] length and bytes).
func encodeCollection(elems [][]byte) []byte {
	w := writer{}
	w.int_(int32(len(elems)))
	for _, e := range elems {
		w.bytes(e)
	}
	return w.b
}

// decodeCollection splits a serialized list or set (or map: keys and
// values alternate).
func decodeCollection(v []byte, isMap bool) ([][]byte, error) {
	r := &reader{b: v}
	n := int(r.int_("collection size"))
	if isMap {
		n *= 2
	}
	if n < 0 {
		return nil, errBadFrame
	}
	var out [][]byte
	for i := 0; i < n && r.err == nil; i++ {
		e, _ := r.value("collection element")
		out = append(out, e)
	}
	if err := r.done("collection"); err != nil {
		return nil, err
	}
	return out, nil
}

func int64Of(v []byte) int64 {
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}
