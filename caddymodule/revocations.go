package caddymodule

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/idgate/idgate/internal/hotmap"
)

// revocations is the single-instance revocation list: an in-memory view (checked on every
// request) persisted in Caddy's storage as one file per hour of expiry, so a busy site keeps at
// most lifetime/1h files (169 for the default 7 days) however many people log out, and whole
// files are deleted as their hour passes.
type revocations struct {
	view    *hotmap.Map[string, struct{}]
	storage certmagic.Storage
}

const (
	revokedPrefix = "idgate/revoked"    // one file per session (before compaction), still read
	bucketPrefix  = "idgate/revoked-by" // one file per hour of expiry: lines "<id> <until>"
)

// bucketMu serializes the read-modify-write of bucket files in this process (across reloads:
// it is package level). Storage shared by several processes uses Redis revocations instead.
var bucketMu sync.Mutex

func bucketKey(until int64) string {
	return bucketPrefix + "/" + strconv.FormatInt(until/3600+1, 10)
}

func (r revocations) Revoked(id string, now time.Time) bool {
	_, ok := r.view.Get(id, now)
	return ok
}

func (r revocations) Revoke(ctx context.Context, id string, until time.Time) error {
	now := time.Now()
	if !until.After(now) {
		return nil
	}
	r.view.Set(id, struct{}{}, until, now)
	bucketMu.Lock()
	defer bucketMu.Unlock()
	k := bucketKey(until.Unix())
	data, err := r.storage.Load(ctx, k)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("idgate: reading revocations: %w", err)
	}
	data = append(data, id+" "+strconv.FormatInt(until.Unix(), 10)+"\n"...)
	if err := r.storage.Store(ctx, k, data); err != nil {
		return fmt.Errorf("idgate: persisting revocation: %w", err)
	}
	r.sweep(ctx, now)
	return nil
}

// sweep deletes bucket files whose hour has passed. The caller holds bucketMu.
func (r revocations) sweep(ctx context.Context, now time.Time) {
	keys, err := r.storage.List(ctx, bucketPrefix, false)
	if err != nil {
		return
	}
	for _, k := range keys {
		if h, err := strconv.ParseInt(path.Base(k), 10, 64); err == nil && h*3600 <= now.Unix() {
			_ = r.storage.Delete(ctx, k)
		}
	}
}

// loadRevocations reads persisted revocations into view, deleting expired bucket files and
// moving per-session files (as earlier versions wrote them) into buckets.
func loadRevocations(st certmagic.Storage, view *hotmap.Map[string, struct{}], now time.Time) error {
	ctx := context.Background()
	bucketMu.Lock()
	defer bucketMu.Unlock()
	keys, err := st.List(ctx, bucketPrefix, false)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("idgate: listing revocations in storage: %w", err)
	}
	for _, k := range keys {
		data, err := st.Load(ctx, k)
		if err != nil {
			continue
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			id, u, ok := strings.Cut(string(line), " ")
			until, err := strconv.ParseInt(u, 10, 64)
			if ok && err == nil && until > now.Unix() {
				view.Set(id, struct{}{}, time.Unix(until, 0), now)
			}
		}
	}
	revocations{view: view, storage: st}.sweep(ctx, now)
	old, err := st.List(ctx, revokedPrefix, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("idgate: listing revocations in storage: %w", err)
	}
	moved := map[string][]byte{}
	for _, k := range old {
		data, err := st.Load(ctx, k)
		if err != nil {
			continue
		}
		until, err := strconv.ParseInt(string(data), 10, 64)
		if err == nil && until > now.Unix() {
			id := path.Base(k)
			view.Set(id, struct{}{}, time.Unix(until, 0), now)
			bk := bucketKey(until)
			moved[bk] = append(moved[bk], id+" "+strconv.FormatInt(until, 10)+"\n"...)
		}
	}
	for bk, lines := range moved {
		prev, err := st.Load(ctx, bk)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("idgate: reading revocations: %w", err)
		}
		if err := st.Store(ctx, bk, append(prev, lines...)); err != nil {
			return fmt.Errorf("idgate: compacting revocations: %w", err)
		}
	}
	for _, k := range old {
		_ = st.Delete(ctx, k)
	}
	return nil
}
