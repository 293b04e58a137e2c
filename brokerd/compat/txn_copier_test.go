package compat

// Consume-transform-produce with Kafka's own TransactionalMessageCopier
// (issue 17): the tool Kafka's system tests (transactions_test.py) use to
// check exactly-once, run here the way they run it.

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Kafka's tools jar, Kafka's system tests' consume-transform-produce.
const txnMessageCopier = "org.apache.kafka.tools.TransactionalMessageCopier"

// copierStatus is one of the JSON lines the copier prints, each loop
// (stage ProcessLoop) and at its end (ShutdownComplete).
type copierStatus struct {
	TransactionalID string `json:"transactionalId"`
	Stage           string `json:"stage"`
	TotalProcessed  int64  `json:"totalProcessed"`
	Remaining       int64  `json:"remaining"`
}

// lastStatus is the copier's last status line in its log, if any.
func lastStatus(j *jvm) (copierStatus, bool) {
	ls := strings.Split(j.log(), "\n")
	for i := len(ls) - 1; i >= 0; i-- {
		var s copierStatus
		if strings.HasPrefix(ls[i], "{") && json.Unmarshal([]byte(ls[i]), &s) == nil && s.Stage != "" {
			return s, true
		}
	}
	return copierStatus{}, false
}

// TestTxnJavaCopier copies two partitions with Kafka's
// TransactionalMessageCopier, one copier a partition, each consuming
// read_committed and committing its output and its consumer offsets
// (sendOffsetsToTransaction with the consumer's group metadata:
// AddOffsetsToTxn and TxnOffsetCommit) in one transaction of up to 50
// records, aborting a third of its transactions at random and then
// rewinding to its committed offsets. The copier of partition 0 is
// SIGKILLed mid-stream and started again under its transactional id,
// which aborts the transaction it left open and resumes from the offsets
// committed with its last committed transaction.
//
// read_committed on the output must then hold every input record exactly
// once, in its partition's order; read_uncommitted must hold more (the
// aborted transactions' records, written and then filtered).
func TestTxnJavaCopier(t *testing.T) {
	k := kafkaTools(t)
	b := startBroker(t)
	cl := kgoClient(t, kgo.SeedBrokers(b.Addr()))
	const partitions, perPart = 2, 3000
	createTopic(t, cl, "copy-in", partitions)
	createTopic(t, cl, "copy-out", partitions)
	want := map[int][]string{}
	var recs []*kgo.Record
	for p := 0; p < partitions; p++ {
		for i := 0; i < perPart; i++ {
			v := fmt.Sprintf("p%d-%05d", p, i)
			want[p] = append(want[p], v)
			recs = append(recs, &kgo.Record{Topic: "copy-in", Partition: int32(p), Key: []byte(fmt.Sprintf("k%d", i%7)), Value: []byte(v)})
		}
	}
	pcl := kgoClient(t, kgo.SeedBrokers(b.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := pcl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce copy-in: %v", err)
	}

	copier := func(name string, p int) *jvm {
		return k.startJVM(t, name, txnMessageCopier,
			"--broker-list", b.Bootstrap(),
			"--input-topic", "copy-in", "--input-partition", fmt.Sprint(p),
			"--output-topic", "copy-out",
			"--transactional-id", fmt.Sprintf("copier-%d", p),
			"--consumer-group", "copier",
			"--transaction-size", "50",
			"--transaction-timeout", "20000",
			"--enable-random-aborts", "--use-group-metadata")
	}
	status := func(j *jvm) string {
		s, ok := lastStatus(j)
		if !ok {
			return j.name + ": no status line yet"
		}
		return fmt.Sprintf("%s: %+v", j.name, s)
	}
	first := copier("copier-0", 0)
	other := copier("copier-1", 1)
	// Mid-stream: some transactions committed, most of the input left.
	waitFor(t, connectTimeout, func() string { return status(first) }, func() bool {
		if first.proc.Done() {
			t.Fatalf("copier-0 exited before it was killed: %v\n%s", first.proc.Err(), tail(first.log(), 40))
		}
		s, ok := lastStatus(first)
		return ok && s.TotalProcessed >= 300
	})
	first.kill(t)
	s, _ := lastStatus(first)
	t.Logf("copier-0 SIGKILLed at %+v", s)
	if s.Remaining == 0 {
		t.Fatalf("copier-0 had copied everything before the kill (%+v): not mid-stream", s)
	}
	second := copier("copier-0-restarted", 0)

	for _, j := range []*jvm{second, other} {
		select {
		case <-j.proc.Exited():
		case <-time.After(2 * connectTimeout):
			t.Fatalf("%s did not finish within %v; %s", j.name, 2*connectTimeout, status(j))
		}
		if err := j.proc.Err(); err != nil {
			t.Fatalf("%s: %v\n%s", j.name, err, tail(j.log(), 40))
		}
		t.Logf("%s done: %s", j.name, status(j))
	}

	sh := k.startShell(t, b)
	checkPartitions(t, "read_committed copy-out", byPartition(sh.consume(t, "read_committed", "copy-out")), want)
	all := sh.consume(t, "read_uncommitted", "copy-out")
	t.Logf("copy-out: %d records committed, %d written (the rest aborted)", partitions*perPart, len(all))
	if len(all) <= partitions*perPart {
		t.Errorf("read_uncommitted copy-out has %d records, want more than the %d committed: no aborted transaction reached the log", len(all), partitions*perPart)
	}
}
