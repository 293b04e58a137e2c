package fetch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/tiering/objstore"
	"github.com/kafki/kafki/tiering/remote"
)

// Errors of the reader, wrapped with detail; test with errors.Is.
var (
	// ErrOffsetOutOfRange: no finished remote segment holds the offset.
	ErrOffsetOutOfRange = errors.New("fetch: offset not in the remote tier")
	// ErrCorrupt: remote data does not parse or contradicts its metadata.
	ErrCorrupt = errors.New("fetch: corrupt remote segment")
	// ErrClosed: the reader was closed.
	ErrClosed = errors.New("fetch: reader closed")
)

// Defaults of Options.
const (
	DefaultCacheBytes    = 64 << 20
	DefaultChunkSize     = 1 << 20
	DefaultMaxConcurrent = 8
	DefaultReadAhead     = 2
)

// Options tune a Reader; zero values mean the defaults.
type Options struct {
	// CacheBytes bounds the memory of cached chunks and indexes.
	CacheBytes int64
	// ChunkSize is the unit of ranged GETs and of caching.
	ChunkSize int64
	// MaxConcurrent bounds concurrent object-store requests.
	MaxConcurrent int
	// ReadAhead is how many chunks to prefetch for a sequential reader;
	// negative disables read-ahead.
	ReadAhead int
}

// Stats are cumulative counters of a Reader.
type Stats struct {
	// Hits and Misses count chunk and index lookups served from / not
	// from the cache; a read looks up each chunk it touches once.
	Hits, Misses int64
	Fetches      int64 // object-store GETs issued (demand and read-ahead)
	FetchedBytes int64
	CachedBytes  int64 // current cache size
}

// Result is what Read returns.
type Result struct {
	// Records holds whole batches; the slice is the caller's.
	Records []byte
	// NextOffset is the offset after the last returned batch: where the
	// next read continues (possibly in the next segment or the local log).
	NextOffset int64
}

// Reader serves reads from the remote tier. It is safe for concurrent
// use; Close stops its read-ahead.
type Reader struct {
	store objstore.Store
	meta  remote.Store
	opts  Options
	cache *byteCache
	sem   chan struct{} // one token per running object-store request

	flightsMu sync.Mutex
	flights   map[cacheKey]*flight // guarded by flightsMu

	seqMu   sync.Mutex
	lastEnd map[string]int64 // guarded by seqMu; object → chunk after the last read's end

	bg       context.Context // read-ahead context, ended by Close
	stop     context.CancelFunc
	prefetch sync.WaitGroup

	hits, misses, fetches, fetchedBytes atomic.Int64
}

// flight is one GET in progress; waiters block on done.
type flight struct {
	done chan struct{}
	data []byte
	err  error
}

// NewReader returns a reader of the objects in store described by meta.
func NewReader(store objstore.Store, meta remote.Store, opts Options) *Reader {
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = DefaultCacheBytes
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = DefaultChunkSize
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = DefaultMaxConcurrent
	}
	if opts.ReadAhead == 0 {
		opts.ReadAhead = DefaultReadAhead
	}
	bg, stop := context.WithCancel(context.Background())
	return &Reader{
		store: store, meta: meta, opts: opts,
		cache:   newByteCache(opts.CacheBytes),
		sem:     make(chan struct{}, opts.MaxConcurrent),
		flights: map[cacheKey]*flight{},
		lastEnd: map[string]int64{},
		bg:      bg, stop: stop,
	}
}

// Close stops read-ahead and waits for it. Reads after Close fail.
func (r *Reader) Close() error {
	r.stop()
	r.prefetch.Wait()
	return nil
}

// Stats returns the reader's counters.
func (r *Reader) Stats() Stats {
	return Stats{
		Hits: r.hits.Load(), Misses: r.misses.Load(),
		Fetches: r.fetches.Load(), FetchedBytes: r.fetchedBytes.Load(),
		CachedBytes: r.cache.size(),
	}
}

// Bounds returns the remote tier's offsets for tp: the first offset it
// holds and the offset after its last; ok is false when it holds none.
func (r *Reader) Bounds(ctx context.Context, tp remote.TopicPartition) (start, end int64, ok bool, err error) {
	fin, err := r.finished(ctx, tp)
	if err != nil {
		return 0, 0, false, err
	}
	start, end, ok = remote.Bounds(fin)
	return start, end, ok, nil
}

func (r *Reader) finished(ctx context.Context, tp remote.TopicPartition) ([]remote.Segment, error) {
	segs, err := r.meta.List(ctx, tp)
	if err != nil {
		return nil, fmt.Errorf("fetch: %v: %w", tp, err)
	}
	return remote.Finished(segs), nil
}

// Read returns whole batches of tp from offset, from the one remote
// segment holding it, up to maxBytes (but at least one batch). An offset
// outside the finished segments, including one whose segment retention
// deleted during the read, is ErrOffsetOutOfRange.
func (r *Reader) Read(ctx context.Context, tp remote.TopicPartition, offset int64, maxBytes int) (Result, error) {
	res, seg, err := r.read(ctx, tp, offset, maxBytes)
	if err != nil && errors.Is(err, objstore.ErrNotFound) && seg.ID != "" {
		// Objects go only after their record left COPY_FINISHED: if it
		// did, the segment was deleted under us, not damaged.
		if fin, lerr := r.finished(ctx, tp); lerr == nil && !contains(fin, seg.ID) {
			return Result{}, fmt.Errorf("%w: %v offset %d: segment %s deleted during the read", ErrOffsetOutOfRange, tp, offset, seg.ID)
		}
	}
	return res, err
}

func contains(segs []remote.Segment, id string) bool {
	for _, s := range segs {
		if s.ID == id {
			return true
		}
	}
	return false
}

func (r *Reader) read(ctx context.Context, tp remote.TopicPartition, offset int64, maxBytes int) (Result, remote.Segment, error) {
	if r.bg.Err() != nil {
		return Result{}, remote.Segment{}, ErrClosed
	}
	fin, err := r.finished(ctx, tp)
	if err != nil {
		return Result{}, remote.Segment{}, err
	}
	seg, ok := remote.Find(fin, offset)
	if !ok {
		return Result{}, seg, fmt.Errorf("%w: %v offset %d", ErrOffsetOutOfRange, tp, offset)
	}
	log, ok := seg.Object(remote.KindLog)
	if !ok || log.Size != seg.Size {
		return Result{}, seg, fmt.Errorf("%w: %v %s: no log object of size %d", ErrCorrupt, tp, seg.ID, seg.Size)
	}
	pos := int64(0)
	if idxObj, ok := seg.Object(remote.KindIndex); ok {
		idx, err := r.whole(ctx, idxObj)
		if err != nil {
			return Result{}, seg, err
		}
		pos = offsetIndex(idx).lookup(offset - seg.BaseOffset)
	}
	sr := &segReader{r: r, ctx: ctx, obj: log}
	res := Result{NextOffset: offset}
	startChunk := int64(-1) // chunk of the first returned batch
	for pos < log.Size {
		base, last, size, err := sr.batchAt(pos)
		if err != nil {
			return Result{}, seg, fmt.Errorf("fetch: %v %s: %w", tp, seg.ID, err)
		}
		if last < offset {
			pos += size
			continue
		}
		if len(res.Records) > 0 && int64(len(res.Records))+size > int64(maxBytes) {
			break
		}
		// Copied straight into the result; dropped again on error.
		start := len(res.Records)
		res.Records, err = sr.appendTo(res.Records, pos, size)
		if err != nil {
			return Result{}, seg, fmt.Errorf("fetch: %v %s: %w", tp, seg.ID, err)
		}
		b := res.Records[start:]
		// The CRC covers everything after the partition leader epoch;
		// the offsets it does not cover are checked for continuity.
		h, err := batch.ParseHeader(b)
		if err == nil {
			err = batch.CheckCRC(b, &h)
		}
		if err != nil {
			return Result{}, seg, fmt.Errorf("%w: %v %s at %d: %w", ErrCorrupt, tp, seg.ID, pos, err)
		}
		if (start == 0 && base > offset) || (start > 0 && base != res.NextOffset) {
			return Result{}, seg, fmt.Errorf("%w: %v %s at %d: batch at offset %d, expected %d", ErrCorrupt, tp, seg.ID, pos, base, res.NextOffset)
		}
		if start == 0 {
			startChunk = pos / r.opts.ChunkSize
		}
		res.NextOffset = last + 1
		pos += size
	}
	if len(res.Records) == 0 {
		return Result{}, seg, fmt.Errorf("%w: %v %s: no batch holds offset %d", ErrCorrupt, tp, seg.ID, offset)
	}
	var next *remote.Segment
	if pos >= log.Size {
		if n, ok := remote.Find(fin, res.NextOffset); ok {
			next = &n
		}
	}
	r.readAhead(log, startChunk, pos, next)
	return res, seg, nil
}

// readAhead prefetches the chunks after end when this read continued
// where the previous read of the object stopped; at the end of the
// segment it prefetches the start of the next one (next) instead.
func (r *Reader) readAhead(obj remote.Object, startChunk, end int64, next *remote.Segment) {
	if r.opts.ReadAhead < 0 {
		return
	}
	endChunk := end / r.opts.ChunkSize
	r.seqMu.Lock()
	prev, seen := r.lastEnd[obj.Key]
	if len(r.lastEnd) > 4096 { // bound the map: forget old readers
		clear(r.lastEnd)
	}
	r.lastEnd[obj.Key] = endChunk
	r.seqMu.Unlock()
	if !seen || startChunk < prev-1 || startChunk > prev+1 {
		return
	}
	type item struct {
		k   cacheKey
		obj remote.Object
	}
	var items []item
	for c := endChunk + 1; c <= endChunk+int64(r.opts.ReadAhead) && c*r.opts.ChunkSize < obj.Size; c++ {
		items = append(items, item{cacheKey{obj.Key, c}, obj})
	}
	if next != nil {
		if idx, ok := next.Object(remote.KindIndex); ok && idx.Size > 0 {
			items = append(items, item{cacheKey{idx.Key, -1}, idx})
		}
		if log, ok := next.Object(remote.KindLog); ok {
			for c := int64(0); c < int64(r.opts.ReadAhead) && c*r.opts.ChunkSize < log.Size; c++ {
				items = append(items, item{cacheKey{log.Key, c}, log})
			}
			// The reader continues in next: treat it as sequential there.
			r.seqMu.Lock()
			r.lastEnd[log.Key] = 0
			r.seqMu.Unlock()
		}
	}
	for _, it := range items {
		if _, ok := r.cache.get(it.k); ok {
			continue
		}
		r.flightsMu.Lock()
		_, inFlight := r.flights[it.k]
		r.flightsMu.Unlock()
		if inFlight {
			continue
		}
		select {
		case r.sem <- struct{}{}: // only a free slot: never delay a caller
		default:
			return
		}
		r.prefetch.Add(1)
		go func() {
			defer r.prefetch.Done()
			r.fetchHolding(r.bg, it.k, it.obj, true)
		}()
	}
}

// segReader reads byte ranges of one log object through the chunk cache.
// It keeps the chunk it used last, so the cache (and its hit/miss
// counters) sees one lookup per chunk a read touches, not one per batch.
type segReader struct {
	r       *Reader
	ctx     context.Context
	obj     remote.Object
	cur     int64 // index of curData's chunk; valid when curData != nil
	curData []byte
}

// batchAt reads the header of the batch at pos and returns its base and
// last offsets and size, checked against the object's size.
func (s *segReader) batchAt(pos int64) (base, last, size int64, err error) {
	if pos+batch.HeaderSize > s.obj.Size {
		return 0, 0, 0, fmt.Errorf("%w: batch header at %d past the end (%d)", ErrCorrupt, pos, s.obj.Size)
	}
	h, err := s.read(pos, batch.HeaderSize)
	if err != nil {
		return 0, 0, 0, err
	}
	base = int64(binary.BigEndian.Uint64(h[0:]))
	length := int64(int32(binary.BigEndian.Uint32(h[8:])))
	delta := int64(int32(binary.BigEndian.Uint32(h[23:])))
	size = batch.LengthPrefix + length
	if length < batch.HeaderSize-batch.LengthPrefix || pos+size > s.obj.Size || delta < 0 {
		return 0, 0, 0, fmt.Errorf("%w: batch at %d: length %d, last offset delta %d, object size %d", ErrCorrupt, pos, length, delta, s.obj.Size)
	}
	return base, base + delta, size, nil
}

// read returns n bytes at off, assembled from chunks; the result is a
// fresh slice.
func (s *segReader) read(off, n int64) ([]byte, error) {
	return s.appendTo(make([]byte, 0, n), off, n)
}

// appendTo appends n bytes at off to out, from chunks.
func (s *segReader) appendTo(out []byte, off, n int64) ([]byte, error) {
	cs := s.r.opts.ChunkSize
	for n > 0 {
		c := off / cs
		if s.curData == nil || s.cur != c {
			data, err := s.r.chunk(s.ctx, s.obj, c)
			if err != nil {
				return nil, err
			}
			s.cur, s.curData = c, data
		}
		data := s.curData
		in := off - c*cs
		if in >= int64(len(data)) {
			return nil, fmt.Errorf("%w: chunk %d of %s is short", ErrCorrupt, c, s.obj.Key)
		}
		take := min(n, int64(len(data))-in)
		out = append(out, data[in:in+take]...)
		off += take
		n -= take
	}
	return out, nil
}

// chunk returns chunk c of obj from the cache or the store.
func (r *Reader) chunk(ctx context.Context, obj remote.Object, c int64) ([]byte, error) {
	k := cacheKey{obj.Key, c}
	if data, ok := r.cache.get(k); ok {
		r.hits.Add(1)
		return data, nil
	}
	r.misses.Add(1)
	return r.fetch(ctx, k, obj)
}

// whole returns a whole (index) object from the cache or the store.
func (r *Reader) whole(ctx context.Context, obj remote.Object) ([]byte, error) {
	if obj.Size == 0 {
		return nil, nil // an index without entries: nothing to fetch
	}
	k := cacheKey{obj.Key, -1}
	if data, ok := r.cache.get(k); ok {
		r.hits.Add(1)
		return data, nil
	}
	r.misses.Add(1)
	return r.fetch(ctx, k, obj)
}

// fetch gets k, joining a GET of the same item already in flight, or
// taking a concurrency slot (waiting with ctx) and issuing one. A joined
// GET that ended because its own caller gave up is retried.
func (r *Reader) fetch(ctx context.Context, k cacheKey, obj remote.Object) ([]byte, error) {
	// Bounded: a store that reports a cancellation the caller did not
	// ask for must not loop forever.
	const tries = 3
	for i := 1; ; i++ {
		data, err := r.fetchOnce(ctx, k, obj)
		if i < tries && err != nil && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			continue
		}
		return data, err
	}
}

func (r *Reader) fetchOnce(ctx context.Context, k cacheKey, obj remote.Object) ([]byte, error) {
	r.flightsMu.Lock()
	if f, ok := r.flights[k]; ok {
		r.flightsMu.Unlock()
		select {
		case <-f.done:
			return f.data, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	r.flightsMu.Unlock()
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return r.fetchHolding(ctx, k, obj, false)
}

// fetchHolding issues the GET for k while holding a semaphore slot,
// which it releases. A concurrent caller that started the same GET
// meanwhile wins; this one then waits for it.
func (r *Reader) fetchHolding(ctx context.Context, k cacheKey, obj remote.Object, background bool) ([]byte, error) {
	r.flightsMu.Lock()
	if f, ok := r.flights[k]; ok {
		r.flightsMu.Unlock()
		<-r.sem
		if background {
			return nil, nil
		}
		select {
		case <-f.done:
			return f.data, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	r.flights[k] = f
	r.flightsMu.Unlock()

	off, n := int64(0), obj.Size
	if k.chunk >= 0 {
		off = k.chunk * r.opts.ChunkSize
		n = min(r.opts.ChunkSize, obj.Size-off)
	}
	if n <= 0 {
		f.err = fmt.Errorf("%w: chunk %d of %s beyond its size %d", ErrCorrupt, k.chunk, obj.Key, obj.Size)
	} else {
		f.data, f.err = objstore.ReadRange(ctx, r.store, obj.Key, off, n)
		r.fetches.Add(1)
		if f.err == nil {
			r.fetchedBytes.Add(n)
			r.cache.add(k, f.data)
		} else {
			f.err = fmt.Errorf("fetch: %w", f.err)
		}
	}
	<-r.sem
	r.flightsMu.Lock()
	delete(r.flights, k)
	r.flightsMu.Unlock()
	close(f.done)
	return f.data, f.err
}
