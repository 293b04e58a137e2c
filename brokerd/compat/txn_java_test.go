package compat

// Transactions with Kafka's Java client (issue 17): a transactional
// producer, read_committed consumers and fencing, driven through TxnShell
// (java/io/kafki/compat/TxnShell.java).
//
// A program of our own rather than Kafka's tools: no Kafka tool produces
// in transactions that it then aborts on request, keeps one open while
// another producer commits behind it, or holds two producers of one
// transactional id at once; and a tool exiting at the first error would
// hide which call a zombie failed in. TxnShell is a thin line-per-call
// shell over KafkaProducer and KafkaConsumer, so every call, its order and
// its answer are the test's.

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// byPartition groups records by partition, keeping their order.
func byPartition(recs []shellRecord) map[int][]string {
	out := map[int][]string{}
	for _, r := range recs {
		out[r.partition] = append(out[r.partition], r.value)
	}
	return out
}

func seq(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// checkPartitions fails unless got has exactly want's values in want's
// order, partition by partition.
func checkPartitions(t *testing.T, what string, got, want map[int][]string) {
	t.Helper()
	for p := range got {
		if _, ok := want[p]; !ok && len(got[p]) > 0 {
			want[p] = nil
		}
	}
	for p, w := range want {
		if !reflect.DeepEqual(got[p], w) {
			t.Errorf("%s, partition %d:\n got  %q\n want %q", what, p, got[p], w)
		}
	}
}

// TestTxnJavaProducer runs Kafka 4.3's transactional producer against
// brokerd and reads back with Kafka 4.3's consumer:
//
//   - transactions over three partitions of one topic and one of another,
//     every third aborted: read_committed sees each committed record once,
//     in the order sent, and no aborted one; read_uncommitted does see the
//     aborted ones (so they reached the log and were filtered, not lost);
//   - an open transaction holds the last stable offset: a transaction
//     committed behind it on the same partition stays invisible to
//     read_committed (and endOffsets stops at the LSO) until the open one
//     commits, then both appear in log order;
//   - a second producer of the same transactional.id fences the first:
//     the zombie's commit fails with ProducerFencedException (or
//     InvalidProducerEpochException), its records are never visible to
//     read_committed, and the new producer's transactions commit;
//   - a transaction left open past its transaction.timeout.ms is aborted
//     by the coordinator: the last stable offset moves past it, its
//     records are never visible to read_committed, and its producer's
//     commit fails.
//
// Kafka 4.3's producer sends (NetworkClient at DEBUG, see log4jEnv)
// InitProducerId v5, AddPartitionsToTxn v3, Produce v11 and EndTxn v4:
// transaction version 1, as brokerd advertises no transaction.version.
func TestTxnJavaProducer(t *testing.T) {
	k := kafkaTools(t)
	// The coordinator looks for expired transactions often, so that the
	// timeout below is awaited in seconds.
	b := startBroker(t, "--transaction.abort.timed.out.transaction.cleanup.interval=200ms")
	cl := kgoClient(t, kgo.SeedBrokers(b.Addr()))
	createTopic(t, cl, "txn-orders", 3)
	createTopic(t, cl, "txn-audit", 1)
	sh := k.startShell(t, b)

	// Committed and aborted transactions over four partitions.
	const txns, perPart = 9, 4
	want := map[int][]string{0: nil, 1: nil, 2: nil}
	wantAll := map[int][]string{0: nil, 1: nil, 2: nil}
	var wantAudit, wantAuditAll []string
	sh.must(t, "producer p t-main")
	sh.must(t, "init p")
	for i := 0; i < txns; i++ {
		sh.must(t, "begin p")
		for p := 0; p < 3; p++ {
			prefix := fmt.Sprintf("t%dp%d", i, p)
			sh.must(t, fmt.Sprintf("send p txn-orders %d %s %d", p, prefix, perPart))
			wantAll[p] = append(wantAll[p], seq(prefix, perPart)...)
			if i%3 != 1 {
				want[p] = append(want[p], seq(prefix, perPart)...)
			}
		}
		audit := fmt.Sprintf("t%da", i)
		sh.must(t, "send p txn-audit 0 "+audit+" 1")
		wantAuditAll = append(wantAuditAll, audit+"-0")
		if i%3 == 1 {
			sh.must(t, "abort p")
		} else {
			sh.must(t, "commit p")
			wantAudit = append(wantAudit, audit+"-0")
		}
	}
	checkPartitions(t, "read_committed txn-orders", byPartition(sh.consume(t, "read_committed", "txn-orders")), want)
	checkPartitions(t, "read_committed txn-audit", byPartition(sh.consume(t, "read_committed", "txn-audit")), map[int][]string{0: wantAudit})
	checkPartitions(t, "read_uncommitted txn-orders", byPartition(sh.consume(t, "read_uncommitted", "txn-orders")), wantAll)
	checkPartitions(t, "read_uncommitted txn-audit", byPartition(sh.consume(t, "read_uncommitted", "txn-audit")), map[int][]string{0: wantAuditAll})

	// An open transaction on partition 0 and one committed behind it.
	sh.must(t, "producer o t-open")
	sh.must(t, "init o")
	sh.must(t, "begin o")
	sh.must(t, "send o txn-orders 0 open 3")
	sh.must(t, "producer q t-other")
	sh.must(t, "init q")
	sh.must(t, "begin q")
	sh.must(t, "send q txn-orders 0 behind 2")
	sh.must(t, "commit q")
	checkPartitions(t, "read_committed txn-orders with t-open's transaction open", byPartition(sh.consume(t, "read_committed", "txn-orders")), want)
	uncommitted := byPartition(sh.consume(t, "read_uncommitted", "txn-orders"))
	if w := append(append(append([]string(nil), wantAll[0]...), seq("open", 3)...), seq("behind", 2)...); !reflect.DeepEqual(uncommitted[0], w) {
		t.Errorf("read_uncommitted txn-orders partition 0 with t-open's transaction open:\n got  %q\n want %q", uncommitted[0], w)
	}
	sh.must(t, "commit o")
	want[0] = append(append(want[0], seq("open", 3)...), seq("behind", 2)...)
	checkPartitions(t, "read_committed txn-orders after t-open's commit", byPartition(sh.consume(t, "read_committed", "txn-orders")), want)

	// Fencing: b takes over a's transactional id while a's transaction is open.
	sh.must(t, "producer a t-fence")
	sh.must(t, "init a")
	sh.must(t, "begin a")
	sh.must(t, "send a txn-orders 1 zombie 2")
	sh.must(t, "producer b t-fence")
	sh.must(t, "init b")
	// The zombie carries on: its send may fail already (the partition's
	// producer epoch moved on), its commit must.
	sendAnswer, _ := sh.do(t, "send a txn-orders 1 zombie2 1")
	commitAnswer, _ := sh.do(t, "commit a")
	if !strings.HasPrefix(commitAnswer, "err ") ||
		!(strings.Contains(commitAnswer, "ProducerFencedException") || strings.Contains(commitAnswer, "InvalidProducerEpochException")) {
		t.Errorf("zombie producer's commit after a new producer of its transactional.id: %s (send before it: %s); want ProducerFencedException or InvalidProducerEpochException", commitAnswer, sendAnswer)
	}
	sh.must(t, "begin b")
	sh.must(t, "send b txn-orders 1 successor 2")
	sh.must(t, "commit b")
	want[1] = append(want[1], seq("successor", 2)...)
	checkPartitions(t, "read_committed txn-orders after fencing", byPartition(sh.consume(t, "read_committed", "txn-orders")), want)
	all := byPartition(sh.consume(t, "read_uncommitted", "txn-orders"))
	if !strings.Contains(strings.Join(all[1], " "), "zombie-0 zombie-1") {
		t.Errorf("read_uncommitted txn-orders partition 1 lacks the zombie's acknowledged records: %q", all[1])
	}

	// A transaction past its timeout: s leaves one open, q commits behind
	// it on the same partition.
	sh.must(t, "producer s t-stale transaction.timeout.ms=2000")
	sh.must(t, "init s")
	sh.must(t, "begin s")
	sh.must(t, "send s txn-audit 0 stale 2")
	sh.must(t, "begin q")
	sh.must(t, "send q txn-audit 0 fresh 1")
	sh.must(t, "commit q")
	wantAudit = append(wantAudit, "fresh-0")
	var audit map[int][]string
	waitFor(t, 30*time.Second, func() string {
		return fmt.Sprintf("read_committed txn-audit %q, want %q: t-stale's transaction not aborted by its timeout", audit[0], wantAudit)
	}, func() bool {
		audit = byPartition(sh.consume(t, "read_committed", "txn-audit"))
		return len(audit[0]) >= len(wantAudit)
	})
	checkPartitions(t, "read_committed txn-audit after t-stale's timeout", audit, map[int][]string{0: wantAudit})
	if answer, _ := sh.do(t, "commit s"); !strings.HasPrefix(answer, "err ") {
		t.Errorf("commit of a transaction aborted for its timeout: %s, want an error", answer)
	}
}
