package topics

// The manager's side of tiered storage (tiering.Tier): with tiering on,
// one uploader goroutine per broker offers every durably sealed segment
// of a topic with remote.storage.enable to the tier, in offset order and
// one at a time, then tells the log (MarkUploaded) so that local
// retention may delete it; and periodically applies total retention to
// the remote tier and sweeps crash leftovers. Reads below the local log
// start go to the tier (ReadRemote). On a single node the leader epoch is
// always 0.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/storage"
	"github.com/kafki/kafki/tiering"
	"github.com/kafki/kafki/tiering/cleanup"
	"github.com/kafki/kafki/tiering/fetch"
	"github.com/kafki/kafki/tiering/remote"
	"github.com/kafki/kafki/tiering/upload"
)

// uploadRetry is how soon the uploader looks again when a pass failed
// (a store outage) or found nothing to wake it.
const uploadRetry = 5 * time.Second

// remoteReadTimeout bounds one background remote read.
const remoteReadTimeout = 30 * time.Second

// ErrRemoteUnavailable wraps failures of the remote tier on the read path
// (the object store is down or slow); Kafka clients retry it.
var ErrRemoteUnavailable = errors.New("remote tier unavailable")

// Tier returns the manager's tier (Options.Tier), nil when tiering is
// off; without one nothing in this file runs.
func (m *Manager) Tier() *tiering.Tier { return m.tier }

// logConfig is the storage config of a topic on this broker: remote
// storage gates local deletion only when the broker has a tier, so a topic
// with remote.storage.enable on a broker started without one keeps its
// data local instead of never deleting it.
func (m *Manager) logConfig(s Settings) storage.Config {
	c := s.Log
	if m.tier == nil {
		c.RemoteStorage = false
	}
	return c
}

// onSealed wakes the uploader; it never blocks (the log calls it with its
// sync lock held).
func (m *Manager) onSealed(storage.SealedSegment) {
	select {
	case m.tierWake <- struct{}{}:
	default:
	}
}

// RunTiering uploads sealed segments when woken by a roll (and every few
// seconds), and applies remote retention and the sweeper every sweep
// interval, until ctx ends. It returns at once without a tier.
func (m *Manager) RunTiering(ctx context.Context, sweepEvery time.Duration) {
	if m.tier == nil {
		return
	}
	retry := time.NewTicker(uploadRetry)
	defer retry.Stop()
	sweep := time.NewTicker(sweepEvery)
	defer sweep.Stop()
	for {
		m.uploadAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-m.tierWake:
		case <-retry.C:
		case <-sweep.C:
			m.cleanRemote(ctx)
		}
	}
}

// tieredPartitions lists the partitions whose topic has remote storage.
func (m *Manager) tieredPartitions() []*Partition {
	var out []*Partition
	for _, t := range m.Topics() {
		if !t.Settings().Log.RemoteStorage {
			continue
		}
		out = append(out, t.Partitions...)
	}
	return out
}

// tierEpoch returns the leader epoch remote writes are fenced with, and
// whether this broker leads the partition (only the leader writes to the
// remote tier).
func (p *Partition) tierEpoch() (int32, bool) {
	role, _, epoch := p.Role()
	switch role {
	case Standalone:
		return 0, true
	case Leader:
		return epoch, p.mgr.replicaHooks.CanAct == nil || p.mgr.replicaHooks.CanAct()
	default:
		return 0, false
	}
}

func (p *Partition) tp() remote.TopicPartition {
	return remote.TopicPartition{Topic: p.Topic, Partition: p.Index}
}

// uploadAll uploads what every tiered partition has sealed and not yet
// uploaded. Errors are logged; the next pass retries.
func (m *Manager) uploadAll(ctx context.Context) {
	for _, p := range m.tieredPartitions() {
		if ctx.Err() != nil {
			return
		}
		if epoch, leads := p.tierEpoch(); !leads {
			// Only the leader uploads (one copy per segment, whatever the
			// replication factor); a replica learns how far the remote
			// tier reaches so its local retention can delete below it.
			if _, end, ok, err := m.tier.RemoteBounds(ctx, p.tp()); err == nil && ok {
				p.log.MarkUploaded(end)
			}
			continue
		} else if err := m.uploadPartition(ctx, p, epoch); err != nil && ctx.Err() == nil {
			m.log.Warn("tiering: upload failed; retrying later", "topic", p.Topic, "partition", p.Index, "err", err)
		}
	}
}

// uploadPartition uploads p's sealed segments the remote tier does not
// hold yet, oldest first, stopping at the first failure so that the
// remote tier stays contiguous.
func (m *Manager) uploadPartition(ctx context.Context, p *Partition, epoch int32) error {
	if p.log.Offline() != nil {
		return nil
	}
	// What the remote tier already holds, also after a restart (the log
	// keeps its mark in memory only).
	_, end, ok, err := m.tier.RemoteBounds(ctx, p.tp())
	if err != nil {
		return fmt.Errorf("remote bounds: %w", err)
	}
	if ok {
		p.log.MarkUploaded(end)
	}
	// Only what is committed and stable goes up, as Kafka's remote log
	// manager copies below the last stable offset: a segment above the
	// high watermark could still be truncated by a leader change (and
	// the remote tier would then hold records the partition lost), and
	// one holding an open transaction's records would have its ABORT
	// marker, and so its aborted-transactions index entry, in a later
	// segment only.
	stable := p.log.LastStableOffset(p.HighWatermark())
	for _, s := range p.log.SealedSegments() {
		if s.NextOffset <= p.log.RemoteEnd() {
			continue
		}
		if s.NextOffset > stable {
			break
		}
		_, err := m.tier.OnSegmentSealed(ctx, upload.Sealed{
			TP:            p.tp(),
			LeaderEpoch:   epoch,
			LogPath:       s.LogPath,
			IndexPath:     existing(s.IndexPath),
			TimeIndexPath: existing(s.TimeIndexPath),
			SnapshotPath:  existing(s.SnapshotPath),
			TxnIndexPath:  existing(s.TxnIndexPath),
			LeaderEpochs:  p.log.LeaderEpochsUpTo(s.NextOffset),
		})
		if err != nil && !errors.Is(err, remote.ErrNoProgress) {
			return fmt.Errorf("segment %d: %w", s.BaseOffset, err)
		}
		p.log.MarkUploaded(s.NextOffset)
		m.log.Debug("tiering: uploaded segment", "topic", p.Topic, "partition", p.Index, "base", s.BaseOffset, "next", s.NextOffset, "bytes", s.Size)
	}
	return nil
}

// existing returns path if the file exists, else "" (upload.Sealed's
// convention for an absent optional file: an empty time index is never
// written, a producer snapshot may have been pruned).
func existing(path string) string {
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}

// cleanRemote applies total retention to the remote tier and sweeps crash
// leftovers, for every tiered partition.
func (m *Manager) cleanRemote(ctx context.Context) {
	for _, p := range m.tieredPartitions() {
		if ctx.Err() != nil {
			return
		}
		epoch, leads := p.tierEpoch()
		if !leads {
			continue
		}
		c := p.log.Config()
		policy := cleanup.Policy{RetentionMs: -1, RetentionBytes: c.RetentionBytes}
		if c.RetentionMs >= 0 {
			policy.RetentionMs = c.RetentionMs.Milliseconds()
		}
		if r, err := m.tier.ApplyRetention(ctx, p.tp(), epoch, policy, p.localBytesAboveRemote()); err != nil {
			m.log.Warn("tiering: remote retention failed", "topic", p.Topic, "partition", p.Index, "err", err)
		} else if len(r.Deleted) > 0 {
			m.log.Info("tiering: remote retention deleted segments", "topic", p.Topic, "partition", p.Index, "count", len(r.Deleted), "log_start_offset", r.LogStartOffset)
		}
		if _, err := m.tier.Sweep(ctx, p.tp(), epoch); err != nil {
			m.log.Warn("tiering: sweep failed", "topic", p.Topic, "partition", p.Index, "err", err)
		}
	}
}

// TierLagBytes is the size of p's sealed segments the remote tier does not
// hold yet (what an outage of the object store keeps on local disk beyond
// local.retention); -1 when p is not tiered.
func (p *Partition) TierLagBytes() int64 {
	if p.mgr.tier == nil || !p.log.Config().RemoteStorage {
		return -1
	}
	var n int64
	end := p.log.RemoteEnd()
	for _, s := range p.log.SealedSegments() {
		if s.NextOffset > end {
			n += s.Size
		}
	}
	return n
}

// localBytesAboveRemote is the size of the local data the remote tier
// does not hold: it counts towards retention.bytes with the remote tier.
func (p *Partition) localBytesAboveRemote() int64 {
	n := p.log.Size()
	end := p.log.RemoteEnd()
	for _, s := range p.log.SealedSegments() {
		if s.NextOffset <= end {
			n -= s.Size
		}
	}
	return max(n, 0)
}

// LogStartOffset is the partition's first offset, in the remote tier when
// it holds data below the local log, else the local log start.
func (p *Partition) LogStartOffset(ctx context.Context) int64 {
	local := p.log.LogStartOffset()
	if t := p.mgr.tier; t != nil {
		if start, _, ok, err := t.RemoteBounds(ctx, p.tp()); err == nil && ok && start < local {
			return start
		}
	}
	return local
}

// ReadRemote serves a fetch below the local log start from the remote
// tier; handled is false when the offset is local (or tiering is off).
//
// A remote read waits at most tier.fetch.max.wait (Kafka's
// remote.fetch.max.wait.ms): past that the fetch is answered with no data
// for this partition and the read goes on in the background, warming the
// cache for the client's next fetch, so a slow object store cannot stall
// the connection's other partitions and requests. Concurrent fetches of the
// same offset share one read.
func (p *Partition) ReadRemote(ctx context.Context, offset int64, maxBytes int) (data []byte, handled bool, err error) {
	t := p.mgr.tier
	if t == nil || offset >= p.log.LogStartOffset() {
		return nil, false, nil
	}
	call := p.remoteRead(t, offset, maxBytes)
	timer := time.NewTimer(p.mgr.opts.TierFetchMaxWait)
	defer timer.Stop()
	select {
	case <-call.done:
	case <-timer.C:
		return nil, true, nil
	case <-ctx.Done():
		return nil, true, nil
	}
	switch {
	case errors.Is(call.err, fetch.ErrOffsetOutOfRange):
		return nil, true, fmt.Errorf("%w: %v", storage.ErrOffsetOutOfRange, call.err)
	case call.err != nil:
		return nil, true, fmt.Errorf("%w: %w", ErrRemoteUnavailable, call.err)
	}
	return call.data, true, nil
}

// remoteCall is one remote read, shared by the fetches that want it.
type remoteCall struct {
	done chan struct{} // closed when data and err are set
	data []byte        // written once, before done is closed; read after
	err  error         // as data
}

// remoteRead returns the in-flight read of offset, or starts one. A
// finished read is forgotten once done, so later fetches read afresh
// (from the tier's cache).
func (p *Partition) remoteRead(t *tiering.Tier, offset int64, maxBytes int) *remoteCall {
	p.remoteMu.Lock()
	defer p.remoteMu.Unlock()
	if c, ok := p.remoteCalls[offset]; ok {
		return c
	}
	if p.remoteCalls == nil {
		p.remoteCalls = map[int64]*remoteCall{}
	}
	c := &remoteCall{done: make(chan struct{})}
	p.remoteCalls[offset] = c
	go func() {
		// Not the request's context: the read outlives a fetch that
		// gave up waiting, to warm the cache.
		ctx, cancel := context.WithTimeout(context.Background(), remoteReadTimeout)
		defer cancel()
		res, err := t.ReadRemote(ctx, p.tp(), offset, maxBytes)
		c.data, c.err = res.Records, err
		p.remoteMu.Lock()
		delete(p.remoteCalls, offset)
		p.remoteMu.Unlock()
		close(c.done)
	}()
	return c
}

// RemoteEnd returns the offset after the last one the remote tier holds
// for p; ok is false without a tier or remote data.
func (p *Partition) RemoteEnd(ctx context.Context) (end int64, ok bool, err error) {
	t := p.mgr.tier
	if t == nil {
		return 0, false, nil
	}
	_, end, ok, err = t.RemoteBounds(ctx, p.tp())
	return end, ok, err
}

// deleteRemote removes every remote segment of a deleted topic's
// partition (metadata marked, objects deleted, metadata removed, as for
// retention), so that a topic created later under the same name never
// serves the old one's data. No-op without a tier.
func (p *Partition) deleteRemote(ctx context.Context) error {
	t := p.mgr.tier
	if t == nil {
		return nil
	}
	all := cleanup.Policy{RetentionMs: -1, RetentionBytes: 0}
	_, _, epoch := p.Role()
	res, err := t.ApplyRetention(ctx, p.tp(), max(epoch, 0), all, 0)
	if err != nil {
		return fmt.Errorf("delete remote data of %s-%d: %w", p.Topic, p.Index, err)
	}
	if len(res.Deleted) > 0 {
		p.mgr.log.Info("deleted remote segments of a deleted topic", "topic", p.Topic, "partition", p.Index, "segments", len(res.Deleted))
	}
	return nil
}

// errFound stops a record walk at the record searched for.
var errFound = errors.New("found")

// OffsetForTimestamp answers ListOffsets by timestamp over the whole log:
// the first offset whose record timestamp is >= ts, and that timestamp.
// The remote tier holds the older offsets, so it is searched first (its
// time indexes find the segment and position; the records of the batch
// there give the exact offset and timestamp), then the local log.
func (p *Partition) OffsetForTimestamp(ctx context.Context, ts int64) (offset, timestamp int64, found bool, err error) {
	t := p.mgr.tier
	if t == nil || !p.log.Config().RemoteStorage {
		return p.log.OffsetForTimestamp(ts)
	}
	off, ok, err := t.OffsetForTimestamp(ctx, p.tp(), ts)
	if err != nil {
		return -1, -1, false, fmt.Errorf("%w: %w", ErrRemoteUnavailable, err)
	}
	if !ok || off >= p.log.LogStartOffset() {
		return p.log.OffsetForTimestamp(ts)
	}
	res, err := t.ReadRemote(ctx, p.tp(), off, 1<<20)
	if err != nil {
		return -1, -1, false, fmt.Errorf("%w: %w", ErrRemoteUnavailable, err)
	}
	offset, timestamp = -1, -1
	for it := batch.NewIter(res.Records); it.Next(); {
		raw := it.Batch()
		h, err := batch.ParseHeader(raw)
		if err != nil {
			return -1, -1, false, fmt.Errorf("%w: remote batch at %d: %w", ErrRemoteUnavailable, off, err)
		}
		if h.MaxTimestamp < ts || h.LastOffset() < off {
			continue
		}
		logAppend := h.Attributes&batch.AttrLogAppendTime != 0
		err = batch.ForEachRecord(raw, &h, batch.DecodeOptions{}, func(r *batch.Record) error {
			o, rts := h.BaseOffset+int64(r.OffsetDelta), h.BaseTimestamp+r.TimestampDelta
			if logAppend {
				rts = h.MaxTimestamp
			}
			if o >= off && rts >= ts {
				offset, timestamp = o, rts
				return errFound
			}
			return nil
		})
		if errors.Is(err, errFound) {
			return offset, timestamp, true, nil
		}
		if err != nil {
			return -1, -1, false, fmt.Errorf("%w: remote batch at %d: %w", ErrRemoteUnavailable, h.BaseOffset, err)
		}
	}
	// The index pointed at data the read did not cover: fall back to the
	// local log, which holds everything newer.
	return p.log.OffsetForTimestamp(ts)
}

// AbortedTxns returns the aborted transactions a read_committed fetch of
// [from, upper) needs: those whose first offset is below upper and whose
// ABORT marker is at or after from, from the remote tier's indexes for
// offsets below the local log start and from the local log's. A remote
// segment's index entries carry the last stable offset after each abort:
// once one reaches upper no transaction open before upper can end later,
// so the walk stops there instead of reading every later index (as
// Kafka's collectAbortedTransactions does).
func (p *Partition) AbortedTxns(ctx context.Context, from, upper int64) ([]storage.AbortedTxn, error) {
	t := p.mgr.tier
	if t == nil || from >= p.log.LogStartOffset() {
		return p.log.AbortedTxns(from, upper), nil
	}
	var out []storage.AbortedTxn
	complete, remoteEnd := false, from
	var perr error
	err := t.TxnIndexes(ctx, p.tp(), from, func(x fetch.TxnIndex) bool {
		entries, err := storage.ParseTxnIndex(x.Data, x.BaseOffset, x.LastOffset+1)
		if err != nil {
			perr = fmt.Errorf("%w: remote segment at %d: %w", fetch.ErrCorrupt, x.BaseOffset, err)
			return false
		}
		for _, a := range entries {
			if a.LastOffset >= from && a.FirstOffset < upper {
				out = append(out, a)
			}
			complete = complete || a.LastStableOffset >= upper
		}
		remoteEnd = x.LastOffset + 1
		return !complete
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRemoteUnavailable, err)
	}
	if !complete {
		// Later markers are in the local log, at or after remoteEnd
		// (local segments below it, kept by local retention, repeat
		// what the remote walk saw).
		out = append(out, p.log.AbortedTxns(max(from, remoteEnd), upper)...)
	}
	return out, nil
}
