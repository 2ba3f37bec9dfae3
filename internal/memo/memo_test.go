package memo

import (
	"fmt"
	"sync"
	"testing"
)

func TestMemoRemembersWithinItsBound(t *testing.T) {
	calls := map[string]int{}
	var mu sync.Mutex
	m := New(3, func(s string) int {
		mu.Lock()
		calls[s]++
		mu.Unlock()
		return len(s)
	})
	for range 5 {
		if got := m.Get("abc"); got != 3 {
			t.Fatalf("Get(abc) = %d", got)
		}
	}
	if calls["abc"] != 1 {
		t.Errorf("f ran %d times for one key", calls["abc"])
	}
	// Three more keys fill it past its bound: it starts over, and abc is
	// computed again.
	for i := range 3 {
		m.Get(fmt.Sprint("key", i))
	}
	m.Get("abc")
	if calls["abc"] != 2 {
		t.Errorf("f ran %d times for abc after the memo filled up, want 2 (forgotten once)", calls["abc"])
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				if got, want := m.Get(fmt.Sprint(i, j)), len(fmt.Sprint(i, j)); got != want {
					t.Errorf("Get = %d, want %d", got, want)
				}
			}
		}()
	}
	wg.Wait()
}
