package server_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkGroupRebalance3Members measures one complete rebalance of a
// 3-member group over the wire: every member's JoinGroup, the leader's
// assignment in SyncGroup (persisted to __consumer_offsets) and every
// member's SyncGroup answer.
func BenchmarkGroupRebalance3Members(b *testing.B) {
	br := startGroupBroker(b)
	addr := br.Addr()
	const n = 3
	clients := make([]*kgo.Client, n)
	for i := range clients {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		clients[i] = cl
	}
	ctx := context.Background()
	ids := make([]string, n)
	var join func(i int, round int) *kmsg.JoinGroupResponse
	join = func(i int, round int) *kmsg.JoinGroupResponse {
		r := kmsg.NewPtrJoinGroupRequest()
		r.Group, r.MemberID, r.ProtocolType = "bench", ids[i], "consumer"
		r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = 10000, 10000
		// New metadata each round makes every rejoin start a rebalance.
		r.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: fmt.Appendf(nil, "%d", round)}}
		resp, err := r.RequestWith(ctx, clients[i].Broker(1))
		if err != nil {
			b.Fatal(err)
		}
		if resp.ErrorCode == 79 { // MEMBER_ID_REQUIRED
			ids[i] = resp.MemberID
			return join(i, round)
		}
		return resp
	}
	round := func(r int) {
		var wg sync.WaitGroup
		resps := make([]*kmsg.JoinGroupResponse, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); resps[i] = join(i, r) }()
		}
		wg.Wait()
		for i, resp := range resps {
			if resp.ErrorCode != 0 {
				b.Fatalf("join %d: code %d", i, resp.ErrorCode)
			}
			ids[i] = resp.MemberID
		}
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := kmsg.NewPtrSyncGroupRequest()
				s.Group, s.Generation, s.MemberID = "bench", resps[i].Generation, ids[i]
				for _, m := range resps[i].Members {
					s.GroupAssignment = append(s.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: m.MemberID, MemberAssignment: []byte("a")})
				}
				sr, err := s.RequestWith(ctx, clients[i].Broker(1))
				if err != nil || sr.ErrorCode != 0 {
					b.Errorf("sync %d: %v %v", i, err, sr)
				}
			}()
		}
		wg.Wait()
	}
	round(-1)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		round(i)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "µs/rebalance")
}

// BenchmarkOffsetCommit measures OffsetCommit throughput, one partition
// per request: from one client in sequence, and from commitClients
// clients (each its own connection and group) committing concurrently.
func BenchmarkOffsetCommit(b *testing.B) {
	br := startGroupBroker(b)
	addr := br.Addr()
	newCl := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(cl.Close)
		return cl
	}
	cl := newCl()
	createBenchTopic(b, cl, "bench", 1)
	commit := func(cl *kgo.Client, group string) {
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Group, r.Generation = group, -1
		t := kmsg.NewOffsetCommitRequestTopic()
		t.Topic = "bench"
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		t.Partitions = append(t.Partitions, p)
		r.Topics = append(r.Topics, t)
		resp, err := r.RequestWith(context.Background(), cl.Broker(1))
		if err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
			b.Errorf("commit: %v %+v", err, resp)
		}
	}
	commit(cl, "warm")
	b.Run("sequential", func(b *testing.B) {
		start := time.Now()
		for i := 0; i < b.N; i++ {
			commit(cl, "seq")
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commits/s")
	})
	const commitClients = 8
	clients := make([]*kgo.Client, commitClients)
	for i := range clients {
		clients[i] = newCl()
		commit(clients[i], "warm") // connected before timing
	}
	b.Run(fmt.Sprintf("clients%d", commitClients), func(b *testing.B) {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g := fmt.Sprint("par-", i)
				for next.Add(1) <= int64(b.N) {
					commit(c, g)
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commits/s")
	})
}

// createBenchTopic creates topic with the given partitions.
func createBenchTopic(b *testing.B, cl *kgo.Client, topic string, partitions int32) {
	b.Helper()
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, partitions, 1
	create.Topics = append(create.Topics, ct)
	resp, err := create.RequestWith(context.Background(), cl)
	if err != nil {
		b.Fatal(err)
	}
	if code := resp.Topics[0].ErrorCode; code != 0 {
		b.Fatalf("create topic %s: code %d", topic, code)
	}
}
