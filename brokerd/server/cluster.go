package server

import (
	"context"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/node"
	"github.com/kafki/kafki/brokerd/topics"
)

// Cluster is the server's view of the cluster (package node). Nil on a
// single node, where this broker is the only broker, the controller and
// the leader of every partition at epoch 0.
type Cluster interface {
	Self() int32
	Brokers() []node.Broker
	ControllerID() int32
	PartitionState(topic string, p int32) (cluster.PartitionState, bool)
	// WaitPartitions waits until partitions [0, count) of topic have
	// leaders; WaitTopicGone until the topic's partitions are gone.
	WaitPartitions(ctx context.Context, topic string, count int32) error
	WaitTopicGone(ctx context.Context, topic string) error
	// Sync applies the latest metadata now if this broker is behind.
	Sync(ctx context.Context) error
}

// brokerAddr is a broker as Metadata and DescribeCluster list it.
type brokerAddr struct {
	id   int32
	host string
	port int32
	rack *string
}

// brokers returns the live brokers, with their addresses on listener l
// (the client's), and the controller's id. As in Kafka, a broker without
// a listener of that name is left out.
func (s *Server) brokers(l *Listener) ([]brokerAddr, int32) {
	if s.cluster == nil {
		return []brokerAddr{{id: s.opts.NodeID, host: l.Host, port: l.Port}}, s.opts.NodeID
	}
	var out []brokerAddr
	for _, b := range s.cluster.Brokers() {
		e, ok := b.Endpoint(l.Name)
		if !ok {
			continue
		}
		ba := brokerAddr{id: b.ID, host: e.Host, port: e.Port}
		if b.Rack != "" {
			rack := b.Rack
			ba.rack = &rack
		}
		out = append(out, ba)
	}
	return out, s.cluster.ControllerID()
}

// brokerByID returns a live broker's address on listener l.
func (s *Server) brokerByID(l *Listener, id int32) (brokerAddr, bool) {
	bs, _ := s.brokers(l)
	for _, b := range bs {
		if b.id == id {
			return b, true
		}
	}
	return brokerAddr{}, false
}

// partitionView is a partition as Metadata describes it.
type partitionView struct {
	leader, epoch int32
	replicas, isr []int32
	offline       []int32
	code          int16
}

func (s *Server) partitionView(p *topics.Partition) partitionView {
	if s.cluster == nil {
		self := []int32{s.opts.NodeID}
		v := partitionView{leader: s.opts.NodeID, epoch: currentLeaderEpoch, replicas: self, isr: self}
		if p.Log().Offline() != nil {
			v.code, v.offline = kerr.KafkaStorageError.Code, self
		}
		return v
	}
	st, ok := s.cluster.PartitionState(p.Topic, p.Index)
	if !ok {
		// The controller has not placed it yet.
		return partitionView{leader: -1, epoch: -1, replicas: []int32{}, isr: []int32{}, code: kerr.LeaderNotAvailable.Code}
	}
	v := partitionView{leader: st.Leader, epoch: st.LeaderEpoch, replicas: st.Replicas, isr: st.ISR}
	if st.Leader == cluster.NoLeader {
		v.code = kerr.LeaderNotAvailable.Code
	}
	if st.Leader == s.cluster.Self() && p.Log().Offline() != nil {
		v.code, v.offline = kerr.KafkaStorageError.Code, []int32{st.Leader}
	}
	return v
}

// replicationFactor resolves a CreateTopics replication factor (-1: the
// broker default) and checks it against the live brokers.
func (s *Server) replicationFactor(ctx context.Context, rf int16) (int16, int16, string) {
	if rf == -1 {
		rf = s.opts.DefaultReplicationFactor
		if s.cluster == nil {
			rf = 1
		}
	}
	live := 1
	if s.cluster != nil {
		live = len(s.cluster.Brokers())
		if int(rf) > live && s.cluster.Sync(ctx) == nil {
			// Perhaps a broker registered since the last poll.
			live = len(s.cluster.Brokers())
		}
	}
	if rf < 1 || int(rf) > live {
		return rf, kerr.InvalidReplicationFactor.Code, "replication factor " + strconv.Itoa(int(rf)) + " with " + strconv.Itoa(live) + " live brokers"
	}
	return rf, 0, ""
}

// waitPlaced waits (within the request's timeout) until the controller has
// given every partition of a new or grown topic a leader, so that clients
// can use it as soon as CreateTopics or CreatePartitions answers.
func (s *Server) waitPlaced(ctx context.Context, topic string, count int32, timeoutMs int32) int16 {
	if s.cluster == nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout(timeoutMs))
	defer cancel()
	if err := s.cluster.WaitPartitions(ctx, topic, count); err != nil {
		return kerr.RequestTimedOut.Code
	}
	return 0
}

// waitGone waits (within the request's timeout) until the controller has
// removed a deleted topic's partitions, as Kafka answers DeleteTopics, so
// that the name can be created again at once.
func (s *Server) waitGone(ctx context.Context, topic string, timeoutMs int32) int16 {
	if s.cluster == nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout(timeoutMs))
	defer cancel()
	if err := s.cluster.WaitTopicGone(ctx, topic); err != nil {
		return kerr.RequestTimedOut.Code
	}
	return 0
}

func requestTimeout(ms int32) time.Duration {
	if ms <= 0 {
		return 30 * time.Second
	}
	return time.Duration(ms) * time.Millisecond
}
