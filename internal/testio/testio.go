// Package testio holds what tests use to capture output.
package testio

import (
	"bytes"
	"sync"
)

// Buffer collects writes from several goroutines (zerolog's, a run's), as a process's standard streams do.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
