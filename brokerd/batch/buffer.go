package batch

import "sync"

// maxPooledBuffer keeps one pathological batch from pinning a huge buffer
// in the pool for the life of the process.
const maxPooledBuffer = 8 << 20

// bufferPool holds scratch buffers for decompressed records whose lifetime
// ends with the call (ForEachRecord, Validate).
var bufferPool = sync.Pool{New: func() any { return new([]byte) }}

func getBuffer() *[]byte { return bufferPool.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) > maxPooledBuffer {
		return
	}
	*b = (*b)[:0]
	bufferPool.Put(b)
}
