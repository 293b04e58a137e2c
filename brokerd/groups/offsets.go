package groups

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetCommit handles an OffsetCommit request. Every valid partition is
// written to the log in one append before the response; a partition with
// an error is not written, and a group-level error writes nothing.
func (c *Coordinator) OffsetCommit(req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	codes := make([][]int16, len(req.Topics))
	for i, t := range req.Topics {
		codes[i] = make([]int16, len(t.Partitions))
	}
	fill := func() *kmsg.OffsetCommitResponse {
		for i, t := range req.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for j, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = codes[i][j]
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	all := func(code int16) *kmsg.OffsetCommitResponse {
		for i := range codes {
			for j := range codes[i] {
				codes[i][j] = code
			}
		}
		return fill()
	}
	if req.Group == "" {
		return all(ErrInvalidGroupID.Code)
	}
	s, code := c.serve(req.Group, true)
	if code != 0 {
		return all(code)
	}
	defer s.mu.Unlock()
	now := c.clock.Now()
	g := s.groups[req.Group]
	var m *member
	switch {
	case g == nil && req.Generation >= 0:
		// A member's commit to a group that does not exist (expired,
		// deleted, or a coordinator that lost it). As Kafka's
		// coordinator: GROUP_ID_NOT_FOUND from v9 on, which both group
		// protocols understand, ILLEGAL_GENERATION before, which older
		// clients answer by rejoining.
		if req.Version >= 9 {
			return all(ErrGroupIDNotFound.Code)
		}
		return all(ErrIllegalGeneration.Code)
	case g == nil:
		// Generation -1 (any member id): a simple group is created, as
		// Kafka creates one for the admin client or a consumer without
		// group management.
	case req.Generation < 0 && g.state == Empty:
		// A commit without group management (kadm, standalone consumers).
	default:
		var code int16
		if m, code = g.checkCommitter(req.MemberID, req.InstanceID, req.Generation); code != 0 {
			return all(code)
		}
		if g.state == CompletingRebalance {
			return all(ErrRebalanceInProgress.Code)
		}
	}
	type pending struct {
		i, j int
		t    tp
		o    offset
	}
	var ok []pending
	var kvs []kv
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			if codes[i][j] = c.checkOffset(t.Topic, p.Partition, p.Offset, p.Metadata); codes[i][j] == 0 {
				o := offset{offset: p.Offset, leaderEpoch: p.LeaderEpoch, commitTime: now.UnixMilli()}
				if p.Metadata != nil {
					o.metadata = *p.Metadata
				}
				key := tp{t.Topic, p.Partition}
				ok = append(ok, pending{i, j, key, o})
				kvs = append(kvs, kv{offsetKey(req.Group, key), offsetValue(o)})
			}
		}
	}
	failed := func(err error) *kmsg.OffsetCommitResponse {
		c.log.Warn("offset commit not persisted", "group", req.Group, "err", err)
		code := appendErrCode(err)
		for _, p := range ok {
			codes[p.i][p.j] = code
		}
		return fill()
	}
	if len(ok) == 0 {
		return fill()
	}
	// Write under the shard's lock (the log's order is memory's), but
	// wait for the in-sync replicas without it, so one slow commit does
	// not stall every other group of the shard.
	s.pending++
	wait, seq, err := s.writeRecords(kvs)
	if err != nil {
		s.donePending()
		return failed(err)
	}
	if g == nil {
		g = newGroup(req.Group, now)
		s.groups[req.Group] = g
	}
	for _, p := range ok {
		e := g.inflight[p.t]
		if e == nil {
			e = &inflightOffset{}
			g.inflight[p.t] = e
		}
		e.n, e.o, e.seq = e.n+1, p.o, seq
	}
	term := s.term
	s.mu.Unlock()
	err = wait()
	s.mu.Lock()
	for _, p := range ok {
		e := g.inflight[p.t]
		if e.n--; e.n == 0 {
			delete(g.inflight, p.t)
		}
	}
	if err != nil {
		s.donePending()
		return failed(err)
	}
	// The commit is durable. Memory takes it unless the shard moved on
	// (another leader loads it from the log), the group was deleted or
	// replaced meanwhile (its deletion followed this commit in the log),
	// or a later write of the same key will apply instead.
	if s.term == term && s.groups[req.Group] == g {
		for i, p := range ok {
			if s.written[string(kvs[i].key)] == seq {
				g.offsets[p.t] = p.o
			}
		}
		if m != nil {
			m.deadline = now.Add(m.sessionTimeout)
		}
	}
	s.donePending()
	if s.term == term { // still this leadership's log
		s.afterWrite()
	}
	return fill()
}

// checkCommitter validates a commit's member fields against g, as
// Kafka's validateOffsetCommit: a static member replaced under its
// instance id is FENCED_INSTANCE_ID, an unknown member (or a generation
// without one) UNKNOWN_MEMBER_ID, another generation ILLEGAL_GENERATION.
// Unlike checkMember (JoinGroup's followers), a commit naming no member
// is judged by its generation alone. It returns the member, nil for a
// commit without one.
func (g *group) checkCommitter(memberID string, instanceID *string, generation int32) (*member, int16) {
	if instanceID != nil {
		if id, ok := g.instances[*instanceID]; ok && id != memberID {
			return nil, ErrFencedInstanceID.Code
		}
	}
	m := g.members[memberID]
	switch {
	case (memberID != "" || generation >= 0) && m == nil:
		return nil, ErrUnknownMemberID.Code
	case generation != g.generation:
		return nil, ErrIllegalGeneration.Code
	}
	return m, 0
}

// checkOffset is the error code of one partition's commit (OffsetCommit
// or TxnOffsetCommit), 0 when it may be written.
func (c *Coordinator) checkOffset(topic string, partition int32, off int64, metadata *string) int16 {
	end, known, exists := c.topics.PartitionEnd(topic, partition)
	switch {
	case !exists:
		return kerr.UnknownTopicOrPartition.Code
	case metadata != nil && len(*metadata) > c.cfg.MaxMetadataBytes:
		return kerr.OffsetMetadataTooLarge.Code
	case off < 0 || known && off > end:
		// Stricter than Kafka, which stores any offset: a position
		// outside the log cannot have been consumed. Beyond the end is
		// judged only where this broker knows the end (see
		// Topics.PartitionEnd).
		return kerr.OffsetOutOfRange.Code
	}
	return 0
}

// donePending ends one pending commit; with none left, the record of who
// wrote what is dropped. Called with s.mu held.
func (s *shard) donePending() {
	s.pending--
	if s.pending == 0 {
		clear(s.written)
	}
}

// TopicPartitions names partitions of a topic.
type TopicPartitions struct {
	Topic      string
	Partitions []int32
}

// CommittedOffset is a committed offset as OffsetFetch reports it; Offset
// is -1 when the group has none for the partition.
type CommittedOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	// Unstable: an open transaction has committed an offset of the
	// partition (TxnOffsetCommit) that is not visible yet; OffsetFetch
	// with require_stable answers UNSTABLE_OFFSET_COMMIT for it.
	Unstable bool
}

// FetchOffsets returns the group's committed offsets of the partitions in
// want, or every committed offset when want is nil.
func (c *Coordinator) FetchOffsets(groupID string, want []TopicPartitions) ([]CommittedOffset, error) {
	if groupID == "" {
		return nil, ErrInvalidGroupID
	}
	s, code := c.serve(groupID, false)
	if code != 0 {
		return nil, kerr.ErrorForCode(code)
	}
	if s == nil {
		if want == nil {
			return nil, nil
		}
		s = &shard{groups: map[string]*group{}} // nothing committed anywhere
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	g := s.groups[groupID]
	var out []CommittedOffset
	if want == nil {
		if g == nil {
			return nil, nil
		}
		for t, o := range g.offsets {
			out = append(out, CommittedOffset{t.topic, t.partition, o.offset, o.leaderEpoch, o.metadata, g.hasTxnOffset(t)})
		}
		sortOffsets(out)
		return out, nil
	}
	for _, w := range want {
		for _, p := range w.Partitions {
			co := CommittedOffset{Topic: w.Topic, Partition: p, Offset: -1, LeaderEpoch: -1}
			if g != nil {
				if o, ok := g.offsets[tp{w.Topic, p}]; ok {
					co.Offset, co.LeaderEpoch, co.Metadata = o.offset, o.leaderEpoch, o.metadata
				}
				co.Unstable = g.hasTxnOffset(tp{w.Topic, p})
			}
			out = append(out, co)
		}
	}
	return out, nil
}

// DeleteOffsets deletes committed offsets of a group (OffsetDelete). It
// returns a group-level error, or one code per requested partition.
// Offsets of topics the group's members subscribe to are kept
// (GROUP_SUBSCRIBED_TO_TOPIC).
func (c *Coordinator) DeleteOffsets(group string, want []TopicPartitions) ([][]int16, error) {
	if group == "" {
		return nil, ErrInvalidGroupID
	}
	s, code := c.serve(group, false)
	if code != 0 {
		return nil, kerr.ErrorForCode(code)
	}
	if s == nil {
		return nil, ErrGroupIDNotFound
	}
	defer s.mu.Unlock()
	g := s.groups[group]
	if g == nil {
		return nil, ErrGroupIDNotFound
	}
	subscribed, known := g.subscribedTopics()
	if len(g.members) > 0 && !known {
		return nil, ErrNonEmptyGroup
	}
	codes := make([][]int16, len(want))
	var kvs []kv
	var doomed []tp
	for i, w := range want {
		codes[i] = make([]int16, len(w.Partitions))
		for j, p := range w.Partitions {
			key := tp{w.Topic, p}
			switch {
			case len(g.members) > 0 && subscribed[w.Topic]:
				codes[i][j] = kerr.GroupSubscribedToTopic.Code
			default:
				if _, ok := g.offsets[key]; ok || g.inflight[key] != nil {
					kvs = append(kvs, kv{offsetKey(group, key), nil})
					doomed = append(doomed, key)
				}
			}
		}
	}
	if err := s.appendRecords(kvs); err != nil {
		c.log.Warn("offset delete not persisted", "group", group, "err", err)
		return nil, kerr.ErrorForCode(appendErrCode(err))
	}
	for _, t := range doomed {
		delete(g.offsets, t)
	}
	s.afterWrite()
	return codes, nil
}

// DeleteGroup deletes an empty group and its offsets (DeleteGroups).
func (c *Coordinator) DeleteGroup(group string) error {
	if group == "" {
		return ErrInvalidGroupID
	}
	s, code := c.serve(group, false)
	if code != 0 {
		return kerr.ErrorForCode(code)
	}
	if s == nil {
		return ErrGroupIDNotFound
	}
	defer s.mu.Unlock()
	g := s.groups[group]
	switch {
	case g == nil:
		return ErrGroupIDNotFound
	case g.state != Empty:
		return ErrNonEmptyGroup
	case len(g.txn) > 0:
		return errTxnPending
	}
	if err := s.deleteGroupLocked(g, groupTombstones(g)); err != nil {
		return kerr.ErrorForCode(appendErrCode(err))
	}
	return nil
}

// groupTombstones deletes every record of g, commits in flight included.
func groupTombstones(g *group) []kv {
	var kvs []kv
	for t := range g.offsets {
		kvs = append(kvs, kv{offsetKey(g.id, t), nil})
	}
	for t := range g.inflight {
		if _, ok := g.offsets[t]; !ok {
			kvs = append(kvs, kv{offsetKey(g.id, t), nil})
		}
	}
	if g.metaValue != nil {
		kvs = append(kvs, kv{groupKey(g.id), nil})
	}
	return kvs
}

func (s *shard) deleteGroupLocked(g *group, kvs []kv) error {
	if err := s.appendRecords(kvs); err != nil {
		s.c.log.Warn("group delete not persisted", "group", g.id, "err", err)
		return err
	}
	delete(s.groups, g.id)
	s.afterWrite()
	return nil
}

// ExpireOffsets removes the offsets of deleted topics, of groups Empty for
// longer than the retention, and of simple (unmanaged) groups committed
// longer ago than the retention; it deletes Empty groups left with none.
func (c *Coordinator) ExpireOffsets() {
	now := c.clock.Now()
	cutoff := now.Add(-c.cfg.OffsetsRetention).UnixMilli()
	for _, s := range c.allShards() {
		s.mu.Lock()
		if s.state != active {
			s.mu.Unlock()
			continue
		}
		for _, g := range s.groups {
			var kvs []kv
			var doomed []tp
			if len(g.inflight) > 0 || len(g.txn) > 0 {
				// A commit is landing, or a transaction is about to
				// give the group offsets: not expired.
				continue
			}
			emptyLong := g.state == Empty && g.stateSince.UnixMilli() <= cutoff
			for t, o := range g.offsets {
				_, _, exists := c.topics.PartitionEnd(t.topic, t.partition)
				expired := g.state == Empty && (g.protocolType != "" && emptyLong || g.protocolType == "" && o.commitTime <= cutoff)
				if !exists || expired {
					kvs = append(kvs, kv{offsetKey(g.id, t), nil})
					doomed = append(doomed, t)
				}
			}
			if g.state == Empty && len(doomed) == len(g.offsets) {
				if len(g.offsets) > 0 || g.metaValue != nil || len(g.pending) == 0 {
					if err := s.deleteGroupLocked(g, groupTombstones(g)); err == nil {
						c.log.Info("expired empty group", "group", g.id, "offsets", len(doomed))
					}
				}
				continue
			}
			if err := s.appendRecords(kvs); err != nil {
				c.log.Warn("offset expiry not persisted", "group", g.id, "err", err)
				continue
			}
			for _, t := range doomed {
				delete(g.offsets, t)
			}
			if len(doomed) > 0 {
				c.log.Info("expired offsets", "group", g.id, "offsets", len(doomed))
				s.afterWrite()
			}
		}
		s.mu.Unlock()
	}
}
