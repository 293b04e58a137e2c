package meta

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kafki/kafki/brokerd/lease"
	"github.com/kafki/kafki/tiering/mototest"
)

var moto *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, &moto)) }

func dynamoStore(t *testing.T) *Dynamo {
	t.Helper()
	client := dynamodb.NewFromConfig(moto.SerialConfig())
	table := fmt.Sprintf("kafki-meta-%d", time.Now().UnixNano())
	if err := lease.EnsureTable(t.Context(), client, table); err != nil {
		t.Fatal(err)
	}
	return NewDynamo(client, table)
}

// The same contract as the embedded store, against a real DynamoDB API.
func TestDynamoTopicLifecycle(t *testing.T) {
	d := dynamoStore(t)
	ctx := t.Context()
	id := NewTopicID()
	if err := d.CreateTopic(ctx, Topic{Name: "a", ID: id, Partitions: 2, Configs: map[string]string{"retention.ms": "1"}}); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateTopic(ctx, Topic{Name: "a", ID: NewTopicID(), Partitions: 1}); !errors.Is(err, ErrTopicExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := d.UpdateTopic(ctx, "a", func(t *Topic) error { t.Partitions = 4; delete(t.Configs, "retention.ms"); return nil }); err != nil {
		t.Fatal(err)
	}
	ts, err := d.Topics(ctx)
	if err != nil || len(ts) != 1 || ts[0].ID != id || ts[0].Partitions != 4 || len(ts[0].Configs) != 0 {
		t.Fatalf("topics %+v err %v", ts, err)
	}
	if _, err := d.UpdateTopic(ctx, "missing", func(*Topic) error { return nil }); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("update missing: %v", err)
	}
	if err := d.DeleteTopic(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteTopic(ctx, "a"); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("second delete: %v", err)
	}
}

// Concurrent read-modify-write updates from many writers all land: the
// version condition makes losers retry instead of overwriting.
func TestDynamoConcurrentUpdatesAreNotLost(t *testing.T) {
	d := dynamoStore(t)
	ctx := t.Context()
	d.CreateTopic(ctx, Topic{Name: "c", ID: NewTopicID(), Partitions: 1})
	const writers = 6
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, err := d.UpdateTopic(ctx, "c", func(t *Topic) error {
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
	d := dynamoStore(t)
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
