package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kafki/kafki/brokerd/groups"
	"github.com/kafki/kafki/brokerd/topics"
	"github.com/kafki/kafki/brokerd/txn"
)

// txnStateConfigs: transaction state is kept until the coordinator
// replaces it (as __consumer_offsets' group state).
var txnStateConfigs = map[string]string{"retention.ms": "-1", "retention.bytes": "-1", "segment.bytes": "104857600"}

// txnService is the transaction coordinator of a single broker: it
// creates __transaction_state on first use (as Kafka does on the first
// FindCoordinator of a transactional id), leads every one of its
// partitions, and writes markers to the local partition leaders. In a
// cluster it is not started (the inter-broker WriteTxnMarkers and the
// leadership hooks are still to come), so transactional ids keep being
// refused there.
type txnService struct {
	tm         *topics.Manager
	c          *txn.Coordinator
	partitions int32
	flush      bool
	log        *slog.Logger

	mu    sync.Mutex
	ready bool // guarded by mu
}

func newTxnService(tm *topics.Manager, gc *groups.Coordinator, partitions int32, maxTimeout time.Duration, flush bool, log *slog.Logger) *txnService {
	cfg := txn.DefaultConfig()
	cfg.Partitions, cfg.MaxTimeout = partitions, maxTimeout
	s := &txnService{tm: tm, partitions: partitions, flush: flush, log: log}
	s.c = txn.New(cfg, producerIDs{tm}, localMarkers{tm: tm, groups: gc, flush: flush}, log, time.Now)
	return s
}

// Coordinator is the transaction coordinator.
func (s *txnService) Coordinator() *txn.Coordinator { return s.c }

// Ensure opens __transaction_state, creating it if needed, and loads
// every partition's transactions. Later calls return at once.
func (s *txnService) Ensure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready {
		return nil
	}
	t, err := s.tm.EnsureInternalTopic(context.Background(), topics.TxnStateTopic, s.partitions, 1, txnStateConfigs)
	if err != nil {
		return fmt.Errorf("open %s: %w", topics.TxnStateTopic, err)
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
		var err error
		if p.Topic == topics.OffsetsTopic {
			// The group coordinator writes it: the marker makes (or
			// drops) the transaction's offsets, atomically with its
			// shard's other writes.
			err = m.groups.WriteTxnMarker(ctx, p.Partition, mk.ProducerID, mk.Epoch, mk.Commit, mk.CoordinatorEpoch)
		} else {
			var off int64
			if off, err = part.AppendMarker(mk.ProducerID, mk.Epoch, mk.Commit, mk.CoordinatorEpoch, m.flush); err == nil {
				err = part.AwaitCommitted(ctx, off)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
