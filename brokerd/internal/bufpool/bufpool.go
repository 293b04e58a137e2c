// Package bufpool recycles large byte buffers on the request path (request
// frames, fetch read buffers, response frames), which would otherwise be a
// fresh allocation per request: garbage the collector must scan and pages
// the kernel must fault in.
//
// Buffers come in power-of-two size classes from 4 KiB to 64 MiB; larger
// requests are plain allocations and are not kept. A buffer must not be
// used after Put: callers put back only what nothing else references.
package bufpool

import (
	"math/bits"
	"sync"
)

const (
	minShift = 12 // 4 KiB
	maxShift = 26 // 64 MiB
)

// Pool is a set of per-class sync.Pools. The zero value is ready to use.
type Pool struct {
	classes [maxShift - minShift + 1]sync.Pool
}

func class(n int) int {
	if n <= 1<<minShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minShift
}

// Get returns a slice of length n. Its contents are arbitrary.
func (p *Pool) Get(n int) []byte {
	c := class(n)
	if c >= len(p.classes) {
		return make([]byte, n)
	}
	if v := p.classes[c].Get(); v != nil {
		return (*v.(*[]byte))[:n]
	}
	return make([]byte, n, 1<<(c+minShift))
}

// Put returns b to the pool. Slices that did not come from Get (capacity
// not a class size) are dropped.
func (p *Pool) Put(b []byte) {
	c := cap(b)
	if c < 1<<minShift || c&(c-1) != 0 {
		return
	}
	i := bits.Len(uint(c)) - 1 - minShift
	if i >= len(p.classes) {
		return
	}
	b = b[:0]
	p.classes[i].Put(&b)
}
