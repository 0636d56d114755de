package kafka

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Header is a Kafka record header.
type Header = kgo.RecordHeader

// Record is a record read from Kafka. Key, Value and the header values
// share memory with the fetched batch: a decoder that keeps them beyond the
// call need not copy them (the source does not reuse fetch buffers).
type Record struct {
	Key       []byte
	Value     []byte
	Headers   []Header
	Topic     string
	Partition int32
	Offset    int64
	// Timestamp is the record's timestamp (create or log-append time,
	// as the topic is configured).
	Timestamp time.Time
}

// Header returns the value of the last header named key and whether there
// is one.
func (r *Record) Header(key string) ([]byte, bool) {
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key == key {
			return r.Headers[i].Value, true
		}
	}
	return nil, false
}

// Decoder turns a Kafka record into the source's element. An error rejects
// the record as undecodable: it goes to the job's dead-letter output (see
// stream.DeadLetters), or fails the job naming its location
// "topic/partition@offset". The record must not be retained after the call
// returns (its fields may be kept).
type Decoder[T any] func(r *Record) (T, error)

// Records is the decoder that returns the record itself.
func Records() Decoder[Record] {
	return func(r *Record) (Record, error) { return *r, nil }
}

// Bytes is the decoder that returns the record's value.
func Bytes() Decoder[[]byte] {
	return func(r *Record) ([]byte, error) { return r.Value, nil }
}

// String is the decoder that returns the record's value as a string.
func String() Decoder[string] {
	return func(r *Record) (string, error) { return string(r.Value), nil }
}

// JSON is the decoder that unmarshals the record's value (encoding/json)
// into a T. A value that is not valid JSON for T is rejected.
func JSON[T any]() Decoder[T] {
	return func(r *Record) (T, error) {
		var v T
		if len(r.Value) == 0 {
			return v, errors.New("empty value is not JSON")
		}
		err := json.Unmarshal(r.Value, &v)
		return v, err
	}
}

// JSONMap is the decoder that unmarshals the record's value into a JSON
// object.
func JSONMap() Decoder[map[string]any] { return JSON[map[string]any]() }

// ValueDecoder adapts a decoder of the value alone.
func ValueDecoder[T any](fn func(value []byte) (T, error)) Decoder[T] {
	return func(r *Record) (T, error) { return fn(r.Value) }
}
