// Package store defines the ephemeral state idgate keeps server-side (OAuth states, revocations)
// and the errors its implementations share. Implementations live in subpackages.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrUnavailable wraps failures of a store that could not be reached. Callers fail closed.
var ErrUnavailable = errors.New("store: unavailable")

// Ephemeral is short-lived key/value state with expiry.
//
// Take MUST be atomic: of two concurrent Takes of one key, at most one gets the value. That is
// what makes OAuth states and verification ids single use.
type Ephemeral interface {
	Put(ctx context.Context, key string, val []byte, ttl time.Duration) error
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Take(ctx context.Context, key string) ([]byte, bool, error)
	// Add stores val only if key is absent and reports whether it did, atomically.
	Add(ctx context.Context, key string, val []byte, ttl time.Duration) (bool, error)
	// Incr adds one to the counter under key (created at 1 with ttl) and returns the new value.
	Incr(ctx context.Context, key string, ttl time.Duration) (int64, error)
}
