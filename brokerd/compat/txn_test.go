package compat

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const messageCopier = "org.apache.kafka.tools.TransactionalMessageCopier"

// TestTransactionalMessageCopier runs Kafka's own consume-transform-produce
// tool (the one Kafka's system tests use for exactly-once): a Java
// consumer in a group and a transactional producer that commits the
// consumed offsets with sendOffsetsToTransaction (AddOffsetsToTxn and
// TxnOffsetCommit v4, the newest the Java client sends under transaction
// version 1), aborting some transactions at random and rewinding to the
// committed offsets. read_committed, the output holds every input record
// exactly once, in order, and the group's committed offset is the input's
// end.
func TestTransactionalMessageCopier(t *testing.T) {
	const in, out, group, n = "copier-in", "copier-out", "copier-group", 2000
	k := kafkaTools(t)
	b := startBroker(t)
	cl := newClient(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	createTopic(t, cl, in, 1)
	createTopic(t, cl, out, 1)
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: in, Value: fmt.Appendf(nil, "m-%d", i)})
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	r := k.mustRun(t, "", messageCopier, "--broker-list", b.Bootstrap(), "--input-topic", in, "--input-partition", "0",
		"--output-topic", out, "--consumer-group", group, "--transactional-id", "copier-1", "--group-mode",
		"--use-group-metadata", "--enable-random-aborts", "--transaction-size", "50", "--max-messages", fmt.Sprint(n))
	if !strings.Contains(r.stdout, `"stage":"ShutdownComplete"`) {
		t.Fatalf("copier did not report its end:\n%s", tail(r.stdout, 10))
	}

	// A plain record closes the output: read_committed reaches it only
	// once every transaction before it has ended.
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: out, Value: []byte("stop")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	rd := newClient(t, b.Addr(), kgo.ConsumeTopics(out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []string
	for stop := false; !stop; {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %d records before the timeout", out, len(got))
		}
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Value) == "stop" {
				stop = true
				return
			}
			got = append(got, string(r.Value))
		})
	}
	if len(got) != n {
		t.Fatalf("read_committed output has %d records, want %d (first %.5v)", len(got), n, got)
	}
	for i, v := range got {
		if v != fmt.Sprintf("m-%d", i) {
			t.Fatalf("output record %d is %q, want m-%d: not exactly once in order", i, v, i)
		}
	}
	offs, err := kadm.NewClient(cl).FetchOffsets(ctxT(t), group)
	if err != nil || offs.Error() != nil {
		t.Fatalf("committed offsets: %v %v", err, offs.Error())
	}
	if o, ok := offs.Lookup(in, 0); !ok || o.At != n {
		t.Fatalf("group's committed offset of %s/0: %+v, want %d", in, o, n)
	}
}
