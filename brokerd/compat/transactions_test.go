package compat

import (
	"regexp"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// transactionsTool is the main class of kafka-transactions.sh (Kafka 4.x).
const transactionsTool = "org.apache.kafka.tools.TransactionsCommand"

// TestTransactionsTool runs kafka-transactions.sh against brokerd: list
// and describe show a committed and a hanging transaction,
// describe-producers finds the hanging one's producer and the offset its
// transaction started at, and abort --start-offset ends it (the Java
// admin client's DescribeProducers, then WriteTxnMarkers to the leader),
// after which the last stable offset has moved past it.
func TestTransactionsTool(t *testing.T) {
	k := kafkaTools(t)
	b := startBroker(t, "--transaction.state.log.num.partitions=3")
	checkTransactionsTool(t, k, b.Bootstrap(), b.Addr())
}

// checkTransactionsTool is the scenario of TestTransactionsTool against
// the broker at bootstrap (addr for Go clients). It passed against Apache
// Kafka 4.3.1 too (a KRaft node started as loadtest/compare does, with
// checkTransactionsTool(t, k, startKafka(t), ...)): the headers, states,
// offsets and the tool's messages are Kafka's. The patterns leave open
// only where the brokers differ: with franz-go, Kafka 4.3 runs
// transaction version 2 (KIP-890: the commit bumped the committed
// producer's epoch to 1 and emptied its sequence window, LastSequence -1)
// and keeps the coordinator epoch of the last marker
// (LatestCoordinatorEpoch 0 after a commit or abort), where brokerd shows
// epoch 0, the last sequence and -1.
func checkTransactionsTool(t *testing.T, k *kafka, bootstrap, addr string) {
	t.Helper()
	const topic = "txn-tool"
	admin := newClient(t, addr)
	if resp, err := kadm.NewClient(admin).CreateTopic(t.Context(), 1, 1, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}
	// Offsets 0 and 1 and the COMMIT marker at 2; the hanging
	// transaction's record at 3.
	committed := newClient(t, addr, kgo.TransactionalID("committed-writer"), kgo.DefaultProduceTopic(topic))
	hanging := newClient(t, addr, kgo.TransactionalID("hanging-writer"), kgo.DefaultProduceTopic(topic))
	if err := committed.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := committed.ProduceSync(t.Context(), &kgo.Record{Value: []byte("a")}, &kgo.Record{Value: []byte("b")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := committed.EndTransaction(t.Context(), kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if err := hanging.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := hanging.ProduceSync(t.Context(), &kgo.Record{Value: []byte("hanging")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	bs := []string{"--bootstrap-server", bootstrap}

	r := k.mustRun(t, "", transactionsTool, append(bs, "list")...)
	for _, re := range []string{
		`(?m)^TransactionalId\s+Coordinator\s+ProducerId\s+TransactionState\s*$`,
		`(?m)^committed-writer\s+\d+\s+\d+\s+CompleteCommit\s*$`,
		`(?m)^hanging-writer\s+\d+\s+\d+\s+Ongoing\s*$`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("kafka-transactions list: no line matching %s in\n%s", re, r.stdout)
		}
	}

	r = k.mustRun(t, "", transactionsTool, append(bs, "describe", "--transactional-id", "hanging-writer")...)
	if !regexp.MustCompile(`(?m)^CoordinatorId\s+TransactionalId\s+ProducerId\s+ProducerEpoch\s+TransactionState\s+TransactionTimeoutMs\s+CurrentTransactionStartTimeMs\s+TransactionDurationMs\s+TopicPartitions\s*\n` +
		`\d+\s+hanging-writer\s+\d+\s+\d+\s+Ongoing\s+\d+\s+\d+\s+\d+\s+txn-tool-0\s*$`).MatchString(r.stdout) {
		t.Errorf("kafka-transactions describe:\n%s", r.stdout)
	}

	producers := func() string {
		t.Helper()
		return k.mustRun(t, "", transactionsTool, append(bs, "describe-producers", "--topic", topic, "--partition", "0")...).stdout
	}
	out := producers()
	if !regexp.MustCompile(`(?m)^ProducerId\s+ProducerEpoch\s+LatestCoordinatorEpoch\s+LastSequence\s+LastTimestamp\s+CurrentTransactionStartOffset\s*$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^\d+\s+\d+\s+-?\d+\s+-?\d+\s+\d+\s+None\s*$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^\d+\s+\d+\s+-1\s+0\s+\d+\s+3\s*$`).MatchString(out) {
		t.Fatalf("kafka-transactions describe-producers: want the committed producer (no open transaction) and the hanging one (open at 3):\n%s", out)
	}

	r = k.mustRun(t, "", transactionsTool, append(bs, "abort", "--topic", topic, "--partition", "0", "--start-offset", "3")...)
	if strings.TrimSpace(r.stdout) != "" {
		t.Errorf("kafka-transactions abort printed %q", r.stdout)
	}
	if out := producers(); strings.Contains(out, " 3\n") || regexp.MustCompile(`\s3\s*$`).MatchString(out) {
		t.Errorf("after abort, a transaction is still open at 3:\n%s", out)
	}
	// The hanging record and its ABORT marker are below the LSO now.
	offs, err := kadm.NewClient(admin).ListCommittedOffsets(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup(topic, 0); o.Err != nil || o.Offset != 5 {
		t.Errorf("after abort: last stable offset %d (%v), want 5", o.Offset, o.Err)
	}

	r = k.run(t, "", transactionsTool, append(bs, "abort", "--topic", topic, "--partition", "0", "--start-offset", "3")...)
	if want := "Could not find any open transactions starting at offset 3 on partition txn-tool-0"; r.err == nil || !strings.Contains(r.stdout+r.stderr, want) {
		t.Errorf("a second abort at 3: %v, want exit 1 and %q\n%s%s", r.err, want, r.stdout, r.stderr)
	}
}
