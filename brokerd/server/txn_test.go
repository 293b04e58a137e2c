package server_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/internal/poll"
)

// txnConfig keeps __transaction_state small and the expiry check quick.
func txnConfig(c *config.Config) {
	c.TransactionStatePartitions = 3
	c.TransactionAbortInterval = 50 * time.Millisecond
}

func txnClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RecordRetries(5)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTxnTopic(t *testing.T, cl *kgo.Client, topic string, partitions int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
}

// consumeValues reads topic from the start with the isolation level until
// it has seen stop (a value), and returns every value per partition, in
// order.
func consumeValues(t *testing.T, addr, topic string, iso kgo.IsolationLevel, stop string) map[int32][]string {
	t.Helper()
	cl := txnClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := map[int32][]string{}
	for done := false; !done; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consuming %s: %v; got %v", topic, err, out)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			out[r.Partition] = append(out[r.Partition], string(r.Value))
			done = done || string(r.Value) == stop
		})
	}
	return out
}

// TestTxnCommitAbortReadCommitted: a franz-go transactional producer
// commits and aborts in turn; a read_committed consumer sees exactly the
// committed records, once each, in order; a read_uncommitted one sees
// the aborted ones too.
func TestTxnCommitAbortReadCommitted(t *testing.T) {
	b := testbroker.StartBroker(t, testbroker.WithConfig(txnConfig))
	const topic = "txn-rc"
	admin := txnClient(t, b.Addr())
	createTxnTopic(t, admin, topic, 2)
	p := txnClient(t, b.Addr(), kgo.TransactionalID("rc-producer"), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := map[int32][]string{}
	all := map[int32][]string{}
	const rounds = 6
	for round := 0; round < rounds; round++ {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		commit := round%2 == 0 || round == rounds-1
		var vals []*kgo.Record
		for i := 0; i < 4; i++ {
			v := fmt.Sprintf("r%d-%d", round, i)
			if round == rounds-1 && i == 3 {
				v = "stop"
			}
			vals = append(vals, &kgo.Record{Partition: int32(i % 2), Value: []byte(v)})
		}
		if err := p.ProduceSync(ctx, vals...).FirstErr(); err != nil {
			t.Fatalf("round %d: produce: %v", round, err)
		}
		for _, r := range vals {
			all[r.Partition] = append(all[r.Partition], string(r.Value))
			if commit {
				want[r.Partition] = append(want[r.Partition], string(r.Value))
			}
		}
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("round %d: end (commit %v): %v", round, commit, err)
		}
	}
	got := consumeValues(t, b.Addr(), topic, kgo.ReadCommitted(), "stop")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read_committed saw\n%v\nwant\n%v", got, want)
	}
	if un := consumeValues(t, b.Addr(), topic, kgo.ReadUncommitted(), "stop"); fmt.Sprint(un) != fmt.Sprint(all) {
		t.Fatalf("read_uncommitted saw\n%v\nwant\n%v", un, all)
	}
}

// TestTxnLastStableOffset: while a transaction is open, ListOffsets and
// Fetch with read_committed stop at its first offset; after the commit
// they reach the high watermark.
func TestTxnLastStableOffset(t *testing.T) {
	b := testbroker.StartBroker(t, testbroker.WithConfig(txnConfig))
	const topic = "txn-lso"
	admin := txnClient(t, b.Addr())
	createTxnTopic(t, admin, topic, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := admin.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("plain")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	p := txnClient(t, b.Addr(), kgo.TransactionalID("lso-producer"), kgo.DefaultProduceTopic(topic))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	end := func(iso int8) int64 {
		req := kmsg.NewPtrListOffsetsRequest()
		req.IsolationLevel = iso
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		pr := resp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(pr.ErrorCode); err != nil {
			t.Fatal(err)
		}
		return pr.Offset
	}
	if rc, ru := end(1), end(0); rc != 1 || ru != 2 {
		t.Fatalf("open transaction: read_committed end %d (want 1), read_uncommitted end %d (want 2)", rc, ru)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	// EndTxn answers once the commit is decided; the markers follow,
	// as in Kafka.
	poll.Must(t, 10*time.Second, "markers written", func() error {
		if rc, ru := end(1), end(0); rc != ru || rc != 3 {
			return fmt.Errorf("after commit: read_committed end %d, read_uncommitted end %d, want 3 (records and marker)", rc, ru)
		}
		return nil
	})
}

// TestTxnFencing: a second producer with the same transactional id fences
// the first, whose open transaction is aborted.
func TestTxnFencing(t *testing.T) {
	b := testbroker.StartBroker(t, testbroker.WithConfig(txnConfig))
	const topic = "txn-fence"
	admin := txnClient(t, b.Addr())
	createTxnTopic(t, admin, topic, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first := txnClient(t, b.Addr(), kgo.TransactionalID("fenced"), kgo.DefaultProduceTopic(topic))
	if err := first.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := first.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	second := txnClient(t, b.Addr(), kgo.TransactionalID("fenced"), kgo.DefaultProduceTopic(topic))
	if err := second.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := second.ProduceSync(ctx, &kgo.Record{Value: []byte("stop")}).FirstErr(); err != nil {
		t.Fatalf("second producer: %v", err)
	}
	if err := second.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("second producer commit: %v", err)
	}
	err := first.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie-2")}).FirstErr()
	if err == nil {
		err = first.EndTransaction(ctx, kgo.TryCommit)
	}
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) && !errors.Is(err, kerr.InvalidTxnState) {
		t.Fatalf("zombie producer: %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", err)
	}
	got := consumeValues(t, b.Addr(), topic, kgo.ReadCommitted(), "stop")
	if fmt.Sprint(got[0]) != "[stop]" {
		t.Fatalf("read_committed saw %v, want only the second producer's record", got)
	}
}

// TestTxnBadInput: requests out of protocol get Kafka's errors and leave
// nothing visible to read_committed.
func TestTxnBadInput(t *testing.T) {
	b := testbroker.StartBroker(t, testbroker.WithConfig(txnConfig))
	const topic = "txn-bad"
	cl := txnClient(t, b.Addr())
	createTxnTopic(t, cl, topic, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const id = "bad-input"
	var pid int64
	var epoch int16
	poll.Must(t, 10*time.Second, "InitProducerId", func() error {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = kmsg.StringPtr(id)
		req.TransactionTimeoutMillis = 60000
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		pid, epoch = resp.ProducerID, resp.ProducerEpoch
		return kerr.ErrorForCode(resp.ErrorCode)
	})
	t.Run("timeout above transaction.max.timeout.ms", func(t *testing.T) {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = kmsg.StringPtr("too-long")
		req.TransactionTimeoutMillis = int32((16 * time.Minute).Milliseconds())
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || resp.ErrorCode != kerr.InvalidTransactionTimeout.Code {
			t.Fatalf("%v %v", err, kerr.ErrorForCode(resp.ErrorCode))
		}
	})
	t.Run("EndTxn without a transaction", func(t *testing.T) {
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = id, pid, epoch, true
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || resp.ErrorCode != kerr.InvalidTxnState.Code {
			t.Fatalf("%v %v", err, kerr.ErrorForCode(resp.ErrorCode))
		}
	})
	addPartitions := func(epoch int16, partition int32) int16 {
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.Version = 3
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = id, pid, epoch
		req.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: topic, Partitions: []int32{partition}}}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	t.Run("AddPartitionsToTxn with a stale epoch", func(t *testing.T) {
		if code := addPartitions(epoch-1, 0); code != kerr.ProducerFenced.Code && code != kerr.InvalidProducerEpoch.Code {
			t.Fatalf("%v", kerr.ErrorForCode(code))
		}
	})
	t.Run("AddPartitionsToTxn of an unknown partition", func(t *testing.T) {
		if code := addPartitions(epoch, 9); code != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("%v", kerr.ErrorForCode(code))
		}
	})
	td, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil || td.Error() != nil {
		t.Fatal(err, td.Error())
	}
	topicID := td[topic].ID
	// produce sends a transactional batch, with the transactional id or
	// without.
	produce := func(partition int32, withID bool) int16 {
		rec := batch.Build([]batch.Record{{Value: []byte("sneaky")}}, batch.BuildOptions{ProducerID: pid, ProducerEpoch: epoch, Transactional: true})
		req := kmsg.NewPtrProduceRequest()
		req.Acks = -1
		req.TimeoutMillis = 5000
		if withID {
			req.TransactionID = kmsg.StringPtr(id)
		}
		req.Topics = []kmsg.ProduceRequestTopic{{Topic: topic, TopicID: topicID, Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: partition, Records: rec}}}}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	t.Run("transactional produce to a partition not added", func(t *testing.T) {
		if code := addPartitions(epoch, 0); code != 0 {
			t.Fatalf("add partition 0: %v", kerr.ErrorForCode(code))
		}
		if code := produce(1, true); code != kerr.InvalidTxnState.Code {
			t.Fatalf("%v", kerr.ErrorForCode(code))
		}
	})
	t.Run("transactional batch without a transactional id", func(t *testing.T) {
		if code := produce(1, false); code != kerr.InvalidRecord.Code {
			t.Fatalf("%v, want INVALID_RECORD", kerr.ErrorForCode(code))
		}
	})
	// Nothing of the above is readable, even uncommitted, on partition 1.
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = 1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || resp.Topics[0].Partitions[0].Offset != 0 {
		t.Fatalf("partition 1 end after refused produces: %v %+v", err, resp)
	}
}

// TestTxnRestartMidTransaction: a broker restarted with a transaction
// open reloads it, and the coordinator aborts it at its timeout: its
// records never become visible, and the LSO moves on.
func TestTxnRestartMidTransaction(t *testing.T) {
	dir := t.TempDir()
	b := testbroker.StartBroker(t, testbroker.WithConfig(txnConfig), testbroker.WithDataDir(dir))
	const topic = "txn-restart"
	cl := txnClient(t, b.Addr())
	createTxnTopic(t, cl, topic, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := txnClient(t, b.Addr(), kgo.TransactionalID("restart"), kgo.DefaultProduceTopic(topic), kgo.TransactionTimeout(2*time.Second))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("lost")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	p.Close()
	cl.Close()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	b = testbroker.StartBroker(t, testbroker.WithConfig(txnConfig), testbroker.WithDataDir(dir))
	q := txnClient(t, b.Addr(), kgo.TransactionalID("after-restart"), kgo.DefaultProduceTopic(topic))
	if err := q.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := q.ProduceSync(ctx, &kgo.Record{Value: []byte("stop")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := q.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	got := consumeValues(t, b.Addr(), topic, kgo.ReadCommitted(), "stop")
	if strings.Join(got[0], ",") != "stop" {
		t.Fatalf("read_committed saw %v, want only the committed record", got)
	}
}

// TestWriteTxnMarkersAbort: WriteTxnMarkers as kafka-transactions.sh abort
// sends it to a partition leader ends a hanging transaction there: the
// ABORT marker is appended, read_committed readers get past the open
// transaction and never see its records; a partition the broker does not
// have answers UNKNOWN_TOPIC_OR_PARTITION, and a marker older than the
// producer's epoch INVALID_PRODUCER_EPOCH.
func TestWriteTxnMarkersAbort(t *testing.T) {
	b := testbroker.StartBroker(t, testbroker.WithConfig(txnConfig))
	const topic = "txn-markers"
	admin := txnClient(t, b.Addr())
	createTxnTopic(t, admin, topic, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// An earlier holder of the id, so the producer's epoch is above 0.
	if _, _, err := txnClient(t, b.Addr(), kgo.TransactionalID("hanging")).ProducerID(ctx); err != nil {
		t.Fatal(err)
	}
	p := txnClient(t, b.Addr(), kgo.TransactionalID("hanging"), kgo.DefaultProduceTopic(topic))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("hanging")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pid, epoch, err := p.ProducerID(ctx)
	if err != nil || epoch < 1 {
		t.Fatalf("producer id: %d epoch %d, %v; want epoch >= 1", pid, epoch, err)
	}
	markers := func(epoch int16, topic string) int16 {
		req := kmsg.NewPtrWriteTxnMarkersRequest()
		m := kmsg.NewWriteTxnMarkersRequestMarker()
		m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = pid, epoch, false, 0
		mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		mt.Topic, mt.Partitions = topic, []int32{0}
		m.Topics = append(m.Topics, mt)
		req.Markers = append(req.Markers, m)
		// To the broker itself: kgo would shard the request by leader.
		resp, err := req.RequestWith(ctx, admin.SeedBrokers()[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Markers) != 1 || resp.Markers[0].ProducerID != pid || len(resp.Markers[0].Topics) != 1 || len(resp.Markers[0].Topics[0].Partitions) != 1 {
			t.Fatalf("response shape: %+v", resp)
		}
		return resp.Markers[0].Topics[0].Partitions[0].ErrorCode
	}
	if code := markers(epoch, "no-such-topic"); code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown partition: code %d, want UNKNOWN_TOPIC_OR_PARTITION", code)
	}
	if code := markers(epoch-1, topic); code != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("stale epoch: code %d, want INVALID_PRODUCER_EPOCH", code)
	}
	if code := markers(epoch, topic); code != 0 {
		t.Fatalf("abort marker: code %d (%v)", code, kerr.ErrorForCode(code))
	}
	if err := admin.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("stop")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if got := consumeValues(t, b.Addr(), topic, kgo.ReadCommitted(), "stop"); fmt.Sprint(got[0]) != "[stop]" {
		t.Fatalf("read_committed after the abort marker saw %v, want only [stop]", got)
	}
}
