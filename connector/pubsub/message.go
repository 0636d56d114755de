package pubsub

import (
	"encoding/json"
	"errors"
	"time"
)

// Message is a message read from a subscription, or one for the sink to
// publish (which uses Data, Attributes and OrderingKey only).
type Message struct {
	// ID is the message id Pub/Sub assigned when it was published: the
	// same for every delivery of the message, so it identifies
	// redeliveries (deduplication, see the package doc).
	ID         string
	Data       []byte
	Attributes map[string]string
	// OrderingKey is the message's ordering key, "" for none.
	OrderingKey string
	// PublishTime is when Pub/Sub accepted the message; the source emits
	// it as the record's event time.
	PublishTime time.Time
	// DeliveryAttempt counts the deliveries of the message when the
	// subscription has a dead-letter policy, else 0.
	DeliveryAttempt int
}

// Decoder turns a message into the source's element. An error rejects the
// message as undecodable: it goes to the job's dead-letter output (see
// stream.DeadLetters) and is acknowledged with the checkpoint, or fails the
// job naming its subscription and message id. The decoder may keep the
// message's fields.
type Decoder[T any] func(m *Message) (T, error)

// Messages is the decoder that returns the message itself.
func Messages() Decoder[Message] {
	return func(m *Message) (Message, error) { return *m, nil }
}

// Bytes is the decoder that returns the message's data.
func Bytes() Decoder[[]byte] {
	return func(m *Message) ([]byte, error) { return m.Data, nil }
}

// String is the decoder that returns the message's data as a string.
func String() Decoder[string] {
	return func(m *Message) (string, error) { return string(m.Data), nil }
}

// JSON is the decoder that unmarshals the message's data (encoding/json)
// into a T. Data that is not valid JSON for T is rejected.
func JSON[T any]() Decoder[T] {
	return func(m *Message) (T, error) {
		var v T
		if len(m.Data) == 0 {
			return v, errors.New("empty message data is not JSON")
		}
		err := json.Unmarshal(m.Data, &v)
		return v, err
	}
}

// DataDecoder adapts a decoder of the data alone.
func DataDecoder[T any](fn func(data []byte) (T, error)) Decoder[T] {
	return func(m *Message) (T, error) { return fn(m.Data) }
}

// messageSize is what a message counts towards MaxOutstandingBytes.
func messageSize(data []byte, attrs map[string]string) int {
	n := len(data)
	for k, v := range attrs {
		n += len(k) + len(v)
	}
	return n
}
