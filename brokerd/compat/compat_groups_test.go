package compat

// Tests that need the group coordinator: Kafka's console consumer always
// joins a group (a random one when --group is not given).

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const groupTimeout = 60 * time.Second // join, rebalance, consume, commit

// The two events of Kafka's quickstart.
var quickstartEvents = []string{"This is my first event", "This is my second event"}

// TestQuickstart runs Kafka's quickstart verbatim, in order, on one broker
// with Kafka's own tools: kafka-topics --create, --list and --describe,
// kafka-console-producer with two lines, then kafka-console-consumer
// --from-beginning, which must print exactly those two lines
// (--max-messages 2 makes it exit). It is here with the group tests
// because the console consumer joins a group of its own.
func TestQuickstart(t *testing.T) {
	k := kafkaTools(t)
	b := startBroker(t)

	r := k.mustRun(t, "", topicsTool, "--create", "--topic", "test", "--partitions", "1", "--replication-factor", "1", "--bootstrap-server", b.Bootstrap())
	if !strings.Contains(r.stdout, "Created topic test.") {
		t.Fatalf("kafka-topics --create printed %q, want \"Created topic test.\"", r.stdout)
	}

	// Kafka lists its internal topics too (__consumer_offsets once a group
	// was used); the quickstart expects test among user topics, alone.
	r = k.mustRun(t, "", topicsTool, "--list", "--bootstrap-server", b.Bootstrap())
	got := slices.DeleteFunc(lines(r.stdout), func(name string) bool { return strings.HasPrefix(name, "__") })
	if !slices.Equal(got, []string{"test"}) {
		t.Fatalf("kafka-topics --list printed %q, want only test besides internal topics", r.stdout)
	}

	r = k.mustRun(t, "", topicsTool, "--describe", "--topic", "test", "--bootstrap-server", b.Bootstrap())
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^Topic: test\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: 1\tReplicationFactor: 1\t`),
		regexp.MustCompile(`(?m)^\tTopic: test\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1\t`),
	} {
		if !want.MatchString(r.stdout) {
			t.Errorf("kafka-topics --describe printed:\n%s\nno line matches %s", r.stdout, want)
		}
	}
	// Kafka 4.x describes through DescribeTopicPartitions and prints
	// "Elr: N/A" only when it had to fall back to Metadata.
	if strings.Contains(r.stdout, "Elr: N/A") {
		t.Errorf("kafka-topics --describe fell back to Metadata (no DescribeTopicPartitions):\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, "Partition: 1") {
		t.Errorf("kafka-topics --describe shows a second partition:\n%s", r.stdout)
	}

	produced := strings.Join(quickstartEvents, "\n") + "\n"
	k.mustRun(t, produced, consoleProducer, "--topic", "test", "--bootstrap-server", b.Bootstrap())

	// Byte for byte: the two lines, in order, and nothing else on stdout.
	r = k.mustRun(t, "", consoleConsumer, "--topic", "test", "--from-beginning", "--max-messages", "2", "--bootstrap-server", b.Bootstrap())
	if r.stdout != produced {
		t.Fatalf("kafka-console-consumer --from-beginning printed %q, want exactly %q", r.stdout, produced)
	}
	if !strings.Contains(r.stderr, "Processed a total of 2 messages") {
		t.Errorf("kafka-console-consumer did not report 2 messages:\n%s", r.stderr)
	}
}

// TestConsoleConsumerGroupSplitsPartitions runs two kafka-console-consumer
// processes in one group on a 4-partition topic: each gets some of the
// partitions, together they print every record exactly once, and
// kafka-consumer-groups --describe shows the members and their lag, first
// none while they keep up, then the records produced after they left; then
// kafka-consumer-groups lists, rewinds and deletes the group.
func TestConsoleConsumerGroupSplitsPartitions(t *testing.T) {
	const (
		topic      = "split"
		group      = "G"
		partitions = 4
		perPart    = 10
	)
	k := kafkaTools(t)
	b := startBroker(t)
	cl := newClient(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	createTopic(t, cl, topic, partitions)

	// Both members join before any record exists, so the split is decided
	// before anything is consumed; --from-beginning makes a member that
	// finds no committed offset start at 0, whenever it gets there.
	consumerArgs := []string{"--bootstrap-server", b.Bootstrap(), "--topic", topic, "--group", group, "--from-beginning",
		"--formatter-property", "print.partition=true",
		"--command-property", "auto.commit.interval.ms=100"}
	members := []*javaProc{k.start(t, consoleConsumer, consumerArgs...), k.start(t, consoleConsumer, consumerArgs...)}
	waitForSplit(t, adm, group, members, partitions)

	produceSplit(t, cl, topic, partitions, 0, perPart)
	waitForPrinted(t, members, partitions*perPart)
	waitForCommitted(t, adm, group, topic, partitions, perPart)
	checkCaughtUp(t, describeGroup(t, k, b, group), topic, partitions, perPart, len(members))

	for _, m := range members {
		m.stop(t)
	}
	checkSplit(t, [][]string{lines(members[0].stdout.String()), lines(members[1].stdout.String())}, partitions, 0, perPart)

	// Records produced while nobody consumes are the group's lag.
	behind := map[int32]int{0: 5, 2: 3}
	var recs []*kgo.Record
	for p, n := range behind {
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "late-%d", i)})
		}
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	rows := describeGroup(t, k, b, group)
	for p := range partitions {
		row := rows[groupRowKey{topic, int32(p)}]
		want := int64(behind[int32(p)])
		if row.current != perPart || row.logEnd != perPart+want || row.lag != want {
			t.Errorf("%s/%d after the members left: %+v, want offset %d, lag %d", topic, p, row, perPart, want)
		}
	}

	manageEmptyGroup(t, k, b, adm, group, topic, partitions)
}

// TestConsoleConsumerGroupCooperativeSticky runs the incremental
// cooperative rebalance protocol (KIP-429) over the classic group protocol
// with Java's CooperativeStickyAssignor. A first kafka-console-consumer
// owns all 4 partitions and has consumed and committed what they hold when
// a second one joins: the first gives up some partitions and keeps the
// others without revoking them (it declares them as owned when it
// rejoins), the second takes over the given-up ones at their committed
// offsets, together they print every record exactly once, and
// kafka-consumer-groups --describe shows both members.
func TestConsoleConsumerGroupCooperativeSticky(t *testing.T) {
	const (
		topic      = "coop"
		group      = "C"
		partitions = 4
		before     = 5  // records per partition produced before the second member joins
		perPart    = 10 // records per partition in all
		assignor   = "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"
	)
	k := kafkaTools(t)
	b := startBroker(t)
	cl := newClient(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	createTopic(t, cl, topic, partitions)
	produceSplit(t, cl, topic, partitions, 0, before)

	// The client ids tell the members apart in DescribeGroups; a short
	// heartbeat interval makes the first member learn of each rebalance
	// quickly (the cooperative protocol takes two).
	consumer := func(clientID string) *javaProc {
		return k.start(t, consoleConsumer, "--bootstrap-server", b.Bootstrap(), "--topic", topic, "--group", group, "--from-beginning",
			"--formatter-property", "print.partition=true",
			"--command-property", "partition.assignment.strategy="+assignor,
			"--command-property", "client.id="+clientID,
			"--command-property", "auto.commit.interval.ms=100",
			"--command-property", "heartbeat.interval.ms=300")
	}
	first := consumer("first")
	g := waitForSplit(t, adm, group, []*javaProc{first}, partitions)
	if g.Protocol != "cooperative-sticky" {
		t.Fatalf("group %s uses assignor %q, want cooperative-sticky", group, g.Protocol)
	}
	waitForPrinted(t, []*javaProc{first}, partitions*before)
	waitForCommitted(t, adm, group, topic, partitions, before)

	second := consumer("second")
	members := []*javaProc{first, second}
	g = waitForSplit(t, adm, group, members, partitions)
	if g.Protocol != "cooperative-sticky" {
		t.Fatalf("group %s uses assignor %q after the second member joined, want cooperative-sticky", group, g.Protocol)
	}
	checkKeptOwned(t, g, "first")

	produceSplit(t, cl, topic, partitions, before, perPart)
	waitForPrinted(t, members, partitions*perPart)
	waitForCommitted(t, adm, group, topic, partitions, perPart)
	checkCaughtUp(t, describeGroup(t, k, b, group), topic, partitions, perPart, len(members))

	for _, m := range members {
		m.stop(t)
	}
	// The first member alone printed the records from before the split;
	// after it, each partition's records came from the member owning it.
	firstLines := lines(first.stdout.String())
	if len(firstLines) < partitions*before {
		t.Fatalf("the first member printed %d lines, fewer than the %d it had printed before the second joined", len(firstLines), partitions*before)
	}
	checkSplit(t, [][]string{firstLines[:partitions*before]}, partitions, 0, before)
	checkSplit(t, [][]string{firstLines[partitions*before:], lines(second.stdout.String())}, partitions, before, perPart)
}

// checkKeptOwned asserts that the group's member with clientID declared,
// in its last JoinGroup, exactly the partitions it is assigned now as the
// ones it owned: under the cooperative protocol a member keeps its
// partitions through a rebalance, where an eager one revokes everything
// and joins owning nothing.
func checkKeptOwned(t *testing.T, g kadm.DescribedGroup, clientID string) {
	t.Helper()
	for _, m := range g.Members {
		if m.ClientID != clientID {
			continue
		}
		join, ok := m.Join.AsConsumer()
		if !ok {
			t.Fatalf("member %s joined without consumer protocol metadata", clientID)
		}
		assigned, ok := m.Assigned.AsConsumer()
		if !ok {
			t.Fatalf("member %s has no consumer protocol assignment", clientID)
		}
		var owned, got []string
		for _, tp := range join.OwnedPartitions {
			for _, p := range tp.Partitions {
				owned = append(owned, fmt.Sprintf("%s/%d", tp.Topic, p))
			}
		}
		for _, tp := range assigned.Topics {
			for _, p := range tp.Partitions {
				got = append(got, fmt.Sprintf("%s/%d", tp.Topic, p))
			}
		}
		slices.Sort(owned)
		slices.Sort(got)
		if len(got) == 0 || !slices.Equal(owned, got) {
			t.Errorf("member %s rejoined owning %v and is assigned %v; want it to keep what it owned", clientID, owned, got)
		}
		return
	}
	t.Fatalf("group has no member with client id %s", clientID)
}

// manageEmptyGroup lists, rewinds and deletes a group without members
// with kafka-consumer-groups (ListGroups, OffsetCommit through the admin
// client, DeleteGroups).
func manageEmptyGroup(t *testing.T, k *kafka, b *broker, adm *kadm.Client, group, topic string, partitions int) {
	t.Helper()
	r := k.mustRun(t, "", consumerGroupsTool, "--bootstrap-server", b.Bootstrap(), "--list")
	if !slices.Contains(lines(r.stdout), group) {
		t.Errorf("kafka-consumer-groups --list printed %q, want %s listed", r.stdout, group)
	}

	r = k.mustRun(t, "", consumerGroupsTool, "--bootstrap-server", b.Bootstrap(), "--reset-offsets", "--to-earliest", "--execute", "--group", group, "--topic", topic)
	for p := range partitions {
		row := regexp.MustCompile(fmt.Sprintf(`(?m)^%s\s+%s\s+%d\s+0\s*$`, group, topic, p))
		if !row.MatchString(r.stdout) {
			t.Errorf("kafka-consumer-groups --reset-offsets --to-earliest printed no NEW-OFFSET 0 for partition %d:\n%s", p, r.stdout)
		}
	}
	waitForCommitted(t, adm, group, topic, partitions, 0)

	r = k.mustRun(t, "", consumerGroupsTool, "--bootstrap-server", b.Bootstrap(), "--delete", "--group", group)
	if !strings.Contains(r.stdout, fmt.Sprintf("Deletion of requested consumer groups ('%s') was successful.", group)) {
		t.Errorf("kafka-consumer-groups --delete printed:\n%s", r.stdout)
	}
	listed, err := adm.ListGroups(ctxT(t))
	if err != nil {
		t.Fatalf("list groups: %v", err)
	}
	if slices.Contains(listed.Groups(), group) {
		t.Errorf("group %s still listed after kafka-consumer-groups --delete", group)
	}
}

// waitForSplit waits until the group is stable with exactly the given
// members, each assigned some of the topic's partitions and all of them
// assigned, and returns the group as described then.
func waitForSplit(t *testing.T, adm *kadm.Client, group string, members []*javaProc, partitions int) kadm.DescribedGroup {
	t.Helper()
	var last string
	var g kadm.DescribedGroup
	waitFor(t, groupTimeout, func() string {
		var stderr []string
		for _, m := range members {
			stderr = append(stderr, m.stderr.String())
		}
		return fmt.Sprintf("group %s not split over %d members: %s\nconsumer stderr:\n%s", group, len(members), last, strings.Join(stderr, "\n--\n"))
	}, func() bool {
		for _, m := range members {
			if m.exited() {
				t.Fatalf("a console consumer exited early (%v):\n%s", m.err, m.stderr.String())
			}
		}
		groups, err := adm.DescribeGroups(ctxT(t), group)
		if err != nil {
			last = err.Error()
			return false
		}
		g = groups[group]
		last = fmt.Sprintf("state %q, %d members, err %v", g.State, len(g.Members), g.Err)
		if g.Err != nil || g.State != "Stable" || len(g.Members) != len(members) {
			return false
		}
		assigned := 0
		for _, m := range g.Members {
			ca, ok := m.Assigned.AsConsumer()
			if !ok {
				return false
			}
			n := 0
			for _, tp := range ca.Topics {
				n += len(tp.Partitions)
			}
			if n == 0 {
				return false
			}
			assigned += n
		}
		return assigned == partitions
	})
	return g
}

// produceSplit produces records from..to-1 of every partition of topic,
// valued pP-II (partition P, index II), as checkSplit expects them.
func produceSplit(t *testing.T, cl *kgo.Client, topic string, partitions, from, to int) {
	t.Helper()
	var recs []*kgo.Record
	for p := range partitions {
		for i := from; i < to; i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(p), Value: fmt.Appendf(nil, "p%d-%02d", p, i)})
		}
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// waitForPrinted waits until the console consumers printed n lines in all.
func waitForPrinted(t *testing.T, members []*javaProc, n int) {
	t.Helper()
	var outs []string
	total := func() int {
		outs = outs[:0]
		sum := 0
		for _, m := range members {
			out := m.stdout.String()
			outs = append(outs, out)
			sum += len(lines(out))
		}
		return sum
	}
	waitFor(t, groupTimeout, func() string {
		return fmt.Sprintf("the consumers printed %d of %d records:\n%s", total(), n, strings.Join(outs, "\n--\n"))
	}, func() bool { return total() >= n })
}

// waitForCommitted waits until the group committed offset want on every
// partition (the console consumer auto-commits every 100 ms here).
func waitForCommitted(t *testing.T, adm *kadm.Client, group, topic string, partitions int, want int64) {
	t.Helper()
	var last string
	waitFor(t, groupTimeout, func() string { return "committed offsets " + last }, func() bool {
		offs, err := adm.FetchOffsets(ctxT(t), group)
		if err != nil {
			last = err.Error()
			return false
		}
		last = fmt.Sprint(offs)
		for p := range partitions {
			o, ok := offs.Lookup(topic, int32(p))
			if !ok || o.Err != nil || o.At != want {
				return false
			}
		}
		return true
	})
}

// checkCaughtUp asserts that kafka-consumer-groups --describe rows show
// every partition of topic consumed to its end (perPart records, lag 0)
// by a member, members distinct ones in all.
func checkCaughtUp(t *testing.T, rows map[groupRowKey]groupRow, topic string, partitions, perPart, members int) {
	t.Helper()
	consumerIDs := map[string]bool{}
	for p := range partitions {
		row, ok := rows[groupRowKey{topic, int32(p)}]
		if !ok {
			t.Fatalf("kafka-consumer-groups --describe has no row for %s/%d: %v", topic, p, rows)
		}
		if row.current != int64(perPart) || row.logEnd != int64(perPart) || row.lag != 0 || row.consumerID == "-" {
			t.Errorf("%s/%d while consumed: %+v, want offset %d, log end %d, lag 0, a consumer", topic, p, row, perPart, perPart)
		}
		consumerIDs[row.consumerID] = true
	}
	if len(consumerIDs) != members {
		t.Errorf("kafka-consumer-groups --describe shows consumers %v, want %d", consumerIDs, members)
	}
}

// checkSplit asserts that each member's printed lines (one []string per
// member) hold records of its own partitions only, and that together they
// hold records from..to-1 of every partition once each and nothing else.
func checkSplit(t *testing.T, printed [][]string, partitions, from, to int) {
	t.Helper()
	line := regexp.MustCompile(`^Partition:(\d+)\t(p(\d+)-\d+)$`)
	owner := map[int]int{} // partition -> member
	seen := map[string]int{}
	for i, got := range printed {
		if len(got) == 0 {
			t.Errorf("member %d printed nothing", i)
		}
		for _, l := range got {
			sub := line.FindStringSubmatch(l)
			if sub == nil || sub[1] != sub[3] {
				t.Errorf("member %d printed %q, want Partition:N<TAB>pN-XX", i, l)
				continue
			}
			p, _ := strconv.Atoi(sub[1])
			if o, ok := owner[p]; ok && o != i {
				t.Errorf("partition %d consumed by members %d and %d", p, o, i)
			}
			owner[p] = i
			seen[sub[2]]++
		}
	}
	for p := range partitions {
		for i := from; i < to; i++ {
			v := fmt.Sprintf("p%d-%02d", p, i)
			if seen[v] != 1 {
				t.Errorf("record %s printed %d times, want once", v, seen[v])
			}
		}
	}
	if len(seen) != partitions*(to-from) {
		t.Errorf("%d distinct records printed, want %d: %v", len(seen), partitions*(to-from), seen)
	}
}

type groupRowKey struct {
	topic     string
	partition int32
}

// groupRow is one partition row of kafka-consumer-groups --describe.
type groupRow struct {
	current, logEnd, lag int64
	consumerID           string
}

// describeGroup runs kafka-consumer-groups --describe and parses its
// partition rows (GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG
// CONSUMER-ID HOST CLIENT-ID).
func describeGroup(t *testing.T, k *kafka, b *broker, group string) map[groupRowKey]groupRow {
	t.Helper()
	r := k.mustRun(t, "", consumerGroupsTool, "--bootstrap-server", b.Bootstrap(), "--describe", "--group", group)
	t.Logf("kafka-consumer-groups --describe --group %s:\n%s", group, r.stdout)
	rows, err := parseGroupRows(r.stdout, group)
	if err != nil {
		t.Fatalf("kafka-consumer-groups --describe: %v\n%s", err, r.stderr)
	}
	return rows
}

func createTopic(t *testing.T, cl *kgo.Client, topic string, partitions int32) {
	t.Helper()
	resp, err := kadm.NewClient(cl).CreateTopic(ctxT(t), partitions, 1, nil, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v", topic, err, resp.Err)
	}
}
