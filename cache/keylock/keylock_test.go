package keylock

import (
	"sync"
	"testing"
)

func TestLockSerialisesAKeyAndForgetsIt(t *testing.T) {
	var s Set
	var wg sync.WaitGroup
	var counter [3]int // one slot per key: only the key's lock guards it
	for i := 0; i < 50; i++ {
		for k := uint64(0); k < 3; k++ {
			wg.Add(1)
			go func(k uint64) {
				defer wg.Done()
				unlock := s.Lock(k)
				counter[k]++ // a data race (go test -race) unless the key's lock works
				unlock()
			}(k)
		}
	}
	wg.Wait()
	for k, n := range counter {
		if n != 50 {
			t.Fatalf("key %d counted %d", k, n)
		}
	}
	if len(s.m) != 0 {
		t.Fatalf("%d keys left in the set", len(s.m))
	}
}
