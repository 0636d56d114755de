package storage

import "errors"

// Sentinel errors. Errors returned by this package wrap them (test with
// errors.Is) and add the location and the reason.
var (
	// ErrNotFound is returned when a checkpoint directory does not exist,
	// when OpenFile is asked for a file the checkpoint's metadata does not
	// list, or when LoadUsed is asked for a checkpoint the checkpoint does
	// not use.
	ErrNotFound = errors.New("not found")

	// ErrIncomplete is returned by Load for a checkpoint directory that has
	// no _metadata: a checkpoint still being written, or one whose writer
	// failed or crashed before it completed. Skipped entries of Latest wrap
	// it for the same reason.
	ErrIncomplete = errors.New("checkpoint incomplete")

	// ErrCorrupt is returned when stored data fails validation: _metadata
	// whose magic, checksum or encoding is wrong or that does not match its
	// directory; a state file listed in _metadata that is missing or has
	// another size; a state file whose size or CRC-32C do not match its
	// metadata when read to the end through OpenFile or by Verify; a
	// checkpoint used by another (LoadUsed, Verify) that is missing,
	// partial or corrupt.
	ErrCorrupt = errors.New("checkpoint corrupt")

	// ErrUnsupportedVersion is returned when _metadata is intact but was
	// written in a newer format version than this build of sluice reads.
	// Upgrade sluice to restore that checkpoint.
	ErrUnsupportedVersion = errors.New("unsupported checkpoint metadata version")

	// ErrExists is returned by Begin when the checkpoint directory already
	// holds a complete checkpoint, is pending in this Storage, or is being
	// deleted by Retain.
	ErrExists = errors.New("checkpoint already exists")

	// ErrAborted is returned by FileWriter methods and Create after the
	// Pending was aborted.
	ErrAborted = errors.New("checkpoint aborted")
)
