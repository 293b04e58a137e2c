package groups

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// SyncGroup handles a SyncGroup request. Members wait until the leader's
// assignment is durable; the leader's request carries it.
func (c *Coordinator) SyncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	if req.Group == "" {
		return syncErr(ErrInvalidGroupID.Code)
	}
	s, code := c.serve(req.Group, true)
	if code != 0 {
		return syncErr(code)
	}
	resp, wait := s.sync(req, c.clock.Now())
	s.mu.Unlock()
	if resp == nil {
		select {
		case resp = <-wait:
		case <-ctx.Done():
			resp = syncErr(ErrCoordinatorNotAvail.Code)
		}
	}
	return resp
}

func (s *shard) sync(req *kmsg.SyncGroupRequest, now time.Time) (*kmsg.SyncGroupResponse, chan *kmsg.SyncGroupResponse) {
	g := s.groups[req.Group]
	if g == nil {
		return syncErr(ErrUnknownMemberID.Code), nil
	}
	m, code := g.checkMember(req.MemberID, req.InstanceID, req.Generation)
	if code != 0 {
		return syncErr(code), nil
	}
	if req.ProtocolType != nil && *req.ProtocolType != g.protocolType || req.Protocol != nil && *req.Protocol != g.protocol {
		return syncErr(ErrInconsistentProtocol.Code), nil
	}
	switch g.state {
	case PreparingRebalance:
		return syncErr(ErrRebalanceInProgress.Code), nil
	case Stable:
		m.deadline = now.Add(m.sessionTimeout)
		return s.syncResponse(g, m), nil
	case CompletingRebalance:
	default:
		return syncErr(ErrUnknownMemberID.Code), nil
	}
	m.deadline = now.Add(m.sessionTimeout)
	if m.syncWait != nil {
		m.syncWait <- syncErr(ErrRebalanceInProgress.Code)
	}
	m.syncWait = make(chan *kmsg.SyncGroupResponse, 1)
	wait := m.syncWait
	if m.id != g.leader {
		return nil, wait
	}
	plan := make(map[string][]byte, len(g.members))
	for _, a := range req.GroupAssignment {
		if _, ok := g.members[a.MemberID]; ok {
			plan[a.MemberID] = a.MemberAssignment
		}
	}
	if err := s.writeGroup(g, plan, now); err != nil {
		// Nothing was stored: everyone rejoins and tries again.
		s.c.log.Warn("could not persist group assignment", "group", g.id, "err", err)
		code := appendErrCode(err)
		for _, o := range g.members {
			if o.syncWait != nil {
				o.syncWait <- syncErr(code)
				o.syncWait = nil
			}
		}
		s.prepareRebalance(g, now, "assignment not persisted")
		return nil, wait
	}
	s.afterWrite()
	g.setState(Stable, now)
	for _, o := range g.members {
		o.assignment = plan[o.id]
		if o.syncWait != nil {
			o.syncWait <- s.syncResponse(g, o)
			o.syncWait = nil
		}
	}
	return nil, wait
}

func (s *shard) syncResponse(g *group, m *member) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupResponse()
	r.ProtocolType = kmsg.StringPtr(g.protocolType)
	r.Protocol = kmsg.StringPtr(g.protocol)
	r.MemberAssignment = m.assignment
	if r.MemberAssignment == nil {
		r.MemberAssignment = []byte{}
	}
	return r
}

// checkMember validates the identity and generation a request claims.
func (g *group) checkMember(memberID string, instanceID *string, generation int32) (*member, int16) {
	if instanceID != nil {
		if id, ok := g.instances[*instanceID]; ok && id != memberID {
			return nil, ErrFencedInstanceID.Code
		}
	}
	m := g.members[memberID]
	if m == nil {
		return nil, ErrUnknownMemberID.Code
	}
	if generation != g.generation {
		return nil, ErrIllegalGeneration.Code
	}
	return m, 0
}

// Heartbeat handles a Heartbeat request: it keeps the session alive and
// tells the member when to rejoin.
func (c *Coordinator) Heartbeat(req *kmsg.HeartbeatRequest) int16 {
	if req.Group == "" {
		return ErrInvalidGroupID.Code
	}
	s, code := c.serve(req.Group, true)
	if code != 0 {
		return code
	}
	defer s.mu.Unlock()
	g := s.groups[req.Group]
	if g == nil {
		return ErrUnknownMemberID.Code
	}
	m, code := g.checkMember(req.MemberID, req.InstanceID, req.Generation)
	if code != 0 {
		return code
	}
	now := c.clock.Now()
	m.deadline = now.Add(m.sessionTimeout)
	switch g.state {
	case PreparingRebalance:
		return ErrRebalanceInProgress.Code
	case Stable, CompletingRebalance:
		return 0
	}
	return ErrUnknownMemberID.Code
}

// LeaveMember is one member leaving; MemberID "" with an InstanceID
// removes the static member by instance.
type LeaveMember struct {
	MemberID   string
	InstanceID *string
}

// LeaveGroup removes members and returns one error code per member, in
// order, or a group-level code (then the slice is nil).
func (c *Coordinator) LeaveGroup(group string, leaving []LeaveMember) (int16, []int16) {
	if group == "" {
		return ErrInvalidGroupID.Code, nil
	}
	s, code := c.serve(group, true)
	if code != 0 {
		return code, nil
	}
	defer s.mu.Unlock()
	g := s.groups[group]
	if g == nil {
		return ErrUnknownMemberID.Code, nil
	}
	now := c.clock.Now()
	codes := make([]int16, len(leaving))
	for i, l := range leaving {
		id := l.MemberID
		if l.InstanceID != nil {
			known, ok := g.instances[*l.InstanceID]
			switch {
			case !ok:
				codes[i] = ErrUnknownMemberID.Code
				continue
			case id != "" && id != known:
				codes[i] = ErrFencedInstanceID.Code
				continue
			}
			id = known
		}
		if _, ok := g.pending[id]; ok {
			delete(g.pending, id)
			s.tryCompleteJoin(g, now)
			continue
		}
		m := g.members[id]
		if m == nil {
			codes[i] = ErrUnknownMemberID.Code
			continue
		}
		s.c.log.Info("member left", "group", g.id, "member", id)
		s.removeMember(g, m, now, "member "+id+" left")
	}
	return 0, codes
}
