// Package file is the embedded durable record store: one JSON file per subject under a directory
// (by default under Caddy's data directory), written atomically (temporary file, fsync, rename,
// directory fsync) so a crash leaves either the old or the new record, and read through a cache.
package file

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/idgate/idgate/internal/store"
	"github.com/patrickmn/go-cache"
)

// Store keeps records in dir/records and CI links in dir/ci. File names are hashes, so no subject
// or CI hash appears in a directory listing.
type Store struct {
	dir   string
	mu    sync.Mutex // CI link files
	locks [64]sync.Mutex
	cache *cache.Cache
}

// New opens (creating) a store under dir.
func New(dir string) (*Store, error) {
	for _, sub := range []string{"records", "ci"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("file store: %w", err)
		}
	}
	return &Store{dir: dir, cache: cache.New(10*time.Minute, 10*time.Minute)}, nil
}

func name(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16]) + ".json"
}

type missing struct{}

// Get returns the record of subject, or nil.
func (s *Store) Get(_ context.Context, subject string) (*store.Record, error) {
	if v, ok := s.cache.Get(subject); ok {
		if r, ok := v.(*store.Record); ok {
			return clone(r), nil
		}
		return nil, nil
	}
	data, err := os.ReadFile(filepath.Join(s.dir, "records", name(subject)))
	if errors.Is(err, fs.ErrNotExist) {
		s.cache.SetDefault(subject, missing{})
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("file store: %w: %w", store.ErrUnavailable, err)
	}
	var r store.Record
	if err := json.Unmarshal(data, &r); err != nil || r.Subject != subject {
		return nil, fmt.Errorf("file store: record for a subject is corrupt")
	}
	s.cache.SetDefault(subject, &r)
	return clone(&r), nil
}

func clone(r *store.Record) *store.Record {
	c := *r
	c.Verified = append(c.Verified[:0:0], r.Verified...)
	c.Claims = copyMap(r.Claims)
	c.Contacts = copyMap(r.Contacts)
	if r.TOTP != nil {
		t := *r.TOTP
		t.Secret = append([]byte(nil), r.TOTP.Secret...)
		t.Recovery = append([]string(nil), r.TOTP.Recovery...)
		c.TOTP = &t
	}
	return &c
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Put writes the record atomically and durably.
func (s *Store) Put(_ context.Context, r *store.Record) error {
	l := s.lock(r.Subject)
	l.Lock()
	defer l.Unlock()
	return s.put(r)
}

func (s *Store) put(r *store.Record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("file store: %w", err)
	}
	if err := writeAtomic(filepath.Join(s.dir, "records"), name(r.Subject), data); err != nil {
		return err
	}
	s.cache.SetDefault(r.Subject, clone(r))
	return nil
}

// lock returns the lock of subject's stripe: read-modify-writes of one subject are serialized.
func (s *Store) lock(subject string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(subject))
	return &s.locks[h.Sum32()%uint32(len(s.locks))]
}

// Update changes the record of subject under its lock (see store.Records).
func (s *Store) Update(ctx context.Context, subject string, fn func(*store.Record) error) (*store.Record, error) {
	l := s.lock(subject)
	l.Lock()
	defer l.Unlock()
	r, err := s.Get(ctx, subject)
	if err != nil {
		return nil, err
	}
	if r == nil {
		r = &store.Record{Subject: subject}
	}
	if err := fn(r); err != nil {
		return nil, err
	}
	r.Subject = subject
	if err := s.put(r); err != nil {
		return nil, err
	}
	return clone(r), nil
}

// LinkCI adds subject to the CI link file of ci and returns the linked subjects, sorted.
func (s *Store) LinkCI(_ context.Context, ci, subject string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := filepath.Join(s.dir, "ci")
	var subjects []string
	data, err := os.ReadFile(filepath.Join(dir, name(ci)))
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &subjects); err != nil {
			return nil, fmt.Errorf("file store: CI link file is corrupt")
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("file store: %w: %w", store.ErrUnavailable, err)
	}
	for _, x := range subjects {
		if x == subject {
			return subjects, nil
		}
	}
	subjects = append(subjects, subject)
	sort.Strings(subjects)
	out, _ := json.Marshal(subjects)
	if err := writeAtomic(dir, name(ci), out); err != nil {
		return nil, err
	}
	return subjects, nil
}

// writeAtomic writes data to dir/file through a temporary file, fsync and rename.
func writeAtomic(dir, file string, data []byte) error {
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("file store: %w: %w", store.ErrUnavailable, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("file store: %w: %w", store.ErrUnavailable, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("file store: %w: %w", store.ErrUnavailable, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("file store: %w: %w", store.ErrUnavailable, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, file)); err != nil {
		return fmt.Errorf("file store: %w: %w", store.ErrUnavailable, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
