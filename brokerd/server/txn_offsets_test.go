package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/internal/poll"
)

// txnGroupConfig is txnConfig with groupTestConfig's fast rebalances.
func txnGroupConfig(c *config.Config) {
	txnConfig(c)
	groupTestConfig(c)
}

// txnProducer is a transactional id's producer id and epoch, as
// InitProducerId hands them out.
type txnProducer struct {
	id    string
	pid   int64
	epoch int16
}

func initTxnProducer(t *testing.T, cl *kgo.Client, id string) txnProducer {
	t.Helper()
	p := txnProducer{id: id}
	poll.Must(t, 10*time.Second, "InitProducerId "+id, func() error {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = kmsg.StringPtr(id)
		req.TransactionTimeoutMillis = 60000
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			return err
		}
		p.pid, p.epoch = resp.ProducerID, resp.ProducerEpoch
		return kerr.ErrorForCode(resp.ErrorCode)
	})
	return p
}

func (p txnProducer) addOffsets(t *testing.T, cl *kgo.Client, group string) int16 {
	t.Helper()
	req := kmsg.NewPtrAddOffsetsToTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = p.id, p.pid, p.epoch, group
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.ErrorCode
}

// commitOffset sends a TxnOffsetCommit of one partition; gen -1 and ""
// commit as a producer outside the group.
func (p txnProducer) commitOffset(t *testing.T, cl *kgo.Client, group string, gen int32, member, topic string, partition int32, offset int64) int16 {
	t.Helper()
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = p.id, group, p.pid, p.epoch
	req.Generation, req.MemberID = gen, member
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = partition, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if req.Version < 3 {
		t.Fatalf("TxnOffsetCommit v%d: the member fields were not sent", req.Version)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

func (p txnProducer) end(t *testing.T, cl *kgo.Client, commit bool) {
	t.Helper()
	poll.Must(t, 10*time.Second, "EndTxn", func() error {
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = p.id, p.pid, p.epoch, commit
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	})
}

// fetchOffset is OffsetFetch's answer for one partition, with
// require_stable or without.
func fetchOffset(t *testing.T, cl *kgo.Client, group, topic string, partition int32, stable bool) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 7
	req.Group, req.RequireStable = group, stable
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{partition}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 0 {
		t.Fatalf("OffsetFetch: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	p := resp.Topics[0].Partitions[0]
	return p.Offset, p.ErrorCode
}

// awaitStableOffset waits for the group's offset of the partition to be
// stable (the transaction's marker applied) and want.
func awaitStableOffset(t *testing.T, cl *kgo.Client, group, topic string, partition int32, want int64) {
	t.Helper()
	poll.Must(t, 10*time.Second, fmt.Sprintf("stable offset %d", want), func() error {
		got, code := fetchOffset(t, cl, group, topic, partition, true)
		if code != 0 || got != want {
			return fmt.Errorf("offset %d, %v", got, kerr.ErrorForCode(code))
		}
		return nil
	})
}

// joinAlone makes a one-member classic group and returns the member id
// and generation.
func joinAlone(t *testing.T, cl *kgo.Client, group string) (string, int32) {
	t.Helper()
	meta := kmsg.NewConsumerMemberMetadata()
	join := func(member string) *kmsg.JoinGroupResponse {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.MemberID = group, member
		req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 30000, 30000
		req.ProtocolType = "consumer"
		req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: meta.AppendTo(nil)}}
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := join("")
	if resp.ErrorCode == kerr.MemberIDRequired.Code {
		resp = join(resp.MemberID)
	}
	if resp.ErrorCode != 0 {
		t.Fatalf("JoinGroup: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = group, resp.MemberID, resp.Generation
	sync.ProtocolType, sync.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: resp.MemberID, MemberAssignment: []byte{}}}
	sresp, err := sync.RequestWith(ctxT(t), cl)
	if err != nil || sresp.ErrorCode != 0 {
		t.Fatalf("SyncGroup: %v %v", err, kerr.ErrorForCode(sresp.ErrorCode))
	}
	return resp.MemberID, resp.Generation
}

// TestTxnOffsetCommitWire: offsets committed in a transaction become
// visible at its commit and never after an abort; while pending,
// OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT and
// without it the previous offset. Out-of-protocol commits are refused
// with Kafka's errors and change nothing. The broker offers transaction
// version 1, whose clients send AddOffsetsToTxn (under version 2,
// TxnOffsetCommit v5 adds the group itself: the GroupTransactSession
// test runs franz-go that way).
func TestTxnOffsetCommitWire(t *testing.T) {
	b := startGroupBroker(t, testbroker.WithConfig(txnConfig), testbroker.WithConfig(func(c *config.Config) { c.TransactionVersion = 1 }))
	const topic, group = "txo", "txo-group"
	cl := txnClient(t, b.Addr())
	createTxnTopic(t, cl, topic, 2)
	produceValues(t, producer(t, b.Addr(), topic), topic, "v", 40)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 1, LeaderEpoch: -1})
	if resp, err := kadm.NewClient(cl).CommitOffsets(ctxT(t), group, offs); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
	initTxnProducer(t, cl, "txo-id") // the second init bumps the epoch
	p := initTxnProducer(t, cl, "txo-id")
	if p.epoch < 1 {
		t.Fatalf("epoch %d after two InitProducerId", p.epoch)
	}

	t.Run("TxnOffsetCommit without AddOffsetsToTxn", func(t *testing.T) {
		if code := p.commitOffset(t, cl, group, -1, "", topic, 0, 5); code != kerr.InvalidTxnState.Code {
			t.Fatalf("%v, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
		}
	})
	if code := p.addOffsets(t, cl, group); code != 0 {
		t.Fatalf("AddOffsetsToTxn: %v", kerr.ErrorForCode(code))
	}
	t.Run("stale epoch", func(t *testing.T) {
		stale := p
		stale.epoch--
		if code := stale.commitOffset(t, cl, group, -1, "", topic, 0, 5); code != kerr.ProducerFenced.Code && code != kerr.InvalidProducerEpoch.Code {
			t.Fatalf("%v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", kerr.ErrorForCode(code))
		}
		if code := stale.addOffsets(t, cl, group); code != kerr.ProducerFenced.Code && code != kerr.InvalidProducerEpoch.Code {
			t.Fatalf("AddOffsetsToTxn: %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", kerr.ErrorForCode(code))
		}
	})
	t.Run("offset beyond the log end", func(t *testing.T) {
		if code := p.commitOffset(t, cl, group, -1, "", topic, 0, 1000); code != kerr.OffsetOutOfRange.Code {
			t.Fatalf("%v, want OFFSET_OUT_OF_RANGE", kerr.ErrorForCode(code))
		}
	})
	if code := p.commitOffset(t, cl, group, -1, "", topic, 0, 7); code != 0 {
		t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(code))
	}
	if off, code := fetchOffset(t, cl, group, topic, 0, true); code != kerr.UnstableOffsetCommit.Code || off != -1 {
		t.Fatalf("require_stable while pending: offset %d %v, want UNSTABLE_OFFSET_COMMIT", off, kerr.ErrorForCode(code))
	}
	if off, code := fetchOffset(t, cl, group, topic, 0, false); code != 0 || off != 1 {
		t.Fatalf("OffsetFetch while pending: offset %d %v, want the committed 1", off, kerr.ErrorForCode(code))
	}
	if off, code := fetchOffset(t, cl, group, topic, 1, true); code != 0 || off != -1 {
		t.Fatalf("require_stable of a partition without pending offsets: %d %v", off, kerr.ErrorForCode(code))
	}
	p.end(t, cl, true)
	awaitStableOffset(t, cl, group, topic, 0, 7)

	// The next transaction aborts: the offset stays 7.
	if code := p.addOffsets(t, cl, group); code != 0 {
		t.Fatalf("AddOffsetsToTxn: %v", kerr.ErrorForCode(code))
	}
	if code := p.commitOffset(t, cl, group, -1, "", topic, 0, 9); code != 0 {
		t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(code))
	}
	p.end(t, cl, false)
	awaitStableOffset(t, cl, group, topic, 0, 7)

	t.Run("member of another generation", func(t *testing.T) {
		const g = "txo-members"
		member, gen := joinAlone(t, cl, g)
		if code := p.addOffsets(t, cl, g); code != 0 {
			t.Fatalf("AddOffsetsToTxn: %v", kerr.ErrorForCode(code))
		}
		if code := p.commitOffset(t, cl, g, gen+1, member, topic, 0, 3); code != kerr.IllegalGeneration.Code {
			t.Fatalf("%v, want ILLEGAL_GENERATION", kerr.ErrorForCode(code))
		}
		if code := p.commitOffset(t, cl, g, gen, "someone-else", topic, 0, 3); code != kerr.UnknownMemberID.Code {
			t.Fatalf("%v, want UNKNOWN_MEMBER_ID", kerr.ErrorForCode(code))
		}
		if code := p.commitOffset(t, cl, g, gen, member, topic, 0, 4); code != 0 {
			t.Fatalf("the member's commit: %v", kerr.ErrorForCode(code))
		}
		p.end(t, cl, true)
		awaitStableOffset(t, cl, g, topic, 0, 4)
	})
}

// eosWorker is one member of a consume-transform-produce group: a
// kgo.GroupTransactSession copying every record of in to the same
// partition of out, committing its input offsets in the transaction. A
// session whose End fails (no error of End is retryable) is closed and
// replaced by a new one with the same transactional id, which fences
// whatever the old one left open, as an application would.
type eosWorker struct {
	stop func()
	done chan struct{}
}

func startEOSWorker(t *testing.T, addr string, n int, group, in, out string) *eosWorker {
	t.Helper()
	pollCtx, stop := context.WithCancel(context.Background())
	w := &eosWorker{stop: stop, done: make(chan struct{})}
	opts := append(memberOpts(group, in),
		kgo.SeedBrokers(addr),
		kgo.TransactionalID(fmt.Sprintf("%s-worker-%d", group, n)),
		kgo.TransactionTimeout(10*time.Second),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)
	t.Cleanup(w.Stop)
	go func() {
		defer close(w.done)
		for pollCtx.Err() == nil {
			s, err := kgo.NewGroupTransactSession(opts...)
			if err != nil {
				t.Errorf("worker %d: %v", n, err)
				return
			}
			runEOSSession(pollCtx, t, n, s, out)
			s.Close()
		}
	}()
	return w
}

// runEOSSession transforms until pollCtx ends or the session fails.
func runEOSSession(pollCtx context.Context, t *testing.T, n int, s *kgo.GroupTransactSession, out string) {
	for {
		fs := s.PollFetches(pollCtx)
		if pollCtx.Err() != nil {
			return // no transaction is open: Begin comes next
		}
		if err := s.Begin(); err != nil {
			t.Logf("worker %d: begin: %v", n, err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		fs.EachRecord(func(r *kgo.Record) {
			s.Produce(ctx, &kgo.Record{Topic: out, Partition: r.Partition, Value: r.Value, Headers: []kgo.RecordHeader{{Key: "worker", Value: fmt.Append(nil, n)}}}, nil)
		})
		_, err := s.End(ctx, kgo.TryCommit)
		cancel()
		if err != nil {
			t.Logf("worker %d: end: %v; starting a new session", n, err)
			return
		}
	}
}

// Stop ends the worker between two transactions and waits for it.
func (w *eosWorker) Stop() {
	w.stop()
	<-w.done
}

// committedTotal is the sum of group's visible committed offsets of
// topic.
func committedTotal(t *testing.T, adm *kadm.Client, group, topic string) int64 {
	offs, err := adm.FetchOffsets(context.Background(), group)
	if err != nil || offs.Error() != nil {
		return -1
	}
	var n int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.At > 0 {
			n += o.At
		}
	})
	return n
}

// TestTxnGroupTransactSession: franz-go's consume-transform-produce
// (GroupTransactSession) between two topics of 4 partitions, through
// rebalances (a second and a third member join, the first leaves) while
// records flow: read_committed, the output holds every input record
// exactly once.
func TestTxnGroupTransactSession(t *testing.T) { testGroupTransactSession(t, false) }

// TestTxnGroupTransactSessionRestart is the same with the broker
// restarted on its data in the middle: transactions open at the restart
// abort, and their input is copied again by a later one, once.
func TestTxnGroupTransactSessionRestart(t *testing.T) { testGroupTransactSession(t, true) }

// eosRecords is how many records the input gets; the producer keeps at
// most eosWindow of them ahead of the group's commits, so records are
// flowing whenever the membership changes.
const eosRecords, eosWindow = 4000, 200

func testGroupTransactSession(t *testing.T, restart bool) {
	dir := t.TempDir()
	b := testbroker.StartBroker(t, testbroker.WithConfig(txnGroupConfig), testbroker.WithDataDir(dir))
	addr := b.Addr()
	const in, out, group, parts = "eos-in", "eos-out", "eos-group", 4
	admCl := txnClient(t, addr)
	createTxnTopic(t, admCl, in, parts)
	createTxnTopic(t, admCl, out, parts)
	adm := kadm.NewClient(newClient(t, addr))
	progress := func(what string, want int64) {
		t.Helper()
		poll.True(t, 60*time.Second, fmt.Sprintf("%s: %d input records committed", what, want), func() bool {
			return committedTotal(t, adm, group, in) >= want
		})
	}
	produced := make(chan error, 1)
	prod := newClient(t, addr, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	go func() { produced <- producePaced(t, prod, adm, group, in) }()

	w1 := startEOSWorker(t, addr, 1, group, in, out)
	progress("one member", eosRecords/8)
	w2 := startEOSWorker(t, addr, 2, group, in, out)
	progress("second member joined", 3*eosRecords/8)
	w3 := startEOSWorker(t, addr, 3, group, in, out)
	progress("third member joined", 5*eosRecords/8)
	w1.Stop()
	if restart {
		progress("first member left", 6*eosRecords/8)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		if err := b.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		testbroker.StartBroker(t, testbroker.WithConfig(txnGroupConfig), testbroker.WithDataDir(dir),
			testbroker.WithConfig(func(c *config.Config) { c.Listen = addr }))
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	progress("all", eosRecords)
	w2.Stop()
	w3.Stop()
	if got := committedTotal(t, adm, group, in); got != eosRecords {
		t.Fatalf("committed %d input records, produced %d", got, eosRecords)
	}
	byWorker := readExactlyOnce(t, addr, out, parts)
	for w := 1; w <= 3; w++ {
		if byWorker[w] == 0 {
			t.Errorf("worker %d copied nothing (by worker: %v): the group did not rebalance onto it", w, byWorker)
		}
	}
}

// producePaced produces eosRecords values v-0.. to topic, in batches,
// each once the group has committed all but eosWindow of the records
// before it.
func producePaced(t *testing.T, cl *kgo.Client, adm *kadm.Client, group, topic string) error {
	const batch = 20
	for i := 0; i < eosRecords; i += batch {
		err := poll.Within(context.Background(), 60*time.Second, "the group catching up", func() error {
			if c := committedTotal(t, adm, group, topic); c < int64(i-eosWindow) {
				return fmt.Errorf("%d committed, %d produced", c, i)
			}
			return nil
		})
		if err != nil {
			return err
		}
		var rs []*kgo.Record
		for j := i; j < i+batch; j++ {
			rs = append(rs, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "v-%d", j)})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = cl.ProduceSync(ctx, rs...).FirstErr()
		cancel()
		if err != nil {
			return fmt.Errorf("produce v-%d..: %w", i, err)
		}
	}
	return nil
}

// readExactlyOnce reads out read_committed up to a plain record closing
// each partition, checks that it holds v-0..v-(eosRecords-1) once each,
// and returns how many each worker copied.
func readExactlyOnce(t *testing.T, addr, out string, parts int32) map[int]int {
	t.Helper()
	// read_committed reaches a partition's closing record only once
	// every transaction before it has ended.
	closer := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < parts; p++ {
		if err := closer.ProduceSync(ctxT(t), &kgo.Record{Topic: out, Partition: p, Value: []byte("stop")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	rd := newClient(t, addr, kgo.ConsumeTopics(out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	counts := map[string]int{}
	byWorker := map[int]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for stops := int32(0); stops < parts; {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %d of %d partitions done, %d values", out, stops, parts, len(counts))
		}
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Value) == "stop" {
				stops++
				return
			}
			counts[string(r.Value)]++
			for _, h := range r.Headers {
				if h.Key == "worker" {
					var w int
					fmt.Sscan(string(h.Value), &w)
					byWorker[w]++
				}
			}
		})
	}
	var missing, dup []string
	for i := 0; i < eosRecords; i++ {
		v := fmt.Sprintf("v-%d", i)
		switch counts[v] {
		case 1:
		case 0:
			missing = append(missing, v)
		default:
			dup = append(dup, v)
		}
		delete(counts, v)
	}
	if len(missing) > 0 || len(dup) > 0 || len(counts) > 0 {
		t.Fatalf("output: %d missing (%.10v), %d duplicated (%.10v), %d unexpected", len(missing), missing, len(dup), dup, len(counts))
	}
	return byWorker
}

// TestTxnOffsetsACL: AddOffsetsToTxn needs WRITE on the transactional id
// and READ on the group; TxnOffsetCommit READ on each topic too, as in
// Kafka. Denied requests get the error of the first check that fails.
func TestTxnOffsetsACL(t *testing.T) {
	e := newACLEnv(t, anonymous)
	const id, group, topic = "tx-offsets", "g-txn", "t-txn"
	idACL := kadm.NewACLs().Allow(e.who).AllowHosts("*").TransactionalIDs(id).ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpWrite)
	addOffsets := func() int16 {
		req := kmsg.NewPtrAddOffsetsToTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = id, 1, 0, group
		return e.request(req).(*kmsg.AddOffsetsToTxnResponse).ErrorCode
	}
	commit := func() int16 {
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = id, group, 1, 0
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = topic
		rt.Partitions = []kmsg.TxnOffsetCommitRequestTopicPartition{kmsg.NewTxnOffsetCommitRequestTopicPartition()}
		req.Topics = append(req.Topics, rt)
		return e.request(req).(*kmsg.TxnOffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
	}
	want := func(what string, got int16, want *kerr.Error) {
		t.Helper()
		if got != want.Code {
			t.Fatalf("%s: %v, want %s", what, kerr.ErrorForCode(got), want.Message)
		}
	}
	want("AddOffsetsToTxn without ACLs", addOffsets(), kerr.TransactionalIDAuthorizationFailed)
	want("TxnOffsetCommit without ACLs", commit(), kerr.TransactionalIDAuthorizationFailed)
	e.grant(idACL)
	want("AddOffsetsToTxn without READ on the group", addOffsets(), kerr.GroupAuthorizationFailed)
	want("TxnOffsetCommit without READ on the group", commit(), kerr.GroupAuthorizationFailed)
	e.grant(groupACL(e.who, group, kadm.OpRead))
	want("TxnOffsetCommit without READ on the topic", commit(), kerr.TopicAuthorizationFailed)
	e.grant(topicACL(e.who, kadm.ACLPatternLiteral, []string{topic}, kadm.OpRead))
	// Authorized: the transaction coordinator answers (the id has no
	// producer).
	want("AddOffsetsToTxn authorized", addOffsets(), kerr.InvalidProducerIDMapping)
	want("TxnOffsetCommit authorized", commit(), kerr.InvalidProducerIDMapping)
}
