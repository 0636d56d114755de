package pubsub

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The reader state in checkpoints: the ack ids of messages whose records
// the checkpoint covers and that were not yet acknowledged when it was
// taken. Restoring the checkpoint means it completed, so the restored
// reader acknowledges them.
//
//	version 1 (byte)
//	subscription: uvarint length, bytes
//	count: uvarint; then count times: uvarint length, bytes (an ack id)

const stateVersion = 1

// maxStateString bounds a decoded string (an ack id or a subscription
// name is far shorter).
const maxStateString = 64 << 10

// readerState is one reader's pending acknowledgements.
type readerState struct {
	subscription string
	ackIDs       []string
}

func encodeState(s readerState) []byte {
	n := 1 + binary.MaxVarintLen64*(2+len(s.ackIDs)) + len(s.subscription)
	for _, a := range s.ackIDs {
		n += len(a)
	}
	b := make([]byte, 0, n)
	b = append(b, stateVersion)
	b = binary.AppendUvarint(b, uint64(len(s.subscription)))
	b = append(b, s.subscription...)
	b = binary.AppendUvarint(b, uint64(len(s.ackIDs)))
	for _, a := range s.ackIDs {
		b = binary.AppendUvarint(b, uint64(len(a)))
		b = append(b, a...)
	}
	return b
}

var errBadState = errors.New("pubsub: malformed reader state")

func decodeState(b []byte) (readerState, error) {
	var s readerState
	if len(b) == 0 {
		return s, fmt.Errorf("%w: empty", errBadState)
	}
	if b[0] != stateVersion {
		return s, fmt.Errorf("%w: version %d, this build reads version %d", errBadState, b[0], stateVersion)
	}
	b = b[1:]
	str := func() (string, bool) {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > maxStateString || l > uint64(len(b)-n) {
			return "", false
		}
		v := string(b[n : n+int(l)])
		b = b[n+int(l):]
		return v, true
	}
	var ok bool
	if s.subscription, ok = str(); !ok {
		return s, fmt.Errorf("%w: subscription", errBadState)
	}
	count, n := binary.Uvarint(b)
	// Every ack id takes at least one byte: a count beyond what is left
	// is corrupt.
	if n <= 0 || count > uint64(len(b)-n) {
		return s, fmt.Errorf("%w: count", errBadState)
	}
	b = b[n:]
	s.ackIDs = make([]string, 0, count)
	for i := uint64(0); i < count; i++ {
		a, ok := str()
		if !ok {
			return s, fmt.Errorf("%w: ack id %d of %d", errBadState, i, count)
		}
		s.ackIDs = append(s.ackIDs, a)
	}
	if len(b) != 0 {
		return s, fmt.Errorf("%w: %d bytes after the last ack id", errBadState, len(b))
	}
	return s, nil
}
