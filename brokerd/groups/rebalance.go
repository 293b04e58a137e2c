package groups

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// prepareRebalance moves g to PreparingRebalance: members must rejoin
// within the longest rebalance timeout. Callers hold s.mu.
func (s *shard) prepareRebalance(g *group, now time.Time, reason string) {
	if g.state == CompletingRebalance {
		// The assignment being distributed is void: waiting syncs learn
		// to rejoin.
		for _, m := range g.members {
			m.assignment = nil
			if m.syncWait != nil {
				m.syncWait <- syncErr(ErrRebalanceInProgress.Code)
				m.syncWait = nil
			}
		}
	}
	wasEmpty := g.state == Empty
	g.setState(PreparingRebalance, now)
	rt := g.maxRebalanceTimeout()
	g.joinDeadline = now.Add(rt)
	g.delaying = wasEmpty && s.c.cfg.InitialRebalanceDelay > 0
	g.delayUntil = now
	if g.delaying {
		g.delayUntil = now.Add(min(s.c.cfg.InitialRebalanceDelay, rt))
	}
	s.c.log.Debug("group rebalancing", "group", g.id, "reason", reason, "generation", g.generation, "members", len(g.members))
}

// tryCompleteJoin completes the join phase if everyone has rejoined and
// the initial delay has passed.
func (s *shard) tryCompleteJoin(g *group, now time.Time) {
	if g.state != PreparingRebalance || now.Before(g.delayUntil) || !g.allJoined() {
		return
	}
	s.completeJoin(g, now)
}

// completeJoin ends the join phase: members that did not rejoin are
// removed, a new generation starts, and every joined member gets its
// JoinGroup response (the leader with the members' metadata).
func (s *shard) completeJoin(g *group, now time.Time) {
	for id, m := range g.members {
		if m.joinWait == nil {
			s.c.log.Info("member removed: did not rejoin in time", "group", g.id, "member", id)
			s.dropMember(g, m)
		}
	}
	clear(g.pending)
	g.delaying = false
	g.generation++
	if len(g.members) == 0 {
		g.protocol, g.leader = "", ""
		g.setState(Empty, now)
		if err := s.writeGroup(g, nil, now); err != nil {
			s.c.log.Warn("could not persist empty group", "group", g.id, "err", err)
		}
		s.afterWrite()
		return
	}
	g.protocol = g.selectProtocol()
	if _, ok := g.members[g.leader]; !ok {
		g.leader = g.sortedMembers()[0].id
	}
	g.setState(CompletingRebalance, now)
	for _, m := range g.members {
		m.deadline = now.Add(m.sessionTimeout)
		r := s.currentJoinResponse(g, m, m.joinVersion)
		m.joinWait <- r
		m.joinWait = nil
	}
	s.c.log.Info("group rebalanced", "group", g.id, "generation", g.generation, "protocol", g.protocol, "members", len(g.members))
}

// currentJoinResponse is m's JoinGroup answer for the current generation;
// the leader also gets every member's metadata.
func (s *shard) currentJoinResponse(g *group, m *member, version int16) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.SetVersion(version)
	r.Generation = g.generation
	r.ProtocolType = kmsg.StringPtr(g.protocolType)
	r.Protocol = kmsg.StringPtr(g.protocol)
	r.LeaderID = g.leader
	r.MemberID = m.id
	if m.id == g.leader {
		for _, o := range g.sortedMembers() {
			jm := kmsg.NewJoinGroupResponseMember()
			jm.MemberID = o.id
			if o.instanceID != "" {
				jm.InstanceID = kmsg.StringPtr(o.instanceID)
			}
			jm.ProtocolMetadata = o.metadataFor(g.protocol)
			r.Members = append(r.Members, jm)
		}
	}
	return r
}

func joinErr(code int16, memberID string) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.ErrorCode = code
	r.Generation = -1
	r.MemberID = memberID
	return r
}

func syncErr(code int16) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupResponse()
	r.ErrorCode = code
	return r
}

// failWaiters answers m's pending JoinGroup or SyncGroup with code.
func (s *shard) failWaiters(m *member, code int16) {
	if m.joinWait != nil {
		m.joinWait <- joinErr(code, m.id)
		m.joinWait = nil
	}
	if m.syncWait != nil {
		m.syncWait <- syncErr(code)
		m.syncWait = nil
	}
}

// dropMember removes m from g without changing g's state.
func (s *shard) dropMember(g *group, m *member) {
	s.failWaiters(m, ErrUnknownMemberID.Code)
	delete(g.members, m.id)
	if m.instanceID != "" && g.instances[m.instanceID] == m.id {
		delete(g.instances, m.instanceID)
	}
}

// removeMember removes m and moves the group on: a rebalance when it was
// settled, or completing the join phase when m was the one missing.
func (s *shard) removeMember(g *group, m *member, now time.Time, reason string) {
	s.dropMember(g, m)
	switch g.state {
	case Stable, CompletingRebalance:
		s.prepareRebalance(g, now, reason)
		s.tryCompleteJoin(g, now)
	case PreparingRebalance:
		s.tryCompleteJoin(g, now)
	}
}

// tickGroup acts on g's passed deadlines.
func (s *shard) tickGroup(g *group, now time.Time) {
	for id, exp := range g.pending {
		if !now.Before(exp) {
			delete(g.pending, id)
		}
	}
	for _, m := range g.members {
		// A member waiting in JoinGroup is bounded by the rebalance
		// timeout instead of its session, and one waiting in SyncGroup
		// by the leader's session: it cannot heartbeat meanwhile.
		if m.joinWait == nil && m.syncWait == nil && !now.Before(m.deadline) {
			s.c.log.Info("member session expired", "group", g.id, "member", m.id, "timeout", m.sessionTimeout)
			s.removeMember(g, m, now, "session timeout of "+m.id)
		}
	}
	if g.state == PreparingRebalance {
		if !now.Before(g.joinDeadline) {
			s.completeJoin(g, now)
		} else {
			s.tryCompleteJoin(g, now)
		}
	}
}
