package metastore

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/lease"
	"github.com/kafki/kafki/brokerd/meta"
	"github.com/kafki/kafki/tiering/mototest"
)

var moto *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, &moto)) }

var tables atomic.Int64

// newTable creates a fresh table from the schema (EnsureTable, as the
// broker does) and returns a client whose requests reach moto one at a
// time, so racing conditional writes test our conditions, not moto's
// locking.
func newTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	client := dynamodb.NewFromConfig(moto.SerialConfig())
	table := fmt.Sprintf("kafki-meta-%d-%d", time.Now().UnixNano(), tables.Add(1))
	if err := EnsureTable(t.Context(), client, table); err != nil {
		t.Fatal(err)
	}
	return client, table
}

func newStore(t *testing.T) *Store {
	t.Helper()
	return New(newTable(t))
}

// acquire takes the lease name for holder, for a minute.
func acquire(t *testing.T, s lease.Store, name, holder string) *lease.Lease {
	t.Helper()
	l, err := lease.New(lease.Config{Name: name, Holder: holder, Duration: time.Minute, Store: s})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	return l
}

// putPartition is one compare-and-set of the controller.
func putPartition(t *testing.T, s *Store, epoch int64, st cluster.PartitionState, expect int64) error {
	t.Helper()
	return s.PutPartitions(t.Context(), epoch, []cluster.PartitionWrite{{Next: st, ExpectVersion: expect}})
}

// createTopic creates a topic item, as CreateTopics does before the
// controller places its partitions.
func createTopic(t *testing.T, s *Store, name string, partitions int32) meta.Topic {
	t.Helper()
	tp := meta.Topic{Name: name, ID: meta.NewTopicID(), Partitions: partitions, ReplicationFactor: 1}
	if err := s.CreateTopic(t.Context(), tp); err != nil {
		t.Fatal(err)
	}
	return tp
}
