package server_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/internal/poll"
)

// TestTxnTieredReadCommitted: a transactional topic with remote storage.
// While a transaction is open, no segment at or above its first offset
// goes to the remote tier (another partition's uploads show the uploader
// ran). After commits and aborts have been tiered and deleted locally, a
// read_committed consumer reading from offset 0, through the remote tier
// into the local tail, sees exactly the committed records in order: the
// aborted transactions' index went up with their segments.
func TestTxnTieredReadCommitted(t *testing.T) {
	const topic = "txn-tiered"
	b := testbroker.StartBroker(t, testbroker.WithConfig(func(c *config.Config) {
		txnConfig(c)
		c.TierDir = t.TempDir()
		c.RetentionCheckInterval = 20 * time.Millisecond
		c.TierSweepInterval = 50 * time.Millisecond
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := b.Topics().CreateTopic(ctx, topic, 2, map[string]string{
		"segment.bytes": "4096", "remote.storage.enable": "true", "local.retention.bytes": "4096",
	}, false); err != nil {
		t.Fatal(err)
	}
	p := txnClient(t, b.Addr(), kgo.TransactionalID("tiered-producer"), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	value := func(round, i int) []byte { return fmt.Appendf(bytes.Repeat([]byte{'x'}, 60), "r%d-%d", round, i) }
	var want, all []string
	txn := func(round int, commit bool) {
		t.Helper()
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 40; i += 10 {
			var rs []*kgo.Record
			for j := i; j < i+10; j++ {
				rs = append(rs, &kgo.Record{Value: value(round, j)})
			}
			if err := p.ProduceSync(ctx, rs...).FirstErr(); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			for _, r := range rs {
				all = append(all, string(r.Value))
				if commit {
					want = append(want, string(r.Value))
				}
			}
		}
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("round %d: end: %v", round, err)
		}
	}
	for round := 0; round < 12; round++ {
		txn(round, round%3 != 1)
	}

	// An open transaction: produced, neither committed nor aborted.
	part := b.Topics().Partition(topic, 0)
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	openFrom := part.Log().LogEndOffset()
	var open []string
	for i := 0; i < 150; i += 10 {
		var rs []*kgo.Record
		for j := i; j < i+10; j++ {
			rs = append(rs, &kgo.Record{Value: value(99, j)})
		}
		if err := p.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			open = append(open, string(r.Value))
		}
	}
	// Partition 1 gets plain records; once its segments are remote the
	// uploader has passed over partition 0 (which it visits first) with
	// the transaction open and segments sealed above its start.
	plain := txnClient(t, b.Addr(), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	for i := 0; i < 300; i += 10 {
		var rs []*kgo.Record
		for j := i; j < i+10; j++ {
			rs = append(rs, &kgo.Record{Partition: 1, Value: value(0, j)})
		}
		if err := plain.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	sealedAbove := func() bool {
		for _, s := range part.Log().SealedSegments() {
			if s.BaseOffset > openFrom {
				return true
			}
		}
		return false
	}
	p1 := b.Topics().Partition(topic, 1)
	poll.Must(t, 20*time.Second, "partition 1 tiered while 0 has sealed segments above its open transaction", func() error {
		if p1.Log().RemoteEnd() < 200 || !sealedAbove() {
			var bases []int64
			for _, s := range part.Log().SealedSegments() {
				bases = append(bases, s.BaseOffset)
			}
			return fmt.Errorf("partition 1 remote end %d, partition 0 sealed above %d: %v (sealed %v, end %d)", p1.Log().RemoteEnd(), openFrom, sealedAbove(), bases, part.Log().LogEndOffset())
		}
		return nil
	})
	// A second pass, so that partition 0 was surely looked at after its
	// segments above openFrom were sealed.
	mark := p1.Log().RemoteEnd()
	for i := 0; i < 100; i += 10 {
		var rs []*kgo.Record
		for j := i; j < i+10; j++ {
			rs = append(rs, &kgo.Record{Partition: 1, Value: value(1, j)})
		}
		if err := plain.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	poll.Must(t, 20*time.Second, "partition 1 tiered further", func() error {
		if p1.Log().RemoteEnd() <= mark {
			return fmt.Errorf("partition 1 remote end %d", p1.Log().RemoteEnd())
		}
		return nil
	})
	if end := part.Log().RemoteEnd(); end > openFrom {
		t.Fatalf("remote tier holds partition 0 up to %d, past the open transaction's first offset %d", end, openFrom)
	}

	// Commit it, then wait until the start of partition 0 is remote only.
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	want, all = append(want, open...), append(all, open...)
	txn(100, false)
	txn(101, true)
	poll.Must(t, 20*time.Second, "partition 0 uploaded past the committed transaction and deleted locally", func() error {
		if part.Log().RemoteEnd() <= openFrom+100 || part.Log().LogStartOffset() <= openFrom {
			return fmt.Errorf("remote end %d, local start %d", part.Log().RemoteEnd(), part.Log().LogStartOffset())
		}
		return nil
	})

	stop := want[len(want)-1]
	got := consumeValues(t, b.Addr(), topic, kgo.ReadCommitted(), stop)[0]
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read_committed from the remote tier saw %d records, want %d:\n%v\nwant\n%v", len(got), len(want), got, want)
	}
	if un := consumeValues(t, b.Addr(), topic, kgo.ReadUncommitted(), stop)[0]; fmt.Sprint(un) != fmt.Sprint(all) {
		t.Fatalf("read_uncommitted saw %d records, want %d", len(un), len(all))
	}
	if st := b.Topics().Tier().ReaderStats(); st.Fetches == 0 {
		t.Fatal("no remote fetches: the records did not come from the remote tier")
	}
}
