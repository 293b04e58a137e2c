package groups

import (
	"bytes"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a group's state in the classic protocol.
type State int8

// The states of a group.
const (
	Empty State = iota
	PreparingRebalance
	CompletingRebalance
	Stable
	Dead
)

// String is Kafka's name of the state, as DescribeGroups and ListGroups
// report it.
func (s State) String() string {
	switch s {
	case Empty:
		return "Empty"
	case PreparingRebalance:
		return "PreparingRebalance"
	case CompletingRebalance:
		return "CompletingRebalance"
	case Stable:
		return "Stable"
	}
	return "Dead"
}

// member is one member of a group.
type member struct {
	id, instanceID   string // instanceID "" for dynamic members
	clientID, host   string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []kmsg.JoinGroupRequestProtocol // in the member's preference order
	assignment       []byte
	seq              uint64 // join order, for picking a leader

	// Invariant: joinWait != nil only in PreparingRebalance, syncWait !=
	// nil only in CompletingRebalance. Both are buffered (size 1).
	joinWait    chan *kmsg.JoinGroupResponse
	joinVersion int16
	syncWait    chan *kmsg.SyncGroupResponse

	// deadline is when the session expires without a heartbeat.
	deadline time.Time
}

// metadataFor returns the member's metadata for protocol.
func (m *member) metadataFor(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

func (m *member) supports(protocol string) bool {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return true
		}
	}
	return false
}

func sameProtocols(a, b []kmsg.JoinGroupRequestProtocol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Metadata, b[i].Metadata) {
			return false
		}
	}
	return true
}

// tp names a topic partition.
type tp struct {
	topic     string
	partition int32
}

// offset is one committed offset.
type offset struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	commitTime  int64 // unix ms
}

// inflightOffset is a partition's offset commits in flight: how many,
// and the newest one written with the sequence number of its write.
type inflightOffset struct {
	n   int
	o   offset
	seq uint64
}

// group is one consumer group.
type group struct {
	id           string
	state        State
	stateSince   time.Time
	protocolType string // "" for groups that only commit offsets
	protocol     string // chosen at the last completed join
	generation   int32
	leader       string

	members   map[string]*member
	instances map[string]string    // group.instance.id → member id
	pending   map[string]time.Time // member ids handed out with MEMBER_ID_REQUIRED → expiry
	offsets   map[tp]offset
	nextSeq   uint64

	// joinDeadline ends PreparingRebalance whoever has rejoined;
	// delayUntil holds completion back for the initial rebalance delay.
	joinDeadline time.Time
	delayUntil   time.Time
	delaying     bool // in the initial delay of a group that was Empty

	// metaValue is the GroupMetadata value last written for this group,
	// nil when none is live in the log. Snapshots copy it rather than
	// re-encoding the group, whose in-memory state may be mid-rebalance.
	metaValue []byte
	// inflight holds, per partition, the offset commits written to the
	// log and still waiting for the in-sync replicas (not in offsets
	// yet): deleting the group or those offsets must tombstone them too,
	// and a snapshot must keep the newest of them.
	inflight map[tp]*inflightOffset
	// txn holds the offsets of open transactions, by producer id
	// (TxnOffsetCommit): in the log, not visible until their COMMIT
	// marker, dropped by their ABORT (see doc.go).
	txn map[int64]map[tp]offset
}

func newGroup(id string, now time.Time) *group {
	return &group{
		id: id, state: Empty, stateSince: now,
		members:   map[string]*member{},
		instances: map[string]string{},
		pending:   map[string]time.Time{},
		offsets:   map[tp]offset{},
		inflight:  map[tp]*inflightOffset{},
	}
}

func (g *group) setState(s State, now time.Time) {
	g.state = s
	g.stateSince = now
}

// sortedMembers returns the members in join order.
func (g *group) sortedMembers() []*member {
	out := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// candidateProtocols are the protocols every member supports, in the
// preference order of the earliest member.
func (g *group) candidateProtocols() []string {
	ms := g.sortedMembers()
	if len(ms) == 0 {
		return nil
	}
	var out []string
	for _, p := range ms[0].protocols {
		all := true
		for _, m := range ms[1:] {
			if !m.supports(p.Name) {
				all = false
				break
			}
		}
		if all {
			out = append(out, p.Name)
		}
	}
	return out
}

// supports reports whether a joining member with these protocols can join
// the group: same protocol type, and a protocol in common with everyone.
func (g *group) supports(protocolType string, protocols []kmsg.JoinGroupRequestProtocol) bool {
	if protocolType == "" || len(protocols) == 0 {
		return false
	}
	if len(g.members) == 0 {
		return true
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, c := range g.candidateProtocols() {
		for _, p := range protocols {
			if p.Name == c {
				return true
			}
		}
	}
	return false
}

// selectProtocol picks the candidate protocol most members prefer; ties go
// to the earliest member's preference.
func (g *group) selectProtocol() string {
	cands := g.candidateProtocols()
	if len(cands) == 0 {
		return ""
	}
	votes := map[string]int{}
	for _, m := range g.members {
		for _, p := range m.protocols {
			if contains(cands, p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best := cands[0]
	for _, c := range cands {
		if votes[c] > votes[best] {
			best = c
		}
	}
	return best
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// maxRebalanceTimeout is the longest rebalance timeout of the members.
func (g *group) maxRebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// allJoined: every member has rejoined and no member id is pending.
func (g *group) allJoined() bool {
	if len(g.pending) > 0 {
		return false
	}
	for _, m := range g.members {
		if m.joinWait == nil {
			return false
		}
	}
	return true
}

// subscribedTopics are the topics the members' consumer subscriptions
// name, or ok=false when they cannot be known (not a consumer group).
func (g *group) subscribedTopics() (map[string]bool, bool) {
	if g.protocolType != "consumer" {
		return nil, false
	}
	out := map[string]bool{}
	for _, m := range g.members {
		var s kmsg.ConsumerMemberMetadata
		if err := s.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			return nil, false
		}
		for _, t := range s.Topics {
			out[t] = true
		}
	}
	return out, true
}
