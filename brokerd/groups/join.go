package groups

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup handles a JoinGroup request from clientID at host. It blocks
// until the join phase completes (or ctx ends, answering
// COORDINATOR_NOT_AVAILABLE).
func (c *Coordinator) JoinGroup(ctx context.Context, req *kmsg.JoinGroupRequest, clientID, host string) *kmsg.JoinGroupResponse {
	if req.Group == "" {
		return joinErr(ErrInvalidGroupID.Code, req.MemberID)
	}
	s, code := c.serve(req.Group, true)
	if code != 0 {
		return joinErr(code, req.MemberID)
	}
	resp, wait := s.join(req, clientID, host, c.clock.Now())
	s.mu.Unlock()
	if resp != nil {
		return resp
	}
	select {
	case r := <-wait:
		return r
	case <-ctx.Done():
		return joinErr(ErrCoordinatorNotAvail.Code, req.MemberID)
	}
}

// join applies a JoinGroup: it returns either an immediate response or a
// channel the response will arrive on. Callers hold s.mu.
func (s *shard) join(req *kmsg.JoinGroupRequest, clientID, host string, now time.Time) (*kmsg.JoinGroupResponse, chan *kmsg.JoinGroupResponse) {
	cfg := s.c.cfg
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	rebalance := session
	if req.Version >= 1 {
		rebalance = time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	}
	if session < cfg.MinSessionTimeout || session > cfg.MaxSessionTimeout {
		return joinErr(ErrInvalidSessionTimeout.Code, req.MemberID), nil
	}
	if rebalance <= 0 {
		rebalance = session
	}
	g := s.groups[req.Group]
	if g == nil && req.MemberID != "" {
		return joinErr(ErrUnknownMemberID.Code, req.MemberID), nil
	}
	if g != nil && !g.supports(req.ProtocolType, req.Protocols) || g == nil && (req.ProtocolType == "" || len(req.Protocols) == 0) {
		return joinErr(ErrInconsistentProtocol.Code, req.MemberID), nil
	}
	instance := ""
	if req.InstanceID != nil {
		instance = *req.InstanceID
	}
	if g == nil {
		g = newGroup(req.Group, now)
		s.groups[req.Group] = g
	}
	spec := member{
		instanceID: instance, clientID: clientID, host: host,
		sessionTimeout: session, rebalanceTimeout: rebalance,
		protocolType: req.ProtocolType, protocols: req.Protocols,
	}
	if req.MemberID == "" {
		if instance != "" {
			if old, ok := g.instances[instance]; ok {
				return s.replaceStatic(g, g.members[old], &spec, req.Version, now)
			}
		}
		if len(g.members)+len(g.pending) >= cfg.MaxSize {
			return joinErr(ErrGroupMaxSizeReached.Code, ""), nil
		}
		id := newMemberID(clientID)
		if instance == "" && req.Version >= 4 {
			// KIP-394: the client learns its id first, so that a
			// retried join does not leave a ghost member behind.
			g.pending[id] = now.Add(session)
			return joinErr(ErrMemberIDRequired.Code, id), nil
		}
		return s.addMember(g, id, &spec, req.Version, now)
	}
	if _, ok := g.pending[req.MemberID]; ok {
		delete(g.pending, req.MemberID)
		return s.addMember(g, req.MemberID, &spec, req.Version, now)
	}
	m := g.members[req.MemberID]
	if m == nil {
		return joinErr(ErrUnknownMemberID.Code, req.MemberID), nil
	}
	if m.instanceID != instance {
		return joinErr(ErrFencedInstanceID.Code, req.MemberID), nil
	}
	return s.rejoin(g, m, &spec, req.Version, now)
}

// addMember adds a new member and starts (or joins) a rebalance.
func (s *shard) addMember(g *group, id string, spec *member, version int16, now time.Time) (*kmsg.JoinGroupResponse, chan *kmsg.JoinGroupResponse) {
	m := *spec
	m.id = id
	m.seq = g.nextSeq
	g.nextSeq++
	m.deadline = now.Add(m.sessionTimeout)
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	g.members[id] = &m
	if m.instanceID != "" {
		g.instances[m.instanceID] = id
	}
	wait := s.awaitJoin(&m, version)
	switch g.state {
	case PreparingRebalance:
		if g.delaying {
			// Each newcomer during the initial delay extends it, within
			// the rebalance timeout (Kafka's InitialDelayedJoin).
			g.delayUntil = minTime(now.Add(s.c.cfg.InitialRebalanceDelay), g.joinDeadline)
		}
	default:
		s.prepareRebalance(g, now, "new member "+id)
	}
	s.tryCompleteJoin(g, now)
	return nil, wait
}

// rejoin handles a JoinGroup from a known member.
func (s *shard) rejoin(g *group, m *member, spec *member, version int16, now time.Time) (*kmsg.JoinGroupResponse, chan *kmsg.JoinGroupResponse) {
	changed := !sameProtocols(m.protocols, spec.protocols)
	update := func() {
		m.clientID, m.host = spec.clientID, spec.host
		m.sessionTimeout, m.rebalanceTimeout = spec.sessionTimeout, spec.rebalanceTimeout
		m.protocols = spec.protocols
		m.deadline = now.Add(m.sessionTimeout)
	}
	switch g.state {
	case PreparingRebalance:
		update()
		wait := s.awaitJoin(m, version)
		s.tryCompleteJoin(g, now)
		return nil, wait
	case CompletingRebalance:
		if !changed {
			// A retried join of this generation: same answer.
			m.deadline = now.Add(m.sessionTimeout)
			return s.currentJoinResponse(g, m, version), nil
		}
	case Stable:
		if !changed && m.id != g.leader {
			m.deadline = now.Add(m.sessionTimeout)
			return s.currentJoinResponse(g, m, version), nil
		}
	default:
		return joinErr(ErrUnknownMemberID.Code, m.id), nil
	}
	update()
	wait := s.awaitJoin(m, version)
	s.prepareRebalance(g, now, "member "+m.id+" rejoined")
	s.tryCompleteJoin(g, now)
	return nil, wait
}

// replaceStatic gives a returning static member (known group.instance.id,
// no member id) a new member id in place of the old one. In a Stable
// group it gets the current generation back without a rebalance of the
// others (KIP-345) unless its protocols would change the group's selected
// protocol. As in Kafka, changed metadata bytes alone do not rebalance: a
// restarted cooperative consumer always sends different owned partitions
// and generation, and a rebalance for that would defeat static
// membership. A leader that returns gets SkipAssignment and the member
// list (KIP-814), so it can still notice a changed subscription itself.
func (s *shard) replaceStatic(g *group, old *member, spec *member, version int16, now time.Time) (*kmsg.JoinGroupResponse, chan *kmsg.JoinGroupResponse) {
	s.failWaiters(old, ErrFencedInstanceID.Code)
	m := *old
	m.id = newMemberID(spec.clientID)
	m.clientID, m.host = spec.clientID, spec.host
	m.sessionTimeout, m.rebalanceTimeout = spec.sessionTimeout, spec.rebalanceTimeout
	m.deadline = now.Add(m.sessionTimeout)
	m.protocols = spec.protocols
	delete(g.members, old.id)
	g.members[m.id] = &m
	g.instances[m.instanceID] = m.id
	if g.leader == old.id {
		g.leader = m.id
	}
	changed := g.selectProtocol() != g.protocol
	s.c.log.Info("static member replaced", "group", g.id, "instance", m.instanceID, "old", old.id, "new", m.id)
	if g.state == Stable && !changed {
		if err := s.writeGroup(g, nil, now); err != nil {
			// Undo: the old member id stays valid.
			delete(g.members, m.id)
			g.members[old.id] = old
			g.instances[m.instanceID] = old.id
			if g.leader == m.id {
				g.leader = old.id
			}
			return joinErr(appendErrCode(err), ""), nil
		}
		s.afterWrite()
		r := s.currentJoinResponse(g, &m, version)
		r.SkipAssignment = m.id == g.leader
		return r, nil
	}
	wait := s.awaitJoin(&m, version)
	if g.state != PreparingRebalance {
		s.prepareRebalance(g, now, "static member "+m.instanceID+" rejoined")
	}
	s.tryCompleteJoin(g, now)
	return nil, wait
}

// awaitJoin makes m wait in the join phase; an earlier waiter of m (a
// retry on another connection) is told to rejoin.
func (s *shard) awaitJoin(m *member, version int16) chan *kmsg.JoinGroupResponse {
	if m.joinWait != nil {
		m.joinWait <- joinErr(ErrRebalanceInProgress.Code, m.id)
	}
	m.joinWait = make(chan *kmsg.JoinGroupResponse, 1)
	m.joinVersion = version
	return m.joinWait
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
