package kafka

import "encoding/binary"

// The binary formats of splits, enumerator state, writer state and
// committables are versioned: each starts with a uvarint version. Decoders
// never panic and refuse anything malformed or out of range; they read
// through internal/wire.

// maxName bounds decoded strings: Kafka topics have at most 249 bytes,
// transactional ids are short; anything longer is corrupt.
const maxName = 1024

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}
