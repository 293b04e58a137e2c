package groups

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/batch"
)

// Record key versions of __consumer_offsets (Kafka's schemas): 0 and 1
// are offset commits, 2 is group metadata.
const (
	offsetKeyVersion   = 1
	offsetValueVersion = 3
	groupKeyVersion    = 2
	groupValueVersion  = 3
)

// Bounds of one batch the coordinator writes; the internal topic's
// max.message.bytes is the broker default (about 1 MiB).
const (
	maxBatchRecords = 500
	maxBatchBytes   = 512 << 10
)

// kv is one record of __consumer_offsets; a nil value is a tombstone.
type kv struct{ key, value []byte }

func offsetKey(group string, t tp) []byte {
	k := kmsg.OffsetCommitKey{Version: offsetKeyVersion, Group: group, Topic: t.topic, Partition: t.partition}
	return k.AppendTo(nil)
}

func offsetValue(o offset) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	v.Offset, v.LeaderEpoch, v.Metadata, v.CommitTimestamp = o.offset, o.leaderEpoch, o.metadata, o.commitTime
	return v.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: groupKeyVersion, Group: group}
	return k.AppendTo(nil)
}

// groupValue encodes g with the given assignments (nil: the current ones).
func groupValue(g *group, plan map[string][]byte, now time.Time) []byte {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupValueVersion
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocol != "" {
		v.Protocol = kmsg.StringPtr(g.protocol)
	}
	if g.leader != "" {
		v.Leader = kmsg.StringPtr(g.leader)
	}
	v.CurrentStateTimestamp = now.UnixMilli()
	for _, m := range g.sortedMembers() {
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID = m.id
		if m.instanceID != "" {
			vm.InstanceID = kmsg.StringPtr(m.instanceID)
		}
		vm.ClientID, vm.ClientHost = m.clientID, m.host
		vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout.Milliseconds())
		vm.SessionTimeoutMillis = int32(m.sessionTimeout.Milliseconds())
		vm.Subscription = m.metadataFor(g.protocol)
		vm.Assignment = m.assignment
		if plan != nil {
			vm.Assignment = plan[m.id]
		}
		if vm.Subscription == nil {
			vm.Subscription = []byte{}
		}
		if vm.Assignment == nil {
			vm.Assignment = []byte{}
		}
		v.Members = append(v.Members, vm)
	}
	return v.AppendTo(nil)
}

// encodeRecordSet packs kvs into as many v2 batches as needed.
func encodeRecordSet(kvs []kv, now time.Time) []byte {
	return encodeRecordSetWith(kvs, now, batch.BuildOptions{})
}

// encodeRecordSetWith is encodeRecordSet with the batches' producer
// fields and attributes from opts (a producer's transactional batches).
func encodeRecordSetWith(kvs []kv, now time.Time, opts batch.BuildOptions) []byte {
	opts.BaseTimestamp = now.UnixMilli()
	var out []byte
	var recs []batch.Record
	size := 0
	flush := func() {
		if len(recs) > 0 {
			out = append(out, batch.Build(recs, opts)...)
			recs, size = recs[:0], 0
		}
	}
	for _, r := range kvs {
		if len(recs) >= maxBatchRecords || size+len(r.key)+len(r.value) > maxBatchBytes {
			flush()
		}
		recs = append(recs, batch.Record{Key: r.key, Value: r.value})
		size += len(r.key) + len(r.value) + 16
	}
	flush()
	return out
}

// appendRecords writes kvs to the shard's log. Callers hold s.mu and apply
// the change in memory only when it succeeds, then call afterWrite.
func (s *shard) appendRecords(kvs []kv) error {
	wait, _, err := s.writeRecords(kvs)
	if err != nil {
		return err
	}
	return wait()
}

// writeRecords appends kvs and returns the wait for their commit (at most
// Config.CommitTimeout) and the write's sequence number. Callers hold
// s.mu: the shard's writes stay in the order memory changes, as a
// leader's log must. While commits are pending (OffsetCommit waits
// outside the lock), every key written is recorded with the sequence of
// its last write, so a pending commit applies only keys nobody wrote
// after it.
func (s *shard) writeRecords(kvs []kv) (wait func() error, seq uint64, err error) {
	if len(kvs) == 0 {
		return func() error { return nil }, 0, nil
	}
	w, err := s.append(encodeRecordSet(kvs, s.c.clock.Now()))
	if err != nil {
		return nil, 0, err
	}
	s.logRecords += len(kvs)
	s.seq++
	if s.pending > 0 {
		if s.written == nil {
			s.written = map[string]uint64{}
		}
		for _, r := range kvs {
			s.written[string(r.key)] = s.seq
		}
	}
	return w, s.seq, nil
}

// append writes a record set; the returned wait gives the partition's
// in-sync replicas at most Config.CommitTimeout to copy it.
func (s *shard) append(records []byte) (func() error, error) {
	w, err := s.lg.Append(records)
	if err != nil {
		return nil, fmt.Errorf("append to __consumer_offsets-%d: %w", s.idx, err)
	}
	return func() error {
		timeout := s.c.cfg.CommitTimeout
		if timeout <= 0 {
			timeout = DefaultConfig().CommitTimeout
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := w(ctx); err != nil {
			return fmt.Errorf("append to __consumer_offsets-%d: %w", s.idx, err)
		}
		return nil
	}, nil
}

// newestInFlight reports whether the last write of g's offset of t is a
// commit still in flight.
func (s *shard) newestInFlight(g *group, t tp) bool {
	e := g.inflight[t]
	return e != nil && s.written[string(offsetKey(g.id, t))] == e.seq
}

// writeGroup persists g's metadata with plan as the assignments.
func (s *shard) writeGroup(g *group, plan map[string][]byte, now time.Time) error {
	v := groupValue(g, plan, now)
	if err := s.appendRecords([]kv{{groupKey(g.id), v}}); err != nil {
		return err
	}
	g.metaValue = v
	return nil
}

// liveKeys counts the keys a snapshot would write.
func (s *shard) liveKeys() int {
	n := 0
	for _, g := range s.groups {
		n += len(g.offsets)
		if g.metaValue != nil {
			n++
		}
	}
	return n
}

// afterWrite snapshots the shard when its log has grown well past its
// live state (see doc.go). Callers hold s.mu.
func (s *shard) afterWrite() {
	if s.logRecords <= 2*s.liveKeys()+s.c.cfg.SnapshotMinRecords {
		return
	}
	if err := s.snapshot(); err != nil {
		s.c.log.Warn("snapshot of group state failed; the log keeps growing until the next try", "partition", s.idx, "err", err)
	}
}

// snapshot rewrites the live state after a roll and drops what precedes
// it. A failure at any step leaves a log that still replays to the
// current state.
func (s *shard) snapshot() error {
	now := s.c.clock.Now()
	if err := s.lg.Roll(); err != nil {
		return fmt.Errorf("roll: %w", err)
	}
	start := s.lg.End()
	var kvs []kv
	for _, g := range s.groups {
		if g.metaValue != nil {
			kvs = append(kvs, kv{groupKey(g.id), g.metaValue})
		}
		for t, o := range g.offsets {
			if !s.newestInFlight(g, t) {
				kvs = append(kvs, kv{offsetKey(g.id, t), offsetValue(o)})
			}
		}
		// A commit in flight is the newest value of its key unless a
		// later write (a tombstone) came after it; it may yet fail, but
		// its record is in the log already, which a load would replay.
		for t, e := range g.inflight {
			if s.newestInFlight(g, t) {
				kvs = append(kvs, kv{offsetKey(g.id, t), offsetValue(e.o)})
			}
		}
	}
	if len(kvs) > 0 {
		wait, err := s.append(encodeRecordSet(kvs, now))
		if err == nil {
			err = wait()
		}
		if err != nil {
			return fmt.Errorf("write snapshot: %w", err)
		}
	}
	// The batches of open transactions stay in the log, with everything
	// after them: their offsets are pending until a marker that a load
	// must be able to pair with them. Replaying that tail before the
	// snapshot gives the same state (the snapshot rewrites every live
	// key after it).
	cut := start
	for _, t := range s.txns {
		cut = min(cut, t.first)
	}
	if err := s.lg.DeleteBefore(cut); err != nil {
		return fmt.Errorf("drop records before the snapshot: %w", err)
	}
	// The kept tail of open transactions is not counted: it is bounded
	// by their timeout, and counting it would snapshot again at every
	// write until they end.
	s.logRecords = len(kvs)
	s.c.log.Debug("group state snapshotted", "partition", s.idx, "records", len(kvs), "start", start)
	return nil
}
