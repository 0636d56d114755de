package storage

import "github.com/sluicehq/sluice/checkpoint"

// Kind says whether a directory holds a checkpoint or a savepoint: it is
// [checkpoint.Kind]. A final checkpoint is stored as a checkpoint.
type Kind = checkpoint.Kind

// Kinds of checkpoint that storage tells apart. The values are part of the
// _metadata format.
const (
	// KindCheckpoint is a periodic (or final) checkpoint taken by the
	// runtime. It is stored in chk-<n>/, considered by Latest and deleted by
	// Retain.
	KindCheckpoint = checkpoint.KindCheckpoint
	// KindSavepoint is a checkpoint triggered by the user. It is stored in
	// savepoint-<n>-<suffix>/, restored only by explicit path (Load) and
	// never deleted by Retain.
	KindSavepoint = checkpoint.KindSavepoint
)

// storedKind reports whether k is a kind a _metadata file may hold.
func storedKind(k Kind) bool { return k == KindCheckpoint || k == KindSavepoint }
