package store_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgate/idgate/internal/store"
	"github.com/idgate/idgate/internal/store/file"
	"github.com/idgate/idgate/internal/store/memory"
	"github.com/idgate/idgate/internal/store/redis"
	"github.com/idgate/idgate/internal/store/storetest"
)

var db atomic.Int64

func newRedis(t *testing.T, addr string) *redis.Store {
	s, err := redis.New(redis.Options{Address: addr, Prefix: "t" + strconv.FormatInt(db.Add(1), 10) + ":"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestEphemeralStores(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		storetest.RunEphemeral(t, func(t *testing.T) store.Ephemeral { return memory.New() })
	})
	t.Run("redis", func(t *testing.T) {
		addr, _ := storetest.Redis(t)
		storetest.RunEphemeral(t, func(t *testing.T) store.Ephemeral { return newRedis(t, addr) })
	})
}

func TestRecordStores(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		storetest.RunRecords(t, func(t *testing.T) (store.Records, func() store.Records) {
			dir := t.TempDir()
			s, _ := file.New(dir)
			return s, func() store.Records { r, _ := file.New(dir); return r }
		})
	})
	t.Run("redis", func(t *testing.T) {
		addr, _ := storetest.Redis(t)
		storetest.RunRecords(t, func(t *testing.T) (store.Records, func() store.Records) {
			s := newRedis(t, addr)
			return redis.Records{Store: s}, func() store.Records { return redis.Records{Store: s} }
		})
	})
}

func TestRedisRevocationsReachOtherInstancesAndSurviveAnOutage(t *testing.T) {
	addr, stop := storetest.Redis(t)
	a, b := newRedis(t, addr), (*redis.Store)(nil)
	b, _ = redis.New(redis.Options{Address: addr, Prefix: "t" + strconv.FormatInt(db.Load(), 10) + ":"})
	defer b.Close()
	ra, rb := redis.NewRevocations(a, 200*time.Millisecond), redis.NewRevocations(b, 200*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go rb.Run(ctx)
	time.Sleep(100 * time.Millisecond)
	if err := ra.Revoke(ctx, "s1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !rb.Revoked("s1", time.Now()) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !rb.Revoked("s1", time.Now()) {
		t.Fatal("revocation did not reach the other instance")
	}
	// Redis goes away: the local view keeps answering (no network on the hot path); revoking
	// fails with ErrUnavailable.
	stop()
	if !rb.Revoked("s1", time.Now()) || rb.Revoked("s2", time.Now()) {
		t.Fatal("local view changed while Redis was down")
	}
	if err := ra.Revoke(ctx, "s3", time.Now().Add(time.Hour)); err == nil {
		t.Fatal("revoke succeeded with Redis down")
	}
	if _, _, err := a.Get(ctx, "k"); err == nil {
		t.Fatal("get succeeded with Redis down")
	}
	storetest.RestartRedis(t, addr)
	time.Sleep(300 * time.Millisecond)
	if err := a.Put(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatalf("no recovery after Redis returned: %v", err)
	}
}
