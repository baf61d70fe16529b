package hotmap

import (
	"fmt"
	"testing"
	"time"
)

func TestGetHonoursExpiry(t *testing.T) {
	m := New[string, int](time.Minute)
	now := time.Unix(1_800_000_000, 0)
	m.Set("a", 1, now.Add(time.Second), now)
	if v, ok := m.Get("a", now); !ok || v != 1 {
		t.Fatalf("Get before expiry = %v %v", v, ok)
	}
	if _, ok := m.Get("a", now.Add(time.Second)); ok {
		t.Fatal("Get at the expiry instant found the entry")
	}
	if _, ok := m.Get("b", now); ok {
		t.Fatal("Get of a missing key found something")
	}
	m.Set("a", 2, now.Add(time.Hour), now)
	if v, _ := m.Get("a", now.Add(time.Minute)); v != 2 {
		t.Fatalf("Set did not replace: %v", v)
	}
}

func TestSweepDropsOnlyExpiredEntriesAtMostOncePerInterval(t *testing.T) {
	m := New[string, int](time.Minute)
	now := time.Unix(1_800_000_000, 0)
	m.Set("first", 0, now.Add(time.Hour), now) // sweeps (nothing yet) and starts the interval
	for i := 0; i < 100; i++ {
		m.Set(fmt.Sprint(i), i, now.Add(10*time.Second), now)
	}
	later := now.Add(30 * time.Second)
	m.Set("x", 0, later.Add(time.Hour), later)
	if n := m.Len(); n != 102 {
		t.Fatalf("swept within the interval: %d entries, want 102", n)
	}
	later = now.Add(2 * time.Minute)
	m.Set("y", 0, later.Add(time.Hour), later)
	if n := m.Len(); n != 3 {
		t.Fatalf("after the interval %d entries remain, want the 3 unexpired", n)
	}
}

func BenchmarkGetParallel(b *testing.B) {
	m := New[string, int](time.Minute)
	now := time.Now()
	m.Set("session", 1, now.Add(time.Hour), now)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := m.Get("session", now); !ok {
				b.Fatal("miss")
			}
		}
	})
}
