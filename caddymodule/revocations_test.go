package caddymodule

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/idgate/idgate/internal/hotmap"
)

func TestRevocationsAreCompactedAndSwept(t *testing.T) {
	st := &certmagic.FileStorage{Path: t.TempDir()}
	ctx := context.Background()
	now := time.Now()
	// A session file as earlier versions wrote it is moved into a bucket on load.
	st.Store(ctx, revokedPrefix+"/legacy-id", []byte(strconv.FormatInt(now.Add(time.Hour).Unix(), 10)))
	r := revocations{view: hotmap.New[string, struct{}](time.Minute), storage: st}
	if err := loadRevocations(st, r.view, now); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		if err := r.Revoke(ctx, fmt.Sprintf("id-%d", i), now.Add(time.Duration(i)*10*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := st.List(ctx, bucketPrefix, false)
	if len(files) > 5 {
		t.Fatalf("invariant 12: a thousand logouts over three hours left %d files", len(files))
	}
	if old, _ := st.List(ctx, revokedPrefix, false); len(old) != 0 {
		t.Fatalf("per-session files left: %v", old)
	}
	again := hotmap.New[string, struct{}](time.Minute)
	if err := loadRevocations(st, again, now); err != nil {
		t.Fatal(err)
	}
	if _, ok := again.Get("legacy-id", now); !ok {
		t.Fatal("invariant 8: a migrated revocation is not in its bucket")
	}
	// A restart sees every revocation still in force, and none that expired.
	fresh := hotmap.New[string, struct{}](time.Minute)
	later := now.Add(90 * time.Minute)
	if err := loadRevocations(st, fresh, later); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 1000; i++ {
		until := now.Add(time.Duration(i) * 10 * time.Second)
		if _, ok := fresh.Get(fmt.Sprintf("id-%d", i), later); ok != until.After(later) {
			t.Fatalf("invariant 8: id-%d (until %v) revoked=%v after restart at %v", i, until, ok, later)
		}
	}
	if _, ok := r.view.Get("legacy-id", now); !ok {
		t.Fatal("invariant 8: a migrated revocation was lost")
	}
	// Buckets whose hour has passed are deleted.
	if left, _ := st.List(ctx, bucketPrefix, false); len(left) >= len(files) {
		t.Fatalf("expired buckets were not swept: %d of %d left", len(left), len(files))
	}
}
