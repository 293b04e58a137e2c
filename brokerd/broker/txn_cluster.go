package broker

// The transaction coordinator's conversations with other brokers of a
// cluster: markers to the partition leaders (peerMarkers, WriteTxnMarkers)
// and, the other way, a partition leader's verification of a
// transactional produce with the coordinator (askRemote,
// AddPartitionsToTxn v4+ verify-only). Both use the clients of package
// interbroker, so they carry the inter-broker listener's security.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/interbroker"
	"github.com/kafki/kafki/brokerd/node"
	"github.com/kafki/kafki/brokerd/storage"
	"github.com/kafki/kafki/brokerd/topics"
	"github.com/kafki/kafki/brokerd/txn"
)

const (
	// peerRequestTimeout bounds one request to a peer; a peer that does
	// not answer within it is retried, perhaps as another leader.
	peerRequestTimeout = 5 * time.Second
	// markerBackoffMin and markerBackoffMax bound the pause between
	// rounds of marker writes to the partitions still missing theirs.
	markerBackoffMin = 50 * time.Millisecond
	markerBackoffMax = time.Second
)

// peerClients keeps one client per peer address, so markers and
// verifications do not dial for every request. Safe for concurrent use.
type peerClients struct {
	f *interbroker.Factory // nil until the node is started

	mu      sync.Mutex
	clients map[string]*kgo.Client // guarded by mu
	closed  bool                   // guarded by mu
}

func newPeerClients() *peerClients { return &peerClients{clients: map[string]*kgo.Client{}} }

// request sends req to the broker at addr itself (kgo would route
// AddPartitionsToTxn to a coordinator and shard WriteTxnMarkers by
// leader on its own). A failed connection's client is dropped, so the
// next request dials again.
func (pc *peerClients) request(ctx context.Context, addr string, req kmsg.Request) (kmsg.Response, error) {
	pc.mu.Lock()
	if pc.closed || pc.f == nil {
		pc.mu.Unlock()
		return nil, errors.New("inter-broker clients not available")
	}
	cl := pc.clients[addr]
	if cl == nil {
		var err error
		if cl, err = pc.f.Peer(addr); err != nil {
			pc.mu.Unlock()
			return nil, fmt.Errorf("client of %s: %w", addr, err)
		}
		pc.clients[addr] = cl
	}
	pc.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, peerRequestTimeout)
	defer cancel()
	resp, err := cl.SeedBrokers()[0].Request(rctx, req)
	if err != nil {
		pc.mu.Lock()
		if pc.clients[addr] == cl {
			delete(pc.clients, addr)
			cl.Close()
		}
		pc.mu.Unlock()
		return nil, fmt.Errorf("%s to %s: %w", kmsg.NameForKey(req.Key()), addr, err)
	}
	return resp, nil
}

// Close closes every client; later requests fail.
func (pc *peerClients) Close() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.closed = true
	for addr, cl := range pc.clients {
		cl.Close()
		delete(pc.clients, addr)
	}
}

// start gives the service the node and the inter-broker client factory,
// once the node has joined the cluster.
func (s *txnService) start(n *node.Node, f *interbroker.Factory) {
	s.peers.mu.Lock()
	s.peers.f = f
	s.peers.mu.Unlock()
	s.node.Store(n)
}

// peerMarkers delivers a transaction's markers in a cluster: the
// partitions are grouped by their current leader, those led here are
// written directly, the others with one WriteTxnMarkers per leader. The
// partitions left without their marker (not the leader any more, broker
// unreachable, ISR too small) are retried with backoff after the
// metadata is caught up, so a marker follows a partition whose leader
// just moved; until ctx ends (the coordinator resigned the transaction's
// partition, or closed). A partition whose topic is gone needs none.
type peerMarkers struct{ s *txnService }

func (m *peerMarkers) Write(ctx context.Context, mk txn.Marker) error {
	left := mk.Partitions
	backoff := markerBackoffMin
	for {
		var err error
		left, err = m.round(ctx, mk, left)
		if len(left) == 0 {
			return nil
		}
		if n := m.s.node.Load(); n != nil {
			_ = n.Sync(ctx) // best effort: the next round sees moved leaders
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("markers of producer %d: %d partitions left: %w", mk.ProducerID, len(left), errors.Join(err, ctx.Err()))
		case <-time.After(backoff):
		}
		if err != nil {
			m.s.log.Debug("transaction markers not all written; retrying", "producer.id", mk.ProducerID, "partitions.left", len(left), "err", err)
		}
		backoff = min(backoff*2, markerBackoffMax)
	}
}

// round makes one attempt at every partition of left and returns those
// still missing their marker, with why.
func (m *peerMarkers) round(ctx context.Context, mk txn.Marker, left []txn.Partition) ([]txn.Partition, error) {
	n := m.s.node.Load()
	if n == nil {
		return left, errors.New("not a member of the cluster yet")
	}
	byLeader := map[int32][]txn.Partition{}
	var retry []txn.Partition
	var errs []error
	for _, p := range left {
		st, ok := n.PartitionState(p.Topic, p.Partition)
		switch {
		case !ok && m.s.tm.Partition(p.Topic, p.Partition) == nil:
			// The topic was deleted: nothing left to end there.
		case !ok || st.Leader == cluster.NoLeader:
			retry = append(retry, p)
			errs = append(errs, fmt.Errorf("%s-%d: %w", p.Topic, p.Partition, kerr.LeaderNotAvailable))
		default:
			byLeader[st.Leader] = append(byLeader[st.Leader], p)
		}
	}
	// One leader at a time would let a hung one (paused, or cut off
	// until its lease lapses) hold up every other partition's marker.
	var mu sync.Mutex
	var wg sync.WaitGroup
	for leader, parts := range byLeader {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var failed []txn.Partition
			var err error
			if leader == n.Self() {
				failed, err = m.writeLocal(ctx, mk, parts)
			} else {
				failed, err = m.writeRemote(ctx, n, leader, mk, parts)
			}
			mu.Lock()
			defer mu.Unlock()
			retry = append(retry, failed...)
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	return retry, errors.Join(errs...)
}

// writeLocal writes the markers of the partitions led here.
func (m *peerMarkers) writeLocal(ctx context.Context, mk txn.Marker, parts []txn.Partition) ([]txn.Partition, error) {
	var failed []txn.Partition
	var errs []error
	for _, p := range parts {
		part := m.s.tm.Partition(p.Topic, p.Partition)
		if part == nil {
			failed = append(failed, p) // not applied here yet
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, peerRequestTimeout)
		err := writeLocalMarker(wctx, part, m.s.groups, mk, m.s.flush)
		cancel()
		if err != nil && !markerDone(err) {
			failed = append(failed, p)
			errs = append(errs, err)
		}
	}
	return failed, errors.Join(errs...)
}

// writeRemote sends the markers of parts to their leader.
func (m *peerMarkers) writeRemote(ctx context.Context, n *node.Node, leader int32, mk txn.Marker, parts []txn.Partition) ([]txn.Partition, error) {
	addr, ok := n.PeerAddr(leader)
	if !ok {
		return parts, fmt.Errorf("leader %d of %d partitions is not registered", leader, len(parts))
	}
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	rm := kmsg.NewWriteTxnMarkersRequestMarker()
	rm.ProducerID, rm.ProducerEpoch, rm.Committed, rm.CoordinatorEpoch = mk.ProducerID, mk.Epoch, mk.Commit, mk.CoordinatorEpoch
	rm.TransactionVersion = 1
	idx := map[string]int{}
	for _, p := range parts {
		i, ok := idx[p.Topic]
		if !ok {
			i = len(rm.Topics)
			idx[p.Topic] = i
			t := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			t.Topic = p.Topic
			rm.Topics = append(rm.Topics, t)
		}
		rm.Topics[i].Partitions = append(rm.Topics[i].Partitions, p.Partition)
	}
	req.Markers = append(req.Markers, rm)
	r, err := m.s.peers.request(ctx, addr, req)
	if err != nil {
		return parts, err
	}
	resp := r.(*kmsg.WriteTxnMarkersResponse)
	answered := map[txn.Partition]int16{}
	for _, rm := range resp.Markers {
		if rm.ProducerID != mk.ProducerID {
			continue
		}
		for _, t := range rm.Topics {
			for _, p := range t.Partitions {
				answered[txn.Partition{Topic: t.Topic, Partition: p.Partition}] = p.ErrorCode
			}
		}
	}
	var failed []txn.Partition
	var errs []error
	for _, p := range parts {
		code, ok := answered[p]
		if !ok {
			code = kerr.UnknownServerError.Code // not answered: try again
		}
		if err := kerr.ErrorForCode(code); err != nil && !markerDone(err) {
			failed = append(failed, p)
			errs = append(errs, fmt.Errorf("%s-%d on broker %d: %w", p.Topic, p.Partition, leader, err))
		}
	}
	return failed, errors.Join(errs...)
}

// markerDone reports whether a marker refused with err needs no retry:
// the producer's epoch in the log is already newer (a later decision, by
// a newer coordinator, ended this transaction there; Kafka's coordinator
// gives up on such a partition too), or the local partition was deleted.
// A peer's UNKNOWN_TOPIC_OR_PARTITION is retried: the peer may not have
// applied the partition yet, and a deleted topic leaves the metadata,
// which round checks first.
func markerDone(err error) bool {
	return errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.ProducerFenced) ||
		errors.Is(err, storage.ErrInvalidProducerEpoch) || errors.Is(err, topics.ErrUnknownTopic)
}

// askRemote asks the broker coordinating id, which is not this one,
// whether parts are in the open transaction of pid at epoch (verifyOnly),
// or to add them to it (transaction version 2's implicit add).
// Coordinator errors the producer cannot act on (NOT_COORDINATOR,
// COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS, an unreachable
// coordinator) become NOT_ENOUGH_REPLICAS, which producers retry, as
// Kafka's partition leaders answer them.
func (s *txnService) askRemote(ctx context.Context, id string, pid int64, epoch int16, parts []txn.Partition, verifyOnly bool) error {
	n := s.node.Load()
	if n == nil {
		return fmt.Errorf("%w: not a member of the cluster yet", kerr.NotEnoughReplicas)
	}
	tp := s.c.PartitionFor(id)
	st, ok := n.PartitionState(topics.TxnStateTopic, tp)
	switch {
	case !ok || st.Leader == cluster.NoLeader:
		return fmt.Errorf("%w: %s-%d has no leader", kerr.NotEnoughReplicas, topics.TxnStateTopic, tp)
	case st.Leader == n.Self():
		// Led here by the metadata, not loaded yet (or just lost).
		return fmt.Errorf("%w: %s-%d is loading here", kerr.NotEnoughReplicas, topics.TxnStateTopic, tp)
	}
	addr, ok := n.PeerAddr(st.Leader)
	if !ok {
		return fmt.Errorf("%w: coordinator %d is not registered", kerr.NotEnoughReplicas, st.Leader)
	}
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = 4
	t := kmsg.NewAddPartitionsToTxnRequestTransaction()
	t.TransactionalID, t.ProducerID, t.ProducerEpoch, t.VerifyOnly = id, pid, epoch, verifyOnly
	for _, p := range parts {
		rt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
		rt.Topic, rt.Partitions = p.Topic, []int32{p.Partition}
		t.Topics = append(t.Topics, rt)
	}
	req.Transactions = append(req.Transactions, t)
	r, err := s.peers.request(ctx, addr, req)
	if err != nil {
		return fmt.Errorf("%w: verify with coordinator %d: %w", kerr.NotEnoughReplicas, st.Leader, err)
	}
	return verifyAnswer(r.(*kmsg.AddPartitionsToTxnResponse), id, len(parts))
}

// verifyAnswer reads a verify-only AddPartitionsToTxn answer: nil only if
// every partition asked about was answered without error.
func verifyAnswer(resp *kmsg.AddPartitionsToTxnResponse, id string, asked int) error {
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return retriableForProducer(err)
	}
	answered := 0
	for _, t := range resp.Transactions {
		if t.TransactionalID != id {
			continue
		}
		for _, rt := range t.Topics {
			for _, p := range rt.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return retriableForProducer(err)
				}
				answered++
			}
		}
	}
	if answered < asked {
		return fmt.Errorf("%w: the coordinator answered %d of %d partitions", kerr.NotEnoughReplicas, answered, asked)
	}
	return nil
}

// retriableForProducer maps the coordinator's transient errors to one a
// producer retries its produce on.
func retriableForProducer(err error) error {
	if errors.Is(err, kerr.NotCoordinator) || errors.Is(err, kerr.CoordinatorNotAvailable) || errors.Is(err, kerr.CoordinatorLoadInProgress) {
		return fmt.Errorf("%w: %w", kerr.NotEnoughReplicas, err)
	}
	return err
}
