// Package hotmap is a map for the per-request hot path. A lookup takes no lock and writes no
// shared memory, so requests on many cores do not slow each other down, as they do on a
// sync.RWMutex (every read lock writes the mutex's reader count, a cache line all cores fight
// over). Entries carry an expiry; expired entries are swept, at most once per sweep interval, in
// the background when a writer notices the interval has passed.
package hotmap

import (
	"sync"
	"sync/atomic"
	"time"
)

// Map maps K to V with an expiry per entry. The zero value is not usable; call New.
type Map[K comparable, V any] struct {
	m          sync.Map // K → *entry[V]
	sweepEvery time.Duration
	lastSweep  atomic.Int64 // unix nanoseconds
	sweeps     sync.WaitGroup
}

type entry[V any] struct {
	v     V
	until int64 // unix nanoseconds: the entry is gone from this instant
}

// New returns an empty Map that sweeps expired entries at most every sweepEvery.
func New[K comparable, V any](sweepEvery time.Duration) *Map[K, V] {
	return &Map[K, V]{sweepEvery: sweepEvery}
}

// Get returns the value under k unless it has expired at now.
func (m *Map[K, V]) Get(k K, now time.Time) (V, bool) {
	if e, ok := m.m.Load(k); ok {
		if e := e.(*entry[V]); now.UnixNano() < e.until {
			return e.v, true
		}
	}
	var zero V
	return zero, false
}

// Set stores v under k until until. When the last sweep is older than the sweep interval it
// starts one, off the caller's request.
func (m *Map[K, V]) Set(k K, v V, until, now time.Time) {
	m.m.Store(k, &entry[V]{v: v, until: until.UnixNano()})
	t := now.UnixNano()
	last := m.lastSweep.Load()
	if t-last < int64(m.sweepEvery) || !m.lastSweep.CompareAndSwap(last, t) {
		return
	}
	m.sweeps.Add(1)
	go func() {
		defer m.sweeps.Done()
		m.sweep(t)
	}()
}

// sweep drops the entries expired at t.
func (m *Map[K, V]) sweep(t int64) {
	m.m.Range(func(k, e any) bool {
		if t >= e.(*entry[V]).until {
			m.m.CompareAndDelete(k, e)
		}
		return true
	})
}

// Len counts the entries held, expired or not, once any sweep under way has finished (for tests
// and metrics).
func (m *Map[K, V]) Len() int {
	m.sweeps.Wait()
	n := 0
	m.m.Range(func(_, _ any) bool { n++; return true })
	return n
}
