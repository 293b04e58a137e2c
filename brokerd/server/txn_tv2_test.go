package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/internal/poll"
)

// TestTxnVersionAdvertised: ApiVersions offers transaction.version as a
// finalized feature at the broker's level, and EndTxn v5 only with 2, so
// Kafka 4.x clients pick KIP-890 part 2 exactly when it is served.
func TestTxnVersionAdvertised(t *testing.T) {
	for _, tv := range []int16{1, 2} {
		t.Run(fmt.Sprint(tv), func(t *testing.T) {
			b := testbroker.StartBroker(t, testbroker.WithConfig(txnConfig), testbroker.WithConfig(func(c *config.Config) { c.TransactionVersion = tv }))
			cl := txnClient(t, b.Addr())
			req := kmsg.NewPtrApiVersionsRequest()
			req.ClientSoftwareName, req.ClientSoftwareVersion = "kafki-test", "1"
			resp, err := req.RequestWith(context.Background(), cl)
			if err != nil {
				t.Fatal(err)
			}
			var level int16 = -1
			for _, f := range resp.FinalizedFeatures {
				if f.Name == "transaction.version" {
					level = f.MaxVersionLevel
				}
			}
			if level != tv || resp.FinalizedFeaturesEpoch < 0 {
				t.Fatalf("finalized transaction.version %d (epoch %d), want %d", level, resp.FinalizedFeaturesEpoch, tv)
			}
			wantEnd := int16(4)
			if tv == 2 {
				wantEnd = 5
			}
			for _, k := range resp.ApiKeys {
				if k.ApiKey == int16(kmsg.EndTxn) && k.MaxVersion != wantEnd {
					t.Fatalf("EndTxn max %d, want %d", k.MaxVersion, wantEnd)
				}
			}
		})
	}
}

// TestTxnVersion2Wire drives KIP-890 part 2 with raw requests: a Produce
// v12 adds its partition to the transaction (no AddPartitionsToTxn),
// EndTxn v5 answers the bumped epoch, and a late write of the finished
// transaction at the old epoch is fenced by the partition leader and
// never visible.
func TestTxnVersion2Wire(t *testing.T) {
	b := testbroker.StartBroker(t, testbroker.WithConfig(txnConfig))
	const topic, id = "txn-tv2", "tv2-wire"
	cl := txnClient(t, b.Addr())
	createTxnTopic(t, cl, topic, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var pid int64
	var epoch int16
	poll.Must(t, 10*time.Second, "InitProducerId", func() error {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = kmsg.StringPtr(id)
		req.TransactionTimeoutMillis = 60000
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		pid, epoch = resp.ProducerID, resp.ProducerEpoch
		return kerr.ErrorForCode(resp.ErrorCode)
	})
	td, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil || td.Error() != nil {
		t.Fatal(err, td.Error())
	}
	produce := func(epoch int16, seq int32, value string) int16 {
		t.Helper()
		rec := batch.Build([]batch.Record{{Value: []byte(value)}}, batch.BuildOptions{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, Transactional: true})
		req := kmsg.NewPtrProduceRequest()
		req.Version = 12
		req.Acks, req.TimeoutMillis, req.TransactionID = -1, 5000, kmsg.StringPtr(id)
		req.Topics = []kmsg.ProduceRequestTopic{{Topic: topic, TopicID: td[topic].ID, Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: rec}}}}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	if code := produce(epoch, 0, "committed"); code != 0 {
		t.Fatalf("produce v12 to a partition not added: %v, want it added", kerr.ErrorForCode(code))
	}
	if m := describeTxn(t, cl, id); m.State != "Ongoing" || len(m.Topics) != 1 || fmt.Sprint(m.Topics[0].Partitions) != "[0]" {
		t.Fatalf("after the produce the transaction is %s with %+v, want Ongoing with %s-0", m.State, m.Topics, topic)
	}
	end := kmsg.NewPtrEndTxnRequest()
	end.Version = 5
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = id, pid, epoch, true
	eresp, err := end.RequestWith(ctx, cl)
	if err != nil || eresp.ErrorCode != 0 {
		t.Fatalf("EndTxn v5: %v %v", err, kerr.ErrorForCode(eresp.ErrorCode))
	}
	if eresp.ProducerID != pid || eresp.ProducerEpoch != epoch+1 {
		t.Fatalf("EndTxn v5 answered producer %d epoch %d, want %d at %d", eresp.ProducerID, eresp.ProducerEpoch, pid, epoch+1)
	}
	describeTxn(t, cl, id) // the COMMIT marker is written

	// A retry of the finished transaction's write (its epoch) is fenced.
	if code := produce(epoch, 1, "late"); code != kerr.InvalidProducerEpoch.Code && code != kerr.ProducerFenced.Code {
		t.Fatalf("late write at the old epoch: %v, want INVALID_PRODUCER_EPOCH", kerr.ErrorForCode(code))
	}
	// The next transaction runs at the new epoch from sequence 0.
	if code := produce(epoch+1, 0, "aborted"); code != 0 {
		t.Fatalf("produce at the new epoch: %v", kerr.ErrorForCode(code))
	}
	end.ProducerEpoch, end.Commit = epoch+1, false
	if eresp, err = end.RequestWith(ctx, cl); err != nil || eresp.ErrorCode != 0 || eresp.ProducerEpoch != epoch+2 {
		t.Fatalf("abort: %v %v epoch %d", err, kerr.ErrorForCode(eresp.ErrorCode), eresp.ProducerEpoch)
	}
	describeTxn(t, cl, id)
	if got := consumeValues(t, b.Addr(), topic, kgo.ReadCommitted(), "committed"); fmt.Sprint(got) != "map[0:[committed]]" {
		t.Fatalf("read_committed saw %v", got)
	}
	// The late write is in no isolation level: only the two transactions'
	// records and their markers are in the log.
	if end := b.Topics().Partition(topic, 0).Log().LogEndOffset(); end != 4 {
		t.Fatalf("log end %d, want 4 (2 records, 2 markers)", end)
	}
}

// TestFetchAtEndRecordsNotNull: a fetch at the end of the log answers
// empty records, not null: librdkafka (kcat) cannot parse a null
// MessageSetSize at the non-flexible Fetch versions it uses, and retried
// forever (a regression of the read_committed path).
func TestFetchAtEndRecordsNotNull(t *testing.T) {
	b := testbroker.StartBroker(t)
	createTxnTopic(t, txnClient(t, b.Addr()), "fetch-end", 1)
	v11 := kversion.Stable()
	v11.SetMaxKeyVersion(int16(kmsg.Fetch), 11)
	cl := txnClient(t, b.Addr(), kgo.MaxVersions(v11))
	for _, iso := range []int8{0, 1} {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.MaxWaitMillis, req.MaxBytes, req.IsolationLevel = 11, 10, 1<<20, iso
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "fetch-end"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(context.Background(), cl)
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.RecordBatches == nil {
			t.Fatalf("isolation %d: error %v, records nil: %v", iso, kerr.ErrorForCode(p.ErrorCode), p.RecordBatches == nil)
		}
	}
}
