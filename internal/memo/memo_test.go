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
	for i := range 10 {
		m.Get(fmt.Sprint("key", i))
		if m.Len() > 3 {
			t.Fatalf("%d answers held, bound 3", m.Len())
		}
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
