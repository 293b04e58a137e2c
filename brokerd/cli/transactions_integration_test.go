package cli_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
)

// openTransaction leaves a transaction of id open on topic's partition 0,
// after one plain record, and returns the broker's address.
func openTransaction(t *testing.T, topic, id string) string {
	t.Helper()
	bs := startBroker(t, testbroker.WithConfig(func(c *config.Config) { c.TransactionStatePartitions = 3 }))
	mustRun(t, bs, "", "topics", "create", "--topic", topic, "--partitions", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	plain, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.ProduceSync(ctx, &kgo.Record{Value: []byte("plain")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	p, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return bs
}

// TestTransactionsCommands: list, describe and describe-producers show an
// open transaction in kafka-transactions.sh's layout.
func TestTransactionsCommands(t *testing.T) {
	bs := openTransaction(t, "txn-cli", "cli-writer")

	out := mustRun(t, bs, "", "transactions", "list")
	if !regexp.MustCompile(`(?m)^TransactionalId\s+Coordinator\s+ProducerId\s+TransactionState\n` +
		`cli-writer\s+1\s+\d+\s+Ongoing$`).MatchString(out) {
		t.Errorf("transactions list:\n%s", out)
	}
	if out := mustRun(t, bs, "", "transactions", "list", "--state", "CompleteCommit"); strings.Contains(out, "cli-writer") {
		t.Errorf("list --state CompleteCommit shows the ongoing transaction:\n%s", out)
	}

	out = mustRun(t, bs, "", "transactions", "describe", "--transactional-id", "cli-writer")
	if !regexp.MustCompile(`(?m)^CoordinatorId\s+TransactionalId\s+ProducerId\s+ProducerEpoch\s+TransactionState\s+TransactionTimeoutMs\s+CurrentTransactionStartTimeMs\s+TransactionDurationMs\s+TopicPartitions\n` +
		`1\s+cli-writer\s+\d+\s+0\s+Ongoing\s+\d+\s+\d+\s+\d+\s+txn-cli-0$`).MatchString(out) {
		t.Errorf("transactions describe:\n%s", out)
	}

	out = mustRun(t, bs, "", "transactions", "describe-producers", "--topic", "txn-cli", "--partition", "0")
	// The plain (idempotent) producer, then the transactional one whose
	// transaction starts after the plain record.
	if !regexp.MustCompile(`(?m)^ProducerId\s+ProducerEpoch\s+LatestCoordinatorEpoch\s+LastSequence\s+LastTimestamp\s+CurrentTransactionStartOffset\n` +
		`\d+\s+0\s+-1\s+0\s+\d+\s+None\n\d+\s+0\s+-1\s+0\s+\d+\s+1$`).MatchString(out) {
		t.Errorf("transactions describe-producers:\n%s", out)
	}

	wantFailure(t, kafki(t, bs, "", "transactions", "describe", "--transactional-id", "nobody"), 1, "TRANSACTIONAL_ID_NOT_FOUND")
	wantFailure(t, kafki(t, bs, "", "transactions", "describe-producers", "--topic", "txn-cli", "--partition", "3"), 2, "has 1 partitions")
	wantFailure(t, kafki(t, bs, "", "transactions", "describe-producers", "--topic", "nope", "--partition", "0"), 1, "unknown topic")
	wantFailure(t, kafki(t, bs, "", "transactions", "abort", "--topic", "txn-cli", "--partition", "0", "--start-offset", "0"), 1,
		"no transaction open at offset 0 of txn-cli-0", "describe-producers")
}

// TestTransactionsAbort: abort --start-offset writes the ABORT marker of
// the hanging transaction's producer; the last stable offset moves past
// it, so read_committed reads on.
func TestTransactionsAbort(t *testing.T) {
	bs := openTransaction(t, "txn-abort", "hanging")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bs))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// ListCommittedOffsets is ListOffsets with read_committed: the LSO.
	lso := func() int64 {
		t.Helper()
		offs, err := adm.ListCommittedOffsets(ctx, "txn-abort")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := offs.Lookup("txn-abort", 0)
		return o.Offset
	}
	if got := lso(); got != 1 {
		t.Fatalf("open transaction: last stable offset %d, want 1", got)
	}
	r := kafki(t, bs, "", "transactions", "abort", "--topic", "txn-abort", "--partition", "0", "--start-offset", "1")
	if r.code != 0 {
		t.Fatalf("abort: exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "Aborted the transaction of producer") {
		t.Errorf("abort printed %q", r.stdout)
	}
	// The record at 1 and the marker at 2 are stable.
	if got := lso(); got != 3 {
		t.Fatalf("after abort: last stable offset %d, want 3", got)
	}
	out := mustRun(t, bs, "", "transactions", "describe-producers", "--topic", "txn-abort", "--partition", "0")
	if strings.HasSuffix(strings.TrimSpace(out), " 1") {
		t.Errorf("after abort, a transaction is still open at 1:\n%s", out)
	}
}

// Bad command lines are one-line usage errors, before any connection.
func TestTransactionsUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"transactions", "describe"}, "--transactional-id is required"},
		{[]string{"transactions", "describe-producers", "--partition", "0"}, "--topic is required"},
		{[]string{"transactions", "describe-producers", "--topic", "t"}, "--partition is required"},
		{[]string{"transactions", "abort", "--topic", "t", "--partition", "0"}, "--start-offset is required"},
		{[]string{"transactions", "list", "--producer-id", "x"}, "want an integer"},
		{[]string{"transactions", "frobnicate"}, `unknown subcommand "frobnicate"`},
	} {
		wantFailure(t, kafki(t, "127.0.0.1:1", "", tc.args...), 2, tc.want)
	}
}
