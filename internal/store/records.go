package store

import (
	"context"
	"time"

	"github.com/idgate/idgate/internal/identity"
)

// Record is what idgate keeps per subject across devices and restarts: the latest verification
// of each kind, the keyed hash of the person's CI, and the verified personal data some policy
// forwards (nothing else).
type Record struct {
	Subject  string                  `json:"sub"`
	Verified []identity.Verification `json:"verified,omitempty"`
	CIHash   string                  `json:"ci_hash,omitempty"`
	Claims   map[string]string       `json:"claims,omitempty"`
	// Contacts are where one-time codes go (email, phone), kept only when that MFA channel is on.
	Contacts map[string]string `json:"contacts,omitempty"`
	// TOTP is the authenticator-app enrollment, if any.
	TOTP    *TOTP     `json:"totp,omitempty"`
	Updated time.Time `json:"updated"`
}

// TOTP is an authenticator enrollment. Secret is sealed (encrypted) with a key the caller keeps;
// Recovery holds SHA-256 hashes of the unused recovery codes.
type TOTP struct {
	Secret    []byte    `json:"secret"`
	Confirmed bool      `json:"confirmed"`
	LastStep  int64     `json:"last_step"`
	Recovery  []string  `json:"recovery,omitempty"`
	Created   time.Time `json:"created"`
}

// Records is the durable verification record store.
type Records interface {
	// Get returns the record of subject, or nil without error when there is none.
	Get(ctx context.Context, subject string) (*Record, error)
	// Update changes the record of subject atomically: fn gets a copy of the current record (a
	// new one with only Subject set when there is none) and changes it; what it leaves is
	// written durably before Update returns it. Concurrent Updates of one subject never lose a
	// change (no last-writer-wins): each sees the other's result. When fn returns an error,
	// nothing is written and Update returns that error. fn may run more than once.
	Update(ctx context.Context, subject string, fn func(r *Record) error) (*Record, error)
	// LinkCI records that subject verified with CI hash ci and returns every subject linked to it.
	LinkCI(ctx context.Context, ci, subject string) ([]string, error)
}
