package sluicetest

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer that a job's goroutines may write to while a
// test reads it: give it to a logger (slog.NewTextHandler(buf, nil)) or
// use it as a command's output.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
