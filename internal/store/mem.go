package store

import (
	"bytes"
	"sync"
)

// Mem is an in-memory Store for tests. The zero value is ready to use.
type Mem struct {
	mu     sync.Mutex
	m      map[string][]byte // guarded by mu
	writes int               // guarded by mu
}

var _ Store = (*Mem)(nil)

// ReadState implements Store.
func (s *Mem) ReadState(key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return nil, ErrNotExist
	}
	return bytes.Clone(v), nil
}

// WriteState implements Store.
func (s *Mem) WriteState(key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[key]; ok && bytes.Equal(old, value) {
		return nil
	}
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[key] = bytes.Clone(value)
	s.writes++
	return nil
}

// DeleteState implements Store.
func (s *Mem) DeleteState(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

// Writes counts the writes that changed a value (tests use it to see that
// unchanged values are skipped).
func (s *Mem) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}
