package server_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/internal/poll"
)

// Three members of one group split a 6-partition topic and together see
// every record exactly once when nobody fails.
func TestGroupThreeMembersSeeEveryRecordOnce(t *testing.T) {
	b := startGroupBroker(t)
	addr := b.Addr()
	createTopic(t, newClient(t, addr), "work", 6, nil)
	s := newSeen()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for i := 0; i < 3; i++ {
		cl := newClient(t, addr, memberOpts("workers", "work")...)
		go pollInto(ctx, fmt.Sprint("m", i), cl, s)
	}
	d := waitStable(t, b, addr, "workers", 3, 6)
	for _, m := range d.Members {
		ca, _ := m.Assigned.AsConsumer()
		if n := len(ca.Topics[0].Partitions); n != 2 {
			t.Errorf("member %s owns %d partitions, want 2", m.MemberID, n)
		}
	}
	produceValues(t, producer(t, addr, "work"), "work", "r", 600)
	poll.True(t, 15*time.Second, "600 records", func() bool { return s.distinct() == 600 })
	time.Sleep(100 * time.Millisecond) // a duplicate would arrive within a poll
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total != 600 {
		t.Fatalf("%d deliveries of 600 records: duplicates", s.total)
	}
	if len(s.by) != 3 {
		t.Fatalf("%d members received records, want 3", len(s.by))
	}
}

// Two groups each receive every record; commits survive a restart and the
// groups resume there; a consumer that seeks back re-reads the same bytes.
func TestGroupsPublishSubscribeAndCommitsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	b := startGroupBroker(t, testbroker.WithDataDir(dir))
	addr := b.Addr()
	createTopic(t, newClient(t, addr), "news", 3, nil)
	produceValues(t, producer(t, addr, "news"), "news", "a", 90)

	for _, g := range []string{"left", "right"} {
		cl := newClient(t, addr, memberOpts(g, "news")...)
		s := newSeen()
		ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
		for s.distinct() < 90 && ctx.Err() == nil {
			s.add(g, cl.PollFetches(ctx).Records())
		}
		cancel()
		if s.distinct() != 90 || s.total != 90 {
			t.Fatalf("group %s: %d distinct of %d deliveries, want 90/90", g, s.distinct(), s.total)
		}
		if err := cl.CommitUncommittedOffsets(ctxT(t)); err != nil {
			t.Fatalf("commit: %v", err)
		}
		cl.Close()
	}
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	b = startGroupBroker(t, testbroker.WithDataDir(dir))
	addr = b.Addr()
	adm := kadm.NewClient(newClient(t, addr))
	for _, g := range []string{"left", "right"} {
		offs, err := adm.FetchOffsets(ctxT(t), g)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
		if sum != 90 {
			t.Fatalf("group %s: committed offsets sum to %d after restart, want 90", g, sum)
		}
	}
	produceValues(t, producer(t, addr, "news"), "news", "b", 30)
	cl := newClient(t, addr, memberOpts("left", "news")...)
	s := newSeen()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	for s.distinct() < 30 && ctx.Err() == nil {
		s.add("left", cl.PollFetches(ctx).Records())
	}
	for v := range s.counts {
		if v[0] != 'b' {
			t.Fatalf("group re-read %q after restart: it should resume at its commit", v)
		}
	}
	if s.distinct() != 30 {
		t.Fatalf("resumed group saw %d new records, want 30", s.distinct())
	}

	// Seek back: read partition 0 from offset 0 twice, byte for byte.
	read := func() []*kgo.Record {
		c := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"news": {0: kgo.NewOffset().At(0)}}))
		var out []*kgo.Record
		end, _ := adm.ListEndOffsets(ctxT(t), "news")
		want := end["news"][0].Offset
		ctx := ctxT(t)
		for int64(len(out)) < want && ctx.Err() == nil {
			out = append(out, c.PollFetches(ctx).Records()...)
		}
		return out
	}
	first, again := read(), read()
	if len(first) == 0 || len(first) != len(again) {
		t.Fatalf("re-read %d records, first read %d", len(again), len(first))
	}
	for i := range first {
		if first[i].Offset != again[i].Offset || !bytes.Equal(first[i].Value, again[i].Value) || !first[i].Timestamp.Equal(again[i].Timestamp) {
			t.Fatalf("record %d differs on re-read", i)
		}
	}
}

// Client-side assignors work unchanged: eager (range, round-robin,
// sticky) and cooperative-sticky, through a member joining later.
func TestGroupAssignors(t *testing.T) {
	b := startGroupBroker(t)
	addr := b.Addr()
	cases := map[string]kgo.GroupBalancer{
		"range": kgo.RangeBalancer(), "roundrobin": kgo.RoundRobinBalancer(),
		"sticky": kgo.StickyBalancer(), "cooperative-sticky": kgo.CooperativeStickyBalancer(),
	}
	for name, bal := range cases {
		t.Run(name, func(t *testing.T) {
			topic, group := "as-"+name, "g-"+name
			createTopic(t, newClient(t, addr), topic, 4, nil)
			producer := producer(t, addr, topic)
			s := newSeen()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			join := func(i int) {
				cl := newClient(t, addr, append(memberOpts(group, topic), kgo.Balancers(bal))...)
				go pollInto(ctx, fmt.Sprint("m", i), cl, s)
			}
			join(0)
			join(1)
			d := waitStable(t, b, addr, group, 2, 4)
			if d.Protocol != name {
				t.Fatalf("protocol %q, want %q", d.Protocol, name)
			}
			produceValues(t, producer, topic, "x", 100)
			poll.True(t, 15*time.Second, "first 100", func() bool { return s.distinct() == 100 })
			join(2)
			waitStable(t, b, addr, group, 3, 4)
			produceValues(t, producer, topic, "y", 100)
			poll.True(t, 15*time.Second, "next 100", func() bool { return s.distinct() == 200 })
			s.mu.Lock()
			defer s.mu.Unlock()
			for v, n := range s.counts {
				if n != 1 && v[0] == 'y' {
					t.Fatalf("record %s delivered %d times after the group settled", v, n)
				}
			}
		})
	}
}

// A restarted static member gets its assignment back without a rebalance
// of the others: the generation does not change.
func TestGroupStaticMemberRejoinsWithoutRebalance(t *testing.T) {
	b := startGroupBroker(t)
	addr := b.Addr()
	createTopic(t, newClient(t, addr), "static", 4, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := newSeen()
	member := func(inst string) *kgo.Client {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.InstanceID(inst)}, memberOpts("statics", "static")...)...)
		if err != nil {
			t.Fatal(err)
		}
		go pollInto(ctx, inst, cl, s)
		return cl
	}
	a := member("inst-a")
	defer a.Close()
	bcl := member("inst-b")
	before := waitStable(t, b, addr, "statics", 2, 4)
	gen := b.Groups().DescribeGroup("statics").Generation
	assigned := map[string]string{}
	for _, m := range before.Members {
		assigned[*m.InstanceID] = assignedString(m)
	}
	bcl.Close() // a static member sends no LeaveGroup
	b2 := member("inst-b")
	defer b2.Close()
	after := waitStable(t, b, addr, "statics", 2, 4)
	if g := b.Groups().DescribeGroup("statics").Generation; g != gen {
		t.Fatalf("generation %d after the static member came back, want %d (no rebalance)", g, gen)
	}
	for _, m := range after.Members {
		if got := assignedString(m); got != assigned[*m.InstanceID] {
			t.Fatalf("%s: assignment %s, want %s", *m.InstanceID, got, assigned[*m.InstanceID])
		}
	}
}

func assignedString(m kadm.DescribedGroupMember) string {
	ca, _ := m.Assigned.AsConsumer()
	if ca == nil {
		return ""
	}
	return fmt.Sprint(ca.Topics)
}
