package memory

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestTakeIsSingleUseUnderConcurrency(t *testing.T) {
	s := New()
	ctx := context.Background()
	for round := 0; round < 50; round++ {
		s.Put(ctx, "state:x", []byte("v"), time.Minute)
		var won atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if v, ok, _ := s.Take(ctx, "state:x"); ok && string(v) == "v" {
					won.Add(1)
				}
			}()
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("round %d: %d takers got the value", round, won.Load())
		}
	}
}

func TestExpiryAndCopies(t *testing.T) {
	s := New()
	ctx := context.Background()
	val := []byte("abc")
	s.Put(ctx, "k", val, 50*time.Millisecond)
	val[0] = 'X'
	if v, ok, _ := s.Get(ctx, "k"); !ok || string(v) != "abc" {
		t.Fatalf("stored value aliased the caller's slice: %q", v)
	}
	if !s.Has("k") {
		t.Fatal("Has")
	}
	time.Sleep(100 * time.Millisecond)
	if _, ok, _ := s.Get(ctx, "k"); ok || s.Has("k") {
		t.Fatal("expired value still there")
	}
	if _, ok, _ := s.Take(ctx, "k"); ok {
		t.Fatal("expired value taken")
	}
}

func TestAddAndIncr(t *testing.T) {
	s := New()
	ctx := context.Background()
	if ok, _ := s.Add(ctx, "k", []byte("a"), time.Minute); !ok {
		t.Fatal("first Add refused")
	}
	if ok, _ := s.Add(ctx, "k", []byte("b"), time.Minute); ok {
		t.Fatal("second Add accepted")
	}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); s.Incr(ctx, "n", time.Minute) }()
	}
	wg.Wait()
	if n, _ := s.Incr(ctx, "n", time.Minute); n != 51 {
		t.Fatalf("counter = %d", n)
	}
	s.Incr(ctx, "short", 50*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	if n, _ := s.Incr(ctx, "short", time.Minute); n != 1 {
		t.Fatalf("expired counter continued at %d", n)
	}
}
