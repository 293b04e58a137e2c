package cli

// kafki transactions: list and describe transactions, describe the
// producers of a partition and abort a hanging transaction, through
// Kafka's own APIs and in the layout of kafka-transactions.sh (KIP-664),
// so they work against any broker:
//
//   - list: ListTransactions, sent to every broker (each answers for the
//     transactional ids it coordinates);
//   - describe: DescribeTransactions, sent to the id's coordinator (found
//     with FindCoordinator, key type 1);
//   - describe-producers: DescribeProducers, sent to the partition's
//     leader;
//   - abort --start-offset: the producer whose open transaction starts at
//     that offset (DescribeProducers), then an ABORT marker for it
//     written by the partition leader (WriteTxnMarkers), as the Java
//     admin client's abortTransaction does. This ends a transaction its
//     coordinator has lost track of; aborting one the coordinator still
//     runs leaves the coordinator's state behind (Kafka's caveat too).

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// transactionsHelp is printed by "kafki transactions --help".
const transactionsHelp = `Usage: kafki transactions <list|describe|describe-producers|abort> [flags]

Inspect transactions and abort hanging ones, like kafka-transactions.sh.
Run 'kafki transactions <subcommand> --help' for the flags of each.
`

// noneOr prints v, or Kafka's tool's "None" for the -1 of an absent value.
func noneOr(v int64) string {
	if v < 0 {
		return "None"
	}
	return strconv.FormatInt(v, 10)
}

func runTransactionsList(ctx context.Context, args []string, env Env) error {
	c := newCommand("transactions list", "transactions list [flags]",
		"List the transactional ids of every coordinator with their producer id and state\n"+
			"(kafka-transactions.sh list).",
		`  kafki transactions list
  kafki transactions list --state Ongoing,PrepareCommit`)
	var conn connFlags
	conn.register(c, env.Getenv)
	states := c.fs.String("state", "", "Only transactions in these comma-separated states (Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort, ...).")
	var pids int64List
	c.fs.Var(&pids, "producer-id", "Only the transactions of this producer id (repeatable).")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	var filter []string
	if *states != "" {
		filter = strings.Split(*states, ",")
	}
	s, err := conn.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	lctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	listed, err := s.adm.ListTransactions(lctx, pids, filter)
	if err != nil {
		return fmt.Errorf("list transactions: %w", s.wrap(err, ""))
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TransactionalId\tCoordinator\tProducerId\tTransactionState")
	for _, t := range listed.Sorted() {
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\n", t.TxnID, t.Coordinator, t.ProducerID, t.State)
	}
	return w.Flush()
}

// int64List is a repeatable integer flag.
type int64List []int64

func (l *int64List) String() string { return fmt.Sprint([]int64(*l)) }

func (l *int64List) Set(v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fmt.Errorf("want an integer")
	}
	*l = append(*l, n)
	return nil
}

func runTransactionsDescribe(ctx context.Context, args []string, env Env) error {
	c := newCommand("transactions describe", "transactions describe --transactional-id ID [flags]",
		"Show a transactional id's coordinator, producer id and epoch, state, timeout, how\n"+
			"long its transaction has been open and its partitions (kafka-transactions.sh describe).",
		`  kafki transactions describe --transactional-id orders-writer-1`)
	var conn connFlags
	conn.register(c, env.Getenv)
	id := c.fs.String("transactional-id", "", "The transactional id to describe (required).")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	if *id == "" {
		return usagef("--transactional-id is required")
	}
	s, err := conn.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	dctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	described, err := s.adm.DescribeTransactions(dctx, *id)
	if err != nil {
		return fmt.Errorf("describe transactional id %q: %w", *id, s.wrap(err, ""))
	}
	d, ok := described[*id]
	if !ok {
		return fmt.Errorf("describe transactional id %q: the coordinator did not answer for it", *id)
	}
	if d.Err != nil {
		return fmt.Errorf("describe transactional id %q: %w", *id, s.wrap(d.Err, ""))
	}
	writeTransaction(env.Stdout, d, time.Now())
	return nil
}

// writeTransaction prints d as kafka-transactions.sh describe does: the
// duration is now minus the start, None when no transaction is open.
func writeTransaction(out io.Writer, d kadm.DescribedTransaction, now time.Time) {
	duration := "None"
	if d.StartTimestamp >= 0 {
		duration = strconv.FormatInt(now.UnixMilli()-d.StartTimestamp, 10)
	}
	var parts []string
	for _, tp := range d.Topics.Sorted() {
		for _, p := range tp.Partitions {
			parts = append(parts, fmt.Sprintf("%s-%d", tp.Topic, p))
		}
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "CoordinatorId\tTransactionalId\tProducerId\tProducerEpoch\tTransactionState\tTransactionTimeoutMs\tCurrentTransactionStartTimeMs\tTransactionDurationMs\tTopicPartitions")
	fmt.Fprintf(w, "%d\t%s\t%d\t%d\t%s\t%d\t%s\t%s\t%s\n", d.Coordinator, d.TxnID, d.ProducerID, d.ProducerEpoch, d.State,
		d.TimeoutMillis, noneOr(d.StartTimestamp), duration, strings.Join(parts, ","))
	w.Flush()
}

// partitionFlags are --topic and --partition of the commands on one
// partition.
type partitionFlags struct {
	topic     string
	partition int
}

func (f *partitionFlags) register(c *command) {
	c.fs.StringVar(&f.topic, "topic", "", "The topic (required).")
	c.fs.IntVar(&f.partition, "partition", -1, "The partition (required).")
}

func (f *partitionFlags) check() error {
	if f.topic == "" {
		return usagef("--topic is required")
	}
	if f.partition < 0 {
		return usagef("--partition is required (0 or more)")
	}
	return nil
}

// producers returns the active producers of the partition from its
// leader, sorted by producer id.
func (f *partitionFlags) producers(ctx context.Context, s *session) ([]kadm.DescribedProducer, error) {
	n, err := s.topicPartitions(ctx, f.topic)
	if err != nil {
		return nil, err
	}
	if f.partition >= n {
		return nil, usagef("--partition %d: topic %q has %d partitions", f.partition, f.topic, n)
	}
	dctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	described, err := s.adm.DescribeProducers(dctx, kadm.TopicsSet{f.topic: {int32(f.partition): {}}})
	what := fmt.Sprintf("describe producers of %s-%d", f.topic, f.partition)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, s.wrap(err, ""))
	}
	p, ok := described[f.topic].Partitions[int32(f.partition)]
	if !ok {
		return nil, fmt.Errorf("%s: the leader did not answer for it", what)
	}
	if p.Err != nil {
		return nil, fmt.Errorf("%s: %w", what, s.wrap(p.Err, p.ErrMessage))
	}
	ps := p.ActiveProducers.Sorted()
	sort.Slice(ps, func(i, j int) bool { return ps[i].ProducerID < ps[j].ProducerID })
	return ps, nil
}

func runTransactionsDescribeProducers(ctx context.Context, args []string, env Env) error {
	c := newCommand("transactions describe-producers", "transactions describe-producers --topic T --partition P [flags]",
		"Show the producers the leader of a partition keeps state for: epoch, coordinator epoch\n"+
			"of the last marker, last sequence and timestamp, and the first offset of the\n"+
			"transaction each has open there (kafka-transactions.sh describe-producers).",
		`  kafki transactions describe-producers --topic orders --partition 0`)
	var conn connFlags
	conn.register(c, env.Getenv)
	var pf partitionFlags
	pf.register(c)
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	if err := pf.check(); err != nil {
		return err
	}
	s, err := conn.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	ps, err := pf.producers(ctx, s)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ProducerId\tProducerEpoch\tLatestCoordinatorEpoch\tLastSequence\tLastTimestamp\tCurrentTransactionStartOffset")
	for _, p := range ps {
		// Kafka's tool prints the coordinator epoch as it is (-1: no
		// marker yet), an absent start offset as None.
		fmt.Fprintf(w, "%d\t%d\t%d\t%d\t%d\t%s\n", p.ProducerID, p.ProducerEpoch, p.CoordinatorEpoch,
			p.LastSequence, p.LastTimestamp, noneOr(p.CurrentTxnStartOffset))
	}
	return w.Flush()
}

func runTransactionsAbort(ctx context.Context, args []string, env Env) error {
	c := newCommand("transactions abort", "transactions abort --topic T --partition P --start-offset N [flags]",
		"Abort the transaction open in a partition since --start-offset (see describe-producers):\n"+
			"the partition's leader writes an ABORT marker for its producer, which releases the\n"+
			"last stable offset (kafka-transactions.sh abort). For a hanging transaction, one its\n"+
			"coordinator no longer knows; needs CLUSTER_ACTION on the cluster where ACLs are on.",
		`  kafki transactions describe-producers --topic orders --partition 0
  kafki transactions abort --topic orders --partition 0 --start-offset 1200`)
	var conn connFlags
	conn.register(c, env.Getenv)
	var pf partitionFlags
	pf.register(c)
	start := c.fs.Int64("start-offset", -1, "First offset of the transaction to abort (required; CurrentTransactionStartOffset of describe-producers).")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	if err := pf.check(); err != nil {
		return err
	}
	if *start < 0 {
		return usagef("--start-offset is required (0 or more)")
	}
	s, err := conn.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	ps, err := pf.producers(ctx, s)
	if err != nil {
		return err
	}
	var found *kadm.DescribedProducer
	for i := range ps {
		if ps[i].CurrentTxnStartOffset == *start {
			found = &ps[i]
		}
	}
	if found == nil {
		return fmt.Errorf("no transaction open at offset %d of %s-%d (see 'kafki transactions describe-producers --topic %s --partition %d')",
			*start, pf.topic, pf.partition, pf.topic, pf.partition)
	}
	// As the Java admin client: a producer without a marker yet (-1) is
	// aborted with coordinator epoch 0.
	m := kadm.TxnMarkers{ProducerID: found.ProducerID, ProducerEpoch: found.ProducerEpoch, Commit: false,
		CoordinatorEpoch: max(found.CoordinatorEpoch, 0), Topics: kadm.TopicsSet{pf.topic: {int32(pf.partition): {}}}}
	actx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	what := fmt.Sprintf("abort the transaction of producer %d at offset %d of %s-%d", found.ProducerID, *start, pf.topic, pf.partition)
	res, err := s.adm.WriteTxnMarkers(actx, m)
	if err != nil {
		return fmt.Errorf("%s: %w", what, s.wrap(err, ""))
	}
	r, ok := res[found.ProducerID].Topics[pf.topic].Partitions[int32(pf.partition)]
	if !ok {
		return fmt.Errorf("%s: the leader did not answer for the partition", what)
	}
	if r.Err != nil {
		return fmt.Errorf("%s: %w", what, s.wrap(r.Err, ""))
	}
	fmt.Fprintf(env.Stdout, "Aborted the transaction of producer %d (epoch %d) open since offset %d of %s-%d.\n",
		found.ProducerID, found.ProducerEpoch, *start, pf.topic, pf.partition)
	return nil
}
