package storage

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/kafki/kafki/brokerd/batch"
)

// Files of compaction (see doc.go, Compaction).
const (
	// cleanedSuffix is appended to a segment's .log, .index and
	// .timeindex names while the cleaner writes their replacement.
	cleanedSuffix = ".cleaned"
	// swapSuffix names the marker "<base>.swap" that commits a swap:
	// "KSW1" | end offset int64 | crc32c. Once it exists, the segments
	// in [base, end) are replaced by the .cleaned files of base, and
	// recovery finishes the swap; without it, .cleaned files are
	// discarded.
	swapSuffix = ".swap"
	swapMagic  = "KSW1"
	// cleanerFile is the cleaner checkpoint: "KCO1" | first dirty offset
	// int64 | gap bound int64 | crc32c. The first dirty offset is where
	// the next clean starts its offset map; the gap bound is the end of
	// the highest swapped group: below it, offsets may have gaps, and
	// recovery accepts them.
	cleanerFile  = "cleaner-offset"
	cleanerMagic = "KCO1"
	// OffsetMapEntryBytes is what one key costs in the dedupe buffer,
	// as in Kafka's SkimpyOffsetMap: a 16-byte MD5 of the key and an
	// 8-byte offset. (The Go map spends more; the bound is on entries.)
	OffsetMapEntryBytes = 24
)

// CleanOptions configure one Clean pass.
type CleanOptions struct {
	// MaxKeys bounds the offset map (log.cleaner.dedupe.buffer.size /
	// OffsetMapEntryBytes). A dirty section with more keys is cleaned in
	// several passes. <= 0 means 1<<20.
	MaxKeys int
	// Throttle, when set, is called with the bytes read or written since
	// its last call (log.cleaner.io.max.bytes.per.second); an error
	// aborts the pass.
	Throttle func(ctx context.Context, n int) error
}

// CleanStats describe one Clean pass.
type CleanStats struct {
	BytesRead, BytesWritten int64
	RecordsRemoved          int64
	// SegmentsReplaced counts the input segments swapped out.
	SegmentsReplaced int
	// FirstDirty is the first dirty offset after the pass.
	FirstDirty int64
	// Cleaned is false when there was nothing cleanable.
	Cleaned bool
}

// CleanState is what the cleaner needs to pick a log (Kafka's
// LogToClean): bytes of the cleaned and cleanable-dirty parts.
type CleanState struct {
	CleanBytes, DirtyBytes int64
	// Ratio is DirtyBytes / (CleanBytes + DirtyBytes), 0 if both are 0.
	Ratio float64
	// Due: a dirty record is older than max.compaction.lag.ms.
	Due bool
	// FirstDirty is the first dirty offset.
	FirstDirty int64
}

// Cleanable reports how dirty the log is. Only closed, flushed segments
// whose records are all older than min.compaction.lag.ms count as dirty
// (what Clean may rewrite). A log without Config.Compact is never dirty.
func (l *Log) Cleanable() CleanState {
	l.mu.RLock()
	defer l.mu.RUnlock()
	st := CleanState{FirstDirty: l.firstDirtyLocked()}
	if !l.cfg.Compact || l.closed || l.offline != nil {
		return st
	}
	now := l.now()
	upper := l.cleanableEndLocked(now)
	for _, s := range l.segments {
		if s.next > upper {
			break
		}
		if s.next <= st.FirstDirty {
			st.CleanBytes += s.size
			continue
		}
		st.DirtyBytes += s.size
		if lag := l.cfg.MaxCompactionLag; lag > 0 && s.firstTs >= 0 && now.Sub(time.UnixMilli(s.firstTs)) > lag {
			st.Due = true
		}
	}
	if l.tombstonesDue > 0 && now.UnixMilli() >= l.tombstonesDue {
		st.Due = true
	}
	if t := st.CleanBytes + st.DirtyBytes; t > 0 {
		st.Ratio = float64(st.DirtyBytes) / float64(t)
	}
	return st
}

// firstDirtyLocked is the cleaner's start, clamped into the log.
func (l *Log) firstDirtyLocked() int64 {
	return min(max(l.firstDirty, l.segments[0].base), l.logEnd)
}

// cleanableEndLocked is the end of the cleanable prefix of segments:
// never the active segment, nothing not yet fsynced with its indexes (a
// swap must never replace what recovery may still cut), and no segment
// with a record newer than min.compaction.lag.ms (KIP-58).
func (l *Log) cleanableEndLocked(now time.Time) int64 {
	end := l.segments[0].base
	for _, s := range l.segments[:len(l.segments)-1] {
		if s.next > l.flushed {
			break
		}
		if lag := l.cfg.MinCompactionLag; lag > 0 && s.largestTimestamp() > now.Add(-lag).UnixMilli() {
			break
		}
		end = s.next
	}
	return end
}

// offsetMap maps the MD5 of a key to the last offset of that key in the
// dirty section (Kafka's SkimpyOffsetMap, with the same collision
// argument: two keys with the same 128-bit hash would lose the older
// one's record).
type offsetMap map[[md5.Size]byte]int64

// Clean runs one compaction pass over the closed segments (see doc.go,
// Compaction): it builds an offset map of the dirty section, up to
// opts.MaxKeys keys, then rewrites the segments from the log start to the
// end of the mapped part, keeping the last record of each key, and swaps
// them in crash-safely. Call it again while the log is dirty. Only one
// Clean runs at a time per log; reads and appends continue, except during
// each swap's renames.
func (l *Log) Clean(ctx context.Context, opts CleanOptions) (CleanStats, error) {
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = 1 << 20
	}
	var st CleanStats
	l.mu.RLock()
	if err := l.writableLocked(); err != nil {
		l.mu.RUnlock()
		return st, err
	}
	cfg := l.cfg
	now := l.now()
	upper := l.cleanableEndLocked(now)
	dirty := l.firstDirtyLocked()
	st.FirstDirty = dirty
	// The pass works on views taken under the lock: the segments' fields
	// may change under it (a truncation), which the swap then detects.
	var segs []segView
	for _, s := range l.segments {
		if s.next > upper {
			break
		}
		v := segView{seg: s, base: s.base, size: s.size, next: s.next, log: s.log}
		if s.base <= dirty && dirty < s.next {
			v.index = offsetIndex{buf: slices.Clone(s.index.buf)}
		}
		segs = append(segs, v)
	}
	// The last batch of each producer the log knows is kept even when
	// empty, so idempotent producer state survives cleaning.
	lastOf := make(map[int64]int64, len(l.producers))
	for pid, e := range l.producers {
		if e.n > 0 {
			lastOf[pid] = e.newest().lastOffset
		}
	}
	tombstonesDue := l.tombstonesDue > 0 && now.UnixMilli() >= l.tombstonesDue
	txnData := l.txnData
	l.mu.RUnlock()
	if !cfg.Compact || len(segs) == 0 || dirty >= upper && !tombstonesDue {
		return st, nil
	}
	if txnData {
		// The cleaner does not know transactions (Kafka's keeps a marker
		// until its transaction's records are gone, never removes records
		// of open transactions, and drops aborted ones). A log with
		// transactional data is not cleaned (see doc.go).
		return st, nil
	}

	c := cleaning{l: l, ctx: ctx, opts: opts, cfg: cfg, now: now, lastOf: lastOf, stats: &st}
	m, mapEnd := offsetMap{}, upper
	if dirty < upper {
		var err error
		if m, mapEnd, err = c.buildMap(segs, dirty); errors.Is(err, errTxnData) {
			return st, nil
		} else if err != nil {
			return st, err
		}
	}
	// Rewrite every segment that starts below the map's end: the clean
	// part (older records superseded by dirty ones) and the mapped dirty
	// part.
	n := 0
	for n < len(segs) && segs[n].base < mapEnd {
		n++
	}
	for _, g := range groupSegments(segs[:n], cfg.SegmentBytes) {
		if err := c.cleanGroup(g, m); err != nil {
			return st, err
		}
	}
	l.mu.Lock()
	l.firstDirty = max(l.firstDirty, mapEnd)
	l.tombstonesDue = c.minHorizon
	st.FirstDirty = l.firstDirty
	err := l.writeCleanerCheckpointLocked()
	l.mu.Unlock()
	st.Cleaned = true
	return st, err
}

// segView is what a Clean pass knows of a segment, copied under the lock.
type segView struct {
	seg              *segment
	base, size, next int64
	log              File
	index            offsetIndex // only for the segment holding the first dirty offset
}

// cleaning is the state of one Clean pass.
type cleaning struct {
	l      *Log
	ctx    context.Context
	opts   CleanOptions
	cfg    Config
	now    time.Time
	lastOf map[int64]int64
	stats  *CleanStats
	// minHorizon is the earliest delete horizon of a kept tombstone
	// batch (ms, 0 none).
	minHorizon int64
}

func (c *cleaning) throttle(n int) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	if c.opts.Throttle == nil || n == 0 {
		return nil
	}
	return c.opts.Throttle(c.ctx, n)
}

// buildMap maps the keys of the dirty section from dirty on, stopping
// before the batch that could overflow MaxKeys (never before the first
// one, so each pass makes progress). It returns the map and the offset
// after the last mapped batch.
func (c *cleaning) buildMap(segs []segView, dirty int64) (offsetMap, int64, error) {
	m := make(offsetMap)
	end := dirty
	for _, s := range segs {
		if s.next <= dirty {
			continue
		}
		var pos int64
		if dirty > s.base {
			pos = s.index.lookup(uint32(dirty - s.base))
		}
		sc := newScanner(s.log, pos, s.size, true)
		for {
			h, b, err := sc.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, 0, fmt.Errorf("%w: clean: map segment %d: %w", ErrStorage, s.base, err)
			}
			if h.LastOffset() < dirty {
				continue
			}
			if h.IsTransactional() || h.IsControl() {
				c.l.markTxnData()
				return nil, 0, errTxnData
			}
			if len(m) > 0 && len(m)+int(h.RecordCount) > c.opts.MaxKeys {
				return m, end, nil
			}
			if !h.IsControl() {
				err = batch.ForEachRecord(b, &h, batch.DecodeOptions{}, func(r *batch.Record) error {
					if r.Key != nil {
						m[md5.Sum(r.Key)] = h.BaseOffset + int64(r.OffsetDelta)
					}
					return nil
				})
				if err != nil {
					return nil, 0, fmt.Errorf("%w: clean: segment %d batch %d: %w", ErrStorage, s.base, h.BaseOffset, err)
				}
			}
			end = h.LastOffset() + 1
			c.stats.BytesRead += int64(len(b))
			if err := c.throttle(len(b)); err != nil {
				return nil, 0, err
			}
		}
		end = s.next
	}
	return m, end, nil
}

// groupSegments splits segs into runs that fit one output segment: at
// most segmentBytes of input (the output is never larger) and offsets
// and positions within the index's 32 bits (Kafka's
// groupSegmentsBySize). Merging keeps the segment count bounded as
// compaction shrinks them.
func groupSegments(segs []segView, segmentBytes int64) [][]segView {
	var groups [][]segView
	for i := 0; i < len(segs); {
		j, size := i+1, segs[i].size
		for j < len(segs) && size+segs[j].size <= min(segmentBytes, math.MaxUint32) &&
			segs[j].next-1-segs[i].base <= math.MaxUint32 {
			size += segs[j].size
			j++
		}
		groups = append(groups, segs[i:j])
		i = j
	}
	return groups
}

// cleanGroup writes the cleaned form of the segments g as .cleaned files
// of g[0]'s base, then swaps them in.
func (c *cleaning) cleanGroup(g []segView, m offsetMap) error {
	l := c.l
	base, end := g[0].base, g[len(g)-1].next
	out, changed, err := c.writeCleaned(g, m)
	if err != nil {
		l.removeCleaned(base)
		return err
	}
	if !changed && len(g) == 1 {
		l.removeCleaned(base)
		return nil
	}
	if err := l.swap(g, out, end); err != nil {
		return err
	}
	c.stats.SegmentsReplaced += len(g)
	return nil
}

// writeCleaned writes the kept batches of g to base.log.cleaned and its
// indexes to base.index.cleaned and base.timeindex.cleaned, all fsynced.
// It returns the new segment's in-memory state (its file left closed)
// and whether any byte differs from the input.
func (c *cleaning) writeCleaned(g []segView, m offsetMap) (*segment, bool, error) {
	l := c.l
	base := g[0].base
	path := segmentPath(l.dir, base, logSuffix) + cleanedSuffix
	f, err := l.fs.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("%w: clean: create %s: %w", ErrStorage, filepath.Base(path), err)
	}
	defer f.Close()
	out := &segment{dir: l.dir, base: base, maxTs: -1, firstTs: -1, lastBatch: -1}
	changed := false
	var buf []byte
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if _, err := f.WriteAt(buf, out.size-int64(len(buf))); err != nil {
			return fmt.Errorf("%w: clean: write %s: %w", ErrStorage, filepath.Base(path), err)
		}
		c.stats.BytesWritten += int64(len(buf))
		err := c.throttle(len(buf))
		buf = buf[:0]
		return err
	}
	horizon := c.now.Add(c.cfg.DeleteRetention).UnixMilli()
	nowMs := c.now.UnixMilli()
	for _, s := range g {
		sc := newScanner(s.log, 0, s.size, true)
		for {
			h, b, err := sc.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, false, fmt.Errorf("%w: clean: read segment %d: %w", ErrStorage, s.base, err)
			}
			c.stats.BytesRead += int64(len(b))
			start := len(buf)
			var dirtied bool
			if buf, dirtied, err = c.filterBatch(buf, b, &h, m, horizon, nowMs); err != nil {
				return nil, false, fmt.Errorf("%w: clean: segment %d batch %d: %w", ErrStorage, s.base, h.BaseOffset, err)
			}
			changed = changed || dirtied
			if len(buf) > start {
				nh, err := batch.ParseHeader(buf[start:])
				if err != nil {
					return nil, false, fmt.Errorf("%w: clean: re-encoded batch %d: %w", ErrStorage, h.BaseOffset, err)
				}
				n := len(buf) - start
				out.track(&nh, out.size, n, c.cfg.IndexIntervalBytes, c.now)
			}
			if len(buf) >= scanChunk {
				if err := flush(); err != nil {
					return nil, false, err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return nil, false, err
	}
	if len(g) > 1 {
		changed = true
	}
	// The group ends where its last input segment did, whatever the
	// cleaner removed from its end: the next segment starts there.
	out.next = g[len(g)-1].next
	out.seal()
	if err := f.Sync(); err != nil {
		return nil, false, fmt.Errorf("%w: clean: fsync %s: %w", ErrStorage, filepath.Base(path), err)
	}
	if err := writeWholeFile(l.fs, segmentPath(l.dir, base, indexSuffix)+cleanedSuffix, out.index.buf); err != nil {
		return nil, false, err
	}
	if err := writeWholeFile(l.fs, segmentPath(l.dir, base, timeIndexSuffix)+cleanedSuffix, out.tindex.buf); err != nil {
		return nil, false, err
	}
	return out, changed, nil
}

// filterBatch appends to buf what the clean keeps of batch b: control
// batches whole; the records not superseded in m (nor keyless, nor
// tombstones past their batch's delete horizon), stamping the horizon on
// a batch that keeps a tombstone; and the header alone of a producer's
// last batch when nothing else of it is left, so its sequence survives.
// changed says whether the output differs from b.
func (c *cleaning) filterBatch(buf, b []byte, h *batch.Header, m offsetMap, horizon, nowMs int64) ([]byte, bool, error) {
	if h.IsControl() {
		return append(buf, b...), false, nil
	}
	producerLast := h.HasProducerID() && c.lastOf[h.ProducerID] == h.LastOffset()
	if h.RecordCount == 0 {
		// An emptied producer batch (a previous clean's) stays only while
		// it is still its producer's last.
		if producerLast {
			return append(buf, b...), false, nil
		}
		return buf, true, nil
	}
	hz, hasHorizon := h.DeleteHorizon()
	expired := hasHorizon && nowMs >= hz
	start := len(buf)
	buf, res, err := batch.Filter(buf, b, h, batch.FilterOptions{DeleteHorizon: horizon}, func(r *batch.Record) bool {
		if r.Key == nil {
			// Kafka drops keyless records of a compacted log: there is
			// no key to keep a last value of.
			return false
		}
		if r.Value == nil && expired {
			return false
		}
		last, ok := m[md5.Sum(r.Key)]
		return !ok || last <= h.BaseOffset+int64(r.OffsetDelta)
	})
	if err != nil {
		return buf[:start], false, err
	}
	c.stats.RecordsRemoved += int64(res.Removed)
	if res.Tombstones > 0 {
		if nh, err := batch.ParseHeader(buf[start:]); err == nil {
			if hz, ok := nh.DeleteHorizon(); ok && (c.minHorizon == 0 || hz < c.minHorizon) {
				c.minHorizon = hz
			}
		}
	}
	if res.Kept == 0 {
		if producerLast {
			buf = batch.AppendEmpty(buf, b, h)
		}
		return buf, true, nil
	}
	return buf, res.Changed, nil
}

// swap replaces the segments g by out, whose files are written as
// .cleaned: marker, removal of the merged segments, renames, as
// recoverSwaps redoes after a crash. It fails without changing anything
// if g is no longer a run of closed segments of the log as it was
// (retention, a truncation or Close came in between).
func (l *Log) swap(g []segView, out *segment, end int64) error {
	base := g[0].base
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		l.removeCleaned(base)
		return err
	}
	i := l.segmentFor(base)
	if i < 0 || i+len(g) >= len(l.segments) {
		l.removeCleaned(base)
		return nil
	}
	for k, s := range g {
		cur := l.segments[i+k]
		if cur != s.seg || cur.next != s.next || cur.size != s.size {
			l.removeCleaned(base)
			return nil
		}
	}
	// Recovery must accept the gaps of the new segment even if it finds
	// no recovery point beyond it: record the bound first.
	if end > l.gapBound {
		l.gapBound = end
		if err := l.writeCleanerCheckpointLocked(); err != nil {
			l.removeCleaned(base)
			return err
		}
	}
	if l.checkpointed < end {
		if err := writeRecoveryPoint(l.fs, l.dir, l.flushed); err != nil {
			l.removeCleaned(base)
			return err
		}
		l.checkpointed = l.flushed
	}
	if err := writeFileAtomic(l.fs, l.dir, swapName(base), encodeSwap(end)); err != nil {
		l.removeCleaned(base)
		return err
	}
	// Committed: from here on a failure leaves work for recoverSwaps, so
	// the log goes offline rather than serve a half-swapped state.
	fail := func(err error) error {
		err = fmt.Errorf("%w: clean: swap segment %d: %w", ErrStorage, base, err)
		l.setOfflineLocked(err)
		return err
	}
	for _, s := range g[1:] {
		if err := s.log.Close(); err != nil {
			l.logger.Warn("storage: close replaced segment", "segment", s.base, "err", err)
		}
		for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			l.removeFile(filepath.Base(segmentPath(l.dir, s.base, suf)))
		}
	}
	if err := g[0].log.Close(); err != nil {
		l.logger.Warn("storage: close replaced segment", "segment", base, "err", err)
	}
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		p := segmentPath(l.dir, base, suf)
		if err := l.fs.Rename(p+cleanedSuffix, p); err != nil {
			return fail(err)
		}
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return fail(err)
	}
	l.removeFile(swapName(base))
	f, err := l.fs.OpenFile(segmentPath(l.dir, base, logSuffix), os.O_RDWR, 0o644)
	if err != nil {
		return fail(err)
	}
	out.log = f
	out.lastModified = l.now()
	var oldSize int64
	for _, s := range g {
		oldSize += s.size
	}
	segs := make([]*segment, 0, len(l.segments)-len(g)+1)
	segs = append(segs, l.segments[:i]...)
	segs = append(segs, out)
	segs = append(segs, l.segments[i+len(g):]...)
	l.segments = segs
	l.size += out.size - oldSize
	return nil
}

// removeCleaned deletes the .cleaned files of base (an abandoned clean).
func (l *Log) removeCleaned(base int64) {
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		l.removeFile(filepath.Base(segmentPath(l.dir, base, suf)) + cleanedSuffix)
	}
}

func swapName(base int64) string { return filepath.Base(segmentPath("", base, swapSuffix)) }

func encodeSwap(end int64) []byte { return encodeOffsetFile(swapMagic, end) }

// recoverSwaps finishes the swaps a crash interrupted and discards
// unfinished cleans, before Open looks at the segments: a valid
// "<base>.swap" marker means the .cleaned files of base replace every
// segment in [base, end); .cleaned files without one are deleted, so the
// old segments stay. A marker that does not decode was not written by a
// completed atomic write and is ignored (its swap never started).
func (l *Log) recoverSwaps(names []string) error {
	type pending struct{ base, end int64 }
	var swaps []pending
	for _, name := range names {
		base, suf, ok := parseBaseName(name)
		if !ok || suf != swapSuffix {
			continue
		}
		b, err := readWholeFile(l.fs, filepath.Join(l.dir, name))
		var end int64
		if err == nil {
			end, err = decodeOffsetFile(swapMagic, b)
		}
		if err != nil || end <= base {
			l.logger.Warn("storage: ignoring unreadable swap marker", "file", name, "err", err)
			l.removeFile(name)
			continue
		}
		swaps = append(swaps, pending{base, end})
	}
	for _, sw := range swaps {
		l.logger.Warn("storage: completing an interrupted compaction swap", "segment", sw.base, "end", sw.end)
		for _, name := range names {
			b, suf, ok := parseBaseName(name)
			if ok && b > sw.base && b < sw.end && (suf == logSuffix || suf == indexSuffix || suf == timeIndexSuffix) {
				l.removeFile(name)
			}
		}
		for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			p := segmentPath(l.dir, sw.base, suf)
			if err := l.fs.Rename(p+cleanedSuffix, p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("%w: complete swap of segment %d: %w", ErrStorage, sw.base, err)
			}
		}
		if err := l.fs.SyncDir(l.dir); err != nil {
			return fmt.Errorf("%w: fsync dir: %w", ErrStorage, err)
		}
		l.removeFile(swapName(sw.base))
	}
	for _, name := range names {
		if filepath.Ext(name) == cleanedSuffix {
			if _, _, ok := parseBaseName(name); ok {
				l.logger.Warn("storage: discarding an unfinished compaction", "file", name)
				l.removeFile(name)
			}
		}
	}
	return nil
}

// readCleanerCheckpoint loads firstDirty and gapBound. Without the file
// the log was never cleaned (no gaps); an unreadable one makes recovery
// accept gaps anywhere, since it cannot tell where cleaned data ends.
func (l *Log) readCleanerCheckpoint() {
	b, err := readWholeFile(l.fs, filepath.Join(l.dir, cleanerFile))
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err == nil {
		if len(b) == 4+8+8+4 && string(b[:4]) == cleanerMagic &&
			binary.BigEndian.Uint32(b[20:]) == crc32.Checksum(b[:20], castagnoli) {
			l.firstDirty = int64(binary.BigEndian.Uint64(b[4:]))
			l.gapBound = int64(binary.BigEndian.Uint64(b[12:]))
			return
		}
		err = errBadCheckpoint
	}
	l.logger.Warn("storage: unreadable cleaner checkpoint; accepting offset gaps anywhere and cleaning from the start", "dir", l.dir, "err", err)
	l.gapBound = math.MaxInt64
}

func (l *Log) writeCleanerCheckpointLocked() error {
	b := append([]byte(cleanerMagic), make([]byte, 16)...)
	binary.BigEndian.PutUint64(b[4:], uint64(l.firstDirty))
	binary.BigEndian.PutUint64(b[12:], uint64(l.gapBound))
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return writeFileAtomic(l.fs, l.dir, cleanerFile, b)
}

// errTxnData stops a Clean pass that found a transactional or control
// batch: such logs are not cleaned.
var errTxnData = errors.New("storage: log has transactional data")

func (l *Log) markTxnData() {
	l.mu.Lock()
	if !l.txnData {
		l.logger.Warn("storage: log has transactional data; compaction is disabled for it", "dir", l.dir)
	}
	l.txnData = true
	l.mu.Unlock()
}
