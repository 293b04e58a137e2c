package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/internal/poll"
	"github.com/kafki/kafki/tiering/mototest"
	"github.com/kafki/kafki/tiering/objstore"
)

// A stalled object store (moto_server under SIGSTOP) must not stall the
// broker: a fetch below the local log start is answered after
// tier.fetch.max.wait with no data for that partition, and the hot tail of
// the same topic is served meanwhile, on the same connection.
func TestStalledObjectStoreDoesNotStallFetches(t *testing.T) {
	moto := mototest.StartT(t)
	moto.Env(t)
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	bucket := fmt.Sprintf("stall-%d", time.Now().UnixNano())
	s3, err := objstore.NewS3(moto.Config, objstore.S3Options{Bucket: bucket, UsePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.CreateBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	b := testbroker.StartBroker(t, testbroker.WithConfig(func(c *config.Config) {
		c.TierS3Bucket, c.TierS3PathStyle = bucket, true
		c.RetentionCheckInterval = 20 * time.Millisecond
		c.TierFetchMaxWait = 200 * time.Millisecond
	}))
	if _, err := b.Topics().CreateTopic(t.Context(), "cold", 1, map[string]string{
		"segment.bytes": "4096", "remote.storage.enable": "true", "local.retention.bytes": "4096",
	}, false); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, b.Addr(), kgo.ProducerLinger(0), kgo.DefaultProduceTopic("cold"))
	value := make([]byte, 300)
	for i := 0; i < 200; i++ {
		if err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	p := b.Topics().Partition("cold", 0)
	poll.Must(t, 20*time.Second, "uploads and local deletion", func() error {
		if p.Log().LogStartOffset() == 0 {
			return fmt.Errorf("local log start still 0 (remote end %d)", p.Log().RemoteEnd())
		}
		return nil
	})

	if err := moto.Pause(); err != nil {
		t.Fatal(err)
	}
	defer moto.Resume()

	c := dialRaw(t, b.Addr())
	fetchAt := func(off int64, id int32) (kmsg.FetchResponseTopicPartition, time.Duration) {
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(11)
		req.MaxBytes = 1 << 20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "cold"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = off, 1<<20, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		start := time.Now()
		resp := c.roundTrip(req, id).(*kmsg.FetchResponse)
		return resp.Topics[0].Partitions[0], time.Since(start)
	}
	cold, took := fetchAt(0, 1)
	if cold.ErrorCode != 0 || len(cold.RecordBatches) != 0 {
		t.Fatalf("remote fetch on a stalled store: code %d, %d bytes", cold.ErrorCode, len(cold.RecordBatches))
	}
	if took > 5*time.Second {
		t.Fatalf("remote fetch took %v with tier.fetch.max.wait 200ms: the store stalled the fetch", took)
	}
	hot, _ := fetchAt(p.Log().LogStartOffset(), 2)
	if hot.ErrorCode != 0 || len(hot.RecordBatches) == 0 {
		t.Fatalf("hot-tail fetch while the store is stalled: code %d, %d bytes", hot.ErrorCode, len(hot.RecordBatches))
	}

	// Once the store answers again, the remote range is served.
	if err := moto.Resume(); err != nil {
		t.Fatal(err)
	}
	poll.Must(t, 30*time.Second, "the remote range served after the store resumed", func() error {
		if cold, _ = fetchAt(0, 3); cold.ErrorCode != 0 || len(cold.RecordBatches) == 0 {
			return fmt.Errorf("code %d, %d bytes", cold.ErrorCode, len(cold.RecordBatches))
		}
		return nil
	})
}
