// Package hotmap is a map for the per-request hot path. A lookup takes no lock and writes no
// shared memory, so requests on many cores do not slow each other down, as they do on a
// sync.RWMutex (every read lock writes the mutex's reader count, a cache line all cores fight
// over). Entries carry an expiry; expired entries are swept, at most once per sweep interval, by
// the writer that notices.
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

// Set stores v under k until until, sweeping expired entries when the last sweep is older than
// the sweep interval.
func (m *Map[K, V]) Set(k K, v V, until, now time.Time) {
	m.m.Store(k, &entry[V]{v: v, until: until.UnixNano()})
	t := now.UnixNano()
	last := m.lastSweep.Load()
	if t-last < int64(m.sweepEvery) || !m.lastSweep.CompareAndSwap(last, t) {
		return
	}
	m.m.Range(func(k, e any) bool {
		if t >= e.(*entry[V]).until {
			m.m.CompareAndDelete(k, e)
		}
		return true
	})
}

// Len counts the entries held, expired or not (for tests and metrics).
func (m *Map[K, V]) Len() int {
	n := 0
	m.m.Range(func(_, _ any) bool { n++; return true })
	return n
}
