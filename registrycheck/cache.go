package registrycheck

import (
	"container/list"
	"sync"
	"time"
)

// ttlCache is a size-bounded cache whose entries expire: least recently
// used entries go first when it is full. It is safe for concurrent use.
type ttlCache[V any] struct {
	mu    sync.Mutex
	max   int
	now   func() time.Time
	order *list.List // front = most recently used; values are *cacheEntry[V]
	items map[string]*list.Element
}

type cacheEntry[V any] struct {
	key     string
	value   V
	expires time.Time
	stored  time.Time
}

func newTTLCache[V any](max int, now func() time.Time) *ttlCache[V] {
	return &ttlCache[V]{max: max, now: now, order: list.New(), items: map[string]*list.Element{}}
}

func (c *ttlCache[V]) get(key string) (V, bool) {
	v, _, ok := c.getSince(key, time.Time{})
	return v, ok
}

// getSince is get of an entry stored at since or later (an older one is
// a miss, and stays for callers without since) that also says when the
// entry expires.
func (c *ttlCache[V]) getSince(key string, since time.Time) (V, time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	el, ok := c.items[key]
	if !ok {
		return zero, time.Time{}, false
	}
	e := el.Value.(*cacheEntry[V])
	if !c.now().Before(e.expires) {
		c.order.Remove(el)
		delete(c.items, key)
		return zero, time.Time{}, false
	}
	if e.stored.Before(since) {
		return zero, time.Time{}, false
	}
	c.order.MoveToFront(el)
	return e.value, e.expires, true
}

func (c *ttlCache[V]) put(key string, v V, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		e := el.Value.(*cacheEntry[V])
		e.value, e.stored, e.expires = v, c.now(), c.now().Add(ttl)
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(&cacheEntry[V]{key: key, value: v, stored: c.now(), expires: c.now().Add(ttl)})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*cacheEntry[V]).key)
	}
}

func (c *ttlCache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
