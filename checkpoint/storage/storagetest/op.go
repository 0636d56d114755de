package storagetest

import (
	"fmt"
	"path/filepath"
	"strings"
)

// OpKind is the kind of a file operation.
type OpKind uint8

// Operations of storage.FS and storage.File.
const (
	OpCreate OpKind = iota + 1
	OpOpen
	OpRename
	OpRemove
	OpRemoveAll
	OpMkdirAll
	OpList
	OpStat
	OpSyncDir
	OpRead
	OpWrite
	OpSync
	OpClose
)

var opNames = [...]string{
	OpCreate: "create", OpOpen: "open", OpRename: "rename", OpRemove: "remove",
	OpRemoveAll: "removeall", OpMkdirAll: "mkdirall", OpList: "list", OpStat: "stat",
	OpSyncDir: "syncdir", OpRead: "read", OpWrite: "write", OpSync: "sync", OpClose: "close",
}

// String returns the operation's name as in traces, e.g. "syncdir".
func (k OpKind) String() string {
	if int(k) < len(opNames) && opNames[k] != "" {
		return opNames[k]
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// Op is one file operation about to be performed.
type Op struct {
	Kind    OpKind
	Path    string // the file or directory operated on
	NewPath string // OpRename: the new name
	N       int    // OpRead, OpWrite: the length of the buffer
}

// String formats op as one trace line, e.g. "rename /a/x.tmp /a/x" or
// "write /a/f 12".
func (op Op) String() string { return op.format("") }

// format formats op with paths relative to root, if root is not empty.
func (op Op) format(root string) string {
	rel := func(p string) string {
		if root == "" {
			return p
		}
		if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
			return filepath.ToSlash(r)
		}
		return p
	}
	switch op.Kind {
	case OpRename:
		return fmt.Sprintf("%s %s %s", op.Kind, rel(op.Path), rel(op.NewPath))
	case OpRead, OpWrite:
		return fmt.Sprintf("%s %s %d", op.Kind, rel(op.Path), op.N)
	default:
		return fmt.Sprintf("%s %s", op.Kind, rel(op.Path))
	}
}
