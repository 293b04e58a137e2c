package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafki/kafki/brokerd/groups"
	"github.com/kafki/kafki/brokerd/node"
	"github.com/kafki/kafki/brokerd/topics"
	"github.com/kafki/kafki/brokerd/txn"
)

// txnStateConfigs: transaction state is kept until the coordinator
// replaces it (as __consumer_offsets' group state).
var txnStateConfigs = map[string]string{"retention.ms": "-1", "retention.bytes": "-1", "segment.bytes": "104857600"}

// txnService is the broker's transaction coordinator and its wiring.
//
// On a single node it creates __transaction_state on first use (as Kafka
// does on the first FindCoordinator of a transactional id), leads every
// one of its partitions, and writes markers to the local partition
// leaders.
//
// In a cluster the coordinator of a transactional id is the leader of its
// partition of __transaction_state, as for groups and __consumer_offsets:
// the node reports each partition this broker starts or stops leading
// (txnRoles), and the coordinator loads it (Lead, with the leader epoch as
// coordinator epoch) or drops it (Resign). Ensure only creates the topic
// (replicated, transaction.state.log.replication.factor capped at the live
// brokers); markers go to whichever broker leads each partition
// (peerMarkers, txn_cluster.go), and a partition leader verifying a
// transactional produce asks the coordinator wherever it is (Verify).
type txnService struct {
	tm         *topics.Manager
	groups     *groups.Coordinator // writes markers on __consumer_offsets
	c          *txn.Coordinator
	partitions int32
	flush      bool
	log        *slog.Logger
	// Cluster only (nil and unused on a single node).
	clustered bool
	rf        func() int16
	node      atomic.Pointer[node.Node] // set once node.Start returns
	peers     *peerClients

	mu    sync.Mutex
	ready bool // guarded by mu
}

func newTxnService(b *Broker, tm *topics.Manager) *txnService {
	cfg := &b.cfg
	tcfg := txn.DefaultConfig()
	tcfg.Partitions, tcfg.MaxTimeout = cfg.TransactionStatePartitions, cfg.TransactionMaxTimeout
	s := &txnService{
		tm: tm, groups: b.groups, partitions: cfg.TransactionStatePartitions, flush: cfg.FlushOnAck, log: b.log.With("component", "txn"),
		clustered: cfg.Clustered(), rf: b.txnStateRF, peers: newPeerClients(),
	}
	var markers txn.Markers = localMarkers{tm: tm, groups: b.groups, flush: s.flush}
	if s.clustered {
		markers = &peerMarkers{s: s}
	}
	s.c = txn.New(tcfg, producerIDs{tm}, markers, s.log, time.Now)
	return s
}

// txnStateRF is the replication factor __transaction_state is created
// with: transaction.state.log.replication.factor, at most the live
// brokers (as offsetsRF).
func (b *Broker) txnStateRF() int16 {
	if b.node == nil {
		return 1
	}
	return int16(min(int(b.cfg.TransactionStateReplicationFactor), max(b.node.LiveBrokers(), 1)))
}

// Coordinator is the transaction coordinator.
func (s *txnService) Coordinator() *txn.Coordinator { return s.c }

// Close stops the coordinator's background work and the peer clients.
func (s *txnService) Close() {
	s.c.Close()
	s.peers.Close()
}

// Ensure opens __transaction_state, creating it if needed; on a single
// node it also loads every partition's transactions. Later calls return
// at once.
func (s *txnService) Ensure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready {
		return nil
	}
	t, err := s.tm.EnsureInternalTopic(context.Background(), topics.TxnStateTopic, s.partitions, s.rf(), txnStateConfigs)
	if errors.Is(err, topics.ErrTopicExists) && s.clustered {
		// Another broker created it a moment ago and this one has not
		// applied it yet: catch up once (as ensureGroups does).
		if n := s.node.Load(); n != nil && n.Sync(context.Background()) == nil {
			t, err = s.tm.EnsureInternalTopic(context.Background(), topics.TxnStateTopic, s.partitions, s.rf(), txnStateConfigs)
		}
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", topics.TxnStateTopic, err)
	}
	if int32(len(t.Partitions)) != s.partitions {
		// The coordinator hashes ids over the configured count; serving a
		// topic of another count would send ids to the wrong partition.
		return fmt.Errorf("%s has %d partitions, transaction.state.log.num.partitions is %d", topics.TxnStateTopic, len(t.Partitions), s.partitions)
	}
	if s.clustered {
		// Leadership, and so coordination, comes from txnRoles.
		s.ready = true
		return nil
	}
	started := time.Now()
	for i, p := range t.Partitions {
		if err := s.c.Lead(int32(i), 0, groups.PartitionLog(p, s.flush)); err != nil {
			return fmt.Errorf("lead %s-%d: %w", topics.TxnStateTopic, i, err)
		}
	}
	s.ready = true
	s.log.Info("transaction state loaded", "partitions", len(t.Partitions), "took", time.Since(started).Round(time.Millisecond))
	return nil
}

// txnRoles moves transaction coordination with the leadership of the
// partitions of __transaction_state (node.Options.OnTxnRoles): a partition
// led is loaded at its leader epoch, which becomes the coordinator epoch
// of the markers written for it; one lost is resigned at once, so its ids
// answer NOT_COORDINATOR and its marker writers stop.
func (s *txnService) txnRoles(changes []node.RoleChange) {
	for _, c := range changes {
		if !c.Leader {
			s.c.Resign(c.Partition)
			continue
		}
		p := s.tm.Partition(topics.TxnStateTopic, c.Partition)
		if p == nil {
			s.log.Warn("leadership of a partition of __transaction_state not open here", "partition", c.Partition)
			continue
		}
		if err := s.c.Lead(c.Partition, c.Epoch, groups.PartitionLog(p, s.flush)); err != nil {
			s.log.Error("cannot coordinate the transactions of a partition led here", "partition", c.Partition, "err", err)
		}
	}
}

// Verify is KIP-890 part 1's check before a transactional batch is
// appended to a partition this broker leads: is the partition in the
// producer's open transaction? The coordinator is asked every time,
// here or on the broker coordinating id (AddPartitionsToTxn v4+,
// verify-only): no answer is cached, so a transaction aborted or a
// producer fenced a moment ago is never taken as still open.
func (s *txnService) Verify(ctx context.Context, id string, pid int64, epoch int16, parts []txn.Partition) error {
	if err := s.Ensure(); err != nil {
		return retriableForProducer(fmt.Errorf("%w: %w", kerr.CoordinatorNotAvailable, err))
	}
	err := s.c.Verify(id, pid, epoch, parts)
	if s.clustered && errors.Is(err, kerr.NotCoordinator) {
		return s.askRemote(ctx, id, pid, epoch, parts, true)
	}
	return retriableForProducer(err)
}

// Add is transaction version 2's implicit add (Produce v12+,
// TxnOffsetCommit v5+): parts join the open transaction of pid at epoch,
// or start one, at the coordinator of id, here or on its broker
// (AddPartitionsToTxn v4+ without verify-only). Errors as Verify's.
func (s *txnService) Add(ctx context.Context, id string, pid int64, epoch int16, parts []txn.Partition) error {
	if err := s.Ensure(); err != nil {
		return retriableForProducer(fmt.Errorf("%w: %w", kerr.CoordinatorNotAvailable, err))
	}
	err := s.c.AddPartitions(ctx, id, pid, epoch, parts)
	if s.clustered && errors.Is(err, kerr.NotCoordinator) {
		return s.askRemote(ctx, id, pid, epoch, parts, false)
	}
	return retriableForProducer(err)
}

// run aborts expired transactions every interval until ctx ends.
func (s *txnService) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n := s.c.AbortExpired(ctx); n > 0 {
				s.log.Info("aborted expired transactions", "count", n)
			}
		}
	}
}

// producerIDs allocates from the metadata store's counter, as idempotent
// producers' InitProducerId does.
type producerIDs struct{ tm *topics.Manager }

func (p producerIDs) Next(ctx context.Context) (int64, error) {
	id, err := p.tm.AllocateProducerID(ctx)
	if err != nil {
		return 0, fmt.Errorf("allocate producer id: %w", err)
	}
	return id, nil
}

// localMarkers writes markers to partitions led by this broker (all of
// them on a single node). A partition that no longer exists is done.
type localMarkers struct {
	tm     *topics.Manager
	groups *groups.Coordinator
	flush  bool
}

func (m localMarkers) Write(ctx context.Context, mk txn.Marker) error {
	var errs []error
	for _, p := range mk.Partitions {
		part := m.tm.Partition(p.Topic, p.Partition)
		if part == nil {
			continue
		}
		if err := writeLocalMarker(ctx, part, m.groups, mk, m.flush); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// writeLocalMarker appends mk's marker to part, led here, and waits until
// its in-sync replicas have it. On __consumer_offsets the group
// coordinator writes it: the marker makes (or drops) the transaction's
// offsets atomically with its shard's other writes.
func writeLocalMarker(ctx context.Context, part *topics.Partition, gc *groups.Coordinator, mk txn.Marker, flush bool) error {
	var err error
	if part.Topic == topics.OffsetsTopic && gc != nil {
		err = gc.WriteTxnMarker(ctx, part.Index, mk.ProducerID, mk.Epoch, mk.Commit, mk.CoordinatorEpoch)
	} else {
		var off int64
		if off, err = part.AppendMarker(mk.ProducerID, mk.Epoch, mk.Commit, mk.CoordinatorEpoch, flush); err == nil {
			err = part.AwaitCommitted(ctx, off)
		}
	}
	if err != nil {
		return fmt.Errorf("marker of producer %d on %s-%d: %w", mk.ProducerID, part.Topic, part.Index, err)
	}
	return nil
}
