package storage

import "strconv"

// Kind says whether a directory holds a checkpoint or a savepoint.
type Kind uint8

// Kinds of checkpoint. The values are part of the _metadata format.
const (
	// KindCheckpoint is a periodic checkpoint taken by the runtime. It is
	// stored in chk-<n>/, considered by Latest and deleted by Retain.
	KindCheckpoint Kind = iota + 1
	// KindSavepoint is a checkpoint triggered by the user. It is stored in
	// savepoint-<n>-<suffix>/, restored only by explicit path (Load) and never
	// deleted by Retain.
	KindSavepoint
)

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { return k == KindCheckpoint || k == KindSavepoint }

// String returns "checkpoint" or "savepoint".
func (k Kind) String() string {
	switch k {
	case KindCheckpoint:
		return "checkpoint"
	case KindSavepoint:
		return "savepoint"
	default:
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
}
