package cluster

import (
	"fmt"
	"slices"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/lease"
	"github.com/kafki/kafki/brokerd/meta"
)

// UncleanElectionKey is the topic config that lets the controller elect an
// out-of-sync replica (topics.KeyUncleanElection; the broker setting of the
// same name supplies its default).
const UncleanElectionKey = "unclean.leader.election.enable"

// View is everything one controller step decides from: the metadata it
// read and what it observed of the brokers' session leases. Decide reads
// it and never changes it.
type View struct {
	Snapshot Snapshot
	// Sessions holds, by broker id, the session lease of each unfenced
	// registered broker whose lease record exists. A broker of the
	// snapshot absent from Sessions (no lease record: it never finished
	// starting, or its registration is being deleted) takes no part: it
	// is neither fenced, elected nor given replicas.
	Sessions map[int32]Session
	// UncleanDefault is the broker-wide unclean.leader.election.enable,
	// for topics that do not override it.
	UncleanDefault bool
}

// Session is one broker's session lease as the controller observed it.
type Session struct {
	Lease lease.Record // as last read
	// Alive: the lease record changed within its duration on the
	// controller's own clock (Liveness), or the controller tried to take
	// it over and found it renewed.
	Alive bool
}

// Plan lists the writes of one controller step. The controller makes them
// in field order: fences first, then deletions, drops, elections and
// placements, each conditional on the partition's version and fenced by
// the controller lease epoch.
type Plan struct {
	// Fence lists the registered brokers whose session lapsed, by id.
	Fence []Fencing
	// Delete lists the partition states of deleted topics, and of
	// partitions beyond their topic's count; each delete is conditional on
	// the state's Version.
	Delete []PartitionState
	// Drop lists the deleted topics none of whose partition states is
	// left: their tombstones go (Store.DropTopic).
	Drop []string
	// Elect lists the partitions whose leader or ISR must change.
	Elect []PartitionWrite
	// Place lists the new partitions of each topic, in topic order, with
	// ExpectVersion 0 (the state must not exist yet).
	Place []PartitionWrite
	// Warnings are decisions that cannot be made yet.
	Warnings []Warning
}

// Fencing is a broker whose session lapsed. Decide assumes the fence
// succeeds (Plan.Elect and Plan.Place do not count the broker): a
// controller whose take-over of Lease fails (the broker renewed after all)
// must mark the session alive and decide again.
type Fencing struct {
	Broker BrokerInfo
	// Lease is the session lease as observed: take it over at its RVN
	// before fencing the registration, so a paused broker that wakes up
	// finds its lease lost. Holder "" means it was released: there is
	// nothing to take over.
	Lease lease.Record
}

// Warning is a decision that must wait, about one topic.
type Warning struct {
	Topic string
	Err   error
}

// Decide returns the writes due in v. It is a pure function: no I/O, no
// clock, nothing retained.
//
//   - A registered broker whose session is not alive is fenced.
//   - Partitions of deleted topics, and beyond their topic's count, are
//     deleted, not elected; a deleted topic with none left is dropped.
//   - Every other partition is elected over the live brokers (alive and
//     not being fenced): a new leader when the leader is dead or its
//     session is not the one it was elected under (then it is elected anew
//     at epoch+1), an ISR without dead members; unclean election follows
//     the topic's override, else UncleanDefault.
//   - The missing partitions of each topic (numbered from how many it
//     has) are placed over the live brokers, sorted by id, rack-aware
//     (Assign); with too few live brokers for the replication factor the
//     topic gets a Warning and no placement.
func Decide(v View) Plan {
	var p Plan
	sessions, live := p.fenceLapsed(v)
	topics := map[string]meta.Topic{}
	for _, t := range v.Snapshot.Topics {
		topics[t.Name] = t
	}
	unclean := map[string]bool{}
	for _, t := range v.Snapshot.Topics {
		u, err := UncleanElection(t, v.UncleanDefault)
		if err != nil {
			p.Warnings = append(p.Warnings, Warning{Topic: t.Name, Err: err})
		}
		unclean[t.Name] = u
	}
	counts := map[string]int32{}
	remains := map[string]bool{}
	for _, st := range v.Snapshot.Partitions {
		t, ok := topics[st.Topic]
		if !ok || st.Partition >= t.Partitions {
			p.Delete = append(p.Delete, st)
			remains[st.Topic] = true
			continue
		}
		counts[st.Topic]++
		if next, changed := elect(st, sessions, unclean[st.Topic]); changed {
			p.Elect = append(p.Elect, PartitionWrite{Next: next, ExpectVersion: st.Version})
		}
	}
	for _, name := range v.Snapshot.Deleted {
		if !remains[name] {
			p.Drop = append(p.Drop, name)
		}
	}
	for _, t := range v.Snapshot.Topics {
		p.place(t, counts[t.Name], live, sessions)
	}
	return p
}

// fenceLapsed plans the fencing of the registered brokers that are not
// alive and returns the others: their session epochs, and themselves
// sorted by id.
func (p *Plan) fenceLapsed(v View) (sessions map[int32]int64, live []Broker) {
	sessions = map[int32]int64{}
	for _, b := range v.Snapshot.Brokers {
		s, ok := v.Sessions[b.ID]
		switch {
		case b.Fenced || !ok:
		case !s.Alive:
			p.Fence = append(p.Fence, Fencing{Broker: b, Lease: s.Lease})
		default:
			sessions[b.ID] = b.SessionEpoch
			live = append(live, Broker{ID: b.ID, Rack: b.Rack})
		}
	}
	slices.SortFunc(p.Fence, func(a, b Fencing) int { return int(a.Broker.ID - b.Broker.ID) })
	slices.SortFunc(live, func(a, b Broker) int { return int(a.ID - b.ID) })
	return sessions, live
}

// place plans t's partitions from have on.
func (p *Plan) place(t meta.Topic, have int32, live []Broker, sessions map[int32]int64) {
	if have >= t.Partitions {
		return
	}
	assign, err := Assign(live, have, t.Partitions-have, max(int(t.ReplicationFactor), 1))
	if err != nil {
		p.Warnings = append(p.Warnings, Warning{Topic: t.Name, Err: fmt.Errorf("cannot place replicas yet: %w", err)})
		return
	}
	for i, replicas := range assign {
		st := PartitionState{Topic: t.Name, Partition: have + int32(i), Replicas: replicas,
			Leader: replicas[0], ISR: slices.Clone(replicas), LeaderSession: sessions[replicas[0]]}
		p.Place = append(p.Place, PartitionWrite{Next: st})
	}
}

// UncleanElection returns whether t allows unclean leader election: its
// override of UncleanElectionKey, parsed as the topic manager parses it,
// else brokerDefault. An override that does not parse (CreateTopics and
// AlterConfigs refuse one, so only a hand-edited table has it) reads as
// false, with the error: unclean election can lose acknowledged writes
// and is never done on a setting that cannot be read.
func UncleanElection(t meta.Topic, brokerDefault bool) (bool, error) {
	v, ok := t.Configs[UncleanElectionKey]
	if !ok {
		return brokerDefault, nil
	}
	u, err := config.ParseBoolean(v)
	if err != nil {
		return false, fmt.Errorf("%s: %w; electing cleanly", UncleanElectionKey, err)
	}
	return u, nil
}

// elect returns the partition's next state given the live brokers'
// session epochs: a new leader when the leader is dead or its session is
// not the one it was elected under, and an ISR without dead brokers.
func elect(st PartitionState, sessions map[int32]int64, unclean bool) (PartitionState, bool) {
	live := func(id int32) bool { _, ok := sessions[id]; return ok }
	next, changed := Elect(st, live, unclean)
	switch {
	case changed && next.Leader != NoLeader:
		next.LeaderSession = sessions[next.Leader]
	case changed:
		next.LeaderSession = 0
	case st.Leader != NoLeader && sessions[st.Leader] != st.LeaderSession:
		// The leader came back under a new session: elect it anew so the
		// earlier incarnation's leadership is never resumed.
		next.LeaderEpoch++
		next.LeaderSession = sessions[st.Leader]
		changed = true
	}
	if next.Leader != NoLeader {
		isr := slices.DeleteFunc(slices.Clone(next.ISR), func(m int32) bool { return m != next.Leader && !live(m) })
		if len(isr) != len(next.ISR) {
			next.ISR = isr
			changed = true
		}
	}
	return next, changed
}
