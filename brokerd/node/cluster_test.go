package node_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/broker"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/tiering/mototest"
)

var moto *mototest.Server

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	s, err := mototest.StartSerialized(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	moto = s
	return m.Run()
}

// cluster is a set of in-process brokers sharing one metadata table.
type cluster struct {
	t       *testing.T
	table   string
	brokers map[int32]*broker.Broker
	dirs    map[int32]string
}

func newCluster(t *testing.T, n int) *cluster {
	t.Setenv("AWS_ENDPOINT_URL", moto.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", mototest.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", mototest.SecretAccessKey)
	t.Setenv("AWS_REGION", mototest.Region)
	c := &cluster{t: t, table: fmt.Sprintf("kafki-node-%d", time.Now().UnixNano()), brokers: map[int32]*broker.Broker{}, dirs: map[int32]string{}}
	for id := int32(1); id <= int32(n); id++ {
		c.dirs[id] = t.TempDir()
		c.start(id)
	}
	ctx := t.Context()
	waitFor(t, 10*time.Second, "every broker sees the others", func() error {
		for id, b := range c.brokers {
			md, err := c.metadataFrom(ctx, b.Addr(), "")
			if err != nil {
				return err
			}
			if len(md.Brokers) != n {
				return fmt.Errorf("broker %d lists %d brokers", id, len(md.Brokers))
			}
		}
		return nil
	})
	return c
}

func (c *cluster) start(id int32) *broker.Broker {
	b := testbroker.StartBroker(c.t, testbroker.WithDataDir(c.dirs[id]), testbroker.WithConfig(func(cfg *config.Config) {
		cfg.NodeID = id
		cfg.MetadataStore, cfg.MetadataTable, cfg.MetadataCreateTable = config.MetadataDynamoDB, c.table, true
		cfg.SessionLease = 2 * time.Second
		cfg.MetadataPollInterval = 50 * time.Millisecond
		cfg.ReplicaLagTimeMax = 2 * time.Second
		cfg.ReplicaFetchWaitMax = 200 * time.Millisecond
		cfg.OffsetsTopicPartitions = 3
		cfg.GroupInitialRebalanceDelay = 0
	}))
	c.brokers[id] = b
	return b
}

func (c *cluster) seeds() []string {
	var out []string
	for _, b := range c.brokers {
		out = append(out, b.Addr())
	}
	return out
}

func (c *cluster) client(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.seeds()...)}, opts...)...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(cl.Close)
	return cl
}

// waitPlaced waits until every running broker's metadata shows every
// partition of topic with a leader and rf in-sync replicas; it returns
// the leaders.
func (c *cluster) waitPlaced(ctx context.Context, topic string, partitions, rf int) map[int32]bool {
	c.t.Helper()
	leaders := map[int32]bool{}
	waitFor(c.t, 20*time.Second, "metadata of every broker", func() error {
		clear(leaders)
		for id, b := range c.brokers {
			md, err := c.metadataFrom(ctx, b.Addr(), topic)
			if err != nil {
				return err
			}
			if len(md.Topics) != 1 || len(md.Topics[0].Partitions) != partitions {
				return fmt.Errorf("broker %d: topic %s not (fully) known", id, topic)
			}
			for _, p := range md.Topics[0].Partitions {
				if len(p.Replicas) != rf || len(p.ISR) != rf || p.Leader < 1 {
					return fmt.Errorf("broker %d: partition %d: leader %d replicas %v isr %v", id, p.Partition, p.Leader, p.Replicas, p.ISR)
				}
				leaders[p.Leader] = true
			}
		}
		return nil
	})
	return leaders
}

// metadataFrom asks the broker at addr, and only it, for a topic's
// metadata.
func (c *cluster) metadataFrom(ctx context.Context, addr, topic string) (*kmsg.MetadataResponse, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	if topic != "" {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// waitFor polls cond (state the brokers' goroutines change) until it
// holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReplicatedTopic: a topic with replication factor 3 is placed on
// all three brokers, acks=all writes reach every replica's log, and every
// record reads back in order.
func TestReplicatedTopic(t *testing.T) {
	c := newCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cl := c.client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	res, err := adm.CreateTopic(ctx, 3, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, "r3")
	if err != nil || res.Err != nil {
		t.Fatalf("create: %v %v", err, res.Err)
	}
	// Every broker learns the placement (metadata is eventually
	// consistent across brokers, as in Kafka).
	leaders := c.waitPlaced(ctx, "r3", 3, 3)
	if len(leaders) != 3 {
		t.Errorf("leaders %v: not spread over the brokers", leaders)
	}

	const perPartition = 200
	for i := 0; i < perPartition; i++ {
		for p := int32(0); p < 3; p++ {
			cl.Produce(ctx, &kgo.Record{Topic: "r3", Partition: p, Value: fmt.Appendf(nil, "%d-%d", p, i)}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("produce: %v", err)
				}
			})
		}
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Every replica holds every record; the high watermark covers them.
	waitFor(t, 20*time.Second, "replicas catch up", func() error {
		for id, b := range c.brokers {
			for p := int32(0); p < 3; p++ {
				part := b.Topics().Partition("r3", p)
				if part == nil {
					return fmt.Errorf("broker %d has no r3-%d", id, p)
				}
				if leo, hw := part.Log().LogEndOffset(), part.HighWatermark(); leo != perPartition || hw != perPartition {
					return fmt.Errorf("broker %d r3-%d: log end %d, high watermark %d", id, p, leo, hw)
				}
			}
		}
		return nil
	})
	cons := c.client(kgo.ConsumeTopics("r3"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	next := map[int32]int{}
	total := 0
	for total < 3*perPartition {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d: %v", total, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			if want := fmt.Sprintf("%d-%d", r.Partition, next[r.Partition]); string(r.Value) != want || r.Offset != int64(next[r.Partition]) {
				t.Fatalf("partition %d offset %d: %q, want %q", r.Partition, r.Offset, r.Value, want)
			}
			next[r.Partition]++
			total++
		})
	}
}

// TestLeaderFailover: when a partition's leader stops, another in-sync
// replica takes over with a higher leader epoch, acknowledged writes stay,
// and the old leader rejoins as a follower and catches up.
func TestLeaderFailover(t *testing.T) {
	c := newCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cl := c.client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	if res, err := adm.CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, "f"); err != nil || res.Err != nil {
		t.Fatalf("create: %v %v", err, res.Err)
	}
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "f", Value: fmt.Appendf(nil, "v%d", i)}).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
		}
	}
	c.waitPlaced(ctx, "f", 1, 3)
	produce(0, 100)
	md, err := adm.Metadata(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	old := md.Topics["f"].Partitions[0]
	if err := c.brokers[old.Leader].Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := old.Leader
	delete(c.brokers, stopped)
	waitFor(t, 20*time.Second, "new leader", func() error {
		for _, b := range c.brokers {
			st, ok := b.Topics().Partition("f", 0), true
			_ = ok
			if role, leader, epoch := st.Role(); role.String() == "leader" && leader != stopped && epoch > old.LeaderEpoch {
				return nil
			}
		}
		return fmt.Errorf("no new leader yet")
	})
	produce(100, 200)

	c.start(stopped)
	waitFor(t, 20*time.Second, "old leader catches up", func() error {
		p := c.brokers[stopped].Topics().Partition("f", 0)
		if leo := p.Log().LogEndOffset(); leo != 200 {
			return fmt.Errorf("log end %d", leo)
		}
		md, err := adm.Metadata(ctx, "f")
		if err != nil {
			return err
		}
		if isr := md.Topics["f"].Partitions[0].ISR; !slices.Contains(isr, stopped) {
			return fmt.Errorf("ISR %v without %d", isr, stopped)
		}
		return nil
	})
	cons := c.client(kgo.ConsumeTopics("f"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := 0
	for got < 200 {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d: %v", got, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if want := fmt.Sprintf("v%d", got); string(r.Value) != want || r.Offset != int64(got) {
				t.Fatalf("offset %d: %q, want %q at %d", r.Offset, r.Value, want, got)
			}
			got++
		})
	}
}

// TestGroupCoordinatorMoves: committed offsets live in the replicated
// __consumer_offsets; when the group's coordinator stops, the new leader of
// its offsets partition coordinates the group with every offset intact,
// and a consumer group keeps working.
func TestGroupCoordinatorMoves(t *testing.T) {
	c := newCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cl := c.client(kgo.RequiredAcks(kgo.AllISRAcks()))
	adm := kadm.NewClient(cl)
	if res, err := adm.CreateTopic(ctx, 3, 3, nil, "g"); err != nil || res.Err != nil {
		t.Fatalf("create: %v %v", err, res.Err)
	}
	c.waitPlaced(ctx, "g", 3, 3)
	for i := 0; i < 90; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "g", Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	consume := func(want int) {
		t.Helper()
		g := c.client(kgo.ConsumerGroup("grp"), kgo.ConsumeTopics("g"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.DisableAutoCommit())
		got := 0
		for got < want {
			fs := g.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("group consumed %d of %d: %v", got, want, err)
			}
			got += fs.NumRecords()
		}
		if err := g.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("commit: %v", err)
		}
		g.Close()
	}
	consume(90)
	coord := adm.FindGroupCoordinators(ctx, "grp")["grp"]
	if coord.Err != nil {
		t.Fatal(coord.Err)
	}
	if err := c.brokers[coord.NodeID].Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	delete(c.brokers, coord.NodeID)
	cl2 := c.client()
	adm2 := kadm.NewClient(cl2)
	waitFor(t, 30*time.Second, "offsets from the new coordinator", func() error {
		offs, err := adm2.FetchOffsets(ctx, "grp")
		if err != nil {
			return err
		}
		total := int64(0)
		offs.Each(func(o kadm.OffsetResponse) { total += o.At })
		if total != 90 {
			return fmt.Errorf("committed offsets sum to %d, want 90", total)
		}
		return nil
	})
	if nc := adm2.FindGroupCoordinators(ctx, "grp")["grp"]; nc.Err != nil || nc.NodeID == coord.NodeID {
		t.Fatalf("coordinator after failover: %+v (old %d)", nc, coord.NodeID)
	}
	// The group resumes from its commits: 30 new records are all it reads.
	for i := 0; i < 30; i++ {
		if err := cl2.ProduceSync(ctx, &kgo.Record{Topic: "g", Value: []byte("w")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	g := c.client(kgo.ConsumerGroup("grp"), kgo.ConsumeTopics("g"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := 0
	for got < 30 {
		fs := g.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("resumed group consumed %d of 30: %v", got, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Value) != "w" {
				t.Fatalf("re-read an already committed record at %d/%d", r.Partition, r.Offset)
			}
			got++
		})
	}
}
