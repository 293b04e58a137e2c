package groups

// Transactional offset commits (TxnOffsetCommit) and the transaction
// markers that complete them; see "Transactional offsets" in doc.go.

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/batch"
)

// openTxn is a producer's open transaction in a shard: the log offset of
// its first transactional batch there (a snapshot keeps the log from it)
// and the groups it committed offsets for.
type openTxn struct {
	first  int64
	groups map[string]struct{}
}

// TxnOffsetCommit handles a TxnOffsetCommit request whose producer the
// caller has verified with the transaction coordinator: the group's
// offsets partition is in the producer's open transaction (KIP-890 part
// 1). The valid partitions are appended as one transactional batch of
// the producer and kept pending: OffsetFetch does not see them until the
// transaction's COMMIT marker (WriteTxnMarker) and an ABORT drops them.
// From v3 the member fields are checked as OffsetCommit's.
func (c *Coordinator) TxnOffsetCommit(req *kmsg.TxnOffsetCommitRequest) *kmsg.TxnOffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	codes := make([][]int16, len(req.Topics))
	for i, t := range req.Topics {
		codes[i] = make([]int16, len(t.Partitions))
	}
	defer func() {
		for i, t := range req.Topics {
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for j, p := range t.Partitions {
				rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, codes[i][j]
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	}()
	code := c.txnOffsetCommit(req, codes)
	if code != 0 {
		for i := range codes {
			for j := range codes[i] {
				codes[i][j] = code
			}
		}
	}
	return resp
}

// txnOffsetCommit fills codes per partition, or returns the code of the
// whole request.
func (c *Coordinator) txnOffsetCommit(req *kmsg.TxnOffsetCommitRequest, codes [][]int16) int16 {
	if req.Group == "" {
		return ErrInvalidGroupID.Code
	}
	s, code := c.serve(req.Group, true)
	if code != 0 {
		return code
	}
	defer s.mu.Unlock()
	now := c.clock.Now()
	g := s.groups[req.Group]
	if req.Version >= 3 && (req.Generation >= 0 || req.MemberID != "" || req.InstanceID != nil) {
		// A consumer's commit (KIP-447): it must still be a member of
		// the group's current generation. One without these fields
		// (a producer committing for a group it does not belong to, or
		// v0-v2) is not checked, as in Kafka.
		check := g
		if check == nil {
			check = newGroup(req.Group, now)
		}
		if _, code := check.checkCommitter(req.MemberID, req.InstanceID, req.Generation); code != 0 {
			return code
		}
	}
	type valid struct {
		t tp
		o offset
	}
	var ok []valid
	var kvs []kv
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			if codes[i][j] = c.checkOffset(t.Topic, p.Partition, p.Offset, p.Metadata); codes[i][j] != 0 {
				continue
			}
			o := offset{offset: p.Offset, leaderEpoch: p.LeaderEpoch, commitTime: now.UnixMilli()}
			if p.Metadata != nil {
				o.metadata = *p.Metadata
			}
			key := tp{t.Topic, p.Partition}
			ok = append(ok, valid{key, o})
			kvs = append(kvs, kv{offsetKey(req.Group, key), offsetValue(o)})
		}
	}
	if len(ok) == 0 {
		return 0
	}
	// Registered before the write: if it fails, its records may still
	// be in the log, and a snapshot must keep them until the marker.
	s.openTxn(req.ProducerID, s.lg.End(), req.Group)
	// Written and committed under the shard's lock, unlike OffsetCommit:
	// the pending offsets then exist in memory before any marker of the
	// producer can be applied (WriteTxnMarker takes the lock too), so a
	// marker never misses offsets already in the log before it.
	opts := batch.BuildOptions{ProducerID: req.ProducerID, HasProducer: true, ProducerEpoch: req.ProducerEpoch, BaseSequence: -1, Transactional: true}
	wait, err := s.append(encodeRecordSetWith(kvs, now, opts))
	if err == nil {
		err = wait()
	}
	s.logRecords += len(kvs)
	s.seq++
	if err != nil {
		c.log.Warn("transactional offset commit not persisted", "group", req.Group, "producer.id", req.ProducerID, "err", err)
		code := appendErrCode(err)
		for i := range codes {
			for j := range codes[i] {
				if codes[i][j] == 0 {
					codes[i][j] = code
				}
			}
		}
		return 0
	}
	if g == nil {
		g = newGroup(req.Group, now)
		s.groups[req.Group] = g
	}
	for _, p := range ok {
		g.addTxnOffset(req.ProducerID, p.t, p.o)
	}
	s.afterWrite()
	return 0
}

// openTxn records that producer pid wrote to the shard at log offset off
// for group.
func (s *shard) openTxn(pid, off int64, group string) {
	if s.txns == nil {
		s.txns = map[int64]*openTxn{}
	}
	t := s.txns[pid]
	if t == nil {
		t = &openTxn{first: off, groups: map[string]struct{}{}}
		s.txns[pid] = t
	}
	t.groups[group] = struct{}{}
}

// addTxnOffset keeps o pending for producer pid.
func (g *group) addTxnOffset(pid int64, t tp, o offset) {
	if g.txn == nil {
		g.txn = map[int64]map[tp]offset{}
	}
	m := g.txn[pid]
	if m == nil {
		m = map[tp]offset{}
		g.txn[pid] = m
	}
	m[t] = o
}

// hasTxnOffset reports whether a transaction holds a pending offset of t.
func (g *group) hasTxnOffset(t tp) bool {
	for _, m := range g.txn {
		if _, ok := m[t]; ok {
			return true
		}
	}
	return false
}

// WriteTxnMarker writes the COMMIT (commit) or ABORT marker of producer
// pid's transaction at epoch to partition of __consumer_offsets, and
// applies it to the partition's groups: committed, the producer's pending
// offsets become the groups' offsets; aborted, they are dropped. It is
// how the transaction coordinator (or WriteTxnMarkers) ends a
// transaction on a partition of __consumer_offsets, instead of appending
// the marker to the partition itself: the marker and its effect happen
// under the shard's lock, so no write of the shard (a snapshot, a later
// TxnOffsetCommit) falls between them, and memory stays what a replay of
// the log gives. It returns once the marker is committed; an error leaves
// memory unchanged and is for the caller to retry (a marker repeated is
// harmless: the second one finds nothing pending).
func (c *Coordinator) WriteTxnMarker(ctx context.Context, partition int32, pid int64, epoch int16, commit bool, coordinatorEpoch int32) error {
	if !c.cfg.Clustered {
		if err := c.Ensure(); err != nil {
			return fmt.Errorf("%w: %w", ErrCoordinatorNotAvail, err)
		}
	}
	all := c.allShards()
	if partition < 0 || int(partition) >= len(all) {
		return fmt.Errorf("%w: __consumer_offsets-%d is not open here", ErrNotCoordinator, partition)
	}
	s := all[partition]
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case active:
	case loading:
		return fmt.Errorf("%w: __consumer_offsets-%d", ErrLoadInProgress, partition)
	default:
		return fmt.Errorf("%w: __consumer_offsets-%d is not led here", ErrNotCoordinator, partition)
	}
	w, err := s.lg.AppendMarker(pid, epoch, commit, coordinatorEpoch)
	if err == nil {
		wctx, cancel := context.WithTimeout(ctx, s.commitTimeout())
		err = w(wctx)
		cancel()
	}
	if err != nil {
		return fmt.Errorf("marker of producer %d to __consumer_offsets-%d: %w", pid, partition, err)
	}
	s.logRecords++
	s.seq++
	s.completeTxn(pid, commit, true)
	s.afterWrite()
	return nil
}

func (s *shard) commitTimeout() time.Duration {
	if t := s.c.cfg.CommitTimeout; t > 0 {
		return t
	}
	return DefaultConfig().CommitTimeout
}

// completeTxn applies the marker of producer pid, written or replayed;
// live says the shard's in-flight commits must learn of the keys it set
// (a commit written before the marker must not overwrite them when it
// lands). Callers hold s.mu.
func (s *shard) completeTxn(pid int64, commit bool, live bool) {
	t := s.txns[pid]
	if t == nil {
		return
	}
	delete(s.txns, pid)
	for id := range t.groups {
		g := s.groups[id]
		if g == nil {
			continue
		}
		pending := g.txn[pid]
		delete(g.txn, pid)
		if !commit {
			continue
		}
		for k, o := range pending {
			g.offsets[k] = o
			if live && s.pending > 0 {
				if s.written == nil {
					s.written = map[string]uint64{}
				}
				s.written[string(offsetKey(id, k))] = s.seq
			}
		}
	}
}

// replayTxnBatch replays a transactional batch: its offsets are pending
// for the producer until a marker of it follows.
func (s *shard) replayTxnBatch(h *batch.Header, recs []batch.Record, now time.Time) int {
	n := 0
	for i := range recs {
		n++
		k, o, ok := s.decodeOffset(recs[i].Key, recs[i].Value)
		if !ok || o == nil {
			continue // only offsets are transactional
		}
		s.openTxn(h.ProducerID, h.BaseOffset, k.Group)
		s.groupFor(k.Group, now).addTxnOffset(h.ProducerID, tp{k.Topic, k.Partition}, *o)
	}
	return n
}

// replayControl replays a transaction marker.
func (s *shard) replayControl(h *batch.Header, raw []byte) {
	t, err := batch.ParseControl(raw, h)
	if err != nil {
		s.c.log.Warn("skipping undecodable control batch of __consumer_offsets", "partition", s.idx, "offset", h.BaseOffset, "err", err)
		return
	}
	switch t {
	case batch.ControlCommit, batch.ControlAbort:
		s.completeTxn(h.ProducerID, t == batch.ControlCommit, false)
	}
}

// errTxnPending refuses to delete a group a transaction holds pending
// offsets of: its COMMIT would then find no group to give them to.
var errTxnPending = fmt.Errorf("%w: a transaction has pending offsets for the group", kerr.NonEmptyGroup)
