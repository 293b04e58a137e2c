package bufpool

import "testing"

func TestGetSizesAndReuse(t *testing.T) {
	var p Pool
	for _, n := range []int{0, 1, 4096, 4097, 1 << 20, 3<<20 + 5} {
		b := p.Get(n)
		if len(b) != n || cap(b) < n || cap(b)&(cap(b)-1) != 0 {
			t.Fatalf("Get(%d): len %d cap %d", n, len(b), cap(b))
		}
	}
	b := p.Get(5000)
	b[0] = 42
	p.Put(b)
	c := p.Get(6000) // same 8 KiB class
	if cap(c) != 8192 {
		t.Fatalf("cap %d", cap(c))
	}
	big := p.Get(100 << 20) // above the largest class: plain allocation
	if len(big) != 100<<20 {
		t.Fatal("big get")
	}
	p.Put(big)               // dropped, not kept
	p.Put(make([]byte, 100)) // foreign slice dropped
}

func BenchmarkGetPut(b *testing.B) {
	var p Pool
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.Put(p.Get(1 << 20))
	}
}
