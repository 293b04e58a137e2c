package groups

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/batch"
)

// loadReadBytes is how much of the log one read asks for.
const loadReadBytes = 1 << 20

// LoadStats describes what Load did.
type LoadStats struct {
	Groups      int // groups rebuilt
	Offsets     int // committed offsets rebuilt
	RecordsRead int // records replayed from the logs
}

// Load opens the logs and rebuilds every group from its partition of
// __consumer_offsets, reading each log from its start to its end. Records
// that do not decode are skipped with a warning: the topic's bytes are
// untrusted. Once it has succeeded, later calls do nothing.
//
// A clustered coordinator only opens the logs: every shard stays inactive
// until SetLeadership loads it.
func (c *Coordinator) Load() (LoadStats, error) {
	var st LoadStats
	if c.shards.Load() != nil {
		return st, nil
	}
	c.openMu.Lock()
	defer c.openMu.Unlock()
	if c.shards.Load() != nil {
		return st, nil
	}
	logs, err := c.open()
	if err != nil {
		return st, fmt.Errorf("open __consumer_offsets: %w", err)
	}
	shards := make([]*shard, len(logs))
	for i, l := range logs {
		s := &shard{c: c, idx: int32(i), lg: l, groups: map[string]*group{}}
		shards[i] = s
		if c.cfg.Clustered {
			continue
		}
		s.state = active
		n, err := s.load()
		st.RecordsRead += n
		if err != nil {
			return st, err
		}
		for _, g := range s.groups {
			st.Groups++
			st.Offsets += len(g.offsets)
		}
	}
	if len(shards) == 0 {
		return st, fmt.Errorf("open __consumer_offsets: no partitions")
	}
	c.shards.Store(&shards)
	return st, nil
}

// SetLeadership tells a clustered coordinator that this broker now leads
// (leader=true) or no longer leads partition of __consumer_offsets.
//
// Gaining leadership opens the logs if needed, then replays the
// partition's log into fresh state, replacing whatever the shard held
// (its log may have changed under another leader), and activates the
// shard; requests meanwhile answer COORDINATOR_LOAD_IN_PROGRESS. Losing
// it deactivates the shard: waiting JoinGroup and SyncGroup requests of
// its groups answer NOT_COORDINATOR, its groups are dropped from memory,
// and later requests answer NOT_COORDINATOR.
//
// Calls are expected from one goroutine, in the order leadership changed;
// they are safe concurrently with requests. A failed load leaves the
// shard inactive and is logged. A single-node coordinator serves every
// partition and ignores the call.
func (c *Coordinator) SetLeadership(partition int32, leader bool) {
	if !c.cfg.Clustered {
		c.log.Warn("leadership change ignored: the group coordinator is not clustered", "partition", partition, "leader", leader)
		return
	}
	if !leader {
		all := c.allShards()
		if partition < 0 || int(partition) >= len(all) {
			return // never opened (or unknown): nothing is served
		}
		s := all[partition]
		s.mu.Lock()
		s.term++
		was := s.state
		n := s.resign()
		s.mu.Unlock()
		if was != inactive {
			c.log.Info("stopped coordinating groups: not the leader of the partition any more", "partition", partition, "groups", n)
		}
		return
	}
	if err := c.Ensure(); err != nil {
		c.log.Error("cannot coordinate groups of the partition now led here", "partition", partition, "err", err)
		return
	}
	all := c.allShards()
	if partition < 0 || int(partition) >= len(all) {
		c.log.Warn("leadership of an unknown partition of __consumer_offsets", "partition", partition, "partitions", len(all))
		return
	}
	// The logs were resolved when first opened; serve the partition the
	// topic manager holds now, in case it was opened again since.
	logs, err := c.open()
	if err == nil && int(partition) >= len(logs) {
		err = fmt.Errorf("__consumer_offsets has %d partitions now", len(logs))
	}
	if err != nil {
		c.log.Error("cannot coordinate groups of the partition now led here", "partition", partition, "err", err)
		return
	}
	s, lg := all[partition], logs[partition]
	s.mu.Lock()
	s.term++
	term := s.term
	s.resign()
	s.lg = lg
	s.state = loading
	s.mu.Unlock()

	// Replay outside the lock: a loading shard answers requests at once
	// and Tick skips it; nothing else touches its log meanwhile.
	started := time.Now()
	fresh := &shard{c: c, idx: s.idx, lg: lg, groups: map[string]*group{}}
	records, err := fresh.load()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.term != term {
		return // leadership changed again during the load
	}
	if err != nil {
		s.state = inactive
		c.log.Error("cannot load the groups of a partition led here; not coordinating them", "partition", partition, "err", err)
		return
	}
	s.groups, s.txns, s.logRecords, s.state = fresh.groups, fresh.txns, fresh.logRecords, active
	offsets := 0
	for _, g := range s.groups {
		offsets += len(g.offsets)
	}
	c.log.Info("coordinating groups of the partition led here", "partition", partition, "groups", len(s.groups), "offsets", offsets, "records", records, "took", time.Since(started).Round(time.Millisecond))
}

// resign answers every waiting JoinGroup and SyncGroup with
// NOT_COORDINATOR, drops the groups and deactivates the shard. It returns
// how many groups were dropped. Callers hold s.mu.
func (s *shard) resign() int {
	n := len(s.groups)
	for _, g := range s.groups {
		for _, m := range g.members {
			s.failWaiters(m, ErrNotCoordinator.Code)
		}
	}
	s.groups = map[string]*group{}
	s.txns = nil
	s.logRecords = 0
	s.state = inactive
	return n
}

func (s *shard) load() (int, error) {
	now := s.c.clock.Now()
	metas := map[string][]byte{}
	read := 0
	readAt := func(off int64) ([]byte, error) { return s.lg.Read(off, loadReadBytes) }
	err := batch.Scan(readAt, s.lg.Start(), s.lg.End(), func(h *batch.Header, raw []byte) error {
		if h.IsControl() {
			read++
			s.replayControl(h, raw)
			return nil
		}
		recs, err := batch.Records(raw, h, batch.DecodeOptions{})
		if err != nil {
			s.c.log.Warn("skipping undecodable batch of __consumer_offsets", "partition", s.idx, "offset", h.BaseOffset, "err", err)
			return nil
		}
		if h.IsTransactional() {
			read += s.replayTxnBatch(h, recs, now)
			return nil
		}
		for i := range recs {
			read++
			s.replay(recs[i].Key, recs[i].Value, metas, now)
		}
		return nil
	})
	if err != nil {
		return read, fmt.Errorf("load __consumer_offsets-%d: %w", s.idx, err)
	}
	for id, v := range metas {
		g := s.groupFor(id, now)
		if err := restoreGroup(g, v, now); err != nil {
			s.c.log.Warn("skipping undecodable group metadata", "group", id, "err", err)
		}
	}
	for id, g := range s.groups {
		if len(g.members) == 0 && len(g.offsets) == 0 && g.metaValue == nil && len(g.txn) == 0 {
			delete(s.groups, id)
		}
	}
	s.logRecords = read
	return read, nil
}

func (s *shard) groupFor(id string, now time.Time) *group {
	g := s.groups[id]
	if g == nil {
		g = newGroup(id, now)
		s.groups[id] = g
	}
	return g
}

// replay applies one record; group metadata is collected in metas and
// applied at the end, only its last value matters.
func (s *shard) replay(key, value []byte, metas map[string][]byte, now time.Time) {
	if len(key) < 2 {
		return
	}
	switch binary.BigEndian.Uint16(key) {
	case 0, 1:
		k, o, ok := s.decodeOffset(key, value)
		if !ok {
			return
		}
		t := tp{k.Topic, k.Partition}
		if o == nil {
			if g := s.groups[k.Group]; g != nil {
				delete(g.offsets, t)
			}
			return
		}
		s.groupFor(k.Group, now).offsets[t] = *o
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(key); err != nil {
			s.c.log.Warn("skipping undecodable group key", "partition", s.idx, "err", err)
			return
		}
		if value == nil {
			delete(metas, k.Group)
			// A deleted group loses its offsets too: DeleteGroups writes
			// their tombstones first, this clears what is left in memory.
			if g := s.groups[k.Group]; g != nil {
				g.metaValue = nil
			}
			return
		}
		metas[k.Group] = value
	}
}

// decodeOffset decodes an offset commit record; o is nil for a
// tombstone, ok false (logged) when it does not decode.
func (s *shard) decodeOffset(key, value []byte) (k kmsg.OffsetCommitKey, o *offset, ok bool) {
	if len(key) < 2 || binary.BigEndian.Uint16(key) > 1 {
		return k, nil, false
	}
	if err := k.ReadFrom(key); err != nil {
		s.c.log.Warn("skipping undecodable offset key", "partition", s.idx, "err", err)
		return k, nil, false
	}
	if value == nil {
		return k, nil, true
	}
	var v kmsg.OffsetCommitValue
	if err := checkValueVersion(value, offsetValueVersion); err != nil {
		s.c.log.Warn("skipping offset value", "partition", s.idx, "group", k.Group, "err", err)
		return k, nil, false
	}
	if err := v.ReadFrom(value); err != nil {
		s.c.log.Warn("skipping undecodable offset value", "partition", s.idx, "group", k.Group, "err", err)
		return k, nil, false
	}
	return k, &offset{offset: v.Offset, leaderEpoch: v.LeaderEpoch, metadata: v.Metadata, commitTime: v.CommitTimestamp}, true
}

// restoreGroup rebuilds g from its last GroupMetadata value. Members come
// back as of their last generation, with fresh sessions: a client still
// heartbeating keeps its membership across the restart.
func restoreGroup(g *group, value []byte, now time.Time) error {
	var v kmsg.GroupMetadataValue
	if err := checkValueVersion(value, groupValueVersion); err != nil {
		return err
	}
	if err := v.ReadFrom(value); err != nil {
		return err
	}
	g.metaValue = value
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	if v.Leader != nil {
		g.leader = *v.Leader
	}
	for i, vm := range v.Members {
		m := &member{
			id: vm.MemberID, clientID: vm.ClientID, host: vm.ClientHost,
			sessionTimeout:   time.Duration(vm.SessionTimeoutMillis) * time.Millisecond,
			rebalanceTimeout: time.Duration(vm.RebalanceTimeoutMillis) * time.Millisecond,
			protocolType:     v.ProtocolType,
			protocols:        []kmsg.JoinGroupRequestProtocol{{Name: g.protocol, Metadata: vm.Subscription}},
			assignment:       vm.Assignment,
			seq:              uint64(i),
		}
		if m.rebalanceTimeout <= 0 {
			m.rebalanceTimeout = m.sessionTimeout
		}
		m.deadline = now.Add(m.sessionTimeout)
		if vm.InstanceID != nil {
			m.instanceID = *vm.InstanceID
			g.instances[m.instanceID] = m.id
		}
		g.members[m.id] = m
	}
	g.nextSeq = uint64(len(v.Members))
	if len(g.members) > 0 {
		if _, ok := g.members[g.leader]; !ok {
			g.leader = g.sortedMembers()[0].id
		}
		g.setState(Stable, now)
	} else {
		// Offsets retention counts from when the group became empty,
		// not from this load.
		since := now
		if v.CurrentStateTimestamp > 0 && v.CurrentStateTimestamp < now.UnixMilli() {
			since = time.UnixMilli(v.CurrentStateTimestamp)
		}
		g.setState(Empty, since)
	}
	return nil
}

// checkValueVersion refuses a value of a version above the newest this
// broker writes (every record of __consumer_offsets is Kafki's own). Such
// a value is corrupt or from a newer Kafki, and the flexible versions
// (4+) must not reach kmsg's decoder: a tagged-field count read from a
// corrupt value is trusted there, and a large one loops for minutes over
// an exhausted buffer, stalling the load of the whole partition.
func checkValueVersion(value []byte, newest int16) error {
	if len(value) < 2 {
		return errors.New("value too short for its version")
	}
	if v := int16(binary.BigEndian.Uint16(value)); v < 0 || v > newest {
		return fmt.Errorf("value version %d: this broker reads versions 0 to %d", v, newest)
	}
	return nil
}
