package loop

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A burst of scenarios asking for the cluster's state while one read is
// under way shares it, however long the read takes: at most two reads for
// the burst (the one under way when some asked, and one begun after every
// one of them asked). The read here takes longer than the freshness the
// callers ask for, as the list of every pod and node did on a loaded
// machine; stop 29's shared snapshot then read once per caller, one after
// another.
func TestSharedReadServesABurstWithAtMostTwoReads(t *testing.T) {
	const callers, fresh, readTime = 30, 100 * time.Millisecond, 150 * time.Millisecond
	var s shared[int]
	var reads atomic.Int32
	read := func(context.Context) (int, error) {
		n := reads.Add(1)
		time.Sleep(readTime)
		return int(n), nil
	}
	var wg sync.WaitGroup
	got := make([]int, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := s.get(context.Background(), fresh, read)
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		}()
	}
	wg.Wait()
	if n := reads.Load(); n > 2 {
		t.Errorf("%d callers at once caused %d reads of %v each, want at most 2", callers, n, readTime)
	}
	for i, v := range got {
		if v == 0 {
			t.Errorf("caller %d got no state", i)
		}
	}
}

// A caller that asks after a read ended gets it while it is fresh, and a
// new read once it is not; a failed read replaces nothing.
func TestSharedReadFreshness(t *testing.T) {
	var s shared[int]
	n := 0
	fail := false
	read := func(context.Context) (int, error) {
		if fail {
			return 0, context.DeadlineExceeded
		}
		n++
		return n, nil
	}
	get := func(fresh time.Duration) int {
		v, err := s.get(context.Background(), fresh, read)
		if err != nil {
			return -1
		}
		return v
	}
	if v := get(time.Hour); v != 1 {
		t.Fatalf("first read: got %d, want 1", v)
	}
	if v := get(time.Hour); v != 1 {
		t.Errorf("within freshness: got %d, want the first read's 1", v)
	}
	fail = true
	if v := get(0); v != -1 {
		t.Errorf("a stale state with a failing read: got %d, want the error", v)
	}
	fail = false
	if v := get(time.Hour); v != 1 {
		t.Errorf("after a failed read: got %d, want the last good read's 1", v)
	}
	if v := get(0); v != 2 {
		t.Errorf("after the failure: got %d, want a new read's 2", v)
	}
}
