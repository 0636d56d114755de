package storage

import "time"

// Checkpoint is a complete checkpoint or savepoint: its _metadata decoded
// and found consistent with its directory.
type Checkpoint struct {
	ID      int64
	Kind    Kind
	Dir     string    // directory name, e.g. "chk-7"
	Path    string    // full location of the directory, for messages and Load
	Created time.Time // when it was committed, millisecond precision, UTC
	Files   []FileInfo
	// Uses names the directories ("chk-3") of earlier checkpoints in the
	// same location whose state files this checkpoint reads, as declared
	// with Pending.Use; open them with Storage.LoadUsed. Empty for a
	// self-contained checkpoint.
	Uses    []string
	Payload []byte // the runtime's metadata, as given to Commit

	b backend // where it is stored; nil for a Checkpoint built by the caller
}

// File returns the FileInfo of the named state file.
func (c *Checkpoint) File(name string) (FileInfo, bool) {
	for _, f := range c.Files {
		if f.Name == name {
			return f, true
		}
	}
	return FileInfo{}, false
}

// Size returns the total size of the state files.
func (c *Checkpoint) Size() int64 {
	var n int64
	for _, f := range c.Files {
		n += f.Size
	}
	return n
}
