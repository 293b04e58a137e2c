package fetch

import (
	"math"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// cacheKey names a cached item: chunk n of an object, or (chunk -1) a
// whole index object.
type cacheKey struct {
	object string
	chunk  int64
}

// byteCache is an LRU bounded by the total size of its values.
type byteCache struct {
	mu     sync.Mutex
	lru    *simplelru.LRU[cacheKey, []byte] // guarded by mu
	bytes  int64                            // guarded by mu; sum of len(values)
	budget int64
}

func newByteCache(budget int64) *byteCache {
	c := &byteCache{budget: budget}
	// The entry count is unbounded; the byte budget evicts.
	l, err := simplelru.NewLRU[cacheKey, []byte](math.MaxInt32, func(_ cacheKey, v []byte) {
		c.bytes -= int64(len(v))
	})
	if err != nil {
		panic(err) // only for a non-positive size, which MaxInt32 is not
	}
	c.lru = l
	return c
}

func (c *byteCache) get(k cacheKey) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Get(k)
}

// add caches v unless it alone exceeds the budget, evicting the least
// recently used items to stay within it. v must not be modified later.
func (c *byteCache) add(k cacheKey, v []byte) {
	if int64(len(v)) > c.budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.lru.Peek(k); ok {
		c.bytes -= int64(len(old))
	}
	c.lru.Add(k, v)
	c.bytes += int64(len(v))
	for c.bytes > c.budget {
		c.lru.RemoveOldest()
	}
}

func (c *byteCache) size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}
