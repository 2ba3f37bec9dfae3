package registrycheck

import "sync"

// memo remembers the answers of a pure function of a string, so that the
// same image reference is not parsed again on every review: parsing is the
// larger part of a review's cost when every lookup is a cache hit. It holds
// at most max answers and forgets them all when full, which keeps it
// bounded without the bookkeeping of an LRU.
type memo[V any] struct {
	mu  sync.RWMutex
	m   map[string]V
	max int
	f   func(string) V
}

func newMemo[V any](max int, f func(string) V) *memo[V] {
	return &memo[V]{m: map[string]V{}, max: max, f: f}
}

func (m *memo[V]) get(key string) V {
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
