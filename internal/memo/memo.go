// Package memo remembers the answers of pure functions of a string, within
// a bound: the parsers of image references run on every review, and the
// same few references come back again and again.
package memo

import "sync"

// Memo remembers up to max answers of f and forgets them all when full,
// which keeps it bounded without the bookkeeping of an LRU. It is safe for
// concurrent use; f may run more than once for a key under contention.
type Memo[V any] struct {
	mu  sync.RWMutex
	m   map[string]V
	max int
	f   func(string) V
}

// New returns a memo of f holding at most max answers.
func New[V any](max int, f func(string) V) *Memo[V] {
	return &Memo[V]{m: map[string]V{}, max: max, f: f}
}

// Get returns f(key), computed once while it is remembered.
func (m *Memo[V]) Get(key string) V {
	m.mu.RLock()
	v, ok := m.m[key]
	m.mu.RUnlock()
	if ok {
		return v
	}
	v = m.f(key)
	m.mu.Lock()
	if len(m.m) >= m.max {
		clear(m.m)
	}
	m.m[key] = v
	m.mu.Unlock()
	return v
}
