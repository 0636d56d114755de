package state

import "errors"

var (
	// ErrKeyGroupOutOfRange is returned by SetCurrentKey for a key whose key
	// group is not owned by the backend. It means records were routed to the
	// wrong subtask: an engine bug, not a user error.
	ErrKeyGroupOutOfRange = errors.New("state: key group out of range")

	// ErrStateMismatch is returned when a state is registered under a name
	// already used with another kind (value, list, map, timers) or another
	// value type, and when a restored state has a different kind.
	ErrStateMismatch = errors.New("state: state registered with another kind or type")

	// ErrCorrupt is returned when a snapshot or an encoded value cannot be
	// decoded: bad magic, checksum mismatch, truncation, malformed entries.
	// The wrapping error names the state and key group where it can.
	ErrCorrupt = errors.New("state: corrupt data")

	// ErrIncompatible is returned by Restore for a well-formed snapshot that
	// this backend cannot take: an unknown format version or a different
	// max parallelism.
	ErrIncompatible = errors.New("state: incompatible snapshot")

	// ErrDuplicateKeyGroup is returned by Restore when a key group of a state
	// was already restored from another file.
	ErrDuplicateKeyGroup = errors.New("state: key group restored twice")

	// ErrSnapshotReleased is returned by Snapshot.WriteTo once Release has
	// been called, and when WriteTo is called a second time (writing
	// releases the key groups it has written).
	ErrSnapshotReleased = errors.New("state: snapshot released")
)
