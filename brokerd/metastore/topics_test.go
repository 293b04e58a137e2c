package metastore

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/kafki/kafki/brokerd/meta"
)

// The same contract as the embedded store, against a real DynamoDB API.
func TestDynamoTopicLifecycle(t *testing.T) {
	d := newStore(t)
	ctx := t.Context()
	id := meta.NewTopicID()
	if err := d.CreateTopic(ctx, meta.Topic{Name: "a", ID: id, Partitions: 2, Configs: map[string]string{"retention.ms": "1"}}); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateTopic(ctx, meta.Topic{Name: "a", ID: meta.NewTopicID(), Partitions: 1}); !errors.Is(err, meta.ErrTopicExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := d.UpdateTopic(ctx, "a", func(t *meta.Topic) error { t.Partitions = 4; delete(t.Configs, "retention.ms"); return nil }); err != nil {
		t.Fatal(err)
	}
	ts, err := d.Topics(ctx)
	if err != nil || len(ts) != 1 || ts[0].ID != id || ts[0].Partitions != 4 || len(ts[0].Configs) != 0 {
		t.Fatalf("topics %+v err %v", ts, err)
	}
	if _, err := d.UpdateTopic(ctx, "missing", func(*meta.Topic) error { return nil }); !errors.Is(err, meta.ErrUnknownTopic) {
		t.Fatalf("update missing: %v", err)
	}
	if err := d.DeleteTopic(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteTopic(ctx, "a"); !errors.Is(err, meta.ErrUnknownTopic) {
		t.Fatalf("second delete: %v", err)
	}
}

// Concurrent read-modify-write updates from many writers all land: the
// version condition makes losers retry instead of overwriting.
func TestDynamoConcurrentUpdatesAreNotLost(t *testing.T) {
	d := newStore(t)
	ctx := t.Context()
	d.CreateTopic(ctx, meta.Topic{Name: "c", ID: meta.NewTopicID(), Partitions: 1})
	const writers = 6
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, err := d.UpdateTopic(ctx, "c", func(t *meta.Topic) error {
				t.Configs[fmt.Sprintf("k%d", i)] = "v"
				return nil
			}); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	ts, _ := d.Topics(ctx)
	if len(ts[0].Configs) != writers {
		t.Fatalf("configs %v: concurrent updates were lost", ts[0].Configs)
	}
}

func TestDynamoProducerIDBlocksNeverOverlap(t *testing.T) {
	d := newStore(t)
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first, err := d.AllocateProducerIDs(t.Context(), 100)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for id := first; id < first+100; id++ {
				if seen[id] {
					t.Errorf("producer id %d handed out twice", id)
				}
				seen[id] = true
			}
		}()
	}
	wg.Wait()
}
