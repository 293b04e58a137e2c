package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/broker"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/groups"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/internal/poll"
)

// groupTestConfig makes rebalances fast: no initial delay, short
// sessions allowed, few offsets partitions.
func groupTestConfig(c *config.Config) {
	c.GroupInitialRebalanceDelay = 0
	c.GroupMinSessionTimeout = 100 * time.Millisecond
	c.OffsetsTopicPartitions = 5
}

func startGroupBroker(t testing.TB, opts ...testbroker.Option) *broker.Broker {
	t.Helper()
	return testbroker.StartBroker(t, append([]testbroker.Option{testbroker.WithConfig(groupTestConfig)}, opts...)...)
}

// memberOpts are the options of a fast group member.
func memberOpts(group string, topics ...string) []kgo.Opt {
	return []kgo.Opt{
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(2 * time.Second), kgo.HeartbeatInterval(100 * time.Millisecond),
		kgo.RebalanceTimeout(5 * time.Second),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}
}

// produceValues produces n records with values prefix-0..n-1 spread
// over the partitions of topic and waits for every ack.
func produceValues(t *testing.T, cl *kgo.Client, topic, prefix string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := 0; i < n; i++ {
		wg.Add(1)
		cl.Produce(ctxT(t), &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "%s-%d", prefix, i)}, func(_ *kgo.Record, err error) {
			mu.Lock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
			wg.Done()
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("produce: %v", firstErr)
	}
}

// seen collects records by value across members.
type seen struct {
	mu     sync.Mutex
	counts map[string]int
	by     map[string]map[string]bool // member → values
	total  int
}

func newSeen() *seen { return &seen{counts: map[string]int{}, by: map[string]map[string]bool{}} }

func (s *seen) add(member string, rs []*kgo.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.by[member] == nil {
		s.by[member] = map[string]bool{}
	}
	for _, r := range rs {
		s.counts[string(r.Value)]++
		s.by[member][string(r.Value)] = true
		s.total++
	}
}

func (s *seen) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.counts)
}

// pollInto polls cl until ctx ends, adding what it gets to s.
func pollInto(ctx context.Context, name string, cl *kgo.Client, s *seen) {
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		s.add(name, fs.Records())
	}
}

// waitStable waits until the group is Stable with members members that
// together own every one of partitions partitions.
func waitStable(t *testing.T, b *broker.Broker, addr, group string, members, partitions int) kadm.DescribedGroup {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	var last kadm.DescribedGroup
	poll.True(t, 15*time.Second, fmt.Sprintf("group %s stable with %d members", group, members), func() bool {
		if d := b.Groups().DescribeGroup(group); d.State != groups.Stable || len(d.Members) != members {
			return false
		}
		ds, err := adm.DescribeGroups(context.Background(), group)
		if err != nil {
			return false
		}
		last = ds[group]
		n := 0
		for _, m := range last.Members {
			if ca, ok := m.Assigned.AsConsumer(); ok {
				for _, t := range ca.Topics {
					n += len(t.Partitions)
				}
			}
		}
		return n == partitions
	})
	return last
}

// producer spreads records over every partition of topic.
func producer(t *testing.T, addr, topic string) *kgo.Client {
	return newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
}

// withGroupLimits makes the bounds easy to hit.
func withGroupLimits(o *config.Config) {
	o.GroupMaxSize = 1
	o.OffsetMetadataMaxBytes = 64
	o.GroupMinSessionTimeout = 100 * time.Millisecond
}
