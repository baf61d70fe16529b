// Package memory is the embedded ephemeral store, on go-cache. It keeps state in this process
// only: several instances need a shared store.
package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/patrickmn/go-cache"
)

// Store is an in-memory store.Ephemeral. The zero value is not usable; call New.
type Store struct {
	mu sync.Mutex
	c  *cache.Cache
}

// New returns an empty Store that sweeps expired entries every minute.
func New() *Store { return &Store{c: cache.New(cache.NoExpiration, time.Minute)} }

// Put stores val under key for ttl.
func (s *Store) Put(_ context.Context, key string, val []byte, ttl time.Duration) error {
	s.c.Set(key, append([]byte(nil), val...), ttl)
	return nil
}

// Get returns the value under key.
func (s *Store) Get(_ context.Context, key string) ([]byte, bool, error) {
	v, ok := s.c.Get(key)
	if !ok {
		return nil, false, nil
	}
	b, isBytes := v.([]byte)
	if !isBytes {
		return []byte(fmt.Sprint(v)), true, nil
	}
	return b, true, nil
}

// Take returns and deletes the value under key, atomically.
func (s *Store) Take(_ context.Context, key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.c.Get(key)
	if !ok {
		return nil, false, nil
	}
	s.c.Delete(key)
	if b, ok := v.([]byte); ok {
		return b, true, nil
	}
	return []byte(fmt.Sprint(v)), true, nil
}

// Add stores val under key if it is absent, atomically.
func (s *Store) Add(_ context.Context, key string, val []byte, ttl time.Duration) (bool, error) {
	return s.c.Add(key, append([]byte(nil), val...), ttl) == nil, nil
}

// Incr increments the counter under key, creating it at 1 with ttl; the ttl is not extended.
func (s *Store) Incr(_ context.Context, key string, ttl time.Duration) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, err := s.c.IncrementInt64(key, 1); err == nil {
		return n, nil
	}
	s.c.Set(key, int64(1), ttl)
	return 1, nil
}

// Has reports whether key is present, without copying. It never blocks on I/O, so the
// revocation view can use it on every request.
func (s *Store) Has(key string) bool {
	_, ok := s.c.Get(key)
	return ok
}
