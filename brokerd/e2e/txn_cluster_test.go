package e2e

// Transactions on a real three-broker cluster (issue 17): the coordinator
// of a transactional id is the leader of its partition of
// __transaction_state, markers travel to the partition leaders over
// WriteTxnMarkers, and both survive the loss of a broker.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/internal/clusterproc"
	"github.com/kafki/kafki/internal/poll"
	"github.com/kafki/kafki/loadtest/brokerproc"
)

// txnClusterEnv: a killed broker is fenced within 3 s and dropped from
// the ISR within 1 s; the coordinator checks for expired transactions
// every 100 ms; __transaction_state has 3 partitions, replicated to all.
var txnClusterEnv = []string{
	"KAFKI_SESSION_LEASE=3s",
	"KAFKI_REPLICA_LAG_TIME_MAX=1s",
	"KAFKI_METADATA_POLL_INTERVAL=100ms",
	"KAFKI_TRANSACTION_STATE_LOG_NUM_PARTITIONS=3",
	"KAFKI_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=3",
	"KAFKI_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL=100ms",
}

// txnCluster is a started cluster, an admin client of it and a topic of
// three RF=3 partitions.
type txnCluster struct {
	t     *testing.T
	c     *clusterproc.Cluster
	admin *kadm.Client
	topic string
	// paused is a broker the test stopped (SIGSTOP), -1 if none: state
	// does not bootstrap from it.
	paused int32
}

func startTxnCluster(t *testing.T, topic string) *txnCluster {
	t.Helper()
	c := startClusterEnv(t, txnClusterEnv)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := brokerproc.WaitBrokers(ctx, c.Bootstrap(), 3, 20*time.Second, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	cl := newTxnClient(t, c)
	admin := kadm.NewClient(cl)
	resp, err := admin.CreateTopic(ctx, 3, 3, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	return &txnCluster{t: t, c: c, admin: admin, topic: topic, paused: -1}
}

// newTxnClient is a client of the whole cluster, closed at cleanup.
func newTxnClient(t *testing.T, c *clusterproc.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{kgo.SeedBrokers(c.Bootstrap()...), kgo.RetryTimeout(30 * time.Second), kgo.RequestTimeoutOverhead(5 * time.Second)}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// producer is a transactional producer of id writing to the topic's
// partitions by number.
func (tc *txnCluster) producer(id string, opts ...kgo.Opt) *kgo.Client {
	return newTxnClient(tc.t, tc.c, append([]kgo.Opt{kgo.TransactionalID(id), kgo.DefaultProduceTopic(tc.topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
}

// leaders returns the leader of each partition of topic, once every
// partition has one in the metadata of the broker asked (a broker
// applies a new topic's placement a moment after the one that created
// it).
func (tc *txnCluster) leaders(ctx context.Context, topic string) map[int32]int32 {
	tc.t.Helper()
	out := map[int32]int32{}
	poll.Must(tc.t, 20*time.Second, "a leader for every partition of "+topic, func() error {
		md, err := tc.admin.Metadata(ctx, topic)
		if err != nil {
			return err
		}
		clear(out)
		for _, p := range md.Topics[topic].Partitions {
			if p.Leader < 0 {
				return fmt.Errorf("partition %d has no leader", p.Partition)
			}
			out[p.Partition] = p.Leader
		}
		if len(out) == 0 {
			return errors.New("no partitions")
		}
		return nil
	})
	return out
}

// awaitFullISR waits until every partition of the topic and of
// __transaction_state has all three brokers in its ISR: a restarted
// broker has caught up, so losing another leaves an in-sync replica to
// take over.
func (tc *txnCluster) awaitFullISR(ctx context.Context) {
	tc.t.Helper()
	poll.Must(tc.t, 30*time.Second, "every replica back in sync", func() error {
		md, err := tc.admin.Metadata(ctx, tc.topic, "__transaction_state")
		if err != nil {
			return err
		}
		for _, td := range md.Topics {
			if td.Err != nil {
				return td.Err
			}
			for _, p := range td.Partitions {
				if len(p.ISR) < 3 || p.Leader < 0 {
					return fmt.Errorf("%s-%d: leader %d, ISR %v", td.Topic, p.Partition, p.Leader, p.ISR)
				}
			}
		}
		return nil
	})
}

// coordinator returns the broker that FindCoordinator names for id.
func (tc *txnCluster) coordinator(ctx context.Context, id string) int32 {
	tc.t.Helper()
	var node int32
	poll.Must(tc.t, 20*time.Second, "a transaction coordinator for "+id, func() error {
		r := tc.admin.FindTxnCoordinators(ctx, id)[id]
		if r.Err != nil {
			return r.Err
		}
		node = r.NodeID
		return nil
	})
	return node
}

// state returns id's transaction state as its coordinator describes it.
// Each call looks the coordinator up afresh: kgo keeps a sharded
// request's coordinator cached across a dial failure.
func (tc *txnCluster) state(ctx context.Context, id string) (string, error) {
	var seeds []string
	for _, b := range tc.c.Brokers() {
		if b.Running() && b.ID() != tc.paused {
			seeds = append(seeds, b.Addr())
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RetryTimeout(5*time.Second))
	if err != nil {
		return "", err
	}
	defer cl.Close()
	d, err := kadm.NewClient(cl).DescribeTransactions(ctx, id)
	if err != nil {
		return "", err
	}
	one, ok := d[id]
	if !ok {
		return "", fmt.Errorf("%s not described", id)
	}
	return one.State, one.Err
}

// produce writes one record per value to partition p within the open
// transaction.
func produce(ctx context.Context, t *testing.T, cl *kgo.Client, p int32, values ...string) {
	t.Helper()
	var recs []*kgo.Record
	for _, v := range values {
		recs = append(recs, &kgo.Record{Partition: p, Value: []byte(v)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce %v to partition %d: %v", values, p, err)
	}
}

// commitEnds commits, with a producer of its own, one "end-p<N>" record
// to every partition, and adds them to want: reading up to them reads
// everything committed before.
func (tc *txnCluster) commitEnds(ctx context.Context, want map[int32][]string) {
	tc.t.Helper()
	p := tc.producer("ender")
	if err := p.BeginTransaction(); err != nil {
		tc.t.Fatal(err)
	}
	for part := int32(0); part < 3; part++ {
		v := fmt.Sprintf("end-p%d", part)
		produce(ctx, tc.t, p, part, v)
		want[part] = append(want[part], v)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		tc.t.Fatalf("commit the end records: %v", err)
	}
	p.Close()
}

// readCommitted reads the topic from the start with read_committed until
// every partition has given its "end-p<N>" record (commitEnds), and
// returns the values per partition, in order. A partition's records are
// read in offset order below its last stable offset, so reaching its end
// record means every transaction before it there is decided and read.
func (tc *txnCluster) readCommitted(ctx context.Context) map[int32][]string {
	tc.t.Helper()
	cl := newTxnClient(tc.t, tc.c, kgo.ConsumeTopics(tc.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out := map[int32][]string{}
	ended := map[int32]bool{}
	for len(ended) < 3 {
		fs := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			tc.t.Fatalf("read_committed: %v; read %v", rctx.Err(), out)
		}
		fs.EachRecord(func(r *kgo.Record) {
			out[r.Partition] = append(out[r.Partition], string(r.Value))
			if string(r.Value) == fmt.Sprintf("end-p%d", r.Partition) {
				ended[r.Partition] = true
			}
		})
	}
	return out
}

// checkExactly fails unless got holds, per partition, exactly want's
// values in want's order.
func checkExactly(t *testing.T, got, want map[int32][]string) {
	t.Helper()
	for p := int32(0); p < 3; p++ {
		if !slices.Equal(got[p], want[p]) {
			t.Errorf("partition %d: read_committed read %v, want %v", p, got[p], want[p])
		}
	}
}

// TestTxnClusterCommitAbort: a transactional producer commits and aborts
// transactions spanning partitions led by different brokers (the markers
// of the remote ones go over WriteTxnMarkers); a read_committed consumer
// reads every committed record exactly once, in order, and no aborted
// one.
func TestTxnClusterCommitAbort(t *testing.T) {
	tc := startTxnCluster(t, "txn-cluster")
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	leaders := tc.leaders(ctx, tc.topic)
	distinct := map[int32]bool{}
	for _, l := range leaders {
		distinct[l] = true
	}
	if len(distinct) < 2 {
		t.Fatalf("partition leaders %v: want at least two brokers leading", leaders)
	}
	p := tc.producer("cluster-rounds")
	want := map[int32][]string{}
	const rounds = 6
	for round := 0; round < rounds; round++ {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		commit := round%2 == 0
		for part := int32(0); part < 3; part++ {
			vals := []string{fmt.Sprintf("r%d-p%d-a", round, part), fmt.Sprintf("r%d-p%d-b", round, part)}
			produce(ctx, t, p, part, vals...)
			if commit {
				want[part] = append(want[part], vals...)
			}
		}
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("round %d: end (commit %v): %v", round, commit, err)
		}
	}
	tc.commitEnds(ctx, want)
	checkExactly(t, tc.readCommitted(ctx), want)
}

// TestTxnClusterCoordinatorFailover SIGKILLs the coordinator of a
// transactional id twice: in the middle of a transaction, which the
// producer then commits through the new coordinator; and between EndTxn
// and the transaction's completion, while a partition leader that needs
// a marker is paused (SIGSTOP), so the commit is decided but its markers
// are not all written: the next coordinator resumes them, delivers the
// paused leader's marker to the partition's new leader, and the
// transaction completes. read_committed never sees a half-committed
// transaction: each is visible whole, exactly once, or not at all.
func TestTxnClusterCoordinatorFailover(t *testing.T) {
	tc := startTxnCluster(t, "txn-failover")
	ctx, cancel := context.WithTimeout(t.Context(), 55*time.Second)
	defer cancel()
	const id = "failover"
	p := tc.producer(id)
	want := map[int32][]string{}
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for part := int32(0); part < 3; part++ {
		produce(ctx, t, p, part, fmt.Sprintf("t1-p%d-before", part))
		want[part] = append(want[part], fmt.Sprintf("t1-p%d-before", part))
	}
	first := tc.coordinator(ctx, id)
	if err := tc.c.Broker(first).Kill(); err != nil {
		t.Fatal(err)
	}
	for part := int32(0); part < 3; part++ {
		produce(ctx, t, p, part, fmt.Sprintf("t1-p%d-after", part))
		want[part] = append(want[part], fmt.Sprintf("t1-p%d-after", part))
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit after the coordinator's loss: %v", err)
	}
	second := tc.coordinator(ctx, id)
	if second == first {
		t.Fatalf("coordinator still %d after it was killed", first)
	}
	if err := tc.c.Broker(first).Restart(ctx); err != nil {
		t.Fatal(err)
	}
	tc.awaitFullISR(ctx)

	// Transaction 2: paused partition leader, coordinator killed after
	// EndTxn answered.
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	var paused int32 = -1
	var pausedPart int32
	poll.Must(t, 20*time.Second, "a partition led by a broker other than the coordinator", func() error {
		second = tc.coordinator(ctx, id)
		for part, l := range tc.leaders(ctx, tc.topic) {
			if l >= 0 && l != second {
				paused, pausedPart = l, part
				return nil
			}
		}
		return errors.New("every partition is led by the coordinator")
	})
	for part := int32(0); part < 3; part++ {
		produce(ctx, t, p, part, fmt.Sprintf("t2-p%d", part))
		want[part] = append(want[part], fmt.Sprintf("t2-p%d", part))
	}
	if err := tc.c.Broker(paused).Stop(); err != nil {
		t.Fatal(err)
	}
	tc.paused = paused
	defer tc.c.Broker(paused).Cont()
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit with partition %d's leader %d paused: %v", pausedPart, paused, err)
	}
	// The commit is decided; the paused leader's marker cannot be
	// written until its partition moves, so the transaction is still
	// PrepareCommit when its coordinator dies.
	st, err := tc.state(ctx, id)
	if err != nil || st != "PrepareCommit" {
		t.Fatalf("state after EndTxn with leader %d paused: %q, %v; want PrepareCommit", paused, st, err)
	}
	if err := tc.c.Broker(second).Kill(); err != nil {
		t.Fatal(err)
	}
	poll.Must(t, 30*time.Second, "the transaction completed by the next coordinator", func() error {
		st, err := tc.state(ctx, id)
		if err != nil {
			return err
		}
		if st != "CompleteCommit" {
			return fmt.Errorf("state %s", st)
		}
		return nil
	})
	if err := tc.c.Broker(paused).Cont(); err != nil {
		t.Fatal(err)
	}
	tc.paused = -1
	if err := tc.c.Broker(second).Restart(ctx); err != nil {
		t.Fatal(err)
	}
	// A new producer of the id takes over and commits once more.
	p.Close()
	p2 := tc.producer(id)
	if err := p2.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(ctx, t, p2, 0, "t3")
	want[0] = append(want[0], "t3")
	if err := p2.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("new producer's commit: %v", err)
	}
	tc.commitEnds(ctx, want)
	checkExactly(t, tc.readCommitted(ctx), want)
}

// TestTxnClusterTimeoutFences: a producer idle longer than its
// transaction timeout has its transaction aborted by the coordinator
// (markers to leaders on other brokers), and is fenced afterwards: its
// next produce or commit fails with PRODUCER_FENCED or
// INVALID_PRODUCER_EPOCH, and read_committed never sees its records.
func TestTxnClusterTimeoutFences(t *testing.T) {
	tc := startTxnCluster(t, "txn-timeout")
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	const id = "sleepy"
	p := tc.producer(id, kgo.TransactionTimeout(2*time.Second))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for part := int32(0); part < 3; part++ {
		produce(ctx, t, p, part, fmt.Sprintf("doomed-p%d", part))
	}
	poll.Must(t, 20*time.Second, "the coordinator to abort the expired transaction", func() error {
		st, err := tc.state(ctx, id)
		if err != nil {
			return err
		}
		if st != "CompleteAbort" {
			return fmt.Errorf("state %s", st)
		}
		return nil
	})
	err := p.ProduceSync(ctx, &kgo.Record{Partition: 1, Value: []byte("zombie")}).FirstErr()
	if err == nil {
		err = p.EndTransaction(ctx, kgo.TryCommit)
	}
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("the expired producer: %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", err)
	}
	want := map[int32][]string{}
	tc.commitEnds(ctx, want)
	checkExactly(t, tc.readCommitted(ctx), want)
}
