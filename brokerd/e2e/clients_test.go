package e2e

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// newClient returns a kgo client for addr, closed at test cleanup.
func newClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.FetchMaxWait(100 * time.Millisecond),
		kgo.RetryTimeout(20 * time.Second),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("kgo client for %s: %v", addr, err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates topic with the given partition count through the
// CreateTopics API and fails the test on any error.
func createTopic(t testing.TB, addr, topic string, partitions int32) {
	t.Helper()
	cl := newClient(t, addr)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %q with %d partitions: %v", topic, partitions, err)
	}
}

// endOffsets lists the log end offset of every partition of topic.
func endOffsets(t testing.TB, addr, topic string) map[int32]int64 {
	t.Helper()
	cl := newClient(t, addr)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	listed, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list end offsets of %q: %v", topic, err)
	}
	ends := map[int32]int64{}
	var lerr error
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && lerr == nil {
			lerr = fmt.Errorf("partition %d: %w", o.Partition, o.Err)
		}
		ends[o.Partition] = o.Offset
	})
	if lerr != nil {
		t.Fatalf("list end offsets of %q: %v", topic, lerr)
	}
	if len(ends) == 0 {
		t.Fatalf("list end offsets of %q: no partitions", topic)
	}
	return ends
}

// readAll reads every partition of topic from offset 0 up to the end
// offsets listed when it starts, and returns the records by partition in
// the order they were fetched. It fails the test if that takes longer than
// timeout.
func readAll(t testing.TB, addr, topic string, timeout time.Duration) map[int32][]*kgo.Record {
	t.Helper()
	ends := endOffsets(t, addr, topic)
	start := map[int32]kgo.Offset{}
	for p := range ends {
		start[p] = kgo.NewOffset().At(0)
	}
	cl := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	out := map[int32][]*kgo.Record{}
	next := map[int32]int64{} // offset after the last record read
	done := func() bool {
		for p, end := range ends {
			if next[p] < end {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %q: %v; read up to %v of end offsets %v", topic, ctx.Err(), next, ends)
		}
		fs.EachError(func(tp string, p int32, err error) {
			t.Fatalf("fetch %s/%d: %v", tp, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < ends[r.Partition] {
				out[r.Partition] = append(out[r.Partition], r)
			}
			next[r.Partition] = r.Offset + 1
		})
	}
	return out
}

// partitions returns the keys of m in order.
func partitions[V any](m map[int32]V) []int32 {
	ps := make([]int32, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

// produceSync produces values to partition 0 of topic, one record per
// value, and fails the test unless every record is acknowledged.
func produceSync(t testing.TB, cl *kgo.Client, topic string, values []string) {
	t.Helper()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Topic: topic, Partition: 0, Value: []byte(v)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce %d records to %q: %v", len(values), topic, err)
	}
}
