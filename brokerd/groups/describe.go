package groups

import (
	"sort"
)

// MemberDescription describes one member (DescribeGroups).
type MemberDescription struct {
	MemberID, InstanceID, ClientID, Host string
	Metadata, Assignment                 []byte
}

// GroupDescription describes a group; State is Dead for unknown groups.
// ErrorCode is set (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS) when
// this broker does not serve the group now; nothing else is then.
type GroupDescription struct {
	Group        string
	ErrorCode    int16
	State        State
	ProtocolType string
	Protocol     string
	Generation   int32
	Members      []MemberDescription
}

// DescribeGroup describes a group.
func (c *Coordinator) DescribeGroup(group string) GroupDescription {
	d := GroupDescription{Group: group, State: Dead}
	if group == "" {
		return d
	}
	s, code := c.serve(group, false)
	if code != 0 {
		d.ErrorCode = code
		return d
	}
	if s == nil {
		return d
	}
	defer s.mu.Unlock()
	g := s.groups[group]
	if g == nil {
		return d
	}
	d.State, d.ProtocolType, d.Protocol, d.Generation = g.state, g.protocolType, g.protocol, g.generation
	if g.state == PreparingRebalance {
		d.Protocol = "" // not chosen yet
	}
	for _, m := range g.sortedMembers() {
		d.Members = append(d.Members, MemberDescription{
			MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, Host: m.host,
			Metadata: m.metadataFor(g.protocol), Assignment: m.assignment,
		})
	}
	return d
}

// GroupListing is one group of ListGroups.
type GroupListing struct {
	Group        string
	ProtocolType string
	State        State
}

// ListGroups lists every group this broker serves now, sorted by id: in a
// cluster, the groups of the partitions it leads.
func (c *Coordinator) ListGroups() []GroupListing {
	var out []GroupListing
	for _, s := range c.allShards() {
		s.mu.Lock()
		for _, g := range s.groups { // empty unless active
			out = append(out, GroupListing{g.id, g.protocolType, g.state})
		}
		s.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}

func sortOffsets(o []CommittedOffset) {
	sort.Slice(o, func(i, j int) bool {
		if o[i].Topic != o[j].Topic {
			return o[i].Topic < o[j].Topic
		}
		return o[i].Partition < o[j].Partition
	})
}
