package fetch

import "testing"

func TestByteCacheBudget(t *testing.T) {
	c := newByteCache(100)
	c.add(cacheKey{"a", 0}, make([]byte, 40))
	c.add(cacheKey{"a", 1}, make([]byte, 40))
	c.get(cacheKey{"a", 0}) // a/0 is now more recent than a/1
	c.add(cacheKey{"a", 2}, make([]byte, 40))
	if c.size() != 80 {
		t.Fatalf("size %d, want 80", c.size())
	}
	if _, ok := c.get(cacheKey{"a", 1}); ok {
		t.Fatal("least recently used item kept")
	}
	if _, ok := c.get(cacheKey{"a", 0}); !ok {
		t.Fatal("recently used item evicted")
	}
	c.add(cacheKey{"big", 0}, make([]byte, 101))
	if _, ok := c.get(cacheKey{"big", 0}); ok || c.size() != 80 {
		t.Fatalf("item above the budget cached (size %d)", c.size())
	}
	c.add(cacheKey{"a", 0}, make([]byte, 10)) // replace
	if c.size() != 50 {
		t.Fatalf("size after replace %d, want 50", c.size())
	}
}
