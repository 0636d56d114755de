package kinesis

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
)

// Records of the Kinesis Producer Library's aggregation format: one
// Kinesis record carries many user records. Its data is the magic
// 0xF3 0x89 0x9A 0xC2, a protobuf AggregatedRecord, and the MD5 digest
// of the protobuf bytes:
//
//	message AggregatedRecord {
//	  repeated string partition_key_table     = 1;
//	  repeated string explicit_hash_key_table = 2;
//	  repeated Record records                 = 3;
//	}
//	message Record {
//	  required uint64 partition_key_index     = 1;
//	  optional uint64 explicit_hash_key_index = 2;
//	  required bytes  data                    = 3;
//	  repeated Tag    tags                    = 4;
//	}
//
// All user records of an aggregated record share its sequence number and
// are told apart by their index, the sub-sequence number.

var kplMagic = []byte{0xF3, 0x89, 0x9A, 0xC2}

// maxSubRecords bounds the user records of one aggregated record (a
// Kinesis record has at most 10 MiB; each user record needs a few bytes).
const maxSubRecords = 1 << 20

// subRecord is one user record of an aggregated record.
type subRecord struct {
	PartitionKey string
	Data         []byte
}

// errNotAggregated: the data is a plain record (no magic, or a digest
// that does not match, which the KPL's own readers treat the same way).
var errNotAggregated = errors.New("not an aggregated record")

// deaggregate returns the user records of an aggregated record; for a
// plain record it returns errNotAggregated. Any other error means the
// data claims to be aggregated (magic and digest match) but its protobuf
// is malformed. The returned data slices share b's memory. It never
// panics.
func deaggregate(b []byte) ([]subRecord, error) {
	if len(b) < len(kplMagic)+md5.Size || !bytes.Equal(b[:len(kplMagic)], kplMagic) {
		return nil, errNotAggregated
	}
	body := b[len(kplMagic) : len(b)-md5.Size]
	sum := md5.Sum(body)
	if !bytes.Equal(sum[:], b[len(b)-md5.Size:]) {
		return nil, errNotAggregated
	}
	var (
		keys []string
		recs []subRecord
		idx  []uint64
	)
	err := eachField(body, func(num uint64, typ int, v uint64, raw []byte) error {
		switch {
		case num == 1 && typ == wireBytes:
			keys = append(keys, string(raw))
		case num == 3 && typ == wireBytes:
			if len(recs) >= maxSubRecords {
				return fmt.Errorf("more than %d user records", maxSubRecords)
			}
			r, ki, err := decodeSubRecord(raw)
			if err != nil {
				return fmt.Errorf("user record %d: %w", len(recs), err)
			}
			recs = append(recs, r)
			idx = append(idx, ki)
		case num <= 3 && typ != wireBytes:
			return fmt.Errorf("field %d has wire type %d, want 2", num, typ)
		}
		return nil // explicit hash keys and unknown fields are skipped
	})
	if err != nil {
		return nil, fmt.Errorf("kpl aggregated record: %w", err)
	}
	for i := range recs {
		if idx[i] >= uint64(len(keys)) {
			return nil, fmt.Errorf("kpl aggregated record: user record %d: partition key index %d out of range (%d keys)", i, idx[i], len(keys))
		}
		recs[i].PartitionKey = keys[idx[i]]
	}
	return recs, nil
}

func decodeSubRecord(b []byte) (subRecord, uint64, error) {
	var (
		r       subRecord
		key     uint64
		hasKey  bool
		hasData bool
	)
	err := eachField(b, func(num uint64, typ int, v uint64, raw []byte) error {
		switch {
		case num == 1 && typ == wireVarint:
			key, hasKey = v, true
		case num == 2 && typ == wireVarint:
		case num == 3 && typ == wireBytes:
			r.Data, hasData = raw, true
		case num <= 3:
			return fmt.Errorf("field %d has wire type %d", num, typ)
		}
		return nil
	})
	if err == nil && (!hasKey || !hasData) {
		err = errors.New("partition key index or data missing")
	}
	if r.Data == nil && hasData {
		r.Data = []byte{}
	}
	return r, key, err
}

// Protobuf wire types.
const (
	wireVarint = 0
	wireI64    = 1
	wireBytes  = 2
	wireI32    = 5
)

// eachField calls fn with every field of the protobuf message b: its
// number, wire type, and its value (varint) or bytes (length-delimited).
func eachField(b []byte, fn func(num uint64, typ int, v uint64, raw []byte) error) error {
	for len(b) > 0 {
		tag, n := uvarint(b)
		if n <= 0 {
			return errors.New("bad field tag")
		}
		b = b[n:]
		num, typ := tag>>3, int(tag&7)
		if num == 0 {
			return errors.New("field number 0")
		}
		var (
			v   uint64
			raw []byte
		)
		switch typ {
		case wireVarint:
			v, n = uvarint(b)
			if n <= 0 {
				return fmt.Errorf("field %d: bad varint", num)
			}
			b = b[n:]
		case wireI64, wireI32:
			size := 8
			if typ == wireI32 {
				size = 4
			}
			if len(b) < size {
				return fmt.Errorf("field %d: truncated", num)
			}
			b = b[size:]
		case wireBytes:
			l, n := uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return fmt.Errorf("field %d: bad length", num)
			}
			raw = b[n : n+int(l)]
			b = b[n+int(l):]
		default:
			return fmt.Errorf("field %d: unsupported wire type %d", num, typ)
		}
		if err := fn(num, typ, v, raw); err != nil {
			return err
		}
	}
	return nil
}

// uvarint decodes a protobuf varint: n is the bytes read, 0 when b ends
// first, negative on overflow.
func uvarint(b []byte) (uint64, int) {
	var x uint64
	var s uint
	for i, c := range b {
		if i == 10 {
			return 0, -1
		}
		if c < 0x80 {
			if i == 9 && c > 1 {
				return 0, -1
			}
			return x | uint64(c)<<s, i + 1
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	return 0, 0
}

// aggregate encodes records in the KPL aggregation format (the inverse of
// deaggregate), for tests and producers that aggregate themselves.
func aggregate(recs []subRecord) []byte {
	var body []byte
	keyIdx := map[string]uint64{}
	var keys []string
	for _, r := range recs {
		if _, ok := keyIdx[r.PartitionKey]; !ok {
			keyIdx[r.PartitionKey] = uint64(len(keys))
			keys = append(keys, r.PartitionKey)
		}
	}
	for _, k := range keys {
		body = appendBytesField(body, 1, []byte(k))
	}
	for _, r := range recs {
		var rb []byte
		rb = appendTag(rb, 1, wireVarint)
		rb = appendUvarint(rb, keyIdx[r.PartitionKey])
		rb = appendBytesField(rb, 3, r.Data)
		body = appendBytesField(body, 3, rb)
	}
	out := append(append([]byte(nil), kplMagic...), body...)
	sum := md5.Sum(body)
	return append(out, sum[:]...)
}

func appendTag(b []byte, num uint64, typ int) []byte { return appendUvarint(b, num<<3|uint64(typ)) }

func appendBytesField(b []byte, num uint64, v []byte) []byte {
	b = appendTag(b, num, wireBytes)
	b = appendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
