package storage

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Names inside a checkpoint directory reserved by this package.
const (
	// MetadataName is the name of the metadata file of a checkpoint
	// directory. Its presence (and validity) makes the checkpoint complete.
	MetadataName = "_metadata"
	// tempSuffix marks the file the local backend writes before the rename
	// that publishes it (_metadata.tmp).
	tempSuffix = ".tmp"
)

const (
	// deletingPrefix marks a checkpoint directory that Retain renamed to
	// delete it (".deleting-chk-7"): no layout name starts with '.', so
	// Latest, List and Load never see it, whatever is left of it.
	deletingPrefix   = ".deleting-"
	checkpointPrefix = "chk-"
	savepointPrefix  = "savepoint-"
	savepointSuffix  = 6 // hex digits of the random savepoint suffix
	maxNameLen       = 255
)

// checkpointDir returns the directory name of checkpoint id.
func checkpointDir(id int64) string {
	return checkpointPrefix + strconv.FormatInt(id, 10)
}

// savepointDir returns a new directory name for savepoint id with a random
// suffix.
func savepointDir(id int64) (string, error) {
	var b [savepointSuffix / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("savepoint suffix: %w", err)
	}
	return savepointPrefix + strconv.FormatInt(id, 10) + "-" + hex.EncodeToString(b[:]), nil
}

// parseDir parses a directory name of the layout. ok is false for any other
// name, including non-canonical numbers such as chk-007.
func parseDir(name string) (id int64, kind Kind, ok bool) {
	switch {
	case strings.HasPrefix(name, checkpointPrefix):
		id, ok = parseID(name[len(checkpointPrefix):])
		return id, KindCheckpoint, ok
	case strings.HasPrefix(name, savepointPrefix):
		rest := name[len(savepointPrefix):]
		i := strings.LastIndexByte(rest, '-')
		if i < 0 || len(rest)-i-1 != savepointSuffix || !isLowerHex(rest[i+1:]) {
			return 0, 0, false
		}
		id, ok = parseID(rest[:i])
		return id, KindSavepoint, ok
	}
	return 0, 0, false
}

// parseID parses a non-negative decimal id written without padding or sign.
func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 0 || strconv.FormatInt(id, 10) != s {
		return 0, false
	}
	return id, true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ValidateFileName reports whether name may be used for a state file: 1 to
// 255 bytes of ASCII letters, digits, '.', '_' and '-', not starting with
// '.' or '_' (reserved for this package's own files). The same rule holds on
// every backend, so a checkpoint can be copied between them.
func ValidateFileName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("state file name %q: must be 1 to %d bytes long", name, maxNameLen)
	}
	if name[0] == '.' || name[0] == '_' {
		return fmt.Errorf("state file name %q: must not start with '.' or '_'", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return fmt.Errorf("state file name %q: byte %q not allowed (use letters, digits, '.', '_', '-')", name, c)
		}
	}
	return nil
}
