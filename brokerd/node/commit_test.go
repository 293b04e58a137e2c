package node_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/poll"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCommitToPartitionLedElsewhere: a group's coordinator is placed by
// the group id, so it is usually not the leader of the partitions the
// group commits. A commit of the log end offset (10 after 10 records) to
// an RF=1 partition led by another broker is accepted by every
// coordinator and read back, although the coordinator's own copy of that
// partition is empty.
func TestCommitToPartitionLedElsewhere(t *testing.T) {
	c := newCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cl := c.client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	if res, err := adm.CreateTopic(ctx, 1, 1, nil, "c1"); err != nil || res.Err != nil {
		t.Fatalf("create: %v %v", err, res.Err)
	}
	var leader int32
	for id := range c.waitPlaced(ctx, "c1", 1, 1) {
		leader = id
	}
	for i := 0; i < 10; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "c1", Value: fmt.Appendf(nil, "v%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// Group ids whose coordinators are spread over the brokers; the
	// offsets topic is created on first use, so ask until every id has
	// a coordinator.
	var groups []string
	for i := 0; i < 12; i++ {
		groups = append(groups, fmt.Sprintf("commit-%d", i))
	}
	coordinators := map[string]int32{}
	poll.Must(t, 30*time.Second, "group coordinators", func() error {
		for g, r := range adm.FindGroupCoordinators(ctx, groups...) {
			if r.Err != nil {
				return fmt.Errorf("%s: %w", g, r.Err)
			}
			coordinators[g] = r.NodeID
		}
		return nil
	})
	elsewhere := 0
	for _, g := range groups {
		if coordinators[g] != leader {
			elsewhere++
		}
	}
	if elsewhere == 0 {
		t.Fatalf("no group's coordinator is off the partition's leader %d: %v", leader, coordinators)
	}

	for _, g := range groups {
		offs := kadm.Offsets{}
		offs.AddOffset("c1", 0, 10, -1)
		// Each commit has its own bound, so that one stuck commit shows
		// as itself instead of exhausting the others' time.
		cctx, ccancel := context.WithTimeout(ctx, 15*time.Second)
		resp, err := adm.CommitOffsets(cctx, g, offs)
		ccancel()
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			// What the brokers say now: who coordinates the group, and
			// whether that coordinator serves it.
			now := adm.FindGroupCoordinators(ctx, g)[g]
			desc, derr := adm.DescribeGroups(ctx, g)
			t.Errorf("group %s (coordinator %d, partition leader %d): commit 10: %v; coordinator now %d (%v), describe: %v %v",
				g, coordinators[g], leader, err, now.NodeID, now.Err, desc.Error(), derr)
			continue
		}
		fetched, err := adm.FetchOffsets(ctx, g)
		if err != nil {
			t.Errorf("group %s: fetch: %v", g, err)
			continue
		}
		if o, ok := fetched.Lookup("c1", 0); !ok || o.Err != nil || o.At != 10 {
			t.Errorf("group %s (coordinator %d): fetched %+v, want offset 10", g, coordinators[g], o)
		}
	}
}
