// Package storagetest helps test code that uses checkpoint storage: an FS
// wrapper that calls a hook before every file operation, to record the
// operations (golden traces of create/sync/rename order) or to inject faults
// (a failing fsync or rename), in the style of pebble's vfs/errorfs.
//
// It sits beside package storage (checkpoint/storage) and is meant for
// tests only.
package storagetest
