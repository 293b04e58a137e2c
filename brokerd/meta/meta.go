// Package meta holds the cluster metadata that outlives any one partition:
// topics (id, partition count, config overrides) and producer-id
// allocation.
//
// Store is the interface; Embedded is the single-node implementation that
// keeps everything in one JSON document under the data directory. Every
// change is a compare-and-set on the document's version and is durable
// (written to a temporary file, fsynced, renamed, directory fsynced) before
// the call returns, so a crash leaves either the old or the new document,
// never a mix. Package metastore implements the same interface on the
// cluster's DynamoDB table.
package meta

import (
	"context"
	"crypto/rand"
	"errors"
)

// Errors returned by Store implementations; test with errors.Is.
var (
	ErrTopicExists  = errors.New("topic already exists")
	ErrUnknownTopic = errors.New("unknown topic")
)

// TopicID is a topic's 16-byte UUID (Kafka topic ids, KIP-516).
type TopicID [16]byte

// NewTopicID returns a random, non-zero version-4 UUID.
func NewTopicID() TopicID {
	var id TopicID
	for id == (TopicID{}) {
		_, _ = rand.Read(id[:])
		id[6] = id[6]&0x0f | 0x40
		id[8] = id[8]&0x3f | 0x80
	}
	return id
}

// Topic is the persisted description of a topic.
type Topic struct {
	Name       string
	ID         TopicID
	Partitions int32
	// ReplicationFactor is how many replicas each partition has; the
	// controller assigns them (0 is read as 1: topics of a single node).
	ReplicationFactor int16
	// Configs holds only the overrides set on the topic; everything else
	// comes from the broker defaults.
	Configs map[string]string
}

// Clone returns a deep copy.
func (t Topic) Clone() Topic {
	c := t
	c.Configs = make(map[string]string, len(t.Configs))
	for k, v := range t.Configs {
		c.Configs[k] = v
	}
	return c
}

// Store is the metadata store.
type Store interface {
	// Topics returns every topic, sorted by name.
	Topics(ctx context.Context) ([]Topic, error)
	// CreateTopic persists a new topic; ErrTopicExists if the name is
	// taken.
	CreateTopic(ctx context.Context, t Topic) error
	// DeleteTopic removes a topic; ErrUnknownTopic if absent.
	DeleteTopic(ctx context.Context, name string) error
	// UpdateTopic applies fn to a copy of the topic and persists the
	// result atomically; fn's error aborts the update and is returned.
	UpdateTopic(ctx context.Context, name string, fn func(*Topic) error) (Topic, error)
	// AllocateProducerIDs reserves n consecutive producer ids and returns
	// the first. Ids are never handed out twice, across restarts too.
	AllocateProducerIDs(ctx context.Context, n int64) (int64, error)
	// Close releases resources.
	Close() error
}
